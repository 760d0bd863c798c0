"""The real 8x8 handwritten digits that scikit-learn ships (1,797 images, 10 classes).

They load offline, so they are the book's default data set. We provide 8, 16
and 32 px versions (bilinear upsampling of the 8x8 originals) scaled to [-1, 1],
the range of a generator ending in tanh.
"""

from __future__ import annotations

from typing import Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F

SIZES = (8, 16, 32)
NUM_CLASSES = 10


def load_digits(
    size: int = 16, split: Optional[str] = None, test_fraction: float = 0.2, seed: int = 0
) -> Tuple[torch.Tensor, torch.Tensor]:
    """Return ``(images, labels)``: images ``(N, 1, size, size)`` float32 in [-1, 1], labels ``(N,)`` int64.

    ``split`` is ``None`` (all 1,797 images), ``"train"`` or ``"test"``: a fixed
    stratified split (``test_fraction`` of each class held out, chosen by ``seed``).
    """
    if size not in SIZES:
        raise ValueError(f"digits come in sizes {SIZES}, got size={size}")
    if split not in (None, "train", "test"):
        raise ValueError(f"split must be None, 'train' or 'test', got {split!r}")
    from sklearn.datasets import load_digits as _sk_load

    bunch = _sk_load()
    x = torch.from_numpy(bunch.images.astype(np.float32) / 16.0).unsqueeze(1)  # (N,1,8,8) in [0,1]
    y = torch.from_numpy(bunch.target.astype(np.int64))
    if size != 8:
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False).clamp(0, 1)
    x = x * 2 - 1
    if split is None:
        return x, y
    rng = np.random.default_rng(seed)
    test_mask = np.zeros(len(y), dtype=bool)
    for c in range(NUM_CLASSES):
        idx = np.flatnonzero(bunch.target == c)
        n_test = int(round(test_fraction * len(idx)))
        test_mask[rng.choice(idx, size=n_test, replace=False)] = True
    keep = torch.from_numpy(test_mask if split == "test" else ~test_mask)
    return x[keep], y[keep]
