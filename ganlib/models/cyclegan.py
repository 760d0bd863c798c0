r"""CycleGAN (Zhu, Park, Isola & Efros 2017): unpaired image-to-image translation.

Two generators, :math:`G: X \to Y` and :math:`F: Y \to X`, and two discriminators:
:math:`D_Y` tells real ``y`` from translated :math:`G(x)`, :math:`D_X` tells real ``x``
from translated :math:`F(y)` (neither tells X from Y). With the least-squares GAN
loss the networks minimise two objectives (not one):

.. math::
    L_D = \tfrac12\,\mathbb{E}_y[(D_Y(y) - 1)^2] + \tfrac12\,\mathbb{E}_x[D_Y(G(x))^2]
          \;(\text{and the same for } D_X \text{ with } x, F(y)),

    L_{G,F} = \mathbb{E}_x[(D_Y(G(x)) - 1)^2] + \mathbb{E}_y[(D_X(F(y)) - 1)^2]
              + \lambda L_{cyc}(G, F) + 0.5\lambda L_{idt}(G, F),

with :math:`\lambda = 10`,
:math:`L_{cyc} = \mathbb{E}\|F(G(x)) - x\|_1 + \mathbb{E}\|G(F(y)) - y\|_1` and
:math:`L_{idt} = \mathbb{E}\|G(y) - y\|_1 + \mathbb{E}\|F(x) - x\|_1`.

The generator is the ResNet of Johnson et al. 2016 with instance norm
(``resnet_9blocks`` for 256 px, ``resnet_6blocks`` for 128 px in the official code);
the discriminators are 70x70 PatchGANs (:class:`ganlib.models.PatchDiscriminator`, from
the Pix2Pix chapter; ``ganlib.models.blocks.patchgan``). The layouts, defaults and the order of the updates follow the
official implementation (junyanz/pytorch-CycleGAN-and-pix2pix).
"""

from __future__ import annotations

import dataclasses
import itertools
import os
from typing import Any, Dict, Mapping, Tuple, Union

import torch
from torch import nn

from ..losses import gan_losses
from ..train import set_requires_grad
from ..utils import batched, eval_mode
from .blocks.checkpoints import read_state_dict
from .blocks.layers import init_weights, norm_layer
from .blocks.patchgan import PatchDiscriminator
from .blocks.schedules import linear_decay

__all__ = [
    "ResnetBlock",
    "ResnetGenerator",
    "ImagePool",
    "cycle_loss",
    "identity_loss",
    "set_requires_grad",
    "cyclegan_step",
    "CycleGANConfig",
    "CycleGAN",
    "DomainClassifier",
    "train_domain_classifier",
    "evaluate_cyclegan",
    "real_vs_fake_accuracy",
    "ShapesExperiment",
    "train_and_measure",
]


# --------------------------------------------------------------------------- the generator


class ResnetBlock(nn.Module):
    r"""A residual block :math:`x + \text{conv\_block}(x)`, ``(N, dim, H, W) -> (N, dim, H, W)``.

    ``conv_block`` = reflection pad 1, conv 3x3, norm, ReLU, [dropout 0.5], reflection pad 1,
    conv 3x3, norm -- no ReLU after the sum, as in the official code.
    """

    def __init__(self, dim: int, norm: str = "instance", use_dropout: bool = False):
        super().__init__()
        use_bias = norm == "instance"  # the official rule: a conv before batch norm needs no bias
        layers = [nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, bias=use_bias), norm_layer(norm)(dim), nn.ReLU(True)]
        if use_dropout:
            layers.append(nn.Dropout(0.5))
        layers += [nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, bias=use_bias), norm_layer(norm)(dim)]
        self.conv_block = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv_block(x)


class ResnetGenerator(nn.Module):
    """CycleGAN's generator: ``(N, in_channels, H, W) -> (N, out_channels, H, W)`` in [-1, 1].

    - ``stem``: reflection pad 3, conv 7x7 to ``ngf`` channels, norm, ReLU;
    - ``down``: two stride-2 convs 3x3 (``ngf -> 2 ngf -> 4 ngf``), each with norm and ReLU;
    - ``blocks``: ``n_blocks`` :class:`ResnetBlock` at ``4 ngf`` channels and ``H/4 x W/4``;
    - ``up``: two stride-2 transposed convs 3x3 (``4 ngf -> 2 ngf -> ngf``), norm, ReLU;
    - ``head``: reflection pad 3, conv 7x7 to ``out_channels`` (with bias), tanh.

    ``H`` and ``W`` must be multiples of 4. Defaults are the official ``resnet_9blocks``
    (11,378,179 parameters); ``n_blocks=6`` is ``resnet_6blocks`` (7,837,699).
    Weights are drawn from N(0, 0.02) (``init_weights``), as the official ``init_type='normal'``.
    """

    def __init__(
        self,
        in_channels: int = 3,
        out_channels: int = 3,
        ngf: int = 64,
        n_blocks: int = 9,
        norm: str = "instance",
        use_dropout: bool = False,
        init_std: float = 0.02,
    ):
        super().__init__()
        for name, value in (("in_channels", in_channels), ("out_channels", out_channels), ("ngf", ngf)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if not isinstance(n_blocks, int) or n_blocks < 0:
            raise ValueError(f"n_blocks must be an int >= 0, got {n_blocks!r}")
        use_bias = norm == "instance"
        norm_fn = norm_layer(norm)
        self.in_channels, self.out_channels, self.ngf, self.n_blocks = in_channels, out_channels, ngf, n_blocks
        self.norm, self.use_dropout = norm, use_dropout
        self.stem = nn.Sequential(
            nn.ReflectionPad2d(3), nn.Conv2d(in_channels, ngf, 7, bias=use_bias), norm_fn(ngf), nn.ReLU(True)
        )
        self.down = nn.Sequential(
            nn.Conv2d(ngf, 2 * ngf, 3, stride=2, padding=1, bias=use_bias),
            norm_fn(2 * ngf),
            nn.ReLU(True),
            nn.Conv2d(2 * ngf, 4 * ngf, 3, stride=2, padding=1, bias=use_bias),
            norm_fn(4 * ngf),
            nn.ReLU(True),
        )
        self.blocks = nn.Sequential(*[ResnetBlock(4 * ngf, norm, use_dropout) for _ in range(n_blocks)])
        self.up = nn.Sequential(
            nn.ConvTranspose2d(4 * ngf, 2 * ngf, 3, stride=2, padding=1, output_padding=1, bias=use_bias),
            norm_fn(2 * ngf),
            nn.ReLU(True),
            nn.ConvTranspose2d(2 * ngf, ngf, 3, stride=2, padding=1, output_padding=1, bias=use_bias),
            norm_fn(ngf),
            nn.ReLU(True),
        )
        self.head = nn.Sequential(nn.ReflectionPad2d(3), nn.Conv2d(ngf, out_channels, 7), nn.Tanh())
        if init_std:
            init_weights(self, std=init_std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"expected images (N, {self.in_channels}, H, W), got {tuple(x.shape)}")
        if x.shape[2] % 4 or x.shape[3] % 4:
            raise ValueError(
                f"height and width must be multiples of 4 (two stride-2 downsamplings), "
                f"got {tuple(x.shape[2:])}; resize or crop the images"
            )
        return self.head(self.up(self.blocks(self.down(self.stem(x)))))

    # ----------------------------------------------------------------- official checkpoints

    @staticmethod
    def official_key(key: str, n_blocks: int) -> str:
        """Map a key of the official ``ResnetGenerator`` (one ``nn.Sequential`` called ``model``)
        to ours: ``model.0-3`` stem, ``4-9`` down, ``10 .. 9+n_blocks`` blocks, then 6 up, 3 head.

        >>> ResnetGenerator.official_key("model.12.conv_block.5.weight", 9)
        'blocks.2.conv_block.5.weight'
        >>> ResnetGenerator.official_key("model.26.bias", 9)
        'head.1.bias'
        """
        parts = key.split(".")
        if len(parts) < 3 or parts[0] != "model" or not parts[1].isdigit():
            raise ValueError(f"{key!r} is not a key of the official ResnetGenerator ('model.<i>.<...>')")
        i, rest = int(parts[1]), ".".join(parts[2:])
        for name, start, length in (
            ("stem", 0, 4),
            ("down", 4, 6),
            ("blocks", 10, n_blocks),
            ("up", 10 + n_blocks, 6),
            ("head", 16 + n_blocks, 3),
        ):
            if start <= i < start + length:
                return f"{name}.{i - start}.{rest}"
        raise ValueError(f"{key!r}: layer {i} is past the end of a ResnetGenerator with {n_blocks} blocks")

    @classmethod
    def from_official(
        cls, state_dict_or_path: Union[Mapping[str, torch.Tensor], str, os.PathLike]
    ) -> "ResnetGenerator":
        """A generator holding the weights of an official CycleGAN checkpoint.

        Accepts the state_dict or the path of a ``.pth`` file saved by the official code
        (e.g. the authors' ``horse2zebra.pth``; ``registry.download_url`` fetches it). The
        architecture (channels, ``ngf``, ``n_blocks``, norm, dropout) is read from the shapes.
        Old checkpoints hold ``running_mean``/``running_var`` for instance norm layers that track
        no statistics; they are dropped, as the official ``__patch_instance_norm_state_dict`` does.
        """
        state = read_state_dict(state_dict_or_path)
        if any(k.startswith("model.model.") for k in state):
            raise ValueError(
                "this checkpoint is an official U-Net generator (unet_128/unet_256, keys "
                "'model.model...'), not a ResnetGenerator: load it with "
                "UNetGenerator.from_official (pix2pix) instead"
            )
        if "model.1.weight" not in state or not all(k.startswith("model.") for k in state):
            raise ValueError(
                "not an official ResnetGenerator checkpoint: expected keys 'model.<i>...' "
                f"starting with 'model.1.weight', got {sorted(state)[:4]}..."
            )
        stem = state["model.1.weight"]
        if stem.dim() != 4 or stem.shape[2:] != (7, 7):
            raise ValueError(
                f"model.1.weight has shape {tuple(stem.shape)}; an official ResnetGenerator "
                "starts with a 7x7 conv: this checkpoint is another architecture"
            )
        ngf, in_channels = stem.shape[0], stem.shape[1]
        block_ids = sorted({int(k.split(".")[1]) for k in state if ".conv_block." in k})
        n_blocks = len(block_ids)
        if block_ids != list(range(10, 10 + n_blocks)):
            raise ValueError(
                f"residual blocks at layers {block_ids}; expected 10, 11, ...: not an official ResnetGenerator"
            )
        norm = "instance" if "model.1.bias" in state else ("batch" if "model.2.weight" in state else "none")
        if norm == "instance":
            if "model.2.weight" in state:
                raise ValueError(
                    "instance norm with affine parameters is not the official layout "
                    "(norm='instance' uses affine=False)"
                )
            state = {
                k: v for k, v in state.items() if not k.endswith(("running_mean", "running_var", "num_batches_tracked"))
            }
        use_dropout = n_blocks > 0 and state.get("model.10.conv_block.6.weight", torch.zeros(1)).dim() == 4
        head = f"model.{17 + n_blocks}.weight"
        if head not in state:
            raise ValueError(f"missing {head!r}, the last conv of a {n_blocks}-block ResnetGenerator")
        model = cls(in_channels, state[head].shape[0], ngf, n_blocks, norm, use_dropout, init_std=0.0)
        mapped = {cls.official_key(k, n_blocks): v for k, v in state.items()}
        own = model.state_dict()
        missing = sorted(set(own) - set(mapped))
        unexpected = sorted(set(mapped) - set(own))
        wrong = [
            f"{k}: {tuple(mapped[k].shape)} vs {tuple(own[k].shape)}"
            for k in own
            if k in mapped and mapped[k].shape != own[k].shape
        ]
        if missing or unexpected or wrong:
            raise ValueError(
                f"checkpoint does not fit a ResnetGenerator(in={in_channels}, ngf={ngf}, "
                f"n_blocks={n_blocks}, norm={norm!r}): missing {missing[:3]}, unexpected "
                f"{unexpected[:3]}, shapes {wrong[:3]}"
            )
        model.load_state_dict(mapped)
        return model


# --------------------------------------------------------------------------- the image pool


class ImagePool:
    """A buffer of up to ``pool_size`` past fakes (Shrivastava et al. 2017), for D's updates.

    ``query(images)``: while the pool is not full, each image is stored and returned as is.
    Once full, each image is, with probability 0.5, returned as is; otherwise a random stored
    image is returned and the new one takes its place. D then sees a history of G's outputs,
    not only the latest, which damps the oscillation where G and D chase each other.
    ``pool_size=0`` turns the pool off. Images are detached. Seeded by ``seed``; its state
    (images and RNG) is saved by ``state_dict`` for exact resumption.
    """

    def __init__(self, pool_size: int = 50, seed: int = 0):
        if not isinstance(pool_size, int) or pool_size < 0:
            raise ValueError(f"pool_size must be an int >= 0, got {pool_size!r}")
        self.pool_size = pool_size
        self.images: list = []
        self.generator = torch.Generator().manual_seed(seed)

    def query(self, images: torch.Tensor) -> torch.Tensor:
        """``(N, C, H, W) -> (N, C, H, W)``: the images D is shown in place of ``images``."""
        images = images.detach()
        if self.pool_size == 0:
            return images
        out = []
        for image in images:
            if len(self.images) < self.pool_size:
                self.images.append(image.clone())
                out.append(image)
            elif torch.rand((), generator=self.generator).item() > 0.5:
                j = int(torch.randint(self.pool_size, (), generator=self.generator))
                old, self.images[j] = self.images[j].to(image.device), image.clone()
                out.append(old)
            else:
                out.append(image)
        return torch.stack(out)

    __call__ = query

    def __len__(self) -> int:
        return len(self.images)

    def state_dict(self) -> Dict[str, Any]:
        images = torch.stack(self.images).cpu() if self.images else torch.zeros(0)
        return {"pool_size": self.pool_size, "images": images, "generator": self.generator.get_state()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        if int(state["pool_size"]) != self.pool_size:
            raise ValueError(f"pool state of size {state['pool_size']} for a pool of size {self.pool_size}")
        self.images = [img.clone() for img in state["images"]] if len(state["images"]) else []
        self.generator.set_state(state["generator"])


# --------------------------------------------------------------------------- the losses


def cycle_loss(reconstructed: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    r"""Cycle-consistency loss :math:`\mathbb{E}\|F(G(x)) - x\|_1`: the mean absolute error
    between the reconstruction and the **real** input (not the translated fake).
    ``reconstructed`` and ``real``: ``(N, C, H, W)``; returns a scalar (unweighted; the step applies λ)."""
    if reconstructed.shape != real.shape:
        raise ValueError(
            f"reconstruction {tuple(reconstructed.shape)} and real images {tuple(real.shape)} must have the same shape"
        )
    return (reconstructed - real).abs().mean()


def identity_loss(same: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    r"""Identity loss :math:`\mathbb{E}\|G(y) - y\|_1`: a generator fed an image of its own target
    domain should leave it unchanged (keeps colours in photo<->painting). Scalar, unweighted."""
    if same.shape != real.shape:
        raise ValueError(
            f"identity output {tuple(same.shape)} and input {tuple(real.shape)} differ in "
            "shape; the identity loss needs domains with the same channel count "
            "(set lambda_identity=0 for e.g. grayscale <-> RGB)"
        )
    return (same - real).abs().mean()


# --------------------------------------------------------------------------- the training step


def cyclegan_step(
    G: nn.Module,
    F: nn.Module,
    D_X: nn.Module,
    D_Y: nn.Module,
    opt_G: torch.optim.Optimizer,
    opt_D: torch.optim.Optimizer,
    real_x: torch.Tensor,
    real_y: torch.Tensor,
    pool_x: ImagePool,
    pool_y: ImagePool,
    *,
    lambda_x: float = 10.0,
    lambda_y: float = 10.0,
    lambda_identity: float = 0.5,
    lambda_gan: float = 1.0,
    gan_mode: str = "lsgan",
) -> Dict[str, torch.Tensor]:
    r"""One CycleGAN iteration in the official order (``optimize_parameters``).

    ``real_x``: ``(N, C_x, H, W)``, ``real_y``: ``(N, C_y, H, W)``, unpaired. ``opt_G`` holds the
    parameters of G and F, ``opt_D`` those of D_X and D_Y.

    1. Translate: ``fake_y = G(x)``, ``rec_x = F(fake_y)``, ``fake_x = F(y)``, ``rec_y = G(fake_x)``.
    2. Update G and F together, D's frozen:
       :math:`(D_Y(G(x)) - 1)^2 + (D_X(F(y)) - 1)^2 + \lambda_x\|F(G(x)) - x\|_1 + \lambda_y\|G(F(y)) - y\|_1
       + \lambda_{idt}(\lambda_y\|G(y) - y\|_1 + \lambda_x\|F(x) - x\|_1)`.
    3. Update D_Y and D_X on fakes drawn from the image pools, each loss halved as in the official
       code: :math:`\tfrac12[(D_Y(y) - 1)^2 + D_Y(\text{pool}(G(x)))^2]`, the same for D_X. Under
       Adam the 0.5 does not slow D (Adam's step is invariant to the loss's scale, up to its eps);
       a lower learning rate for ``opt_D`` would.

    ``lambda_x`` weighs the forward cycle x -> G -> F -> x and ``lambda_y`` the backward cycle
    (the paper's λ = 10 for both; 0 switches a cycle off, as in the paper's ablation);
    ``lambda_gan=0`` drops both GAN terms from G and F's loss (the paper's "Cycle alone" row;
    the D's still train, G and F no longer listen to them). ``gan_mode`` picks the GAN objective
    (:func:`ganlib.losses.gan_losses`; the paper's and the official default: ``"lsgan"``). Returns the
    (weighted) losses: ``g_gan`` and ``f_gan`` (the GAN terms of G and F), ``cycle_x``, ``cycle_y``,
    ``idt_x``, ``idt_y``, ``g_loss`` (their sum, what G and F descend) and ``d_y_loss``, ``d_x_loss``.
    """
    d_loss_fn, g_loss_fn = gan_losses(gan_mode)
    if real_x.dim() != 4 or real_y.dim() != 4:
        raise ValueError(f"real_x and real_y must be (N, C, H, W); got {tuple(real_x.shape)} and {tuple(real_y.shape)}")
    if lambda_identity > 0 and real_x.shape[1] != real_y.shape[1]:
        raise ValueError(
            f"the domains have {real_x.shape[1]} and {real_y.shape[1]} channels: the identity "
            "loss feeds y to G: X->Y, which needs equal channel counts. Convert one domain "
            "(e.g. x.expand(-1, 3, -1, -1) for grayscale) or set lambda_identity=0"
        )
    # 1. translate both ways, and back
    fake_y = G(real_x)
    fake_x = F(real_y)
    zero = real_x.new_zeros(())
    # 2. G and F descend their loss against the current, frozen, discriminators
    set_requires_grad([D_X, D_Y], False)
    opt_G.zero_grad(set_to_none=True)
    gan_G = lambda_gan * g_loss_fn(D_Y(fake_y)) if lambda_gan else zero
    gan_F = lambda_gan * g_loss_fn(D_X(fake_x)) if lambda_gan else zero
    cyc_x = lambda_x * cycle_loss(F(fake_y), real_x) if lambda_x else zero
    cyc_y = lambda_y * cycle_loss(G(fake_x), real_y) if lambda_y else zero
    idt_y = lambda_y * lambda_identity * identity_loss(G(real_y), real_y) if lambda_identity * lambda_y else zero
    idt_x = lambda_x * lambda_identity * identity_loss(F(real_x), real_x) if lambda_identity * lambda_x else zero
    loss_G = gan_G + gan_F + cyc_x + cyc_y + idt_x + idt_y
    loss_G.backward()
    opt_G.step()
    # 3. the discriminators, on real images and on fakes from the pools
    set_requires_grad([D_X, D_Y], True)
    opt_D.zero_grad(set_to_none=True)
    loss_D_Y = 0.5 * d_loss_fn(D_Y(real_y), D_Y(pool_y.query(fake_y)))
    loss_D_X = 0.5 * d_loss_fn(D_X(real_x), D_X(pool_x.query(fake_x)))
    (loss_D_Y + loss_D_X).backward()
    opt_D.step()
    return {
        "g_gan": gan_G.detach(),
        "f_gan": gan_F.detach(),
        "cycle_x": cyc_x.detach(),
        "cycle_y": cyc_y.detach(),
        "idt_x": idt_x.detach(),
        "idt_y": idt_y.detach(),
        "g_loss": loss_G.detach(),
        "d_y_loss": loss_D_Y.detach(),
        "d_x_loss": loss_D_X.detach(),
    }


# --------------------------------------------------------------------------- everything together


@dataclasses.dataclass
class CycleGANConfig:
    """The paper's and the official code's defaults (256 px, ``resnet_9blocks``, 70x70 PatchGAN)."""

    x_channels: int = 3
    y_channels: int = 3
    ngf: int = 64
    ndf: int = 64
    n_blocks: int = 9
    n_layers_d: int = 3
    norm: str = "instance"
    use_dropout: bool = False
    lambda_x: float = 10.0
    lambda_y: float = 10.0
    lambda_identity: float = 0.5
    lambda_gan: float = 1.0  # weight of the GAN terms in G and F's loss (0: the paper's "Cycle alone")
    gan_mode: str = "lsgan"  # the GAN objective (ganlib.losses.gan_losses); the paper's: least squares
    pool_size: int = 50
    lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    init_std: float = 0.02
    n_constant: int = 0  # learning-rate schedule, in steps: constant for n_constant steps, then
    n_decay: int = 0  # linear decay to 0 over n_decay more (official: 100 + 100 epochs); 0, 0: constant


class CycleGAN:
    """The four networks, two optimizers and two image pools of a CycleGAN, built from a config.

    ``G: X -> Y``, ``F: Y -> X``, ``D_Y`` (real y vs G(x)), ``D_X`` (real x vs F(y)). ``step(batch)``
    with ``batch = (real_x, real_y)`` runs :func:`cyclegan_step`, then the LR schedule; ``modules``,
    ``optimizers`` (``G``: G and F, ``D``: D_X and D_Y) and ``states`` (the schedulers ``lr_G``,
    ``lr_D`` and the pools) make it a :class:`ganlib.train.Trainer`: ``fit(model, batches, steps)``.
    """

    def __init__(self, cfg: CycleGANConfig = CycleGANConfig(), device: Union[str, torch.device] = "cpu", seed: int = 0):
        self.cfg = cfg
        self.G = ResnetGenerator(
            cfg.x_channels, cfg.y_channels, cfg.ngf, cfg.n_blocks, cfg.norm, cfg.use_dropout, cfg.init_std
        ).to(device)
        self.F = ResnetGenerator(
            cfg.y_channels, cfg.x_channels, cfg.ngf, cfg.n_blocks, cfg.norm, cfg.use_dropout, cfg.init_std
        ).to(device)
        self.D_Y = PatchDiscriminator(cfg.y_channels, cfg.ndf, cfg.n_layers_d, cfg.norm).to(device)
        self.D_X = PatchDiscriminator(cfg.x_channels, cfg.ndf, cfg.n_layers_d, cfg.norm).to(device)
        init_weights(self.D_Y, std=cfg.init_std)
        init_weights(self.D_X, std=cfg.init_std)
        betas = (cfg.beta1, cfg.beta2)
        self.opt_G = torch.optim.Adam(itertools.chain(self.G.parameters(), self.F.parameters()), lr=cfg.lr, betas=betas)
        self.opt_D = torch.optim.Adam(
            itertools.chain(self.D_X.parameters(), self.D_Y.parameters()), lr=cfg.lr, betas=betas
        )
        self.pool_x = ImagePool(cfg.pool_size, seed=2 * seed)
        self.pool_y = ImagePool(cfg.pool_size, seed=2 * seed + 1)
        self.schedulers = {}
        if cfg.n_constant or cfg.n_decay:  # the Pix2Pix chapter's constant-then-linear-decay rule
            rule = linear_decay(cfg.n_constant, cfg.n_decay)
            self.schedulers = {
                name: torch.optim.lr_scheduler.LambdaLR(opt, rule) for name, opt in self.optimizers.items()
            }

    def step(self, batch: Tuple[torch.Tensor, torch.Tensor]) -> Dict[str, torch.Tensor]:
        real_x, real_y = batch
        c = self.cfg
        losses = cyclegan_step(
            self.G,
            self.F,
            self.D_X,
            self.D_Y,
            self.opt_G,
            self.opt_D,
            real_x,
            real_y,
            self.pool_x,
            self.pool_y,
            lambda_x=c.lambda_x,
            lambda_y=c.lambda_y,
            lambda_identity=c.lambda_identity,
            lambda_gan=c.lambda_gan,
            gan_mode=c.gan_mode,
        )
        for scheduler in self.schedulers.values():
            scheduler.step()
        return losses

    @property
    def modules(self) -> Dict[str, nn.Module]:
        return {"G": self.G, "F": self.F, "D_X": self.D_X, "D_Y": self.D_Y}

    @property
    def optimizers(self) -> Dict[str, torch.optim.Optimizer]:
        return {"G": self.opt_G, "D": self.opt_D}

    @property
    def states(self) -> Dict[str, Any]:
        """Objects with ``state_dict``/``load_state_dict`` besides modules and optimizers: the LR
        schedulers and the image pools. ``fit(model, ...)`` checkpoints them, so a resumed run
        continues exactly."""
        return {**{f"lr_{k}": v for k, v in self.schedulers.items()}, "pool_x": self.pool_x, "pool_y": self.pool_y}

    @torch.no_grad()
    def translate(self, images: torch.Tensor, direction: str = "XtoY", batch_size: int = 256) -> torch.Tensor:
        """``G(images)`` (``"XtoY"``) or ``F(images)`` (``"YtoX"``) in eval mode, in batches."""
        if direction not in ("XtoY", "YtoX"):
            raise ValueError(f"direction must be 'XtoY' or 'YtoX', got {direction!r}")
        net = self.G if direction == "XtoY" else self.F
        with eval_mode(net):
            return batched(net, images, batch_size=batch_size, device=next(net.parameters()).device)


# --------------------------------------------------------------------------- measures


class DomainClassifier(nn.Module):
    """A small CNN telling domain X (logit < 0) from domain Y (logit > 0): ``(N, C, H, W) -> (N,)``.
    Trained on real images only; applied to translations it measures target-domain realism."""

    def __init__(self, in_channels: int = 3, width: int = 16):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, 2, 1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(width, 2 * width, 3, 2, 1),
            nn.LeakyReLU(0.2),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(2 * width, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(1)

    @torch.no_grad()
    def fraction_y(self, images: torch.Tensor, batch_size: int = 512) -> float:
        """Fraction of ``images`` classified as domain Y."""
        with eval_mode(self):
            logits = batched(self, images, batch_size=batch_size, device=next(self.parameters()).device)
        return int((logits > 0).sum()) / len(images)


def train_domain_classifier(
    X: torch.Tensor, Y: torch.Tensor, steps: int = 200, batch_size: int = 64, lr: float = 1e-3, seed: int = 0
) -> DomainClassifier:
    """Fit a :class:`DomainClassifier` on real ``X`` (label 0) and real ``Y`` (label 1), ``(N, C, H, W)``."""
    if X.shape[1:] != Y.shape[1:]:
        raise ValueError(
            f"X images {tuple(X.shape[1:])} and Y images {tuple(Y.shape[1:])} must have the "
            "same shape for one classifier"
        )
    g = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        clf = DomainClassifier(X.shape[1]).to(X.device)
    opt = torch.optim.Adam(clf.parameters(), lr=lr)
    data = torch.cat([X, Y])
    labels = torch.cat([torch.zeros(len(X)), torch.ones(len(Y))]).to(X.device)
    for _ in range(steps):
        idx = torch.randint(len(data), (batch_size,), generator=g).to(X.device)
        loss = nn.functional.binary_cross_entropy_with_logits(clf(data[idx]), labels[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return clf


def evaluate_cyclegan(
    model: "CycleGAN", X: torch.Tensor, Y: torch.Tensor, classifier: DomainClassifier
) -> Dict[str, float]:
    """The chapter's three measures on *paired* test images (``Y[i]`` is ``X[i]``'s hidden counterpart):

    - ``G(x) in Y``, ``F(y) in X``: realism, the fraction the domain classifier puts in the target domain;
    - ``content G``: mean L1 between ``G(x)`` and ``x``'s ground-truth counterpart ``y*`` (lower: better
      content preservation); ``content F`` the same for ``F(y)`` vs ``x*``;
    - ``cycle x``, ``cycle y``: mean L1 of ``F(G(x)) - x`` and ``G(F(y)) - y``.
    """
    if X.shape != Y.shape:
        raise ValueError(f"evaluation needs paired test images of one shape, got {tuple(X.shape)} and {tuple(Y.shape)}")
    gx, fy = model.translate(X, "XtoY"), model.translate(Y, "YtoX")
    return {
        "G(x) in Y": classifier.fraction_y(gx),
        "F(y) in X": 1 - classifier.fraction_y(fy),
        "content G": float((gx - Y).abs().mean()),
        "content F": float((fy - X).abs().mean()),
        "cycle x": float((model.translate(gx, "YtoX") - X).abs().mean()),
        "cycle y": float((model.translate(fy, "XtoY") - Y).abs().mean()),
    }


def real_vs_fake_accuracy(fakes: torch.Tensor, reals: torch.Tensor, steps: int = 150, seed: int = 0) -> float:
    """Held-out accuracy of a classifier trained to tell ``reals`` from ``fakes`` (both ``(N, C, H, W)``).

    A classifier two-sample test (Lopez-Paz & Oquab 2017): a :class:`DomainClassifier` is trained
    on the first half of the fakes against the second half of the reals, and tested on the other
    halves (so a fake and its hidden counterpart never sit in the same fold). 0.5: the classifier
    cannot tell them apart (the best a generator can reach); 1.0: every fake is spotted, as for a
    generator that outputs grey. Unlike "fraction classified as Y" it is not fooled by outputs that
    are merely nearer to Y than to X.
    """
    n = min(len(fakes), len(reals))
    if n < 4:
        raise ValueError(f"need at least 4 fakes and 4 reals, got {len(fakes)} and {len(reals)}")
    if fakes.shape[1:] != reals.shape[1:]:
        raise ValueError(f"fakes {tuple(fakes.shape[1:])} and reals {tuple(reals.shape[1:])} differ in shape")
    h = n // 2
    clf = train_domain_classifier(fakes[:h], reals[h : 2 * h], steps=steps, seed=seed)
    return 0.5 * (clf.fraction_y(reals[:h]) + 1 - clf.fraction_y(fakes[h : 2 * h]))


@dataclasses.dataclass
class ShapesExperiment:
    """One CycleGAN run on the unpaired shapes, as the chapter's ablation trains and measures it.

    The D has ``n_layers_d=1``: a 16 px receptive field on 32 px images, so it judges patches, as
    the 70x70 PatchGAN does on 256 px images (``n_layers_d=2`` would see 34 px: the whole image)."""

    model: CycleGANConfig = dataclasses.field(
        default_factory=lambda: CycleGANConfig(ngf=8, ndf=8, n_blocks=3, n_layers_d=1)
    )
    steps: int = 300
    batch_size: int = 8
    image_size: int = 32
    train_limit: Any = None  # images per domain (None: all 2,000)
    test_limit: int = 400  # paired test images
    classifier_steps: int = 150  # the real-vs-fake classifier
    device: str = "cpu"  # "cuda": run the (small) nets on the GPU, one run after another


def train_and_measure(config: ShapesExperiment, seed: int) -> Dict[str, float]:
    """Train a CycleGAN on the unpaired shapes with ``config`` and ``seed``; return its measures.

    - ``content L1``: mean L1 between G(x) and the hidden counterpart y* (lower: content kept);
    - ``silhouette IoU``: of G(x)'s and y*'s shapes;
    - ``real vs fake``: :func:`real_vs_fake_accuracy` of G(x) against real y (0.5 best);
    - ``cycle x``: mean L1 of F(G(x)) - x; ``content L1 (F)``: F(y) against x*.

    A library-level function, so ``ganlib.runs.run_all`` can run seeds side by side.
    """
    from ..data.unpaired_shapes import UnpairedBatches, load_unpaired_shapes, silhouette_iou
    from ..train import fit

    X, Y = load_unpaired_shapes("train", size=config.image_size, limit=config.train_limit)
    Xt, Yt = load_unpaired_shapes("test", size=config.image_size, limit=config.test_limit)
    model = CycleGAN(config.model, device=config.device, seed=seed)
    fit(
        model,
        UnpairedBatches(X, Y, batch_size=config.batch_size, seed=seed, device=config.device),
        config.steps,
        progress=False,
    )
    gx, fy = model.translate(Xt), model.translate(Yt, "YtoX")
    return {
        "content L1": float((gx - Yt).abs().mean()),
        "silhouette IoU": silhouette_iou(gx, Yt),
        "real vs fake": real_vs_fake_accuracy(gx, Yt, steps=config.classifier_steps, seed=seed),
        "cycle x": float((model.translate(gx, "YtoX") - Xt).abs().mean()),
        "content L1 (F)": float((fy - Xt).abs().mean()),
    }
