"""The original GAN (Goodfellow et al. 2014) with multilayer perceptrons: the introduction's model."""
from __future__ import annotations

from typing import Dict

import torch
from torch import nn

from ..losses import d_loss_bce, g_loss_nonsaturating

__all__ = ["MLPGenerator", "MLPDiscriminator", "gan_step"]


class MLPGenerator(nn.Module):
    """``G(z)``: ``(N, z_dim) -> (N, out_dim)``; ``out_activation`` "tanh" for images in [-1, 1]."""

    def __init__(self, z_dim: int = 2, out_dim: int = 2, hidden: int = 128, layers: int = 3,
                 out_activation: str = "none"):
        super().__init__()
        if out_activation not in ("none", "tanh"):
            raise ValueError(f"out_activation must be 'none' or 'tanh', got {out_activation!r}")
        blocks, width = [], z_dim
        for _ in range(layers - 1):
            blocks += [nn.Linear(width, hidden), nn.ReLU()]
            width = hidden
        blocks.append(nn.Linear(width, out_dim))
        if out_activation == "tanh":
            blocks.append(nn.Tanh())
        self.net = nn.Sequential(*blocks)
        self.z_dim = z_dim

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if z.dim() != 2 or z.shape[1] != self.z_dim:
            raise ValueError(f"z must be (N, {self.z_dim}), got {tuple(z.shape)}")
        return self.net(z)


class MLPDiscriminator(nn.Module):
    """``D(x)``: ``(N, in_dim) -> (N,)`` raw logits (no Sigmoid: the loss takes logits)."""

    def __init__(self, in_dim: int = 2, hidden: int = 128, layers: int = 3):
        super().__init__()
        blocks, width = [], in_dim
        for _ in range(layers - 1):
            blocks += [nn.Linear(width, hidden), nn.LeakyReLU(0.2)]
            width = hidden
        blocks.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.flatten(1)).squeeze(1)


def gan_step(G: nn.Module, D: nn.Module, opt_g: torch.optim.Optimizer, opt_d: torch.optim.Optimizer,
             real: torch.Tensor) -> Dict[str, torch.Tensor]:
    """One step of Algorithm 1 of Goodfellow et al. 2014, with the non-saturating G loss.

    1. D ascends :math:`\\log D(x) + \\log(1 - D(G(z)))` (``d_loss_bce``), fakes detached.
    2. G descends :math:`-\\log D(G(z))` on fresh noise (``g_loss_nonsaturating``).
    """
    z = torch.randn(len(real), G.z_dim, device=real.device)
    fake = G(z)
    d_loss = d_loss_bce(D(real), D(fake.detach()))
    opt_d.zero_grad(set_to_none=True)
    d_loss.backward()
    opt_d.step()

    z = torch.randn(len(real), G.z_dim, device=real.device)
    g_loss = g_loss_nonsaturating(D(G(z)))
    opt_g.zero_grad(set_to_none=True)
    g_loss.backward()
    opt_g.step()
    return {"d_loss": d_loss.detach(), "g_loss": g_loss.detach()}
