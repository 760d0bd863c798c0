"""A 2-D mixture of Gaussians on a ring: the classic test of whether a GAN covers every mode.

With the mode centres known, we can count which modes the generator reaches
(Metz et al. 2017, "Unrolled GANs"; Srivastava et al. 2017, "VEEGAN" use the same test).
"""

from __future__ import annotations

import math
from typing import Dict

import torch


def ring_centres(modes: int = 8, radius: float = 2.0) -> torch.Tensor:
    """``(modes, 2)`` centres evenly spaced on a circle."""
    angles = torch.arange(modes, dtype=torch.float32) * (2 * math.pi / modes)
    return radius * torch.stack([angles.cos(), angles.sin()], dim=1)


def ring_of_gaussians(n: int, modes: int = 8, radius: float = 2.0, std: float = 0.05, seed: int = 0) -> torch.Tensor:
    """``n`` points ``(n, 2)``: a uniformly chosen centre plus isotropic noise of ``std``."""
    if n < 1 or modes < 1 or std <= 0:
        raise ValueError(f"need n >= 1, modes >= 1 and std > 0; got n={n}, modes={modes}, std={std}")
    g = torch.Generator().manual_seed(seed)
    which = torch.randint(modes, (n,), generator=g)
    return ring_centres(modes, radius)[which] + std * torch.randn(n, 2, generator=g)


def ring_mode_coverage(
    samples: torch.Tensor, modes: int = 8, radius: float = 2.0, std: float = 0.05, min_fraction: float = 0.02
) -> Dict[str, float]:
    """How well ``samples`` cover the ring's modes.

    A sample is *high quality* when it lies within ``3 * std`` of its nearest centre; a
    mode is *covered* when at least ``min_fraction`` of the samples are high-quality
    samples of that mode (the criterion of the Unrolled GAN / VEEGAN papers).
    Returns ``{"modes_covered", "high_quality"}`` (count, fraction).
    """
    if samples.dim() != 2 or samples.shape[1] != 2:
        raise ValueError(f"samples must be (N, 2), got {tuple(samples.shape)}")
    dist = torch.cdist(samples.float(), ring_centres(modes, radius))
    nearest, which = dist.min(dim=1)
    good = nearest <= 3 * std
    per_mode = torch.bincount(which[good], minlength=modes).float() / len(samples)
    return {"modes_covered": int((per_mode >= min_fraction).sum()), "high_quality": float(good.float().mean())}
