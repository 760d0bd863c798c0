r"""SAGAN (Zhang et al. 2019) and BigGAN (Brock, Donahue & Simonyan 2019), every trick a switch.

One residual generator and one residual projection discriminator (the SNGAN/BigGAN
architecture); :class:`BigGANConfig` turns the tricks on one at a time:

==========================  ==========================================================
``spectral_norm``           spectral normalisation of every weight in G and D (SAGAN)
``gan_mode``                ``"vanilla"`` (BCE, non-saturating G) or ``"hinge"`` (SAGAN, BigGAN), as in
                            :func:`ganlib.losses.gan_losses`
``lr_g, lr_d, betas``       TTUR: G 1e-4, D 4e-4 (SAGAN); Adam betas (0, 0.999): BigGAN's and the
                            official SAGAN code's (the SAGAN paper writes beta2 = 0.9)
``attention``               one :class:`~ganlib.nn.SelfAttention` block in G and in D, at ``attn_res``
``cbn``                     conditional batch norm fed by a *shared* class embedding (BigGAN);
                            off: the embedding is concatenated with z at G's input (cGAN style)
``hierarchical_z``          z split into chunks, one per residual block, joined to the CBN input
``ema``                     an exponential moving average of G's weights, used for sampling
``ortho_beta``              BigGAN's orthogonal regularisation of G (0 = off)
``d_steps``                 D steps per G step (BigGAN: 2 on ImageNet, 4 on CIFAR)
==========================  ==========================================================

Generator (``image_size`` S in 16/32/64, ``B = log2(S/4)`` blocks of width ``g_width``)::

    z (N, z_dim) --split--> [z_0, z_1..z_B]          y (N,) --shared embedding--> e (N, shared_dim)
    linear(z_0) -> (N, g_width, 4, 4)
    B x GBlock: CBN(., [e, z_b]) -> ReLU -> up x2 -> conv3x3 -> CBN -> ReLU -> conv3x3  (+ 1x1 shortcut)
        (one SelfAttention after the block whose output is attn_res x attn_res)
    BN -> ReLU -> conv3x3 -> tanh  -> (N, C, S, S) in [-1, 1]

Discriminator (BigGAN's CIFAR layout: downsample to 8x8, then two blocks without)::

    DBlock(down) ... DBlock(down) -> DBlock -> DBlock   (pre-activation residual blocks, avg-pool)
    ReLU -> sum over positions -> h (N, d_width) -> ProjectionHead: w^T h + b + <embed(y), h>
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Callable, Dict, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from .. import losses
from ..nn import (
    EMA,
    ConditionalBatchNorm2d,
    SelfAttention,
    apply_spectral_norm,
    orthogonal_regularization,
    standing_statistics,
)
from ..nn.truncation import truncated_noise
from ..train import set_requires_grad
from ..utils import batched, eval_mode
from .blocks.labels import check_labels
from .blocks.projection import ProjectionHead

__all__ = [
    "BigGANConfig",
    "BigGANGenerator",
    "BigGANDiscriminator",
    "GBlock",
    "DBlock",
    "build_biggan",
    "make_optimizers",
    "make_train_step",
    "BigGANTrainer",
    "sample",
    "SUPPORTED_SIZES",
    "TRICKS",
    "ablation_configs",
    "cifar10_config",
    "chapter_config",
    "checkpoint_config",
    "train_biggan",
    "ema_with_standing_statistics",
    "BigGANExperiment",
    "train_and_measure",
    "measure_generator",
]

SUPPORTED_SIZES = (16, 32, 64)


@dataclass
class BigGANConfig:
    """Every knob of chapter 6; the defaults are the full BigGAN-style model on 16x16 digits."""

    dataset: str = "digits"
    image_size: int = 16
    image_channels: int = 1
    num_classes: int = 10
    steps: int = 1500  # G steps (each with d_steps D steps)
    batch_size: int = 64  # per D step (and per rank under DDP)
    z_dim: int = 96
    g_width: int = 64  # channels of every G block (BigGAN CIFAR: 4 * 64 = 256)
    d_width: int = 64
    shared_dim: int = 32  # shared class embedding (BigGAN: 128)
    # --- the tricks
    spectral_norm: bool = True
    gan_mode: str = "hinge"
    lr_g: float = 1e-4
    lr_d: float = 4e-4
    beta1: float = 0.0
    beta2: float = 0.999
    attention: bool = True
    attn_res: int = 8
    cbn: bool = True
    hierarchical_z: bool = True
    ema: bool = True
    ema_decay: float = 0.999  # BigGAN: 0.9999 over 100k+ steps; short runs need a shorter memory
    ema_start: int = 0
    ortho_beta: float = 1e-4
    d_steps: int = 2
    seed: int = 0


def cifar10_config(**changes) -> BigGANConfig:
    """BigGAN's CIFAR-10 settings (``scripts/launch_cifar_ema.sh`` of BigGAN-PyTorch).

    Batch 50, 4 D steps per G step, G and D lr 2e-4 with Adam betas (0, 0.999), widths
    4 * 64 = 256 in every block, no attention, no orthogonal regularisation, N(0, 0.02) init,
    EMA decay 0.9999 from step 1000, 500 epochs = 125,000 G steps (each D step sees 50 images,
    so a G step uses 200). z: 128 dimensions. We keep the shared embedding and hierarchical z
    (the CIFAR script leaves them off) so that the gpu run shows the full model.
    """
    import dataclasses

    cfg = BigGANConfig(
        dataset="cifar10",
        image_size=32,
        image_channels=3,
        num_classes=10,
        steps=125_000,
        batch_size=50,
        z_dim=128,
        g_width=256,
        d_width=256,
        shared_dim=128,
        gan_mode="hinge",
        lr_g=2e-4,
        lr_d=2e-4,
        beta1=0.0,
        beta2=0.999,
        attention=False,
        cbn=True,
        hierarchical_z=True,
        ema=True,
        ema_decay=0.9999,
        ema_start=1000,
        ortho_beta=0.0,
        d_steps=4,
    )
    return dataclasses.replace(cfg, **changes)


def chapter_config(profile: Optional[str] = None) -> BigGANConfig:
    """Chapter 6's model on each profile: what the notebook trains and what the DDP entry point
    (``torchrun -m ganlib.distributed``) trains with the same ``--profile``.

    ``ci``: narrow and short (40 steps); ``cpu``: width 16 on the 16x16 digits for 300 steps, with
    learning rates 3e-4 (G) and 9e-4 (D), since SAGAN's 1e-4 and 4e-4 learn too slowly for a run
    this short; ``gpu``: BigGAN's CIFAR-10 recipe (:func:`cifar10_config`).
    """
    from ..profiles import choose

    return choose(
        profile,
        ci=BigGANConfig(
            steps=40,
            g_width=8,
            d_width=8,
            z_dim=48,
            shared_dim=8,
            batch_size=8,
            d_steps=1,
            lr_g=3e-4,
            lr_d=9e-4,
            ema_decay=0.9,
        ),
        cpu=BigGANConfig(
            steps=300,
            g_width=16,
            d_width=16,
            z_dim=48,
            shared_dim=16,
            batch_size=16,
            d_steps=1,
            lr_g=3e-4,
            lr_d=9e-4,
            ema_decay=0.98,
        ),
        gpu=cifar10_config(),
    )


#: The chapter's ablation: each row turns one more trick on (the fields it changes). The
#: learning rates come from the base config: the baseline uses its ``lr_g`` for both nets with
#: DCGAN's beta1 = 0.5; the TTUR row restores the base's faster ``lr_d`` (SAGAN: 1e-4 and 4e-4).
TRICKS: Tuple[Tuple[str, Dict[str, object]], ...] = (
    (
        "baseline: cond. ResNet GAN, BCE, Adam(lr, lr, b1=0.5)",
        dict(
            spectral_norm=False,
            gan_mode="vanilla",
            lr_d="=lr_g",
            beta1=0.5,
            attention=False,
            cbn=False,
            hierarchical_z=False,
            ema=False,
            ortho_beta=0.0,
        ),
    ),
    ("+ spectral norm (G and D)", dict(spectral_norm=True)),
    ("+ hinge loss, TTUR (lr_d > lr_g, b1=0)", dict(gan_mode="hinge", lr_d="=lr_d", beta1=0.0)),
    ("+ one self-attention block", dict(attention=True)),
    ("+ CBN, shared embedding, hier. z", dict(cbn=True, hierarchical_z=True)),
    ("+ EMA of G (sample with it)", dict(ema=True)),
    ("+ orthogonal reg. (beta=1e-4)", dict(ortho_beta=1e-4)),
)


def ablation_configs(base: BigGANConfig):
    """``[(name, config), ...]``: the rows of :data:`TRICKS`, cumulative, built on ``base``."""
    import dataclasses

    rows, cfg = [], base
    for name, changes in TRICKS:
        changes = dict(changes)
        if changes.get("lr_d") == "=lr_g":
            changes["lr_d"] = base.lr_g
        elif changes.get("lr_d") == "=lr_d":
            changes["lr_d"] = base.lr_d
        cfg = dataclasses.replace(cfg, **changes)
        rows.append((name, cfg))
    return rows


def checkpoint_config(cfg: BigGANConfig) -> Dict[str, object]:
    """The config stored in (and checked against) a checkpoint: every field but ``steps``,
    so that a finished run can be resumed to train longer."""
    import dataclasses

    return {k: v for k, v in dataclasses.asdict(cfg).items() if k != "steps"}


def _check_config(cfg: BigGANConfig) -> None:
    if cfg.image_size not in SUPPORTED_SIZES:
        raise ValueError(
            f"image_size {cfg.image_size} is not supported: this architecture starts at 4x4 and "
            f"doubles per block, use one of {SUPPORTED_SIZES} (resize the data, e.g. digits at 16 or 32)"
        )
    losses.gan_losses(cfg.gan_mode)  # raises on an unknown mode, naming the three
    if cfg.attention and cfg.attn_res not in [2**k for k in range(3, int(math.log2(cfg.image_size)) + 1)]:
        raise ValueError(
            f"attn_res {cfg.attn_res} must be a feature-map size between 8 and image_size "
            f"{cfg.image_size} (a power of two)"
        )
    if cfg.attention and (cfg.g_width % 8 or cfg.d_width % 8):
        raise ValueError(
            f"self-attention needs widths divisible by 8, got g_width={cfg.g_width}, d_width={cfg.d_width}"
        )
    if cfg.hierarchical_z and not cfg.cbn:
        raise ValueError("hierarchical_z feeds z chunks into conditional batch norm: set cbn=True as well")
    if cfg.d_steps < 1:
        raise ValueError(f"d_steps must be >= 1, got {cfg.d_steps}")


# --------------------------------------------------------------------------- generator


class GBlock(nn.Module):
    """BigGAN's up block: ``(N, C_in, H, W), c -> (N, C_out, 2H, 2W)``.

    ``norm(x, c) -> ReLU -> up -> conv3x3 -> norm(., c) -> ReLU -> conv3x3``, plus
    ``up -> conv1x1`` on the shortcut. ``cond_dim`` 0 means plain (affine) batch norm.
    """

    def __init__(self, in_ch: int, out_ch: int, cond_dim: int = 0):
        super().__init__()
        self.cond_dim = cond_dim
        if cond_dim:
            self.bn1, self.bn2 = ConditionalBatchNorm2d(in_ch, cond_dim), ConditionalBatchNorm2d(out_ch, cond_dim)
        else:
            self.bn1, self.bn2 = nn.BatchNorm2d(in_ch), nn.BatchNorm2d(out_ch)
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, padding=1)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, padding=1)
        self.shortcut = nn.Conv2d(in_ch, out_ch, 1)

    def _norm(self, bn: nn.Module, x: torch.Tensor, c: Optional[torch.Tensor]) -> torch.Tensor:
        return bn(x, c) if self.cond_dim else bn(x)

    def forward(self, x: torch.Tensor, c: Optional[torch.Tensor] = None) -> torch.Tensor:
        h = F.interpolate(F.relu(self._norm(self.bn1, x, c)), scale_factor=2, mode="nearest")
        h = self.conv2(F.relu(self._norm(self.bn2, self.conv1(h), c)))
        return h + self.shortcut(F.interpolate(x, scale_factor=2, mode="nearest"))


def _init_n02(module: nn.Module) -> None:
    """BigGAN's CIFAR initialisation ``N02``: weights ~ N(0, 0.02), biases 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if getattr(m, "bias", None) is not None:
                nn.init.zeros_(m.bias)


class BigGANGenerator(nn.Module):
    """``G(z (N, z_dim), y (N,) long) -> (N, C, S, S)`` in [-1, 1]; see the module docstring."""

    def __init__(self, cfg: BigGANConfig):
        super().__init__()
        _check_config(cfg)
        self.cfg = cfg
        self.num_blocks = int(math.log2(cfg.image_size // 4))
        self.num_chunks = self.num_blocks + 1 if cfg.hierarchical_z else 1
        if cfg.z_dim % self.num_chunks:
            raise ValueError(
                f"z_dim {cfg.z_dim} must be divisible by {self.num_chunks} (one chunk for the input "
                f"and one per block with hierarchical_z); try z_dim={self.num_chunks * 32}"
            )
        self.chunk = cfg.z_dim // self.num_chunks
        w = cfg.g_width
        self.shared = nn.Embedding(cfg.num_classes, cfg.shared_dim)  # the shared class embedding
        if cfg.cbn:
            cond_dim = cfg.shared_dim + (self.chunk if cfg.hierarchical_z else 0)
            in_dim = self.chunk
        else:  # cGAN-style: [z, embed(y)] at the input, plain batch norm
            cond_dim, in_dim = 0, cfg.z_dim + cfg.shared_dim
        self.linear = nn.Linear(in_dim, w * 4 * 4)
        self.blocks = nn.ModuleList(GBlock(w, w, cond_dim) for _ in range(self.num_blocks))
        self.attn_after = -1
        if cfg.attention:  # ONE attention block (not one per scale)
            self.attn_after = int(math.log2(cfg.attn_res // 4)) - 1
            self.attention = SelfAttention(w)
        self.out = nn.Sequential(
            nn.BatchNorm2d(w), nn.ReLU(), nn.Conv2d(w, cfg.image_channels, 3, padding=1), nn.Tanh()
        )
        _init_n02(self)
        if cfg.spectral_norm:  # BigGAN normalises G too (SAGAN: "SN in both G and D"), but not
            # its shared embedding (BigGAN-PyTorch: SN there "seems to randomly cripple G")
            apply_spectral_norm(self, eps=1e-6, exclude=(self.shared,))

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        cfg = self.cfg
        if z.dim() != 2 or z.shape[1] != cfg.z_dim:
            raise ValueError(f"z must be (N, {cfg.z_dim}), got {tuple(z.shape)}")
        check_labels(y, cfg.num_classes, len(z), "BigGANGenerator")
        e = self.shared(y)
        if cfg.cbn:
            chunks = z.split(self.chunk, dim=1)
            h = self.linear(chunks[0])
            conds = [torch.cat([e, c], 1) for c in chunks[1:]] if cfg.hierarchical_z else [e] * self.num_blocks
        else:
            h, conds = self.linear(torch.cat([z, e], 1)), [None] * self.num_blocks
        h = h.view(len(z), cfg.g_width, 4, 4)
        for i, (block, c) in enumerate(zip(self.blocks, conds)):
            h = block(h, c)
            if i == self.attn_after:
                h = self.attention(h)
        return self.out(h)


# --------------------------------------------------------------------------- discriminator


class DBlock(nn.Module):
    """BigGAN's down block: ``(N, C_in, H, W) -> (N, C_out, H/2, W/2)`` (or same size).

    ``[ReLU] -> conv3x3 -> ReLU -> conv3x3 -> [avgpool]`` plus a 1x1 shortcut; the first block
    has no pre-activation (its input is the image) and pools before its shortcut conv.
    """

    def __init__(self, in_ch: int, out_ch: int, downsample: bool, preactivation: bool = True):
        super().__init__()
        self.downsample, self.preactivation = downsample, preactivation
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, padding=1)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, padding=1)
        self.shortcut = nn.Conv2d(in_ch, out_ch, 1) if (in_ch != out_ch or downsample) else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu(x) if self.preactivation else x
        h = self.conv2(F.relu(self.conv1(h)))
        if self.downsample:
            h = F.avg_pool2d(h, 2)
        sc = x
        if self.shortcut is not None:
            if self.preactivation:
                sc = self.shortcut(sc)
                sc = F.avg_pool2d(sc, 2) if self.downsample else sc
            else:
                sc = self.shortcut(F.avg_pool2d(sc, 2) if self.downsample else sc)
        return h + sc


class BigGANDiscriminator(nn.Module):
    """``D(x (N, C, S, S), y (N,) long) -> (N,)`` logits; projection head from chapter 4."""

    def __init__(self, cfg: BigGANConfig):
        super().__init__()
        _check_config(cfg)
        self.cfg = cfg
        w, n_down = cfg.d_width, int(math.log2(cfg.image_size // 8))
        downs = [True] * n_down + [False, False]  # BigGAN CIFAR: down to 8x8, then two more blocks
        blocks, res, self.attn_after = [], cfg.image_size, -1
        for i, down in enumerate(downs):
            blocks.append(DBlock(cfg.image_channels if i == 0 else w, w, down, preactivation=i > 0))
            res = res // 2 if down else res
            if cfg.attention and self.attn_after < 0 and res == cfg.attn_res:
                self.attn_after = i
        self.blocks = nn.ModuleList(blocks)
        if cfg.attention:
            self.attention = SelfAttention(w)
        self.head = ProjectionHead(w, cfg.num_classes)
        _init_n02(self)
        if cfg.spectral_norm:
            apply_spectral_norm(self, eps=1e-6)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        cfg = self.cfg
        want = (cfg.image_channels, cfg.image_size, cfg.image_size)
        if x.dim() != 4 or tuple(x.shape[1:]) != want:
            raise ValueError(f"D expects images (N, {want[0]}, {want[1]}, {want[2]}), got {tuple(x.shape)}")
        h = x
        for i, block in enumerate(self.blocks):
            h = block(h)
            if i == self.attn_after:
                h = self.attention(h)
        h = F.relu(h).sum(dim=(2, 3))  # sum pooling, as in SNGAN/BigGAN
        return self.head(h, y)


# --------------------------------------------------------------------------- training


def build_biggan(cfg: BigGANConfig, device=None):
    """``(G, D, G_ema)``; ``G_ema`` is an :class:`~ganlib.nn.EMA` of G, or ``None`` when ``cfg.ema`` is off."""
    G, D = BigGANGenerator(cfg).to(device), BigGANDiscriminator(cfg).to(device)
    G_ema = EMA(G, decay=cfg.ema_decay, start=cfg.ema_start) if cfg.ema else None
    return G, D, G_ema


def make_optimizers(cfg: BigGANConfig, G: nn.Module, D: nn.Module):
    """Adam for each (TTUR: different learning rates); BigGAN's eps 1e-8 is Adam's default."""
    betas = (cfg.beta1, cfg.beta2)
    return (
        torch.optim.Adam(G.parameters(), lr=cfg.lr_g, betas=betas),
        torch.optim.Adam(D.parameters(), lr=cfg.lr_d, betas=betas),
    )


def make_train_step(
    cfg: BigGANConfig,
    G: nn.Module,
    D: nn.Module,
    opt_g,
    opt_d,
    G_ema: Optional[EMA] = None,
    device=None,
    G_module: Optional[nn.Module] = None,
    D_module: Optional[nn.Module] = None,
) -> Callable:
    """The training step for :func:`ganlib.train.fit`: ``d_steps`` D updates, then one G update.

    ``batch = (x, y)`` holds ``d_steps * batch_size`` real images: a fresh real batch per D
    step, as in BigGAN's code. Under DDP pass the wrapped ``G``/``D`` and the plain
    ``G_module``/``D_module``: D's G-step forward goes through the plain D (D is not updated
    there, so nothing needs to be synchronised).
    """
    d_loss_fn, g_loss_fn = losses.gan_losses(cfg.gan_mode)
    G_module = G_module if G_module is not None else G
    D_module = D_module if D_module is not None else D
    n, k = cfg.batch_size, cfg.num_classes

    def step(batch) -> Dict[str, torch.Tensor]:
        x_all, y_all = (t.to(device) for t in batch)
        if len(x_all) != cfg.d_steps * n:
            raise ValueError(
                f"the step needs batches of d_steps * batch_size = {cfg.d_steps * n} images, "
                f"got {len(x_all)}: use TensorBatches(..., batch_size=cfg.d_steps * cfg.batch_size)"
            )
        set_requires_grad([D_module], True)
        for x, y in zip(x_all.split(n), y_all.split(n)):
            z = torch.randn(n, cfg.z_dim, device=x.device)
            y_fake = torch.randint(0, k, (n,), device=x.device)
            with torch.no_grad():
                fake = G(z, y_fake)
            # one D call on [real; fake], as BigGAN's code does (one DDP forward per backward)
            real_out, fake_out = D(torch.cat([x, fake]), torch.cat([y, y_fake])).split(n)
            d_loss = d_loss_fn(real_out, fake_out)
            opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            opt_d.step()
        set_requires_grad([D_module], False)  # G step: no gradients for D's weights
        z = torch.randn(n, cfg.z_dim, device=x_all.device)
        y_fake = torch.randint(0, k, (n,), device=x_all.device)
        g_loss = g_loss_fn(D_module(G(z, y_fake), y_fake))
        total = g_loss + (orthogonal_regularization(G_module, cfg.ortho_beta) if cfg.ortho_beta > 0 else 0.0)
        opt_g.zero_grad(set_to_none=True)
        total.backward()
        opt_g.step()
        set_requires_grad([D_module], True)
        if G_ema is not None:
            G_ema.update(G_module)
        return {"d_loss": d_loss.detach(), "g_loss": g_loss.detach()}

    return step


class BigGANTrainer:
    """G, D, the EMA of G, their optimizers and the training step of a ``BigGANConfig``: a
    :class:`ganlib.train.Trainer`, so ``fit(BigGANTrainer(cfg), batches, steps)`` trains it.

    Built from the global RNG in the order :func:`build_biggan`, :func:`make_optimizers`,
    :func:`make_train_step` (seed it first, as :func:`train_biggan` does). ``modules``: ``G``,
    ``D`` and ``G_ema`` (when ``cfg.ema``); ``optimizers``: ``G``, ``D``; ``states``: none.
    Batches hold ``cfg.d_steps * cfg.batch_size`` real images (one real batch per D step).
    """

    def __init__(self, cfg: BigGANConfig, device=None):
        self.cfg = cfg
        self.G, self.D, self.G_ema = build_biggan(cfg, device)
        self.opt_g, self.opt_d = make_optimizers(cfg, self.G, self.D)
        self._step = make_train_step(cfg, self.G, self.D, self.opt_g, self.opt_d, self.G_ema, device)

    @property
    def modules(self) -> Dict[str, nn.Module]:
        return {"G": self.G, "D": self.D, **({"G_ema": self.G_ema} if self.G_ema is not None else {})}

    @property
    def optimizers(self) -> Dict[str, torch.optim.Optimizer]:
        return {"G": self.opt_g, "D": self.opt_d}

    @property
    def states(self) -> Dict[str, object]:
        return {}

    def step(self, batch) -> Dict[str, torch.Tensor]:
        """``d_steps`` D updates, then one G update and the EMA (see :func:`make_train_step`)."""
        return self._step(batch)


@torch.no_grad()
def sample(
    G: nn.Module,
    labels: torch.Tensor,
    truncation: Optional[float] = None,
    generator: Optional[torch.Generator] = None,
    batch_size: int = 500,
) -> torch.Tensor:
    """Images ``(N, C, S, S)`` of the classes ``labels`` (N,), z truncated at ``truncation`` by resampling.

    ``G`` may be a generator or its :class:`~ganlib.nn.EMA`; it is run in eval mode (BN running
    statistics) and put back in its previous mode.
    """
    net = G.model if isinstance(G, EMA) else G
    check_labels(labels, net.cfg.num_classes, None, "sample")
    device = next(net.parameters()).device
    z = truncated_noise(len(labels), net.cfg.z_dim, truncation, generator=generator)
    with eval_mode(net):
        return batched(net, z, labels, batch_size=batch_size, device=device)


# --------------------------------------------------------------------------- experiments


def train_biggan(
    cfg: BigGANConfig,
    x: torch.Tensor,
    y: torch.Tensor,
    steps: Optional[int] = None,
    device=None,
    checkpoint=None,
    desc: str = "BigGAN",
    progress: bool = True,
    on_step=None,
):
    """Build G, D (and the EMA of G) from ``cfg`` seeded with ``cfg.seed`` and train them for
    ``steps`` (default ``cfg.steps``) G steps on ``(x, y)`` with :func:`ganlib.train.fit`.

    Returns ``(G, D, G_ema, history)``; ``G_ema`` is ``None`` when ``cfg.ema`` is off.
    ``on_step(step, losses, G, D)`` is called after every step (e.g. to record the top
    singular values of G's and D's layers with :func:`ganlib.nn.top_singular_values`).
    """
    from .. import seed_everything
    from ..data import TensorBatches
    from ..train import fit

    seed_everything(cfg.seed)
    trainer = BigGANTrainer(cfg, device)
    G, D = trainer.G, trainer.D
    batches = TensorBatches(x, y, batch_size=cfg.d_steps * cfg.batch_size, seed=cfg.seed)
    history = fit(
        trainer,
        batches,
        cfg.steps if steps is None else steps,
        checkpoint=checkpoint,
        checkpoint_every=1000,
        config=checkpoint_config(cfg),
        desc=desc,
        progress=progress,
        on_step=None if on_step is None else (lambda step, losses: on_step(step, losses, G, D)),
    )
    return G, D, trainer.G_ema, history


def ema_with_standing_statistics(G_ema: EMA, batches: int = 16, batch_size: int = 64, seed: int = 0) -> nn.Module:
    """A copy of the EMA generator whose batch-norm statistics are its own "standing statistics"
    (:func:`ganlib.nn.standing_statistics`, over ``batches`` batches of untruncated z and uniform
    labels) instead of the raw G's running statistics that :class:`~ganlib.nn.EMA` copies."""
    import copy

    net = copy.deepcopy(G_ema.model if isinstance(G_ema, EMA) else G_ema)
    device = next(net.parameters()).device
    cfg = net.cfg

    def make_inputs(g):
        return (
            torch.randn(batch_size, cfg.z_dim, generator=g).to(device),
            torch.randint(0, cfg.num_classes, (batch_size,), generator=g).to(device),
        )

    return standing_statistics(net, make_inputs, batches, torch.Generator().manual_seed(seed))


@dataclass(frozen=True)
class BigGANExperiment:
    """One row of chapter 6's tables: a model config, a training budget and what to measure.

    ``per_class`` samples per class are compared with as many real training images (a fixed
    subset); ``truncations``: thresholds of the truncation curve (empty: none); ``standing_batches``:
    batches for the EMA generator's standing statistics.
    """

    model: BigGANConfig
    steps: int
    per_class: int = 50
    truncations: Tuple[float, ...] = ()
    standing_batches: int = 16


def measure_generator(
    G: nn.Module,
    judge: nn.Module,
    x_real: torch.Tensor,
    labels: torch.Tensor,
    truncation: Optional[float] = None,
    seed: int = 1,
    splits: int = 1,
) -> Dict[str, float]:
    """The chapter's measures of ``G`` on ``labels`` (N,), against ``x_real`` (N real images):

    ``acc`` conditional accuracy (judge classifier), ``fid`` FID in the judge's 128-d features
    (not comparable with published Inception FIDs), ``div`` intra-class diversity, ``conf``
    an Inception-Score-style confidence (the IS formula on the judge's logits, ``splits``
    splits), ``precision`` and ``recall`` (Kynkäänniemi et al. 2019, k = 3, judge features).
    """
    from ..classifier import conditional_accuracy, intra_class_diversity
    from ..metrics.fid import fid_from_features
    from ..metrics.inception_score import inception_score
    from ..metrics.precision_recall import precision_recall

    images = sample(G, labels, truncation=truncation, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        judge = judge.eval()
        real_f, fake_f = judge.features(x_real).double(), judge.features(images).double()
        logits = judge(images)
    precision, recall = precision_recall(real_f, fake_f, k=3)
    return {
        "acc": conditional_accuracy(judge, images, labels),
        "fid": fid_from_features(real_f, fake_f),
        "div": intra_class_diversity(judge, images, labels),
        "conf": inception_score(logits, splits)[0],
        "precision": precision,
        "recall": recall,
    }


def _truncation_key(t: Optional[float]) -> str:
    return "none" if t is None else f"{t:g}"


def train_and_measure(config: BigGANExperiment, seed: int) -> Dict[str, float]:
    """Train ``config.model`` with ``seed`` for ``config.steps`` G steps on the digits; measure it.

    The library-level function for :mod:`ganlib.runs`. Keys (floats):

    - ``acc, fid, div, conf, precision, recall``: the generator the row samples with: the EMA
      generator with standing statistics when ``cfg.ema``, else the raw G;
    - ``raw_*`` (the raw G) and ``copied_*`` (the EMA G with the raw G's copied batch-norm
      statistics) for ``acc`` and ``fid``, when ``cfg.ema``;
    - ``<measure>@<t>`` for each threshold in ``config.truncations``: the sampling generator
      with z truncated at ``t`` (resampled);
    - ``sigma_g_max``, ``sigma_d_max``: the largest top singular value of G's and D's raw weights
      at the end (from the spectral-norm buffers; only with spectral norm).
    """
    from ..classifier import pretrained_classifier
    from ..data import load_digits
    from ..nn import top_singular_values

    cfg = dataclasses.replace(config.model, seed=seed)
    if cfg.dataset != "digits":
        raise ValueError(
            f"train_and_measure runs on the bundled digits (the cpu/ci tables); got dataset={cfg.dataset!r}"
        )
    x, y = load_digits(cfg.image_size, "train")
    G, D, G_ema, _ = train_biggan(cfg, x, y, config.steps, progress=False)
    judge = pretrained_classifier(cfg.dataset, cfg.image_size)
    labels = torch.arange(cfg.num_classes).repeat_interleave(config.per_class)
    x_real = x[torch.randperm(len(x), generator=torch.Generator().manual_seed(0))[: len(labels)]]
    sampler = ema_with_standing_statistics(G_ema, config.standing_batches) if G_ema is not None else G
    out = dict(measure_generator(sampler, judge, x_real, labels))
    if G_ema is not None:
        for prefix, net in (("raw", G), ("copied", G_ema.model)):
            m = measure_generator(net, judge, x_real, labels)
            out.update({f"{prefix}_acc": m["acc"], f"{prefix}_fid": m["fid"]})
    for t in config.truncations:
        m = measure_generator(sampler, judge, x_real, labels, truncation=t)
        out.update({f"{k}@{_truncation_key(t)}": v for k, v in m.items()})
    if cfg.spectral_norm:
        out["sigma_g_max"] = max(top_singular_values(G).values())
        out["sigma_d_max"] = max(top_singular_values(D).values())
    return out
