"""Learning-rate schedules of the official pix2pix / CycleGAN / BicycleGAN code."""

from __future__ import annotations

from typing import Callable

__all__ = ["linear_decay"]


def linear_decay(n_constant: int, n_decay: int) -> Callable[[int], float]:
    """The official learning-rate rule (``lr_policy="linear"``) as a multiplier of the base LR.

    ``f(t) = 1 - max(0, t + 1 - n_constant) / (n_decay + 1)``: 1 for the first ``n_constant``
    epochs (or steps), then a straight line towards 0 over ``n_decay`` more (the official
    defaults are 100 + 100 epochs; its epoch_count starts at 1). Use with
    ``torch.optim.lr_scheduler.LambdaLR(opt, linear_decay(...))``.
    """
    if n_constant < 0 or n_decay < 0:
        raise ValueError(f"n_constant and n_decay must be >= 0, got {n_constant}, {n_decay}")

    def factor(t: int) -> float:
        return 1.0 - max(0, t + 1 - n_constant) / float(n_decay + 1)

    return factor
