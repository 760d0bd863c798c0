r"""Self-attention for convolutional GANs (SAGAN, Zhang et al. 2019).

A convolution sees a small neighbourhood; self-attention lets every position look at every
other. For a feature map ``x`` of shape ``(N, C, H, W)`` with positions ``i, j`` (``HW`` of them):

.. math::
    f(x) = W_f x \ (\text{key}),\quad g(x) = W_g x \ (\text{query}) \quad (C/8 \text{ channels}),\qquad
    h(x) = W_h x \ (\text{value})

    s_{ij} = f(x_i)^\top g(x_j),\qquad \beta_{j,i} = \operatorname{softmax}_i(s_{ij}), \qquad
    o_j = W_v \sum_i \beta_{j,i}\, h(x_i), \qquad y_j = x_j + \gamma\, o_j

in the paper's notation (eq. 1-3: :math:`\beta_{j,i}` is how much output position :math:`j` attends
to position :math:`i`; :math:`g` is applied to the query :math:`x_j`, :math:`f` to the keys :math:`x_i`),
with 1x1 convolutions ``W`` and a scalar :math:`\gamma` initialised to 0, so the block starts
as the identity and the network learns how much non-local evidence to use. Like the official
code (and BigGAN's), the value has ``C/2`` channels and ``W_v`` maps them back to ``C``;
``pool=True`` adds the official code's 2x2 max-pooling of keys and values (4x cheaper).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["SelfAttention"]


class SelfAttention(nn.Module):
    """SAGAN self-attention block: ``(N, C, H, W) -> (N, C, H, W)``; ``C`` must be divisible by 8."""

    def __init__(self, channels: int, pool: bool = False):
        super().__init__()
        if channels < 8 or channels % 8:
            raise ValueError(f"SelfAttention needs channels divisible by 8 (query/key use C/8), got {channels}")
        self.channels, self.pool = channels, pool
        self.query = nn.Conv2d(channels, channels // 8, 1, bias=False)  # g (the paper's W_g)
        self.key = nn.Conv2d(channels, channels // 8, 1, bias=False)  # f (W_f)
        self.value = nn.Conv2d(channels, channels // 2, 1, bias=False)  # h (W_h)
        self.out = nn.Conv2d(channels // 2, channels, 1, bias=False)  # v (W_v)
        self.gamma = nn.Parameter(torch.zeros(()))

    def attention(self, x: torch.Tensor) -> torch.Tensor:
        """Attention weights ``beta``: ``(N, HW_query, HW_key)``, each row sums to 1."""
        q = self.query(x).flatten(2)  # (N, C/8, HW)
        k = self.key(x)
        if self.pool:
            k = F.max_pool2d(k, 2)
        k = k.flatten(2)  # (N, C/8, HW')
        return torch.softmax(q.transpose(1, 2) @ k, dim=-1)  # (N, HW, HW')

    def forward(self, x: torch.Tensor, return_attention: bool = False):
        if x.dim() != 4 or x.shape[1] != self.channels:
            raise ValueError(f"SelfAttention({self.channels}) expects (N, {self.channels}, H, W), got {tuple(x.shape)}")
        n, c, h, w = x.shape
        beta = self.attention(x)
        v = self.value(x)
        if self.pool:
            v = F.max_pool2d(v, 2)
        v = v.flatten(2)  # (N, C/2, HW')
        o = (v @ beta.transpose(1, 2)).view(n, c // 2, h, w)  # sum_i beta_ji h(x_i)
        y = x + self.gamma * self.out(o)
        return (y, beta) if return_attention else y
