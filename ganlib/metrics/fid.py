r"""The Fréchet distance between Gaussians, and FID (Heusel et al., 2017).

Fit a Gaussian to the features of real images, ``N(mu_r, Sigma_r)``, and one to the
features of generated images, ``N(mu_g, Sigma_g)``; FID is the squared Fréchet
(2-Wasserstein) distance between them:

.. math::

    d^2 = \lVert \mu_1 - \mu_2 \rVert_2^2
          + \operatorname{tr}\bigl(\Sigma_1 + \Sigma_2 - 2 (\Sigma_1 \Sigma_2)^{1/2}\bigr).

The hard part is :math:`\operatorname{tr}(\Sigma_1\Sigma_2)^{1/2}`. pytorch-fid
forms the matrix square root with ``scipy.linalg.sqrtm`` (a Schur decomposition of a
non-symmetric matrix, slow and prone to complex round-off); torch-fidelity and
torchmetrics take the eigenvalues of the non-symmetric product. We only need the
trace, and the eigenvalues of :math:`\Sigma_1\Sigma_2` equal those of the *symmetric*
positive semi-definite matrix :math:`A^\top \Sigma_2 A` for any factor
:math:`\Sigma_1 = A A^\top` (similar matrices: :math:`A^\top\Sigma_2 A` and
:math:`A A^\top \Sigma_2` share their non-zero eigenvalues). So

.. math:: \operatorname{tr}(\Sigma_1\Sigma_2)^{1/2} = \sum_i \sqrt{\lambda_i(A^\top \Sigma_2 A)},

with :math:`A` the pivoted Cholesky factor of :math:`\Sigma_1` (it also works when
:math:`\Sigma_1` is singular, e.g. fewer samples than dimensions: then :math:`A` has
only rank-many columns). A Cholesky factorisation plus symmetric eigenvalues (no
vectors) are real, exact and several times faster than either reference.
"""

from __future__ import annotations

from typing import Callable, Optional, Tuple, Union

import numpy as np
import torch

from ._checks import as_float64, check_features, check_finite, check_same_dim

Array = Union[np.ndarray, torch.Tensor]

__all__ = [
    "feature_statistics",
    "frechet_distance",
    "trace_sqrt_product",
    "PSD_TOLERANCE",
    "fid_from_features",
    "extract_features",
    "fid",
]


def feature_statistics(features: Array) -> Tuple[np.ndarray, np.ndarray]:
    r"""Mean and unbiased covariance of ``features`` ``(N, D)``: ``(mu (D,), sigma (D, D))``, float64.

    .. math:: \mu = \frac1N\sum_i f_i,\qquad
              \Sigma = \frac{1}{N-1}\sum_i (f_i-\mu)(f_i-\mu)^\top

    (the same as ``np.mean(f, 0)`` and ``np.cov(f, rowvar=False)`` in pytorch-fid and torch-fidelity).
    """
    f = check_features(features, "features")
    mu = f.mean(0)
    centred = f - mu
    sigma = centred.T @ centred / (f.shape[0] - 1)
    sigma = (sigma + sigma.T) / 2  # exactly symmetric despite round-off
    return mu.numpy(), sigma.numpy()


def _check_stats(mu, sigma, which: str) -> Tuple[torch.Tensor, torch.Tensor]:
    mu_t, sigma_t = as_float64(mu, f"mu{which}"), as_float64(sigma, f"sigma{which}")
    if mu_t.dim() != 1:
        raise ValueError(
            f"mu{which} must be a 1-d mean vector (D,), got shape {tuple(mu_t.shape)}; "
            "did you swap mu and sigma? use feature_statistics(features) to get (mu, sigma)"
        )
    d = mu_t.shape[0]
    if tuple(sigma_t.shape) != (d, d):
        raise ValueError(
            f"sigma{which} must be a ({d}, {d}) covariance matrix to match mu{which} of "
            f"length {d}, got shape {tuple(sigma_t.shape)}; did you swap mu and sigma?"
        )
    check_finite(mu_t, f"mu{which}")
    check_finite(sigma_t, f"sigma{which}")
    scale = float(sigma_t.abs().max()) if d else 0.0
    if scale > 0 and float((sigma_t - sigma_t.T).abs().max()) > 1e-8 * scale:
        raise ValueError(
            f"sigma{which} is not symmetric, so it is not a covariance matrix; compute it "
            "with feature_statistics (or np.cov(features, rowvar=False))"
        )
    return mu_t, sigma_t


def pivoted_cholesky(sigma: np.ndarray) -> Tuple[np.ndarray, np.ndarray, int]:
    r"""``(L, piv, r)`` with ``sigma[piv][:, piv] == L @ L.T``, ``L`` lower triangular ``(D, D)``, rank ``r``.

    LAPACK's ``dpstrf`` stops at the numerical rank ``r`` (pivots below ``D * eps * max(diag)``);
    columns ``r:`` of ``L`` are zero. It handles singular covariances (fewer samples than
    dimensions), where a plain Cholesky fails, at the cost of a Cholesky.
    """
    from scipy.linalg import lapack

    c, piv, rank, info = lapack.dpstrf(sigma, lower=1)
    if info < 0:  # pragma: no cover - only for invalid arguments
        raise RuntimeError(f"LAPACK dpstrf failed (info={info})")
    L = np.tril(c)
    L[:, rank:] = 0.0
    return L, piv - 1, int(rank)


PSD_TOLERANCE = 1e-6
"""How negative a covariance's eigenvalue may be, relative to its largest variance, before
:func:`frechet_distance` refuses it. Round-off in a float64 covariance of real features stays
near ``D * 2.2e-16`` (about 5e-13 at D = 2048); a float32 copy near 1e-7."""


def _require_psd(sigma: np.ndarray, name: str, factor=None) -> None:
    """Raise a clear error unless ``sigma`` is positive semi-definite within :data:`PSD_TOLERANCE`.

    Cheap in the usual case: a full-rank pivoted Cholesky proves positive definiteness; after
    a rank-``r`` stop the Schur complement of the first ``r`` pivots must vanish. Only when it
    does not are the eigenvalues computed, to decide and to say by how much.
    """
    L, piv, rank = factor if factor is not None else pivoted_cholesky(sigma)
    d = sigma.shape[0]
    scale = float(np.abs(np.diag(sigma)).max()) if d else 0.0
    if rank == d:
        return
    sp = sigma[piv][:, piv]
    residual = sp[rank:, rank:] - L[rank:, :rank] @ L[rank:, :rank].T
    if float(np.abs(residual).max()) <= PSD_TOLERANCE * scale:
        return
    eig = np.linalg.eigvalsh(sigma)
    bad = eig < -PSD_TOLERANCE * scale
    if not bad.any():
        return
    raise ValueError(
        f"{name} is not positive semi-definite, so it is not a covariance matrix and the Fréchet distance "
        f"is undefined: its smallest eigenvalue is {float(eig[0]):.4g} against a largest variance of "
        f"{scale:.4g} (negative eigenvalues below -{PSD_TOLERANCE:g} x that: {int(bad.sum())} of {d}; "
        f"round-off gives about {d * np.finfo(np.float64).eps * scale:.1g}). Compute it from the features "
        f"with feature_statistics (or np.cov(features, rowvar=False)); a saved statistic that fails this "
        f"is corrupted or hand-made"
    )


def _trace_sqrt(s1: np.ndarray, s2: np.ndarray) -> float:
    """tr (s1 s2)^{1/2} for float64 arrays, after checking both are positive semi-definite."""
    from scipy.linalg.blas import dtrmm

    L, piv, rank = pivoted_cholesky(np.ascontiguousarray(s1))
    _require_psd(s1, "sigma1", (L, piv, rank))
    s2p = np.asfortranarray(s2[piv][:, piv])  # P^T sigma2 P
    if rank == L.shape[0]:  # full rank: triangular products, half the work of general ones
        b = dtrmm(1.0, L, s2p, side=1, lower=1)  # P^T S2 P L
        m = dtrmm(1.0, L, b, side=0, lower=1, trans_a=1)  # L^T P^T S2 P L
    else:  # singular sigma1: only the first `rank` columns of L are non-zero
        Lr = L[:, :rank]
        m = Lr.T @ s2p @ Lr
    m = (m + m.T) / 2
    eig = np.linalg.eigvalsh(m)
    # With sigma1 positive definite, m is congruent to sigma2: same signs of eigenvalues (Sylvester),
    # so sigma2 needs its own check only if m has a negative eigenvalue beyond round-off, or if
    # sigma1 is singular (m then sees sigma2 only on sigma1's range).
    top = float(np.abs(eig).max()) if len(eig) else 0.0
    if rank < L.shape[0] or float(eig.min(initial=0.0)) < -1e-9 * top:
        _require_psd(s2, "sigma2")
    return float(np.sqrt(np.clip(eig, 0, None)).sum())


def trace_sqrt_product(sigma1: Array, sigma2: Array) -> float:
    r""":math:`\operatorname{tr}(\Sigma_1\Sigma_2)^{1/2} = \sum_i \sqrt{\lambda_i(L^\top P^\top\Sigma_2 P L)}`.

    ``sigma1``, ``sigma2``: symmetric positive semi-definite ``(D, D)``;
    :math:`P^\top\Sigma_1P = LL^\top` is the pivoted Cholesky factorisation of ``sigma1``.
    Real by construction: tiny negative eigenvalues from round-off are clipped at zero; a
    matrix with an eigenvalue below ``-PSD_TOLERANCE`` times its largest variance is refused
    (``ValueError``), since then there is no real square root to take.
    Cost: a Cholesky, two triangular products and one symmetric eigenvalue problem (no vectors).
    """
    s1 = as_float64(sigma1, "sigma1").numpy()
    s2 = as_float64(sigma2, "sigma2").numpy()
    return _trace_sqrt(s1, s2)


def frechet_distance(mu1: Array, sigma1: Array, mu2: Array, sigma2: Array) -> float:
    r"""Squared Fréchet distance between ``N(mu1, sigma1)`` and ``N(mu2, sigma2)``.

    .. math:: d^2 = \lVert\mu_1-\mu_2\rVert^2 + \operatorname{tr}\Sigma_1 + \operatorname{tr}\Sigma_2
              - 2\operatorname{tr}(\Sigma_1\Sigma_2)^{1/2}

    ``mu*``: ``(D,)``; ``sigma*``: ``(D, D)``; numpy arrays or tensors, computed in float64.
    Returns a Python float, never NaN or complex; identical inputs give 0 up to round-off
    (a result below zero from round-off is returned as 0.0). A covariance that is not
    symmetric, or not positive semi-definite beyond round-off (:data:`PSD_TOLERANCE`),
    raises ``ValueError``.
    """
    mu1_t, s1 = _check_stats(mu1, sigma1, "1")
    mu2_t, s2 = _check_stats(mu2, sigma2, "2")
    check_same_dim(mu1_t.shape[0], mu2_t.shape[0], "frechet_distance")
    diff = mu1_t - mu2_t
    tr_covmean = _trace_sqrt(s1.numpy(), s2.numpy())
    d2 = float(diff @ diff) + float(torch.trace(s1)) + float(torch.trace(s2)) - 2.0 * tr_covmean
    return max(d2, 0.0)


def fid_from_features(features1: Array, features2: Array) -> float:
    """FID between two feature sets ``(N1, D)`` and ``(N2, D)``: statistics, then :func:`frechet_distance`.

    The number depends on the feature extractor, the resizer and N: compare FIDs only when all
    three are the same (FID is biased upwards for small N).
    """
    f1 = check_features(features1, "features1")
    f2 = check_features(features2, "features2")
    check_same_dim(f1.shape[1], f2.shape[1], "fid_from_features")
    return frechet_distance(*feature_statistics(f1), *feature_statistics(f2))


@torch.no_grad()
def extract_features(
    extractor: Callable[[torch.Tensor], torch.Tensor],
    images: torch.Tensor,
    batch_size: int = 256,
    device: Optional[Union[str, torch.device]] = None,
) -> torch.Tensor:
    """Run ``extractor`` over ``images`` ``(N, C, H, W)`` in batches; return ``(N, D)`` float32 CPU features."""
    if not isinstance(images, torch.Tensor) or images.dim() != 4:
        raise ValueError(
            f"images must be a (N, C, H, W) tensor, got "
            f"{type(images).__name__} of shape {tuple(getattr(images, 'shape', ()))}"
        )
    if device is None and isinstance(extractor, torch.nn.Module):
        p = next(iter(extractor.parameters()), None)
        device = p.device if p is not None else None
    outs = []
    for i in range(0, len(images), batch_size):
        x = images[i : i + batch_size]
        if device is not None:
            x = x.to(device)
        outs.append(extractor(x).flatten(1).float().cpu())
    if not outs:
        raise ValueError("images is empty; pass at least two images")
    return torch.cat(outs)


def fid(
    real_images: torch.Tensor,
    fake_images: torch.Tensor,
    extractor: Callable[[torch.Tensor], torch.Tensor],
    batch_size: int = 256,
) -> float:
    """FID between two image sets ``(N, C, H, W)`` in [-1, 1], in the feature space of ``extractor``.

    ``extractor`` maps a batch of images to ``(B, D)`` features: :func:`offline_extractor` for
    CPU work (not comparable with published numbers) or :func:`fid_inception_extractor` for the
    published FID.
    """
    return fid_from_features(
        extract_features(extractor, real_images, batch_size), extract_features(extractor, fake_images, batch_size)
    )
