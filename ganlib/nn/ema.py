r"""An exponential moving average (EMA) of the generator's weights (used by BigGAN for sampling).

.. math:: \theta_\text{EMA} \leftarrow \delta\,\theta_\text{EMA} + (1 - \delta)\,\theta

after every generator step, with decay :math:`\delta` (BigGAN: 0.9999, starting after
``start`` updates; before that the average is a plain copy). Sampling from the average
smooths out the oscillation of the last steps of training and usually gives better images.
Buffers (batch-norm running statistics, spectral-norm vectors) are copied, not averaged:
averaging the unit vectors ``u``, ``v`` of the power iteration would shrink them. The copied
batch-norm statistics were produced by the raw G's weights, not the average's: recompute them
with :func:`ganlib.nn.standing_statistics` before sampling (BigGAN-PyTorch's "standing stats").
"""

from __future__ import annotations

import copy

import torch
from torch import nn

__all__ = ["EMA"]


class EMA(nn.Module):
    """``EMA(G)``; call ``.update()`` after each G step and sample with ``ema.model`` (or ``ema(z, y)``).

    It is an ``nn.Module``: pass it to ``fit(modules=...)`` and it is checkpointed with the rest.
    """

    def __init__(self, model: nn.Module, decay: float = 0.9999, start: int = 0):
        super().__init__()
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"decay must be in [0, 1), got {decay}")
        if start < 0:
            raise ValueError(f"start must be >= 0, got {start}")
        self.decay, self.start = decay, start
        self.model = copy.deepcopy(model).eval()
        for p in self.model.parameters():
            p.requires_grad_(False)
        self.register_buffer("num_updates", torch.zeros((), dtype=torch.long))

    def train(self, mode: bool = True):  # the average is always used in eval mode
        super().train(mode)
        self.model.eval()
        return self

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """One EMA step towards ``model``'s current weights (a copy during the first ``start`` updates)."""
        decay = self.decay if int(self.num_updates) >= self.start else 0.0
        for p_ema, p in zip(self.model.parameters(), model.parameters()):
            p_ema.lerp_(p.detach(), 1.0 - decay)  # p_ema = decay * p_ema + (1 - decay) * p
        for b_ema, b in zip(self.model.buffers(), model.buffers()):
            b_ema.copy_(b)
        self.num_updates += 1

    def forward(self, *args, **kwargs):
        return self.model(*args, **kwargs)
