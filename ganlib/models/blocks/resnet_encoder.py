r"""BicycleGAN's encoder E (official ``E_ResNet``): an image to the mean and log variance of
:math:`q(z \mid B)`. ``ganlib.models.bicyclegan`` trains it; ``bicyclegan_official`` loads the
authors' weights into it."""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from .layers import norm_layer

__all__ = ["ResidualDownBlock", "ResNetEncoder"]


class ResidualDownBlock(nn.Module):
    r"""The encoder's residual block (official ``BasicBlock``): half the resolution.

    ``(N, c_in, H, W) -> (N, c_out, H/2, W/2)``:
    :math:`\mathrm{conv}_{3\times3}^{c_{in}\to c_{out}}(\phi(\mathrm{conv}_{3\times3}(\phi(x))))`
    then 2x2 average pooling, plus the shortcut ``avgpool2(x) -> conv 1x1``; :math:`\phi` is
    norm then LeakyReLU(0.2). Every conv has a bias (as the official code, whatever the norm).
    """

    def __init__(self, in_channels: int, out_channels: int, norm: str = "instance"):
        super().__init__()
        make_norm = norm_layer(norm)
        self.conv = nn.Sequential(
            OrderedDict(
                [
                    ("norm1", make_norm(in_channels)),
                    ("act1", nn.LeakyReLU(0.2)),
                    ("conv1", nn.Conv2d(in_channels, in_channels, 3, padding=1)),
                    ("norm2", make_norm(in_channels)),
                    ("act2", nn.LeakyReLU(0.2)),
                    ("conv2", nn.Conv2d(in_channels, out_channels, 3, padding=1)),
                    ("pool", nn.AvgPool2d(2)),
                ]
            )
        )
        self.shortcut = nn.Sequential(
            OrderedDict([("pool", nn.AvgPool2d(2)), ("conv", nn.Conv2d(in_channels, out_channels, 1))])
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x) + self.shortcut(x)


class ResNetEncoder(nn.Module):
    r"""E: an image B to the parameters of :math:`q(z \mid B) = \mathcal N(\mu, \mathrm{diag}\,\sigma^2)`.

    ``E(b)``: ``(N, in_channels, H, W) -> (mu (N, nz), logvar (N, nz))``, logvar =
    :math:`\log \sigma^2`. Layout of the official ``E_ResNet``: a 4x4 stride-2 conv to
    ``nef`` channels, ``n_blocks - 1`` ``ResidualDownBlock``\ s (channels
    ``nef * min(n, 4) -> nef * min(n + 1, 4)``), LeakyReLU, average pooling over the whole
    map, then two linear heads ``fc_mu`` and ``fc_logvar``.
    ``n_blocks=5`` is ``resnet_256`` (a 256x256 image ends as an 8x8 map: 2,590,032 parameters
    with nz = 8), ``n_blocks=4`` is ``resnet_128``. The official code pools with
    ``AvgPool2d(8)``, which is the same thing at those sizes; pooling the whole map also
    serves small images (32x32 with ``n_blocks=3``).
    """

    def __init__(self, in_channels: int = 3, nz: int = 8, nef: int = 64, n_blocks: int = 5, norm: str = "instance"):
        super().__init__()
        if nz < 1:
            raise ValueError(f"nz (the size of z) must be >= 1, got {nz}")
        if n_blocks < 1:
            raise ValueError(f"n_blocks must be >= 1 (5: resnet_256, 4: resnet_128), got {n_blocks}")
        self.in_channels, self.nz, self.nef, self.n_blocks = in_channels, nz, nef, n_blocks
        layers = [("conv", nn.Conv2d(in_channels, nef, 4, stride=2, padding=1))]
        out = nef
        for n in range(1, n_blocks):
            c_in, out = nef * min(n, 4), nef * min(n + 1, 4)
            layers.append((f"block{n}", ResidualDownBlock(c_in, out, norm)))
        layers.append(("act", nn.LeakyReLU(0.2)))
        self.features = nn.Sequential(OrderedDict(layers))
        self.fc_mu = nn.Linear(out, nz)
        self.fc_logvar = nn.Linear(out, nz)

    @property
    def size_multiple(self) -> int:
        return 2**self.n_blocks

    def forward(self, b: torch.Tensor):
        if b.dim() != 4 or b.shape[1] != self.in_channels:
            raise ValueError(
                f"ResNetEncoder was built for images with {self.in_channels} channels "
                f"(N, {self.in_channels}, H, W), got shape {tuple(b.shape)}"
            )
        m = self.size_multiple
        if b.shape[2] % m or b.shape[3] % m:
            raise ValueError(
                f"ResNetEncoder with n_blocks={self.n_blocks} halves the image {self.n_blocks} "
                f"times: height and width must be multiples of {m}, got {b.shape[2]}x{b.shape[3]}"
            )
        h = self.features(b).mean((2, 3))  # (N, C): global average pooling
        return self.fc_mu(h), self.fc_logvar(h)
