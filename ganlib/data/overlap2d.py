r"""Two classes whose supports overlap: the 2-D toy on which AC-GAN's bias shows.

Class 0 is :math:`\mathcal{N}((-\mu, 0), \sigma^2 I)` and class 1 is :math:`\mathcal{N}((+\mu, 0), \sigma^2 I)`:
along the first coordinate the two bells overlap (with ``mu = std`` about 16 % of each class
lies on the other class's side of the boundary ``x = 0``); the second coordinate carries
no class information. The true class posterior is known in closed form,
:math:`p(y{=}1 \mid x) = \sigma(2 \mu x_1 / \sigma^2)` (equal priors), so we can measure exactly
how a generator treats the region where the classes mix (Shu, Bui & Ermon 2017 study
AC-GAN on such overlapping mixtures).

Points come as ``(N, 2, 1, 1)``: a two-channel 1x1 "image", so the book's conditional
networks (chapter 1's MLP G and D, chapter 2's AC-GAN D) apply unchanged.
"""

from __future__ import annotations

import math
from typing import Dict, Tuple

import torch

MU, STD = 0.25, 0.25  # in the tanh range of the generators: |x| < 1 for all but a few points


def overlapping_classes(n: int, mu: float = MU, std: float = STD, seed: int = 0) -> Tuple[torch.Tensor, torch.Tensor]:
    """``(points (n, 2, 1, 1), labels (n,))``: balanced classes, centres ``(-mu, 0)`` and ``(+mu, 0)``."""
    if n < 2 or std <= 0:
        raise ValueError(f"need n >= 2 and std > 0, got n={n}, std={std}")
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 2
    labels = labels[torch.randperm(n, generator=g)]
    centres = torch.stack([(2 * labels.float() - 1) * mu, torch.zeros(n)], dim=1)
    points = centres + std * torch.randn(n, 2, generator=g)
    return points.view(n, 2, 1, 1), labels


def true_posterior(points: torch.Tensor, mu: float = MU, std: float = STD) -> torch.Tensor:
    r""":math:`p(y{=}1 \mid x) = \sigma(2 \mu x_1 / \sigma^2)` for points ``(N, 2, 1, 1)`` or ``(N, 2)``: ``(N,)``."""
    x1 = points.reshape(len(points), -1)[:, 0]
    return torch.sigmoid(2 * mu * x1 / std**2)


def boundary_measures(points: torch.Tensor, labels: torch.Tensor, mu: float = MU, std: float = STD) -> Dict[str, float]:
    """How samples of each class treat the overlap, averaged over the two classes.

    - ``other_side``: fraction of class-k samples on the other class's side of ``x1 = 0``
      (real data: :math:`\\Phi(-\\mu/\\sigma)`, 15.9 % for ``mu = std``);
    - ``posterior_entropy``: mean entropy (nats) of the true posterior at the samples: how
      ambiguous they are (a generator that avoids the boundary lowers it);
    - ``spread_x1``: the within-class standard deviation of ``x1`` (real: ``std``);
    - ``spread_x2``: the same along ``x2``, which carries no class information (a check that
      G still fits the data where the class term has no say).
    """
    flat = points.reshape(len(points), -1)
    x1, x2 = flat[:, 0], flat[:, 1]
    p1 = true_posterior(points, mu, std).clamp(1e-7, 1 - 1e-7)
    entropy = -(p1 * p1.log() + (1 - p1) * (1 - p1).log())
    out = {"other_side": [], "posterior_entropy": [], "spread_x1": [], "spread_x2": []}
    for k, sign in ((0, -1.0), (1, 1.0)):
        m = labels == k
        out["other_side"].append(float((sign * x1[m] < 0).float().mean()))
        out["posterior_entropy"].append(float(entropy[m].mean()))
        out["spread_x1"].append(float(x1[m].std()))
        out["spread_x2"].append(float(x2[m].std()))
    return {key: sum(v) / 2 for key, v in out.items()}


def other_side_fraction(mu: float = MU, std: float = STD) -> float:
    """The exact fraction of a class beyond the boundary: :math:`\\Phi(-\\mu/\\sigma)`."""
    return 0.5 * math.erfc(mu / std / math.sqrt(2))
