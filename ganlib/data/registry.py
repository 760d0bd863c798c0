"""The registry of real data sets: name -> where to get it, how to check it, how it is laid out.

Three families:

- pix2pix (paired): ``http://efrosgans.eecs.berkeley.edu/pix2pix/datasets/{name}.tar.gz``, the
  location used by the official ``datasets/download_pix2pix_dataset.sh``; the archive holds
  ``{name}/train``, ``{name}/val`` (and for some ``{name}/test``) with A and B side by side.
- CycleGAN (unpaired): ``http://efrosgans.eecs.berkeley.edu/cyclegan/datasets/{name}.zip`` (official
  ``datasets/download_cyclegan_dataset.sh``); ``{name}/trainA``, ``trainB``, ``testA``, ``testB``.
  The CycleGAN versions of maps and facades are registered as ``cyclegan_maps`` and
  ``cyclegan_facades`` (their folders are renamed so they do not clash with the pix2pix ones).
- torchvision: ``mnist``, ``fashion_mnist``, ``cifar10`` through ``torchvision.datasets`` (which
  checks its own MD5 sums).

The archives' SHA-256 sums could not be recorded in advance (they cannot be downloaded on the
machines that build the book), so ``sha256`` is None and the first download records it in
``root/checksums.json`` (trust on first use); later downloads are verified against it.

Usage::

    A, B = load_paired("facades", split="train", direction="BtoA", size=256)
    X, Y = load_unpaired("horse2zebra", split="train", size=256)
    images, labels = load_labelled("mnist", train=True, size=32)
"""

from __future__ import annotations

import difflib
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Optional, Tuple, Union

import torch
import torch.nn.functional as F

from .download import (  # noqa: F401
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_MEMBERS,
    DEFAULT_MAX_RATIO,
    ChecksumError,
    DownloadError,
    UnsafeArchiveError,
    download_url,
    extract,
    extract_into,
    forget_checksum,
    sha256_file,
)
from .folders import (  # noqa: F401
    ImageFileError,
    LayoutError,
    describe,
    expected_layout,
    has_layout,
    load_paired_folder,
    load_unpaired_folder,
)

PathLike = Union[str, os.PathLike]

PIX2PIX_URL = "http://efrosgans.eecs.berkeley.edu/pix2pix/datasets/{name}.tar.gz"
CYCLEGAN_URL = "http://efrosgans.eecs.berkeley.edu/cyclegan/datasets/{name}.zip"
LAYOUTS = ("paired", "unpaired", "torchvision")


@dataclass(frozen=True)
class DatasetSpec:
    """One registered data set.

    ``name``: registry key and the folder name under ``root``; ``url``: the archive (None for
    torchvision sets); ``sha256``: the archive's checksum, or None (trust on first use);
    ``archive``: "tar.gz", "zip" or None; ``layout``: "paired", "unpaired" or "torchvision";
    ``torchvision``: the ``torchvision.datasets`` class name for torchvision sets.
    ``max_bytes``, ``max_members``, ``max_ratio``: bounds on what the archive may unpack to
    (declared content, number of members, content / archive size); an archive beyond them is
    refused before anything is written (an archive bomb, or the wrong file).
    """

    name: str
    url: Optional[str]
    sha256: Optional[str]
    archive: Optional[str]
    layout: str
    description: str = ""
    torchvision: Optional[str] = None
    max_bytes: int = DEFAULT_MAX_BYTES
    max_members: int = DEFAULT_MAX_MEMBERS
    max_ratio: float = DEFAULT_MAX_RATIO

    def __post_init__(self):
        if self.layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {LAYOUTS}, got {self.layout!r}")
        if self.archive not in ("tar.gz", "zip", None):
            raise ValueError(f"archive must be 'tar.gz', 'zip' or None, got {self.archive!r}")
        if self.layout != "torchvision" and (not self.url or not self.archive):
            raise ValueError(f"data set {self.name!r}: a {self.layout} data set needs a url and an archive format")


def _pix2pix(name: str, description: str, **bounds) -> DatasetSpec:
    return DatasetSpec(name, PIX2PIX_URL.format(name=name), None, "tar.gz", "paired", description, **bounds)


def _cyclegan(name: str, description: str, archive_name: Optional[str] = None) -> DatasetSpec:
    return DatasetSpec(name, CYCLEGAN_URL.format(name=archive_name or name), None, "zip", "unpaired", description)


_SPECS = [
    # pix2pix (Isola et al., 2017): A | B side by side in one image
    _pix2pix("facades", "CMP Facades: label maps | photos of building facades (400 train, 100 val, 106 test)"),
    _pix2pix("maps", "Google Maps: aerial photos | map tiles of New York (1,096 train, 1,098 val)"),
    _pix2pix(
        "cityscapes",
        "Cityscapes: street photos | semantic label maps (2,975 train, 500 val). Licence: "
        "the official download script now sends users to cityscapes-dataset.com; if the "
        "archive is not served, build the folder with the official "
        "prepare_cityscapes_dataset.py and pass its path to load_paired",
    ),
    _pix2pix("edges2shoes", "UT Zappos50K: HED edge maps | shoe photos (49,825 train, 200 val)"),
    _pix2pix(
        "edges2handbags", "iGAN handbags: HED edge maps | handbag photos (138,567 train, 200 val)", max_bytes=64 * 2**30
    ),  # the largest archive (several GiB): four times the default bound
    _pix2pix("night2day", "Transient Attributes: night | day photos of the same webcam view"),
    # CycleGAN (Zhu et al., 2017): two unpaired domains
    _cyclegan("horse2zebra", "ImageNet horses (A) and zebras (B)"),
    _cyclegan("apple2orange", "ImageNet apples (A) and oranges (B)"),
    _cyclegan("summer2winter_yosemite", "Flickr photos of Yosemite in summer (A) and winter (B)"),
    _cyclegan("monet2photo", "Monet paintings (A) and landscape photos (B)"),
    _cyclegan("cezanne2photo", "Cezanne paintings (A) and landscape photos (B)"),
    _cyclegan("ukiyoe2photo", "Ukiyo-e prints (A) and landscape photos (B)"),
    _cyclegan("vangogh2photo", "Van Gogh paintings (A) and landscape photos (B)"),
    _cyclegan("iphone2dslr_flower", "iPhone flower photos (A) and DSLR shallow depth-of-field photos (B)"),
    _cyclegan("cyclegan_maps", "Google Maps aerial photos and map tiles as two unpaired domains", "maps"),
    _cyclegan("cyclegan_facades", "CMP Facades photos and label maps as two unpaired domains", "facades"),
    # torchvision
    DatasetSpec(
        "mnist", None, None, None, "torchvision", "MNIST handwritten digits, 28x28 grey, 60k/10k", torchvision="MNIST"
    ),
    DatasetSpec(
        "fashion_mnist",
        None,
        None,
        None,
        "torchvision",
        "Fashion-MNIST clothing, 28x28 grey, 60k/10k",
        torchvision="FashionMNIST",
    ),
    DatasetSpec(
        "cifar10", None, None, None, "torchvision", "CIFAR-10, 32x32 colour, 10 classes, 50k/10k", torchvision="CIFAR10"
    ),
]

DATASETS: Dict[str, DatasetSpec] = {spec.name: spec for spec in _SPECS}

# The authors' pretrained BicycleGAN models (official pretrained_models/download_model.sh): a generator
# and an encoder each; ganlib.models.bicyclegan_official.download_official fetches and from_official loads them.
BICYCLEGAN_MODELS = ("edges2shoes", "edges2handbags", "night2day", "map2aerial", "facades")
BICYCLEGAN_MODELS_URL = "https://people.eecs.berkeley.edu/~junyanz/projects/BicycleGAN/models/{name}_net_{net}.pth"

_TORCHVISION_FOLDERS = {"MNIST": "MNIST", "FashionMNIST": "FashionMNIST", "CIFAR10": "cifar-10-batches-py"}


def names(layout: Optional[str] = None) -> list:
    """Registered names, optionally only those of one layout."""
    return [n for n, s in DATASETS.items() if layout is None or s.layout == layout]


def get_spec(name: Union[str, DatasetSpec]) -> DatasetSpec:
    """The spec registered under ``name`` (a spec passes through); unknown -> ``ValueError``."""
    if isinstance(name, DatasetSpec):
        return name
    if not isinstance(name, str):
        raise TypeError(f"a data set is named by a string or a DatasetSpec, got {type(name).__name__}")
    key = name.strip().lower().replace("-", "_")
    if key in DATASETS:
        return DATASETS[key]
    close = difflib.get_close_matches(key, list(DATASETS), n=1, cutoff=0.6)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise ValueError(
        f"unknown data set {name!r}.{hint} Known data sets: {', '.join(sorted(DATASETS))} "
        "(or 'digits' for load_labelled, or a folder path for load_paired/load_unpaired)"
    )


def _find_dataset_folder(folder: Path, layout: str) -> Optional[Path]:
    """``folder`` itself or its one visible sub-folder that has the layout (archives differ)."""
    if has_layout(folder, layout):
        return folder
    for child in sorted(folder.iterdir()):
        if child.is_dir() and not child.name.startswith(".") and child.name != "__MACOSX" and has_layout(child, layout):
            return child
    return None


def download(
    name: Union[str, DatasetSpec], root: PathLike = "data", progress: bool = True, keep_archive: bool = False
) -> Path:
    """Download and extract a registered data set; return its folder ``root/name``.

    Idempotent: if ``root/name`` is already there in the right layout nothing is fetched. The
    archive goes to ``root/downloads/`` (resumable, checksummed, trust on first use through
    ``root/checksums.json``), is extracted safely into a temporary folder under ``root``, and
    the data set folder is renamed into place; the archive is then deleted unless
    ``keep_archive``. torchvision sets are fetched by torchvision into ``root``.
    """
    spec = get_spec(name)
    root = Path(root)
    if spec.layout == "torchvision":
        return _download_torchvision(spec, root)
    final = root / spec.name
    if final.exists():
        if has_layout(final, spec.layout):
            return final
        raise LayoutError(
            f"{final} exists but is not in the {spec.layout} layout of {spec.name!r}: expected "
            f"{expected_layout(spec.layout, spec.name)}; found: {describe(final)}. "
            f"Delete {final} to download it again."
        )
    root.mkdir(parents=True, exist_ok=True)
    for stale in root.glob(f".{spec.name}.partial-*"):  # left by a killed extraction
        shutil.rmtree(stale, ignore_errors=True)
    archive = root / "downloads" / f"{spec.name}.{spec.archive}"
    download_url(spec.url, archive, sha256=spec.sha256, progress=progress, checksums=root / "checksums.json")
    tmp = Path(tempfile.mkdtemp(prefix=f".{spec.name}.partial-", dir=root))
    try:
        extract_into(
            archive,
            tmp,
            spec.archive,
            max_bytes=spec.max_bytes,
            max_members=spec.max_members,
            max_ratio=spec.max_ratio,
            bound_hint=f"If the data set really is that large, raise max_bytes / max_members / "
            f"max_ratio in the DatasetSpec of {spec.name!r} (dataclasses.replace) "
            f"and call download again",
        )
        found = _find_dataset_folder(tmp, spec.layout)
        if found is None:
            raise LayoutError(
                f"the archive {archive} of {spec.name!r} is not in the expected layout "
                f"{expected_layout(spec.layout, spec.name)}; it holds: {describe(tmp)}"
            )
        os.replace(found, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if not keep_archive:
        archive.unlink(missing_ok=True)
    return final


def _torchvision_dataset(spec: DatasetSpec, root: Path, train: bool):
    import torchvision.datasets as tvd

    cls = getattr(tvd, spec.torchvision)
    try:
        return cls(str(root), train=train, download=True)
    except Exception as err:  # URLError, RuntimeError("Dataset not found or corrupted"), ...
        raise DownloadError(
            f"torchvision could not download or read {spec.name!r} ({spec.torchvision}) into "
            f"{root}: {err}. Check the internet connection, or put the files where torchvision "
            "expects them (see torchvision.datasets)"
        ) from err


def _download_torchvision(spec: DatasetSpec, root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for train in (True, False):
        _torchvision_dataset(spec, root, train)
    return root / _TORCHVISION_FOLDERS.get(spec.torchvision, spec.torchvision)


def _resolve_folder(name_or_path, layout: str, root: PathLike, progress: bool = True) -> Path:
    """A registered name or spec -> its downloaded folder; an existing folder path -> itself."""
    if isinstance(name_or_path, DatasetSpec) or (
        isinstance(name_or_path, str) and name_or_path.strip().lower().replace("-", "_") in DATASETS
    ):
        spec = get_spec(name_or_path)
        if spec.layout != layout:
            loader = {"paired": "load_paired", "unpaired": "load_unpaired", "torchvision": "load_labelled"}
            raise ValueError(
                f"{spec.name!r} is in the {spec.layout} layout; load it with {loader[spec.layout]}"
                f" (the {layout} ones are: {', '.join(names(layout))})"
            )
        return download(spec, root, progress=progress)
    path = Path(name_or_path)
    if path.is_dir():
        return path
    if isinstance(name_or_path, str) and os.sep not in name_or_path and "/" not in name_or_path:
        get_spec(name_or_path)  # raises the unknown-name error with a suggestion
    raise FileNotFoundError(
        f"no data set folder at {path}: pass a registered name "
        f"({', '.join(names(layout))}) or an existing folder in the layout "
        f"{expected_layout(layout, path.name)}"
    )


def load_paired(
    name_or_path: Union[str, PathLike, DatasetSpec],
    split: str = "train",
    direction: str = "AtoB",
    size=None,
    limit: Optional[int] = None,
    root: PathLike = "data",
    progress: bool = True,
) -> Tuple[torch.Tensor, torch.Tensor]:
    """Paired images of a pix2pix data set (downloaded on first use) or of a folder in that layout.

    Each ``{split}`` image holds A (left half) and B (right half). Returns ``(inputs, targets)``,
    float ``(N, 3, H, W)`` in [-1, 1]: ``(A, B)`` for ``direction="AtoB"``, ``(B, A)`` for
    ``"BtoA"`` (facades: A = photo, B = labels, so the paper's labels -> photo is ``"BtoA"``).
    ``size`` resizes each half (bicubic); ``limit`` keeps the first images in sorted order.
    """
    folder = _resolve_folder(name_or_path, "paired", root, progress)
    return load_paired_folder(folder, split=split, direction=direction, size=size, limit=limit)


def load_unpaired(
    name_or_path: Union[str, PathLike, DatasetSpec],
    split: str = "train",
    size=None,
    limit: Optional[int] = None,
    root: PathLike = "data",
    progress: bool = True,
) -> Tuple[torch.Tensor, torch.Tensor]:
    """The two domains of a CycleGAN data set (downloaded on first use) or of a folder in that layout.

    Returns ``(X, Y)`` from ``{split}A`` and ``{split}B``: float ``(N_X, 3, H, W)`` and
    ``(N_Y, 3, H, W)`` in [-1, 1]; ``limit`` applies to each domain.
    """
    folder = _resolve_folder(name_or_path, "unpaired", root, progress)
    return load_unpaired_folder(folder, split=split, size=size, limit=limit)


def _resize_batch(x: torch.Tensor, size) -> torch.Tensor:
    if size is None:
        return x
    hw = (size, size) if isinstance(size, int) else tuple(size)
    if tuple(x.shape[-2:]) == hw:
        return x
    return F.interpolate(x, size=hw, mode="bilinear", align_corners=False, antialias=True).clamp_(-1, 1)


def load_labelled(
    name: str, train: bool = True, size=None, root: PathLike = "data"
) -> Tuple[torch.Tensor, torch.Tensor]:
    """Labelled images: ``"digits"`` (bundled, offline) or a torchvision set (downloaded on first use).

    Returns ``(images, labels)``: float ``(N, C, H, W)`` in [-1, 1] (C = 1 for digits, MNIST and
    Fashion-MNIST, 3 for CIFAR-10) and int64 ``(N,)``. ``size`` resizes (bilinear, antialiased;
    digits come in 8, 16 and 32 px, default 8).
    """
    if size is not None and not (
        (isinstance(size, int) and size > 0)
        or (isinstance(size, (tuple, list)) and len(size) == 2 and all(isinstance(v, int) and v > 0 for v in size))
    ):
        raise ValueError(f"size must be None, a positive int or an (H, W) pair, got {size!r}")
    if isinstance(name, str) and name.strip().lower() == "digits":
        from .digits import SIZES, load_digits

        native = size if size in SIZES else (8 if size is None else 32)  # other sizes: resize the 32 px ones
        x, y = load_digits(size=native, split="train" if train else "test")
        return _resize_batch(x, size), y
    spec = get_spec(name)
    if spec.layout != "torchvision":
        raise ValueError(
            f"{spec.name!r} is an image-to-image data set ({spec.layout}) without class labels; "
            f"load_labelled takes 'digits' or one of {', '.join(names('torchvision'))}"
        )
    ds = _torchvision_dataset(spec, Path(root), train)
    data = ds.data
    data = torch.as_tensor(data) if not isinstance(data, torch.Tensor) else data
    if data.ndim == 3:  # (N, H, W) grey
        x = data.unsqueeze(1)
    else:  # (N, H, W, 3) colour
        x = data.permute(0, 3, 1, 2)
    x = x.float().div_(127.5).sub_(1.0).contiguous()
    y = torch.as_tensor(ds.targets, dtype=torch.int64)
    return _resize_batch(x, size), y


__all__ = [
    "DATASETS",
    "DatasetSpec",
    "download",
    "download_url",
    "extract",
    "load_paired",
    "load_unpaired",
    "load_labelled",
    "get_spec",
    "names",
    "ChecksumError",
    "DownloadError",
    "UnsafeArchiveError",
    "forget_checksum",
    "ImageFileError",
    "LayoutError",
    "sha256_file",
]
