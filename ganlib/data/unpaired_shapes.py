"""Unpaired shapes: two image domains with a hidden ground-truth correspondence.

Each *scene* is one shape (circle, square or triangle) with a position, a size and
a rotation. Domain X draws it plainly (a solid orange shape on a dark background);
domain Y draws the same scene striped (dark-blue and cyan horizontal stripes on a
light background). Training sees the two domains **unpaired**: X and Y come from two
disjoint sets of scenes, shuffled. The test split is **paired**: ``Y[i]`` is the Y
rendering of the scene of ``X[i]``, the hidden ground truth that lets a chapter
measure whether a translation kept the content (shape, position, size) or only the style.

>>> X, Y = load_unpaired_shapes("test", size=16, limit=4)
>>> X.shape, Y.shape
(torch.Size([4, 3, 16, 16]), torch.Size([4, 3, 16, 16]))
"""

from __future__ import annotations

import math
from typing import Dict, Optional, Tuple

import torch

SHAPES = ("circle", "square", "triangle")
SPLITS = {"train": (2000, 0), "test": (500, 1)}  # images per domain, seed offset

# colours in [-1, 1] (RGB)
X_BACKGROUND = (-0.7, -0.7, -0.7)
X_SHAPE = (0.9, 0.3, -0.7)
Y_BACKGROUND = (0.7, 0.7, 0.5)
Y_STRIPES = ((-0.8, -0.6, 0.2), (-0.4, 0.9, 0.9))


def sample_scenes(n: int, seed: int = 0) -> Dict[str, torch.Tensor]:
    """``n`` random scenes: ``shape`` (index into ``SHAPES``), centre ``cx, cy`` and radius ``r``
    as fractions of the image side, and rotation ``angle`` (radians); each a tensor of length ``n``."""
    if n < 1:
        raise ValueError(f"need at least one scene, got n={n}")
    g = torch.Generator().manual_seed(seed)
    u = lambda lo, hi: lo + (hi - lo) * torch.rand(n, generator=g)  # noqa: E731
    return {
        "shape": torch.randint(len(SHAPES), (n,), generator=g),
        "cx": u(0.3, 0.7),
        "cy": u(0.3, 0.7),
        "r": u(0.2, 0.32),
        "angle": u(0.0, 2 * math.pi),
    }


def shape_masks(scenes: Dict[str, torch.Tensor], size: int, supersample: int = 4) -> torch.Tensor:
    """Soft masks ``(N, 1, size, size)`` in [0, 1]: the fraction of each pixel the shape covers."""
    s = size * supersample
    coords = (torch.arange(s, dtype=torch.float32) + 0.5) / s
    yy, xx = torch.meshgrid(coords, coords, indexing="ij")  # (s, s)
    dx = xx[None] - scenes["cx"][:, None, None]
    dy = yy[None] - scenes["cy"][:, None, None]
    r = scenes["r"][:, None, None]
    a = scenes["angle"][:, None, None]
    # rotate the offsets into the shape's frame
    u = dx * torch.cos(a) + dy * torch.sin(a)
    v = -dx * torch.sin(a) + dy * torch.cos(a)
    circle = (u**2 + v**2) <= r**2
    half = r / math.sqrt(2)  # a square inscribed in the circle of radius r
    square = (u.abs() <= half) & (v.abs() <= half)
    # an equilateral triangle inscribed in the circle: three half-planes at distance r/2 from the centre
    triangle = torch.ones_like(circle)
    for k in range(3):
        t = 2 * math.pi * k / 3
        triangle &= (u * math.cos(t) + v * math.sin(t)) <= r / 2
    kind = scenes["shape"][:, None, None]
    mask = torch.where(kind == 0, circle, torch.where(kind == 1, square, triangle)).float()
    return torch.nn.functional.avg_pool2d(mask[:, None], supersample)


def _colour(rgb, n: int, size: int) -> torch.Tensor:
    return torch.tensor(rgb, dtype=torch.float32).view(1, 3, 1, 1).expand(n, 3, size, size)


def stripes(size: int) -> torch.Tensor:
    """The Y texture ``(1, 3, size, size)``: horizontal stripes of period ``size / 8`` (at least 2 px)
    fixed to the image grid, so that a scene has exactly one Y rendering."""
    period = max(2, size // 8)
    rows = (torch.arange(size) % period) < period // 2  # (size,)
    a, b = _colour(Y_STRIPES[0], 1, size), _colour(Y_STRIPES[1], 1, size)
    return torch.where(rows.view(1, 1, size, 1), a, b)


def render(scenes: Dict[str, torch.Tensor], domain: str, size: int = 32) -> torch.Tensor:
    """Images ``(N, 3, size, size)`` in [-1, 1] of ``scenes`` in ``domain`` "X" (plain) or "Y" (striped)."""
    if domain not in ("X", "Y"):
        raise ValueError(f"domain must be 'X' or 'Y', got {domain!r}")
    if size < 8:
        raise ValueError(f"size must be at least 8 pixels, got {size}")
    mask = shape_masks(scenes, size)
    n = len(mask)
    if domain == "X":
        background, fill = _colour(X_BACKGROUND, n, size), _colour(X_SHAPE, n, size)
    else:
        background, fill = _colour(Y_BACKGROUND, n, size), stripes(size).expand(n, -1, -1, -1)
    return background * (1 - mask) + fill * mask


def load_unpaired_shapes(
    split: str = "train", size: int = 32, limit: Optional[int] = None, seed: int = 0
) -> Tuple[torch.Tensor, torch.Tensor]:
    """``(X, Y)``, each ``(N, 3, size, size)`` in [-1, 1].

    - ``split="train"``: X and Y render two *disjoint* random sets of scenes: unpaired, as CycleGAN
      assumes. ``X[i]`` and ``Y[i]`` have nothing to do with each other.
    - ``split="test"``: paired: ``Y[i]`` is the Y rendering of ``X[i]``'s scene (the hidden ground
      truth, for evaluation only).

    ``limit`` keeps the first ``limit`` images of each domain (2000 train / 500 test at most).
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {sorted(SPLITS)}, got {split!r}")
    n, offset = SPLITS[split]
    if limit is not None:
        if limit < 1:
            raise ValueError(f"limit must be >= 1 (or None for all {n}), got {limit}")
        n = min(n, limit)
    base = 1000 * seed + 10 * offset
    if split == "train":
        return render(sample_scenes(n, base), "X", size), render(sample_scenes(n, base + 1), "Y", size)
    scenes = sample_scenes(n, base)
    return render(scenes, "X", size), render(scenes, "Y", size)


def foreground(images: torch.Tensor, domain: str) -> torch.Tensor:
    """Boolean masks ``(N, size, size)``: pixels farther than 0.5 (RGB distance) from ``domain``'s
    background colour. Gives the shape's silhouette of a real or a translated image."""
    if domain not in ("X", "Y"):
        raise ValueError(f"domain must be 'X' or 'Y', got {domain!r}")
    bg = torch.tensor(X_BACKGROUND if domain == "X" else Y_BACKGROUND, device=images.device)
    return (images - bg.view(1, 3, 1, 1)).norm(dim=1) > 0.5


def silhouette_iou(translated: torch.Tensor, truth: torch.Tensor, domain: str = "Y") -> float:
    """Mean intersection over union of the silhouettes (``foreground`` in ``domain``) of translated
    images and their hidden ground-truth counterparts, both ``(N, 3, H, W)``: 1 when every shape
    kept its place, size and kind."""
    if translated.shape != truth.shape:
        raise ValueError(
            f"translated {tuple(translated.shape)} and ground truth {tuple(truth.shape)} must have the same shape"
        )
    a, b = foreground(translated, domain), foreground(truth, domain)
    inter, union = (a & b).sum((1, 2)).float(), (a | b).sum((1, 2)).float()
    return float((inter / union.clamp(min=1)).mean())


__all__ = [
    "SHAPES",
    "sample_scenes",
    "shape_masks",
    "stripes",
    "render",
    "load_unpaired_shapes",
    "foreground",
    "silhouette_iou",
    "UnpairedBatches",
]


class UnpairedBatches:
    """Endless unpaired mini-batches ``(x, y)``: one shuffled stream per domain, each with its own
    seed, so ``x[i]`` and ``y[i]`` are unrelated. Its ``state_dict`` makes resumption exact.

    ``crop_size`` and ``flip`` are the official training augmentation (``--preprocess
    resize_and_crop``): images loaded at ``load_size`` (286 px for the paper's 256 px runs) are cut
    to a random ``crop_size`` x ``crop_size`` window and flipped left-right with probability 0.5,
    each image on its own, from a seeded generator.
    """

    def __init__(
        self,
        X: torch.Tensor,
        Y: torch.Tensor,
        batch_size: int,
        seed: int = 0,
        device=None,
        crop_size: Optional[int] = None,
        flip: bool = False,
    ):
        from .batches import TensorBatches

        for name, d in (("X", X), ("Y", Y)):
            if not isinstance(d, torch.Tensor) or d.dim() != 4:
                raise ValueError(
                    f"domain {name} must be an (N, C, H, W) tensor, got {getattr(d, 'shape', type(d).__name__)}"
                )
            if len(d) == 0:
                raise ValueError(
                    f"domain {name} has no images: check its folder (e.g. trainA/trainB) or the loader's limit"
                )
        if X.shape[2:] != Y.shape[2:]:
            raise ValueError(
                f"the domains have different image sizes {tuple(X.shape[2:])} and "
                f"{tuple(Y.shape[2:])}: load both with the same size="
            )
        if crop_size is not None and not (isinstance(crop_size, int) and 0 < crop_size <= min(X.shape[2:])):
            raise ValueError(
                f"crop_size must be an int between 1 and the image size {tuple(X.shape[2:])}, got {crop_size!r}"
            )
        self.x = TensorBatches(X, batch_size=batch_size, seed=2 * seed, device=device)
        self.y = TensorBatches(Y, batch_size=batch_size, seed=2 * seed + 1, device=device)
        self.crop_size, self.flip = crop_size, flip
        self.generator = torch.Generator().manual_seed(10_000 + seed)

    def __iter__(self):
        return self

    def augment(self, images: torch.Tensor) -> torch.Tensor:
        """A random ``crop_size`` window of each image, then a left-right flip with probability 0.5."""
        if self.crop_size is None and not self.flip:
            return images
        out = []
        for image in images:
            if self.crop_size is not None:
                h, w = image.shape[1:]
                top = int(torch.randint(h - self.crop_size + 1, (), generator=self.generator))
                left = int(torch.randint(w - self.crop_size + 1, (), generator=self.generator))
                image = image[:, top : top + self.crop_size, left : left + self.crop_size]
            if self.flip and torch.rand((), generator=self.generator).item() < 0.5:
                image = image.flip(-1)
            out.append(image)
        return torch.stack(out)

    def __next__(self) -> Tuple[torch.Tensor, torch.Tensor]:
        return self.augment(next(self.x)[0]), self.augment(next(self.y)[0])

    def state_dict(self):
        return {"x": self.x.state_dict(), "y": self.y.state_dict(), "augment": self.generator.get_state()}

    def load_state_dict(self, state) -> None:
        self.x.load_state_dict(state["x"])
        self.y.load_state_dict(state["y"])
        if "augment" in state:
            self.generator.set_state(state["augment"])
