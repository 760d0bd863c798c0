r"""BigGAN's orthogonal regularisation (Brock et al. 2019, section 3.1).

BigGAN relaxes the full orthogonality penalty :math:`\beta\lVert W^\top W - I\rVert_F^2` to one
that only pushes *different* filters apart, leaving their norms free:

.. math:: R_\beta(W) = \beta\,\big\lVert W W^\top \odot (\mathbf 1 - I)\big\rVert_F^2

with :math:`W` a layer's weight seen as a matrix ``(out, in*kh*kw)`` (one row per filter), and
:math:`\beta = 10^{-4}`. It makes G amenable to the truncation trick.

**Gradient convention.** The gradient of the paper's term is
:math:`4\beta\,(W W^\top \odot (\mathbf 1 - I))\,W`, but BigGAN's public PyTorch code adds
:math:`2\beta\,(W W^\top \odot (\mathbf 1 - I))\,W` to ``W.grad`` (``utils.ortho``) with its
``G_ortho = beta``. :func:`orthogonal_regularization` returns :math:`\tfrac{\beta}{2}\lVert\cdot\rVert_F^2`,
so that autograd adds **exactly what the official code adds** for the same ``beta``.
"""

from __future__ import annotations

from typing import Iterable, Tuple

import torch
from torch import nn

__all__ = ["orthogonal_penalty", "orthogonal_regularization", "ortho_weights"]


def orthogonal_penalty(weight: torch.Tensor) -> torch.Tensor:
    r""":math:`\lVert W W^\top \odot (1 - I)\rVert_F^2` for ``weight`` ``(out, ...)`` seen as ``(out, -1)``."""
    w = weight.flatten(1)
    gram = w @ w.T
    off_diagonal = gram * (1 - torch.eye(w.shape[0], device=w.device, dtype=w.dtype))
    return (off_diagonal**2).sum()


def ortho_weights(module: nn.Module, skip: Tuple[str, ...] = ("shared",)) -> Iterable[torch.Tensor]:
    """The weights BigGAN regularises: every parameter with >= 2 dimensions, except the shared
    class embedding (names containing an entry of ``skip``; BigGAN's code blacklists ``G.shared``)."""
    for name, p in module.named_parameters():
        if p.dim() >= 2 and p.requires_grad and not any(s in name for s in skip):
            yield p


def orthogonal_regularization(
    module: nn.Module, beta: float = 1e-4, skip: Tuple[str, ...] = ("shared",)
) -> torch.Tensor:
    r""":math:`\tfrac{\beta}{2}\sum_W \lVert W W^\top \odot (1 - I)\rVert_F^2` over :func:`ortho_weights`.

    Add it to G's loss. Its gradient, :math:`2\beta (W W^\top \odot (1-I)) W` per weight, is what
    BigGAN's PyTorch code adds with ``G_ortho = beta`` (half the gradient of the paper's
    :math:`\beta\lVert\cdot\rVert_F^2`; see the module docstring).
    """
    if beta < 0:
        raise ValueError(f"beta must be >= 0, got {beta}")
    terms = [orthogonal_penalty(w) for w in ortho_weights(module, skip)]
    if not terms:
        raise ValueError(f"{type(module).__name__} has no weight with >= 2 dimensions to regularise")
    return 0.5 * beta * torch.stack(terms).sum()
