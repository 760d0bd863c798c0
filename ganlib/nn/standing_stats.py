r"""Standing batch-norm statistics (BigGAN-PyTorch's ``accumulate_standing_stats``).

A generator with batch norm samples in eval mode with *running* statistics: moving averages
of the batch means and variances seen in training. For the EMA generator those statistics
do not belong to its weights: :class:`~ganlib.nn.EMA` copies the raw G's running statistics,
which the raw G's weights produced. BigGAN-PyTorch's remedy ("standing statistics"): reset
every batch-norm layer of the generator you sample with, run it on a number of fresh noise
batches, and keep the plain average of their batch statistics,

.. math:: \mu = \frac1B\sum_{b=1}^{B}\mu_b, \qquad \sigma^2 = \frac1B\sum_{b=1}^{B}\sigma_b^2 ,

then sample in eval mode as usual. Only the batch-norm layers run in training mode here, so
nothing else changes (spectral norm's power iteration, dropout).
"""

from __future__ import annotations

from typing import Callable, Optional

import torch
from torch import nn

__all__ = ["standing_statistics"]


@torch.no_grad()
def standing_statistics(
    G: nn.Module,
    make_inputs: Callable[[torch.Generator], tuple],
    batches: int = 16,
    generator: Optional[torch.Generator] = None,
) -> nn.Module:
    """Recompute the running statistics of every batch-norm layer in ``G`` from ``batches``
    forward passes of ``G(*make_inputs(generator))``; returns ``G`` in eval mode.

    ``make_inputs(generator) -> (z, y)`` draws one batch of inputs, e.g. for BigGAN
    ``lambda g: (torch.randn(64, z_dim, generator=g), torch.randint(0, 10, (64,), generator=g))``.
    """
    if batches < 1:
        raise ValueError(f"batches must be >= 1, got {batches}")
    norms = [m for m in G.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]
    if not norms:
        raise ValueError(f"{type(G).__name__} has no batch-norm layer with running statistics")
    G.eval()
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average: every batch counts the same
        m.train()
    try:
        for _ in range(batches):
            G(*make_inputs(generator))
    finally:
        for m, momentum in zip(norms, momenta):
            m.momentum = momentum
            m.eval()
    return G
