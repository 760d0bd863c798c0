"""The output layer of the projection discriminator (Miyato & Koyama 2018), used by the
cGAN chapter's projection D and by BigGAN's D."""

from __future__ import annotations

import torch
from torch import nn

from .labels import check_labels

__all__ = ["ProjectionHead"]


class ProjectionHead(nn.Module):
    r"""The output layer of a projection discriminator (Miyato & Koyama 2018, eq. 3).

    .. math:: D(x, y) = \psi(\phi(x)) + \langle \mathrm{embed}(y), \phi(x) \rangle
              = w^\top h + b + \sum_j V_{y j}\, h_j

    ``h = phi(x)``: ``(N, num_features)`` features of D's body; ``y``: ``(N,)`` long labels.
    Returns logits of shape ``(N,)`` (one number per sample, no Sigmoid).

    ``spectral_norm=True`` wraps both the linear layer and the embedding in spectral
    normalisation, as in the paper's SNGAN-projection and in BigGAN. The embedding is
    initialised with Xavier-uniform, as in the authors' Chainer code.
    """

    def __init__(self, num_features: int, num_classes: int, spectral_norm: bool = False):
        super().__init__()
        if num_features < 1 or num_classes < 1:
            raise ValueError(f"num_features and num_classes must be >= 1, got {num_features}, {num_classes}")
        self.num_features, self.num_classes = num_features, num_classes
        self.linear = nn.Linear(num_features, 1)
        self.embed = nn.Embedding(num_classes, num_features)
        nn.init.xavier_uniform_(self.embed.weight)
        if spectral_norm:
            self.linear = nn.utils.spectral_norm(self.linear)
            self.embed = nn.utils.spectral_norm(self.embed)

    def forward(self, h: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if h.dim() != 2 or h.shape[1] != self.num_features:
            raise ValueError(f"ProjectionHead: features h must be (N, {self.num_features}), got {tuple(h.shape)}")
        check_labels(y, self.num_classes, len(h), "ProjectionHead")
        return self.linear(h).squeeze(1) + (self.embed(y) * h).sum(dim=1)
