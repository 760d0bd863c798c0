"""Reading a saved state_dict, as the official pix2pix / CycleGAN / BicycleGAN code saves it,
and loading one into our model through a key map."""

from __future__ import annotations

import os
from typing import Dict, Mapping, Optional

import torch

__all__ = ["read_state_dict", "copy_official_weights"]


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


def copy_official_weights(
    mapping: Dict[str, str],
    sd: Mapping[str, torch.Tensor],
    model: torch.nn.Module,
    what: str,
    swapped: Optional[Dict[str, int]] = None,
) -> None:
    """Load an official checkpoint's ``sd`` into ``model`` through ``mapping`` (official key ->
    ours), checking that the keys and every shape match; ``what`` names the architecture asked
    for in the error. ``swapped``: our keys whose official tensor holds [decoded, skip] along the
    given dim, which ours holds as [skip, decoded] (the BicycleGAN U-Net)."""
    own = model.state_dict()
    missing = [k for k in mapping if k not in sd]
    unexpected = [k for k in sd if k not in mapping]
    if missing or unexpected:
        raise ValueError(
            f"the checkpoint does not match {what}: missing keys {missing[:3]}"
            f"{'...' if len(missing) > 3 else ''}, unexpected keys {unexpected[:3]}"
            f"{'...' if len(unexpected) > 3 else ''}"
        )
    new = {}
    for k_off, k_our in mapping.items():
        t = sd[k_off]
        if tuple(t.shape) != tuple(own[k_our].shape):
            raise ValueError(
                f"shape mismatch for {k_off}: checkpoint {tuple(t.shape)}, "
                f"expected {tuple(own[k_our].shape)} for {what}"
            )
        if swapped and k_our in swapped:  # official [decoded, skip] -> ours [skip, decoded]
            decoded, skip = t.chunk(2, dim=swapped[k_our])
            t = torch.cat([skip, decoded], dim=swapped[k_our])
        new[k_our] = t
    model.load_state_dict(new)
