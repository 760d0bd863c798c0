"""The original GAN (Goodfellow et al. 2014) with multilayer perceptrons: the introduction's model."""

from __future__ import annotations

import dataclasses
from typing import Dict

import torch
from torch import nn

from ..losses import d_loss_bce, g_loss_nonsaturating, g_loss_saturating

__all__ = ["MLPGenerator", "MLPDiscriminator", "gan_step", "IntroRunConfig", "G_LOSSES"]

#: The two generator losses of Goodfellow et al. 2014: the minimax ("saturating") form
#: :math:`\mathbb{E}[\log(1 - \sigma(D(G(z))))]` and the non-saturating :math:`-\mathbb{E}[\log \sigma(D(G(z)))]`.
G_LOSSES = {"nonsaturating": g_loss_nonsaturating, "saturating": g_loss_saturating}


class MLPGenerator(nn.Module):
    """``G(z)``: ``(N, z_dim) -> (N, out_dim)``; ``out_activation`` "tanh" for images in [-1, 1]."""

    def __init__(
        self, z_dim: int = 2, out_dim: int = 2, hidden: int = 128, layers: int = 3, out_activation: str = "none"
    ):
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


def gan_step(
    G: nn.Module,
    D: nn.Module,
    opt_g: torch.optim.Optimizer,
    opt_d: torch.optim.Optimizer,
    real: torch.Tensor,
    g_loss: str = "nonsaturating",
) -> Dict[str, torch.Tensor]:
    """One step of Algorithm 1 of Goodfellow et al. 2014, with the non-saturating G loss.

    1. D ascends :math:`\\log D(x) + \\log(1 - D(G(z)))` (``d_loss_bce``), fakes detached.
    2. G descends :math:`-\\log D(G(z))` on fresh noise (``g_loss_nonsaturating``);
       ``g_loss="saturating"`` descends the minimax form :math:`\\log(1 - D(G(z)))` instead.
    """
    if g_loss not in G_LOSSES:
        raise ValueError(f"g_loss must be one of {sorted(G_LOSSES)}, got {g_loss!r}")
    z = torch.randn(len(real), G.z_dim, device=real.device)
    fake = G(z)
    d_loss = d_loss_bce(D(real), D(fake.detach()))
    opt_d.zero_grad(set_to_none=True)
    d_loss.backward()
    opt_d.step()

    z = torch.randn(len(real), G.z_dim, device=real.device)
    loss_g = G_LOSSES[g_loss](D(G(z)))
    opt_g.zero_grad(set_to_none=True)
    loss_g.backward()
    opt_g.step()
    return {"d_loss": d_loss.detach(), "g_loss": loss_g.detach()}


# --------------------------------------------------------------------------- seeded runs (ganlib.runs)


@dataclasses.dataclass(frozen=True)
class IntroRunConfig:
    """One run of chapter 0's GAN: on the 2-D ring or on the 8x8 digits, with either G loss."""

    data: str = "ring"  # "ring" (8 Gaussians) or "digits" (8x8, flattened)
    g_loss: str = "nonsaturating"  # or "saturating" (the minimax form)
    steps: int = 2000
    batch_size: int = 256
    z_dim: int = 8
    hidden: int = 128
    lr: float = 1e-3  # Adam, beta1 = 0.5 (Radford et al. 2016)
    n_eval: int = 5000  # samples measured


def train(config: IntroRunConfig, seed: int):
    """Train chapter 0's GAN from ``seed`` (data order, weights, noise); return ``(G, D)``."""
    from ..data import TensorBatches
    from ..train import GANTrainer, fit
    from ..utils import seed_everything

    if config.data not in ("ring", "digits"):
        raise ValueError(f"data must be 'ring' or 'digits', got {config.data!r}")
    if config.g_loss not in G_LOSSES:
        raise ValueError(f"g_loss must be one of {sorted(G_LOSSES)}, got {config.g_loss!r}")
    seed_everything(seed)
    if config.data == "ring":
        from ..data.toy2d import ring_of_gaussians

        data, dim, out = ring_of_gaussians(20000, seed=seed), 2, "none"
    else:
        from ..data.digits import load_digits

        data, dim, out = load_digits(8)[0].flatten(1), 64, "tanh"
    G = MLPGenerator(z_dim=config.z_dim, out_dim=dim, hidden=config.hidden, out_activation=out)
    D = MLPDiscriminator(in_dim=dim, hidden=config.hidden)
    opt_g = torch.optim.Adam(G.parameters(), lr=config.lr, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=config.lr, betas=(0.5, 0.999))
    fit(
        GANTrainer(G, D, opt_g, opt_d, gan_step, g_loss=config.g_loss),
        TensorBatches(data, batch_size=config.batch_size, seed=seed),
        config.steps,
        progress=False,
    )
    return G, D


@torch.no_grad()
def measure(G: nn.Module, config: IntroRunConfig, seed: int = 0) -> Dict[str, float]:
    """Chapter 0's numbers for a generator, on ``config.n_eval`` samples drawn with ``seed``.

    ring: ``modes_covered`` (of 8) and ``high_quality`` (fraction within 3 std of a centre).
    digits: with the 8 px judge classifier, ``classes_covered`` (classes given >= 5 % of the
    samples, of 10), ``class_spread`` (exp of the entropy of the judged classes: 10 when every
    class is drawn equally often, 1 when only one is) and ``confidence`` (the judge's mean
    top probability: low for blobs that look like no digit).
    """
    z = torch.randn(config.n_eval, G.z_dim, generator=torch.Generator().manual_seed(seed))
    samples = G.eval()(z)
    if config.data == "ring":
        from ..data.toy2d import ring_mode_coverage

        return {k: float(v) for k, v in ring_mode_coverage(samples).items()}
    return judge_unconditional(samples.view(-1, 1, 8, 8))


def judge_unconditional(images: torch.Tensor) -> Dict[str, float]:
    """The 8 px judge's view of unconditional digit samples ``(N, 1, 8, 8)``: see :func:`measure`."""
    from ..classifier import pretrained_classifier

    judge = pretrained_classifier("digits", image_size=8)
    with torch.no_grad():
        p = judge.eval()(images).softmax(1)
    share = torch.bincount(p.argmax(1), minlength=10).double() / len(images)
    entropy = -(share[share > 0] * share[share > 0].log()).sum()
    return {
        "classes_covered": float((share >= 0.05).sum()),
        "class_spread": float(entropy.exp()),
        "confidence": float(p.max(1).values.mean()),
    }


def train_and_measure(config: IntroRunConfig, seed: int) -> Dict[str, float]:
    """``ganlib.runs`` entry point: train from ``seed`` and measure; a dict of floats."""
    G, _ = train(config, seed)
    return measure(G, config, seed)
