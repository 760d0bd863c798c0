"""ganlib: the code of the runnable textbook on conditional and image-to-image GANs."""

__version__ = "0.1.0"

from .profiles import PROFILES, checkpoint_dir, checkpoint_path, choose, get_profile, override  # noqa: E402
from .utils import count_parameters, get_device, seed_everything, set_threads, setup  # noqa: E402

__all__ = [
    "PROFILES",
    "checkpoint_dir",
    "checkpoint_path",
    "choose",
    "get_profile",
    "override",
    "count_parameters",
    "get_device",
    "seed_everything",
    "set_threads",
    "setup",
]

_SUBMODULES = {
    "classifier",
    "conditional_protocol",
    "data",
    "distributed",
    "losses",
    "measures",
    "metrics",
    "models",
    "nn",
    "runs",
    "student",
    "train",
    "viz",
}


def __getattr__(name: str):
    """``ganlib.models``, ``ganlib.losses``... are imported on first use."""
    if name in _SUBMODULES:
        import importlib

        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'ganlib' has no attribute {name!r}")
