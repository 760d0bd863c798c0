"""ganlib: the code of the runnable textbook on conditional and image-to-image GANs."""
__version__ = "0.1.0"

from .profiles import PROFILES, choose, get_profile, override  # noqa: E402
from .utils import count_parameters, get_device, seed_everything, set_threads, setup  # noqa: E402

__all__ = [
    "PROFILES", "choose", "get_profile", "override",
    "count_parameters", "get_device", "seed_everything", "set_threads", "setup",
]
