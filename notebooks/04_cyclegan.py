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
# # 4. CycleGAN: translation without pairs
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/ganbook/ganbook/blob/main/notebooks/04_cyclegan.ipynb)
#
# **What you will build.** CycleGAN (Zhu, Park, Isola & Efros 2017), faithful to the official
# implementation: two ResNet generators $G: X \to Y$ and $F: Y \to X$, two 70x70 PatchGAN
# discriminators, the least-squares GAN loss, the cycle-consistency and identity losses, the
# image pool of 50 past fakes, and the training step in the official order. Pix2Pix (chapter 3)
# needed aligned pairs $(x, y)$; CycleGAN learns from two *unpaired* piles of images. We train it
# on shapes drawn plainly (domain X) and striped (domain Y), where a hidden ground truth tells us
# what each translation *should* be, so we can measure what the cycle loss buys, and run the
# paper's loss ablation over several seeds, next to the paper's table. One line switches to
# horse2zebra and the paper's settings.
#
# **Learning objectives.** After this chapter you can
# - write CycleGAN's objective and name the network each term trains;
# - build the ResNet generator with the official layout and parameter count, and load the
#   authors' pretrained weights into it;
# - explain why the discriminators see a pool of past fakes and why the cycle loss compares with
#   the *real* image;
# - measure realism with a test that can fail, content preservation and cycle error, and read an
#   ablation table with its seed spread;
# - explain why the official 0.5 on D's loss does not slow D under Adam, and name CycleGAN's
#   failure modes (geometry, hidden information).
#
# **Prerequisites.** Chapter 3 (Pix2Pix: PatchGAN, instance vs batch norm, the L1 term), and
# the least-squares GAN loss of `ganlib.losses`.

# %%
import sys
if "google.colab" in sys.modules:  # on Colab only: install ganlib from the book's repository
    import subprocess
    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "git+https://github.com/ganbook/ganbook"], check=True)
    # Checkpoints outlive a runtime reset on Google Drive (ganlib.checkpoint_dir uses it once mounted):
    # from google.colab import drive; drive.mount("/content/drive")

# %%
import copy
import itertools
import time
from dataclasses import dataclass, field
from typing import Optional

import matplotlib.pyplot as plt
import torch
from torch import nn

import ganlib
from ganlib import viz
from ganlib.data.unpaired_shapes import UnpairedBatches, load_unpaired_shapes, silhouette_iou
from ganlib.losses import d_loss_lsgan, g_loss_lsgan
from ganlib.models.cyclegan import (CycleGAN, CycleGANConfig, ImagePool,
                                    ResnetGenerator, cycle_loss, cyclegan_step, evaluate_cyclegan,
                                    identity_loss, train_domain_classifier)
from ganlib.models.pix2pix import PatchDiscriminator
from ganlib.train import fit

device = ganlib.setup(seed=0)


# %%
import math
from typing import Tuple

from ganlib.models.cyclegan import ShapesExperiment, real_vs_fake_accuracy, train_and_measure
from ganlib.runs import Run, by_row, format_table, run_all, separated, verdict

NOTEBOOK_CPU_START = time.process_time()


@dataclass
class Chapter4Config:
    dataset: str = "shapes"      # offline default; or a CycleGAN set: "horse2zebra", "apple2orange", ...
    image_size: int = 32         # what G is trained on (the random crop, when load_size is set)
    load_size: Optional[int] = None  # official: load at 286 px, train on random 256 px crops
    flip: bool = False           # official: random left-right flips (on by default there)
    limit: Optional[int] = None  # images per domain (None: all)
    steps: int = 700             # training steps of the main model, when epochs is None
    epochs: Optional[Tuple[int, int]] = None  # (constant, decay) epochs of max(|X|, |Y|) images: official (100, 100)
    batch_size: int = 8
    # Narrow nets. n_layers_d=1 gives D a 16 px receptive field on 32 px images, so it judges
    # patches as the 70x70 PatchGAN does on 256 px (n_layers_d=2 would see 34 px: the whole image).
    # The paper's nets: CycleGANConfig().
    model: CycleGANConfig = field(default_factory=lambda: CycleGANConfig(
        ngf=8, ndf=8, n_blocks=3, n_layers_d=1))
    ablation: ShapesExperiment = field(default_factory=ShapesExperiment)  # always the shapes: a ground truth
    seeds: int = 3               # seeds per ablation row
    classifier_steps: int = 150  # the measuring classifiers (domain, real vs fake)
    pitfall_steps: int = 200     # training with the wrong cycle loss (pitfall 4)
    checkpoint: Optional[str] = None  # a file under ganlib.checkpoint_dir: training resumes from it
    pretrained: Optional[str] = None  # e.g. "horse2zebra": the authors' generator, downloaded


# %% tags=["parameters"]
PROFILE = ""  # "ci", "cpu" or "gpu"; "" = GANLIB_PROFILE, else chosen automatically
SEEDS = None  # seeds per ablation row; None: the profile's (1 in ci, 3 otherwise)

# %%
PROFILE = ganlib.get_profile(PROFILE)
cfg = ganlib.choose(
    PROFILE,
    ci=Chapter4Config(steps=150, limit=1000, classifier_steps=100, seeds=1, pitfall_steps=20,
                      ablation=ShapesExperiment(steps=20, train_limit=200, test_limit=100, classifier_steps=40)),
    cpu=Chapter4Config(ablation=ShapesExperiment(steps=250)),  # 18 ablation runs: sized for 10 minutes
    gpu=Chapter4Config(dataset="horse2zebra", image_size=256, load_size=286, flip=True, batch_size=1,
                       epochs=(100, 100),  # the official 100 + 100 epochs of max(|horses|, |zebras|) steps
                       model=CycleGANConfig(), ablation=ShapesExperiment(steps=2000, device="cuda"),
                       checkpoint="horse2zebra.pt", pretrained="horse2zebra"))
if SEEDS is not None:
    cfg = ganlib.override(cfg, seeds=int(SEEDS))
WORKERS = None if PROFILE == "cpu" else 1  # ganlib.runs: one process per core; in order in ci and on the GPU
print(f"profile: {PROFILE}")
print(cfg)

# %% [markdown]
# ## The idea
#
# We have images $x \in X$ and images $y \in Y$, but no pairs. A generator $G$ (`G`) maps X to Y
# and a second one $F$ (`F`) maps Y back to X. Two discriminators judge realism *within one domain*:
# $D_Y$ (`D_Y`) tells real $y$ from translated $G(x)$, and $D_X$ (`D_X`) tells real $x$ from
# translated $F(y)$. A GAN loss alone only asks $G(x)$ to *look like* some $y$; any mapping onto the
# Y distribution satisfies it, including one that forgets $x$. CycleGAN adds **cycle consistency**:
# going there and back must return the input,
#
# $$\mathcal{L}_\text{cyc}(G, F) = \mathbb{E}_x\|F(G(x)) - x\|_1 + \mathbb{E}_y\|G(F(y)) - y\|_1,$$
#
# (the forward cycle $x \to G(x) \to F(G(x))$, `cycle_x`, and the backward cycle, `cycle_y`), and
# optionally the **identity loss** $\mathcal{L}_\text{idt} = \mathbb{E}_y\|G(y) - y\|_1 + \mathbb{E}_x\|F(x) - x\|_1$,
# which keeps e.g. the colours of a painting when it is turned into a photo.
#
# The paper writes one objective and a min-max,
# $G^*, F^* = \arg\min_{G,F}\max_{D_X,D_Y} \mathcal{L}_\text{GAN}(G, D_Y) + \mathcal{L}_\text{GAN}(F, D_X) + \lambda\,\mathcal{L}_\text{cyc}(G, F)$.
# With the least-squares GAN loss (Mao et al. 2017) there is no single quantity that D maximises
# and G minimises: each side **minimises its own** loss, with its own targets (D pushes $D(G(x))$
# to 0, G pushes it to 1). What the code minimises is:
#
# $$\min_{D_Y}\; \tfrac12\,\mathbb{E}_y\big[(D_Y(y) - 1)^2\big] + \tfrac12\,\mathbb{E}_x\big[D_Y(G(x))^2\big]
# \qquad\text{(`d_loss_lsgan`; } D_X \text{ the same with } x \text{ and } F(y)),$$
#
# $$\min_{G, F}\; \mathbb{E}_x\big[(D_Y(G(x)) - 1)^2\big] + \mathbb{E}_y\big[(D_X(F(y)) - 1)^2\big]
# + \lambda\,\mathcal{L}_\text{cyc}(G, F) + 0.5\lambda\,\mathcal{L}_\text{idt}(G, F)
# \qquad\text{(`g_loss_lsgan` + the L1 terms)},$$
#
# with $\lambda = 10$ (`lambda_x`, `lambda_y`) and identity weight $0.5\lambda$ (`lambda_identity = 0.5`).
# The cycle and identity terms are in G and F's objective only; the D's never see them. In the
# D's loss, $G(x)$ and $F(y)$ come from the image pool (below).
#
# ```
#          G                        F
#   x  --------->  G(x)  ------------------>  F(G(x))  ~ x      (forward cycle, L1)
#                   |
#                  D_Y: real y  or  G(x)?      D_X: real x  or  F(y)?
#                                               |
#   y  --------->  F(y)  ------------------>  G(F(y))  ~ y      (backward cycle, L1)
#          F                        G
# ```

# %% [markdown]
# ## Build it step by step
#
# ### The generator: a ResNet, not a U-Net
#
# CycleGAN's generator is Johnson et al.'s (2016) style-transfer network: a 7x7 stem, two stride-2
# downsamplings, residual blocks at 1/4 resolution, two transposed-conv upsamplings and a 7x7 head
# with tanh. Padding is by reflection (no black borders), normalisation is *instance* norm without
# learned parameters (each image normalised by its own statistics). The official code uses 9 blocks
# for 256 px images (`resnet_9blocks`) and 6 for 128 px. First the residual block: $x + \text{block}(x)$.

# %%
def resnet_block(dim):
    """``(N, dim, H, W) -> (N, dim, H, W)``: pad, conv 3x3, IN, ReLU, pad, conv 3x3, IN."""
    return nn.Sequential(
        nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3), nn.InstanceNorm2d(dim), nn.ReLU(True),
        nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3), nn.InstanceNorm2d(dim))


class Residual(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.conv_block = resnet_block(dim)

    def forward(self, x):
        return x + self.conv_block(x)


# %%
block = Residual(16)
h = torch.randn(2, 16, 8, 8)
assert block(h).shape == h.shape
nn.init.zeros_(block.conv_block[5].weight); nn.init.zeros_(block.conv_block[5].bias)
assert torch.equal(block(h), h), "with the last conv at zero, a residual block is the identity"
print("residual block ok")


# %% [markdown]
# Now the whole generator, with the module names `ganlib` uses (`stem`, `down`, `blocks`, `up`, `head`).

# %%
def resnet_generator(in_ch=3, out_ch=3, ngf=64, n_blocks=9):
    IN = nn.InstanceNorm2d  # affine=False, track_running_stats=False: the official "instance"
    net = nn.Module()
    net.stem = nn.Sequential(nn.ReflectionPad2d(3), nn.Conv2d(in_ch, ngf, 7), IN(ngf), nn.ReLU(True))
    net.down = nn.Sequential(nn.Conv2d(ngf, 2 * ngf, 3, 2, 1), IN(2 * ngf), nn.ReLU(True),
                             nn.Conv2d(2 * ngf, 4 * ngf, 3, 2, 1), IN(4 * ngf), nn.ReLU(True))
    net.blocks = nn.Sequential(*[Residual(4 * ngf) for _ in range(n_blocks)])
    net.up = nn.Sequential(nn.ConvTranspose2d(4 * ngf, 2 * ngf, 3, 2, 1, output_padding=1), IN(2 * ngf),
                           nn.ReLU(True),
                           nn.ConvTranspose2d(2 * ngf, ngf, 3, 2, 1, output_padding=1), IN(ngf), nn.ReLU(True))
    net.head = nn.Sequential(nn.ReflectionPad2d(3), nn.Conv2d(ngf, out_ch, 7), nn.Tanh())
    net.forward = lambda x: net.head(net.up(net.blocks(net.down(net.stem(x)))))
    return net


# %%
g9, g6 = resnet_generator(), resnet_generator(n_blocks=6)
n9, n6 = ganlib.count_parameters(g9), ganlib.count_parameters(g6)
print(f"resnet_9blocks: {n9:,} parameters (official 11,378,179); resnet_6blocks: {n6:,} (official 7,837,699)")
assert (n9, n6) == (11_378_179, 7_837_699)
assert g9(torch.randn(1, 3, 64, 64)).shape == (1, 3, 64, 64)

# %% [markdown]
# This is `ganlib.models.ResnetGenerator`: same names, same weights, same output.

# %%
small = resnet_generator(3, 3, ngf=8, n_blocks=2)
lib = ResnetGenerator(3, 3, ngf=8, n_blocks=2)
lib.load_state_dict(small.state_dict())  # strict: every name and shape agrees
x = torch.randn(2, 3, 32, 32)
assert torch.allclose(small.forward(x), lib(x), atol=1e-6)
print("inline generator == ganlib.models.ResnetGenerator")

# %% [markdown]
# **The authors' weights.** The official code keeps all layers in one `nn.Sequential` called
# `model` (keys `model.1.weight`, ..., `model.10.conv_block.1.weight`, ...).
# `ResnetGenerator.official_key` maps those keys onto ours and `ResnetGenerator.from_official`
# reads the architecture from the shapes and loads a checkpoint such as `horse2zebra.pth`. Here we
# write our small generator in the official layout and load it back; in the `gpu` profile the
# cell after downloads the authors' horse2zebra generator.

# %%
offsets = {"stem": 0, "down": 4, "blocks": 10, "up": 10 + lib.n_blocks, "head": 16 + lib.n_blocks}


def to_official(key):  # "blocks.1.conv_block.5.weight" -> "model.11.conv_block.5.weight"
    part, i, rest = key.split(".", 2)
    return f"model.{offsets[part] + int(i)}.{rest}"


official_state = {to_official(k): v for k, v in lib.state_dict().items()}
assert all(ResnetGenerator.official_key(to_official(k), 2) == k for k in lib.state_dict())
print(list(official_state)[:4], "...")
reloaded = ResnetGenerator.from_official(official_state)
assert (reloaded.ngf, reloaded.n_blocks, reloaded.norm) == (8, 2, "instance")
assert torch.allclose(reloaded(x), lib(x), atol=1e-6)
print("from_official round trip ok")

# %%
if cfg.pretrained:  # the authors' generator (G: horse -> zebra for "horse2zebra")
    from ganlib.data import registry
    url = f"http://efrosgans.eecs.berkeley.edu/cyclegan/pretrained_models/{cfg.pretrained}.pth"
    path = registry.download_url(url, f"data/pretrained/{cfg.pretrained}.pth")
    G_official = ResnetGenerator.from_official(path).to(device).eval()
    print(f"{cfg.pretrained}: ngf {G_official.ngf}, {G_official.n_blocks} blocks, "
          f"{ganlib.count_parameters(G_official):,} parameters")

# %% [markdown]
# ### The discriminators: the Pix2Pix chapter's PatchGAN
#
# CycleGAN uses the 70x70 PatchGAN of Pix2Pix with instance norm, *unconditional* (it sees one
# image, 3 channels, not an input-output pair). We import it rather than write it twice.

# %%
D = PatchDiscriminator(3, ndf=64, n_layers=3, norm="instance")
print(f"PatchGAN: {ganlib.count_parameters(D):,} parameters (official 2,764,737), "
      f"receptive field {D.receptive_field} px")
assert ganlib.count_parameters(D) == 2_764_737 and D.receptive_field == 70
assert D(torch.randn(1, 3, 256, 256)).shape == (1, 1, 30, 30)  # one decision per 70x70 patch

# %% [markdown]
# ### The losses
#
# LSGAN from `ganlib.losses`; the cycle and identity losses are mean absolute errors against the
# **real** input.

# %%
def my_cycle_loss(reconstructed, real):
    return (reconstructed - real).abs().mean()


# %%
real = torch.zeros(1, 1, 2, 2)
rec = torch.tensor([[[[1.0, -1.0], [0.5, 0.0]]]])
assert my_cycle_loss(rec, real).item() == 0.625  # (1 + 1 + 0.5 + 0) / 4
assert my_cycle_loss(rec, real) == cycle_loss(rec, real) == identity_loss(rec, real)
# LSGAN: D pays (D(y) - 1)^2 + D(G(x))^2; G pays (D(G(x)) - 1)^2
assert d_loss_lsgan(torch.ones(4), torch.zeros(4)).item() == 0.0
assert g_loss_lsgan(torch.zeros(4)).item() == 1.0
print("losses ok")


# %% [markdown]
# ### The image pool
#
# The discriminators are updated on a *history* of generated images (Shrivastava et al. 2017):
# a pool of the last 50 fakes. While it fills, each new fake is stored and shown as is; once
# full, each new fake is shown with probability 0.5, otherwise a random stored fake is shown
# and the new one takes its place. A discriminator that sees only the latest fakes can forget
# what older generators produced, and G and D chase each other in circles; the pool damps
# that oscillation.

# %%
class MyImagePool:
    def __init__(self, pool_size=50, seed=0):
        self.pool_size, self.images = pool_size, []
        self.generator = torch.Generator().manual_seed(seed)

    def query(self, images):
        out = []
        for image in images.detach():
            if len(self.images) < self.pool_size:
                self.images.append(image.clone()); out.append(image)
            elif torch.rand((), generator=self.generator).item() > 0.5:
                j = int(torch.randint(self.pool_size, (), generator=self.generator))
                out.append(self.images[j]); self.images[j] = image.clone()
            else:
                out.append(image)
        return torch.stack(out)


# %%
mine, lib_pool = MyImagePool(4, seed=1), ImagePool(4, seed=1)
fakes = torch.arange(40.0).view(40, 1, 1, 1)
assert torch.equal(mine.query(fakes[:4]), fakes[:4]) and len(mine.images) == 4  # filling
shown = mine.query(fakes[4:])
assert torch.equal(lib_pool.query(fakes[:4]), fakes[:4]) and torch.equal(lib_pool.query(fakes[4:]), shown)
print("old fakes shown after the pool filled:", int((shown.flatten() < fakes[4:].flatten()).sum()), "of 36")
print("inline pool == ganlib.models.ImagePool")


# %% [markdown]
# ### The training step, in the official order
#
# 1. translate both ways; 2. update G and F *together* (one Adam over both) with the
# discriminators frozen; 3. update $D_Y$ and $D_X$ on real images and pooled fakes. Adam with
# lr 2e-4, $\beta_1 = 0.5$. The official code multiplies each D loss by 0.5; we do the same, so
# that our losses and weights match it step for step. The 0.5 does **not** make D learn at half
# the rate of G (see the check after the step).

# %%
def my_cyclegan_step(G, F, D_X, D_Y, opt_G, opt_D, real_x, real_y, pool_x, pool_y, lam=10.0, idt=0.5):
    fake_y, fake_x = G(real_x), F(real_y)                                   # 1. translate
    for p in itertools.chain(D_X.parameters(), D_Y.parameters()):          # 2. G and F, D's frozen
        p.requires_grad_(False)
    opt_G.zero_grad()
    loss_G = (g_loss_lsgan(D_Y(fake_y)) + g_loss_lsgan(D_X(fake_x))
              + lam * my_cycle_loss(F(fake_y), real_x) + lam * my_cycle_loss(G(fake_x), real_y)
              + idt * lam * (my_cycle_loss(G(real_y), real_y) + my_cycle_loss(F(real_x), real_x)))
    loss_G.backward()
    opt_G.step()
    for p in itertools.chain(D_X.parameters(), D_Y.parameters()):          # 3. the D's, pooled fakes
        p.requires_grad_(True)
    opt_D.zero_grad()
    loss_D_Y = 0.5 * d_loss_lsgan(D_Y(real_y), D_Y(pool_y.query(fake_y)))
    loss_D_X = 0.5 * d_loss_lsgan(D_X(real_x), D_X(pool_x.query(fake_x)))
    (loss_D_Y + loss_D_X).backward()
    opt_D.step()
    return {"g_loss": loss_G, "d_y_loss": loss_D_Y, "d_x_loss": loss_D_X}


# %% [markdown]
# Check: from the same weights and the same batch, the inline step and `ganlib`'s
# `cyclegan_step` give the same losses and the same updated weights.

# %%
ganlib.seed_everything(0)
tiny = CycleGAN(CycleGANConfig(ngf=4, ndf=4, n_blocks=1, n_layers_d=2))
twin = copy.deepcopy(tiny)
bx, by = torch.rand(2, 3, 16, 16) * 2 - 1, torch.rand(2, 3, 16, 16) * 2 - 1
a = my_cyclegan_step(tiny.G, tiny.F, tiny.D_X, tiny.D_Y, tiny.opt_G, tiny.opt_D, bx, by,
                     tiny.pool_x, tiny.pool_y)
b = cyclegan_step(twin.G, twin.F, twin.D_X, twin.D_Y, twin.opt_G, twin.opt_D, bx, by,
                  twin.pool_x, twin.pool_y)
for k in a:
    assert torch.isclose(a[k], b[k], rtol=1e-5), k
for p, q in zip(itertools.chain(tiny.G.parameters(), tiny.D_Y.parameters()),
                itertools.chain(twin.G.parameters(), twin.D_Y.parameters())):
    assert torch.allclose(p, q, atol=1e-6)
print({k: round(v.item(), 4) for k, v in b.items()}, "| inline step == ganlib cyclegan_step")

# %% [markdown]
# **Does the 0.5 slow D down? Not under Adam.** Adam's update is
# $-\eta\,\hat m / (\sqrt{\hat v} + \epsilon)$, with $\hat m$ a running mean of the gradient and
# $\hat v$ of its square. Scaling the loss by a constant $c$ scales $\hat m$ by $c$ and
# $\sqrt{\hat v}$ by $|c|$: the update is the same, except for the tiny $\epsilon = 10^{-8}$. (Under
# plain SGD the 0.5 would halve D's steps.) The check: three copies of one D, trained on the same
# batches with `loss`, with `0.5 * loss`, and with `loss` at half the learning rate. To really slow
# D down, lower *its* learning rate (a separate `lr` for `opt_D`) or update it less often.
#
# Look at the one parameter that differs: the bias of the conv just before instance norm. Instance
# norm subtracts each channel's mean, so that bias gets no gradient (rounding noise only, far
# below ε), and there ε, not the gradient, sets Adam's step. It has no effect on D's output, which
# is what the last line compares.

# %%
ganlib.seed_everything(0)
D_loss = PatchDiscriminator(3, ndf=8, n_layers=1, norm="instance")
D_half, D_slow = copy.deepcopy(D_loss), copy.deepcopy(D_loss)
trials = {"loss": (D_loss, 1.0, 2e-4), "0.5 * loss": (D_half, 0.5, 2e-4), "loss, lr / 2": (D_slow, 1.0, 1e-4)}
adams = {k: torch.optim.Adam(D.parameters(), lr=lr, betas=(0.5, 0.999)) for k, (D, _, lr) in trials.items()}
g = torch.Generator().manual_seed(0)
for _ in range(30):
    real_b = torch.rand(4, 3, 32, 32, generator=g) * 2 - 1
    fake_b = 0.5 * (torch.rand(4, 3, 32, 32, generator=g) * 2 - 1)
    for k, (D, scale, _) in trials.items():
        adams[k].zero_grad()
        (scale * d_loss_lsgan(D(real_b), D(fake_b))).backward()
        adams[k].step()
print(f"{'parameter':16s}{'0.5 * loss vs loss':>20s}{'lr / 2 vs loss':>16s}{'|gradient|':>12s}  (largest differences)")
for (name, p), q, r in zip(D_loss.named_parameters(), D_half.parameters(), D_slow.parameters()):
    print(f"{name:16s}{float((p - q).detach().abs().max()):20.1e}{float((p - r).detach().abs().max()):16.1e}"
          f"{float(p.grad.abs().max()):12.1e}")
probe = torch.rand(8, 3, 32, 32, generator=g) * 2 - 1
with torch.no_grad():
    out, out_half, out_slow = D_loss(probe), D_half(probe), D_slow(probe)
gap_half, gap_slow = float((out - out_half).abs().max()), float((out - out_slow).abs().max())
print(f"D's outputs on new images: 0.5 * loss differs from loss by {gap_half:.1e}, lr / 2 by {gap_slow:.1e}")
assert gap_half < 1e-3 * gap_slow, "0.5 * loss should leave Adam's updates unchanged (up to eps)"
for p, q in zip(D_loss.parameters(), D_half.parameters()):
    if p.grad.abs().max() > 1e-4:  # every parameter with a real gradient: equal up to rounding
        assert torch.allclose(p, q, atol=1e-6), "0.5 * loss changed a weight with a real gradient"

# %% [markdown]
# ## Data: shapes, plain and striped, with a hidden ground truth
#
# Each scene is a circle, square or triangle with a position, size and rotation. Domain X draws it
# solid orange on dark grey, domain Y draws it with blue stripes on a light background. The
# training split renders **two disjoint sets of scenes**, so there is no pair to learn from; the
# test split renders the same scenes in both domains: $y^*$, the hidden counterpart of $x$, used
# only to measure. With `dataset="horse2zebra"` (or another CycleGAN set) the registry downloads
# the authors' archive (trainA/trainB/testA/testB) and there is no ground truth: content is then
# judged by eye and by the cycle error.
#
# **The official data pipeline** (`--preprocess resize_and_crop`, the `gpu` profile): training
# images are resized to 286 px (`load_size`), and every image of every batch is a random 256 px
# crop, flipped left-right with probability 0.5 (`UnpairedBatches(crop_size=, flip=)`); test images
# are resized to 256 px (the official test sets `load_size = crop_size`). One difference: the
# official resize is PIL's bicubic, ours is bilinear with antialiasing.

# %%
if cfg.dataset == "shapes":
    X, Y = load_unpaired_shapes("train", size=cfg.image_size, limit=cfg.limit)
    X_test, Y_test = load_unpaired_shapes("test", size=cfg.image_size, limit=200)
else:
    from ganlib.data import registry
    X, Y = registry.load_unpaired(cfg.dataset, "train", size=cfg.load_size or cfg.image_size, limit=cfg.limit)
    X_test, Y_test = registry.load_unpaired(cfg.dataset, "test", size=cfg.image_size, limit=200)
    n = min(len(X_test), len(Y_test))
    X_test, Y_test = X_test[:n], Y_test[:n]
PAIRED = cfg.dataset == "shapes"  # a hidden ground truth exists
print(f"X {tuple(X.shape)}, Y {tuple(Y.shape)}; test {tuple(X_test.shape)}")
fig, axes = plt.subplots(1, 2, figsize=(10, 2.6))
viz.show_grid(torch.cat([X[:8], Y[:8]]), nrow=8, row_labels=["X", "Y"], ax=axes[0],
              title="training: unpaired (row 2 is not row 1's counterpart)")
viz.show_grid(torch.cat([X_test[:8], Y_test[:8]]), nrow=8, row_labels=["x", "y*"], ax=axes[1],
              title="test: the hidden pairs (for measuring only)");

# %% [markdown]
# ## Train
#
# `ganlib.models.CycleGAN` holds the four networks, the two optimizers and the two pools;
# `model.step` is `cyclegan_step`. The pools and the LR schedules travel in the checkpoint with
# the weights (`model.states`; `fit(model, ...)` takes modules, optimizers and states from the
# model), so a resumed run continues exactly. An official epoch is
# `max(|X|, |Y|)` images (the larger domain sets the length; the smaller one is cycled), and the
# official schedule keeps the learning rate for 100 epochs, then decays it linearly to 0 over 100
# more (we decay per step, the official code per epoch: the same line in steps).

# %%
epoch = math.ceil(max(len(X), len(Y)) / cfg.batch_size)  # the official epoch: max(|A|, |B|) images
if cfg.epochs:
    steps = sum(cfg.epochs) * epoch
    model_cfg = ganlib.override(cfg.model, n_constant=cfg.epochs[0] * epoch, n_decay=cfg.epochs[1] * epoch)
else:
    steps, model_cfg = cfg.steps, cfg.model
print(f"{steps} steps = {steps / epoch:.1f} epochs of {epoch} batches of {cfg.batch_size}")
ganlib.seed_everything(0)
model = CycleGAN(model_cfg, device=device)
for name, net in model.modules.items():
    extra = f", receptive field {net.receptive_field} px" if hasattr(net, "receptive_field") else ""
    print(f"{name}: {type(net).__name__}, {ganlib.count_parameters(net):,} parameters{extra}")
print(f"D's receptive field vs image size: {model.D_Y.receptive_field} px on {cfg.image_size} px "
      f"({'patches' if model.D_Y.receptive_field < cfg.image_size else 'the whole image'})")
batches = UnpairedBatches(X, Y, batch_size=cfg.batch_size, seed=0, device=device,
                          crop_size=cfg.image_size if cfg.load_size else None, flip=cfg.flip)
sample_x, sample_y = X_test[:8].to(device), Y_test[:8].to(device)
history = fit(model, batches, steps, checkpoint=ganlib.checkpoint_path("04_cyclegan", cfg.checkpoint),
              checkpoint_every=2000,
              config=model_cfg, snapshot_fn=lambda: model.G(sample_x),
              snapshot_every=max(1, steps // 4), desc="CycleGAN")
print(f"{len(history.steps)} steps, {history.cpu_seconds:.0f} s of CPU time "
      f"({history.seconds:.0f} s wall)")
viz.plot_losses(history, names=["g_gan", "f_gan", "cycle_x", "cycle_y", "d_y_loss", "d_x_loss"]);

# %% [markdown]
# ## Look: both ways, and back

# %%
gx, fy = model.translate(X_test[:8]), model.translate(Y_test[:8], "YtoX")
fgx, gfy = model.translate(gx, "YtoX"), model.translate(fy)
fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
viz.show_grid(torch.cat([X_test[:8], gx, fgx] + ([Y_test[:8]] if PAIRED else [])), nrow=8,
              row_labels=["x", "G(x)", "F(G(x))"] + (["y* (hidden)"] if PAIRED else []),
              ax=axes[0], title="X -> Y -> X")
viz.show_grid(torch.cat([Y_test[:8], fy, gfy] + ([X_test[:8]] if PAIRED else [])), nrow=8,
              row_labels=["y", "F(y)", "G(F(y))"] + (["x* (hidden)"] if PAIRED else []),
              ax=axes[1], title="Y -> X -> Y");

# %% [markdown]
# G(x) during training (one row per snapshot):

# %%
viz.show_grid(torch.cat([img for _, img in history.snapshots]), nrow=8,
              row_labels=[f"step {s}" for s, _ in history.snapshots]);

# %% [markdown]
# ## Measure
#
# Four numbers:
# 1. **domain**: a small CNN trained on *real* X vs *real* Y (`train_domain_classifier`) classifies
#    the translations; the fraction it puts in the target domain. A necessary condition only: a
#    grey image that is nearer to Y's light background than to X's dark one passes it;
# 2. **realism that can fail**: a classifier trained to tell *real* y from *translated* G(x), tested
#    on held-out images (`real_vs_fake_accuracy`, a classifier two-sample test, Lopez-Paz & Oquab
#    2017): 0.5 when it cannot tell them apart, 1.0 when it spots every fake;
# 3. **content preservation**: the mean L1 distance between $G(x)$ and $x$'s hidden counterpart
#    $y^*$ (and the silhouette IoU of the shapes); only on data with a ground truth;
# 4. **cycle error**: mean $|F(G(x)) - x|$.
#
# Baselines: the *identity* mapping (output $x$ itself: perfect content, wrong domain), *real y*
# of other scenes (right domain, wrong content: what a generator that ignores its input at best
# achieves; the realism test must give it about 0.5), and the *untrained* generator.

# %%
clf = train_domain_classifier(X.to(device), Y.to(device), steps=cfg.classifier_steps)
print(f"domain classifier on real test images: {clf.fraction_y(Y_test):.0%} of Y and "
      f"{1 - clf.fraction_y(X_test):.0%} of X correct")
scores = evaluate_cyclegan(model, X_test, Y_test, clf)  # content numbers: only meaningful if PAIRED
ganlib.seed_everything(1)
untrained = CycleGAN(model_cfg, device=device)
other_y = Y[-len(X_test):]  # real y of other scenes (the training pile)
if cfg.load_size:
    other_y = other_y[..., :cfg.image_size, :cfg.image_size]


def row(out):
    r = {"G(x) in Y": clf.fraction_y(out),
         "real vs fake": real_vs_fake_accuracy(out.to(device), Y_test.to(device), steps=cfg.classifier_steps)}
    if PAIRED:
        r.update({"content L1 to y*": float((out - Y_test).abs().mean()),
                  "silhouette IoU": silhouette_iou(out, Y_test)})
    return r


table = {"identity (x)": row(X_test), "real y (other scenes)": row(other_y.cpu()),
         "untrained G": row(untrained.translate(X_test)), "CycleGAN": row(model.translate(X_test))}
print(f"{'':22s}" + "".join(f"{k:>18s}" for k in table["CycleGAN"]))
for name, r in table.items():
    print(f"{name:22s}" + "".join(f"{v:18.3f}" for v in r.values()))
print(f"cycle error |F(G(x)) - x|: {scores['cycle x']:.3f}, |G(F(y)) - y|: {scores['cycle y']:.3f}; "
      f"F(y) in X: {scores['F(y) in X']:.0%}")
rf = {k: v["real vs fake"] for k, v in table.items()}
print(f"The realism test tells real y from the untrained G's outputs with accuracy {rf['untrained G']:.2f}, "
      f"from CycleGAN's with {rf['CycleGAN']:.2f} (chance 0.5; real y of other scenes: "
      f"{rf['real y (other scenes)']:.2f}), while the domain classifier puts "
      f"{table['untrained G']['G(x) in Y']:.0%} of the untrained G's outputs in Y.")
assert rf["untrained G"] > 0.9, "an untrained G's grey outputs should be easy to tell from real y"
assert abs(rf["real y (other scenes)"] - 0.5) < 0.15, "real y against real y should be near chance"
if PROFILE != "ci":
    assert table["CycleGAN"]["G(x) in Y"] >= 0.8 and rf["CycleGAN"] < rf["untrained G"] - 0.1

# %% [markdown]
# ### The authors' generator
#
# In the `gpu` profile the authors' horse2zebra generator (downloaded above) translates the same
# test horses as ours, and the same realism test judges both. Offline, this cell has nothing to
# run; what a reader with the download sees: zebra stripes painted over the horses, the grass and
# sky mostly kept, and the known failures the paper shows (Zhu et al. 2017, Fig. 17): stripes
# leaking onto a rider or a brown background, and horses in unusual poses or lighting left
# half-translated.

# %%
if cfg.pretrained:
    G_official.eval()
    with torch.no_grad():
        authors = torch.cat([G_official(X_test[i:i + 16].to(device)).cpu() for i in range(0, len(X_test), 16)])
    ours = model.translate(X_test)
    for who, out in (("ours", ours), ("the authors'", authors)):
        acc = real_vs_fake_accuracy(out.to(device), Y_test.to(device), steps=cfg.classifier_steps)
        print(f"{who}: real-vs-fake accuracy {acc:.3f}, {clf.fraction_y(out):.0%} classified as Y")
    fig, ax = plt.subplots(figsize=(12, 5))
    viz.show_grid(torch.cat([X_test[:6], ours[:6], authors[:6]]), nrow=6, ax=ax,
                  row_labels=["x", "our G(x)", "authors' G(x)"], title=f"{cfg.pretrained}: test images")
else:
    print("offline profile: the authors' generator is not downloaded (the gpu profile applies it here)")

# %% [markdown]
# ## The paper's ablation: which loss does what
#
# Zhu et al. (2017, Table 4) train on Cityscapes labels → photo with the cycle loss alone (no GAN
# loss), the GAN loss alone, GAN + forward cycle, GAN + backward cycle, and the full CycleGAN,
# and score the photos with an FCN segmenter (the closer the FCN's labels to the input labels, the
# better). We train the same five variants on the shapes, plus the identity loss as a sixth row.
# The rows differ in the λ's only: same nets, data, steps, batch and seeds
# (`cfg.ablation`, `cfg.seeds` seeds per row, run side by side by `ganlib.runs`). Our measures are
# not the paper's (no FCN, another data set): compare orderings, not numbers.

# %%
VARIANTS = {"Cycle alone": dict(lambda_gan=0.0, lambda_identity=0.0),
            "GAN alone": dict(lambda_x=0.0, lambda_y=0.0, lambda_identity=0.0),
            "GAN + forward cycle": dict(lambda_y=0.0, lambda_identity=0.0),
            "GAN + backward cycle": dict(lambda_x=0.0, lambda_identity=0.0),
            "CycleGAN": dict(lambda_identity=0.0),
            "CycleGAN + identity": dict()}
runs = [Run(train_and_measure, ganlib.override(cfg.ablation, model=ganlib.override(cfg.ablation.model, **changes)),
            seed, row=name) for name, changes in VARIANTS.items() for seed in range(cfg.seeds)]
results = run_all(runs, workers=WORKERS, keep=ganlib.checkpoint_path("04_cyclegan", "ablation", PROFILE))
print(f"{cfg.ablation.steps} steps per run, {cfg.seeds} seed(s) per row; content L1 to y* (lower is better), "
      "silhouette IoU (higher), real vs fake (0.5 best), cycle x (lower), content L1 of F (lower)")
print(format_table(results))
print(f"CPU time of the runs: {sum(r.cpu_seconds for r in results):.0f} s")

# %% [markdown]
# The paper's numbers beside ours. Table 4 of Zhu et al. (2017) (FCN scores, labels → photo,
# one run per variant):

# %%
PAPER_TABLE4 = {  # Zhu et al. 2017, Table 4: per-pixel acc., per-class acc., class IoU (higher is better)
    "Cycle alone": (0.22, 0.07, 0.02), "GAN alone": (0.51, 0.11, 0.08),
    "GAN + forward cycle": (0.55, 0.18, 0.12), "GAN + backward cycle": (0.39, 0.14, 0.06),
    "CycleGAN": (0.52, 0.17, 0.11)}
rows = by_row(results)
ours = lambda name, key: [r[key] for r in rows[name]]  # noqa: E731
print(f"{'variant':22s}{'paper: pixel acc.':>18s}{'class IoU':>10s}{'ours: content L1':>18s}{'real vs fake':>14s}")
for name, (pix, _, iou) in PAPER_TABLE4.items():
    c, r = ours(name, "content L1"), ours(name, "real vs fake")
    print(f"{name:22s}{pix:18.2f}{iou:10.2f}{sum(c) / len(c):18.3f}{sum(r) / len(r):14.3f}")
print()
agreement = {}
for name in [k for k in PAPER_TABLE4 if k != "CycleGAN"]:
    paper_says = "worse" if PAPER_TABLE4[name][0] < PAPER_TABLE4["CycleGAN"][0] else "better"
    a, b = ours(name, "content L1"), ours("CycleGAN", "content L1")
    we_see = ("no measurable difference" if not separated(a, b)
              else ("worse" if sum(a) / len(a) > sum(b) / len(b) else "better"))
    agreement[name] = ("no measurable difference here" if we_see == "no measurable difference"
                       else "agrees" if we_see == paper_says else "disagrees")
    print(f"{name} vs CycleGAN: the paper's per-pixel accuracy says {paper_says}; "
          f"our content L1 says {we_see} -> {agreement[name]}")
    print("   ", verdict(name, a, "CycleGAN", b, "content L1", higher_is_better=False))
for measure, higher in (("real vs fake", False), ("silhouette IoU", True)):
    print(verdict("Cycle alone", ours("Cycle alone", measure), "CycleGAN", ours("CycleGAN", measure),
                  measure, higher_is_better=higher))
print(verdict("CycleGAN + identity", ours("CycleGAN + identity", "content L1 (F)"), "CycleGAN",
              ours("CycleGAN", "content L1 (F)"), "content L1 (F)", higher_is_better=False))
counts = {k: list(agreement.values()).count(k) for k in ("agrees", "disagrees", "no measurable difference here")}
print(f"\nOf {len(agreement)} comparisons with CycleGAN, our ordering agrees with the paper's on {counts['agrees']}, "
      f"disagrees on {counts['disagrees']}, and shows no measurable difference on "
      f"{counts['no measurable difference here']}" + ("" if cfg.seeds > 1 else " (one seed per row: no spread to compare)"))

# %% [markdown]
# **Reading the tables.** The printed verdicts are the findings; a ranking is stated only when the
# gap exceeds twice the pooled sd over the seeds. What to look for:
#
# - *Cycle alone*: without a GAN loss nothing asks G(x) to look like Y. G and F only have to
#   invert each other, and the realism test spots their outputs; in the paper this row is by far
#   the worst.
# - *GAN alone*: the outputs look like Y (realism) but nothing ties G(x) to x; in the paper this
#   collapses to a few outputs whatever the input. Our small residual generator starts close to a
#   smooth, local mapping, so at this scale it loses *part* of the content rather than all of it.
# - *One cycle*: the forward cycle constrains G (x → G → F → x) and the backward cycle F; the paper
#   found GAN + backward cycle unstable and GAN + forward cycle slightly *better* than CycleGAN on
#   labels → photo (while worse on photo → labels, its Table 5). Where our verdicts and the paper's
#   direction differ, the printed line says so; the paper ran one model per row, so its small gaps
#   (a few hundredths) may be within its own seed spread.
# - *Identity*: it mainly guards colours; compare the F columns.
#
# ## Failure modes
#
# **Geometric changes.** The cycle loss and a generator that maps every location to the same
# location (convolutions, no global warping) make CycleGAN change *appearance* and keep
# *geometry*. The paper's failure cases (Zhu et al. 2017, Sec. 5.2 and Fig. 17): cat ↔ dog and
# similar translations that need a change of shape mostly end with the input's shape and a
# minimal change of texture. On our shapes the counterpart keeps the silhouette, so the silhouette
# IoU above rewards exactly this bias; a task such as "circle → square" would defeat it.
#
# **Hiding information to satisfy the cycle** (Chu, Zhmoginov & Sandler 2017, *CycleGAN, a Master
# of Steganography*). F must rebuild x from G(x). Where the visible content of G(x) is not
# enough, G can hide what F needs in a low-amplitude signal: aerial photo → map → photo rebuilds
# buildings that the map does not show. Two symptoms can be measured on our data: F rebuilds x
# *better* from G(x) than from the true counterpart $y^*$, which holds the whole scene; and a small
# noise, invisible to the eye, added to G(x) harms the reconstruction much more than the same
# noise added to $y^*$.

# %%
if PAIRED:
    noise = 0.05 * torch.randn(X_test.shape, generator=torch.Generator().manual_seed(0))
    gx_all = model.translate(X_test)
    rebuilt = {"G(x)": model.translate(gx_all, "YtoX"), "G(x) + noise": model.translate(gx_all + noise, "YtoX"),
               "y*": model.translate(Y_test, "YtoX"), "y* + noise": model.translate(Y_test + noise, "YtoX")}
    err = {k: float((v - X_test).abs().mean()) for k, v in rebuilt.items()}
    print(f"|G(x) - y*| = {float((gx_all - Y_test).abs().mean()):.3f}; noise sd 0.05 "
          f"(pixels in [-1, 1])")
    for k, e in err.items():
        print(f"  |F({k}) - x| = {e:.3f}")
    hidden = err["G(x)"] < 0.8 * err["y*"]
    fragile = (err["G(x) + noise"] - err["G(x)"]) > 2 * max(err["y* + noise"] - err["y*"], 1e-3)
    print(("F rebuilds x better from G(x) than from the true y*: G(x) carries more about x than its "
           "visible content" if hidden else
           "F rebuilds x about as well from y* as from G(x): no sign of hidden information here") + "; "
          + ("noise hurts the reconstruction from G(x) far more than from y*: part of what F reads is a "
             "low-amplitude signal" if fragile else "the same noise hurts both alike: no sign of a "
             "low-amplitude code at this scale"))
    fig, ax = plt.subplots(figsize=(9, 3.6))
    viz.show_grid(torch.cat([X_test[:8], gx_all[:8], Y_test[:8], ((gx_all[:8] - Y_test[:8]) * 5).clamp(-1, 1)]),
                  nrow=8, ax=ax, row_labels=["x", "G(x)", "y*", "5 (G(x) - y*)"],
                  title="what G(x) holds beyond y*, amplified")

# %% [markdown]
# ## Pitfalls
#
# **1. "CycleGAN uses a U-Net generator."** It does not: the paper and the official code use the
# ResNet generator above with instance norm (`resnet_9blocks` at 256 px). A U-Net (Pix2Pix's
# generator, with skip connections from input to output) is an *option* of the official code,
# not CycleGAN's architecture.

# %%
assert isinstance(model.G, ResnetGenerator) and not any("UNet" in type(m).__name__ for m in model.G.modules())
print(type(model.G).__name__, "with", model.G.n_blocks, "residual blocks and", model.G.norm, "norm")

# %% [markdown]
# **2. Batch norm instead of instance norm.** With batch norm an image's translation depends on
# the *other* images in the batch (and at test time on running statistics); instance norm
# normalises each image by its own statistics, which is what style transfer needs (Ulyanov et
# al. 2016). The official CycleGAN uses instance norm with batch size 1.

# %%
ganlib.seed_everything(0)
g_in, g_bn = ResnetGenerator(ngf=8, n_blocks=1, norm="instance"), ResnetGenerator(ngf=8, n_blocks=1, norm="batch")
one, others = X_test[:1], X_test[1:4]
with torch.no_grad():
    alone_in, batch_in = g_in(one), g_in(torch.cat([one, others]))[:1]
    alone_bn, batch_bn = g_bn(one.expand(2, -1, -1, -1))[:1], g_bn(torch.cat([one, others]))[:1]
print(f"change of G(x) when x shares the batch: instance norm {float((alone_in - batch_in).abs().max()):.1e}, "
      f"batch norm {float((alone_bn - batch_bn).abs().max()):.1e}")
assert torch.allclose(alone_in, batch_in, atol=1e-5) and not torch.allclose(alone_bn, batch_bn, atol=1e-3)

# %% [markdown]
# **3. A "PatchGAN" that ends in a fully connected layer.** Then it is a whole-image classifier
# with one output, not a PatchGAN. A PatchGAN is fully convolutional: one decision per
# overlapping 70x70 patch, and it accepts any image size.

# %%
patch = PatchDiscriminator(3, ndf=8, n_layers=3, norm="instance")
not_patch = nn.Sequential(*list(patch.model), nn.Flatten(), nn.LazyLinear(1))
print("PatchGAN on 256 px:", tuple(patch(torch.randn(1, 3, 256, 256)).shape),
      "| with a final Linear:", tuple(not_patch(torch.randn(1, 3, 256, 256)).shape))
assert patch(torch.randn(1, 3, 128, 128)).shape == (1, 1, 14, 14)  # any size: a map of decisions
try:
    not_patch(torch.randn(1, 3, 128, 128))
    raise AssertionError("a Linear layer should fix the input size")
except RuntimeError as e:
    print("the FC version breaks on another size:", str(e).splitlines()[0][:70])

# %% [markdown]
# **4. A cycle loss compared with the fake instead of the real image.** $\|F(G(x)) - G(x)\|_1$
# asks F to *copy* its input, which makes F an identity map and says nothing about getting x back.
# For a perfect cycle ($F(G(x)) = x$) the right loss is 0 and the wrong one is large:

# %%
xs, gx_ = X_test[:16], Y_test[:16]  # pretend G(x) = y*, and F brings it back exactly: F(G(x)) = x
rec = xs
print(f"right: |F(G(x)) - x| = {cycle_loss(rec, xs):.3f};  wrong: |F(G(x)) - G(x)| = {cycle_loss(rec, gx_):.3f}")
assert cycle_loss(rec, xs) == 0 and cycle_loss(rec, gx_) > 0.5


# %% [markdown]
# What training does with it: the official step with that one change, against the right step,
# from the same initial weights, data and seed, on the shapes (`cfg.ablation`'s nets, `cfg.pitfall_steps` steps).

# %%
from ganlib.train import set_requires_grad


def step_cycle_against_fake(m, batch, lam=10.0):
    """The official step with the mistake: the cycle terms compare F(G(x)) with G(x), G(F(y)) with F(y)."""
    real_x, real_y = batch
    fake_y, fake_x = m.G(real_x), m.F(real_y)
    set_requires_grad([m.D_X, m.D_Y], False)
    m.opt_G.zero_grad()
    loss_G = (g_loss_lsgan(m.D_Y(fake_y)) + g_loss_lsgan(m.D_X(fake_x))
              + lam * cycle_loss(m.F(fake_y), fake_y) + lam * cycle_loss(m.G(fake_x), fake_x))  # the mistake
    loss_G.backward()
    m.opt_G.step()
    set_requires_grad([m.D_X, m.D_Y], True)
    m.opt_D.zero_grad()
    (0.5 * d_loss_lsgan(m.D_Y(real_y), m.D_Y(m.pool_y.query(fake_y)))
     + 0.5 * d_loss_lsgan(m.D_X(real_x), m.D_X(m.pool_x.query(fake_x)))).backward()
    m.opt_D.step()
    return {"g_loss": loss_G.detach()}


Xp, Yp = load_unpaired_shapes("train", size=cfg.ablation.image_size, limit=cfg.ablation.train_limit)
Xp_test, Yp_test = load_unpaired_shapes("test", size=cfg.ablation.image_size, limit=200)
pit_cfg = ganlib.override(cfg.ablation.model, lambda_identity=0.0)
trained = {}
for name in ("right: |F(G(x)) - x|", "wrong: |F(G(x)) - G(x)|"):
    ganlib.seed_everything(0)
    m = CycleGAN(pit_cfg, device=device)
    step = m.step if name.startswith("right") else (lambda b, m=m: step_cycle_against_fake(m, b))
    fit(step, UnpairedBatches(Xp, Yp, batch_size=cfg.ablation.batch_size, seed=0, device=device),
        cfg.pitfall_steps, modules=m.modules, optimizers=m.optimizers, progress=False)
    gx_p = m.translate(Xp_test)
    fgx_p, fy_p = m.translate(gx_p, "YtoX"), m.translate(Yp_test, "YtoX")
    trained[name] = {"|F(G(x)) - x|": float((fgx_p - Xp_test).abs().mean()),
                     "|F(G(x)) - G(x)|": float((fgx_p - gx_p).abs().mean()),
                     "content L1 of G": float((gx_p - Yp_test).abs().mean()),
                     "content L1 of F": float((fy_p - Xp_test).abs().mean())}
    trained[name]["pictures"] = torch.cat([Xp_test[:8], gx_p[:8], fgx_p[:8]])
print(f"after {cfg.pitfall_steps} steps:" + "".join(f"{k:>20s}" for k in trained[name] if k != "pictures"))
for name, r in trained.items():
    print(f"{name:26s}" + "".join(f"{v:20.3f}" for k, v in r.items() if k != "pictures"))
right, wrong = trained.values()
print(f"With the wrong loss F(G(x)) stays {wrong['|F(G(x)) - G(x)|']:.3f} from G(x) (right loss: "
      f"{right['|F(G(x)) - G(x)|']:.3f}) and {wrong['|F(G(x)) - x|']:.3f} from x (right loss: "
      f"{right['|F(G(x)) - x|']:.3f}): F learns to " + ("copy, not to undo G"
      if wrong["|F(G(x)) - G(x)|"] < right["|F(G(x)) - G(x)|"] else "do something else than copy"))
fig, axes = plt.subplots(1, 2, figsize=(11, 2.8))
for ax, (name, r) in zip(axes, trained.items()):
    viz.show_grid(r["pictures"], nrow=8, ax=ax, row_labels=["x", "G(x)", "F(G(x))"], title=name)
if PROFILE != "ci":
    assert wrong["|F(G(x)) - x|"] > right["|F(G(x)) - x|"] + 0.1, "the wrong loss should not rebuild x"

# %% [markdown]
# **5. "$D_X$ tells X from Y."** No: $D_X$ tells *real* x from *translated* $F(y)$; both look like
# X once F is good. A network that tells X from Y is our *domain classifier*, a measuring tool,
# not part of CycleGAN. In the step, $D_X$ only ever receives `real_x` and `pool_x(F(y))`:

# %%
seen = []
hook = model.D_X.register_forward_hook(lambda m, i, o: seen.append(i[0].detach().clone()))
bx, by = X[:2].to(device), Y[:2].to(device)
model.step((bx, by))
hook.remove()
print(f"D_X saw {len(seen)} batches: F(y) (G-update), real x, pooled F(y); real y never:",
      not any(torch.equal(s, by) for s in seen))
assert any(torch.equal(s, bx) for s in seen) and not any(torch.equal(s, by) for s in seen)

# %% [markdown]
# ## Bad input gets a clear error

# %%
import tempfile
from pathlib import Path

from torchvision.utils import save_image

from ganlib.data import registry

folder = Path(tempfile.mkdtemp()) / "my_horses2zebras"
(folder / "trainA").mkdir(parents=True)
save_image(X[:1] * 0.5 + 0.5, folder / "trainA" / "x0.png")
for what, call in [
    ("a missing domain folder", lambda: registry.load_unpaired(folder, "train")),
    ("an empty domain folder", lambda: ((folder / "trainB").mkdir(exist_ok=True), registry.load_unpaired(folder))),
    ("an empty domain tensor", lambda: UnpairedBatches(X, Y[:0], batch_size=4)),
    ("grayscale X, RGB Y with the identity loss",
     lambda: cyclegan_step(tiny.G, tiny.F, tiny.D_X, tiny.D_Y, tiny.opt_G, tiny.opt_D,
                           torch.zeros(1, 1, 16, 16), torch.zeros(1, 3, 16, 16), tiny.pool_x, tiny.pool_y)),
    ("a U-Net checkpoint", lambda: ResnetGenerator.from_official({"model.model.0.weight": torch.zeros(64, 3, 4, 4)})),
    ("images not a multiple of 4", lambda: lib(torch.zeros(1, 3, 30, 30))),
]:
    try:
        call()
        raise AssertionError(f"{what}: no error")
    except ValueError as e:
        print(f"{what}: {e}\n")

# %% [markdown]
# ## Summary
#
# - CycleGAN learns X -> Y and Y -> X from unpaired images: two least-squares GANs plus the cycle
#   loss $\lambda(\|F(G(x)) - x\|_1 + \|G(F(y)) - y\|_1)$, λ = 10, and optionally the identity loss
#   (0.5 λ). The D's and G, F minimise two different losses; the L1 terms train G and F only.
# - Its generator is a ResNet with instance norm (11,378,179 parameters for `resnet_9blocks`,
#   7,837,699 for `resnet_6blocks`, equal to the official code); its discriminators are 70x70
#   PatchGANs; the D's learn from a pool of 50 past fakes. The official 0.5 on D's loss does not
#   slow D under Adam; a lower learning rate would.
# - Realism needs a measure that can fail: "classified as Y" passes a grey image, a classifier
#   trained to tell real y from G(x) does not.
# - The GAN loss makes outputs *look* right, the cycle loss ties them to the input; the ablation
#   measures both on data with a hidden ground truth, next to the paper's table.
# - CycleGAN keeps geometry, and it can satisfy the cycle by hiding information in low-amplitude
#   signals (Chu et al. 2017).

# %%
print(f"profile {PROFILE}: {time.process_time() - NOTEBOOK_CPU_START:.0f} s of CPU time in this process "
      f"since the parameters cell (the ablation's worker processes: "
      f"{sum(r.cpu_seconds for r in results):.0f} s more)")

# %% [markdown]
# ## Exercises
#
# Each exercise has a check cell right after it. Run it: it passes when your answer is right.

# %%
import torch


# %% [markdown]
# **Exercise 1.** How old is the fake a discriminator sees? Take the image pool above with
# `pool_size` $N$, one new fake per step, long after the pool filled. Call the fake made at the
# current step age 0, one made at the previous step age 1, and so on. Derive the distribution of
# the age of the image the pool returns, and write `shown_age_probabilities(pool_size, max_age)`:
# a tensor of $P(\text{age} = k)$ for $k = 0, \dots,$ `max_age`. Hint: a given slot is overwritten
# at a step with probability $\tfrac12 \cdot \tfrac1N$.

# %%
def shown_age_probabilities(pool_size, max_age):
    ### BEGIN SOLUTION
    q = 0.5 / pool_size                        # a given slot is overwritten at a step
    k = torch.arange(max_age + 1, dtype=torch.float64)
    stored = q * (1 - q) ** (k - 1)            # the slot was last overwritten k steps ago
    return torch.where(k == 0, torch.tensor(0.5, dtype=torch.float64), 0.5 * stored)
    ### END SOLUTION


# %%
p2 = shown_age_probabilities(2, 4).double()   # N = 2: a slot is overwritten with probability 1/4
assert p2.shape == (5,), f"one probability per age 0..max_age: expected shape (5,), got {tuple(p2.shape)}"
assert abs(float(p2[0]) - 0.5) < 1e-9, "half the time the pool returns the new fake: P(age 0) = 1/2"
assert not torch.allclose(p2[1:], 0.5 * 0.5 * 0.5 ** torch.arange(4.0).double()), \
    "a slot is overwritten with probability 1/(2N), not 1/N: a swap happens only half the time"
assert not torch.allclose(p2[1:], 0.5 * 0.25 * 0.75 ** torch.arange(1, 5.0).double()), \
    "the youngest stored image has age 1 (stored at the previous step): P(age = k) uses (1 - q)^(k - 1)"
assert not torch.allclose(p2[1:], 0.5 * 0.75 ** torch.arange(4.0).double()), \
    "P(last overwritten k steps ago) = q (1 - q)^(k - 1): the factor q is missing"
expected = torch.tensor([0.5, 0.125, 0.09375, 0.0703125, 0.052734375], dtype=torch.float64)
assert torch.allclose(p2, expected), f"expected {expected.tolist()}, got {p2.tolist()}"
mean_age = float((torch.arange(2001.0).double() * shown_age_probabilities(50, 2000).double()).sum())
assert abs(mean_age - 50) < 0.1, f"the mean age of a shown fake is N steps (50 for the paper's pool), got {mean_age:.2f}"
### BEGIN HIDDEN TESTS
from ganlib.models.cyclegan import ImagePool
pool, ages = ImagePool(2, seed=0), []
for t in range(4000):
    shown = pool.query(torch.full((1, 1, 1, 1), float(t)))
    if t > 100:
        ages.append(t - int(shown.item()))
freq = torch.bincount(torch.tensor(ages), minlength=5)[:5].double() / len(ages)
assert torch.allclose(freq, expected, atol=0.03), (freq, expected)
### END HIDDEN TESTS
print("exercise 1 ok")


# %% [markdown]
# **Exercise 2.** Count the parameters of the official ResNet generator in closed form, from
# `in_ch`, `out_ch`, `ngf` and `n_blocks` (instance norm: no norm parameters, every conv has a bias).

# %%
def resnet_generator_parameters(in_ch=3, out_ch=3, ngf=64, n_blocks=9):
    ### BEGIN SOLUTION
    conv = lambda cin, cout, k: cin * cout * k * k + cout  # noqa: E731
    return (conv(in_ch, ngf, 7) + conv(ngf, 2 * ngf, 3) + conv(2 * ngf, 4 * ngf, 3)
            + n_blocks * 2 * conv(4 * ngf, 4 * ngf, 3)
            + conv(4 * ngf, 2 * ngf, 3) + conv(2 * ngf, ngf, 3) + conv(ngf, out_ch, 7))
    ### END SOLUTION


# %%
from ganlib.models.cyclegan import ResnetGenerator
from ganlib.student import forbid  # building the network is not counting it

with forbid(ResnetGenerator):
    got = resnet_generator_parameters()
    got6 = resnet_generator_parameters(n_blocks=6)
assert got != 11_372_928, "every convolution has a bias here (instance norm, use_bias=True)"
assert got != 6_067_459, "a residual block has two 3x3 convolutions"
assert got != 11_362_819, "the first and last convolutions are 7x7, not 3x3"
assert got != 11_388_675, "the official instance norm has no learnable parameters (affine=False)"
assert got == 11_378_179, f"resnet_9blocks has 11,378,179 parameters, got {got:,}"
assert got6 == 7_837_699, f"resnet_6blocks has 7,837,699, got {got6:,}"
### BEGIN HIDDEN TESTS
assert resnet_generator_parameters(1, 3, 8, 2) == 1 * 8 * 49 + 8 + 8 * 16 * 9 + 16 + 16 * 32 * 9 + 32 \
    + 2 * 2 * (32 * 32 * 9 + 32) + 32 * 16 * 9 + 16 + 16 * 8 * 9 + 8 + 8 * 3 * 49 + 3
### END HIDDEN TESTS
print("exercise 2 ok")


# %% [markdown]
# **Exercise 3.** What does a least-squares discriminator converge to? Write the LSGAN
# discriminator's objective with a real target $b$ and a fake target $a$ (CycleGAN uses $b = 1$,
# $a = 0$; Mao et al. also study $a = -1$, $b = 1$):
# $\min_D \tfrac12\,\mathbb{E}_{y \sim p_{data}}(D(y) - b)^2 + \tfrac12\,\mathbb{E}_{y \sim p_g}(D(y) - a)^2$.
# For a $D$ free to take any value at each $y$, minimise the integrand point by point and write
# `optimal_lsgan_d(p_data, p_g, a, b)`: the optimal output $D^*(y)$ from the two densities at $y$
# (tensors of the same shape, both $> 0$).

# %%
def optimal_lsgan_d(p_data, p_g, a=0.0, b=1.0):
    ### BEGIN SOLUTION
    return (b * p_data + a * p_g) / (p_data + p_g)
    ### END SOLUTION


# %%
p_data, p_g = torch.tensor([0.2, 0.5, 0.9]), torch.tensor([0.6, 0.5, 0.1])
got = optimal_lsgan_d(p_data, p_g, a=-1.0, b=1.0)
assert got.shape == p_data.shape, f"one optimal output per point: expected shape (3,), got {tuple(got.shape)}"
assert not torch.allclose(got, p_data / (p_data + p_g)), \
    "that is the BCE discriminator's optimum; with targets a and b the optimum depends on them"
assert not torch.allclose(got, (p_g - p_data) / (p_data + p_g)), \
    "targets swapped: real points are pulled towards b, fakes towards a"
assert not torch.allclose(got, p_data - p_g), \
    "setting the derivative to zero gives a weighted average of a and b: divide by p_data + p_g"
assert not torch.allclose(got, 2 * p_data / (p_data + p_g)), \
    "with a != 0 the fake target a adds a * p_g / (p_data + p_g)"
assert torch.allclose(got, torch.tensor([-0.5, 0.0, 0.8])), f"expected [-0.5, 0.0, 0.8], got {got.tolist()}"
assert torch.allclose(optimal_lsgan_d(p_data, p_g), torch.tensor([0.25, 0.5, 0.9])), \
    "with CycleGAN's targets (a = 0, b = 1): D* = p_data / (p_data + p_g)"
### BEGIN HIDDEN TESTS
gen = torch.Generator().manual_seed(0)
pd, pg = torch.rand(50, generator=gen) + 0.01, torch.rand(50, generator=gen) + 0.01
best = optimal_lsgan_d(pd, pg, a=-0.3, b=2.0)
objective = lambda d: pd * (d - 2.0) ** 2 + pg * (d + 0.3) ** 2  # noqa: E731
assert (objective(best) <= objective(best + 1e-3)).all() and (objective(best) <= objective(best - 1e-3)).all()
### END HIDDEN TESTS
print("exercise 3 ok")

# %% [markdown]
# ## Further reading
#
# - J.-Y. Zhu, T. Park, P. Isola, A. A. Efros. *Unpaired Image-to-Image Translation using
#   Cycle-Consistent Adversarial Networks.* ICCV 2017. Code: github.com/junyanz/pytorch-CycleGAN-and-pix2pix.
# - P. Isola, J.-Y. Zhu, T. Zhou, A. A. Efros. *Image-to-Image Translation with Conditional
#   Adversarial Networks.* CVPR 2017 (Pix2Pix, the PatchGAN).
# - J. Johnson, A. Alahi, L. Fei-Fei. *Perceptual Losses for Real-Time Style Transfer and
#   Super-Resolution.* ECCV 2016 (the ResNet generator).
# - X. Mao, Q. Li, H. Xie, R. Y. K. Lau, Z. Wang, S. P. Smolley. *Least Squares Generative
#   Adversarial Networks.* ICCV 2017.
# - A. Shrivastava, T. Pfister, O. Tuzel, J. Susskind, W. Wang, R. Webb. *Learning from Simulated
#   and Unsupervised Images through Adversarial Training.* CVPR 2017 (the history of fakes).
# - D. Ulyanov, A. Vedaldi, V. Lempitsky. *Instance Normalization: The Missing Ingredient for Fast
#   Stylization.* arXiv:1607.08022, 2016.
# - Y. Taigman, A. Polyak, L. Wolf. *Unsupervised Cross-Domain Image Generation.* ICLR 2017 (the
#   identity loss).
# - T. Kim, M. Cha, H. Kim, J. K. Lee, J. Kim. *Learning to Discover Cross-Domain Relations with
#   Generative Adversarial Networks.* ICML 2017 (DiscoGAN); Z. Yi, H. Zhang, P. Tan, M. Gong.
#   *DualGAN: Unsupervised Dual Learning for Image-to-Image Translation.* ICCV 2017.
