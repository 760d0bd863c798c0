"""Inputs of the class-conditional models (cGAN, AC-GAN, BigGAN): checks of class labels and
images that name what is wrong, uniform label sampling, and generating with sampled labels."""

from __future__ import annotations

from typing import Optional, Tuple

import torch
from torch import nn

__all__ = ["check_labels", "check_images", "check_step_inputs", "sample_labels", "generate_with_labels"]


def check_labels(y: torch.Tensor, num_classes: int, n: int = None, who: str = "model") -> None:
    """Raise a clear ``ValueError`` unless ``y`` is ``(n,)`` long class indices in ``[0, num_classes)``."""
    if not isinstance(y, torch.Tensor) or y.dim() != 1:
        raise ValueError(
            f"{who}: labels y must be a 1-d tensor of class indices (N,), got "
            f"{type(y).__name__} of shape {tuple(getattr(y, 'shape', ()))}; "
            "pass integer labels, not one-hot vectors"
        )
    if y.dtype not in (torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8):
        raise ValueError(f"{who}: labels y must be integers (torch.long), got {y.dtype}; use y.long()")
    if n is not None and len(y) != n:
        raise ValueError(f"{who}: {n} inputs but {len(y)} labels; pass one label per sample")
    if len(y) and (int(y.min()) < 0 or int(y.max()) >= num_classes):
        raise ValueError(
            f"{who}: labels must lie in [0, {num_classes - 1}] (the model was built with "
            f"num_classes={num_classes}), got min {int(y.min())}, max {int(y.max())}; "
            "build the model with the data set's number of classes"
        )


def check_images(x: torch.Tensor, channels: int, image_size: int, who: str) -> None:
    """Raise a clear ``ValueError`` unless ``x`` is ``(N, channels, image_size, image_size)``."""
    if x.dim() != 4 or tuple(x.shape[1:]) != (channels, image_size, image_size):
        raise ValueError(
            f"{who}: images must be (N, {channels}, {image_size}, {image_size}), got "
            f"{tuple(x.shape)}; build the model with the data's channels and image_size"
        )


def sample_labels(n: int, num_classes: int, device=None, generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """``(n,)`` labels drawn uniformly from ``[0, num_classes)`` (the prior p(y) of the generated samples)."""
    return torch.randint(0, num_classes, (n,), device=device, generator=generator)


def check_step_inputs(G: nn.Module, D: nn.Module, real: torch.Tensor, labels: torch.Tensor, who: str) -> None:
    """G and D must know the same classes, and ``labels`` must fit the batch ``real``."""
    k = D.num_classes
    if getattr(G, "num_classes", k) != k:
        raise ValueError(f"G has {G.num_classes} classes but D has {k}; build both with the same num_classes")
    check_labels(labels, k, len(real), who)


def generate_with_labels(G: nn.Module, n: int, num_classes: int, device=None) -> Tuple[torch.Tensor, torch.Tensor]:
    """``(G(z, y), y)`` for ``n`` fresh ``z ~ N(0, I)`` and labels ``y`` drawn uniformly."""
    y = sample_labels(n, num_classes, device)
    return G(torch.randn(n, G.z_dim, device=device), y), y
