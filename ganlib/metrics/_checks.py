"""Input checks shared by the metrics: clear errors that say what is wrong and how to fix it."""

from __future__ import annotations

import numpy as np
import torch


def as_float64(x, name: str) -> torch.Tensor:
    """A float64 CPU tensor from a numpy array, a tensor or a nested list; anything else is an error."""
    if isinstance(x, torch.Tensor):
        t = x.detach().to("cpu", torch.float64)
    elif isinstance(x, np.ndarray) or isinstance(x, (list, tuple)):
        arr = np.asarray(x)
        if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
            raise TypeError(f"{name} must hold numbers, got an array of dtype {arr.dtype}")
        arr = np.asarray(arr, dtype=np.float64)  # no copy when it already is float64
        t = torch.from_numpy(arr if arr.flags.writeable else arr.copy())
    else:
        raise TypeError(f"{name} must be a numpy array or a torch tensor, got {type(x).__name__}")
    if torch.is_complex(t):  # pragma: no cover - to(float64) already refuses complex input
        raise TypeError(f"{name} is complex; features and statistics are real numbers")
    return t


def check_finite(t: torch.Tensor, name: str) -> None:
    if not bool(torch.isfinite(t).all()):
        n_nan, n_inf = int(torch.isnan(t).sum()), int(torch.isinf(t).sum())
        raise ValueError(
            f"{name} contains {n_nan} NaN and {n_inf} inf value(s); the feature extractor "
            "or the images that fed it are broken (check for NaN images, a diverged "
            "generator, or a division by zero) - drop or fix those rows first"
        )


def check_features(x, name: str, min_samples: int = 2) -> torch.Tensor:
    """``x`` as a finite float64 ``(N, D)`` tensor with ``N >= min_samples``."""
    t = as_float64(x, name)
    if t.dim() != 2:
        raise ValueError(
            f"{name} must be a 2-d (N, D) matrix of features, one row per image, got shape "
            f"{tuple(t.shape)}; flatten pooled features with x.flatten(1)"
        )
    if t.shape[0] < min_samples:
        raise ValueError(
            f"{name} has {t.shape[0]} sample(s); at least {min_samples} are needed "
            f"(a covariance needs two), and thousands for a trustworthy FID"
        )
    if t.shape[1] < 1:
        raise ValueError(f"{name} has no feature dimensions (shape {tuple(t.shape)})")
    check_finite(t, name)
    return t


def check_same_dim(d1: int, d2: int, what: str) -> None:
    if d1 != d2:
        raise ValueError(
            f"{what}: dimensions differ ({d1} vs {d2}); both sets must come from the same "
            "feature extractor and layer (e.g. 2048-d Inception pool features for both)"
        )
