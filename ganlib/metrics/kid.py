r"""Kernel Inception Distance (Bińkowski et al., 2018): an unbiased alternative to FID.

KID is the squared maximum mean discrepancy (MMD²) between real and generated
features with the cubic polynomial kernel

.. math:: k(x, y) = \Bigl(\tfrac{1}{d}\, x^\top y + 1\Bigr)^3 ,

estimated without bias on ``m`` real and ``m`` generated features :math:`X, Y`:

.. math:: \widehat{\mathrm{MMD}}^2 = \frac{1}{m(m-1)}\sum_{i\ne j}k(x_i,x_j)
          + \frac{1}{m(m-1)}\sum_{i\ne j}k(y_i,y_j) - \frac{2}{m^2}\sum_{i,j}k(x_i,y_j).

Its expectation is the true MMD² for every m, so unlike FID it is not biased
by the sample size (it can be slightly negative). As in the paper's code and
torch-fidelity, it is averaged over ``subsets`` random subsets of ``subset_size``
drawn without replacement (one ``numpy.random.RandomState(seed)``, first from the
first set, then from the second, for each subset).
"""

from __future__ import annotations

import warnings
from typing import Optional, Tuple, Union

import numpy as np
import torch

from ._checks import check_features, check_same_dim

Array = Union[np.ndarray, torch.Tensor]

__all__ = ["polynomial_kernel", "mmd2_unbiased", "kernel_inception_distance", "KID_MIN_SUBSET_SIZE"]

KID_MIN_SUBSET_SIZE = 50
"""Below this subset size :func:`kernel_inception_distance` warns: the unbiased estimate is still
unbiased, but its spread is large and the std over subsets of a small pool understates it."""


def polynomial_kernel(
    x: torch.Tensor, y: torch.Tensor, degree: int = 3, gamma: Optional[float] = None, coef0: float = 1.0
) -> torch.Tensor:
    r""":math:`k(x, y) = (\gamma\, x^\top y + c_0)^{p}` for all pairs: ``(m, d), (n, d) -> (m, n)``; ``gamma = 1/d``."""
    if gamma is None:
        gamma = 1.0 / x.shape[1]
    return (x @ y.T * gamma + coef0) ** degree


def mmd2_unbiased(k_xx: torch.Tensor, k_xy: torch.Tensor, k_yy: torch.Tensor) -> float:
    """Unbiased MMD² from the three ``(m, m)`` kernel matrices (diagonals of ``k_xx``, ``k_yy`` left out)."""
    m = k_xx.shape[0]
    sum_xx = k_xx.sum() - k_xx.diagonal().sum()
    sum_yy = k_yy.sum() - k_yy.diagonal().sum()
    return float((sum_xx + sum_yy) / (m * (m - 1)) - 2 * k_xy.sum() / (m * m))


def kernel_inception_distance(
    features1: Array,
    features2: Array,
    subsets: int = 100,
    subset_size: Optional[int] = 1000,
    degree: int = 3,
    gamma: Optional[float] = None,
    coef0: float = 1.0,
    seed: int = 2020,
) -> Tuple[float, float]:
    """KID between ``features1`` ``(N1, D)`` and ``features2`` ``(N2, D)``: ``(mean, std)`` over subsets.

    Defaults are those of the KID paper and torch-fidelity (100 subsets of 1,000, degree 3,
    gamma = 1/D, coef0 = 1, seed 2020). ``subset_size=None`` uses ``min(N1, N2)``; a subset
    size larger than either set is an error. Seeded: the same inputs give the same number.
    Warns when ``subset_size < KID_MIN_SUBSET_SIZE`` (50), and when several subsets each hold
    all of one set (their std then leaves out that set's sampling noise; 0 when both are whole).
    """
    f1 = check_features(features1, "features1")
    f2 = check_features(features2, "features2")
    check_same_dim(f1.shape[1], f2.shape[1], "kernel_inception_distance")
    n1, n2 = f1.shape[0], f2.shape[0]
    if subset_size is None:
        subset_size = min(n1, n2)
    if subset_size < 2:
        raise ValueError(f"subset_size must be >= 2 (the unbiased estimate divides by m(m-1)), got {subset_size}")
    if subset_size > min(n1, n2):
        raise ValueError(
            f"subset_size={subset_size} is larger than the feature sets (N1={n1}, N2={n2}); "
            f"pass subset_size <= {min(n1, n2)} (or None to use all of the smaller set)"
        )
    if subsets < 1:
        raise ValueError(f"subsets must be >= 1, got {subsets}")
    if subset_size < KID_MIN_SUBSET_SIZE:
        warnings.warn(
            f"KID on subsets of {subset_size} < {KID_MIN_SUBSET_SIZE} features: the estimate is unbiased "
            f"but very noisy at this size (Bińkowski et al. and torch-fidelity use subsets of 1,000), "
            f"and the std over subsets drawn from only N1={n1} and N2={n2} features understates that "
            f"noise, because the subsets share features; use more samples, and read this KID as a "
            f"rough check, not a result",
            UserWarning,
            stacklevel=2,
        )
    if subsets > 1 and subset_size == n1 == n2:
        warnings.warn(
            f"subset_size={subset_size} is all of both feature sets: every one of the {subsets} subsets "
            f"is the same pair of sets, so the std over subsets is 0 (up to round-off) by construction and "
            f"says nothing about the uncertainty; draw subsets smaller than both sets (e.g. half of the "
            f"smaller) or report the spread of KID over independent samples",
            UserWarning,
            stacklevel=2,
        )
    elif subsets > 1 and subset_size == min(n1, n2):
        whole = "features1" if n1 == subset_size else "features2"
        warnings.warn(
            f"subset_size={subset_size} is all of {whole}: every subset holds the same {whole}, so the "
            f"std over subsets leaves out that set's sampling noise and understates the uncertainty; "
            f"draw subsets smaller than both sets (e.g. half of the smaller)",
            UserWarning,
            stacklevel=2,
        )
    rng = np.random.RandomState(seed)
    mmds = np.zeros(subsets)
    for i in range(subsets):
        x = f1[torch.from_numpy(rng.choice(n1, subset_size, replace=False))]
        y = f2[torch.from_numpy(rng.choice(n2, subset_size, replace=False))]
        kern = lambda a, b: polynomial_kernel(a, b, degree, gamma, coef0)  # noqa: E731
        mmds[i] = mmd2_unbiased(kern(x, x), kern(x, y), kern(y, y))
    return float(mmds.mean()), float(mmds.std())
