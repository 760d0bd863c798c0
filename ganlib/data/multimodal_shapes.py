"""Multimodal shapes: one outline, K valid answers -- a paired data set whose modes can be counted.

Input ``A`` is the white outline of a shape (a circle, a square or a diamond of random
position and size) on black. Target ``B`` is the same outline with its inside filled by
**one of K colours** (``PALETTE[:K]``: red, green, blue, yellow, magenta, cyan), chosen at
random and independently of the outline. So every outline has exactly K correct answers
and nothing in ``A`` tells them apart, as in edges2shoes (one sketch, many shoe colours):

- a deterministic map ``A -> B`` (pix2pix, or pix2pix fed a noise it learns to ignore) can
  produce at most one of them per input (and an L1-trained one tends to the average colour,
  which is none of them);
- a model that covers the K modes must use its latent code ``z``.

The ground truth is known, so the number of modes a model produces can be **counted**:
``fill_mode(A, B)`` reads the mean colour of the inside of the outline (the inside is
found from ``A`` alone, by filling the outline's holes) and returns the index of the
nearest palette colour, or -1 when that colour is farther than ``tol`` from every
palette colour (a muddy average is no mode).

Deterministic: item ``i`` of a split depends only on ``(seed, split, i)``; ``train`` and
``test`` never share an outline.

>>> A, B, modes = load_multimodal_shapes(6, size=32, k=4, split="test")
>>> A.shape, B.shape, modes.tolist() == fill_mode(A, B, k=4).tolist()
(torch.Size([6, 3, 32, 32]), torch.Size([6, 3, 32, 32]), True)
"""

from __future__ import annotations

import math
from typing import Tuple

import numpy as np
import torch
from scipy import ndimage

__all__ = [
    "PALETTE",
    "SHAPES",
    "load_multimodal_shapes",
    "interior_mask",
    "fill_mode",
    "fill_mode_coverage",
    "mode_balance",
    "kl_to_uniform",
    "uniform_balance",
]

# fill colours in [-1, 1] (RGB): far apart, none close to the white outline or the black ground
PALETTE = torch.tensor(
    [
        [0.9, -0.8, -0.8],  # red
        [-0.8, 0.7, -0.8],  # green
        [-0.7, -0.5, 0.9],  # blue
        [0.9, 0.8, -0.8],  # yellow
        [0.8, -0.8, 0.8],  # magenta
        [-0.8, 0.8, 0.8],  # cyan
    ]
)
SHAPES = ("circle", "square", "diamond")
SPLITS = {"train": 0, "test": 1}
MAX_K = len(PALETTE)


def _outline_and_inside(rng: np.random.Generator, size: int) -> Tuple[np.ndarray, np.ndarray]:
    """A random filled shape ``(size, size)`` bool, split into its 1-pixel outline and inside."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    r = rng.uniform(0.22, 0.40) * size
    cy, cx = rng.uniform(r + 1, size - r - 1, size=2)
    kind = SHAPES[int(rng.integers(len(SHAPES)))]
    dy, dx = np.abs(yy - cy), np.abs(xx - cx)
    if kind == "circle":
        filled = dy**2 + dx**2 <= r**2
    elif kind == "square":
        filled = np.maximum(dy, dx) <= 0.85 * r
    else:
        filled = dy + dx <= 1.2 * r
    inside = ndimage.binary_erosion(filled)
    return filled & ~inside, inside


def load_multimodal_shapes(
    n: int, size: int = 32, k: int = 4, split: str = "train", seed: int = 0
) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``n`` pairs ``(A, B)`` and their modes.

    Returns ``A (n, 3, size, size)`` outlines, ``B (n, 3, size, size)`` filled shapes, both in
    [-1, 1], and ``modes (n,)`` int64 in ``0..k-1``: the palette colour of each ``B``.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {sorted(SPLITS)}, got {split!r}")
    if not 2 <= k <= MAX_K:
        raise ValueError(f"k (the number of modes) must be between 2 and {MAX_K}, got {k}")
    if size < 16:
        raise ValueError(f"size must be >= 16 pixels for a visible outline, got {size}")
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    A = torch.full((n, 3, size, size), -1.0)
    B = torch.full((n, 3, size, size), -1.0)
    modes = torch.empty(n, dtype=torch.int64)
    for i in range(n):
        rng = np.random.default_rng([seed, SPLITS[split], i])
        outline, inside = _outline_and_inside(rng, size)
        mode = int(rng.integers(k))
        line, fill = torch.from_numpy(outline), torch.from_numpy(inside)
        A[i][:, line] = 1.0
        B[i][:, line] = 1.0
        B[i][:, fill] = PALETTE[mode][:, None]
        modes[i] = mode
    return A, B, modes


def interior_mask(A: torch.Tensor) -> torch.Tensor:
    """``(N, C, H, W)`` outlines -> ``(N, H, W)`` bool: the pixels strictly inside each outline.

    Found from ``A`` alone: the outline's holes filled, minus the outline itself.
    """
    if A.dim() != 4:
        raise ValueError(f"A must be images (N, C, H, W), got shape {tuple(A.shape)}")
    line = (A.detach().cpu().mean(1) > 0).numpy()
    out = np.stack([ndimage.binary_fill_holes(m) & ~m for m in line])
    return torch.from_numpy(out)


def fill_mode(A: torch.Tensor, B: torch.Tensor, k: int = 4, tol: float = 0.5) -> torch.Tensor:
    r"""The mode of each output: the palette colour nearest the mean colour inside the outline.

    ``A (N, 3, H, W)`` outlines, ``B (N, 3, H, W)`` outputs in [-1, 1] -> ``(N,)`` int64 in
    ``0..k-1``, or -1 where :math:`\min_j \lVert \bar c - p_j \rVert_2 >` ``tol`` (no mode: a
    mixed, washed-out colour; the palette colours are at least 1.3 apart).
    """
    if A.shape != B.shape or A.dim() != 4 or A.shape[1] != 3:
        raise ValueError(
            f"A and B must be RGB images of the same shape (N, 3, H, W), got {tuple(A.shape)} and {tuple(B.shape)}"
        )
    mask = interior_mask(A).to(B.device).unsqueeze(1).float()
    mean = (B.detach() * mask).sum((2, 3)) / mask.sum((2, 3)).clamp_min(1.0)
    dist = torch.cdist(mean.float(), PALETTE[:k].to(B.device))
    best, idx = dist.min(1)
    return torch.where(best <= tol, idx, torch.full_like(idx, -1)).cpu()


def fill_mode_coverage(A: torch.Tensor, outputs: torch.Tensor, k: int = 4, tol: float = 0.5) -> Tuple[float, float]:
    """How many of the K modes the samples of each input reach.

    ``A (N, 3, H, W)`` inputs, ``outputs (N, S, 3, H, W)``: S samples (e.g. S random z) per
    input. Returns ``(mean number of distinct valid modes per input, fraction of valid outputs)``.
    """
    if outputs.dim() != 5 or outputs.shape[0] != A.shape[0]:
        raise ValueError(f"outputs must be (N, S, C, H, W) with N = len(A) = {A.shape[0]}, got {tuple(outputs.shape)}")
    n, s = outputs.shape[:2]
    modes = fill_mode(A.repeat_interleave(s, 0), outputs.reshape(n * s, *outputs.shape[2:]), k, tol)
    modes = modes.view(n, s)
    distinct = [len(set(row.tolist()) - {-1}) for row in modes]
    return float(np.mean(distinct)), float((modes >= 0).float().mean())


def kl_to_uniform(counts: torch.Tensor) -> torch.Tensor:
    r"""``counts (N, K)`` of each mode -> ``(N,)``: :math:`\mathrm{KL}(p \,\|\, U_K) = \log K - H(p)`
    in nats, :math:`p` the frequencies. 0 for equal counts, :math:`\log K` when one mode has
    them all; a row of zeros (no valid output) scores :math:`\log K` too."""
    counts = counts.float()
    k = counts.shape[1]
    total = counts.sum(1, keepdim=True)
    p = counts / total.clamp_min(1)
    entropy = -(p * torch.log(p.clamp_min(1e-12))).sum(1)
    return torch.where(total[:, 0] > 0, math.log(k) - entropy, torch.full_like(entropy, math.log(k)))


def mode_balance(A: torch.Tensor, outputs: torch.Tensor, k: int = 4, tol: float = 0.5) -> float:
    """How evenly the samples of each input spread over the K modes: the mean over inputs of
    ``kl_to_uniform`` of the counts of each valid mode among its S samples (invalid outputs are
    left out; an input with none scores log K). 0 is perfect balance; 90 % of one colour scores
    high even when all K modes appear. With finitely many samples a perfectly uniform sampler
    scores above 0: compare with ``uniform_balance(k, S)``.

    ``A (N, 3, H, W)``, ``outputs (N, S, 3, H, W)``.
    """
    if outputs.dim() != 5 or outputs.shape[0] != A.shape[0]:
        raise ValueError(f"outputs must be (N, S, C, H, W) with N = len(A) = {A.shape[0]}, got {tuple(outputs.shape)}")
    n, s = outputs.shape[:2]
    modes = fill_mode(A.repeat_interleave(s, 0), outputs.reshape(n * s, *outputs.shape[2:]), k, tol).view(n, s)
    counts = torch.stack([(modes == j).sum(1) for j in range(k)], 1)
    return float(kl_to_uniform(counts).mean())


def uniform_balance(k: int, samples: int, trials: int = 20000, seed: int = 0) -> float:
    """The ``mode_balance`` a perfect sampler gets: S draws uniform over K modes (Monte Carlo)."""
    rng = np.random.default_rng(seed)
    draws = torch.from_numpy(rng.integers(k, size=(trials, samples)))
    counts = torch.stack([(draws == j).sum(1) for j in range(k)], 1)
    return float(kl_to_uniform(counts).mean())
