# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 3. Pix2Pix: image-to-image translation with a conditional GAN
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/ganbook/ganbook/blob/main/notebooks/03_pix2pix.ipynb)
#
# **What you will build.** Pix2Pix (Isola, Zhu, Zhou & Efros 2017), faithful to the official
# implementation down to the parameter count: a U-Net generator that maps an input image to an
# output image, a PatchGAN discriminator that judges the *pair* (input, output) patch by patch,
# and the objective $\mathcal{L}_{cGAN} + \lambda\,\mathcal{L}_{L1}$. We train it to turn label
# maps into rendered building fronts (a procedural stand-in for the CMP Facades set, with a
# known ground truth), then repeat the paper's ablations over several seeds: which loss
# (L1, GAN, cGAN and their sums), which generator (U-Net or encoder-decoder) and which
# discriminator patch size. Each row is scored on fidelity (L1, PSNR), sharpness (a
# high-frequency ratio) and label consistency (a segmenter trained on real facades, in the
# spirit of the paper's FCN score). One line switches to the real facades, maps, cityscapes,
# edges2shoes... and the paper's settings, and the authors' published weights load into our
# generator.
#
# **Learning objectives.** After this chapter you can
# - write the pix2pix objective and say what each term buys (L1: the low frequencies; the
#   conditional GAN: sharp, realistic high frequencies that agree with the input);
# - build the U-Net (skip connections, dropout as the noise) and the PatchGAN, and compute
#   a discriminator's receptive field;
# - train with the paper's recipe (N(0, 0.02) init, Adam 2e-4 / beta1 0.5, lambda = 100,
#   constant-then-linear-decay LR) and explain the official test-time behaviour;
# - read an ablation over seeds: mean ± sd, and a ranking only where the gap beats the spread;
# - load official checkpoints.
#
# **Prerequisites.** Chapter 1 (the GAN game and its losses) and chapter 2 (conditioning).

# %%
import sys
if "google.colab" in sys.modules:  # on Colab only: install ganlib from the book's repository
    import subprocess
    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "git+https://github.com/ganbook/ganbook"], check=True)

# %%
import copy
import dataclasses
import math
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Optional, Tuple

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from IPython.display import Markdown, display
from torch import nn

import ganlib
from ganlib import viz
from ganlib.data.toy_facades import CLASSES, free_style_renderings
from ganlib.losses import d_loss_bce, g_loss_nonsaturating
from ganlib.models.facade_segmenter import label_consistency, train_segmenter
from ganlib.models.pix2pix import (PatchDiscriminator, Pix2PixConfig, Pix2PixExperiment, UNetGenerator,
                                   dropout_spread, empirical_receptive_field, evaluate_paired_translation,
                                   init_weights, linear_decay, load_pairs, measure_pix2pix,
                                   paper_schedule, pix2pix_step, receptive_field, train_and_measure,
                                   train_pix2pix)
from ganlib.runs import Run, by_row, format_table, mean_sd, run_all, separated, verdict

device = ganlib.setup(seed=0)


# %%
@dataclass
class Chapter3Config:
    dataset: str = "toy_facades"  # offline default; or "facades", "maps", "cityscapes", "edges2shoes", ...
    direction: str = "AtoB"       # real sets: which half is the input ("BtoA" for facades labels -> photo)
    image_size: int = 64          # a multiple of 2**model.num_downs
    n_train: Optional[int] = 1000  # pairs (None: all of a real set)
    n_test: Optional[int] = 200
    jitter: bool = False          # the paper's 286 -> 256 random crop + flip (real data at 256 px)
    batch_size: int = 8
    steps: int = 600              # steps of the main model (L1 + cGAN, the default PatchGAN)
    model: Pix2PixConfig = field(default_factory=lambda: Pix2PixConfig(
        num_downs=6, ngf=8, ndf=8, lr=5e-4))  # narrow nets for 64 px; the paper's: Pix2PixConfig()
    ablation_steps: int = 600     # steps of each ablation run (the schedule is scaled to them)
    seeds: Tuple[int, ...] = (0, 1, 2)  # seeds of every ablation row
    rf_layers: Tuple[int, ...] = (0, 1, 3, 4)  # PatchGAN n_layers of the receptive-field ablation
    segmenter_steps: int = 300    # training steps of the label-consistency judge
    dropout_masks: int = 8        # dropout masks per input when measuring dropout's spread
    checkpoint: Optional[str] = None  # a file under ganlib.checkpoint_dir: the main run resumes from it
    ablation_checkpoints: Optional[str] = None  # a folder there: each ablation run resumes from its file
    pretrained: Optional[str] = None  # e.g. "facades_label2photo": the authors' generator, downloaded


# %% tags=["parameters"]
PROFILE = ""   # "ci", "cpu" or "gpu"; "" = GANLIB_PROFILE, else chosen automatically
SEEDS = None   # e.g. (0, 1, 2, 3, 4): the ablations' seeds; None = the profile's

# %%
PROFILE = ganlib.get_profile(PROFILE)
cfg = ganlib.choose(
    PROFILE,
    # every cell runs: 32 px, tiny nets, one seed, far too short for the differences to show
    ci=Chapter3Config(image_size=32, n_train=256, n_test=64, steps=120, ablation_steps=120, seeds=(0,),
                      model=Pix2PixConfig(num_downs=5, ngf=8, ndf=8, lr=5e-4), rf_layers=(0, 1, 3),
                      segmenter_steps=100, dropout_masks=4),
    # narrow nets for 64 px and a higher learning rate than the paper's 2e-4, so that 3 seeds of
    # every row train in minutes
    cpu=Chapter3Config(n_test=100),
    # the paper's settings on CMP Facades: 400 images, batch 1, 200 epochs (80,000 steps) for the
    # main model; each ablation run a quarter of that, with the schedule scaled to its length
    gpu=Chapter3Config(dataset="facades", direction="BtoA", image_size=256, n_train=None, n_test=None,
                       jitter=True, batch_size=1, steps=80_000, ablation_steps=20_000,
                       model=Pix2PixConfig(), rf_layers=(0, 1, 3, 5), checkpoint="main.pt",
                       ablation_checkpoints="ablation", pretrained="facades_label2photo"),
)
if SEEDS is not None:
    cfg = ganlib.override(cfg, seeds=tuple(SEEDS))
print(f"profile: {PROFILE}")
print(cfg)

# %% [markdown]
# Every training run of the chapter is described by one `Pix2PixExperiment` (data, networks,
# steps, what to measure), built from these knobs: the main model's, and the ablation runs'.

# %%
run = Pix2PixExperiment(dataset=cfg.dataset, direction=cfg.direction, image_size=cfg.image_size,
                        n_train=cfg.n_train, n_test=cfg.n_test, jitter=cfg.jitter, batch_size=cfg.batch_size,
                        steps=cfg.ablation_steps, model=cfg.model, dropout_masks=cfg.dropout_masks,
                        segmenter_steps=cfg.segmenter_steps, keep_outputs=4,
                        checkpoint_dir=ganlib.checkpoint_path("03_pix2pix", cfg.ablation_checkpoints))
main_run = ganlib.override(run, steps=cfg.steps, keep_outputs=0, checkpoint_dir=None)
print(run)

# %% [markdown]
# ## The idea
#
# Many problems in graphics and vision *translate* an image $x$ into an image $y$: labels to
# photo, map to aerial photo, edges to shoe, day to night. Pix2Pix learns all of them with the
# same recipe from aligned pairs $(x, y)$. A generator $G$ (``G``) maps $x$ (``a``) to
# $\hat y = G(x)$ (``fake``); a discriminator $D$ (``D``) sees a *pair* — the input together
# with a real or generated output, ``torch.cat([a, b], 1)`` — and says whether the pair is real:
#
# $$\mathcal{L}_{cGAN}(G, D) = \mathbb{E}_{x,y}[\log D(x, y)] + \mathbb{E}_{x}[\log(1 - D(x, G(x)))]$$
#
# $$\mathcal{L}_{L1}(G) = \mathbb{E}_{x,y}\,\lVert y - G(x) \rVert_1,
# \qquad G^* = \arg\min_G \max_D\ \mathcal{L}_{cGAN}(G, D) + \lambda\,\mathcal{L}_{L1}(G),\quad \lambda = 100$$
#
# (``lambda_l1``). The L1 term alone already gets the colours and layout right, but where
# the output is uncertain it averages the possibilities: a blur. The GAN term penalises
# anything that does not *look* real, so it restores sharp detail. Because $D$ judges the
# *pair*, the GAN term also asks the output to fit its input: a building drawn where the label
# map has sky makes a fake-looking pair, even if the building looks real. So a $G$ trained
# with the cGAN term alone still has a reason to follow the input; what it lacks is the pull
# towards the one target of the data set, so it may draw another plausible output. Only an
# *unconditional* $D$, which sees $G(x)$ alone (the paper's "GAN" rows), leaves nothing in the
# loss that ties the output to the input. We measure all of these below. Because L1 takes care of
# the low frequencies, $D$ only needs to judge local texture: the **PatchGAN** classifies
# each $N \times N$ patch as real or fake and averages, a Markov random field assumption.
# There is no noise vector $z$: the paper found $G$ learned to ignore it; the only
# randomness is **dropout**, on at training *and* test time.
#
# ```
#  x (label map) ──► U-Net G ──► G(x) ──┐
#        │                              ├──► cat ──► PatchGAN D ──► real/fake per patch
#        └──────────────────────────────┘
#  encoder: 256 → 128 → 64 → 32 → 16 → 8 → 4 → 2 → 1  (C64-C128-C256-C512-C512-C512-C512-C512)
#  decoder mirrors it; level i of the decoder also receives level i of the encoder (skip)
# ```

# %% [markdown]
# ## Build it step by step
#
# ### 1. The U-Net generator
#
# An encoder-decoder whose decoder at each level also receives the encoder's features of the
# same resolution, so details such as edges need not squeeze through the 1x1 bottleneck. The
# official code builds it recursively, **from the innermost block outwards**: each block wraps
# the one inside it. A block's input $x$ goes down (LeakyReLU 0.2, 4x4 conv with stride 2,
# batch norm), through the inner blocks, up (ReLU, 4x4 transposed conv with stride 2, batch
# norm, dropout 0.5 in the three 512-channel blocks after the bottleneck), and the result is
# concatenated with $x$. Batch norm has its own shift, so the convolutions before it carry no
# bias. We give the layers the same names as `ganlib.models.UNetGenerator`.

# %%
class Block(nn.Module):
    """One U-Net level: x (N, outer, H, W) -> cat([x, up(inner(down(x)))]) (N, 2*outer, H, W)."""

    def __init__(self, outer, inner, input_nc=None, submodule=None, outermost=False, innermost=False,
                 dropout=False):
        super().__init__()
        self.outermost = outermost
        input_nc = outer if input_nc is None else input_nc
        down = [("conv", nn.Conv2d(input_nc, inner, 4, 2, 1, bias=False))]
        if not (outermost or innermost):
            down.append(("norm", nn.BatchNorm2d(inner)))
        self.down, self.inner = nn.Sequential(OrderedDict(down)), submodule
        up = [("act", nn.ReLU()),
              ("conv", nn.ConvTranspose2d(inner if innermost else 2 * inner, outer, 4, 2, 1, bias=outermost))]
        if outermost:
            up.append(("tanh", nn.Tanh()))
        else:
            up.append(("norm", nn.BatchNorm2d(outer)))
            if dropout:
                up.append(("dropout", nn.Dropout(0.5)))
        self.up = nn.Sequential(OrderedDict(up))

    def forward(self, x, z=None):
        h = self.down(x if self.outermost else F.leaky_relu(x, 0.2))
        if self.inner is not None:
            h = self.inner(h)
        h = self.up(h)
        return h if self.outermost else torch.cat([x, h], 1)


def unet(in_ch=3, out_ch=3, num_downs=8, ngf=64):
    block = Block(ngf * 8, ngf * 8, innermost=True)                  # 1x1 bottleneck (for 256 px)
    for _ in range(num_downs - 5):
        block = Block(ngf * 8, ngf * 8, submodule=block, dropout=True)
    block = Block(ngf * 4, ngf * 8, submodule=block)
    block = Block(ngf * 2, ngf * 4, submodule=block)
    block = Block(ngf, ngf * 2, submodule=block)
    return Block(out_ch, ngf, input_nc=in_ch, submodule=block, outermost=True)


# %%
g_small = unet(3, 3, num_downs=5, ngf=8)
y = g_small(torch.randn(2, 3, 32, 32))
assert y.shape == (2, 3, 32, 32) and y.abs().max() <= 1, "a U-Net keeps the size; Tanh bounds the output"
assert ganlib.count_parameters(unet()) == 54_413_955, "unet_256 of the official code has 54,413,955 parameters"
print("unet_256 parameters:", f"{ganlib.count_parameters(unet()):,}")

# %% [markdown]
# This is `ganlib.models.UNetGenerator`: same layers under the same names, so its weights load
# into ours and both give the same output (in `eval()` mode, where dropout is off).

# %%
lib_g = init_weights(UNetGenerator(3, 3, num_downs=5, ngf=8)).eval()
outer = nn.Module()
outer.model = g_small  # ganlib keeps the outermost block under `model`
outer.load_state_dict(lib_g.state_dict())
x = torch.randn(2, 3, 32, 32)
with torch.no_grad():
    assert torch.allclose(outer.model.eval()(x), lib_g(x), atol=1e-6)
print("inline U-Net == ganlib.models.UNetGenerator")

# %% [markdown]
# The paper's baseline generator, the **encoder-decoder**, is the same network with the skip
# connections severed: every detail must pass through the bottleneck. `skips=False` builds it;
# the decoder's convolutions then take half as many channels (nothing is concatenated).

# %%
enc_dec = UNetGenerator(3, 3, num_downs=5, ngf=8, skips=False)
assert enc_dec(torch.randn(2, 3, 32, 32)).shape == (2, 3, 32, 32)
assert enc_dec.model.up.conv.in_channels == 8 and lib_g.model.up.conv.in_channels == 16
print(f"num_downs=5, ngf=8: U-Net {ganlib.count_parameters(lib_g):,} parameters, "
      f"encoder-decoder {ganlib.count_parameters(enc_dec):,}")

# %% [markdown]
# ### 2. The PatchGAN discriminator
#
# A stack of 4x4 convolutions, LeakyReLU 0.2, batch norm from the second layer on, channels
# doubling up to $8 \cdot$ `ndf`; `n_layers` of them with stride 2, then one with stride 1 and a
# last one to a single channel. The output is a *map* of logits, one per overlapping patch; no
# Sigmoid (the loss takes logits), no fully connected layer (then it would not be a PatchGAN).
# `n_layers=0` is the official "pixel" discriminator: 1x1 convolutions, so each logit
# judges one pixel — what the paper calls a PixelGAN, not a separate model.

# %%
def patchgan(in_ch, ndf=64, n_layers=3):
    if n_layers == 0:  # the 1x1 "PixelGAN"
        return nn.Sequential(nn.Conv2d(in_ch, ndf, 1), nn.LeakyReLU(0.2),
                             nn.Conv2d(ndf, 2 * ndf, 1, bias=False), nn.BatchNorm2d(2 * ndf), nn.LeakyReLU(0.2),
                             nn.Conv2d(2 * ndf, 1, 1, bias=False))
    layers, mult = [nn.Conv2d(in_ch, ndf, 4, 2, 1), nn.LeakyReLU(0.2)], 1
    for n in range(1, n_layers + 1):
        prev, mult = mult, min(2 ** n, 8)
        layers += [nn.Conv2d(ndf * prev, ndf * mult, 4, 2 if n < n_layers else 1, 1, bias=False),
                   nn.BatchNorm2d(ndf * mult), nn.LeakyReLU(0.2)]
    return nn.Sequential(*layers, nn.Conv2d(ndf * mult, 1, 4, 1, 1))


# %%
official_d = {0: 9_024, 1: 139_585, 2: 666_433, 3: 2_768_705, 4: 6_964_033, 5: 11_159_361}
for n, count in official_d.items():
    assert ganlib.count_parameters(patchgan(6, 64, n)) == count, f"n_layers={n}: expected {count:,}"
assert patchgan(6, 8, 3)(torch.randn(1, 6, 256, 256)).shape == (1, 1, 30, 30), "30x30 logits for 256 px"
lib_d = init_weights(PatchDiscriminator(6, 8, n_layers=3)).eval()
mine = patchgan(6, 8, 3).eval()
mine.load_state_dict(lib_d.model.state_dict())
with torch.no_grad():
    xy = torch.randn(2, 6, 64, 64)
    assert torch.allclose(mine(xy), lib_d(xy), atol=1e-6)
print("inline PatchGAN == ganlib.models.PatchDiscriminator; official counts match for n_layers 0..5")

# %% [markdown]
# ### 3. The receptive field: how big is a "patch"?
#
# One output logit depends on a square of input pixels. Walking back from the output, a layer
# with kernel $k$ and stride $s$ turns a field of $r$ pixels into $(r - 1)\,s + k$.
# With `n_layers` stride-2 layers and two stride-1 layers, all 4x4:

# %%
def rf(n_layers):
    if n_layers == 0:
        return 1
    r = 1
    for k, s in reversed([(4, 2)] * n_layers + [(4, 1), (4, 1)]):
        r = (r - 1) * s + k
    return r


table = [(n, rf(n), empirical_receptive_field(PatchDiscriminator(6, 4, n_layers=n), 320 if n < 5 else 512))
         for n in range(6)]
print(f"{'n_layers':>8} {'formula':>8} {'measured':>9}")
for n, r, m in table:
    print(f"{n:>8} {r:>8} {m:>9}")
    assert r == m == receptive_field(n)
assert [r for _, r, _ in table] == [1, 16, 34, 70, 142, 286]

# %% [markdown]
# "Measured" is the width of the input region where the central logit's gradient is nonzero.
# The paper's 70x70 PatchGAN is `n_layers=3`; its 286x286 "ImageGAN" is `n_layers=5`, larger
# than a 256 px image.
#
# ### 4. The training step, in the official order
#
# 1. $D$: on the real pair and on the fake pair with `fake.detach()` (no gradient into $G$);
#    the official code halves $D$'s loss, which slows $D$ relative to $G$.
# 2. $G$: the non-saturating GAN loss on $D(x, G(x))$ plus $\lambda$ times L1; $D$'s
#    parameters are frozen (`requires_grad_(False)`) so $G$'s backward pass does not fill
#    $D$'s gradients.
#
# Initialisation: weights $\mathcal{N}(0, 0.02)$, batch-norm scales $\mathcal{N}(1, 0.02)$.
# Adam with lr $2 \cdot 10^{-4}$ and $\beta_1 = 0.5$ for both networks.
#
# The unconditional variant of the ablations changes one thing: $D$ sees `fake` and `b` alone,
# not concatenated with `a` (`pix2pix_step(..., conditional=False)`, a 3-channel $D$).

# %%
def train_step(G, D, opt_g, opt_d, a, b, lam=100.0):
    fake = G(a)
    # 1. D: real pairs -> 1, fake pairs -> 0, the fake detached
    d_loss = 0.5 * d_loss_bce(D(torch.cat([a, b], 1)), D(torch.cat([a, fake.detach()], 1)))
    opt_d.zero_grad(set_to_none=True)
    d_loss.backward()
    opt_d.step()
    # 2. G: fool D on the pair, and stay close to the target in L1
    D.requires_grad_(False)
    g_gan = g_loss_nonsaturating(D(torch.cat([a, fake], 1)))
    g_l1 = (fake - b).abs().mean()
    opt_g.zero_grad(set_to_none=True)
    (g_gan + lam * g_l1).backward()
    opt_g.step()
    D.requires_grad_(True)
    return {"d_loss": d_loss.detach(), "g_gan": g_gan.detach(), "g_l1": g_l1.detach()}


# %%
def fresh(seed=0):
    torch.manual_seed(seed)
    G = init_weights(UNetGenerator(3, 3, num_downs=5, ngf=4))
    D = init_weights(PatchDiscriminator(6, 4, n_layers=2))
    adam = lambda m: torch.optim.Adam(m.parameters(), lr=2e-4, betas=(0.5, 0.999))  # noqa: E731
    return G, D, adam(G), adam(D)


a, b = torch.rand(4, 3, 32, 32) * 2 - 1, torch.rand(4, 3, 32, 32) * 2 - 1
G1, D1, og1, od1 = fresh()
G2, D2, og2, od2 = fresh()
torch.manual_seed(1)  # the same dropout masks in both
ours = train_step(G1, D1, og1, od1, a, b)
torch.manual_seed(1)
lib = pix2pix_step(G2, D2, og2, od2, a, b)
assert all(torch.allclose(ours[k], lib[k]) for k in ours)
assert all(torch.allclose(p, q, atol=1e-6) for p, q in zip(G1.parameters(), G2.parameters()))
assert all(torch.allclose(p, q, atol=1e-6) for p, q in zip(D1.parameters(), D2.parameters()))
print("inline step == ganlib.models.pix2pix.pix2pix_step:", {k: round(v.item(), 4) for k, v in ours.items()})

# %% [markdown]
# ### 5. The learning-rate schedule
#
# The official recipe keeps the learning rate constant for 100 epochs, then decays it linearly
# to zero over 100 more: $f(t) = 1 - \max(0, t + 1 - n_{const}) / (n_{decay} + 1)$, a factor
# for `torch.optim.lr_scheduler.LambdaLR` (`ganlib.models.pix2pix.linear_decay`). Our short
# runs count in steps instead of epochs (`Pix2PixConfig.n_constant`, `n_decay`). Every run in
# this chapter, the short ablation runs included, gets the paper's shape scaled to its length:
# constant for the first half, decay over the second (`paper_schedule(cfg, steps)`).

# %%
f = linear_decay(100, 100)
print("epoch:  0    99   100  150  199")
print("factor:", " ".join(f"{f(t):.2f}" for t in (0, 99, 100, 150, 199)))
assert f(99) == 1.0 and f(100) < 1.0 and abs(f(199) - 1 / 101) < 1e-12
scaled = paper_schedule(run.model, run.steps)
print(f"an ablation run of {run.steps} steps: constant for {scaled.n_constant}, "
      f"decay over {scaled.n_decay}")
assert scaled.n_constant + scaled.n_decay == run.steps and scaled.n_constant == run.steps // 2

# %% [markdown]
# ## Data
#
# The offline default is **toy facades**: label maps (input $x$) and rendered building fronts
# (target $y$), drawn by `ganlib.data.toy_facades` from a seed, with a held-out test split. The
# geometry, the windows, the door and even the wall material (set by the building's height)
# follow from the label map; the brick pattern's phase and the wall's brightness do not, as
# real photos hold details no label map shows. That is where L1 will blur. On a GPU,
# `dataset="facades"` loads the CMP Facades pairs through the book's data registry (official
# archives, side-by-side AB images split into A and B), at 286 px for the paper's random
# 286 → 256 crop and flip. `load_pairs` is what every run of the chapter loads.

# %%
A_train, B_train, A_test, B_test = load_pairs(run)
print("train", tuple(A_train.shape), "->", tuple(B_train.shape), "| test", tuple(A_test.shape))
assert A_train.min() >= -1 and A_train.max() <= 1 and len(A_test) > 0
viz.show_side_by_side({"input (labels)": A_test, "target": B_test}, n=3)
plt.show()
if run.dataset == "toy_facades":
    print("label colours: " + ", ".join(CLASSES))

# %% [markdown]
# ## Train
#
# `ganlib.models.pix2pix.train_pix2pix` builds $G$ and $D$ from a `Pix2PixConfig` (`Pix2Pix`),
# initialises them, makes the two Adam optimizers and the scaled schedule, and runs
# `ganlib.train.fit` with `Pix2Pix.step`, which is `pix2pix_step`. On the toy data we use narrow
# networks and a learning rate of 5e-4 to learn in minutes; `Pix2PixConfig()` holds the paper's
# settings (the `gpu` profile). Checkpoints make the long run resumable. The seed is set the way
# `ganlib.runs` sets it for the ablation runs below, so this model is the ablations'
# "L1 + cGAN" row, seed 0, trained for `steps` (the ablation runs: `ablation_steps`).

# %%
ganlib.seed_everything(0)
model, history = train_pix2pix(main_run, seed=0, device=device,
                               checkpoint=ganlib.checkpoint_path("03_pix2pix", cfg.checkpoint),
                               progress=True, desc="pix2pix")
print(history, f"| {history.cpu_seconds:.0f} s CPU")
viz.plot_losses(history, ["d_loss", "g_gan", "g_l1"])
plt.show()
G = model.G

# %% [markdown]
# ## Measure
#
# We measure first, on the untouched model, and only then look: a cell that runs the generator
# in train mode would update its batch-norm statistics and change every later number.
#
# Three kinds of number, on the held-out pairs:
# - **fidelity**: L1 and PSNR to the ground truth. They *reward* blur: for a detail the input
#   does not determine, the average is the best guess in L1, which is why the paper judged
#   realism by other means (AMT studies, FCN scores).
# - **sharpness**: the high-frequency ratio, the Laplacian energy of the output over that of
#   the target (1 = as sharp as the truth; blur lowers it, artefacts can push it above 1).
# - **label consistency**: a small segmenter, trained on the *real* training facades to find
#   sky, wall, window, door, cornice and balcony, is run on the outputs and scored against the
#   classes of the input label map (pixel accuracy, mean class IoU). This is the paper's FCN
#   score in miniature: it is high only if the output looks like facades *and* follows the input,
#   so it tells brick detail from artefacts, which the sharpness ratio cannot.
#
# The judge first, on real test targets (its ceiling) and on the mean training image, which
# follows no input (a measure that can fail):

# %%
if run.dataset == "toy_facades":
    judge = train_segmenter(run.image_size, steps=run.segmenter_steps)
    mean_target = B_train.mean(0, keepdim=True).expand_as(B_test)
    judge_real = label_consistency(judge, B_test, A_test)
    judge_mean = label_consistency(judge, mean_target, A_test)
    print(f"judge on real targets: pixel accuracy {judge_real['label_acc']:.3f}, "
          f"class IoU {judge_real['label_iou']:.3f}")
    print(f"judge on the mean image: pixel accuracy {judge_mean['label_acc']:.3f}, "
          f"class IoU {judge_mean['label_iou']:.3f}")
    assert judge_real["label_iou"] > judge_mean["label_iou"] + 0.3, "the judge must tell real from uninformed"
else:
    print("label consistency needs class labels: it is measured on the toy facades only")

# %% [markdown]
# The main model against two references: the mean training target (a baseline that ignores
# the input) and the truth itself.

# %%
class MeanImage(nn.Module):
    """The baseline 'generator': the mean training target, whatever the input."""

    def __init__(self, mean):
        super().__init__()
        self.register_buffer("mean", mean)

    def forward(self, a):
        return self.mean.expand(len(a), -1, -1, -1)


def references():
    rows = {"mean target (baseline)": MeanImage(B_train.mean(0, keepdim=True))}
    out = {name: dict(evaluate_paired_translation(g, A_test, B_test)) for name, g in rows.items()}
    truth = {"l1": 0.0, "psnr": math.inf, "hf_ratio": 1.0}
    if run.dataset == "toy_facades":
        out["mean target (baseline)"].update(judge_mean)
        truth.update(judge_real)
    out["truth"] = truth
    return out


main_metrics = measure_pix2pix(G, main_run)  # the untouched model
table = {**references(), "pix2pix (L1 + cGAN)": main_metrics}
print(f"{'model':<24} {'L1 ↓':>7} {'PSNR ↑':>7} {'HF ratio':>9} {'label acc':>10} {'label IoU':>10}")
for name, r in table.items():
    print(f"{name:<24} {r['l1']:>7.4f} {r['psnr']:>7.2f} {r['hf_ratio']:>9.2f} "
          f"{r.get('label_acc', math.nan):>10.3f} {r.get('label_iou', math.nan):>10.3f}")
base = table["mean target (baseline)"]
assert main_metrics["l1"] < base["l1"], "the model should beat the mean image in L1"
if run.dataset == "toy_facades":
    assert main_metrics["label_iou"] > base["label_iou"], "the model should follow the input better than the mean"

# %% [markdown]
# ## Look
#
# Held-out label maps, our translations and the truth. The official test script does **not**
# switch the generator to `eval()` (unless `--eval` is given): dropout stays on, so each call
# gives a slightly different image, and batch norm uses the statistics of the test batch — with
# the official batch size of 1 that is instance normalisation. We look at both; the official
# mode runs on a copy, one image at a time, so `G` and the numbers above stay as they were.

# %%
with torch.no_grad():
    G.eval()
    out_eval = G(A_test[:4].to(device)).cpu()
    G_official_mode = copy.deepcopy(G).train()  # a copy: train mode updates batch-norm statistics
    out_official = torch.cat([G_official_mode(A_test[i:i + 1].to(device)).cpu() for i in range(4)])
    del G_official_mode
viz.show_side_by_side({"input": A_test, "G(x), eval()": out_eval, "G(x), official": out_official,
                       "target": B_test}, n=4)
plt.show()
print("held-out numbers in the official test mode (batch 1, on a copy):",
      {k: round(v, 4) for k, v in evaluate_paired_translation(G, A_test, B_test, official_test_mode=True).items()})

# %% [markdown]
# ## The ablations, over seeds
#
# Every row below is a separate training run of the same data, networks, batch, steps and
# schedule as the main model, repeated over the profile's seeds; rows differ only in the thing
# compared. `ganlib.runs` runs them side by side (one CPU thread each) and every run calls
# `ganlib.models.pix2pix.train_and_measure(config, seed)`, which trains a model and measures
# its untouched generator as above. A table shows mean ± sd over the seeds; a verdict ranks two
# rows only where the gap is larger than twice the pooled sd.
#
# **The loss and generator ablation** (the paper's tables 1 and 2, on Cityscapes labels →
# photo at 256 px): L1 alone, the unconditional GAN alone and with L1, the conditional GAN
# alone and with L1, and the encoder-decoder (no skips) with L1 + cGAN.
#
# **The patch-size ablation** (the paper's table 3 and figure 6): L1 + cGAN with
# discriminators of other receptive fields. In the paper (on Cityscapes, 256 px): 1x1
# (PixelGAN) improves colour but not spatial sharpness, 16x16 is sharp but shows tiling
# artefacts, 70x70 is best, 286x286 (the whole image) is not better. A PatchGAN with `n_layers`
# stride-2 layers needs images of at least $3 \cdot 2^{n}$ px, so the 286 D runs from 96 px up;
# on our 64 px toy images the `cpu` profile uses `n_layers=4` (142 px), which, like 286 on
# 256 px, already sees the whole image. The `gpu` profile runs exactly 1, 16, 70 and 286 on
# 256 px facades. The 70x70 row *is* the "L1 + cGAN" row (the default D), so it is run once.

# %%
def run_config(**changes):
    return ganlib.override(run, model=ganlib.override(run.model, **changes))


default_layers = run.model.n_layers_d
patch = lambda n: f"{receptive_field(n)}x{receptive_field(n)} D"  # noqa: E731
loss_rows = {"L1": dict(use_gan=False), "GAN": dict(lambda_l1=0.0, conditional_d=False),
             "cGAN": dict(lambda_l1=0.0), "L1 + GAN": dict(conditional_d=False), "L1 + cGAN": {},
             "encoder-decoder, L1 + cGAN": dict(skips=False)}
rf_rows = {patch(n): dict(n_layers_d=n) for n in cfg.rf_layers if n != default_layers}
runs = [Run(train_and_measure, run_config(**changes), seed, row=row)
        for row, changes in {**loss_rows, **rf_rows}.items() for seed in cfg.seeds]
workers = None if PROFILE == "cpu" else 1  # one process per core on a CPU; one owner of the GPU
results = run_all(runs, workers=workers)
print(f"{len(runs)} runs, {sum(r.cpu_seconds for r in results):.0f} CPU s in all")

# %%
def numbers_only(results):
    """The runs' measures without the pictures they also returned."""
    return [dataclasses.replace(r, value={k: v for k, v in r.value.items() if k != "outputs"})
            for r in results]


numbers = numbers_only(results)
loss_results = [r for r in numbers if r.row in loss_rows]
rf_results = sorted([dataclasses.replace(r, row=patch(default_layers)) for r in numbers if r.row == "L1 + cGAN"]
                    + [r for r in numbers if r.row in rf_rows],
                    key=lambda r: int(r.row.split("x")[0]))
measures = ["l1", "psnr", "hf_ratio", "label_acc", "label_iou"]
rows = by_row(numbers)
for r in rf_results:
    rows.setdefault(r.row, [v for v in by_row(rf_results)[r.row]])


def values(row, measure):
    return [v[measure] for v in rows[row]]


def outputs_of(row):
    return next(r.value["outputs"] for r in results if r.row == row)  # the first seed's pictures


print("Loss and generator ablation")
print(format_table(loss_results, measures))

# %% [markdown]
# What the rows look like (the first seed of each; inputs and targets on the sides):

# %%
viz.show_side_by_side({"input": A_test, **{row: outputs_of(row) for row in loss_rows}, "target": B_test}, n=4)
plt.show()

# %% [markdown]
# The verdicts, each on the measure the claim is about, and how each compares with the paper
# (its tables 1–3 rank by FCN scores on Cityscapes; its sharpness claim is figure 4).

# %%
def judged(a, b, measure, higher_is_better=True, paper_winner=None):
    """The verdict of rows a vs b on a measure, and whether it agrees with the paper."""
    line = verdict(a, values(a, measure), b, values(b, measure), measure.replace("_", " "),
                   higher_is_better)
    if paper_winner:
        if not separated(values(a, measure), values(b, measure)):
            line += f" (the paper found {paper_winner} better; at this scale we cannot tell)"
        else:
            ours = a if (mean_sd(values(a, measure))[0] > mean_sd(values(b, measure))[0]) == higher_is_better else b
            line += " (agrees with the paper)" if ours == paper_winner else f" (DIFFERS: the paper found {paper_winner} better)"
    print("-", line)
    return line


has_labels = run.dataset == "toy_facades"
consistency = "label_iou" if has_labels else "l1"
higher = has_labels  # L1 where no labels exist: lower is better
loss_verdicts = [
    judged("L1 + cGAN", "L1", "hf_ratio", True, paper_winner="L1 + cGAN"),
    judged("L1 + cGAN", "L1", consistency, higher, paper_winner="L1 + cGAN"),
    judged("cGAN", "L1", consistency, higher, paper_winner="cGAN"),
    judged("cGAN", "GAN", consistency, higher, paper_winner="cGAN"),
    judged("L1 + cGAN", "L1 + GAN", consistency, higher, paper_winner="L1 + cGAN"),
    judged("L1 + cGAN", "cGAN", "l1", False),
    judged("L1 + cGAN", "encoder-decoder, L1 + cGAN", consistency, higher, paper_winner="L1 + cGAN"),
    judged("L1 + cGAN", "encoder-decoder, L1 + cGAN", "l1", False),
]

# %% [markdown]
# How to read these lines: L1 alone is faithful on average but flat where the input leaves the
# answer open (the brick joints), so the sharpness verdict says whether the adversarial term
# brings the detail back. The cGAN-alone row is the test of the idea above: compare its label
# consistency with the unconditional GAN's, which nothing ties to the input; and its L1 with
# L1 + cGAN's, which is what the L1 term adds. The encoder-decoder row shows what the skips do.
# Where a verdict says "no measurable difference", the seeds disagree more than the rows do:
# train longer (the `gpu` profile) or add seeds (`SEEDS`) before reading a ranking into it.

# %%
if PROFILE == "cpu":  # the claim that holds on every seed at this scale, with a margin
    l1_sharp, gan_sharp = values("L1", "hf_ratio"), values("L1 + cGAN", "hf_ratio")
    assert min(gan_sharp) > max(l1_sharp) + 0.1, "L1 + cGAN should be sharper than L1 alone on every seed"
    print(f"on every seed L1 + cGAN is sharper than L1 alone: HF ratio at least {min(gan_sharp):.2f} "
          f"vs at most {max(l1_sharp):.2f}")

# %% [markdown]
# ### The patch-size ablation

# %%
d_params = {patch(n): ganlib.count_parameters(PatchDiscriminator(
    run.model.in_channels + run.model.out_channels, run.model.ndf, n)) for n in cfg.rf_layers}
print("Patch-size ablation (L1 + cGAN; D parameters: "
      + ", ".join(f"{k} {v:,}" for k, v in d_params.items()) + ")")
print(format_table(rf_results, measures))
viz.show_side_by_side({"input": A_test, **{row: outputs_of(row if row in rf_rows else "L1 + cGAN")
                                          for row in d_params}, "target": B_test}, n=4)
plt.show()

# %%
seventy, smallest, largest = patch(default_layers), patch(min(cfg.rf_layers)), patch(max(cfg.rf_layers))
rf_verdicts = [judged(seventy, smallest, "hf_ratio", True, paper_winner=seventy),
               judged(seventy, smallest, consistency, higher, paper_winner=seventy)]
for n in cfg.rf_layers:
    if n not in (default_layers, min(cfg.rf_layers)):
        rf_verdicts.append(judged(seventy, patch(n), consistency, higher, paper_winner=seventy))

# %% [markdown]
# ### Dropout as noise
#
# Pix2pix takes no $z$; the paper found $G$ learned to ignore one, and kept dropout, on at
# training and test time, as the only noise. It also observed that the outputs then vary only a
# little. The toy data lets us measure "a little" against what the truth allows: rendering each
# test label map again with fresh brick phases and brightness (the details the input does not
# fix) gives the data's own spread; dropout's spread is the per-pixel standard deviation of
# $G(x)$ over dropout masks (batch norm in `eval()`, only the dropout layers on, on a copy).
# The U-Net has dropout in its `num_downs - 5` inner 8·`ngf` levels: three at 256 px, fewer in
# the small profiles.

# %%
n_dropout = sum(isinstance(m, nn.Dropout) for m in G.modules())
spread_main = dropout_spread(G, A_test, masks=run.dropout_masks)
print(f"this profile's U-Net has {n_dropout} dropout layer(s) (the paper's unet_256: "
      f"{sum(isinstance(m, nn.Dropout) for m in UNetGenerator().modules())})")
with torch.no_grad():
    noisy = copy.deepcopy(G).eval()
    for m in noisy.modules():
        if isinstance(m, nn.Dropout):
            m.train()
    samples = torch.stack([noisy(A_test[:2].to(device)).cpu() for _ in range(4)], 1)
    del noisy
viz.show_strips(A_test[:2], samples, title="one input, four dropout masks")
plt.show()
if has_labels:
    truth_spread = [free_style_renderings(min(len(A_test), 100), run.image_size, "test",
                                          k=run.dropout_masks, draw_seed=s + 1).std(0).mean().item()
                    for s in cfg.seeds]
    free = free_style_renderings(2, run.image_size, "test", k=4)
    viz.show_strips(A_test[:2], free.transpose(0, 1), title="the same inputs, four renderings of the truth")
    plt.show()
    dropout_values = values("L1 + cGAN", "dropout_spread")
    print(format_table([r for r in numbers if r.row == "L1 + cGAN"], ["dropout_spread"]))
    dropout_line = verdict("the data's own spread", truth_spread, "dropout's spread", dropout_values,
                           "per-pixel spread of outputs for one input")
    ratio = mean_sd(dropout_values)[0] / mean_sd(truth_spread)[0]
    if n_dropout == 0:
        summary = "This U-Net has no dropout layer, so its outputs are deterministic: no noise at all."
    elif separated(truth_spread, dropout_values) and ratio < 0.5:
        summary = (f"Dropout gives {ratio:.0%} of the spread the data holds: minor stochasticity, "
                   "as the paper observed. Pix2pix draws one plausible output, not the distribution.")
    elif separated(truth_spread, dropout_values) and ratio < 1:
        summary = f"Dropout gives {ratio:.0%} of the spread the data holds: less than the truth, but not minor."
    else:
        summary = (f"Dropout's spread is {ratio:.0%} of the data's: at this scale we cannot call it minor, "
                   "unlike the paper.")
    print("-", dropout_line)
    display(Markdown(summary))
else:
    print(f"dropout's per-pixel spread on the test inputs: {spread_main:.4f}")

# %% [markdown]
# ### The authors' weights
#
# `UNetGenerator.from_official` reads a generator checkpoint of the official implementation
# (its key names, e.g. `model.model.1.model.3.model.2.weight`), infers the architecture from
# the weights and maps them onto ours; an official checkpoint of another architecture is
# refused with a message naming the mismatch. Offline we check the mapping with a checkpoint
# of the official layout made from our own model; with `pretrained="facades_label2photo"` (the
# `gpu` profile) the published model is downloaded and translates the real test labels, in the
# official test mode (dropout on, batch statistics, batch size 1).

# %%
ours_g = init_weights(UNetGenerator(3, 3, num_downs=5, ngf=8)).eval()
official_layout = {off: ours_g.state_dict()[mine_k]
                   for off, mine_k in UNetGenerator.official_key_map(5, "batch").items()}
print("an official key:", next(iter(official_layout)), "| keys:", len(official_layout))
loaded = UNetGenerator.from_official(official_layout).eval()
with torch.no_grad():
    x = torch.randn(2, 3, 32, 32)
    assert torch.equal(loaded(x), ours_g(x))
try:
    UNetGenerator.from_official(official_layout, num_downs=8)
except ValueError as err:
    print("ValueError:", err)

if cfg.pretrained:
    from ganlib.data import registry
    url = f"http://efrosgans.eecs.berkeley.edu/pix2pix/models-pytorch/{cfg.pretrained}.pth"
    path = registry.download_url(url, f"data/pretrained/{cfg.pretrained}.pth")
    G_official = UNetGenerator.from_official(path).to(device)
    print("published model, official test mode:",
          evaluate_paired_translation(G_official, A_test, B_test, official_test_mode=True))
    with torch.no_grad():
        G_official.train()  # official test-time behaviour, one image at a time
        theirs = torch.cat([G_official(A_test[i:i + 1].to(device)).cpu() for i in range(4)])
        G.eval()
        viz.show_side_by_side({"input": A_test, "authors' G": theirs,
                               "ours": G(A_test[:4].to(device)).cpu(), "target": B_test}, n=4)
    plt.show()

# %% [markdown]
# ## Pitfalls
#
# **1. An image size the U-Net cannot halve often enough.** `unet_256` halves the image 8
# times; a 250 px image has no 1x1 bottleneck. ganlib says which sizes work:

# %%
try:
    UNetGenerator(3, 3, num_downs=5, ngf=4)(torch.randn(1, 3, 48, 48))
except ValueError as err:
    print("ValueError:", err)
try:
    PatchDiscriminator(6, 8, n_layers=5)(torch.randn(1, 6, 64, 64))
except ValueError as err:
    print("ValueError:", err)

# %% [markdown]
# **2. An unconditional discriminator by mistake.** A $D$ that sees only $G(x)$, not the pair,
# cannot tell whether the output *matches* the input, only whether it looks real: the "GAN" rows
# of the ablation above measure what that costs. Check the channels: a pix2pix D for RGB → RGB
# has `in_channels = 6`, and ganlib refuses anything else:

# %%
try:
    PatchDiscriminator(6, 8)(B_test[:1])  # the output alone: 3 channels
except ValueError as err:
    print("ValueError:", err)

# %% [markdown]
# **3. Forgetting `fake.detach()` in D's step.** Without it, `d_loss.backward()` also sends
# gradients into $G$ — which point the wrong way (they help D) and pile up in `G.grad` unless
# cleared. With the detach, $G$ receives nothing from D's step:

# %%
G1, D1, og1, od1 = fresh()
fake = G1(a)
(0.5 * d_loss_bce(D1(torch.cat([a, b], 1)), D1(torch.cat([a, fake.detach()], 1)))).backward()
assert all(p.grad is None for p in G1.parameters()), "detached: no gradient reaches G"
og1.zero_grad()
(0.5 * d_loss_bce(D1(torch.cat([a, b], 1)), D1(torch.cat([a, fake], 1)))).backward()
leaked = sum(p.grad.abs().sum().item() for p in G1.parameters() if p.grad is not None)
print(f"without detach, D's loss puts gradient of total size {leaked:.3g} into G")
assert leaked > 0

# %% [markdown]
# **4. "A 94x94 PatchGAN", "a 70x70 PatchGAN with 4 stride-2 layers".** Popular write-ups get the
# patch sizes wrong; they follow from the layers, as computed above: n_layers 1..5 give 16, 34,
# 70, 142 and 286 pixels. And a "PatchGAN" that ends in a fully connected layer is an ordinary
# image discriminator.
#
# **5. `eval()` at test time changes the outputs; so does looking in train mode.** The published
# pix2pix results were made with dropout on and batch statistics (the official `test.py` without
# `--eval`, batch size 1). Loading the authors' weights and calling `eval()` uses the running
# averages instead and gives different images. Neither is wrong, but compare like with like.
# And a forward pass in train mode *updates* the running averages, so every later `eval()`
# output changes: run the official mode on a copy (as `evaluate_paired_translation` does).

# %%
probe = copy.deepcopy(G)  # we will spoil this copy on purpose, not the chapter's model
with torch.no_grad():
    probe.eval()
    before = probe(A_test[:8].to(device))
    probe.train()
    official = probe(A_test[:1].to(device))  # one image, as the official script
    probe.eval()
    after = probe(A_test[:8].to(device))
print(f"mean |eval() - official mode| on one test image: {(before[:1] - official).abs().mean().item():.4f}")
print(f"mean |eval() output before - after one train-mode call|: {(before - after).abs().mean().item():.4f}")
assert (before - after).abs().max() > 0, "a train-mode forward pass changes the running statistics"
del probe

# %% [markdown]
# **6. Training on the test split.** The facades archive has `train`, `val` and `test`; tuning
# or training on the images you report on inflates every number. Our toy set draws its
# `train` and `test` scenes from disjoint random streams.
#
# ## Summary
#
# - Pix2Pix = a U-Net generator + a conditional PatchGAN + $\mathcal{L}_{cGAN} + 100\,\mathcal{L}_{L1}$.
# - L1 gets the low frequencies right and blurs what the input does not determine; the cGAN
#   term, judging local patches of the (input, output) pair, restores sharp detail that agrees
#   with the input. An unconditional D only asks for realism.
# - Measure on untouched models, over seeds, with a measure that can fail: sharpness alone
#   cannot tell detail from artefacts; label consistency can.
# - The patch size trades texture against parameters: 70x70 is the paper's choice; 1x1 only
#   judges colour.
# - Architecture, init, optimiser, schedule and test-time behaviour follow the official code;
#   its checkpoints load with `UNetGenerator.from_official`.

# %% [markdown]
# ## Exercises
#
# These run on their own after the setup and parameters cells.

# %%
import math

import torch
import torch.nn.functional as F

# %% [markdown]
# **Exercise 1: the U-Net's size in closed form.** Write `unet_parameters(in_ch, out_ch, ngf,
# num_downs)`, the number of parameters of `UNetGenerator(in_ch, out_ch, num_downs, ngf)` with
# batch norm, without building it. Walk the levels of the build above: a 4x4 convolution has
# $16\,c_{in}c_{out}$ weights; with batch norm no convolution has a bias except the last
# (transposed) one before the Tanh; each batch norm has a scale and a shift per channel; the
# up-convolution of every level but the innermost reads the skip too, so twice the channels.

# %%
def unet_parameters(in_ch=3, out_ch=3, ngf=64, num_downs=8):
    ### BEGIN SOLUTION
    conv = lambda cin, cout: 16 * cin * cout  # noqa: E731  (4x4, no bias)
    bn = lambda c: 2 * c  # noqa: E731

    def level(outer, inner):  # down conv + norm, up conv (reads the skip: 2 * inner) + norm
        return conv(outer, inner) + bn(inner) + conv(2 * inner, outer) + bn(outer)

    n8 = 8 * ngf
    total = conv(n8, n8) + conv(n8, n8) + bn(n8)  # innermost: no down norm, no skip below it
    total += (num_downs - 5) * level(n8, n8)
    total += level(4 * ngf, n8) + level(2 * ngf, 4 * ngf) + level(ngf, 2 * ngf)
    return total + conv(in_ch, ngf) + conv(2 * ngf, out_ch) + out_ch  # outermost: the last conv has a bias
    ### END SOLUTION


# %%
from ganlib.models.pix2pix import UNetGenerator
from ganlib.student import forbid  # building the network is not counting it

with forbid(UNetGenerator):
    got = [unet_parameters(), unet_parameters(1, 2, 4, 6), unet_parameters(3, 3, 8, 5)]
assert got[0] != 54_419_459, "with batch norm the convolutions have no bias (only the last one does)"
assert got[0] != 39_075_459, "the up-convolutions read the skip too: 2 * inner channels in"
assert got[0] != 54_404_099, "each batch norm has 2 parameters per channel (scale and shift)"
assert got[0] != 54_413_952, "the last up-convolution (before the Tanh) has a bias"
assert got[0] == 54_413_955, f"unet_256 (ngf=64, num_downs=8) has 54,413,955 parameters, got {got[0]:,}"
assert got[1] == 114_858, f"UNetGenerator(1, 2, num_downs=6, ngf=4) has 114,858 parameters, got {got[1]:,}"
assert got[2] == 261_715, \
    f"num_downs=5 (no middle 8*ngf level) with ngf=8 has 261,715 parameters, got {got[2]:,}"
### BEGIN HIDDEN TESTS
for args in [(2, 1, 3, 7), (4, 3, 2, 9), (3, 1, 5, 5)]:
    G = UNetGenerator(args[0], args[1], num_downs=args[3], ngf=args[2])
    assert unet_parameters(*args) == sum(p.numel() for p in G.parameters()), args
### END HIDDEN TESTS
print("unet_parameters: correct")

# %% [markdown]
# **Exercise 2: the size of D's logit map.** A convolution with kernel $k$, stride $s$ and padding
# $p$ turns $h$ pixels into $\lfloor (h + 2p - k)/s \rfloor + 1$. The PatchGAN has `n_layers` 4x4
# convolutions of stride 2, then two of stride 1, all with padding 1. Write
# `patch_logits_size(h, n_layers)`: the side of D's output map for an `h` x `h` input pair (30 for
# 256 px and the 70x70 PatchGAN), so you know how many patches each loss term averages.

# %%
def patch_logits_size(h, n_layers=3):
    ### BEGIN SOLUTION
    for stride in [2] * n_layers + [1, 1]:
        h = (h + 2 - 4) // stride + 1
    return h
    ### END SOLUTION


# %%
from ganlib.models.pix2pix import PatchDiscriminator
from ganlib.student import forbid  # building D and looking is not deriving

with forbid(PatchDiscriminator):
    got = {(h, n): patch_logits_size(h, n) for h, n in [(256, 3), (70, 3), (100, 2), (40, 1)]}
assert got[256, 3] != 24, "each convolution has padding 1: (h + 2 - 4) // s + 1"
assert got[256, 3] != 32, "the two stride-1 4x4 convolutions shrink the map by one pixel each"
assert got[256, 3] != 31, "there are two stride-1 convolutions after the stride-2 ones, not one"
assert got[256, 3] != 62, "n_layers counts the stride-2 convolutions: 3 of them for the 70x70 PatchGAN"
assert got[256, 3] == 30, f"256 px and n_layers=3 give the official 30x30 map, got {got[256, 3]}"
assert got[70, 3] != 7, "the formula floors: 35 -> 17, not 18"
assert got[70, 3] == 6, f"70 px and n_layers=3: 35, 17, 8, then 7, 6; got {got[70, 3]}"
assert (got[100, 2], got[40, 1]) == (23, 18), f"expected 23 (100 px, n_layers=2) and 18 (40 px, 1), got {got}"
### BEGIN HIDDEN TESTS
import torch
for h, n in [(64, 1), (128, 4), (300, 5), (33, 2)]:
    D = PatchDiscriminator(6, 4, n_layers=n)
    assert patch_logits_size(h, n) == D(torch.zeros(1, 6, h, h)).shape[-1], (h, n)
### END HIDDEN TESTS
print("patch_logits_size: correct")

# %% [markdown]
# **Exercise 3 (open).** Train the L1 + cGAN model with `lambda_l1=10` and `lambda_l1=1000`
# (`ganlib.override(cfg.model, lambda_l1=...)`) and add them to the loss table. Where does the
# high-frequency ratio go, and why?
#
# **Exercise 4 (open).** Replace the vanilla GAN loss with the least-squares loss
# (`Pix2PixConfig(gan_mode="lsgan")`, what CycleGAN uses) and compare.
#
# ## Further reading
#
# - P. Isola, J.-Y. Zhu, T. Zhou, A. A. Efros. *Image-to-Image Translation with Conditional
#   Adversarial Networks.* CVPR 2017. arXiv:1611.07004. Code: github.com/junyanz/pytorch-CycleGAN-and-pix2pix.
# - O. Ronneberger, P. Fischer, T. Brox. *U-Net: Convolutional Networks for Biomedical Image
#   Segmentation.* MICCAI 2015. arXiv:1505.04597.
# - C. Li, M. Wand. *Precomputed Real-Time Texture Synthesis with Markovian Generative
#   Adversarial Networks.* ECCV 2016. arXiv:1604.04382.
# - M. Mirza, S. Osindero. *Conditional Generative Adversarial Nets.* arXiv:1411.1784, 2014.
# - R. Tyleček, R. Šára. *Spatial Pattern Templates for Recognition of Objects with Regular
#   Structure.* GCPR 2013 (the CMP Facades data set).
# - J.-Y. Zhu, R. Zhang, D. Pathak, T. Darrell, A. A. Efros, O. Wang, E. Shechtman. *Toward
#   Multimodal Image-to-Image Translation* (BicycleGAN). NeurIPS 2017. arXiv:1711.11586.
