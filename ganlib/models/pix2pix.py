"""Pix2Pix (Isola et al. 2017): the U-Net generator, the PatchGAN discriminator, and their training.

Architectures follow the official pytorch-CycleGAN-and-pix2pix code (``networks.py``)
to the parameter: ``UNetGenerator()`` is ``unet_256`` (54,413,955 parameters),
``UNetGenerator(num_downs=7)`` is ``unet_128`` (41,828,995),
``PatchDiscriminator(6)`` is the 70x70 ``basic`` D (2,768,705) and
``PatchDiscriminator(6, n_layers=0)`` the 1x1 ``pixel`` D (9,024).

The same ``UNetGenerator`` serves BicycleGAN (Zhu et al. 2017): with ``nz > 0`` a latent
code z is tiled over the image and concatenated to the input (``z_injection="input"``,
official ``G_Unet_add_input``) or to the input of every down-sampling convolution
(``z_injection="all"``, ``G_Unet_add_all``). With BicycleGAN's defaults
(``norm="instance"``, ``nz=8``, ``upsample="basic"``) the counts are 54,417,795 and
54,794,627, as in the official code.

The networks and the pieces other chapters share live in ``ganlib.models.blocks``
(``unet``, ``patchgan``, ``layers``, ``schedules``); this module re-exports them.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import os
from functools import lru_cache
from typing import Any, Dict, Optional, Tuple, Union

import torch
import torch.nn.functional as F
from torch import nn

from ..losses import gan_losses
from ..train import set_requires_grad
from ..utils import batched, eval_mode
from .blocks.layers import init_weights, norm_layer
from .blocks.patchgan import PatchDiscriminator, min_input_size, receptive_field
from .blocks.schedules import linear_decay
from .blocks.unet import UNetBlock, UNetGenerator

__all__ = [
    "norm_layer",
    "init_weights",
    "receptive_field",
    "empirical_receptive_field",
    "min_input_size",
    "high_frequency_energy",
    "evaluate_paired_translation",
    "dropout_spread",
    "UNetBlock",
    "UNetGenerator",
    "PatchDiscriminator",
    "Pix2PixConfig",
    "Pix2Pix",
    "pix2pix_step",
    "linear_decay",
    "paper_schedule",
    "random_jitter",
    "JitteredBatches",
    "Pix2PixExperiment",
    "load_pairs",
    "make_batches",
    "train_pix2pix",
    "measure_pix2pix",
    "train_and_measure",
]


# --------------------------------------------------------------------------- the PatchGAN, measured


def empirical_receptive_field(D: nn.Module, size: int = 320) -> int:
    """Measure D's receptive field: the width of the input region with a nonzero gradient of
    the central output unit (weights set to positive constants, norms made inert, so no
    gradient cancels by chance). Works on a copy; ``D`` is untouched."""
    D = copy.deepcopy(D).double().eval()
    for m in D.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.constant_(m.weight, 0.01)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        if isinstance(m, nn.BatchNorm2d):
            m.reset_running_stats()
    for m in list(D.modules()):
        for name, child in list(m.named_children()):
            if isinstance(child, (nn.InstanceNorm2d, nn.LeakyReLU)):
                setattr(m, name, nn.Identity())
    x = torch.ones(1, D.in_channels, size, size, dtype=torch.float64, requires_grad=True)
    out = D(x)
    i, j = out.shape[2] // 2, out.shape[3] // 2
    out[0, 0, i, j].backward()
    touched = x.grad[0].abs().sum(0) != 0
    rows = touched.any(1).nonzero()
    return int(rows.max() - rows.min() + 1)


# --------------------------------------------------------------------------- training


@dataclasses.dataclass
class Pix2PixConfig:
    """The paper's settings (official defaults in brackets where they differ from a knob's name)."""

    in_channels: int = 3
    out_channels: int = 3
    num_downs: int = 8  # unet_256
    ngf: int = 64
    ndf: int = 64
    n_layers_d: int = 3  # 70x70 PatchGAN
    norm: str = "batch"
    use_dropout: bool = True
    lambda_l1: float = 100.0  # lambda in G* = arg min max L_cGAN + lambda L_L1
    use_gan: bool = True  # False: L1 only (the loss ablation)
    conditional_d: bool = True  # False: D sees the output alone, not the pair (the paper's "GAN" rows)
    skips: bool = True  # False: the encoder-decoder without skips (the generator ablation)
    lr: float = 2e-4
    beta1: float = 0.5
    gan_mode: str = "vanilla"  # "vanilla" (BCE with logits, the paper) or "lsgan"
    init_std: float = 0.02
    n_constant: int = 0  # LR schedule, in steps: constant for n_constant steps, then a
    n_decay: int = 0  # linear decay to 0 over n_decay (0, 0: constant; official: 100+100 epochs)


class Pix2Pix:
    """Holds ``G``, ``D`` and their Adam optimizers, built and initialised from a ``Pix2PixConfig``:
    a :class:`ganlib.train.Trainer`, so ``fit(model, batches, steps)`` trains it. ``modules``
    (``G``, ``D``), ``optimizers`` (``G``, ``D``), ``states`` (the LR schedulers ``lr_G``,
    ``lr_D`` when the config has a schedule) and ``step(batch)``."""

    def __init__(self, cfg: Pix2PixConfig = Pix2PixConfig(), device: Union[str, torch.device] = "cpu"):
        self.cfg = cfg
        self.G = init_weights(
            UNetGenerator(
                cfg.in_channels, cfg.out_channels, cfg.num_downs, cfg.ngf, cfg.norm, cfg.use_dropout, skips=cfg.skips
            ),
            cfg.init_std,
        ).to(device)
        d_in = cfg.in_channels + cfg.out_channels if cfg.conditional_d else cfg.out_channels
        self.D = init_weights(PatchDiscriminator(d_in, cfg.ndf, cfg.n_layers_d, cfg.norm), cfg.init_std).to(device)
        betas = (cfg.beta1, 0.999)
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=cfg.lr, betas=betas)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=cfg.lr, betas=betas)
        self.schedulers = {}
        if cfg.n_constant or cfg.n_decay:
            rule = linear_decay(cfg.n_constant, cfg.n_decay)
            self.schedulers = {
                "G": torch.optim.lr_scheduler.LambdaLR(self.opt_g, rule),
                "D": torch.optim.lr_scheduler.LambdaLR(self.opt_d, rule),
            }

    @property
    def modules(self) -> Dict[str, nn.Module]:
        return {"G": self.G, "D": self.D}

    @property
    def optimizers(self) -> Dict[str, torch.optim.Optimizer]:
        return {"G": self.opt_g, "D": self.opt_d}

    @property
    def states(self) -> Dict[str, Any]:
        """The LR schedulers (``lr_G``, ``lr_D``), empty for a constant rate."""
        return {f"lr_{k}": v for k, v in self.schedulers.items()}

    def step(self, batch) -> Dict[str, torch.Tensor]:
        """One training step on ``batch = (A, B)`` (see ``pix2pix_step``), then the LR schedule."""
        a, b = batch
        device = next(self.G.parameters()).device
        losses = pix2pix_step(
            self.G,
            self.D,
            self.opt_g,
            self.opt_d,
            a.to(device),
            b.to(device),
            lambda_l1=self.cfg.lambda_l1,
            use_gan=self.cfg.use_gan,
            gan_mode=self.cfg.gan_mode,
            conditional=self.cfg.conditional_d,
        )
        for name, sched in self.schedulers.items():
            if name == "G" or self.cfg.use_gan:  # an L1-only run never steps D's optimizer
                sched.step()
        return losses


def pix2pix_step(
    G: nn.Module,
    D: nn.Module,
    opt_g: torch.optim.Optimizer,
    opt_d: torch.optim.Optimizer,
    a: torch.Tensor,
    b: torch.Tensor,
    lambda_l1: float = 100.0,
    use_gan: bool = True,
    gan_mode: str = "vanilla",
    conditional: bool = True,
) -> Dict[str, torch.Tensor]:
    r"""One pix2pix step in the official order (``pix2pix_model.optimize_parameters``).

    ``a (N, C_in, H, W)`` input, ``b (N, C_out, H, W)`` target; ``fake = G(a)``.

    1. D: :math:`\tfrac12\,[\ell(D(a, b), 1) + \ell(D(a, \mathrm{fake.detach()}), 0)]`,
       D sees the pair ``cat([a, b], 1)`` (conditional GAN).
    2. G (D's weights not updated): :math:`\ell(D(a, \mathrm{fake}), 1) + \lambda \lVert b - \mathrm{fake}\rVert_1`,
       :math:`\lambda` = ``lambda_l1`` = 100. With ``use_gan=False``: L1 only, D untouched.

    ``conditional=False``: D sees the output alone (``b``, ``fake``), not the pair: the paper's
    unconditional "GAN" and "L1 + GAN" rows.
    """
    d_loss_fn, g_loss_fn = gan_losses(gan_mode)
    fake = G(a)
    out = {}
    if use_gan:
        pair = (lambda y: torch.cat([a, y], 1)) if conditional else (lambda y: y)
        set_requires_grad([D], True)
        d_loss = 0.5 * d_loss_fn(D(pair(b)), D(pair(fake.detach())))
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        opt_d.step()
        set_requires_grad([D], False)  # no gradients into D during G's update
        g_gan = g_loss_fn(D(pair(fake)))
        out["d_loss"] = d_loss.detach()
        out["g_gan"] = g_gan.detach()
    else:
        g_gan = torch.zeros((), device=a.device)
    l1 = F.l1_loss(fake, b)
    g_loss = g_gan + lambda_l1 * l1
    opt_g.zero_grad(set_to_none=True)
    g_loss.backward()
    opt_g.step()
    if use_gan:
        set_requires_grad([D], True)
    out["g_l1"] = l1.detach()
    return out


def paper_schedule(cfg: Pix2PixConfig, steps: int) -> Pix2PixConfig:
    """``cfg`` with the paper's schedule scaled to a run of ``steps``: constant for the first half,
    then linear decay towards 0 over the second (the official 100 + 100 epochs)."""
    return dataclasses.replace(cfg, n_constant=steps // 2, n_decay=steps - steps // 2)


def random_jitter(
    a: torch.Tensor,
    b: torch.Tensor,
    load_size: int = 286,
    crop_size: int = 256,
    flip: bool = True,
    generator: Optional[torch.Generator] = None,
) -> Tuple[torch.Tensor, torch.Tensor]:
    """The paper's augmentation: resize to ``load_size`` (286), random crop ``crop_size`` (256),
    random horizontal flip; the *same* crop and flip for each input ``a`` and its target ``b``.

    ``a (N, Ca, H, W), b (N, Cb, H, W) -> (N, Ca, crop, crop), (N, Cb, crop, crop)``; one random
    crop/flip per pair. Bicubic resize as the official code, clamped to [-1, 1].
    """
    if a.shape[0] != b.shape[0] or a.shape[2:] != b.shape[2:]:
        raise ValueError(f"a and b must be pairs of the same size, got {tuple(a.shape)} and {tuple(b.shape)}")
    if crop_size > load_size:
        raise ValueError(f"crop_size {crop_size} must be <= load_size {load_size}")
    n, ca = a.shape[0], a.shape[1]
    ab = torch.cat([a, b], 1)
    if ab.shape[2:] != (load_size, load_size):
        ab = F.interpolate(ab, size=(load_size, load_size), mode="bicubic", align_corners=False).clamp(-1, 1)
    pos = torch.randint(0, load_size - crop_size + 1, (n, 2), generator=generator)
    flips = torch.rand(n, generator=generator) < 0.5 if flip else torch.zeros(n, dtype=torch.bool)
    out = []
    for k in range(n):
        i, j = int(pos[k, 0]), int(pos[k, 1])
        crop = ab[k, :, i : i + crop_size, j : j + crop_size]
        out.append(crop.flip(-1) if flips[k] else crop)
    ab = torch.stack(out)
    return ab[:, :ca], ab[:, ca:]


# --------------------------------------------------------------------------- measuring


def high_frequency_energy(images: torch.Tensor) -> torch.Tensor:
    """Mean absolute response to the 3x3 Laplacian, per image: ``(N, C, H, W) -> (N,)``.

    Blurry images have little of it; the ratio output / target (1 = as sharp as the truth)
    is the chapter's sharpness number.
    """
    k = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]], dtype=images.dtype, device=images.device)
    c = images.shape[1]
    lap = F.conv2d(images, k.expand(c, 1, 3, 3).contiguous(), groups=c)
    return lap.abs().mean(dim=(1, 2, 3))


@torch.no_grad()
def evaluate_paired_translation(
    G: nn.Module, A: torch.Tensor, B: torch.Tensor, batch_size: int = 64, official_test_mode: bool = False
) -> Dict[str, float]:
    """Held-out numbers of a generator on pairs ``(A, B)`` (images in [-1, 1]).

    - ``l1``: mean |G(A) - B| (the paper's fidelity term; lower is better),
    - ``psnr``: 10 log10(2^2 / MSE) in dB on the [-1, 1] range (higher is better),
    - ``hf_ratio``: high-frequency energy of G(A) over that of B (1 = as sharp as the truth).

    ``official_test_mode``: as the official ``test.py`` (without ``--eval``): dropout on, batch
    norm from the statistics of each test batch, one image per batch (its batch size is 1, so
    ``batch_size`` is ignored). Train mode would also update the running statistics, so this
    runs on a copy of ``G``. Otherwise ``G.eval()``. ``G`` itself is left as it was.
    """
    device = next(iter([*G.parameters(), *G.buffers()]), torch.zeros(())).device
    if official_test_mode:
        fake = batched(copy.deepcopy(G).train(), A, batch_size=1, device=device)
    else:
        with eval_mode(G):
            fake = batched(G, A, batch_size=batch_size, device=device)
    mse = ((fake - B) ** 2).mean().item()
    return {
        "l1": (fake - B).abs().mean().item(),
        "psnr": 10 * math.log10(4.0 / max(mse, 1e-12)),
        "hf_ratio": (high_frequency_energy(fake).mean() / high_frequency_energy(B).mean()).item(),
    }


class JitteredBatches:
    """Mini-batches of pairs with the paper's random jitter applied afresh to each batch.

    Wraps batches ``(A, B)`` at ``load_size`` (e.g. ``TensorBatches`` of 286x286 pairs) and
    yields ``random_jitter(A, B, load_size, crop_size)``; its ``state_dict`` holds the wrapped
    batches' state and its own RNG, so ``ganlib.train.fit`` resumes it exactly.
    """

    def __init__(self, batches, load_size: int = 286, crop_size: int = 256, flip: bool = True, seed: int = 0):
        self.batches, self.load_size, self.crop_size, self.flip = batches, load_size, crop_size, flip
        self.generator = torch.Generator().manual_seed(seed)

    def __iter__(self):
        return self

    def __next__(self):
        a, b = next(self.batches)
        return random_jitter(a.cpu(), b.cpu(), self.load_size, self.crop_size, self.flip, self.generator)

    def state_dict(self):
        inner = self.batches.state_dict() if hasattr(self.batches, "state_dict") else None
        return {"batches": inner, "rng": self.generator.get_state()}

    def load_state_dict(self, state):
        if state.get("batches") is not None:
            self.batches.load_state_dict(state["batches"])
        self.generator.set_state(state["rng"])


@torch.no_grad()
def dropout_spread(G: nn.Module, A: torch.Tensor, masks: int = 8, batch_size: int = 64) -> float:
    """How much dropout, pix2pix's only noise, varies the output: the per-pixel standard
    deviation of ``G(A)`` over ``masks`` dropout masks, averaged over pixels and images.

    Batch norm uses its running statistics (``eval()``) and only the ``Dropout`` layers are
    switched on, so the spread comes from dropout alone; runs on a copy, ``G`` is untouched.
    0 for a U-Net without dropout layers (``num_downs <= 5``).
    """
    G = copy.deepcopy(G).eval()
    layers = [m for m in G.modules() if isinstance(m, nn.Dropout)]
    if not layers:
        return 0.0
    for m in layers:
        m.train()
    device = next(G.parameters()).device
    spreads = []
    for i in range(0, len(A), batch_size):
        a = A[i : i + batch_size].to(device)
        outs = torch.stack([G(a) for _ in range(masks)])  # (masks, n, C, H, W)
        spreads.append(outs.std(0).mean(dim=(1, 2, 3)).cpu())
    return torch.cat(spreads).mean().item()


# --------------------------------------------------------------------------- one run of an ablation


@dataclasses.dataclass
class Pix2PixExperiment:
    """One seeded training run and its held-out measurements (``train_and_measure``).

    The run trains ``model`` for ``steps`` with the paper's schedule scaled to that length
    (``paper_schedule``: ``model.n_constant``/``n_decay`` are replaced), on the first ``n_train``
    pairs of ``dataset`` (``"toy_facades"`` or a pix2pix set of ``ganlib.data.registry``), and
    measures on ``n_test`` held-out pairs.
    """

    dataset: str = "toy_facades"
    direction: str = "AtoB"
    image_size: int = 64
    n_train: Optional[int] = 1000
    n_test: Optional[int] = 200
    jitter: bool = False  # the paper's 286 -> 256 random crop + flip (real sets at 256 px)
    batch_size: int = 8
    steps: int = 600
    model: Pix2PixConfig = dataclasses.field(
        default_factory=lambda: Pix2PixConfig(num_downs=6, ngf=16, ndf=16, lr=5e-4)
    )
    dropout_masks: int = 8  # masks for dropout_spread
    segmenter_steps: int = 300  # training steps of the label-consistency judge (toy facades)
    keep_outputs: int = 0  # > 0: train_and_measure also returns G(A) of that many test inputs
    checkpoint_dir: Optional[str] = None  # a folder: each run of train_and_measure resumes from its own file


@lru_cache(maxsize=4)
def _pairs(dataset: str, direction: str, image_size: int, n_train: Optional[int], n_test: Optional[int], jitter: bool):
    if dataset == "toy_facades":
        from ..data.toy_facades import load_toy_facades

        return (*load_toy_facades(n_train, image_size, "train"), *load_toy_facades(n_test, image_size, "test"))
    from ..data import registry

    load = 286 if jitter else image_size
    a_train, b_train = registry.load_paired(
        dataset, split="train", direction=direction, size=load, limit=n_train, progress=False
    )
    a_test, b_test = registry.load_paired(
        dataset, split="val", direction=direction, size=image_size, limit=n_test, progress=False
    )
    return a_train, b_train, a_test, b_test


def load_pairs(exp: Pix2PixExperiment) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(A_train, B_train, A_test, B_test)`` of an experiment, in [-1, 1] (cached per process)."""
    return _pairs(exp.dataset, exp.direction, exp.image_size, exp.n_train, exp.n_test, exp.jitter)


def make_batches(exp: Pix2PixExperiment, seed: int = 0):
    """The experiment's training batches: shuffled by ``seed``, with the paper's jitter if asked."""
    from ..data.batches import TensorBatches

    a_train, b_train, _, _ = load_pairs(exp)
    batches = TensorBatches(a_train, b_train, batch_size=exp.batch_size, seed=seed)
    if exp.jitter:
        batches = JitteredBatches(batches, load_size=286, crop_size=exp.image_size, seed=seed)
    return batches


def train_pix2pix(
    exp: Pix2PixExperiment,
    seed: int = 0,
    device: Union[str, torch.device, None] = None,
    checkpoint=None,
    progress: bool = False,
    desc: str = "pix2pix",
):
    """Train one model of ``exp``: returns ``(Pix2Pix, History)``. The networks' initial weights
    and dropout masks come from torch's global RNG, which the caller seeds
    (``ganlib.runs`` does: ``seed_everything(seed)``); ``seed`` orders the batches."""
    from ..train import fit
    from ..utils import get_device

    device = get_device() if device is None else device
    model_cfg = paper_schedule(exp.model, exp.steps)
    model = Pix2Pix(model_cfg, device=device)
    history = fit(
        model, make_batches(exp, seed), exp.steps, checkpoint=checkpoint, config=model_cfg, progress=progress, desc=desc
    )
    return model, history


def measure_pix2pix(G: nn.Module, exp: Pix2PixExperiment) -> Dict[str, float]:
    """The chapter's held-out numbers of a generator, without changing it:

    ``l1``, ``psnr``, ``hf_ratio`` (``evaluate_paired_translation``, ``eval()`` mode); ``label_acc``,
    ``label_iou``: a segmenter trained on real targets, applied to ``G(A)`` and scored against
    the input's classes (``ganlib.models.facade_segmenter``; NaN on sets without class labels);
    ``dropout_spread`` (``dropout_spread``).
    """
    _, _, a_test, b_test = load_pairs(exp)
    out = evaluate_paired_translation(G, a_test, b_test)
    if exp.dataset == "toy_facades":
        from .facade_segmenter import label_consistency, train_segmenter

        segmenter = train_segmenter(exp.image_size, steps=exp.segmenter_steps)
        with eval_mode(G):
            fake = batched(G, a_test, batch_size=64, device=next(G.parameters()).device)
        out.update(label_consistency(segmenter, fake, a_test))
    else:
        out.update(label_acc=math.nan, label_iou=math.nan)
    out["dropout_spread"] = dropout_spread(G, a_test, exp.dropout_masks)
    return out


def train_and_measure(config: Pix2PixExperiment, seed: int) -> Dict[str, float]:
    """Train one model of ``config`` (seeded) and return ``measure_pix2pix`` of its generator:
    the function ``ganlib.runs`` runs for every row and seed of the chapter's ablations.
    With ``config.keep_outputs`` the dict also holds ``"outputs"``, a tensor of translations."""
    checkpoint = None
    if config.checkpoint_dir:  # one file per configuration and seed, so long runs resume
        import hashlib

        key = repr(dataclasses.replace(config, keep_outputs=0, checkpoint_dir=None))
        checkpoint = os.path.join(
            config.checkpoint_dir, f"pix2pix_{hashlib.sha1(key.encode()).hexdigest()[:12]}_seed{seed}.pt"
        )
    model, _ = train_pix2pix(config, seed, checkpoint=checkpoint)
    out = measure_pix2pix(model.G, config)
    if config.keep_outputs:  # pictures of the run, kept apart from the numbers (key "outputs")
        a_test = load_pairs(config)[2][: config.keep_outputs]
        with torch.no_grad():
            model.G.eval()
            out["outputs"] = model.G(a_test.to(next(model.G.parameters()).device)).cpu()
    return out
