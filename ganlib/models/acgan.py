r"""AC-GAN: the auxiliary classifier GAN (Odena, Olah & Shlens 2017).

The generator is conditional, ``G(z, c)``, but the discriminator does not see the
label: it has two heads on shared features, a source head ``P(S = real | x)``
and a class head ``P(C | x)``. With

.. math::
    L_S = \mathbb{E}[\log P(S{=}real \mid x_{real})] + \mathbb{E}[\log P(S{=}fake \mid x_{fake})]

    L_C = \mathbb{E}[\log P(C{=}c \mid x_{real})] + \mathbb{E}[\log P(C{=}c \mid x_{fake})]

D maximises :math:`L_S + L_C` and G maximises :math:`L_C - L_S` (paper, eqs. 2-3). As
losses to minimise: D minimises BCE(source) + CE(class on real) + CE(class on fake);
G minimises the non-saturating ``-log P(S=real | G(z,c))`` plus CE(class on fake).
The class term on fakes is computed with the labels the fakes were generated for.

Known weakness: G is rewarded for samples that are *easy to classify*, so it
drifts towards the class prototypes and loses diversity within a class
(Shu, Bui & Ermon 2017; Gong et al. 2019, "Twin Auxiliary Classifiers GAN").
"""

from __future__ import annotations

from typing import Dict, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from ..losses import d_loss_bce, g_loss_nonsaturating
from .blocks.bodies import conv_body, mlp_body
from .blocks.labels import check_images, check_labels, check_step_inputs, generate_with_labels

__all__ = [
    "AuxiliaryHeads",
    "MLPACGANDiscriminator",
    "ConvACGANDiscriminator",
    "acgan_class_loss",
    "acgan_d_loss",
    "acgan_g_loss",
    "acgan_step",
]


class AuxiliaryHeads(nn.Module):
    """The two heads of AC-GAN's D on shared features ``h`` ``(N, F)``.

    Returns ``(source_logits (N,), class_logits (N, K))``: raw logits, no Sigmoid and
    no Softmax (the losses apply them; a Softmax here before ``cross_entropy`` would be a
    double softmax).
    """

    def __init__(self, num_features: int, num_classes: int):
        super().__init__()
        self.source = nn.Linear(num_features, 1)
        self.classes = nn.Linear(num_features, num_classes)

    def forward(self, h: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        return self.source(h).squeeze(1), self.classes(h)


class MLPACGANDiscriminator(nn.Module):
    """AC-GAN's D as an MLP: ``flatten(x) -> hidden layers (LeakyReLU 0.2) -> AuxiliaryHeads``.

    ``x``: ``(N, C, S, S)`` -> ``(source (N,), class_logits (N, K))``. The same body as
    :class:`~ganlib.models.cgan.MLPConditionalDiscriminator`, without the label input.
    """

    def __init__(
        self, num_classes: int = 10, image_size: int = 16, channels: int = 1, hidden: int = 256, layers: int = 3
    ):
        super().__init__()
        self.num_classes, self.image_size, self.channels = num_classes, image_size, channels
        self.body, width = mlp_body(channels * image_size * image_size, hidden, layers)
        self.heads = AuxiliaryHeads(width, num_classes)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        check_images(x, self.channels, self.image_size, type(self).__name__)
        return self.heads(self.body(x.flatten(1)))


class ConvACGANDiscriminator(nn.Module):
    """AC-GAN's D with strided convs (LeakyReLU 0.2) down to 4x4, flatten, ``AuxiliaryHeads``.

    ``x``: ``(N, C, S, S)`` -> ``(source (N,), class_logits (N, K))``.
    """

    def __init__(
        self, num_classes: int = 10, image_size: int = 16, channels: int = 1, ndf: int = 64, spectral_norm: bool = False
    ):
        super().__init__()
        self.num_classes, self.image_size, self.channels = num_classes, image_size, channels
        self.body = nn.Sequential(
            conv_body(channels, image_size, ndf, spectral_norm, type(self).__name__), nn.Flatten()
        )
        width = ndf * 2 ** (len(self.body[0]) // 2 - 1) * 16
        self.heads = AuxiliaryHeads(width, num_classes)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        check_images(x, self.channels, self.image_size, type(self).__name__)
        return self.heads(self.body(x))


def acgan_class_loss(class_logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    r"""Minus one term of :math:`L_C`: :math:`-\mathbb{E}[\log P(C = c \mid x)]`, i.e. cross-entropy.

    ``class_logits``: ``(N, K)`` raw logits (``cross_entropy`` applies log-softmax itself);
    ``labels``: ``(N,)`` long, the true classes of real images or the classes fakes were made for.
    """
    if class_logits.dim() != 2:
        raise ValueError(f"class_logits must be (N, K), got {tuple(class_logits.shape)}")
    check_labels(labels, class_logits.shape[1], len(class_logits), "acgan_class_loss")
    return F.cross_entropy(class_logits, labels)


def acgan_d_loss(
    real_source: torch.Tensor,
    fake_source: torch.Tensor,
    real_class_logits: torch.Tensor,
    real_labels: torch.Tensor,
    fake_class_logits: torch.Tensor,
    fake_labels: torch.Tensor,
) -> torch.Tensor:
    r"""AC-GAN's discriminator loss :math:`-(L_S + L_C)`.

    .. math:: L_D = \mathrm{BCE}(s_{real}, 1) + \mathrm{BCE}(s_{fake}, 0)
              + \mathrm{CE}(c_{real}, y_{real}) + \mathrm{CE}(c_{fake}, y_{fake})

    The class loss applies to real images (with their labels) *and* to generated ones
    (with the labels they were generated for), as in the paper.
    """
    return (
        d_loss_bce(real_source, fake_source)
        + acgan_class_loss(real_class_logits, real_labels)
        + acgan_class_loss(fake_class_logits, fake_labels)
    )


def acgan_g_loss(fake_source: torch.Tensor, fake_class_logits: torch.Tensor, fake_labels: torch.Tensor) -> torch.Tensor:
    r"""AC-GAN's generator loss: G maximises :math:`L_C - L_S`, in the non-saturating form

    .. math:: L_G = -\mathbb{E}[\log \sigma(s_{fake})] + \mathrm{CE}(c_{fake}, y_{fake})
    """
    return g_loss_nonsaturating(fake_source) + acgan_class_loss(fake_class_logits, fake_labels)


def acgan_step(
    G: nn.Module,
    D: nn.Module,
    opt_g: torch.optim.Optimizer,
    opt_d: torch.optim.Optimizer,
    real: torch.Tensor,
    labels: torch.Tensor,
    real_class_loss: bool = True,
) -> Dict[str, torch.Tensor]:
    """One AC-GAN training step.

    1. Draw ``y_fake`` uniformly and ``z``; ``fake = G(z, y_fake)``.
    2. D descends :func:`acgan_d_loss` on ``D(real)`` with ``labels`` and ``D(fake.detach())``
       with ``y_fake`` (the labels the fakes were made for, never the real batch's labels).
    3. G descends :func:`acgan_g_loss` on fresh ``z, y``.

    Returns ``d_loss``, ``g_loss`` and, for the curves, D's class loss on real images ``d_class_real``.
    ``real_class_loss=False`` drops D's class loss on real images (chapter 2's pitfall 3: the
    class head then learns classes only from G's samples); never use it to train.
    """
    check_step_inputs(G, D, real, labels, "acgan_step")
    fake, y_fake = generate_with_labels(G, len(real), D.num_classes, real.device)
    real_source, real_cls = D(real)
    fake_source, fake_cls = D(fake.detach())
    if real_class_loss:
        d_loss = acgan_d_loss(real_source, fake_source, real_cls, labels, fake_cls, y_fake)
    else:
        d_loss = d_loss_bce(real_source, fake_source) + acgan_class_loss(fake_cls, y_fake)
    opt_d.zero_grad(set_to_none=True)
    d_loss.backward()
    opt_d.step()

    fake, y_fake = generate_with_labels(G, len(real), D.num_classes, real.device)
    fake_source, fake_cls = D(fake)
    g_loss = acgan_g_loss(fake_source, fake_cls, y_fake)
    opt_g.zero_grad(set_to_none=True)
    g_loss.backward()
    opt_g.step()
    return {
        "d_loss": d_loss.detach(),
        "g_loss": g_loss.detach(),
        "d_class_real": F.cross_entropy(real_cls.detach(), labels),
    }
