"""Conditional GAN (Mirza & Osindero 2014) and the projection discriminator (Miyato & Koyama 2018).

Both networks see the label ``y``: ``G(z, y)`` draws an image of class ``y`` and
``D(x, y)`` judges whether ``x`` is a real image *of class y*. The paper joins
the label to the inputs (a one-hot vector concatenated with ``z``, and with the
flattened image); the projection discriminator instead adds the inner product
of a class embedding with D's features to its output, which is the form later
class-conditional GANs (SNGAN, BigGAN) use.
"""

from __future__ import annotations

from typing import Dict, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from ..losses import d_loss_bce, g_loss_nonsaturating
from ..utils import batched, eval_mode
from .blocks.bodies import conv_body, mlp_body, num_upsamplings
from .blocks.labels import check_images, check_labels, check_step_inputs, generate_with_labels, sample_labels
from .blocks.projection import ProjectionHead

__all__ = [
    "ProjectionHead",
    "check_labels",
    "check_step_inputs",
    "generate_with_labels",
    "LabelEncoder",
    "MLPConditionalGenerator",
    "MLPConditionalDiscriminator",
    "ConvConditionalGenerator",
    "ConvConditionalDiscriminator",
    "ProjectionDiscriminator",
    "MLPProjectionDiscriminator",
    "cgan_d_loss",
    "cgan_g_loss",
    "cgan_step",
    "sample_labels",
    "generate_per_class",
]


class LabelEncoder(nn.Module):
    """Turn labels ``(N,)`` into vectors ``(N, dim)``: a fixed one-hot (``dim = K``, as in
    Mirza & Osindero) or a learned embedding (``nn.Embedding(K, dim)``, as in most later code)."""

    def __init__(self, num_classes: int, mode: str = "onehot", dim: int = None):
        super().__init__()
        if mode not in ("onehot", "embedding"):
            raise ValueError(f"label mode must be 'onehot' or 'embedding', got {mode!r}")
        self.num_classes, self.mode = num_classes, mode
        self.dim = num_classes if mode == "onehot" else (dim or num_classes)
        self.embed = nn.Embedding(num_classes, self.dim) if mode == "embedding" else None

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        if self.mode == "onehot":
            return F.one_hot(y, self.num_classes).float()
        return self.embed(y)


class MLPConditionalGenerator(nn.Module):
    r"""``G(z, y)`` of Mirza & Osindero (2014) as an MLP: ``[z, onehot(y)] -> image``.

    .. math:: x = \tanh(W_L\,\mathrm{ReLU}(\dots \mathrm{ReLU}(W_1 [z; e(y)])))

    ``z``: ``(N, z_dim)``, ``y``: ``(N,)`` long -> ``(N, channels, image_size, image_size)`` in [-1, 1].
    (The paper maps z and y through separate hidden layers of 200 and 1000 units before
    joining them; joining them at the input is the simpler equivalent used in most code.)
    ``batch_norm=False`` drops the batch norm after each hidden layer (as chapter 0's
    ``MLPGenerator``; used for 2-D toy data).
    """

    def __init__(
        self,
        z_dim: int = 64,
        num_classes: int = 10,
        image_size: int = 16,
        channels: int = 1,
        hidden: int = 256,
        layers: int = 3,
        label_mode: str = "onehot",
        embed_dim: int = None,
        batch_norm: bool = True,
    ):
        super().__init__()
        self.z_dim, self.num_classes, self.image_size, self.channels = z_dim, num_classes, image_size, channels
        self.label = LabelEncoder(num_classes, label_mode, embed_dim)
        blocks, width = [], z_dim + self.label.dim
        for _ in range(layers - 1):
            norm = [nn.BatchNorm1d(hidden)] if batch_norm else []
            blocks += [nn.Linear(width, hidden), *norm, nn.ReLU()]
            width = hidden
        blocks += [nn.Linear(width, channels * image_size * image_size), nn.Tanh()]
        self.net = nn.Sequential(*blocks)

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if z.dim() != 2 or z.shape[1] != self.z_dim:
            raise ValueError(f"z must be (N, {self.z_dim}), got {tuple(z.shape)}")
        check_labels(y, self.num_classes, len(z), type(self).__name__)
        h = torch.cat([z, self.label(y)], dim=1)  # the label joined to the noise
        return self.net(h).view(len(z), self.channels, self.image_size, self.image_size)


class MLPConditionalDiscriminator(nn.Module):
    r"""``D(x, y)`` of Mirza & Osindero (2014) as an MLP: ``[flatten(x), onehot(y)] -> logit``.

    ``x``: ``(N, C, S, S)``, ``y``: ``(N,)`` long -> logits ``(N,)`` (no Sigmoid). The paper
    used maxout units; LeakyReLU(0.2) is the usual modern stand-in.
    """

    def __init__(
        self, num_classes: int = 10, image_size: int = 16, channels: int = 1, hidden: int = 256, layers: int = 3
    ):
        super().__init__()
        self.num_classes, self.image_size, self.channels = num_classes, image_size, channels
        blocks, width = [], channels * image_size * image_size + num_classes
        for _ in range(layers - 1):
            blocks += [nn.Linear(width, hidden), nn.LeakyReLU(0.2)]
            width = hidden
        blocks.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        check_images(x, self.channels, self.image_size, type(self).__name__)
        check_labels(y, self.num_classes, len(x), type(self).__name__)
        h = torch.cat([x.flatten(1), F.one_hot(y, self.num_classes).float()], dim=1)
        return self.net(h).squeeze(1)


class ConvConditionalGenerator(nn.Module):
    r"""A DCGAN-style ``G(z, y)``: ``[z, e(y)] -> linear -> 4x4 map -> (upsample 2x, conv, BN, ReLU)* -> tanh``.

    ``z``: ``(N, z_dim)``, ``y``: ``(N,)`` long -> ``(N, channels, image_size, image_size)`` in [-1, 1].
    Widths halve at every stage, starting from ``ngf * 2**(stages-1)``; ``label_mode``
    "onehot" (default) or "embedding" says how ``y`` is turned into ``e(y)``. The default is
    the one-hot label of chapter 1: a learned embedding as large as ``z`` (``embed_dim``
    defaults to ``z_dim``) can let G ignore ``z`` and draw one image per class.
    Used by chapter 1 (cGAN) and chapter 2 (AC-GAN) alike.
    """

    def __init__(
        self,
        z_dim: int = 64,
        num_classes: int = 10,
        image_size: int = 16,
        channels: int = 1,
        ngf: int = 64,
        label_mode: str = "onehot",
        embed_dim: int = None,
    ):
        super().__init__()
        self.z_dim, self.num_classes, self.image_size, self.channels = z_dim, num_classes, image_size, channels
        stages = num_upsamplings(image_size, type(self).__name__)
        self.label = LabelEncoder(num_classes, label_mode, embed_dim or z_dim)
        width = ngf * 2 ** (stages - 1)
        self.project = nn.Sequential(
            nn.Linear(z_dim + self.label.dim, width * 16),
            nn.Unflatten(1, (width, 4, 4)),
            nn.BatchNorm2d(width),
            nn.ReLU(),
        )
        blocks = []
        for i in range(stages):
            last = i == stages - 1
            out = channels if last else width // 2
            blocks += [nn.ConvTranspose2d(width, out, 4, stride=2, padding=1, bias=last)]
            blocks += [nn.Tanh()] if last else [nn.BatchNorm2d(out), nn.ReLU()]
            width = out
        self.net = nn.Sequential(*blocks)

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if z.dim() != 2 or z.shape[1] != self.z_dim:
            raise ValueError(f"z must be (N, {self.z_dim}), got {tuple(z.shape)}")
        check_labels(y, self.num_classes, len(z), type(self).__name__)
        return self.net(self.project(torch.cat([z, self.label(y)], dim=1)))


class ConvConditionalDiscriminator(nn.Module):
    r"""``D(x, y)`` with the label joined to the input: one-hot maps as ``K`` extra channels.

    ``[x, onehot(y) broadcast to S x S] -> strided convs -> flatten -> linear -> logit``.
    ``x``: ``(N, C, S, S)``, ``y``: ``(N,)`` long -> logits ``(N,)``. This is the
    convolutional form of Mirza & Osindero's "label joined to the input".
    ``pooling="sum"`` sums the last 4x4 map over space instead of flattening it, as
    :class:`ProjectionDiscriminator` does: the two then differ only in where the label enters.
    """

    def __init__(
        self,
        num_classes: int = 10,
        image_size: int = 16,
        channels: int = 1,
        ndf: int = 64,
        spectral_norm: bool = False,
        pooling: str = "flatten",
    ):
        super().__init__()
        if pooling not in ("flatten", "sum"):
            raise ValueError(f"pooling must be 'flatten' or 'sum', got {pooling!r}")
        self.num_classes, self.image_size, self.channels, self.pooling = num_classes, image_size, channels, pooling
        self.body = conv_body(channels + num_classes, image_size, ndf, spectral_norm, type(self).__name__)
        width = ndf * 2 ** (len(self.body) // 2 - 1)
        linear = nn.Linear(width * 16 if pooling == "flatten" else width, 1)
        self.out = nn.utils.spectral_norm(linear) if spectral_norm else linear

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        check_images(x, self.channels, self.image_size, type(self).__name__)
        check_labels(y, self.num_classes, len(x), type(self).__name__)
        maps = F.one_hot(y, self.num_classes).float()[:, :, None, None].expand(-1, -1, *x.shape[-2:])
        h = self.body(torch.cat([x, maps], dim=1))
        h = h.flatten(1) if self.pooling == "flatten" else h.sum(dim=(2, 3))
        return self.out(h).squeeze(1)


class ProjectionDiscriminator(nn.Module):
    r"""The projection discriminator (Miyato & Koyama 2018): ``D(x, y) = w^T h + embed(y)^T h``.

    ``h = phi(x)``: strided convs on the image alone, LeakyReLU, then global sum pooling
    (as in the authors' code) to ``(N, F)``; :class:`ProjectionHead` adds the class term.
    ``x``: ``(N, C, S, S)``, ``y``: ``(N,)`` long -> logits ``(N,)``.
    """

    def __init__(
        self, num_classes: int = 10, image_size: int = 16, channels: int = 1, ndf: int = 64, spectral_norm: bool = True
    ):
        super().__init__()
        self.num_classes, self.image_size, self.channels = num_classes, image_size, channels
        self.body = conv_body(channels, image_size, ndf, spectral_norm, type(self).__name__)
        self.num_features = ndf * 2 ** (len(self.body) // 2 - 1)
        self.head = ProjectionHead(self.num_features, num_classes, spectral_norm=spectral_norm)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """``phi(x)``: ``(N, F)`` after global sum pooling."""
        check_images(x, self.channels, self.image_size, type(self).__name__)
        return self.body(x).sum(dim=(2, 3))

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x), y)


class MLPProjectionDiscriminator(nn.Module):
    r"""The projection discriminator with chapter 1's MLP body: ``D(x, y) = w^T h + embed(y)^T h``.

    ``h = phi(x)``: the hidden layers of :class:`MLPConditionalDiscriminator` on ``flatten(x)``
    alone (LeakyReLU 0.2); :class:`ProjectionHead` adds the class term. Next to the MLP cGAN's
    D it differs only in where the label enters (the output instead of the input).
    """

    def __init__(
        self, num_classes: int = 10, image_size: int = 16, channels: int = 1, hidden: int = 256, layers: int = 3
    ):
        super().__init__()
        self.num_classes, self.image_size, self.channels = num_classes, image_size, channels
        self.body, width = mlp_body(channels * image_size * image_size, hidden, layers)
        self.head = ProjectionHead(width, num_classes)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        check_images(x, self.channels, self.image_size, type(self).__name__)
        return self.head(self.body(x.flatten(1)), y)


# --------------------------------------------------------------------------- losses and training step


def cgan_d_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    r"""The conditional GAN's discriminator loss (Mirza & Osindero 2014, eq. 2), from logits.

    .. math:: L_D = -\mathbb{E}_{x,y}[\log \sigma(D(x, y))] - \mathbb{E}_{z,y}[\log(1 - \sigma(D(G(z, y), y)))]

    The label changes what D sees, not the loss: this is :func:`ganlib.losses.d_loss_bce`
    (``binary_cross_entropy_with_logits``, stable; no Sigmoid + ``BCELoss``).
    """
    return d_loss_bce(real_logits, fake_logits)


def cgan_g_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    r"""Non-saturating generator loss :math:`-\mathbb{E}_{z,y}[\log \sigma(D(G(z, y), y))]`
    (:func:`ganlib.losses.g_loss_nonsaturating`)."""
    return g_loss_nonsaturating(fake_logits)


def cgan_step(
    G: nn.Module,
    D: nn.Module,
    opt_g: torch.optim.Optimizer,
    opt_d: torch.optim.Optimizer,
    real: torch.Tensor,
    labels: torch.Tensor,
) -> Dict[str, torch.Tensor]:
    """One training step of a conditional GAN (Algorithm 1 of Goodfellow et al., with labels).

    1. Draw labels ``y_fake`` uniformly and ``z``; make ``G(z, y_fake)``.
    2. D descends ``cgan_d_loss(D(real, labels), D(fake, y_fake))``: real images with their own
       labels, fakes (detached) with the labels they were generated for.
    3. G descends ``cgan_g_loss(D(G(z, y), y))`` on fresh ``z`` and ``y``.

    ``real``: ``(N, C, S, S)``; ``labels``: ``(N,)`` long. Returns the two losses.
    """
    check_step_inputs(G, D, real, labels, "cgan_step")
    fake, y_fake = generate_with_labels(G, len(real), D.num_classes, real.device)
    d_loss = cgan_d_loss(D(real, labels), D(fake.detach(), y_fake))
    opt_d.zero_grad(set_to_none=True)
    d_loss.backward()
    opt_d.step()

    fake, y_fake = generate_with_labels(G, len(real), D.num_classes, real.device)
    g_loss = cgan_g_loss(D(fake, y_fake))
    opt_g.zero_grad(set_to_none=True)
    g_loss.backward()
    opt_g.step()
    return {"d_loss": d_loss.detach(), "g_loss": g_loss.detach()}


@torch.no_grad()
def generate_per_class(
    G: nn.Module, n_per_class: int, seed: int = 0, batch_size: int = 500, device=None
) -> Tuple[torch.Tensor, torch.Tensor]:
    """``n_per_class`` samples of every class from ``G`` in eval mode, with a fixed noise seed.

    Returns ``(images, labels)``: ``(K * n, C, S, S)`` on the CPU, labels ``0..0, 1..1, ...``.
    """
    device = device or next(G.parameters()).device
    labels = torch.arange(G.num_classes).repeat_interleave(n_per_class)
    z = torch.randn(len(labels), G.z_dim, generator=torch.Generator().manual_seed(seed))
    with eval_mode(G):
        return batched(G, z, labels, batch_size=batch_size, device=device), labels
