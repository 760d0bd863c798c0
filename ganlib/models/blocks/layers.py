"""Normalisation and initialisation as in the official pix2pix / CycleGAN / BicycleGAN code
(``get_norm_layer``, ``init_weights`` of ``networks.py``)."""

from __future__ import annotations

from typing import Callable

from torch import nn

__all__ = ["NORMS", "norm_layer", "uses_bias", "init_weights"]

NORMS = ("batch", "instance", "none")


def norm_layer(name: str) -> Callable[[int], nn.Module]:
    """A factory ``channels -> normalisation module``, as the official ``get_norm_layer``.

    - ``"batch"``: ``BatchNorm2d(c)`` with learned scale/shift and running statistics (pix2pix).
    - ``"instance"``: ``InstanceNorm2d(c, affine=False, track_running_stats=False)`` (CycleGAN,
      BicycleGAN): no parameters, statistics of each image at train and test time.
    - ``"none"``: ``Identity``.
    """
    if name == "batch":
        return lambda c: nn.BatchNorm2d(c, affine=True, track_running_stats=True)
    if name == "instance":
        return lambda c: nn.InstanceNorm2d(c, affine=False, track_running_stats=False)
    if name == "none":
        return lambda c: nn.Identity()
    raise ValueError(f"unknown norm {name!r}; choose one of {', '.join(NORMS)}")


def uses_bias(norm: str) -> bool:
    """Whether a conv followed by ``norm`` gets a bias (the U-Net's and the PatchGAN's rule)."""
    # Batch norm's shift makes a conv bias redundant, so the official code drops it there.
    # (The official code also drops it for norm "none", leaving those convs without any
    # shift; we keep the bias there, which changes no official configuration.)
    return norm != "batch"


def init_weights(module: nn.Module, std: float = 0.02, kind: str = "normal") -> nn.Module:
    """Initialise as the official code (``init_weights``); returns ``module``.

    - conv / transposed conv / linear weights: ``N(0, std)`` (``kind="normal"``, pix2pix and
      CycleGAN) or Xavier-normal with gain ``std`` (``kind="xavier"``, BicycleGAN); biases 0.
    - batch-norm scale ``N(1, std)``, shift 0.
    """
    if kind not in ("normal", "xavier"):
        raise ValueError(f"kind must be 'normal' or 'xavier', got {kind!r}")

    def init(m: nn.Module) -> None:
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            if kind == "normal":
                nn.init.normal_(m.weight, 0.0, std)
            else:
                nn.init.xavier_normal_(m.weight, gain=std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d) and m.affine:
            nn.init.normal_(m.weight, 1.0, std)
            nn.init.zeros_(m.bias)

    module.apply(init)
    return module
