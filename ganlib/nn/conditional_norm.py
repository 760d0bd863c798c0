r"""Conditional batch normalisation (de Vries et al. 2017; Dumoulin et al. 2017) as in BigGAN.

Batch norm without its own affine parameters, followed by a gain and a bias that are
linear functions of a conditioning vector ``c``:

.. math:: \mathrm{CBN}(x, c) = \big(1 + W_\gamma c\big) \odot \frac{x - \mu}{\sqrt{\sigma^2 + \epsilon}} + W_\beta c

In BigGAN, ``c`` is the concatenation of a **shared class embedding** (one ``nn.Embedding``
for the whole generator, instead of one per layer) and a **chunk of z** (the hierarchical
latent: z is split and each residual block gets its own piece). The gain is ``1 + ...``
so the layer starts as plain batch norm.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["ConditionalBatchNorm2d"]


class ConditionalBatchNorm2d(nn.Module):
    """``forward(x (N, C, H, W), c (N, cond_dim)) -> (N, C, H, W)``."""

    def __init__(self, num_features: int, cond_dim: int, eps: float = 1e-5, momentum: float = 0.1):
        super().__init__()
        if cond_dim < 1:
            raise ValueError(f"cond_dim must be >= 1, got {cond_dim}")
        self.num_features, self.cond_dim = num_features, cond_dim
        self.bn = nn.BatchNorm2d(num_features, eps=eps, momentum=momentum, affine=False)
        self.gain = nn.Linear(cond_dim, num_features, bias=False)
        self.bias = nn.Linear(cond_dim, num_features, bias=False)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        if c.dim() != 2 or c.shape != (x.shape[0], self.cond_dim):
            raise ValueError(
                f"the conditioning vector must be (N, {self.cond_dim}) = ({x.shape[0]}, "
                f"{self.cond_dim}), got {tuple(c.shape)}"
            )
        gain = 1 + self.gain(c)[:, :, None, None]
        bias = self.bias(c)[:, :, None, None]
        return self.bn(x) * gain + bias
