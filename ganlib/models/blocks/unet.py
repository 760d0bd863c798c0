"""The U-Net generator of pix2pix (Isola et al. 2017), which BicycleGAN reuses with a latent code.

Architectures follow the official pytorch-CycleGAN-and-pix2pix code (``networks.py``)
to the parameter: ``UNetGenerator()`` is ``unet_256`` (54,413,955 parameters),
``UNetGenerator(num_downs=7)`` is ``unet_128`` (41,828,995).

With ``nz > 0`` a latent code z is tiled over the image and concatenated to the input
(``z_injection="input"``, official ``G_Unet_add_input``) or to the input of every
down-sampling convolution (``z_injection="all"``, ``G_Unet_add_all``). With BicycleGAN's
defaults (``norm="instance"``, ``nz=8``, ``upsample="basic"``) the counts are 54,417,795 and
54,794,627, as in the official code. Official pix2pix checkpoints load with
``UNetGenerator.from_official`` (``ganlib.models.blocks.unet_official``).
"""

from __future__ import annotations

import os
from collections import OrderedDict
from typing import Dict, Mapping, Optional, Union

import torch
import torch.nn.functional as F
from torch import nn

from .layers import NORMS, norm_layer, uses_bias

__all__ = ["UPSAMPLES", "UNetBlock", "UNetGenerator"]

UPSAMPLES = ("basic", "bilinear", "nearest")


def _tile(z: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """``(N, nz) -> (N, nz, H, W)``: the same code at every pixel of ``like``."""
    return z[:, :, None, None].expand(z.shape[0], z.shape[1], like.shape[2], like.shape[3])


# --------------------------------------------------------------------------- the U-Net


class UNetBlock(nn.Module):
    r"""One level of the U-Net: down-sample, the inner levels, up-sample, then the skip.

    ``x (N, outer, H, W) -> (N, 2*outer, H, W)`` (the skip ``x`` concatenated with the
    decoded features), or ``-> (N, out_channels, H, W)`` for the outermost level.

    - down: ``[LeakyReLU(0.2)] -> Conv 4x4 stride 2 -> [norm]`` (no activation on the image
      itself in the outermost block, no norm there nor at the 1x1 bottleneck),
    - up: ``ReLU -> ConvTranspose 4x4 stride 2`` (or resize + 3x3 conv) ``-> norm`` and
      ``Dropout(0.5)`` in the middle levels, or ``-> Tanh`` in the outermost one.

    With ``skips=False`` the block returns the decoded features alone: the paper's
    "encoder-decoder" baseline, the U-Net with its skip connections severed (section 4.3).

    The skip carries ``x``. (The official block's in-place LeakyReLU overwrites ``x`` before
    it is concatenated, so there the skip carries ``LeakyReLU(x)``; that changes nothing,
    because the next layer to see the skip is the parent's up-path ``ReLU`` and
    ``ReLU(LeakyReLU(x)) = ReLU(x)``.)
    """

    def __init__(
        self,
        outer_nc: int,
        inner_nc: int,
        input_nc: Optional[int] = None,
        submodule: Optional["UNetBlock"] = None,
        outermost: bool = False,
        innermost: bool = False,
        norm: str = "batch",
        use_dropout: bool = False,
        nz: int = 0,
        upsample: str = "basic",
        skips: bool = True,
    ):
        super().__init__()
        if upsample not in UPSAMPLES:
            raise ValueError(f"unknown upsample {upsample!r}; choose one of {', '.join(UPSAMPLES)}")
        input_nc = outer_nc if input_nc is None else input_nc
        make_norm, bias = norm_layer(norm), uses_bias(norm)
        self.outermost, self.innermost, self.nz, self.input_nc = outermost, innermost, nz, input_nc
        self.skip = skips and not outermost

        down = [("conv", nn.Conv2d(input_nc + nz, inner_nc, 4, stride=2, padding=1, bias=bias))]
        if not (outermost or innermost):
            down.append(("norm", make_norm(inner_nc)))
        self.down = nn.Sequential(OrderedDict(down))
        self.inner = submodule

        up_in = inner_nc if (innermost or not skips) else 2 * inner_nc  # the inner block's skip doubles it
        up_bias = True if outermost else bias
        up = [("act", nn.ReLU())]
        if upsample == "basic":
            up.append(("conv", nn.ConvTranspose2d(up_in, outer_nc, 4, stride=2, padding=1, bias=up_bias)))
        else:  # resize, then a 3x3 conv: no checkerboard pattern (BicycleGAN's option)
            up += [
                ("resize", nn.Upsample(scale_factor=2, mode=upsample)),
                ("pad", nn.ReflectionPad2d(1)),
                ("conv", nn.Conv2d(up_in, outer_nc, 3, bias=up_bias)),
            ]
        if outermost:
            up.append(("tanh", nn.Tanh()))
        else:
            up.append(("norm", make_norm(outer_nc)))
            if use_dropout and not innermost:
                up.append(("dropout", nn.Dropout(0.5)))
        self.up = nn.Sequential(OrderedDict(up))

    def forward(self, x: torch.Tensor, z: Optional[torch.Tensor] = None) -> torch.Tensor:
        h = x if self.nz == 0 else torch.cat([x, _tile(z, x)], 1)  # BicycleGAN: z at this level
        if not self.outermost:
            h = F.leaky_relu(h, 0.2)
        h = self.down(h)
        if self.inner is not None:
            h = self.inner(h, z)
        h = self.up(h)
        return torch.cat([x, h], 1) if self.skip else h


class UNetGenerator(nn.Module):
    r"""The pix2pix generator: an encoder-decoder with skip connections (Isola et al. 2017, 3.2.1).

    ``G(x)``: ``(N, in_channels, H, W) -> (N, out_channels, H, W)`` in [-1, 1], with H and W
    multiples of ``2**num_downs`` (256 for ``num_downs=8``: the bottleneck is 1x1).
    Built from the innermost block outwards, as in the official code: a 1x1 bottleneck,
    ``num_downs - 5`` blocks of ``8*ngf`` channels (with dropout), then 4, 2, 1 times
    ``ngf``. Channels at level i of the encoder: ``ngf * min(2**i, 8)``. Dropout (p=0.5, on
    at training *and*, in the official test script, at test time) is the only noise source:
    pix2pix takes no z.

    BicycleGAN's generator is the same network with a latent code ``z (N, nz)``: it is
    tiled spatially, ``z[:, :, None, None].expand(N, nz, h, w)``, and concatenated along
    channels to the input of the first convolution (``z_injection="input"``) or to the
    input of the down-sampling convolution of every level (``"all"``), so each of those
    convolutions has ``nz`` more input channels. Call ``G(x, z)``. (In the middle levels the
    tiled z passes through the block's LeakyReLU with ``x``, as in the official
    ``UnetBlock_with_z``. The official BicycleGAN blocks concatenate ``[decoded, skip]``
    where pix2pix's concatenate ``[skip, decoded]``; we keep pix2pix's order, which only
    matters for loading BicycleGAN checkpoints. BicycleGAN initialises with
    ``init_weights(G, 0.02, kind="xavier")``.)

    ``upsample``: ``"basic"`` (transposed 4x4 conv, pix2pix) or ``"bilinear"``/``"nearest"``
    (resize then 3x3 conv, BicycleGAN's options). ``skips=False``: the encoder-decoder of the
    paper's generator ablation (the same layers without the skip connections).
    """

    def __init__(
        self,
        in_channels: int = 3,
        out_channels: int = 3,
        num_downs: int = 8,
        ngf: int = 64,
        norm: str = "batch",
        use_dropout: bool = True,
        nz: int = 0,
        z_injection: str = "input",
        upsample: str = "basic",
        skips: bool = True,
    ):
        super().__init__()
        if num_downs < 5:
            raise ValueError(f"num_downs must be >= 5 (the official U-Net has 5 fixed levels), got {num_downs}")
        if norm not in NORMS:
            raise ValueError(f"unknown norm {norm!r}; choose one of {', '.join(NORMS)}")
        if z_injection not in ("input", "all"):
            raise ValueError(f"z_injection must be 'input' or 'all', got {z_injection!r}")
        if nz < 0:
            raise ValueError(f"nz must be >= 0, got {nz}")
        self.in_channels, self.out_channels, self.num_downs = in_channels, out_channels, num_downs
        self.ngf, self.norm, self.use_dropout, self.nz = ngf, norm, use_dropout, nz
        self.z_injection, self.upsample, self.skips = z_injection, upsample, skips
        z_all = nz if z_injection == "all" else 0
        kw = dict(norm=norm, upsample=upsample, nz=z_all, skips=skips)
        block = UNetBlock(ngf * 8, ngf * 8, innermost=True, **kw)
        for _ in range(num_downs - 5):
            block = UNetBlock(ngf * 8, ngf * 8, submodule=block, use_dropout=use_dropout, **kw)
        block = UNetBlock(ngf * 4, ngf * 8, submodule=block, **kw)
        block = UNetBlock(ngf * 2, ngf * 4, submodule=block, **kw)
        block = UNetBlock(ngf, ngf * 2, submodule=block, **kw)
        self.model = UNetBlock(
            out_channels,
            ngf,
            input_nc=in_channels,
            submodule=block,
            outermost=True,
            norm=norm,
            upsample=upsample,
            nz=nz,
            skips=skips,
        )

    @property
    def size_multiple(self) -> int:
        return 2**self.num_downs

    def forward(self, x: torch.Tensor, z: Optional[torch.Tensor] = None) -> torch.Tensor:
        if x.dim() != 4:
            raise ValueError(f"UNetGenerator takes images (N, C, H, W), got shape {tuple(x.shape)}")
        if x.shape[1] != self.in_channels:
            raise ValueError(
                f"UNetGenerator was built for {self.in_channels} input channels but the images have "
                f"{x.shape[1]}: build it with in_channels={x.shape[1]}, or convert the images "
                f"(e.g. grayscale -> RGB with x.expand(-1, 3, -1, -1))"
            )
        m = self.size_multiple
        if x.shape[2] % m or x.shape[3] % m:
            raise ValueError(
                f"UNetGenerator with num_downs={self.num_downs} halves the image {self.num_downs} times, "
                f"so height and width must be multiples of 2**{self.num_downs} = {m} "
                f"(e.g. {m}, {2 * m}, {3 * m}); got {x.shape[2]}x{x.shape[3]}. Resize or crop the "
                f"images (pix2pix: 256x256 for num_downs=8, 128x128 for num_downs=7), or build the "
                f"U-Net with fewer levels"
            )
        if self.nz > 0:
            if z is None:
                raise ValueError(f"this UNetGenerator takes a latent code: call G(x, z) with z of shape (N, {self.nz})")
            if z.dim() != 2 or z.shape != (x.shape[0], self.nz):
                raise ValueError(f"z must have shape (N, nz) = ({x.shape[0]}, {self.nz}), got {tuple(z.shape)}")
        elif z is not None:
            raise ValueError("this UNetGenerator was built with nz=0 and takes no z; build it with nz>0 for BicycleGAN")
        return self.model(x, z)

    # ---------------------------------------------------------------- official checkpoints

    @classmethod
    def official_key_map(cls, num_downs: int, norm: str = "batch") -> Dict[str, str]:
        """Official ``UnetGenerator`` state_dict key -> our key, for a pix2pix U-Net
        (``ganlib.models.blocks.unet_official.official_unet_key_map``)."""
        from .unet_official import official_unet_key_map

        return official_unet_key_map(num_downs, norm)

    @classmethod
    def from_official(
        cls, state_dict_or_path: Union[Mapping[str, torch.Tensor], str, os.PathLike], **expected
    ) -> "UNetGenerator":
        """A ``UNetGenerator`` holding the weights of an official pix2pix generator checkpoint.

        ``state_dict_or_path``: a state_dict saved by pytorch-CycleGAN-and-pix2pix
        (e.g. ``latest_net_G.pth`` of the published ``facades_label2photo`` model) or its path.
        The architecture (``num_downs``, ``ngf``, channels, norm) is read from the weights;
        pass any of them as keywords (``num_downs=8``...) to insist on it. Raises
        ``ValueError`` naming the mismatch for another architecture (e.g. a ResNet generator).
        For the official test-time behaviour, keep the model in ``train()`` mode (see
        the chapter): the official test script does not call ``eval()``.
        """
        from .unet_official import load_official_unet

        return load_official_unet(cls, state_dict_or_path, **expected)
