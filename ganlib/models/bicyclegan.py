r"""BicycleGAN (Zhu et al., NeurIPS 2017): many outputs for one input, with a latent code z.

Pix2pix fed a noise vector learns to ignore it: one input, one output. BicycleGAN makes the
code matter by tying z and the output B together in **both** directions ("Bi": a bijection
between latent codes and outputs, not an X -> Y -> X image cycle):

- **cVAE-GAN** path, B -> z -> B̂: the encoder E reads the real target B and gives
  :math:`\mu, \log\sigma^2` (``ResNetEncoder``); :math:`z = \mu + \sigma \odot \epsilon`
  (``reparameterize``); :math:`\hat B = G(A, z)` must equal B (L1, :math:`\lambda = 10`) and
  fool D; :math:`\mathrm{KL}(q(z|B)\,\|\,\mathcal N(0, I))` (``kl_divergence``,
  :math:`\lambda = 0.01`) keeps the codes where random ones will be drawn.
- **cLR-GAN** path, z -> B̂ -> ẑ: :math:`z \sim \mathcal N(0, I)`, :math:`\hat B = G(A, z)` must
  fool D2, and E must read z back: :math:`\lVert \mu(E(\hat B)) - z \rVert_1`
  (:math:`\lambda_{latent} = 0.5`), a loss that updates **G only**: updated together, G and E
  would agree on a hidden code instead of a visible style.

Everything follows the official code (junyanz/BicycleGAN, ``models/networks.py`` and
``models/bicycle_gan_model.py``): G is ganlib's ``UNetGenerator`` with z concatenated to the
input or to every down-sampling layer; E the ``resnet_256``/``resnet_128`` encoder; D and D2
two-scale PatchGANs (``MultiScaleDiscriminator``) on the output alone (``conditional_D`` off);
LSGAN; Adam 2e-4, beta1 0.5, linear decay after ``niter`` epochs; Xavier init, gain 0.02; dropout
in G. Default counts (``BicycleGAN()``): G 54,794,627 (z at every layer, the official
``--where_add all``; 54,417,795 with z at the input only), E 2,590,032, D and D2 3,458,978 each.
``ganlib.models.bicyclegan_official`` loads the authors' published G and E.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, Dict, List, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from torch import nn

from .. import losses
from ..train import set_requires_grad
from ..utils import eval_mode
from .blocks.layers import init_weights
from .blocks.patchgan import PatchDiscriminator
from .blocks.resnet_encoder import ResidualDownBlock, ResNetEncoder
from .blocks.schedules import linear_decay
from .blocks.unet import UNetGenerator

__all__ = [
    "ResidualDownBlock",
    "ResNetEncoder",
    "MultiScaleDiscriminator",
    "reparameterize",
    "kl_divergence",
    "check_z",
    "multiscale_d_loss",
    "multiscale_g_loss",
    "set_requires_grad",
    "VARIANTS",
    "BicycleGANConfig",
    "BicycleGAN",
    "bicyclegan_step",
    "sample_outputs",
    "diversity",
    "to_grey",
    "latent_statistics",
    "latent_recovery",
    "evaluate_shapes",
    "ShapesRun",
    "train_and_measure",
]

Outputs = Union[torch.Tensor, Sequence[torch.Tensor]]


# --------------------------------------------------------------------------- two-scale D


class MultiScaleDiscriminator(nn.Module):
    r"""The official default D (``D_NLayersMulti``, ``num_D=2``): PatchGANs at several scales.

    ``D(x)``: ``(N, in_channels, H, W) ->`` a list of ``num_d`` patch-logit maps: scale ``i``
    is a ``PatchDiscriminator(in_channels, round(ndf / 2**i), n_layers, norm)`` applied to
    ``x`` down-sampled ``i`` times by ``AvgPool2d(3, stride=2, padding=1,
    count_include_pad=False)``. With the defaults (3 channels: D sees the output alone,
    ``ndf=64, n_layers=3``, instance norm): 2,764,737 + 694,241 = 3,458,978 parameters.
    (The official loop halves ``ndf`` cumulatively, which differs from ``ndf / 2**i`` only
    for ``num_d >= 3``.)
    """

    def __init__(self, in_channels: int = 3, ndf: int = 64, n_layers: int = 3, norm: str = "instance", num_d: int = 2):
        super().__init__()
        if num_d < 1:
            raise ValueError(f"num_d must be >= 1, got {num_d}")
        self.in_channels, self.num_d = in_channels, num_d
        self.scales = nn.ModuleList(
            PatchDiscriminator(in_channels, int(round(ndf / 2**i)), n_layers, norm) for i in range(num_d)
        )
        self.down = nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False)

    def forward(self, x: torch.Tensor) -> List[torch.Tensor]:
        outs = []
        for i, d in enumerate(self.scales):
            if i > 0:
                x = self.down(x)
            outs.append(d(x))
        return outs


# --------------------------------------------------------------------------- z, KL, losses


def reparameterize(mu: torch.Tensor, logvar: torch.Tensor, eps: Optional[torch.Tensor] = None) -> torch.Tensor:
    r""":math:`z = \mu + \sigma \odot \epsilon`, :math:`\sigma = \exp(\tfrac12 \log\sigma^2)`,
    :math:`\epsilon \sim \mathcal N(0, I)`: a sample of :math:`q(z|B)` through which gradients
    reach :math:`\mu` and :math:`\log\sigma^2`. ``(N, nz), (N, nz) -> (N, nz)``."""
    if mu.shape != logvar.shape:
        raise ValueError(f"mu and logvar must have the same shape, got {tuple(mu.shape)} and {tuple(logvar.shape)}")
    if eps is None:
        eps = torch.randn_like(mu)
    return mu + torch.exp(0.5 * logvar) * eps


def kl_divergence(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    r""":math:`\mathrm{KL}(\mathcal N(\mu, \sigma^2) \,\|\, \mathcal N(0, I)) =
    -\tfrac12 \sum (1 + \log\sigma^2 - \mu^2 - \sigma^2)`, **summed** over the batch and the
    nz dimensions, as the official ``loss_kl`` (which then multiplies by :math:`\lambda_{KL}`)."""
    return -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())


def check_z(z: torch.Tensor, n: int, nz: int) -> torch.Tensor:
    """Check a latent code batch: shape ``(n, nz)`` and finite; returns ``z``."""
    if not isinstance(z, torch.Tensor):
        raise TypeError(f"z must be a tensor of shape ({n}, {nz}), got {type(z).__name__}")
    if z.dim() != 2 or tuple(z.shape) != (n, nz):
        raise ValueError(
            f"z must have shape (N, nz) = ({n}, {nz}): one code of size nz={nz} per input image, got {tuple(z.shape)}"
        )
    if not torch.isfinite(z).all():
        bad = int((~torch.isfinite(z)).sum())
        raise ValueError(
            f"z has {bad} non-finite value(s) (NaN or inf): sample it from N(0, I), e.g. "
            f"torch.randn({n}, {nz}), or check the encoder's mu/logvar"
        )
    return z


def _as_list(outs: Outputs) -> List[torch.Tensor]:
    return [outs] if isinstance(outs, torch.Tensor) else list(outs)


def multiscale_d_loss(real_outs: Outputs, fake_outs: Outputs, gan_mode: str = "lsgan") -> torch.Tensor:
    r"""D's loss summed over scales: :math:`\sum_s [\ell(D_s(\text{real}), 1) + \ell(D_s(\text{fake}), 0)]`,
    :math:`\ell` = squared error for LSGAN (the official ``backward_D``: no factor 1/2)."""
    d_loss, _ = losses.gan_losses(gan_mode)
    return sum(d_loss(r, f) for r, f in zip(_as_list(real_outs), _as_list(fake_outs)))


def multiscale_g_loss(fake_outs: Outputs, gan_mode: str = "lsgan") -> torch.Tensor:
    r"""G's adversarial loss summed over scales: :math:`\sum_s \ell(D_s(\text{fake}), 1)`."""
    _, g_loss = losses.gan_losses(gan_mode)
    return sum(g_loss(f) for f in _as_list(fake_outs))


# --------------------------------------------------------------------------- the model

# which parts of the step each variant runs: the cVAE-GAN path (B -> z -> B̂), the cLR-GAN path
# (z -> B̂ -> ẑ), or pix2pix + noise (z -> B̂, L1 to B: nothing forces B̂ to depend on z)
VARIANTS = {
    "bicyclegan": dict(encoded=True, random=True, noise_l1=False),
    "cvae_gan": dict(encoded=True, random=False, noise_l1=False),
    "clr_gan": dict(encoded=False, random=True, noise_l1=False),
    "pix2pix_noise": dict(encoded=False, random=False, noise_l1=True),
}


@dataclasses.dataclass
class BicycleGANConfig:
    """The official defaults (``base_options.py``, ``train_options.py``, and ``--use_dropout``,
    which every official training script passes); a profile changes a few.

    ``BicycleGAN(BicycleGANConfig())`` builds the official ``G_Unet_add_all`` (54,794,627
    parameters), ``resnet_256`` E and two ``basic_256_multi`` Ds. The learning rate follows the
    official ``lr_policy="linear"``: constant for ``niter`` epochs, then a straight line to 0 over
    ``niter_decay`` more. The config cannot know how many steps an epoch has (it depends on the
    data set): set ``epoch_steps`` (``ceil(len(train set) / batch_size)``, or 1 to count the
    schedule in steps); with ``epoch_steps=None`` the learning rate stays constant.
    """

    in_channels: int = 3  # edges2shoes: 1 (the official --input_nc 1)
    out_channels: int = 3
    nz: int = 8  # |z|
    ngf: int = 64
    ndf: int = 64
    nef: int = 64
    num_downs: int = 8  # unet_256
    n_blocks_e: int = 5  # resnet_256
    n_layers_d: int = 3  # basic_256_multi
    num_d: int = 2  # two scales
    norm: str = "instance"
    z_injection: str = "all"  # official --where_add all (G_Unet_add_all); "input": G_Unet_add_input
    upsample: str = "basic"
    use_dropout: bool = True  # --use_dropout, passed by every official training script
    conditional_d: bool = False  # official default: D sees B alone
    variant: str = "bicyclegan"  # or "cvae_gan", "clr_gan", "pix2pix_noise"
    lambda_l1: float = 10.0
    lambda_kl: float = 0.01
    lambda_z: float = 0.5  # latent regression |E(G(A, z)) - z|
    lambda_gan: float = 1.0  # D on the cVAE-GAN path
    lambda_gan2: float = 1.0  # D2 on the cLR-GAN path
    latent_trains_e: bool = False  # True: the pitfall, the latent loss updates E too (not official)
    gan_mode: str = "lsgan"
    lr: float = 2e-4
    beta1: float = 0.5
    init_gain: float = 0.02  # Xavier-normal
    niter: int = 100  # epochs at the initial learning rate (--niter; edges2shoes: 30)
    niter_decay: int = 100  # epochs of linear decay to 0 (--niter_decay; edges2shoes: 30)
    epoch_steps: Optional[int] = None  # steps per epoch for the schedule; None: constant learning rate


def to_grey(x: torch.Tensor) -> torch.Tensor:
    """RGB ``(N, 3, H, W)`` in [-1, 1] -> ``(N, 1, H, W)``: ``0.299 R + 0.587 G + 0.114 B``, the
    official ``AlignedDataset``'s conversion for ``--input_nc 1``."""
    if x.dim() != 4 or x.shape[1] != 3:
        raise ValueError(f"to_grey takes RGB images (N, 3, H, W), got shape {tuple(x.shape)}")
    w = torch.tensor([0.299, 0.587, 0.114], dtype=x.dtype, device=x.device)[None, :, None, None]
    return (x * w).sum(1, keepdim=True)


def _epoch_rule(per_epoch, epoch_steps: int, step: int) -> float:
    # the official scheduler steps once per epoch; ours once per step (picklable, for checkpoints);
    # past niter + niter_decay epochs (where the official run has ended) it stays at 0
    return max(0.0, per_epoch(step // epoch_steps))


class BicycleGAN:
    """Holds G, E, D (cVAE-GAN path), D2 (cLR-GAN path) and their Adam optimizers.

    A variant builds only what it uses: pix2pix + noise has no E and no D2, cVAE-GAN no D2,
    cLR-GAN no D (its E is trained by the latent loss: it has no other teacher). A
    :class:`ganlib.train.Trainer`: ``modules`` and ``optimizers`` by those names, ``states`` (the
    LR schedulers ``lr_G``, ``lr_E``... when ``cfg.epoch_steps`` is set) and ``step(batch)``, so
    ``fit(model, batches, steps)`` trains it.
    """

    def __init__(self, cfg: BicycleGANConfig = BicycleGANConfig(), device: Union[str, torch.device] = "cpu"):
        if cfg.variant not in VARIANTS:
            raise ValueError(f"variant must be one of {sorted(VARIANTS)}, got {cfg.variant!r}")
        self.cfg = cfg
        parts = VARIANTS[cfg.variant]
        init = lambda m: init_weights(m, cfg.init_gain, kind="xavier").to(device)  # noqa: E731
        self.G = init(
            UNetGenerator(
                cfg.in_channels,
                cfg.out_channels,
                cfg.num_downs,
                cfg.ngf,
                cfg.norm,
                cfg.use_dropout,
                nz=cfg.nz,
                z_injection=cfg.z_injection,
                upsample=cfg.upsample,
            )
        )
        d_in = cfg.out_channels + (cfg.in_channels if cfg.conditional_d else 0)
        make_d = lambda: init(MultiScaleDiscriminator(d_in, cfg.ndf, cfg.n_layers_d, cfg.norm, cfg.num_d))  # noqa
        self.E = (
            init(ResNetEncoder(cfg.out_channels, cfg.nz, cfg.nef, cfg.n_blocks_e, cfg.norm))
            if parts["encoded"] or parts["random"]
            else None
        )
        self.D = make_d() if parts["encoded"] or parts["noise_l1"] else None
        self.D2 = make_d() if parts["random"] else None
        adam = lambda m: torch.optim.Adam(m.parameters(), lr=cfg.lr, betas=(cfg.beta1, 0.999))  # noqa
        self.optimizers = {
            name: adam(getattr(self, name)) for name in ("G", "E", "D", "D2") if getattr(self, name) is not None
        }
        self.schedulers = {}
        if cfg.epoch_steps is not None:
            if cfg.epoch_steps < 1:
                raise ValueError(f"epoch_steps must be >= 1 (or None: constant learning rate), got {cfg.epoch_steps}")
            per_epoch = linear_decay(cfg.niter, cfg.niter_decay)
            rule = functools.partial(_epoch_rule, per_epoch, cfg.epoch_steps)
            self.schedulers = {
                name: torch.optim.lr_scheduler.LambdaLR(opt, rule) for name, opt in self.optimizers.items()
            }

    @property
    def modules(self) -> Dict[str, nn.Module]:
        """The networks this variant builds, by name (``G``, ``E``, ``D``, ``D2``)."""
        return {name: getattr(self, name) for name in ("G", "E", "D", "D2") if getattr(self, name) is not None}

    def modules_dict(self) -> Dict[str, nn.Module]:
        """``modules`` (kept for the chapter's notebook)."""
        return self.modules

    @property
    def states(self) -> Dict[str, Any]:
        """The LR schedulers (``lr_G``, ``lr_E``, ``lr_D``, ``lr_D2``), empty for a constant rate."""
        return {f"lr_{k}": v for k, v in self.schedulers.items()}

    def step(self, batch) -> Dict[str, torch.Tensor]:
        """One training step on ``batch = (A, B, ...)`` (see ``bicyclegan_step``), then the schedule.

        With ``cfg.in_channels == 1`` an RGB ``A`` is converted to grey first (``to_grey``), as
        the official loader does for ``--input_nc 1`` (edges2shoes)."""
        device = next(self.G.parameters()).device
        a, b = batch[0].to(device), batch[1].to(device)
        if self.cfg.in_channels == 1 and a.dim() == 4 and a.shape[1] == 3:
            a = to_grey(a)
        out = bicyclegan_step(self.G, self.E, self.D, self.D2, self.optimizers, a, b, self.cfg)
        for sched in self.schedulers.values():
            sched.step()
        return out

    @torch.no_grad()
    def sample(self, a: torch.Tensor, z: Optional[torch.Tensor] = None) -> torch.Tensor:
        """``G(a, z)``, ``(N, C, H, W) -> (N, C_out, H, W)``; z ~ N(0, I) when not given."""
        if z is None:
            z = torch.randn(a.shape[0], self.cfg.nz, device=a.device)
        return self.G(a, check_z(z, a.shape[0], self.cfg.nz))

    @torch.no_grad()
    def encode(self, b: torch.Tensor) -> torch.Tensor:
        """The mean code :math:`\\mu(E(b))`, ``(N, C, H, W) -> (N, nz)``."""
        if self.E is None:
            raise ValueError(f"the {self.cfg.variant!r} variant has no encoder E: nothing to encode with")
        return self.E(b)[0]


def bicyclegan_step(
    G: nn.Module,
    E: Optional[nn.Module],
    D: Optional[nn.Module],
    D2: Optional[nn.Module],
    optimizers: Dict[str, torch.optim.Optimizer],
    a: torch.Tensor,
    b: torch.Tensor,
    cfg: BicycleGANConfig = BicycleGANConfig(),
) -> Dict[str, torch.Tensor]:
    r"""One training step in the official order (``bicycle_gan_model.optimize_parameters``).

    The batch ``a, b (N, C, H, W)`` is split in halves, as in the official code: the first
    half (``a1, b1``) feeds both paths, the second half's ``b2`` is D2's real image.

    1. Forward. cVAE-GAN: :math:`\mu, \log\sigma^2 = E(b_1)`, :math:`z = \mu + \sigma\epsilon`,
       :math:`\hat b = G(a_1, z)`. cLR-GAN: :math:`z_r \sim \mathcal N(0, I)`,
       :math:`\tilde b = G(a_1, z_r)`.
    2. G and E (D, D2 frozen), one backward of
       :math:`\lambda_{GAN}\ell(D(\hat b), 1) + \lambda_{GAN2}\ell(D2(\tilde b), 1)
       + \lambda_{L1}\lVert b_1 - \hat b\rVert_1 + \lambda_{KL}\mathrm{KL}
       + \lambda_{z}\lVert \mu(E(\tilde b)) - z_r\rVert_1`, where E's weights are frozen while
       it computes :math:`\mu(E(\tilde b))`: the latent loss reaches G (through
       :math:`\tilde b`) but not E.
    3. D on (:math:`b_1` real, :math:`\hat b` fake), D2 on (:math:`b_2` real, :math:`\tilde b` fake),
       fakes detached; :math:`\ell` = LSGAN, summed over D's two scales.

    ``cfg.latent_trains_e=True`` lets the latent loss update E as well (the pitfall the paper
    warns about, for measuring it). ``cfg.variant`` switches parts off: ``"cvae_gan"`` (step 1-3
    without the cLR-GAN path),
    ``"clr_gan"`` (without the cVAE-GAN path; its latent loss trains G **and** E, since E has
    no other teacher), ``"pix2pix_noise"``: :math:`\tilde b = G(a_1, z_r)` with L1 to
    :math:`b_1` and D, no E at all.
    """
    if cfg.variant not in VARIANTS:
        raise ValueError(f"variant must be one of {sorted(VARIANTS)}, got {cfg.variant!r}")
    parts = VARIANTS[cfg.variant]
    if E is not None and getattr(E, "nz", G.nz) != G.nz:
        raise ValueError(
            f"the encoder gives codes of size nz={E.nz} but the generator takes nz={G.nz}: build both with the same nz"
        )
    if a.shape[0] != b.shape[0] or a.shape[0] < 2:
        raise ValueError(
            f"a and b need the same batch size >= 2 (it is split in two halves), got {a.shape[0]} and {b.shape[0]}"
        )
    d_loss_fn = lambda real, fake: multiscale_d_loss(real, fake, cfg.gan_mode)  # noqa: E731
    g_loss_fn = lambda fake: multiscale_g_loss(fake, cfg.gan_mode)  # noqa: E731
    pair = (lambda x, y: torch.cat([x, y], 1)) if cfg.conditional_d else (lambda x, y: y)  # noqa: E731
    h = a.shape[0] // 2
    a1, b1, a2, b2 = a[:h], b[:h], a[h : 2 * h], b[h : 2 * h]
    out: Dict[str, torch.Tensor] = {}

    # 1. forward: the two paths
    if parts["encoded"]:  # cVAE-GAN: B -> z -> B̂
        mu, logvar = E(b1)
        fake_enc = G(a1, reparameterize(mu, logvar))
    if parts["random"] or parts["noise_l1"]:  # cLR-GAN (or pix2pix + noise): z -> B̂
        z_random = torch.randn(h, G.nz, device=a.device)
        fake_rand = G(a1, z_random)

    # 2. G and E, with both discriminators frozen
    set_requires_grad([D, D2], False)
    g_loss = torch.zeros((), device=a.device)
    if parts["encoded"]:
        g_gan = cfg.lambda_gan * g_loss_fn(D(pair(a1, fake_enc)))
        l1 = cfg.lambda_l1 * F.l1_loss(fake_enc, b1)
        kl = cfg.lambda_kl * kl_divergence(mu, logvar)
        g_loss = g_loss + g_gan + l1 + kl
        out.update(g_gan=g_gan.detach(), g_l1=l1.detach(), kl=kl.detach())
    if parts["noise_l1"]:
        g_gan = cfg.lambda_gan * g_loss_fn(D(pair(a1, fake_rand)))
        l1 = cfg.lambda_l1 * F.l1_loss(fake_rand, b1)
        g_loss = g_loss + g_gan + l1
        out.update(g_gan=g_gan.detach(), g_l1=l1.detach())
    if parts["random"]:
        g_gan2 = cfg.lambda_gan2 * g_loss_fn(D2(pair(a1, fake_rand)))
        # latent regression: E's weights frozen while it reads B̂, so the loss moves G only
        # (in cLR-GAN alone E has no other teacher, and this loss trains it too)
        if parts["encoded"] and not cfg.latent_trains_e:
            set_requires_grad([E], False)
        mu_rand, _ = E(fake_rand)  # the mean is the point estimate ẑ
        set_requires_grad([E], True)
        z_l1 = cfg.lambda_z * F.l1_loss(mu_rand, z_random)
        g_loss = g_loss + g_gan2 + z_l1
        out.update(g_gan2=g_gan2.detach(), z_l1=z_l1.detach())
    for name in ("G", "E"):
        if name in optimizers:
            optimizers[name].zero_grad(set_to_none=True)
    g_loss.backward()
    for name in ("E", "G"):
        if name in optimizers:
            optimizers[name].step()

    # 3. the discriminators, on detached fakes
    set_requires_grad([D, D2], True)
    if D is not None:
        fake = fake_enc if parts["encoded"] else fake_rand
        d_loss = d_loss_fn(D(pair(a1, b1)), D(pair(a1, fake.detach())))
        optimizers["D"].zero_grad(set_to_none=True)
        d_loss.backward()
        optimizers["D"].step()
        out["d_loss"] = d_loss.detach()
    if D2 is not None:
        d2_loss = d_loss_fn(D2(pair(a2, b2)), D2(pair(a1, fake_rand.detach())))
        optimizers["D2"].zero_grad(set_to_none=True)
        d2_loss.backward()
        optimizers["D2"].step()
        out["d2_loss"] = d2_loss.detach()
    return out


# --------------------------------------------------------------------------- evaluation


@torch.no_grad()
def sample_outputs(
    G: nn.Module, a: torch.Tensor, n_samples: int, generator: Optional[torch.Generator] = None
) -> torch.Tensor:
    """``n_samples`` outputs per input with z ~ N(0, I): ``(N, C, H, W) -> (N, S, C_out, H, W)``.

    Runs G in eval mode (instance norm without running statistics is the same in both modes),
    then restores its mode.
    """
    n = a.shape[0]
    z = torch.randn(n * n_samples, G.nz, generator=generator).to(a.device)
    with eval_mode(G):
        out = G(a.repeat_interleave(n_samples, 0), z)
    return out.view(n, n_samples, *out.shape[1:])


def diversity(outputs: torch.Tensor, pool: int = 8) -> float:
    """Mean pairwise L1 distance between the samples of the same input, in a small feature
    space (each image average-pooled to ``pool x pool``). ``outputs (N, S, C, H, W)``, S >= 2.

    0 when every z gives the same image (the collapse of pix2pix + noise). The paper uses
    LPIPS distance; this pixel version needs no pretrained weights.
    """
    if outputs.dim() != 5 or outputs.shape[1] < 2:
        raise ValueError(f"outputs must be (N, S, C, H, W) with S >= 2 samples per input, got {tuple(outputs.shape)}")
    n, s = outputs.shape[:2]
    f = F.adaptive_avg_pool2d(outputs.flatten(0, 1).float(), pool).view(n, s, -1)
    dist = torch.cdist(f, f, p=1) / f.shape[-1]
    return float(dist.sum() / (n * s * (s - 1)))


@torch.no_grad()
def latent_statistics(E: nn.Module, b: torch.Tensor) -> Dict[str, float]:
    r"""How the codes :math:`\mu(E(b))` of real targets ``b (N, C, H, W)`` sit against the prior
    :math:`\mathcal N(0, I)` that random codes are drawn from: ``mu_mean`` (the mean over images
    and dimensions, 0 under the prior), ``mu_var`` (the variance over images, averaged over
    dimensions) and ``sigma`` (the encoder's mean :math:`\sigma`). With the KL term the codes
    stay near the prior; without it nothing keeps them there."""
    with eval_mode(E):
        mu, logvar = E(b)
    return {
        "mu_mean": float(mu.mean()),
        "mu_var": float(mu.var(0).mean()),
        "sigma": float(torch.exp(0.5 * logvar).mean()),
    }


@torch.no_grad()
def latent_recovery(G: nn.Module, E: nn.Module, a: torch.Tensor, generator: Optional[torch.Generator] = None) -> float:
    r""":math:`\lVert \mu(E(G(a, z))) - z \rVert_1` (mean absolute error) for random
    :math:`z \sim \mathcal N(0, I)`: how well E reads the code back from the output."""
    z = torch.randn(a.shape[0], G.nz, generator=generator).to(a.device)
    with eval_mode(G, E):
        return float((E(G(a, z))[0] - z).abs().mean())


@torch.no_grad()
def evaluate_shapes(
    model: "BicycleGAN", a: torch.Tensor, b: torch.Tensor, samples: int = 16, k: int = 4, seed: int = 1
) -> Dict[str, float]:
    r"""The chapter's measures on held-out multimodal shapes ``a, b (N, 3, H, W)``.

    From ``samples`` random z per input: ``modes`` (distinct valid fills per input, K is perfect),
    ``balance`` (KL of each input's mode frequencies to uniform, 0 is perfect: see
    ``mode_balance``), ``valid`` (share of outputs whose fill is a palette colour), ``diversity``
    (pooled pixel distance). With an encoder: ``recon_l1`` of :math:`G(A, \mu(E(B)))`,
    ``z_l1`` (``latent_recovery``), ``mu_mean``, ``mu_var``, ``sigma`` (``latent_statistics``);
    NaN without one.
    """
    from ..data.multimodal_shapes import fill_mode_coverage, mode_balance

    g = torch.Generator().manual_seed(seed)
    outs = sample_outputs(model.G, a, samples, g)
    row = {"diversity": diversity(outs)}
    row["modes"], row["valid"] = fill_mode_coverage(a.cpu(), outs.cpu(), k=k)
    row["balance"] = mode_balance(a.cpu(), outs.cpu(), k=k)
    nan = float("nan")
    if model.E is None:
        row.update(recon_l1=nan, guided=nan, z_l1=nan, mu_mean=nan, mu_var=nan, sigma=nan)
        return row
    from ..data.multimodal_shapes import fill_mode

    ref = torch.roll(torch.arange(len(a)), -1)  # example-guided: the code of the next outline's target
    with eval_mode(model.G):
        recon = model.G(a, model.encode(b))
        guided = model.G(a, model.encode(b[ref]))
    row["recon_l1"] = float((recon - b).abs().mean())
    row["guided"] = float(
        (fill_mode(a.cpu(), guided.cpu(), k) == fill_mode(a[ref].cpu(), b[ref].cpu(), k)).float().mean()
    )
    row["z_l1"] = latent_recovery(model.G, model.E, a, g)
    row.update(latent_statistics(model.E, b))
    return row


@dataclasses.dataclass
class ShapesRun:
    """One training run on multimodal shapes, for ``ganlib.runs``: what ``train_and_measure`` needs.

    ``save_to``: a path prefix; the trained model's state is written to
    ``{save_to}_seed{seed}.pt`` (to look at it afterwards without training it again).
    """

    model: BicycleGANConfig
    steps: int = 700
    batch_size: int = 16
    n_train: int = 2000
    n_test: int = 32
    samples: int = 16
    image_size: int = 32
    k: int = 4
    device: str = "cpu"
    save_to: Optional[str] = None


def train_and_measure(run: ShapesRun, seed: int) -> Dict[str, float]:
    """Train ``run.model`` for ``run.steps`` seeded steps on multimodal shapes, then
    ``evaluate_shapes`` on the held-out split. A library-level function for ``ganlib.runs.Run``.

    The data are the same for every seed; the seed sets the initial weights, the batch order
    and every z drawn in training.
    """
    import time

    import ganlib

    from ..data import TensorBatches
    from ..data.multimodal_shapes import load_multimodal_shapes
    from ..train import fit

    ganlib.seed_everything(seed)
    a, b, _ = load_multimodal_shapes(run.n_train, run.image_size, run.k, split="train")
    at, bt, _ = load_multimodal_shapes(run.n_test, run.image_size, run.k, split="test")
    model = BicycleGAN(run.model, device=run.device)
    batches = TensorBatches(a, b, batch_size=run.batch_size, seed=seed, device=run.device)
    t0 = time.process_time()
    fit(model, batches, run.steps, progress=False)
    seconds = time.process_time() - t0
    row = evaluate_shapes(model, at.to(run.device), bt.to(run.device), run.samples, run.k)
    row["cpu_s"] = seconds
    if run.save_to:
        torch.save({name: m.state_dict() for name, m in model.modules.items()}, f"{run.save_to}_seed{seed}.pt")
    return row
