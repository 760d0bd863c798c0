"""Data: the bundled digits, in-memory batches, and (in ``registry``) the real data sets.

Chapters add their procedural data sets as modules of this package.
"""

from .batches import TensorBatches
from .digits import load_digits

__all__ = ["TensorBatches", "load_digits"]
