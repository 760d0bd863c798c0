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
# known ground truth), then reproduce the paper's two ablations with numbers: which loss
# (L1, cGAN, both) and which discriminator patch size (1, 16, 70, 286 pixels). One line
# switches to the real facades, maps, cityscapes, edges2shoes... and the paper's settings, and
# the authors' published weights load into our generator.
#
# **Learning objectives.** After this chapter you can
# - write the pix2pix objective and say what each term buys (L1: the low frequencies; the
#   conditional GAN: sharp, realistic high frequencies);
# - build the U-Net (skip connections, dropout as the noise) and the PatchGAN, and compute
#   a discriminator's receptive field;
# - train with the paper's recipe (N(0, 0.02) init, Adam 2e-4 / beta1 0.5, lambda = 100,
#   constant-then-linear-decay LR) and explain the official test-time behaviour;
# - read a loss ablation and a patch-size ablation, and load official checkpoints.
#
# **Prerequisites.** Chapter 1 (the GAN game and its losses) and chapter 2 (conditioning).

# %%
import sys
if "google.colab" in sys.modules:  # on Colab only: install ganlib from the book's repository
    import subprocess
    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "git+https://github.com/ganbook/ganbook"], check=True)

# %%
import math
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Optional, Tuple

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import nn

import ganlib
from ganlib import viz
from ganlib.data.batches import TensorBatches
from ganlib.data.toy_facades import CLASSES, load_toy_facades
from ganlib.losses import d_loss_bce, g_loss_nonsaturating
from ganlib.models.pix2pix import (JitteredBatches, PatchDiscriminator, Pix2Pix, Pix2PixConfig,
                                   UNetGenerator, empirical_receptive_field, evaluate_translation,
                                   init_weights, linear_decay, pix2pix_step, receptive_field)
from ganlib.train import fit

device = ganlib.setup(seed=0)


# %% tags=["parameters"]
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
        num_downs=6, ngf=16, ndf=16, lr=5e-4))  # narrow nets for 64 px; the paper's: Pix2PixConfig()
    ablation_steps: int = 600     # steps of each ablation run
    rf_layers: Tuple[int, ...] = (0, 1, 3, 4)  # PatchGAN n_layers of the receptive-field ablation
    checkpoint: Optional[str] = None  # a path: training resumes from it after a disconnect
    pretrained: Optional[str] = None  # e.g. "facades_label2photo": the authors' generator, downloaded


PROFILE = ganlib.get_profile()  # "ci", "cpu" or "gpu": GANLIB_PROFILE, else chosen automatically
cfg = ganlib.choose(
    PROFILE,
    ci=Chapter3Config(image_size=32, n_train=256, n_test=64, steps=120, ablation_steps=120,
                      model=Pix2PixConfig(num_downs=5, ngf=8, ndf=8, lr=5e-4), rf_layers=(0, 1, 3)),
    cpu=Chapter3Config(),
    gpu=Chapter3Config(dataset="facades", direction="BtoA", image_size=256, n_train=None, n_test=None,
                       jitter=True, batch_size=1, steps=80_000, ablation_steps=20_000,
                       model=Pix2PixConfig(n_constant=40_000, n_decay=40_000),  # 100 + 100 epochs of 400
                       rf_layers=(0, 1, 3, 5), checkpoint="checkpoints/pix2pix_main.pt",
                       pretrained="facades_label2photo"),
)
print(PROFILE, cfg)

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
# anything that does not *look* real, so it restores sharp detail. Because L1 takes care of
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
# runs count in steps instead of epochs (`Pix2PixConfig.n_constant`, `n_decay`).

# %%
f = linear_decay(100, 100)
print("epoch:  0    99   100  150  199")
print("factor:", " ".join(f"{f(t):.2f}" for t in (0, 99, 100, 150, 199)))
assert f(99) == 1.0 and f(100) < 1.0 and abs(f(199) - 1 / 101) < 1e-12

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
# 286 → 256 crop and flip.

# %%
if cfg.dataset == "toy_facades":
    A_train, B_train = load_toy_facades(cfg.n_train, cfg.image_size, "train")
    A_test, B_test = load_toy_facades(cfg.n_test, cfg.image_size, "test")
else:
    from ganlib.data import registry
    load = 286 if cfg.jitter else cfg.image_size
    A_train, B_train = registry.load_paired(cfg.dataset, split="train", direction=cfg.direction, size=load,
                                            limit=cfg.n_train)
    A_test, B_test = registry.load_paired(cfg.dataset, split="val", direction=cfg.direction,
                                          size=cfg.image_size, limit=cfg.n_test)
print("train", tuple(A_train.shape), "->", tuple(B_train.shape), "| test", tuple(A_test.shape))
assert A_train.min() >= -1 and A_train.max() <= 1 and len(A_test) > 0
viz.show_side_by_side({"input (labels)": A_test, "target": B_test}, n=3)
plt.show()
if cfg.dataset == "toy_facades":
    print("label colours: " + ", ".join(CLASSES))


def make_batches(seed=0):
    batches = TensorBatches(A_train, B_train, batch_size=cfg.batch_size, seed=seed)
    if cfg.jitter:
        batches = JitteredBatches(batches, load_size=286, crop_size=cfg.image_size, seed=seed)
    return batches


# %% [markdown]
# ## Train
#
# `ganlib.models.pix2pix.Pix2Pix` builds $G$ and $D$ from a `Pix2PixConfig`, initialises them and
# makes the two Adam optimizers and the schedules; its `step` is `pix2pix_step`. On the toy data
# we use narrow networks and a learning rate of 5e-4 to learn in minutes; `Pix2PixConfig()` holds
# the paper's settings (the `gpu` profile). Checkpoints make the long run resumable.

# %%
def train(model_cfg, steps, seed=0, checkpoint=None, desc="pix2pix"):
    torch.manual_seed(seed)
    model = Pix2Pix(model_cfg, device=device)
    start = time.process_time()
    history = fit(model.step, make_batches(seed), steps, **model.modules_and_optimizers,
                  checkpoint=checkpoint, config=model_cfg, desc=desc)
    history.cpu_seconds = time.process_time() - start
    return model, history


main_cfg = ganlib.override(cfg.model, n_constant=cfg.steps // 2, n_decay=cfg.steps - cfg.steps // 2) \
    if not (cfg.model.n_constant or cfg.model.n_decay) else cfg.model
model, history = train(main_cfg, cfg.steps, checkpoint=cfg.checkpoint)
print(history, f"| {history.cpu_seconds:.0f} s CPU")
viz.plot_losses(history, ["d_loss", "g_gan", "g_l1"])
plt.show()

# %% [markdown]
# ## Look
#
# Held-out label maps, our translations and the truth. The official test script does **not**
# switch the generator to `eval()` (unless `--eval` is given): dropout stays on, so each call
# gives a slightly different image, and batch norm uses the statistics of the test batch
# (with the paper's batch size of 1 that is instance normalisation). We look at both.

# %%
G = model.G
with torch.no_grad():
    G.eval()
    out_eval = G(A_test[:4].to(device)).cpu()
    G.train()  # the official test-time mode: dropout on, batch statistics
    out_official = G(A_test[:4].to(device)).cpu()
viz.show_side_by_side({"input": A_test, "G(x), eval()": out_eval, "G(x), official": out_official,
                       "target": B_test}, n=4)
plt.show()

# %%
with torch.no_grad():  # dropout as noise: several calls on one input
    G.train()
    samples = torch.stack([G(A_test[:2].to(device)).cpu() for _ in range(4)], 1)
    G.eval()
viz.show_strips(A_test[:2], samples, title="one input, four calls with dropout on")
plt.show()
spread = samples.std(1).mean().item()
n_dropout = sum(isinstance(m_, nn.Dropout) for m_ in G.modules())
print(f"{n_dropout} dropout layers (num_downs - 5); mean pixel std over the calls: {spread:.4f}")
print("small or zero: the paper observed that pix2pix's outputs vary little despite the dropout")

# %% [markdown]
# ## Measure
#
# On the held-out pairs: L1 and PSNR to the ground truth (fidelity), and the high-frequency
# ratio — the Laplacian energy of the output over that of the target (1 = as sharp as the
# truth; blur lowers it). The baseline predicts the mean training target.

# %%
mean_target = B_train.mean(0, keepdim=True)
base_l1 = (B_test - mean_target).abs().mean().item()
base_psnr = 10 * math.log10(4 / ((B_test - mean_target) ** 2).mean().item())
main_metrics = evaluate_translation(G, A_test, B_test)
print(f"{'model':<28} {'L1 ↓':>7} {'PSNR ↑':>8} {'HF ratio':>9}")
print(f"{'mean target (baseline)':<28} {base_l1:>7.4f} {base_psnr:>8.2f} {0.0:>9.2f}")
print(f"{'pix2pix (L1 + cGAN)':<28} {main_metrics['l1']:>7.4f} {main_metrics['psnr']:>8.2f} "
      f"{main_metrics['hf_ratio']:>9.2f}")
assert main_metrics["l1"] < base_l1, "the model should beat the mean image"

# %% [markdown]
# ### The loss ablation (the paper's table 1 and figure 4, at toy scale)
#
# Same networks, same data, same steps; only the objective changes. The paper's claim: L1
# alone is faithful but blurry, cGAN alone is sharp but less faithful (and can hallucinate),
# both together are sharp *and* faithful.

# %%
def ablation_run(changes, desc):
    if (cfg.model.n_constant or cfg.model.n_decay):
        run_cfg = ganlib.override(cfg.model, **changes)
    else:
        run_cfg = ganlib.override(cfg.model, n_constant=cfg.ablation_steps // 2,
                                  n_decay=cfg.ablation_steps - cfg.ablation_steps // 2, **changes)
    if run_cfg == main_cfg and cfg.ablation_steps == cfg.steps:
        return model, history  # the main run is this configuration
    slug = "".join(ch if ch.isalnum() else "_" for ch in desc)
    checkpoint = cfg.checkpoint and cfg.checkpoint.replace(".pt", f"_{slug}.pt")  # resumable on Colab too
    return train(run_cfg, cfg.ablation_steps, checkpoint=checkpoint, desc=desc)


loss_runs = {"L1 only": dict(use_gan=False), "cGAN only": dict(lambda_l1=0.0), "L1 + cGAN": {}}
loss_results, loss_outputs = {}, {}
for name, changes in loss_runs.items():
    m, h = ablation_run(changes, desc=name)
    loss_results[name] = dict(evaluate_translation(m.G, A_test, B_test), seconds=h.cpu_seconds)
    with torch.no_grad():
        m.G.eval()
        loss_outputs[name] = m.G(A_test[:4].to(device)).cpu()

print(f"{'objective':<12} {'L1 ↓':>7} {'PSNR ↑':>8} {'HF ratio':>9} {'CPU s':>6}")
for name, r in loss_results.items():
    print(f"{name:<12} {r['l1']:>7.4f} {r['psnr']:>8.2f} {r['hf_ratio']:>9.2f} {r['seconds']:>6.0f}")
print(f"{'truth':<12} {0:>7.4f} {'inf':>8} {1.0:>9.2f}")
viz.show_side_by_side({"input": A_test, **loss_outputs, "target": B_test}, n=4)
plt.show()

# %% [markdown]
# Read the table. In the `cpu` profile we measured (600 steps each, 64 px): L1 only — L1 0.127,
# HF ratio 0.64; cGAN only — L1 0.322, HF ratio 1.56; L1 + cGAN — L1 0.135, HF ratio 0.93
# (baseline L1 0.319). The L1-only model draws a flat wall without mortar joints, the average
# over the random brick phases; adding the cGAN term brings the ratio close to 1 (the bricks
# come back) at almost the same L1. The cGAN-only model has no reason to follow the input: its
# L1 is no better than the mean image's, and a ratio above 1 means high-frequency *artefacts*,
# not detail. (The `ci` profile trains far too briefly for these differences.)
# Note that L1 and PSNR *reward* the blur: for a detail the input does not determine, the
# average is the best guess in L1, which is why the paper judged realism with other means
# (AMT studies, FCN scores).

# %% [markdown]
# ### The patch-size ablation (the paper's table 3 and figure 6)
#
# Same L1 + cGAN objective; the discriminator's receptive field changes. In the paper (on
# Cityscapes, 256 px): 1x1 (PixelGAN) improves colour but not spatial sharpness, 16x16 is sharp
# but shows tiling artefacts, 70x70 is best, 286x286 (the whole image) is not better — more
# parameters, harder to train. A PatchGAN with `n_layers` stride-2 layers needs images of at
# least $3 \cdot 2^{n}$ px, so the 286 D runs from 96 px up; on our 64 px toy images the
# `cpu` profile uses `n_layers=4` (142 px), which, like 286 on 256 px, already sees the
# whole image. The `gpu` profile runs exactly 1, 16, 70 and 286 on 256 px facades.

# %%
rf_results, rf_outputs = {}, {}
for n in cfg.rf_layers:
    name = f"{receptive_field(n)}x{receptive_field(n)}"
    m, h = ablation_run(dict(n_layers_d=n), desc=f"PatchGAN {name}")
    rf_results[name] = dict(evaluate_translation(m.G, A_test, B_test), seconds=h.cpu_seconds,
                            params=ganlib.count_parameters(m.D))
    with torch.no_grad():
        m.G.eval()
        rf_outputs[name] = m.G(A_test[:4].to(device)).cpu()

print(f"{'D patch':<9} {'D params':>9} {'L1 ↓':>7} {'PSNR ↑':>8} {'HF ratio':>9} {'CPU s':>6}")
for name, r in rf_results.items():
    print(f"{name:<9} {r['params']:>9,} {r['l1']:>7.4f} {r['psnr']:>8.2f} {r['hf_ratio']:>9.2f} "
          f"{r['seconds']:>6.0f}")
viz.show_side_by_side({"input": A_test, **rf_outputs, "target": B_test}, n=4)
plt.show()

# %% [markdown]
# In the `cpu` profile we measured HF ratios of 0.67 (1x1), 0.81 (16x16), 0.93 (70x70) and 0.93
# (142x142, the whole 64 px image), with held-out L1 between 0.120 and 0.136. As in the paper:
# the 1x1 PixelGAN cannot see texture at all (its outputs are as flat as L1's), 16x16 sees
# some of it, 70x70 restores it, and seeing the whole image with 2.5 times the parameters buys
# nothing more. L1 again slightly prefers the blurrier models.

# %% [markdown]
# ### The authors' weights
#
# `UNetGenerator.from_official` reads a generator checkpoint of the official implementation
# (its key names, e.g. `model.model.1.model.3.model.2.weight`), infers the architecture from
# the weights and maps them onto ours; an official checkpoint of another architecture is
# refused with a message naming the mismatch. Offline we check the mapping with a checkpoint
# of the official layout made from our own model; with `pretrained="facades_label2photo"` (the
# `gpu` profile) the published model is downloaded and translates the real test labels.

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
    G_official.train()  # official test-time behaviour
    print("published model:", evaluate_translation(G_official, A_test, B_test, official_test_mode=True))
    with torch.no_grad():
        viz.show_side_by_side({"input": A_test, "authors' G": G_official(A_test[:4].to(device)).cpu(),
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
# **2. An unconditional discriminator.** A $D$ that sees only $G(x)$, not the pair, cannot tell
# whether the output *matches* the input, only whether it looks real; the paper shows the
# conditional D is clearly better. Check the channels: a pix2pix D for RGB → RGB has
# `in_channels = 6`, and ganlib refuses anything else:

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
# **5. `eval()` at test time changes the outputs.** The published pix2pix results were made
# with dropout on and batch statistics (the official `test.py` without `--eval`). Loading the
# authors' weights and calling `eval()` uses the running averages instead and gives different,
# often worse, images. Neither is wrong, but compare like with like:

# %%
with torch.no_grad():
    G.eval()
    e = G(A_test[:8].to(device))
    G.train()
    t = G(A_test[:8].to(device))
    G.eval()
print(f"mean |eval() - official mode| on 8 test images: {(e - t).abs().mean().item():.4f}")

# %% [markdown]
# **6. Training on the test split.** The facades archive has `train`, `val` and `test`; tuning
# or training on the images you report on inflates every number. Our toy set draws its
# `train` and `test` scenes from disjoint random streams.
#
# ## Summary
#
# - Pix2Pix = a U-Net generator + a conditional PatchGAN + $\mathcal{L}_{cGAN} + 100\,\mathcal{L}_{L1}$.
# - L1 gets the low frequencies right and blurs what the input does not determine; the cGAN
#   term, judging local patches of the (input, output) pair, restores the sharp detail.
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
