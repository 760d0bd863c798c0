r"""Spectral normalisation (Miyato et al. 2018), written by hand for teaching.

A layer with weight :math:`W` is :math:`\sigma(W)`-Lipschitz, where :math:`\sigma(W)` is its
largest singular value. Spectral normalisation divides the weight by an estimate of it,

.. math:: \bar W = W / \sigma(W), \qquad \sigma(W) \approx u^\top W v,

so every layer (and therefore the discriminator, a composition of them with 1-Lipschitz
activations) is roughly 1-Lipschitz. :math:`u` and :math:`v` come from the **power
iteration**, one step per forward pass in training, kept between passes as buffers:

.. math:: v \leftarrow \frac{W^\top u}{\lVert W^\top u\rVert}, \quad u \leftarrow \frac{W v}{\lVert W v\rVert}

(PyTorch updates :math:`u` from :math:`v` first, then :math:`v` from :math:`u`; we do the same,
so that the two give identical outputs from the same buffers). Because :math:`W` changes
little per optimiser step, one step per forward pass tracks :math:`\sigma(W)` well.

The models of this book use PyTorch's ``torch.nn.utils.parametrizations.spectral_norm``
(:func:`apply_spectral_norm`); :class:`SpectralNorm` is the same computation in a dozen lines,
and a test checks that the two agree.
"""

from __future__ import annotations

from typing import Dict, Iterable

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrize

__all__ = ["SpectralNorm", "spectral_norm", "apply_spectral_norm", "largest_singular_value", "top_singular_values"]


def _as_matrix(weight: torch.Tensor, dim: int) -> torch.Tensor:
    """``(out, in, kh, kw)`` or ``(out, in)`` -> ``(out, in*kh*kw)``, with axis ``dim`` first."""
    if dim != 0:
        weight = weight.movedim(dim, 0)
    return weight.flatten(1)


def largest_singular_value(weight: torch.Tensor, dim: int = 0) -> float:
    """The exact :math:`\\sigma(W)` of the weight seen as a matrix (an SVD; for checking)."""
    return float(torch.linalg.svdvals(_as_matrix(weight.detach(), dim).double())[0])


class SpectralNorm(nn.Module):
    r"""A parametrisation ``W -> W / (u^T W v)`` with a persistent power-iteration state.

    Register it with :func:`spectral_norm`. Buffers ``_u`` (out,) and ``_v`` (in*kh*kw,) have
    the names PyTorch uses, so the state of one can be copied into the other.

    - training mode: ``n_power_iterations`` steps of the power iteration, then normalise;
    - eval mode: no update, normalise with the stored ``u`` and ``v``.
    """

    def __init__(
        self,
        weight: torch.Tensor,
        n_power_iterations: int = 1,
        dim: int = 0,
        eps: float = 1e-12,
        init_iterations: int = 15,
    ):
        super().__init__()
        if weight.dim() < 2:
            raise ValueError(f"spectral norm needs a weight with >= 2 dimensions, got shape {tuple(weight.shape)}")
        if n_power_iterations < 1:
            raise ValueError(f"n_power_iterations must be >= 1, got {n_power_iterations}")
        self.dim, self.eps, self.n_power_iterations = dim, eps, n_power_iterations
        mat = _as_matrix(weight.detach(), dim)
        self.register_buffer("_u", F.normalize(mat.new_empty(mat.shape[0]).normal_(), dim=0, eps=eps))
        self.register_buffer("_v", F.normalize(mat.new_empty(mat.shape[1]).normal_(), dim=0, eps=eps))
        self._power_iteration(mat, init_iterations)  # start from good vectors

    @torch.no_grad()
    def _power_iteration(self, mat: torch.Tensor, steps: int) -> None:
        for _ in range(steps):
            # in place, so the buffers (and a DDP/DataParallel replica's) keep the update
            self._u.copy_(F.normalize(mat @ self._v, dim=0, eps=self.eps))
            self._v.copy_(F.normalize(mat.T @ self._u, dim=0, eps=self.eps))

    def sigma(self, weight: torch.Tensor) -> torch.Tensor:
        """The current estimate :math:`u^\\top W v` (no update)."""
        return torch.dot(self._u, _as_matrix(weight, self.dim) @ self._v)

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        mat = _as_matrix(weight, self.dim)
        if self.training:
            self._power_iteration(mat.detach(), self.n_power_iterations)
        # clones: D(real) and D(fake) may share one backward pass after two updates
        u, v = self._u.clone(), self._v.clone()
        return weight / torch.dot(u, mat @ v)


def spectral_norm(
    module: nn.Module, name: str = "weight", n_power_iterations: int = 1, dim: int | None = None, eps: float = 1e-12
) -> nn.Module:
    """Our spectral norm on ``module.<name>`` (``dim=1`` for transposed convolutions, as PyTorch)."""
    if not hasattr(module, name):
        raise ValueError(f"{type(module).__name__} has no parameter {name!r}")
    if dim is None:
        dim = 1 if isinstance(module, (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)) else 0
    parametrize.register_parametrization(
        module, name, SpectralNorm(getattr(module, name), n_power_iterations, dim, eps)
    )
    return module


_SN_TYPES = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose2d, nn.Embedding)


def apply_spectral_norm(module: nn.Module, eps: float = 1e-12, exclude: Iterable[nn.Module] = ()) -> nn.Module:
    """PyTorch's spectral norm on every Linear, Conv and Embedding weight inside ``module``.

    Embeddings count too: BigGAN spectrally normalises the projection discriminator's class
    embedding. ``exclude``: layers to leave plain; BigGAN's generator passes its *shared*
    class embedding (BigGAN-PyTorch keeps ``G.shared`` a plain ``nn.Embedding``: SN there
    "seems to randomly cripple G", says its code). Layers that already carry a
    parametrisation are left alone. Returns ``module``.
    """
    from torch.nn.utils.parametrizations import spectral_norm as torch_sn

    skip = {id(m) for m in exclude}
    for layer in list(module.modules()):
        if isinstance(layer, _SN_TYPES) and id(layer) not in skip and not parametrize.is_parametrized(layer, "weight"):
            torch_sn(layer, eps=eps)
    return module


@torch.no_grad()
def top_singular_values(module: nn.Module) -> Dict[str, float]:
    r"""``{layer name: sigma_0}`` of every spectrally normalised weight in ``module``, read from
    the power iteration's buffers: :math:`\sigma_0(W) \approx u^\top W v` of the *raw* weight
    (the one the optimiser moves), at the cost of one matrix-vector product per layer.

    BigGAN (section 4.1) watches these during training: in G the top singular values grow
    and explode at collapse; in D they spike. Works with PyTorch's parametrisation and ours
    (both keep ``_u`` and ``_v``).
    """
    out = {}
    for name, layer in module.named_modules():
        if not parametrize.is_parametrized(layer, "weight"):
            continue
        sn = layer.parametrizations.weight[0]
        if not (hasattr(sn, "_u") and hasattr(sn, "_v")):
            continue
        raw = layer.parametrizations.weight.original
        dim = getattr(sn, "dim", 0)
        out[name] = float(torch.dot(sn._u, _as_matrix(raw, dim) @ sn._v))
    return out
