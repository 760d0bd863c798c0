"""The bodies of the conditional discriminators of chapters 1 and 2 (cGAN, projection D, AC-GAN):
an MLP on flattened images, or strided convolutions down to a 4x4 map."""

from __future__ import annotations

from typing import Tuple

from torch import nn

__all__ = ["num_upsamplings", "mlp_body", "conv_body"]


def num_upsamplings(image_size: int, who: str) -> int:
    """Number of 2x stages between a 4x4 map and ``image_size`` (a power of two, >= 8)."""
    n = image_size.bit_length() - 3
    if image_size < 8 or image_size != 4 * 2**n:
        raise ValueError(f"{who}: image_size must be a power of two >= 8 (8, 16, 32, 64...), got {image_size}")
    return n


def mlp_body(width: int, hidden: int, layers: int) -> Tuple[nn.Sequential, int]:
    """The hidden layers of an MLP discriminator on flattened images: ``layers - 1`` times
    Linear + LeakyReLU(0.2). Returns the body and its output width."""
    blocks = []
    for _ in range(layers - 1):
        blocks += [nn.Linear(width, hidden), nn.LeakyReLU(0.2)]
        width = hidden
    return nn.Sequential(*blocks), width


def conv_body(in_channels: int, image_size: int, ndf: int, sn: bool, who: str) -> nn.Sequential:
    """Strided 4x4 convs with LeakyReLU(0.2) from ``image_size`` down to 4x4: widths ndf, 2 ndf, 4 ndf..."""
    stages = num_upsamplings(image_size, who)
    wrap = nn.utils.spectral_norm if sn else (lambda m: m)
    blocks, width = [], in_channels
    for i in range(stages):
        out = ndf * 2**i
        blocks += [wrap(nn.Conv2d(width, out, 4, stride=2, padding=1)), nn.LeakyReLU(0.2)]
        width = out
    return nn.Sequential(*blocks)
