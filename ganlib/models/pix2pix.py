"""Pix2Pix (Isola et al. 2017): the U-Net generator, the PatchGAN discriminator, and their training.

Architectures follow the official pytorch-CycleGAN-and-pix2pix code (``networks.py``)
to the parameter: ``UNetGenerator()`` is ``unet_256`` (54,413,955 parameters),
``UNetGenerator(num_downs=7)`` is ``unet_128`` (41,828,995),
``PatchDiscriminator(6)`` is the 70x70 ``basic`` D (2,768,705) and
``PatchDiscriminator(6, n_layers=0)`` the 1x1 ``pixel`` D (9,024).

The same ``UNetGenerator`` serves BicycleGAN (Zhu et al. 2017): with ``nz > 0`` a latent
code z is tiled over the image and concatenated to the input (``z_injection="input"``,
official ``G_Unet_add_input``) or to the input of every down-sampling convolution
(``z_injection="all"``, ``G_Unet_add_all``). With BicycleGAN's defaults
(``norm="instance"``, ``nz=8``, ``upsample="basic"``) the counts are 54,417,795 and
54,794,627, as in the official code.
"""
from __future__ import annotations

import copy
import dataclasses
import math
import os
from collections import OrderedDict
from functools import lru_cache
from typing import Callable, Dict, Mapping, Optional, Tuple, Union

import torch
import torch.nn.functional as F
from torch import nn

from ..losses import gan_losses

__all__ = [
    "norm_layer", "init_weights", "receptive_field", "empirical_receptive_field", "min_input_size",
    "high_frequency_energy", "evaluate_translation", "dropout_spread",
    "UNetBlock", "UNetGenerator", "PatchDiscriminator",
    "Pix2PixConfig", "Pix2Pix", "pix2pix_step", "linear_decay", "paper_schedule", "random_jitter",
    "JitteredBatches", "Pix2PixExperiment", "load_pairs", "make_batches", "train_pix2pix",
    "measure_pix2pix", "train_and_measure",
]

NORMS = ("batch", "instance", "none")
UPSAMPLES = ("basic", "bilinear", "nearest")


# --------------------------------------------------------------------------- small pieces

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


def _uses_bias(norm: str) -> bool:
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

    def __init__(self, outer_nc: int, inner_nc: int, input_nc: Optional[int] = None,
                 submodule: Optional["UNetBlock"] = None, outermost: bool = False,
                 innermost: bool = False, norm: str = "batch", use_dropout: bool = False,
                 nz: int = 0, upsample: str = "basic", skips: bool = True):
        super().__init__()
        if upsample not in UPSAMPLES:
            raise ValueError(f"unknown upsample {upsample!r}; choose one of {', '.join(UPSAMPLES)}")
        input_nc = outer_nc if input_nc is None else input_nc
        make_norm, bias = norm_layer(norm), _uses_bias(norm)
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
            up += [("resize", nn.Upsample(scale_factor=2, mode=upsample)), ("pad", nn.ReflectionPad2d(1)),
                   ("conv", nn.Conv2d(up_in, outer_nc, 3, bias=up_bias))]
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
    return {(k[len("module."):] if k.startswith("module.") else k): v for k, v in sd.items()}

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

    def __init__(self, in_channels: int = 3, out_channels: int = 3, num_downs: int = 8,
                 ngf: int = 64, norm: str = "batch", use_dropout: bool = True, nz: int = 0,
                 z_injection: str = "input", upsample: str = "basic", skips: bool = True):
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
        self.model = UNetBlock(out_channels, ngf, input_nc=in_channels, submodule=block, outermost=True,
                               norm=norm, upsample=upsample, nz=nz, skips=skips)

    @property
    def size_multiple(self) -> int:
        return 2 ** self.num_downs

    def forward(self, x: torch.Tensor, z: Optional[torch.Tensor] = None) -> torch.Tensor:
        if x.dim() != 4:
            raise ValueError(f"UNetGenerator takes images (N, C, H, W), got shape {tuple(x.shape)}")
        if x.shape[1] != self.in_channels:
            raise ValueError(
                f"UNetGenerator was built for {self.in_channels} input channels but the images have "
                f"{x.shape[1]}: build it with in_channels={x.shape[1]}, or convert the images "
                f"(e.g. grayscale -> RGB with x.expand(-1, 3, -1, -1))")
        m = self.size_multiple
        if x.shape[2] % m or x.shape[3] % m:
            raise ValueError(
                f"UNetGenerator with num_downs={self.num_downs} halves the image {self.num_downs} times, "
                f"so height and width must be multiples of 2**{self.num_downs} = {m} "
                f"(e.g. {m}, {2 * m}, {3 * m}); got {x.shape[2]}x{x.shape[3]}. Resize or crop the "
                f"images (pix2pix: 256x256 for num_downs=8, 128x128 for num_downs=7), or build the "
                f"U-Net with fewer levels")
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
        """Official ``UnetGenerator`` state_dict key -> our key, for a pix2pix U-Net.

        Official layout: ``model.model.<i>...`` with each block an ``nn.Sequential`` whose
        children are, for the outermost ``[downconv, inner, ReLU, upconv, Tanh]``, for the
        middle ``[LeakyReLU, downconv, downnorm, inner, ReLU, upconv, upnorm(, Dropout)]``
        and for the innermost ``[LeakyReLU, downconv, ReLU, upconv, upnorm]``.
        """
        bn = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked") if norm == "batch" else ()
        conv = ("weight",) if norm == "batch" else ("weight", "bias")
        mapping: Dict[str, str] = {}

        def add(official: str, ours: str, names) -> None:
            for n in names:
                mapping[f"{official}.{n}"] = f"{ours}.{n}"

        off, our = "model.model.", "model."
        add(off + "0", our + "down.conv", conv)
        add(off + "3", our + "up.conv", ("weight", "bias"))
        off, our = off + "1.model.", our + "inner."
        for level in range(1, num_downs - 1):  # middle levels
            add(off + "1", our + "down.conv", conv)
            add(off + "2", our + "down.norm", bn)
            add(off + "5", our + "up.conv", conv)
            add(off + "6", our + "up.norm", bn)
            off, our = off + "3.model.", our + "inner."
        add(off + "1", our + "down.conv", conv)  # innermost
        add(off + "3", our + "up.conv", conv)
        add(off + "4", our + "up.norm", bn)
        return mapping

    @classmethod
    def from_official(cls, state_dict_or_path: Union[Mapping[str, torch.Tensor], str, os.PathLike],
                      **expected) -> "UNetGenerator":
        """A ``UNetGenerator`` holding the weights of an official pix2pix generator checkpoint.

        ``state_dict_or_path``: a state_dict saved by pytorch-CycleGAN-and-pix2pix
        (e.g. ``latest_net_G.pth`` of the published ``facades_label2photo`` model) or its path.
        The architecture (``num_downs``, ``ngf``, channels, norm) is read from the weights;
        pass any of them as keywords (``num_downs=8``...) to insist on it. Raises
        ``ValueError`` naming the mismatch for another architecture (e.g. a ResNet generator).
        For the official test-time behaviour, keep the model in ``train()`` mode (see
        the chapter): the official test script does not call ``eval()``.
        """
        sd = read_state_dict(state_dict_or_path)
        if "model.model.0.weight" not in sd:
            kind = ("a ResNet generator (resnet_6blocks/resnet_9blocks; use ResnetGenerator.from_official)"
                    if "model.1.weight" in sd else "not an official U-Net generator")
            raise ValueError(f"this checkpoint is {kind}: its first keys are {list(sd)[:3]}, "
                             "but an official unet_128/unet_256 starts with 'model.model.0.weight'")
        # depth: count the nesting of 'model.' in the longest key
        depth = max(k.count(".model.") for k in sd)  # outermost 'model.model.' counts as 1
        num_downs = depth
        first = sd["model.model.0.weight"]
        ngf, in_channels = first.shape[0], first.shape[1]
        out_key = "model.model.3.weight"
        if out_key not in sd:
            raise ValueError(f"official U-Net checkpoint without {out_key!r} (the last up-convolution); "
                             "it is truncated or of another architecture")
        out_channels = sd[out_key].shape[1]
        norm = "batch" if any(k.endswith("running_mean") for k in sd) else "instance"
        found = dict(num_downs=num_downs, ngf=ngf, in_channels=in_channels, out_channels=out_channels, norm=norm)
        unknown = sorted(set(expected) - set(found) - {"use_dropout"})
        if unknown:
            raise TypeError(f"from_official got unknown keywords {unknown}; allowed: {sorted(found)} and use_dropout")
        wrong = [f"{k}: checkpoint has {found[k]!r}, you asked for {v!r}" for k, v in expected.items()
                 if k in found and found[k] != v]
        if wrong:
            raise ValueError("the official checkpoint has another architecture than asked for ("
                             + "; ".join(wrong) + ")")
        model = cls(in_channels, out_channels, num_downs, ngf, norm=norm,
                    use_dropout=expected.get("use_dropout", True))
        mapping = cls.official_key_map(num_downs, norm)
        own = model.state_dict()
        missing = [k for k in mapping if k not in sd]
        unexpected = [k for k in sd if k not in mapping]
        if missing or unexpected:
            raise ValueError(
                f"the checkpoint does not match an official U-Net with num_downs={num_downs}, ngf={ngf}, "
                f"norm={norm!r}: missing keys {missing[:3]}{'...' if len(missing) > 3 else ''}, "
                f"unexpected keys {unexpected[:3]}{'...' if len(unexpected) > 3 else ''}")
        new = {}
        for k_off, k_our in mapping.items():
            if tuple(sd[k_off].shape) != tuple(own[k_our].shape):
                raise ValueError(f"shape mismatch for {k_off}: checkpoint {tuple(sd[k_off].shape)}, "
                                 f"expected {tuple(own[k_our].shape)} for num_downs={num_downs}, ngf={ngf}")
            new[k_our] = sd[k_off]
        model.load_state_dict(new)
        return model


# --------------------------------------------------------------------------- the PatchGAN

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
        make_norm, bias = norm_layer(norm), _uses_bias(norm)
        lrelu = lambda: nn.LeakyReLU(0.2, inplace=True)  # noqa: E731
        if n_layers == 0:
            layers = [nn.Conv2d(in_channels, ndf, 1), lrelu(),
                      nn.Conv2d(ndf, 2 * ndf, 1, bias=bias), make_norm(2 * ndf), lrelu(),
                      nn.Conv2d(2 * ndf, 1, 1, bias=bias)]
        else:
            layers = [nn.Conv2d(in_channels, ndf, 4, stride=2, padding=1), lrelu()]
            mult = 1
            for n in range(1, n_layers + 1):
                prev, mult = mult, min(2 ** n, 8)
                stride = 2 if n < n_layers else 1
                layers += [nn.Conv2d(ndf * prev, ndf * mult, 4, stride=stride, padding=1, bias=bias),
                           make_norm(ndf * mult), lrelu()]
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
                f"input channels + output channels")
        if self.n_layers > 0:
            smallest = min_input_size(self.n_layers)
            if min(x.shape[2], x.shape[3]) < smallest:
                raise ValueError(
                    f"a PatchDiscriminator with n_layers={self.n_layers} needs inputs of at least "
                    f"{smallest}x{smallest} pixels (its output map would be empty), got "
                    f"{x.shape[2]}x{x.shape[3]}: use larger images or fewer layers")
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


def empirical_receptive_field(D: nn.Module, size: int = 320) -> int:
    """Measure D's receptive field: the width of the input region with a nonzero gradient of
    the central output unit (weights set to positive constants, norms made inert, so no
    gradient cancels by chance). Works on a copy; ``D`` is untouched."""
    D = copy.deepcopy(D).double().eval()
    for m in D.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.constant_(m.weight, 0.01)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        if isinstance(m, nn.BatchNorm2d):
            m.reset_running_stats()
    for m in list(D.modules()):
        for name, child in list(m.named_children()):
            if isinstance(child, (nn.InstanceNorm2d, nn.LeakyReLU)):
                setattr(m, name, nn.Identity())
    x = torch.ones(1, D.in_channels, size, size, dtype=torch.float64, requires_grad=True)
    out = D(x)
    i, j = out.shape[2] // 2, out.shape[3] // 2
    out[0, 0, i, j].backward()
    touched = (x.grad[0].abs().sum(0) != 0)
    rows = touched.any(1).nonzero()
    return int(rows.max() - rows.min() + 1)


# --------------------------------------------------------------------------- training

@dataclasses.dataclass
class Pix2PixConfig:
    """The paper's settings (official defaults in brackets where they differ from a knob's name)."""
    in_channels: int = 3
    out_channels: int = 3
    num_downs: int = 8            # unet_256
    ngf: int = 64
    ndf: int = 64
    n_layers_d: int = 3           # 70x70 PatchGAN
    norm: str = "batch"
    use_dropout: bool = True
    lambda_l1: float = 100.0      # lambda in G* = arg min max L_cGAN + lambda L_L1
    use_gan: bool = True          # False: L1 only (the loss ablation)
    conditional_d: bool = True    # False: D sees the output alone, not the pair (the paper's "GAN" rows)
    skips: bool = True            # False: the encoder-decoder without skips (the generator ablation)
    lr: float = 2e-4
    beta1: float = 0.5
    gan_mode: str = "vanilla"     # "vanilla" (BCE with logits, the paper) or "lsgan"
    init_std: float = 0.02
    n_constant: int = 0           # LR schedule, in steps: constant for n_constant steps, then a
    n_decay: int = 0              # linear decay to 0 over n_decay (0, 0: constant; official: 100+100 epochs)


class Pix2Pix(nn.Module):
    """Holds ``G``, ``D`` and their Adam optimizers, built and initialised from a ``Pix2PixConfig``."""

    def __init__(self, cfg: Pix2PixConfig = Pix2PixConfig(), device: Union[str, torch.device] = "cpu"):
        super().__init__()
        self.cfg = cfg
        self.G = init_weights(UNetGenerator(cfg.in_channels, cfg.out_channels, cfg.num_downs, cfg.ngf,
                                            cfg.norm, cfg.use_dropout, skips=cfg.skips), cfg.init_std).to(device)
        d_in = cfg.in_channels + cfg.out_channels if cfg.conditional_d else cfg.out_channels
        self.D = init_weights(PatchDiscriminator(d_in, cfg.ndf, cfg.n_layers_d, cfg.norm), cfg.init_std).to(device)
        betas = (cfg.beta1, 0.999)
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=cfg.lr, betas=betas)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=cfg.lr, betas=betas)
        self.schedulers = {}
        if cfg.n_constant or cfg.n_decay:
            rule = linear_decay(cfg.n_constant, cfg.n_decay)
            self.schedulers = {"G": torch.optim.lr_scheduler.LambdaLR(self.opt_g, rule),
                               "D": torch.optim.lr_scheduler.LambdaLR(self.opt_d, rule)}

    @property
    def modules_and_optimizers(self):
        """Keyword arguments for ``ganlib.train.fit``: modules, optimizers and schedulers."""
        return {"modules": {"G": self.G, "D": self.D},
                "optimizers": {"G": self.opt_g, "D": self.opt_d}, "schedulers": self.schedulers}

    def step(self, batch) -> Dict[str, torch.Tensor]:
        """One training step on ``batch = (A, B)`` (see ``pix2pix_step``), then the LR schedule."""
        a, b = batch
        device = next(self.G.parameters()).device
        losses = pix2pix_step(self.G, self.D, self.opt_g, self.opt_d, a.to(device), b.to(device),
                              lambda_l1=self.cfg.lambda_l1, use_gan=self.cfg.use_gan,
                              gan_mode=self.cfg.gan_mode, conditional=self.cfg.conditional_d)
        for name, sched in self.schedulers.items():
            if name == "G" or self.cfg.use_gan:  # an L1-only run never steps D's optimizer
                sched.step()
        return losses


def pix2pix_step(G: nn.Module, D: nn.Module, opt_g: torch.optim.Optimizer, opt_d: torch.optim.Optimizer,
                 a: torch.Tensor, b: torch.Tensor, lambda_l1: float = 100.0, use_gan: bool = True,
                 gan_mode: str = "vanilla", conditional: bool = True) -> Dict[str, torch.Tensor]:
    r"""One pix2pix step in the official order (``pix2pix_model.optimize_parameters``).

    ``a (N, C_in, H, W)`` input, ``b (N, C_out, H, W)`` target; ``fake = G(a)``.

    1. D: :math:`\tfrac12\,[\ell(D(a, b), 1) + \ell(D(a, \mathrm{fake.detach()}), 0)]`,
       D sees the pair ``cat([a, b], 1)`` (conditional GAN).
    2. G (D's weights not updated): :math:`\ell(D(a, \mathrm{fake}), 1) + \lambda \lVert b - \mathrm{fake}\rVert_1`,
       :math:`\lambda` = ``lambda_l1`` = 100. With ``use_gan=False``: L1 only, D untouched.

    ``conditional=False``: D sees the output alone (``b``, ``fake``), not the pair: the paper's
    unconditional "GAN" and "L1 + GAN" rows.
    """
    d_loss_fn, g_loss_fn = gan_losses(gan_mode)
    fake = G(a)
    out = {}
    if use_gan:
        pair = (lambda y: torch.cat([a, y], 1)) if conditional else (lambda y: y)
        for p in D.parameters():
            p.requires_grad_(True)
        d_loss = 0.5 * d_loss_fn(D(pair(b)), D(pair(fake.detach())))
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        opt_d.step()
        for p in D.parameters():  # no gradients into D during G's update
            p.requires_grad_(False)
        g_gan = g_loss_fn(D(pair(fake)))
        out["d_loss"] = d_loss.detach()
        out["g_gan"] = g_gan.detach()
    else:
        g_gan = torch.zeros((), device=a.device)
    l1 = F.l1_loss(fake, b)
    g_loss = g_gan + lambda_l1 * l1
    opt_g.zero_grad(set_to_none=True)
    g_loss.backward()
    opt_g.step()
    if use_gan:
        for p in D.parameters():
            p.requires_grad_(True)
    out["g_l1"] = l1.detach()
    return out


def linear_decay(n_constant: int, n_decay: int) -> Callable[[int], float]:
    """The official learning-rate rule (``lr_policy="linear"``) as a multiplier of the base LR.

    ``f(t) = 1 - max(0, t + 1 - n_constant) / (n_decay + 1)``: 1 for the first ``n_constant``
    epochs (or steps), then a straight line towards 0 over ``n_decay`` more (the official
    defaults are 100 + 100 epochs; its epoch_count starts at 1). Use with
    ``torch.optim.lr_scheduler.LambdaLR(opt, linear_decay(...))``.
    """
    if n_constant < 0 or n_decay < 0:
        raise ValueError(f"n_constant and n_decay must be >= 0, got {n_constant}, {n_decay}")

    def factor(t: int) -> float:
        return 1.0 - max(0, t + 1 - n_constant) / float(n_decay + 1)
    return factor


def paper_schedule(cfg: Pix2PixConfig, steps: int) -> Pix2PixConfig:
    """``cfg`` with the paper's schedule scaled to a run of ``steps``: constant for the first half,
    then linear decay towards 0 over the second (the official 100 + 100 epochs)."""
    return dataclasses.replace(cfg, n_constant=steps // 2, n_decay=steps - steps // 2)


def random_jitter(a: torch.Tensor, b: torch.Tensor, load_size: int = 286, crop_size: int = 256,
                  flip: bool = True, generator: Optional[torch.Generator] = None
                  ) -> Tuple[torch.Tensor, torch.Tensor]:
    """The paper's augmentation: resize to ``load_size`` (286), random crop ``crop_size`` (256),
    random horizontal flip; the *same* crop and flip for each input ``a`` and its target ``b``.

    ``a (N, Ca, H, W), b (N, Cb, H, W) -> (N, Ca, crop, crop), (N, Cb, crop, crop)``; one random
    crop/flip per pair. Bicubic resize as the official code, clamped to [-1, 1].
    """
    if a.shape[0] != b.shape[0] or a.shape[2:] != b.shape[2:]:
        raise ValueError(f"a and b must be pairs of the same size, got {tuple(a.shape)} and {tuple(b.shape)}")
    if crop_size > load_size:
        raise ValueError(f"crop_size {crop_size} must be <= load_size {load_size}")
    n, ca = a.shape[0], a.shape[1]
    ab = torch.cat([a, b], 1)
    if ab.shape[2:] != (load_size, load_size):
        ab = F.interpolate(ab, size=(load_size, load_size), mode="bicubic", align_corners=False).clamp(-1, 1)
    pos = torch.randint(0, load_size - crop_size + 1, (n, 2), generator=generator)
    flips = torch.rand(n, generator=generator) < 0.5 if flip else torch.zeros(n, dtype=torch.bool)
    out = []
    for k in range(n):
        i, j = int(pos[k, 0]), int(pos[k, 1])
        crop = ab[k, :, i:i + crop_size, j:j + crop_size]
        out.append(crop.flip(-1) if flips[k] else crop)
    ab = torch.stack(out)
    return ab[:, :ca], ab[:, ca:]


# --------------------------------------------------------------------------- measuring

def high_frequency_energy(images: torch.Tensor) -> torch.Tensor:
    """Mean absolute response to the 3x3 Laplacian, per image: ``(N, C, H, W) -> (N,)``.

    Blurry images have little of it; the ratio output / target (1 = as sharp as the truth)
    is the chapter's sharpness number.
    """
    k = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]], dtype=images.dtype,
                     device=images.device)
    c = images.shape[1]
    lap = F.conv2d(images, k.expand(c, 1, 3, 3).contiguous(), groups=c)
    return lap.abs().mean(dim=(1, 2, 3))


@torch.no_grad()
def evaluate_translation(G: nn.Module, A: torch.Tensor, B: torch.Tensor, batch_size: int = 64,
                         official_test_mode: bool = False) -> Dict[str, float]:
    """Held-out numbers of a generator on pairs ``(A, B)`` (images in [-1, 1]).

    - ``l1``: mean |G(A) - B| (the paper's fidelity term; lower is better),
    - ``psnr``: 10 log10(2^2 / MSE) in dB on the [-1, 1] range (higher is better),
    - ``hf_ratio``: high-frequency energy of G(A) over that of B (1 = as sharp as the truth).

    ``official_test_mode``: as the official ``test.py`` (without ``--eval``): dropout on, batch
    norm from the statistics of each test batch, one image per batch (its batch size is 1, so
    ``batch_size`` is ignored). Train mode would also update the running statistics, so this
    runs on a copy of ``G``. Otherwise ``G.eval()``. ``G`` itself is left as it was.
    """
    was_training = G.training
    if official_test_mode:
        G, batch_size = copy.deepcopy(G).train(), 1
    else:
        G.eval()
    device = next(iter([*G.parameters(), *G.buffers()]), torch.zeros(())).device
    outs = []
    for i in range(0, len(A), batch_size):
        outs.append(G(A[i:i + batch_size].to(device)).cpu())
    if not official_test_mode:
        G.train(was_training)
    fake = torch.cat(outs)
    mse = ((fake - B) ** 2).mean().item()
    return {"l1": (fake - B).abs().mean().item(),
            "psnr": 10 * math.log10(4.0 / max(mse, 1e-12)),
            "hf_ratio": (high_frequency_energy(fake).mean() / high_frequency_energy(B).mean()).item()}


class JitteredBatches:
    """Mini-batches of pairs with the paper's random jitter applied afresh to each batch.

    Wraps batches ``(A, B)`` at ``load_size`` (e.g. ``TensorBatches`` of 286x286 pairs) and
    yields ``random_jitter(A, B, load_size, crop_size)``; its ``state_dict`` holds the wrapped
    batches' state and its own RNG, so ``ganlib.train.fit`` resumes it exactly.
    """

    def __init__(self, batches, load_size: int = 286, crop_size: int = 256, flip: bool = True, seed: int = 0):
        self.batches, self.load_size, self.crop_size, self.flip = batches, load_size, crop_size, flip
        self.generator = torch.Generator().manual_seed(seed)

    def __iter__(self):
        return self

    def __next__(self):
        a, b = next(self.batches)
        return random_jitter(a.cpu(), b.cpu(), self.load_size, self.crop_size, self.flip, self.generator)

    def state_dict(self):
        inner = self.batches.state_dict() if hasattr(self.batches, "state_dict") else None
        return {"batches": inner, "rng": self.generator.get_state()}

    def load_state_dict(self, state):
        if state.get("batches") is not None:
            self.batches.load_state_dict(state["batches"])
        self.generator.set_state(state["rng"])


@torch.no_grad()
def dropout_spread(G: nn.Module, A: torch.Tensor, masks: int = 8, batch_size: int = 64) -> float:
    """How much dropout, pix2pix's only noise, varies the output: the per-pixel standard
    deviation of ``G(A)`` over ``masks`` dropout masks, averaged over pixels and images.

    Batch norm uses its running statistics (``eval()``) and only the ``Dropout`` layers are
    switched on, so the spread comes from dropout alone; runs on a copy, ``G`` is untouched.
    0 for a U-Net without dropout layers (``num_downs <= 5``).
    """
    G = copy.deepcopy(G).eval()
    layers = [m for m in G.modules() if isinstance(m, nn.Dropout)]
    if not layers:
        return 0.0
    for m in layers:
        m.train()
    device = next(G.parameters()).device
    spreads = []
    for i in range(0, len(A), batch_size):
        a = A[i:i + batch_size].to(device)
        outs = torch.stack([G(a) for _ in range(masks)])  # (masks, n, C, H, W)
        spreads.append(outs.std(0).mean(dim=(1, 2, 3)).cpu())
    return torch.cat(spreads).mean().item()


# --------------------------------------------------------------------------- one run of an ablation

@dataclasses.dataclass
class Pix2PixExperiment:
    """One seeded training run and its held-out measurements (``train_and_measure``).

    The run trains ``model`` for ``steps`` with the paper's schedule scaled to that length
    (``paper_schedule``: ``model.n_constant``/``n_decay`` are replaced), on the first ``n_train``
    pairs of ``dataset`` (``"toy_facades"`` or a pix2pix set of ``ganlib.data.registry``), and
    measures on ``n_test`` held-out pairs.
    """
    dataset: str = "toy_facades"
    direction: str = "AtoB"
    image_size: int = 64
    n_train: Optional[int] = 1000
    n_test: Optional[int] = 200
    jitter: bool = False          # the paper's 286 -> 256 random crop + flip (real sets at 256 px)
    batch_size: int = 8
    steps: int = 600
    model: Pix2PixConfig = dataclasses.field(
        default_factory=lambda: Pix2PixConfig(num_downs=6, ngf=16, ndf=16, lr=5e-4))
    dropout_masks: int = 8        # masks for dropout_spread
    segmenter_steps: int = 300    # training steps of the label-consistency judge (toy facades)
    keep_outputs: int = 0         # > 0: train_and_measure also returns G(A) of that many test inputs
    checkpoint_dir: Optional[str] = None  # a folder: each run of train_and_measure resumes from its own file


@lru_cache(maxsize=4)
def _pairs(dataset: str, direction: str, image_size: int, n_train: Optional[int], n_test: Optional[int],
           jitter: bool):
    if dataset == "toy_facades":
        from ..data.toy_facades import load_toy_facades
        return (*load_toy_facades(n_train, image_size, "train"), *load_toy_facades(n_test, image_size, "test"))
    from ..data import registry
    load = 286 if jitter else image_size
    a_train, b_train = registry.load_paired(dataset, split="train", direction=direction, size=load,
                                            limit=n_train, progress=False)
    a_test, b_test = registry.load_paired(dataset, split="val", direction=direction, size=image_size,
                                          limit=n_test, progress=False)
    return a_train, b_train, a_test, b_test


def load_pairs(exp: Pix2PixExperiment) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(A_train, B_train, A_test, B_test)`` of an experiment, in [-1, 1] (cached per process)."""
    return _pairs(exp.dataset, exp.direction, exp.image_size, exp.n_train, exp.n_test, exp.jitter)


def make_batches(exp: Pix2PixExperiment, seed: int = 0):
    """The experiment's training batches: shuffled by ``seed``, with the paper's jitter if asked."""
    from ..data.batches import TensorBatches
    a_train, b_train, _, _ = load_pairs(exp)
    batches = TensorBatches(a_train, b_train, batch_size=exp.batch_size, seed=seed)
    if exp.jitter:
        batches = JitteredBatches(batches, load_size=286, crop_size=exp.image_size, seed=seed)
    return batches


def train_pix2pix(exp: Pix2PixExperiment, seed: int = 0, device: Union[str, torch.device, None] = None,
                  checkpoint=None, progress: bool = False, desc: str = "pix2pix"):
    """Train one model of ``exp``: returns ``(Pix2Pix, History)``. The networks' initial weights
    and dropout masks come from torch's global RNG, which the caller seeds
    (``ganlib.runs`` does: ``seed_everything(seed)``); ``seed`` orders the batches."""
    from ..train import fit
    from ..utils import get_device
    device = get_device() if device is None else device
    model_cfg = paper_schedule(exp.model, exp.steps)
    model = Pix2Pix(model_cfg, device=device)
    history = fit(model.step, make_batches(exp, seed), exp.steps, **model.modules_and_optimizers,
                  checkpoint=checkpoint, config=model_cfg, progress=progress, desc=desc)
    return model, history


def measure_pix2pix(G: nn.Module, exp: Pix2PixExperiment) -> Dict[str, float]:
    """The chapter's held-out numbers of a generator, without changing it:

    ``l1``, ``psnr``, ``hf_ratio`` (``evaluate_translation``, ``eval()`` mode); ``label_acc``,
    ``label_iou``: a segmenter trained on real targets, applied to ``G(A)`` and scored against
    the input's classes (``ganlib.models.facade_segmenter``; NaN on sets without class labels);
    ``dropout_spread`` (``dropout_spread``).
    """
    _, _, a_test, b_test = load_pairs(exp)
    out = evaluate_translation(G, a_test, b_test)
    if exp.dataset == "toy_facades":
        from .facade_segmenter import label_consistency, train_segmenter
        segmenter = train_segmenter(exp.image_size, steps=exp.segmenter_steps)
        was_training = G.training
        G.eval()
        with torch.no_grad():
            device = next(G.parameters()).device
            fake = torch.cat([G(a_test[i:i + 64].to(device)).cpu() for i in range(0, len(a_test), 64)])
        G.train(was_training)
        out.update(label_consistency(segmenter, fake, a_test))
    else:
        out.update(label_acc=math.nan, label_iou=math.nan)
    out["dropout_spread"] = dropout_spread(G, a_test, exp.dropout_masks)
    return out


def train_and_measure(config: Pix2PixExperiment, seed: int) -> Dict[str, float]:
    """Train one model of ``config`` (seeded) and return ``measure_pix2pix`` of its generator:
    the function ``ganlib.runs`` runs for every row and seed of the chapter's ablations.
    With ``config.keep_outputs`` the dict also holds ``"outputs"``, a tensor of translations."""
    checkpoint = None
    if config.checkpoint_dir:  # one file per configuration and seed, so long runs resume
        import hashlib
        key = repr(dataclasses.replace(config, keep_outputs=0, checkpoint_dir=None))
        checkpoint = os.path.join(config.checkpoint_dir,
                                  f"pix2pix_{hashlib.sha1(key.encode()).hexdigest()[:12]}_seed{seed}.pt")
    model, _ = train_pix2pix(config, seed, checkpoint=checkpoint)
    out = measure_pix2pix(model.G, config)
    if config.keep_outputs:  # pictures of the run, kept apart from the numbers (key "outputs")
        a_test = load_pairs(config)[2][:config.keep_outputs]
        with torch.no_grad():
            model.G.eval()
            out["outputs"] = model.G(a_test.to(next(model.G.parameters()).device)).cpu()
    return out
