"""Image folders in the pix2pix and CycleGAN layouts, loaded into tensors in [-1, 1].

paired (pix2pix)::

    facades/train/1.jpg  ...   each image is A and B side by side: width 2W, height H
    facades/val/...  facades/test/...

unpaired (CycleGAN)::

    horse2zebra/trainA/*.jpg  trainB/*.jpg  testA/*.jpg  testB/*.jpg

Every image becomes 8-bit RGB before it is scaled to [-1, 1], as the official loaders'
``Image.open(path).convert("RGB")`` does, with these rules (``ImageFileError`` otherwise):

- grey (8-bit, and 1-, 2- and 4-bit PNGs): the grey value is copied to R, G and B;
- 16-bit (grey, grey + alpha, RGB, RGBA): scaled by the real bit depth, value / 257 rounded,
  so 65535 is 255 (not clipped: a 16-bit image does not turn white);
- palette images: each index is looked up in the palette;
- an alpha channel (RGBA, grey + alpha, or a palette, grey or RGB image with a transparent
  colour): dropped when every pixel is opaque; an image with transparent pixels is refused,
  since the colour stored under them is arbitrary (flatten it onto the background you want);
- CMYK and YCbCr (some JPEGs): PIL's conversion to RGB;
- 32-bit integer and floating-point images (PIL modes ``I``, ``F``): refused, their value
  range is not defined;
- a truncated or damaged file: refused, naming the file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import List, Optional, Tuple, Union

import numpy as np
import torch

PathLike = Union[str, os.PathLike]

# the image extensions of the official ImageFolder (pytorch-CycleGAN-and-pix2pix data/image_folder.py)
IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".tif", ".tiff", ".webp")
PAIRED_SPLITS = ("train", "val", "test")
UNPAIRED_SPLITS = ("train", "test")


class LayoutError(ValueError):
    """A data folder is not in the layout the loader expects."""


class ImageFileError(ValueError):
    """An image file is damaged, or in a form the loaders do not convert (see the module's rules)."""


def _visible(p: Path) -> bool:
    return not (p.name.startswith(".") or p.name == "__MACOSX")


def describe(folder: Path, limit: int = 12) -> str:
    """A short listing of what is in ``folder`` (for error messages)."""
    if not folder.exists():
        return f"{folder} does not exist"
    if not folder.is_dir():
        return f"{folder} is a file, not a folder"
    entries = sorted((p for p in folder.iterdir() if _visible(p)), key=lambda p: p.name)
    if not entries:
        return f"{folder} is empty"
    shown = [p.name + ("/" if p.is_dir() else "") for p in entries[:limit]]
    more = f", ... ({len(entries) - limit} more)" if len(entries) > limit else ""
    return f"{folder} holds: " + ", ".join(shown) + more


def list_images(folder: Path) -> List[Path]:
    """Image files directly in ``folder`` (and its sub-folders), sorted by path."""
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file()
        and p.suffix.lower() in IMG_EXTENSIONS
        and all(_visible(Path(part)) for part in p.relative_to(folder).parts)
    )


def has_layout(folder: Path, layout: str) -> bool:
    """Does ``folder`` look like a data set of this layout ("paired" or "unpaired")?"""
    if not folder.is_dir():
        return False
    if layout == "paired":
        return any((folder / s).is_dir() for s in PAIRED_SPLITS)
    if layout == "unpaired":
        return (
            (folder / "trainA").is_dir()
            and (folder / "trainB").is_dir()
            or (folder / "testA").is_dir()
            and (folder / "testB").is_dir()
        )
    raise ValueError(f"unknown layout {layout!r}; expected 'paired' or 'unpaired'")


def expected_layout(layout: str, name: str = "<dataset>") -> str:
    if layout == "paired":
        return (
            f"{name}/train/, {name}/val/ and/or {name}/test/ holding side-by-side AB images "
            "(A left, B right, as in the pix2pix archives)"
        )
    return f"{name}/trainA/, {name}/trainB/, {name}/testA/, {name}/testB/ holding images (the CycleGAN layout)"


def layout_hint(folder: Path, layout: str) -> str:
    """A guess at what the user meant when ``folder`` is not in ``layout``."""
    if not folder.is_dir():
        return ""
    inside = [c for c in sorted(folder.iterdir()) if c.is_dir() and _visible(c) and has_layout(c, layout)]
    if inside:
        return f" Did you mean the folder {inside[0]}?"
    if any(p.is_file() and p.suffix.lower() in IMG_EXTENSIONS for p in folder.iterdir()):
        where = f"{folder.name}/train/" if layout == "paired" else f"{folder.name}/trainA/ and trainB/"
        return f" It holds images directly: move them into {where} (or pass the parent folder if this is a split)."
    return ""


def _png_bit_depth(path: Path) -> Optional[int]:
    """The bit depth in a PNG's header (None for other files)."""
    with open(path, "rb") as f:
        head = f.read(26)
    return head[24] if len(head) == 26 and head.startswith(b"\x89PNG\r\n\x1a\n") else None


def _to_rgb(im, path: Path):
    """``im`` as 8-bit RGB by the module's rules, or ``ImageFileError``."""
    from PIL import Image

    mode = im.mode
    if mode.startswith("I;16") or (mode == "I" and _png_bit_depth(path) == 16):
        grey = np.asarray(im).astype(np.float64)  # 16-bit grey: 0..65535
        return Image.fromarray(np.round(grey / 257.0).clip(0, 255).astype(np.uint8), mode="L").convert("RGB")
    if mode in ("I", "F"):
        kind = "32-bit integer" if mode == "I" else "floating-point"
        raise ImageFileError(
            f"{path} is a {kind} image (PIL mode {mode!r}); its value range is not defined, so "
            "the loader does not guess one. Save it as an 8- or 16-bit PNG or as a JPEG"
        )
    if "transparency" in im.info or mode in ("PA", "La", "RGBa"):
        im = im.convert("RGBA")
    if im.mode in ("RGBA", "LA"):
        alpha = np.asarray(im.getchannel("A"))
        clear = int((alpha < 255).sum())
        if clear:
            raise ImageFileError(
                f"{path} has transparent pixels ({clear} of {alpha.size} have alpha < 255); the colour stored under "
                "them is arbitrary, so the loader does not guess a background. Flatten it onto the background you "
                "want, e.g. Image.alpha_composite(Image.new('RGBA', im.size, 'white'), im.convert('RGBA'))"
                ".convert('RGB'), and save it again"
            )
    return im.convert("RGB")


def _load_rgb(path: Path):
    """Open an image file as 8-bit RGB (rules in the module docstring); a damaged file -> ``ImageFileError``."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            im.load()
            return _to_rgb(im, path)
    except ImageFileError:
        raise
    except Image.DecompressionBombError as err:
        raise ImageFileError(f"{path}: {err}") from err
    except (OSError, SyntaxError, ValueError, EOFError) as err:  # truncated, not an image, broken chunks
        raise ImageFileError(
            f"{path} cannot be read as an image ({type(err).__name__}: {err}): the file is truncated or damaged, "
            "e.g. by an interrupted copy or download. Replace it with a good copy or delete it; if it came with a "
            "downloaded data set, delete the data set's folder and load it again to download it afresh"
        ) from err


class _Stack:
    """Fills a preallocated float tensor (N, 3, H, W) in [-1, 1] one PIL image at a time, so a large
    folder costs one copy of the data in memory, not three (PIL images, uint8 array, floats)."""

    def __init__(self, n: int, folder: Path, what: str):
        self.n, self.folder, self.what, self.out, self.i = n, folder, what, None, 0

    def add(self, im, path: Path) -> None:
        w, h = im.size
        if self.out is None:
            self.out = torch.empty(self.n, 3, h, w)
        elif self.out.shape[-2:] != (h, w):
            raise ValueError(
                f"the {self.what} images in {self.folder} have different sizes "
                f"({self.out.shape[-1]}x{self.out.shape[-2]} and {w}x{h} in {path.name}); "
                "pass size=... to resize them to one size"
            )
        x = torch.from_numpy(np.asarray(im, dtype=np.uint8).copy()).permute(2, 0, 1)  # (3, H, W)
        self.out[self.i] = x.float().div_(127.5).sub_(1.0)
        self.i += 1


def _resize(im, size):
    from PIL import Image

    if size is None:
        return im
    h, w = (size, size) if isinstance(size, int) else tuple(size)
    if im.size == (w, h):
        return im
    return im.resize((w, h), Image.BICUBIC)  # bicubic, as the official transforms.Resize


def _check_size(size):
    if size is None:
        return
    ok = (isinstance(size, int) and size > 0) or (
        isinstance(size, (tuple, list)) and len(size) == 2 and all(isinstance(s, int) and s > 0 for s in size)
    )
    if not ok:
        raise ValueError(f"size must be None, a positive int or an (H, W) pair, got {size!r}")


def _check_limit(limit):
    if limit is not None and (not isinstance(limit, int) or limit <= 0):
        raise ValueError(f"limit must be None or a positive int, got {limit!r}")


_LAYOUT_NAMES = {
    "paired": ("a paired (pix2pix)", "load_paired"),
    "unpaired": ("an unpaired (CycleGAN)", "load_unpaired"),
}


def _require_layout(folder: Path, layout: str) -> None:
    """Raise a ``LayoutError`` saying what was expected and found unless ``folder`` has ``layout``."""
    if has_layout(folder, layout):
        return
    other = "unpaired" if layout == "paired" else "paired"
    what, other_what = _LAYOUT_NAMES[layout][0], _LAYOUT_NAMES[other]
    hint = (
        f" It looks like {other_what[0]} data set: use {other_what[1]}."
        if has_layout(folder, other)
        else layout_hint(folder, layout)
    )
    raise LayoutError(
        f"{folder} is not {what} data set: expected "
        f"{expected_layout(layout, folder.name)}; found: {describe(folder)}.{hint}"
    )


def load_paired_folder(
    folder: PathLike, split: str = "train", direction: str = "AtoB", size=None, limit: Optional[int] = None
) -> Tuple[torch.Tensor, torch.Tensor]:
    """Load ``folder/split/*`` side-by-side AB images and cut each into A (left) and B (right).

    Returns ``(inputs, targets)``, each float ``(N, 3, H, W)`` in [-1, 1]: ``(A, B)`` for
    ``direction="AtoB"``, ``(B, A)`` for ``"BtoA"``. ``size`` (int or (H, W)) resizes each half
    with bicubic interpolation; ``limit`` keeps the first ``limit`` files in sorted order.
    """
    folder = Path(folder)
    if direction not in ("AtoB", "BtoA"):
        raise ValueError(f"direction must be 'AtoB' or 'BtoA', got {direction!r}")
    _check_size(size)
    _check_limit(limit)
    _require_layout(folder, "paired")
    split_dir = folder / split
    if not split_dir.is_dir():
        found = [s for s in PAIRED_SPLITS if (folder / s).is_dir()]
        raise LayoutError(f"{folder} has no split {split!r} (no folder {split_dir}); its splits are {found}")
    files = list_images(split_dir)
    if not files:
        raise LayoutError(f"{split_dir} holds no images ({', '.join(IMG_EXTENSIONS)}); found: {describe(split_dir)}")
    files = files[:limit] if limit else files
    A, B = _Stack(len(files), split_dir, "A"), _Stack(len(files), split_dir, "B")
    for path in files:
        im = _load_rgb(path)
        w, h = im.size
        if w < 2:
            raise LayoutError(f"{path} is {w} px wide: it cannot hold A and B side by side")
        half = w // 2  # A = left half, B = right half (official AlignedDataset)
        A.add(_resize(im.crop((0, 0, half, h)), size), path)
        B.add(_resize(im.crop((half, 0, 2 * half, h)), size), path)
    return (A.out, B.out) if direction == "AtoB" else (B.out, A.out)


def load_unpaired_folder(
    folder: PathLike, split: str = "train", size=None, limit: Optional[int] = None
) -> Tuple[torch.Tensor, torch.Tensor]:
    """Load the two domains ``folder/{split}A`` and ``folder/{split}B`` (CycleGAN layout).

    Returns ``(X, Y)``: float ``(N_X, 3, H, W)`` and ``(N_Y, 3, H, W)`` in [-1, 1] (the domains
    need not have the same number of images). ``limit`` applies to each domain.
    """
    folder = Path(folder)
    _check_size(size)
    _check_limit(limit)
    _require_layout(folder, "unpaired")
    out = []
    for domain in "AB":
        d = folder / f"{split}{domain}"
        if not d.is_dir():
            found = sorted(p.name for p in folder.iterdir() if p.is_dir() and _visible(p))
            raise LayoutError(
                f"{folder} has no folder {d.name}/ for split {split!r}; "
                f"expected {split}A/ and {split}B/, found folders {found}"
            )
        files = list_images(d)
        if not files:
            raise LayoutError(
                f"the domain folder {d} holds no images ({', '.join(IMG_EXTENSIONS)}); found: {describe(d)}"
            )
        files = files[:limit] if limit else files
        stack = _Stack(len(files), d, f"{split}{domain}")
        for p in files:
            stack.add(_resize(_load_rgb(p), size), p)
        out.append(stack.out)
    return out[0], out[1]
