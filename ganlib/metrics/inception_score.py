r"""The Inception Score (Salimans et al., 2016).

A classifier gives each image a class distribution :math:`p(y\mid x)`. Good samples
are confidently classified (low-entropy :math:`p(y\mid x)`) and, over the sample,
cover the classes (high-entropy marginal :math:`p(y) = \mathbb E_x\, p(y\mid x)`):

.. math:: \mathrm{IS} = \exp\Bigl(\mathbb E_x\, \mathrm{KL}\bigl(p(y\mid x)\,\Vert\, p(y)\bigr)\Bigr)
          \in [1, K].

As in the paper's code, the N samples are cut into ``splits`` consecutive chunks;
:math:`p(y)` and the score are computed per chunk, and we report the mean and the
(population) standard deviation over chunks. The argument order of the KL matters:
KL(p(y) ‖ p(y|x)) is a different (wrong) number (see the chapter's pitfall).
"""

from __future__ import annotations

import warnings
from typing import Tuple, Union

import numpy as np
import torch

from ._checks import check_features

__all__ = ["inception_score", "inception_score_per_split"]


def inception_score_per_split(logits: Union[np.ndarray, torch.Tensor], splits: int = 10) -> np.ndarray:
    r"""Scores of the ``splits`` consecutive chunks of ``logits`` ``(N, K)`` (no shuffling), float64.

    Chunk ``i`` holds rows ``i*N//splits`` to ``(i+1)*N//splits`` (the chunking of the
    reference code), :math:`p(y\mid x) = \mathrm{softmax}(\text{logits})`.
    """
    x = check_features(logits, "logits", min_samples=1)
    n, k = x.shape
    if not isinstance(splits, (int, np.integer)) or isinstance(splits, bool) or splits < 1:
        raise ValueError(f"splits must be a positive int, got {splits!r}")
    if splits > n:
        raise ValueError(
            f"splits={splits} is larger than the number of samples N={n}: every split needs "
            f"at least one sample (use splits <= N; the usual protocol is 10 splits of 5,000)"
        )
    if k < 2:
        raise ValueError(f"logits need at least two classes (shape (N, K) with K >= 2), got K={k}")
    if bool((x >= 0).all()) and torch.allclose(x.sum(1), torch.ones(n, dtype=x.dtype), atol=1e-4):
        warnings.warn(
            "inception_score expects logits, but every row is non-negative and sums to 1: these "
            "look like probabilities. A softmax of probabilities flattens them and lowers the "
            "score; pass the classifier's logits (or log-probabilities)",
            UserWarning,
            stacklevel=3,
        )
    # Everything in log space: with sharp logits some p(y|x) underflow to 0, and a class that no
    # image of a split predicts then has p(y) = 0, log p(y) = -inf and 0 * inf = NaN. log_softmax and
    # logsumexp keep every log finite for finite logits; a 0 probability then multiplies a finite log.
    log_p = torch.log_softmax(x, dim=1)  # log p(y|x), (N, K), finite
    p = log_p.exp()
    scores = []
    for i in range(splits):
        lo, hi = i * n // splits, (i + 1) * n // splits
        p_i, log_p_i = p[lo:hi], log_p[lo:hi]
        log_marginal = torch.logsumexp(log_p_i, 0, keepdim=True) - np.log(hi - lo)  # log p(y), (1, K)
        kl = (p_i * (log_p_i - log_marginal)).sum(1)  # KL(p(y|x) || p(y)) per image
        scores.append(float(kl.mean().exp()))
    return np.asarray(scores)


def inception_score(logits: Union[np.ndarray, torch.Tensor], splits: int = 10) -> Tuple[float, float]:
    r"""``(mean, std)`` of the Inception Score over ``splits`` chunks of ``logits`` ``(N, K)``.

    .. math:: \mathrm{IS}_s = \exp\Bigl(\frac{1}{|s|}\sum_{x\in s}\sum_y p(y\mid x)
              \log\frac{p(y\mid x)}{p_s(y)}\Bigr),\quad p_s(y) = \frac1{|s|}\sum_{x\in s}p(y\mid x)

    Softmax of ``logits``, no shuffling, population std (``np.std``). Balanced confident
    predictions over K classes give K; identical predictions give 1.
    Warns when ``logits`` look like probabilities.
    """
    scores = inception_score_per_split(logits, splits)
    return float(scores.mean()), float(scores.std())
