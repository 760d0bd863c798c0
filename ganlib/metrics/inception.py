r"""The FID Inception network: the graph of TensorFlow's ``inception-2015-12-05``, in PyTorch.

Published FIDs (Heusel et al., 2017, and almost every paper since) use the
TensorFlow Inception graph of 2015-12-05. pytorch-fid ported its weights to the
file ``pt_inception-2015-12-05-6726825d.pth`` (95,628,359 bytes, sha256
``6726825d...129b2``). :class:`FIDInceptionV3` rebuilds that network with the same
module names as torchvision's ``inception_v3`` (``Conv2d_1a_3x3.conv.weight``,
``Mixed_5b.branch1x1.bn.running_mean``, ..., ``fc.weight``), so the published file
loads with ``strict=True``. It differs from torchvision's ``inception_v3`` in:

- 1008 output classes (the TF graph has 1008 logits), no auxiliary classifier,
  no ``transform_input``;
- the average pools inside the A, C and first E blocks ignore the zero padding
  (``count_include_pad=False``, TensorFlow's behaviour);
- the pool branch of the last block (``Mixed_7c``) uses a *max* pool, not an average
  pool (a quirk of the 2015 graph);
- batch norm eps = 0.001.

Preprocessing follows **pytorch-fid** (``InceptionV3(resize_input=True,
normalize_input=True)``): images in [0, 1] are resized to 299×299 with
``F.interpolate(mode="bilinear", align_corners=False)`` (no antialiasing), then mapped
to [-1, 1] by ``2x - 1``. torch-fidelity instead takes uint8 images, resizes them
like TensorFlow 1.x and normalises by ``(x - 128) / 128``: the networks agree, the
preprocessing differs slightly, which is why FIDs from different tools differ in
the decimals (compare like with like).

Pool features (``N, 2048``): the global average pool after ``Mixed_7c``. IS logits
(``N, 1008``): ``pool @ fc.weight.T`` without the bias, as in the original IS code and
torch-fidelity's ``logits_unbiased``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Union

import torch
import torch.nn.functional as F
from torch import nn

from .. import utils

__all__ = [
    "FIDInceptionV3",
    "FIDInceptionExtractor",
    "fid_inception_extractor",
    "load_fid_inception",
    "preprocess_for_inception",
    "FID_WEIGHTS_URL",
    "FID_WEIGHTS_SHA256",
    "FID_WEIGHTS_FILENAME",
]

FID_WEIGHTS_URL = (
    "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth"
)
FID_WEIGHTS_FILENAME = "pt_inception-2015-12-05-6726825d.pth"
FID_WEIGHTS_SHA256 = "6726825d0af5f729cebd5821db510b11b1cfad8faad88a03f1befd49fb9129b2"
INPUT_SIZE = 299


class BasicConv2d(nn.Module):
    """conv (no bias) -> batch norm (eps 0.001) -> ReLU; state keys ``conv.weight``, ``bn.*``."""

    def __init__(self, in_channels: int, out_channels: int, **conv_kwargs):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, bias=False, **conv_kwargs)
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))


def _tf_avg_pool(x: torch.Tensor) -> torch.Tensor:
    """3x3 stride-1 average pool that, like TensorFlow, averages only over the real (unpadded) pixels."""
    return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)


class InceptionA(nn.Module):
    """35x35 block: 1x1 | 1x1-5x5 | 1x1-3x3-3x3 | avgpool-1x1 -> 224 + pool_features channels."""

    def __init__(self, in_channels: int, pool_features: int):
        super().__init__()
        self.branch1x1 = BasicConv2d(in_channels, 64, kernel_size=1)
        self.branch5x5_1 = BasicConv2d(in_channels, 48, kernel_size=1)
        self.branch5x5_2 = BasicConv2d(48, 64, kernel_size=5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, padding=1)
        self.branch_pool = BasicConv2d(in_channels, pool_features, kernel_size=1)

    def forward(self, x):
        b1 = self.branch1x1(x)
        b5 = self.branch5x5_2(self.branch5x5_1(x))
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        bp = self.branch_pool(_tf_avg_pool(x))
        return torch.cat([b1, b5, b3, bp], 1)


class InceptionB(nn.Module):
    """Grid reduction 35 -> 17: 3x3/2 | 1x1-3x3-3x3/2 | maxpool/2."""

    def __init__(self, in_channels: int):
        super().__init__()
        self.branch3x3 = BasicConv2d(in_channels, 384, kernel_size=3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, stride=2)

    def forward(self, x):
        b3 = self.branch3x3(x)
        bd = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        bp = F.max_pool2d(x, kernel_size=3, stride=2)
        return torch.cat([b3, bd, bp], 1)


class InceptionC(nn.Module):
    """17x17 block with factorised 7x7 convolutions (1x7 then 7x1) -> 768 channels."""

    def __init__(self, in_channels: int, channels_7x7: int):
        super().__init__()
        c7 = channels_7x7
        self.branch1x1 = BasicConv2d(in_channels, 192, kernel_size=1)
        self.branch7x7_1 = BasicConv2d(in_channels, c7, kernel_size=1)
        self.branch7x7_2 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7_3 = BasicConv2d(c7, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = BasicConv2d(in_channels, c7, kernel_size=1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = BasicConv2d(c7, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch_pool = BasicConv2d(in_channels, 192, kernel_size=1)

    def forward(self, x):
        b1 = self.branch1x1(x)
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        bd = x
        for layer in (
            self.branch7x7dbl_1,
            self.branch7x7dbl_2,
            self.branch7x7dbl_3,
            self.branch7x7dbl_4,
            self.branch7x7dbl_5,
        ):
            bd = layer(bd)
        bp = self.branch_pool(_tf_avg_pool(x))
        return torch.cat([b1, b7, bd, bp], 1)


class InceptionD(nn.Module):
    """Grid reduction 17 -> 8: 1x1-3x3/2 | 1x1-1x7-7x1-3x3/2 | maxpool/2."""

    def __init__(self, in_channels: int):
        super().__init__()
        self.branch3x3_1 = BasicConv2d(in_channels, 192, kernel_size=1)
        self.branch3x3_2 = BasicConv2d(192, 320, kernel_size=3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(in_channels, 192, kernel_size=1)
        self.branch7x7x3_2 = BasicConv2d(192, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(192, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(192, 192, kernel_size=3, stride=2)

    def forward(self, x):
        b3 = self.branch3x3_2(self.branch3x3_1(x))
        b7 = self.branch7x7x3_4(self.branch7x7x3_3(self.branch7x7x3_2(self.branch7x7x3_1(x))))
        bp = F.max_pool2d(x, kernel_size=3, stride=2)
        return torch.cat([b3, b7, bp], 1)


class InceptionE(nn.Module):
    """8x8 block with split 1x3/3x1 branches -> 2048 channels.

    ``pool="avg"`` (Mixed_7b: TF average pool without the padding) or ``pool="max"``
    (Mixed_7c: the 2015 graph uses a max pool here).
    """

    def __init__(self, in_channels: int, pool: str = "avg"):
        super().__init__()
        if pool not in ("avg", "max"):
            raise ValueError(f"pool must be 'avg' or 'max', got {pool!r}")
        self.pool = pool
        self.branch1x1 = BasicConv2d(in_channels, 320, kernel_size=1)
        self.branch3x3_1 = BasicConv2d(in_channels, 384, kernel_size=1)
        self.branch3x3_2a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 448, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(448, 384, kernel_size=3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(in_channels, 192, kernel_size=1)

    def forward(self, x):
        b1 = self.branch1x1(x)
        b3 = self.branch3x3_1(x)
        b3 = torch.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1)
        bd = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        bd = torch.cat([self.branch3x3dbl_3a(bd), self.branch3x3dbl_3b(bd)], 1)
        pooled = _tf_avg_pool(x) if self.pool == "avg" else F.max_pool2d(x, 3, stride=1, padding=1)
        bp = self.branch_pool(pooled)
        return torch.cat([b1, b3, bd, bp], 1)


class FIDInceptionV3(nn.Module):
    """The FID Inception network: ``(N, 3, 299, 299)`` in [-1, 1] -> pool ``(N, 2048)`` / logits ``(N, 1008)``.

    Inputs must already be resized and normalised (see :func:`preprocess_for_inception`).
    Module names equal torchvision's, so ``load_state_dict`` of the published file is strict.
    """

    def __init__(self, num_classes: int = 1008):
        super().__init__()
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, kernel_size=3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, kernel_size=3)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, kernel_size=3, padding=1)
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, kernel_size=1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, kernel_size=3)
        self.Mixed_5b = InceptionA(192, pool_features=32)
        self.Mixed_5c = InceptionA(256, pool_features=64)
        self.Mixed_5d = InceptionA(288, pool_features=64)
        self.Mixed_6a = InceptionB(288)
        self.Mixed_6b = InceptionC(768, channels_7x7=128)
        self.Mixed_6c = InceptionC(768, channels_7x7=160)
        self.Mixed_6d = InceptionC(768, channels_7x7=160)
        self.Mixed_6e = InceptionC(768, channels_7x7=192)
        self.Mixed_7a = InceptionD(768)
        self.Mixed_7b = InceptionE(1280, pool="avg")
        self.Mixed_7c = InceptionE(2048, pool="max")
        self.fc = nn.Linear(2048, num_classes)

    def pool_features(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, 3, 299, 299)`` normalised images -> ``(N, 2048)`` global-average-pooled features."""
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))  # N x 64 x 147 x 147
        x = F.max_pool2d(x, kernel_size=3, stride=2)  # N x 64 x 73 x 73
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))  # N x 192 x 71 x 71
        x = F.max_pool2d(x, kernel_size=3, stride=2)  # N x 192 x 35 x 35
        for block in (
            self.Mixed_5b,
            self.Mixed_5c,
            self.Mixed_5d,  # 35 -> 17 -> 8
            self.Mixed_6a,
            self.Mixed_6b,
            self.Mixed_6c,
            self.Mixed_6d,
            self.Mixed_6e,
            self.Mixed_7a,
            self.Mixed_7b,
            self.Mixed_7c,
        ):
            x = block(x)
        return x.mean(dim=(2, 3))  # N x 2048

    def logits_from_pool(self, pool: torch.Tensor, bias: bool = False) -> torch.Tensor:
        """``(N, 2048) -> (N, 1008)``; without the bias by default (the original IS code)."""
        out = pool @ self.fc.weight.T
        return out + self.fc.bias if bias else out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Pool features ``(N, 2048)`` of normalised ``(N, 3, 299, 299)`` images."""
        return self.pool_features(x)


def preprocess_for_inception(images: torch.Tensor, size: int = INPUT_SIZE) -> torch.Tensor:
    """pytorch-fid's preprocessing for ganlib images: ``(N, C, H, W)`` in [-1, 1], C in {1, 3} -> ``(N, 3, 299, 299)``.

    Grey images are repeated to 3 channels; ``x01 = (x + 1) / 2``; bilinear resize to
    ``size`` with ``align_corners=False``; then ``2 * x01 - 1``.
    """
    if not isinstance(images, torch.Tensor) or images.dim() != 4:
        raise ValueError(
            f"images must be a (N, C, H, W) tensor in [-1, 1], got "
            f"{type(images).__name__} of shape {tuple(getattr(images, 'shape', ()))}"
        )
    if images.shape[1] not in (1, 3):
        raise ValueError(f"the Inception network takes 1- or 3-channel images, got {images.shape[1]} channels")
    if not torch.is_floating_point(images):
        raise ValueError(
            f"images must be floats in [-1, 1], got dtype {images.dtype}; "
            "convert uint8 images with x.float() / 127.5 - 1"
        )
    x = images.float()
    if images.numel() and (float(x.min()) < -1.001 or float(x.max()) > 1.001):
        raise ValueError(
            f"images must lie in [-1, 1] (ganlib's convention), got range "
            f"[{float(x.min()):.3g}, {float(x.max()):.3g}]; rescale them (x / 127.5 - 1 for uint8)"
        )
    if x.shape[1] == 1:
        x = x.repeat(1, 3, 1, 1)
    x01 = (x + 1) / 2
    if tuple(x01.shape[-2:]) != (size, size):
        x01 = F.interpolate(x01, size=(size, size), mode="bilinear", align_corners=False)
    return 2 * x01 - 1


def load_fid_inception(
    path: Optional[Union[str, Path]] = None,
    cache_dir: Optional[Union[str, Path]] = None,
    download: bool = True,
    verify: Optional[bool] = None,
) -> FIDInceptionV3:
    """:class:`FIDInceptionV3` with the published weights (or the weights file at ``path``), in eval mode.

    With ``path=None`` the file ``pt_inception-2015-12-05-6726825d.pth`` is looked up in
    ``cache_dir`` (else ``$GANLIB_CACHE``, else ``~/.cache/ganlib``) and, if missing and
    ``download``, fetched from pytorch-fid's release with ``ganlib.data.registry.download_url``
    and its sha256 checked. ``verify`` (default: only for the default file) checks the sha256
    of the file before loading. Loaded with ``weights_only=True`` and ``strict=True``.
    """
    if path is None:
        path = utils.cache_dir(cache_dir) / FID_WEIGHTS_FILENAME
        if verify is None:
            verify = True
        if not path.is_file():
            if not download:
                raise FileNotFoundError(
                    f"the FID Inception weights are not at {path}; pass download=True "
                    f"(needs internet) or put {FID_WEIGHTS_FILENAME} from {FID_WEIGHTS_URL} there"
                )
            from ..data import registry  # the book's one download helper (checksummed, atomic)

            path.parent.mkdir(parents=True, exist_ok=True)
            registry.download_url(FID_WEIGHTS_URL, path, sha256=FID_WEIGHTS_SHA256)
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no weights file at {path}")
    if verify:
        from ..data.download import sha256_file  # the book's one checksum helper

        digest = sha256_file(path)
        if digest != FID_WEIGHTS_SHA256:
            raise ValueError(
                f"{path} has sha256 {digest}, not the published {FID_WEIGHTS_SHA256}: the file is "
                "damaged or different; delete it to download it again, or pass verify=False "
                "for weights of your own (then the FIDs are not comparable with published ones)"
            )
    state = torch.load(path, map_location="cpu", weights_only=True)
    with torch.device("meta"):  # no time spent on a random initialisation that is overwritten at once
        model = FIDInceptionV3()
    model.load_state_dict(state, strict=True, assign=True)
    return model.eval().requires_grad_(False)


class FIDInceptionExtractor(nn.Module):
    """Images in [-1, 1] ``(N, C, H, W)`` -> FID pool features ``(N, 2048)`` (pytorch-fid preprocessing).

    ``.logits(images)`` gives the ``(N, 1008)`` logits for the Inception Score.
    With the published weights, FIDs are comparable with published ones (same N!).
    """

    comparable_to_published = True

    def __init__(self, network: FIDInceptionV3):
        super().__init__()
        self.network = network.eval()

    def train(self, mode: bool = True):  # a metric network never trains (batch norm stays frozen)
        return super().train(False)

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.network.pool_features(preprocess_for_inception(images))

    @torch.no_grad()
    def logits(self, images: torch.Tensor) -> torch.Tensor:
        return self.network.logits_from_pool(self.forward(images))


def fid_inception_extractor(path: Optional[Union[str, Path]] = None, device=None, **kwargs) -> FIDInceptionExtractor:
    """The published FID feature extractor (downloads 96 MB once; see :func:`load_fid_inception`)."""
    ext = FIDInceptionExtractor(load_fid_inception(path, **kwargs))
    if path is not None and kwargs.get("verify") is not True:
        ext.comparable_to_published = False  # weights of unknown origin
    return ext.to(device) if device is not None else ext
