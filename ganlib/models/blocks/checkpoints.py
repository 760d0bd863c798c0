"""Reading a saved state_dict, as the official pix2pix / CycleGAN / BicycleGAN code saves it."""

from __future__ import annotations

import os
from typing import Dict, Mapping

import torch

__all__ = ["read_state_dict"]


def read_state_dict(state_dict_or_path) -> Dict[str, torch.Tensor]:
    """A state_dict given directly or as a ``.pth`` path (loaded with ``weights_only=True``),
    without the ``module.`` prefix that ``DataParallel`` training leaves on official checkpoints."""
    if isinstance(state_dict_or_path, (str, os.PathLike)):
        if not os.path.isfile(state_dict_or_path):
            raise FileNotFoundError(f"no checkpoint at {state_dict_or_path}")
        sd = torch.load(state_dict_or_path, map_location="cpu", weights_only=True)
    else:
        sd = state_dict_or_path
    if not isinstance(sd, Mapping):
        raise TypeError(f"expected a state_dict (a mapping of names to tensors), got {type(sd).__name__}")
    return {(k[len("module.") :] if k.startswith("module.") else k): v for k, v in sd.items()}
