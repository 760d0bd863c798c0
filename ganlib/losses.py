"""GAN losses as plain functions of the discriminator's raw outputs (logits).

Each ``d_loss_*`` takes D's outputs on real and on generated samples; each
``g_loss_*`` takes D's outputs on generated samples. Outputs may have any shape
(a PatchGAN gives a map of logits); every element counts as one decision and
the loss is the mean.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def d_loss_bce(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    r"""Discriminator loss of the original GAN (Goodfellow et al. 2014), from logits.

    .. math:: L_D = -\mathbb{E}[\log \sigma(D(x))] - \mathbb{E}[\log(1 - \sigma(D(G(z))))]

    ``binary_cross_entropy_with_logits`` evaluates it stably (log-sum-exp), where a
    Sigmoid followed by ``BCELoss`` loses precision and clamps log(0) to -100.
    """
    real = F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
    fake = F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
    return real + fake


def g_loss_nonsaturating(fake_logits: torch.Tensor) -> torch.Tensor:
    r"""Non-saturating generator loss (Goodfellow et al. 2014, section 3).

    .. math:: L_G = -\mathbb{E}[\log \sigma(D(G(z)))]

    Its gradient is large exactly when D confidently rejects the fakes, early in training.
    """
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))


def g_loss_saturating(fake_logits: torch.Tensor) -> torch.Tensor:
    r"""The minimax generator loss :math:`\mathbb{E}[\log(1 - \sigma(D(G(z))))]` (for teaching).

    It saturates: when D rejects the fakes, :math:`\sigma(D(G(z))) \approx 0` and the gradient vanishes.
    """
    return -F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))


def d_loss_lsgan(real_out: torch.Tensor, fake_out: torch.Tensor) -> torch.Tensor:
    r"""Least-squares GAN discriminator loss (Mao et al. 2017), as in the CycleGAN code.

    .. math:: L_D = \mathbb{E}[(D(x) - 1)^2] + \mathbb{E}[D(G(z))^2]

    The official pix2pix/CycleGAN code averages the two terms (``* 0.5``) in its
    training step; we keep the plain sum here and apply the 0.5 where the paper's code does.
    """
    return F.mse_loss(real_out, torch.ones_like(real_out)) + F.mse_loss(fake_out, torch.zeros_like(fake_out))


def g_loss_lsgan(fake_out: torch.Tensor) -> torch.Tensor:
    r"""Least-squares GAN generator loss :math:`\mathbb{E}[(D(G(z)) - 1)^2]` (Mao et al. 2017)."""
    return F.mse_loss(fake_out, torch.ones_like(fake_out))


def d_loss_hinge(real_out: torch.Tensor, fake_out: torch.Tensor) -> torch.Tensor:
    r"""Hinge discriminator loss (Lim & Ye 2017; used by SAGAN and BigGAN).

    .. math:: L_D = \mathbb{E}[\max(0, 1 - D(x))] + \mathbb{E}[\max(0, 1 + D(G(z)))]
    """
    return F.relu(1.0 - real_out).mean() + F.relu(1.0 + fake_out).mean()


def g_loss_hinge(fake_out: torch.Tensor) -> torch.Tensor:
    r"""Hinge generator loss :math:`-\mathbb{E}[D(G(z))]` (SAGAN, BigGAN)."""
    return -fake_out.mean()


GAN_MODES = {
    "vanilla": (d_loss_bce, g_loss_nonsaturating),  # pix2pix's default
    "lsgan": (d_loss_lsgan, g_loss_lsgan),  # CycleGAN's and BicycleGAN's default
    "hinge": (d_loss_hinge, g_loss_hinge),  # SAGAN, BigGAN
}


def gan_losses(mode: str):
    """``(d_loss, g_loss)`` for a GAN objective named as in the official code's ``--gan_mode``."""
    try:
        return GAN_MODES[mode]
    except KeyError:
        raise ValueError(f"gan_mode must be one of {sorted(GAN_MODES)}, got {mode!r}") from None
