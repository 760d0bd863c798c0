r"""Precision and recall (Kynkäänniemi et al., 2019) and density and coverage (Naeem et al., 2020).

FID folds two failures into one number: samples that do not look real (low *fidelity*)
and real images the generator never makes (low *diversity*). These four numbers keep
them apart. All four estimate each distribution's support from k-nearest-neighbour
balls in feature space: around every feature vector :math:`x` put the ball of radius
:math:`\mathrm{NND}_k(x)`, the distance to its k-th nearest neighbour *in its own set*
(the point itself does not count).

- **precision** = the fraction of fake features inside at least one *real* ball
  (do the samples look real?);
- **recall** = the fraction of real features inside at least one *fake* ball
  (is every kind of real image generated?);
- **density** = :math:`\frac{1}{kM}\sum_j\sum_i \mathbb 1[y_j \in B(x_i, \mathrm{NND}_k(x_i))]`,
  how many real balls hold each fake sample, divided by k (about 1 when the
  distributions are equal; it can exceed 1, and unlike precision it is not fooled by
  one outlier real point with a huge ball);
- **coverage** = the fraction of real balls that hold at least one fake sample (real
  balls only, so fake outliers cannot inflate it, as they can recall).

Conventions follow the reference code: precision and recall use closed balls
(``distance <= radius``, torch-fidelity's ``metric_prc.py``, k = 3 by default as there);
density and coverage use open balls (``distance < radius``, the authors' ``prdc``
package, k = 5 by default as there). With continuous features ties have probability
zero, so the choice only shows in hand-made cases.
"""

from __future__ import annotations

from typing import Tuple, Union

import numpy as np
import torch

from ._checks import check_features, check_same_dim

Array = Union[np.ndarray, torch.Tensor]

__all__ = ["nearest_neighbour_radii", "precision_recall", "density_coverage"]

_BLOCK = 2048  # rows of a distance matrix computed at once: bounded memory for large N


def _check_k(k, n: int, which: str) -> None:
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 1:
        raise ValueError(f"k must be a positive int (the k-th nearest neighbour sets each ball's radius), got {k!r}")
    if k >= n:
        raise ValueError(
            f"k={k} needs more than k samples in {which} (it has {n}): the k-th nearest neighbour "
            f"of a point among the other {n - 1} does not exist; use k < {n} (the papers use "
            "thousands of samples and k = 3 or 5)"
        )


def nearest_neighbour_radii(features: torch.Tensor, k: int) -> torch.Tensor:
    """Distance from each row of ``features`` ``(N, D)`` to its k-th nearest *other* row: ``(N,)``.

    The row itself (distance 0) is the first of the ``k + 1`` smallest distances, as in
    torch-fidelity (``kthvalue(k + 1)``) and prdc (``np.partition(d, k)[:, k]``).
    """
    radii = [torch.cdist(block, features).kthvalue(k + 1, dim=1).values for block in features.split(_BLOCK)]
    return torch.cat(radii)


def _inside_counts(
    points: torch.Tensor, centres: torch.Tensor, radii: torch.Tensor, closed: bool
) -> Tuple[torch.Tensor, torch.Tensor]:
    """For each point: how many balls ``B(centres[i], radii[i])`` hold it ``(len(points),)``;
    for each ball: whether it holds at least one point ``(len(centres),)``."""
    counts, ball_hit = [], torch.zeros(len(centres), dtype=torch.bool)
    for block in points.split(_BLOCK):
        dist = torch.cdist(block, centres)  # (b, n_centres)
        inside = dist <= radii if closed else dist < radii
        counts.append(inside.sum(1))
        ball_hit |= inside.any(0)
    return torch.cat(counts), ball_hit


def _prepare(real_features, fake_features, k, what):
    real = check_features(real_features, "real_features")
    fake = check_features(fake_features, "fake_features")
    check_same_dim(real.shape[1], fake.shape[1], what)
    return real, fake


def precision_recall(real_features: Array, fake_features: Array, k: int = 3) -> Tuple[float, float]:
    """Improved precision and recall (Kynkäänniemi et al., 2019): ``(precision, recall)`` in [0, 1].

    ``real_features`` ``(N, D)``, ``fake_features`` ``(M, D)``, the same extractor for both
    (the paper: VGG-16 fc2 features, 50k images each, k = 3; torch-fidelity: Inception or
    VGG features, k = 3). Precision: fraction of fake rows within the k-NN radius of some
    real row; recall: fraction of real rows within the k-NN radius of some fake row
    (closed balls, Euclidean distance, computed in float64). Same result as
    ``torch_fidelity.metric_prc`` with ``features_1 = fake``, ``features_2 = real``.
    """
    real, fake = _prepare(real_features, fake_features, k, "precision_recall")
    _check_k(k, len(real), "real_features")
    _check_k(k, len(fake), "fake_features")
    fake_in_real, _ = _inside_counts(fake, real, nearest_neighbour_radii(real, k), closed=True)
    real_in_fake, _ = _inside_counts(real, fake, nearest_neighbour_radii(fake, k), closed=True)
    return float((fake_in_real > 0).double().mean()), float((real_in_fake > 0).double().mean())


def density_coverage(real_features: Array, fake_features: Array, k: int = 5) -> Tuple[float, float]:
    """Density and coverage (Naeem et al., 2020): ``(density, coverage)``; coverage in [0, 1], density >= 0.

    Only real balls are used (radius: distance to the k-th nearest other real row), so
    outliers among the fake samples cannot inflate either number. Density: the mean number
    of real balls holding a fake row, divided by k; coverage: the fraction of real balls
    holding at least one fake row (open balls, as the authors' ``prdc`` code; k = 5 there).
    """
    real, fake = _prepare(real_features, fake_features, k, "density_coverage")
    _check_k(k, len(real), "real_features")
    counts, ball_hit = _inside_counts(fake, real, nearest_neighbour_radii(real, k), closed=False)
    return float(counts.double().mean() / k), float(ball_hit.double().mean())
