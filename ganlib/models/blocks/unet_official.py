"""Official pix2pix U-Net checkpoints (pytorch-CycleGAN-and-pix2pix ``UnetGenerator``) in
``UNetGenerator``: the state_dict key mapping and the loading behind ``UNetGenerator.from_official``.
(BicycleGAN's generators nest other blocks: ``ganlib.models.bicyclegan_official``.)"""

from __future__ import annotations

import os
from typing import Dict, Mapping, Type, Union

import torch

from .checkpoints import copy_official_weights, read_state_dict
from .unet import UNetGenerator

__all__ = ["official_unet_key_map", "load_official_unet"]


def official_unet_key_map(num_downs: int, norm: str = "batch") -> Dict[str, str]:
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


def load_official_unet(
    cls: Type[UNetGenerator], state_dict_or_path: Union[Mapping[str, torch.Tensor], str, os.PathLike], **expected
) -> UNetGenerator:
    """A ``cls`` (``UNetGenerator`` or a subclass) holding the weights of an official pix2pix
    generator checkpoint: ``UNetGenerator.from_official`` calls this.

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
        kind = (
            "a ResNet generator (resnet_6blocks/resnet_9blocks; use ResnetGenerator.from_official)"
            if "model.1.weight" in sd
            else "not an official U-Net generator"
        )
        raise ValueError(
            f"this checkpoint is {kind}: its first keys are {list(sd)[:3]}, "
            "but an official unet_128/unet_256 starts with 'model.model.0.weight'"
        )
    # depth: count the nesting of 'model.' in the longest key
    depth = max(k.count(".model.") for k in sd)  # outermost 'model.model.' counts as 1
    num_downs = depth
    first = sd["model.model.0.weight"]
    ngf, in_channels = first.shape[0], first.shape[1]
    out_key = "model.model.3.weight"
    if out_key not in sd:
        raise ValueError(
            f"official U-Net checkpoint without {out_key!r} (the last up-convolution); "
            "it is truncated or of another architecture"
        )
    out_channels = sd[out_key].shape[1]
    norm = "batch" if any(k.endswith("running_mean") for k in sd) else "instance"
    found = dict(num_downs=num_downs, ngf=ngf, in_channels=in_channels, out_channels=out_channels, norm=norm)
    unknown = sorted(set(expected) - set(found) - {"use_dropout"})
    if unknown:
        raise TypeError(f"from_official got unknown keywords {unknown}; allowed: {sorted(found)} and use_dropout")
    wrong = [
        f"{k}: checkpoint has {found[k]!r}, you asked for {v!r}"
        for k, v in expected.items()
        if k in found and found[k] != v
    ]
    if wrong:
        raise ValueError("the official checkpoint has another architecture than asked for (" + "; ".join(wrong) + ")")
    model = cls(in_channels, out_channels, num_downs, ngf, norm=norm, use_dropout=expected.get("use_dropout", True))
    copy_official_weights(
        cls.official_key_map(num_downs, norm),
        sd,
        model,
        f"an official U-Net with num_downs={num_downs}, ngf={ngf}, norm={norm!r}",
    )
    return model
