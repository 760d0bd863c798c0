r"""The authors' BicycleGAN weights in the book's networks: ``from_official`` for G and E.

The authors publish a generator ``{name}_net_G.pth`` and an encoder ``{name}_net_E.pth`` for
edges2shoes, edges2handbags, night2day, map2aerial and facades (official
``pretrained_models/download_model.sh``; ``ganlib.data.registry.BICYCLEGAN_MODELS`` has the
addresses, ``download_official`` fetches them).

Two layouts meet here.

- G. The official ``G_Unet_add_all`` (``--where_add all``) nests ``UnetBlock_with_z`` modules
  (``down``, ``submodule``, ``up``); ``G_Unet_add_input`` nests ``UnetBlock`` modules whose
  layers sit in one ``model`` Sequential. Both return ``cat([decoded, skip])`` from every
  inner level, where ``UNetGenerator`` (pix2pix's order) returns ``cat([skip, decoded])``.
  So the up-convolution that reads an inner level's output sees the same channels in the
  other order: its input-channel halves are swapped when loading (dim 0 of a
  ``ConvTranspose2d`` weight, dim 1 of the 3x3 ``Conv2d`` of the bilinear up-sampling).
  The innermost up-convolution reads the bottleneck alone and is copied as it is.
- E. ``E_ResNet``: ``conv.0`` (the first 4x4 conv), ``conv.{n}`` the ``BasicBlock``\ s
  (``conv.{n}.conv.2``, ``conv.{n}.conv.5.0``, ``conv.{n}.shortcut.1``), heads ``fc.0`` (mu) and
  ``fcVar.0`` (log variance): ``ResNetEncoder`` holds the same weights under other names.

The architecture (``num_downs``, ``ngf``, ``nz``, channels, where z is added, up-sampling) is
read from the weights. Only instance norm (the BicycleGAN default, and every published model)
is supported for G: with batch norm the official blocks keep conv biases that ours drop.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Dict, Mapping, Optional, Tuple, Union

import torch

from .blocks.checkpoints import copy_official_weights, read_state_dict
from .blocks.resnet_encoder import ResNetEncoder
from .blocks.unet import UNetGenerator

__all__ = [
    "official_generator_key_map",
    "official_encoder_key_map",
    "generator_from_official",
    "encoder_from_official",
    "from_official",
    "download_official",
]

StateDict = Union[Mapping[str, torch.Tensor], str, os.PathLike]

# positions of the layers inside the official blocks, by up-sampling: (down conv, up conv)
_UP_INDEX = {"basic": 1, "bilinear": 3}  # UnetBlock_with_z.up: [ReLU, (Upsample, Pad,) conv, ...]


def official_generator_key_map(
    num_downs: int, z_injection: str = "all", upsample: str = "basic"
) -> Tuple[Dict[str, str], Dict[str, int]]:
    """Official G key -> our key, and our up-conv weights whose input halves are swapped
    (key -> the weight's input-channel dim), for an instance-norm G.

    ``num_downs`` counts our levels; the official ``G_Unet_add_all`` has at least 6 (it always
    builds one dropout level), so ``num_downs`` must be >= 6 there.
    """
    if upsample not in _UP_INDEX:
        raise ValueError(f"upsample must be 'basic' or 'bilinear', got {upsample!r}")
    mapping: Dict[str, str] = {}
    swapped: Dict[str, int] = {}
    in_dim = 0 if upsample == "basic" else 1  # ConvTranspose2d (in, out, k, k); Conv2d (out, in, k, k)
    ours = "model."
    if z_injection == "all":
        if num_downs < 6:
            raise ValueError(f"the official G_Unet_add_all has at least 6 levels, got num_downs={num_downs}")
        off, down, up = "model.", "down.{}", "up.{}"
        down_i = {"outer": 0, "middle": 1, "inner": 1}
        up_i = {level: _UP_INDEX[upsample] for level in ("outer", "middle", "inner")}
        nest = "submodule."
    elif z_injection == "input":
        off, down, up = "model.model.", "{}", "{}"
        down_i = {"outer": 0, "middle": 1, "inner": 1}
        # outermost [conv, sub, ReLU, up..., Tanh]; middle [LReLU, conv, norm, sub, ReLU, up..., norm];
        # innermost [LReLU, conv, ReLU, up..., norm]; "up..." is ConvT, or Upsample, Pad, Conv
        extra = 0 if upsample == "basic" else 2
        up_i = {"outer": 3 + extra, "middle": 5 + extra, "inner": 3 + extra}
        nest = "3.model."
    else:
        raise ValueError(f"z_injection must be 'input' or 'all', got {z_injection!r}")
    for level in range(num_downs):
        kind = "outer" if level == 0 else "inner" if level == num_downs - 1 else "middle"
        for name in ("weight", "bias"):
            mapping[off + down.format(down_i[kind]) + "." + name] = ours + "down.conv." + name
            mapping[off + up.format(up_i[kind]) + "." + name] = ours + "up.conv." + name
        if kind != "inner":
            swapped[ours + "up.conv.weight"] = in_dim
        if z_injection == "input":
            off += "1.model." if level == 0 else nest
        else:
            off += nest
        ours += "inner."
    return mapping, swapped


def official_encoder_key_map(n_blocks: int, norm: str = "instance") -> Dict[str, str]:
    """Official ``E_ResNet`` key -> ``ResNetEncoder`` key (``vaeLike``: the mu and logvar heads)."""
    if norm not in ("instance", "batch"):
        raise ValueError(f"only instance or batch norm encoders can be loaded, got {norm!r}")
    bn = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked") if norm == "batch" else ()
    mapping = {}

    def add(official: str, ours: str, names=("weight", "bias")) -> None:
        for n in names:
            mapping[f"{official}.{n}"] = f"{ours}.{n}"

    add("conv.0", "features.conv")
    for n in range(1, n_blocks):
        o, b = f"conv.{n}", f"features.block{n}"
        add(o + ".conv.0", b + ".conv.norm1", bn)
        add(o + ".conv.2", b + ".conv.conv1")
        add(o + ".conv.3", b + ".conv.norm2", bn)
        add(o + ".conv.5.0", b + ".conv.conv2")
        add(o + ".shortcut.1", b + ".shortcut.conv")
    add("fc.0", "fc_mu")
    add("fcVar.0", "fc_logvar")
    return mapping


def generator_from_official(state_dict_or_path: StateDict, use_dropout: bool = True, **expected) -> UNetGenerator:
    """A ``UNetGenerator`` (with ``nz``) holding an official BicycleGAN generator's weights.

    Reads ``G_Unet_add_all`` or ``G_Unet_add_input``, basic or bilinear up-sampling, from the
    keys. Pass ``num_downs=8``, ``nz=8``, ``in_channels=1``... to insist on an architecture
    (``ValueError`` naming the mismatch). ``use_dropout`` is not stored in weights: the
    published models were trained with it (it changes the output only in train mode).
    """
    sd = read_state_dict(state_dict_or_path)
    if "model.down.0.weight" in sd:
        z_injection, prefix, nest = "all", "model.", "submodule."
        first, last = sd["model.down.0.weight"], "model.up.{}.weight"
    elif "model.model.0.weight" in sd:
        z_injection, prefix, nest = "input", "model.model.", None
        first, last = sd["model.model.0.weight"], "model.model.{}.weight"
    else:
        raise ValueError(
            f"not an official BicycleGAN generator: its first keys are {list(sd)[:3]}, but "
            "G_Unet_add_all starts with 'model.down.0.weight' and G_Unet_add_input with "
            "'model.model.0.weight'"
        )
    if any(k.endswith("running_mean") for k in sd):
        raise ValueError(
            "this generator uses batch norm; only instance-norm BicycleGAN generators "
            "(the official default and every published model) can be loaded"
        )
    if z_injection == "all":
        num_downs = max(k.count("submodule.") for k in sd) + 1
        upsample = "basic" if "model.up.1.weight" in sd else "bilinear"
        out_w = sd[last.format(_UP_INDEX[upsample])]
        # the innermost down conv sees ngf*8 + nz channels, the outermost in_channels + nz
        inner_key = prefix + nest * (num_downs - 1) + "down.1.weight"
        nz = sd[inner_key].shape[1] - sd[inner_key].shape[0]
    else:
        num_downs = max(k.count(".model.") for k in sd)
        upsample = "basic" if "model.model.3.weight" in sd else "bilinear"
        out_w = sd[last.format(3 if upsample == "basic" else 5)]
        nz = None
    ngf = first.shape[0]
    out_channels = out_w.shape[1] if upsample == "basic" else out_w.shape[0]
    if nz is None:  # z at the input only: the input channels hold both, ask or assume the image's 3 / 1
        nz = expected.get("nz", 8)
    in_channels = first.shape[1] - nz
    found = dict(
        num_downs=num_downs,
        ngf=ngf,
        nz=nz,
        in_channels=in_channels,
        out_channels=out_channels,
        z_injection=z_injection,
        upsample=upsample,
    )
    unknown = sorted(set(expected) - set(found))
    if unknown:
        raise TypeError(f"generator_from_official got unknown keywords {unknown}; allowed: {sorted(found)}")
    wrong = [f"{k}: checkpoint has {found[k]!r}, you asked for {v!r}" for k, v in expected.items() if found[k] != v]
    if wrong:
        raise ValueError("the official checkpoint has another architecture than asked for (" + "; ".join(wrong) + ")")
    if in_channels < 1:
        raise ValueError(f"the first conv has {first.shape[1]} input channels, fewer than nz={nz} + 1")
    model = UNetGenerator(
        in_channels,
        out_channels,
        num_downs,
        ngf,
        norm="instance",
        use_dropout=use_dropout,
        nz=nz,
        z_injection=z_injection,
        upsample=upsample,
    )
    mapping, swapped = official_generator_key_map(num_downs, z_injection, upsample)
    copy_official_weights(
        mapping,
        sd,
        model,
        f"an official G_Unet_add_{z_injection} with num_downs={num_downs}, ngf={ngf}, nz={nz}, upsample={upsample!r}",
        swapped,
    )
    return model


def encoder_from_official(state_dict_or_path: StateDict, **expected) -> ResNetEncoder:
    """A ``ResNetEncoder`` holding an official ``E_ResNet`` (``vaeLike``) encoder's weights.

    ``n_blocks`` (5: ``resnet_256``, 4: ``resnet_128``), ``nef``, ``nz`` and the input channels
    are read from the weights. The official encoder pools with ``AvgPool2d(8)``, the same as our
    global average at its image sizes (256 for ``resnet_256``, 128 for ``resnet_128``).
    """
    sd = read_state_dict(state_dict_or_path)
    if "conv.0.weight" not in sd or "fcVar.0.weight" not in sd:
        raise ValueError(
            f"not an official BicycleGAN encoder (E_ResNet with mu and logvar heads): its first "
            f"keys are {list(sd)[:3]}; expected 'conv.0.weight' ... 'fcVar.0.weight'"
        )
    n_blocks = 1 + len({k.split(".")[1] for k in sd if k.startswith("conv.") and k.split(".")[1] != "0"})
    norm = "batch" if any(k.endswith("running_mean") for k in sd) else "instance"
    first = sd["conv.0.weight"]
    found = dict(
        n_blocks=n_blocks, nef=first.shape[0], in_channels=first.shape[1], nz=sd["fc.0.weight"].shape[0], norm=norm
    )
    unknown = sorted(set(expected) - set(found))
    if unknown:
        raise TypeError(f"encoder_from_official got unknown keywords {unknown}; allowed: {sorted(found)}")
    wrong = [f"{k}: checkpoint has {found[k]!r}, you asked for {v!r}" for k, v in expected.items() if found[k] != v]
    if wrong:
        raise ValueError("the official checkpoint has another architecture than asked for (" + "; ".join(wrong) + ")")
    model = ResNetEncoder(found["in_channels"], found["nz"], found["nef"], n_blocks, norm)
    copy_official_weights(
        official_encoder_key_map(n_blocks, norm),
        sd,
        model,
        f"an official E_ResNet with n_blocks={n_blocks}, nef={found['nef']}, nz={found['nz']}",
    )
    return model


def from_official(G_state: StateDict, E_state: Optional[StateDict] = None, use_dropout: bool = True):
    """``(G, E)`` from an official generator and (optionally) encoder checkpoint; ``E`` is None
    when no encoder is given. Each is checked against the other (same ``nz``)."""
    G = generator_from_official(G_state, use_dropout=use_dropout)
    E = encoder_from_official(E_state) if E_state is not None else None
    if E is not None and E.nz != G.nz:
        raise ValueError(f"the encoder gives codes of size nz={E.nz} but the generator takes nz={G.nz}")
    return G, E


def download_official(
    name: str, root: Union[str, os.PathLike] = "data/pretrained", progress: bool = True
) -> Tuple[Path, Path]:
    """Download the authors' ``{name}_net_G.pth`` and ``{name}_net_E.pth`` (once) into ``root``;
    return their paths. ``name``: one of ``ganlib.data.registry.BICYCLEGAN_MODELS``."""
    from ..data import registry

    if name not in registry.BICYCLEGAN_MODELS:
        raise ValueError(f"unknown BicycleGAN model {name!r}; the authors publish {registry.BICYCLEGAN_MODELS}")
    paths = []
    for net in ("G", "E"):
        dest = Path(root) / f"bicyclegan_{name}_net_{net}.pth"
        registry.download_url(registry.BICYCLEGAN_MODELS_URL.format(name=name, net=net), dest, progress=progress)
        paths.append(dest)
    return paths[0], paths[1]
