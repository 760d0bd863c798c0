"""The PatchGAN discriminator of pix2pix (Isola et al. 2017), which CycleGAN and BicycleGAN reuse.

Architectures follow the official pytorch-CycleGAN-and-pix2pix code (``networks.py``)
to the parameter: ``PatchDiscriminator(6)`` is the 70x70 ``basic`` D (2,768,705) and
``PatchDiscriminator(6, n_layers=0)`` the 1x1 ``pixel`` D (9,024).
"""

from __future__ import annotations

import torch
from torch import nn

from .layers import norm_layer, uses_bias

__all__ = ["PatchDiscriminator", "min_input_size", "receptive_field"]


class PatchDiscriminator(nn.Module):
    r"""The PatchGAN discriminator (Isola et al. 2017, 3.2.2): one real/fake logit per patch.

    ``D(x)``: ``(N, in_channels, H, W) -> (N, 1, H', W')`` raw logits (no Sigmoid). For the
    conditional pix2pix D, ``x = cat([input, output], 1)`` so ``in_channels = 3 + 3 = 6``.

    ``n_layers`` stride-2 4x4 convs (the first without norm), one stride-1 4x4 conv with
    norm, and a stride-1 4x4 conv to 1 channel; channels ``ndf * min(2**i, 8)``. Receptive
    fields (``receptive_field``): n_layers 1..5 -> 16, 34, 70, 142, 286 pixels.
    ``n_layers=0`` is the official ``pixel`` D (1x1 convs ``in -> ndf -> 2 ndf -> 1``):
    each output sees one pixel, the "PixelGAN" of the paper.

    The layers sit in ``self.model`` at the official indices, so official D checkpoints load
    with ``load_state_dict`` directly.
    """

    def __init__(self, in_channels: int, ndf: int = 64, n_layers: int = 3, norm: str = "batch"):
        super().__init__()
        if n_layers < 0:
            raise ValueError(f"n_layers must be >= 0 (0 is the 1x1 pixel discriminator), got {n_layers}")
        self.in_channels, self.ndf, self.n_layers, self.norm = in_channels, ndf, n_layers, norm
        make_norm, bias = norm_layer(norm), uses_bias(norm)
        lrelu = lambda: nn.LeakyReLU(0.2, inplace=True)  # noqa: E731
        if n_layers == 0:
            layers = [
                nn.Conv2d(in_channels, ndf, 1),
                lrelu(),
                nn.Conv2d(ndf, 2 * ndf, 1, bias=bias),
                make_norm(2 * ndf),
                lrelu(),
                nn.Conv2d(2 * ndf, 1, 1, bias=bias),
            ]
        else:
            layers = [nn.Conv2d(in_channels, ndf, 4, stride=2, padding=1), lrelu()]
            mult = 1
            for n in range(1, n_layers + 1):
                prev, mult = mult, min(2**n, 8)
                stride = 2 if n < n_layers else 1
                layers += [
                    nn.Conv2d(ndf * prev, ndf * mult, 4, stride=stride, padding=1, bias=bias),
                    make_norm(ndf * mult),
                    lrelu(),
                ]
            layers.append(nn.Conv2d(ndf * mult, 1, 4, stride=1, padding=1))
        self.model = nn.Sequential(*layers)

    @property
    def receptive_field(self) -> int:
        return receptive_field(self.n_layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"PatchDiscriminator was built for {self.in_channels} input channels, got shape "
                f"{tuple(x.shape)}. A conditional D sees cat([input, output], dim=1): in_channels = "
                f"input channels + output channels"
            )
        if self.n_layers > 0:
            smallest = min_input_size(self.n_layers)
            if min(x.shape[2], x.shape[3]) < smallest:
                raise ValueError(
                    f"a PatchDiscriminator with n_layers={self.n_layers} needs inputs of at least "
                    f"{smallest}x{smallest} pixels (its output map would be empty), got "
                    f"{x.shape[2]}x{x.shape[3]}: use larger images or fewer layers"
                )
        return self.model(x)


def min_input_size(n_layers: int) -> int:
    """Smallest square input that gives ``PatchDiscriminator(n_layers=...)`` a non-empty output
    (4x4 convs with padding 1: stride 2 gives ``floor(h/2)``, stride 1 gives ``h - 1``)."""

    def out(h: int) -> int:
        for _ in range(n_layers):
            h = h // 2
        return h - 2

    h = 1
    while out(h) < 1:
        h += 1
    return h


def receptive_field(n_layers: int) -> int:
    """Receptive field in pixels of ``PatchDiscriminator(n_layers=...)`` (1 for the pixel D).

    Walking back from one output unit through layers of kernel k and stride s:
    ``r <- (r - 1) * s + k``. n_layers = 0, 1, 2, 3, 4, 5 -> 1, 16, 34, 70, 142, 286.
    """
    if n_layers < 0:
        raise ValueError(f"n_layers must be >= 0, got {n_layers}")
    if n_layers == 0:
        return 1
    layers = [(4, 2)] * n_layers + [(4, 1), (4, 1)]  # (kernel, stride), input to output
    r = 1
    for k, s in reversed(layers):
        r = (r - 1) * s + k
    return r
