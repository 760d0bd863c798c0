"""Toy facades: label maps -> rendered building fronts, a procedural stand-in for CMP Facades.

Each scene is a building front on a grid: floors x columns of windows, a door on the
ground floor, optional cornices between floors and balconies under the windows, sky
above and beside it. Input ``A`` is the label map (one flat colour per class, as the
CMP facade labels); target ``B`` renders the scene: a brick, sand or stone wall with
mortar joints, framed windows with a reflection, a planked door, stone cornices,
railed balconies, a sky gradient, light from the left.

Part of ``B`` is **not** determined by ``A``, as in real photos: the phase of the brick
pattern (where the mortar joints fall) and the wall's brightness (+-8 %) are random. An
L1-trained generator can only average over them (a flat, blurry wall); an adversarial
one can draw one plausible answer (sharp bricks). Everything else follows from ``A``:
geometry, windows, door, shading, and the wall material, which is set by the building's
height (2 floors: brick, 3: sand, 4: stone), a global cue only a network that sees the
whole image can use. That is the known ground truth a chapter measures against.

Deterministic: scene ``i`` of a split depends only on ``(seed, split, i)``, so a larger
``n`` extends a smaller one; ``train`` and ``test`` never share a scene.

>>> A, B = load_toy_facades(4, size=32, split="test")
>>> A.shape, B.shape, float(A.min()) >= -1, float(B.max()) <= 1
(torch.Size([4, 3, 32, 32]), torch.Size([4, 3, 32, 32]), True, True)
"""

from __future__ import annotations

from typing import Dict, Tuple

import numpy as np
import torch

__all__ = [
    "CLASSES",
    "LABEL_COLOURS",
    "load_toy_facades",
    "sample_layout",
    "render_labels",
    "render_facade",
    "labels_from_map",
    "free_style_renderings",
]

CLASSES = ("sky", "wall", "window", "door", "cornice", "balcony")
# label-map colours (RGB in [0, 1]), in the spirit of the CMP facade labels
LABEL_COLOURS = np.array(
    [
        [0.00, 0.00, 0.55],  # sky / background: dark blue
        [0.00, 0.30, 1.00],  # wall: blue
        [0.00, 0.80, 1.00],  # window: cyan
        [1.00, 0.65, 0.00],  # door: orange
        [1.00, 1.00, 0.30],  # cornice: yellow
        [0.85, 0.10, 0.10],  # balcony: red
    ],
    dtype=np.float32,
)
WALLS = np.array(
    [
        [0.62, 0.30, 0.22],  # brick
        [0.80, 0.68, 0.48],  # sand
        [0.55, 0.56, 0.60],
    ],  # stone
    dtype=np.float32,
)
SPLITS = {"train": 0, "test": 1}


def sample_layout(rng: np.random.Generator, size: int) -> Dict[str, object]:
    """A random facade: class index per pixel ``labels (size, size)``, the wall material
    ``wall`` (index into ``WALLS``: floors - 2) and the free style parameters ``brightness``
    and ``phase`` (brick offsets), which the label map does not show."""
    s = size
    labels = np.zeros((s, s), dtype=np.int64)
    unit = s / 32.0
    top = int(round(rng.integers(1, 6) * unit))
    left = int(round(rng.integers(0, 4) * unit))
    right = s - int(round(rng.integers(0, 4) * unit))
    labels[top:, left:right] = 1
    floors = int(rng.integers(2, 5))
    cols = int(rng.integers(2, 5))
    floor_h = (s - top) / floors
    col_w = (right - left) / cols
    win_h = max(2, int(floor_h * rng.uniform(0.40, 0.62)))
    win_w = max(2, int(col_w * rng.uniform(0.35, 0.6)))
    cornice = rng.random() < 0.6
    balcony_floors = [f for f in range(1, floors) if rng.random() < 0.4]
    door_col = int(rng.integers(0, cols))
    for f in range(floors):
        y0 = int(top + f * floor_h)
        if cornice and f > 0:
            labels[y0 : y0 + max(1, int(unit)), left:right] = 4
        for c in range(cols):
            x_mid = left + (c + 0.5) * col_w
            x0 = int(round(x_mid - win_w / 2))
            if f == floors - 1 and c == door_col:  # ground floor: the door
                dh = int(floor_h * 0.8)
                labels[s - dh : s, x0 : x0 + win_w] = 3
                continue
            wy0 = int(y0 + (floor_h - win_h) * 0.45) + max(1, int(unit))
            labels[wy0 : wy0 + win_h, x0 : x0 + win_w] = 2
            if f in balcony_floors:
                by0 = wy0 + win_h
                labels[by0 : by0 + max(2, int(2 * unit)), x0 - 1 : x0 + win_w + 1] = 5
    return {
        "labels": labels,
        "wall": floors - 2,
        "brightness": float(rng.uniform(0.92, 1.08)),
        "phase": (int(rng.integers(0, 4)), int(rng.integers(0, 8))),
    }


def render_labels(labels: np.ndarray) -> np.ndarray:
    """The input ``A``: ``(size, size)`` class indices -> ``(3, size, size)`` colours in [0, 1]."""
    return LABEL_COLOURS[labels].transpose(2, 0, 1)


def _boxes(mask: np.ndarray):
    """Bounding boxes of the 4-connected regions of a mask of rectangles (scan by rows)."""
    from scipy import ndimage

    lab, n = ndimage.label(mask)
    return ndimage.find_objects(lab)


def render_facade(layout: Dict[str, object]) -> np.ndarray:
    """The target ``B``: the rendered facade ``(3, size, size)`` in [0, 1]."""
    labels = layout["labels"]
    s = labels.shape[0]
    yy, xx = np.mgrid[0:s, 0:s].astype(np.float32)
    img = np.zeros((3, s, s), dtype=np.float32)
    # sky: a vertical gradient
    sky = np.stack([0.55 + 0.3 * yy / s, 0.72 + 0.2 * yy / s, 0.95 + 0.0 * yy])
    img[:] = sky
    # wall: material colour x brightness, with mortar joints of a brick bond (random phase)
    dy, dx = layout["phase"]
    row = (yy.astype(int) + dy) // 4
    mortar = ((yy.astype(int) + dy) % 4 == 0) | ((xx.astype(int) + dx + 4 * (row % 2)) % 8 == 0)
    wall = WALLS[layout["wall"]][:, None, None] * layout["brightness"] * np.ones((3, s, s), np.float32)
    wall = np.where(mortar[None], 0.55 * wall + 0.35, wall)
    img = np.where((labels == 1)[None], wall, img)
    # cornice: light stone with a shadow line below
    img = np.where((labels == 4)[None], np.array([0.88, 0.86, 0.80], np.float32)[:, None, None], img)
    below = np.zeros_like(labels, dtype=bool)
    below[1:] = (labels[:-1] == 4) & (labels[1:] == 1)
    img = np.where(below[None], img * 0.55, img)
    # windows: frame, dark glass, a diagonal reflection
    for box in _boxes(labels == 2):
        ys, xs = box
        h, w = ys.stop - ys.start, xs.stop - xs.start
        wy, wx = yy[box] - ys.start, xx[box] - xs.start
        glass = np.stack([0.12 + 0 * wy, 0.18 + 0 * wy, 0.30 + 0 * wy])
        shine = np.abs((wx / max(w, 1)) - (wy / max(h, 1))) < 0.18
        glass = np.where(shine[None], glass + 0.25, glass)
        frame = (wy == 0) | (wx == 0) | (wy == h - 1) | (wx == w - 1)
        if w >= 6:
            frame |= wx == w // 2
        img[:, ys, xs] = np.where(frame[None], 0.92, glass)
    # door: wood with dark planks
    door = labels == 3
    plank = xx.astype(int) % 2 == 0
    wood = np.where(
        plank[None],
        np.array([0.30, 0.18, 0.09], np.float32)[:, None, None],
        np.array([0.45, 0.28, 0.14], np.float32)[:, None, None],
    )
    img = np.where(door[None], wood, img)
    # balconies: dark railing bars
    bal = labels == 5
    bars = xx.astype(int) % 2 == 0
    rail = np.where(bars[None], 0.15, 0.45) * np.ones((3, 1, 1), np.float32)
    img = np.where(bal[None], rail, img)
    # light from the left
    img = img * (1.06 - 0.12 * xx / s)[None]
    return np.clip(img, 0.0, 1.0)


def load_toy_facades(
    n: int = 1000, size: int = 64, split: str = "train", seed: int = 0
) -> Tuple[torch.Tensor, torch.Tensor]:
    """``n`` pairs ``(A, B)``: label maps and rendered facades, ``(n, 3, size, size)`` each, in [-1, 1].

    ``split``: ``"train"`` or ``"test"`` (disjoint scenes). ``size``: at least 16, a multiple
    of 16 (32 and 64 are the book's sizes; use ``UNetGenerator(num_downs=log2(size))``).
    About 1 ms per pair at 64x64.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {sorted(SPLITS)}, got {split!r}")
    if size < 16 or size % 16:
        raise ValueError(f"size must be a multiple of 16 and at least 16 (e.g. 32, 64, 128), got {size}")
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    A = np.empty((n, 3, size, size), np.float32)
    B = np.empty((n, 3, size, size), np.float32)
    for i in range(n):
        layout = sample_layout(np.random.default_rng([seed, SPLITS[split], i]), size)
        A[i] = render_labels(layout["labels"])
        B[i] = render_facade(layout)
    to = lambda x: torch.from_numpy(x) * 2 - 1  # noqa: E731
    return to(A), to(B)


def labels_from_map(A: torch.Tensor) -> torch.Tensor:
    """Class indices ``(N, H, W)`` of label maps ``A (N, 3, H, W)`` in [-1, 1] (nearest label colour).

    The ground truth a segmenter is scored against: ``labels_from_map(load_toy_facades(...)[0])``.
    """
    colours = torch.from_numpy(LABEL_COLOURS).to(A) * 2 - 1  # (K, 3)
    dist = ((A[:, None] - colours[None, :, :, None, None]) ** 2).sum(2)  # (N, K, H, W)
    return dist.argmin(1)


def free_style_renderings(
    n: int = 100, size: int = 64, split: str = "test", k: int = 8, seed: int = 0, draw_seed: int = 1
) -> torch.Tensor:
    """``(k, n, 3, size, size)``: the first ``n`` scenes of a split, each rendered ``k`` times with
    fresh values of what the label map does not determine (brick phase, wall brightness).

    The spread of these renderings over ``k`` is the true uncertainty of ``B`` given ``A``:
    what a generator that models the conditional distribution would reproduce.
    """
    out = np.empty((k, n, 3, size, size), np.float32)
    draws = np.random.default_rng([draw_seed, SPLITS[split]])
    for i in range(n):
        layout = sample_layout(np.random.default_rng([seed, SPLITS[split], i]), size)
        for j in range(k):
            layout = dict(
                layout,
                brightness=float(draws.uniform(0.92, 1.08)),
                phase=(int(draws.integers(0, 4)), int(draws.integers(0, 8))),
            )
            out[j, i] = render_facade(layout)
    return torch.from_numpy(out) * 2 - 1
