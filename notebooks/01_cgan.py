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
# # 1. Conditional GAN: asking for a class, and measuring whether you got it
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/ganbook/ganbook/blob/main/notebooks/01_cgan.ipynb)
#
# **What you will build.** A GAN you can ask for a digit: the conditional GAN of Mirza &
# Osindero (2014), where both networks see the label $y$. First in the paper's form (MLPs,
# the label joined to the inputs), then with convolutions and the *projection discriminator*
# of Miyato & Koyama (2018), the way later class-conditional GANs (SNGAN, BigGAN) condition
# $D$. We also build the book's yardstick for conditional generators, reused in later
# chapters: a small classifier trained on real digits that measures **conditional accuracy**
# (did $G$ draw the class we asked for?) and **intra-class diversity** (does it draw many
# different 7s, or one?). The result: a grid with one row per class.
#
# **Learning objectives.** After this chapter you can
# - write the conditional GAN objective and condition $G$ and $D$ on a label (one-hot or
#   learned embedding; joined to the input, or by projection);
# - explain why the losses take logits (`BCEWithLogits`) and not a Sigmoid followed by `BCELoss`;
# - measure a conditional generator with a classifier trained on real data, and tell a
#   generator that ignores its noise from one that does not;
# - spot the classic bug of a discriminator that never sees the label.
#
# **Prerequisites.** Chapter 0 (the GAN game, the non-saturating loss, `ganlib.train.fit`).

# %%
import sys
if "google.colab" in sys.modules:  # on Colab only: install ganlib from the book's repository
    import subprocess
    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "git+https://github.com/ganbook/ganbook"], check=True)

# %%
import time
from dataclasses import dataclass

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import nn

import ganlib
from ganlib import viz
from ganlib.classifier import conditional_accuracy, intra_class_diversity, pretrained_classifier
from ganlib.data import TensorBatches, load_digits
from ganlib.losses import d_loss_bce, g_loss_nonsaturating
from ganlib.models import cgan
from ganlib.train import fit

device = ganlib.setup(seed=0)


# %% tags=["parameters"]
@dataclass
class CGANConfig:
    dataset: str = "digits"   # or "mnist", "fashion_mnist", "cifar10" (downloaded on first use)
    image_size: int = 16      # digits: 8, 16 or 32; mnist/cifar10: 32
    z_dim: int = 64
    hidden: int = 256         # width of the MLP G and D
    mlp_steps: int = 6000     # training steps of the MLP cGAN
    proj_steps: int = 3000    # training steps of the conv G + projection D
    ndf: int = 32             # width of the conv G and D
    pitfall_steps: int = 3000 # the "D never sees the label" demonstration
    batch_size: int = 64
    lr: float = 2e-4          # Adam(2e-4, betas=(0.5, 0.999)), as in DCGAN
    n_eval: int = 100         # generated samples per class for the metrics


PROFILE = ganlib.get_profile()  # "ci", "cpu" or "gpu": GANLIB_PROFILE, else chosen automatically
cfg = ganlib.choose(PROFILE,
                    ci=CGANConfig(mlp_steps=1500, proj_steps=300, ndf=16, pitfall_steps=600, n_eval=50),
                    cpu=CGANConfig(),
                    gpu=CGANConfig(dataset="mnist", image_size=32, hidden=512, ndf=64,
                                   mlp_steps=20000, proj_steps=20000, pitfall_steps=5000))
print(PROFILE, cfg)

# %% [markdown]
# ## The idea
#
# A GAN samples from $p_{data}(x)$; we want $p_{data}(x \mid y)$: "a 7, please". Mirza &
# Osindero (2014) feed the label $y$ to *both* players. The objective is the GAN's, with every
# term conditioned on $y$:
#
# $$\min_G \max_D\; \mathbb{E}_{(x, y) \sim p_{data}}[\log D(x, y)]
#   + \mathbb{E}_{z \sim \mathcal{N}(0, I),\, y \sim p(y)}[\log(1 - D(G(z, y), y))]$$
#
# In code: `G(z, y)` (`z`: `(N, z_dim)`, `y`: `(N,)` long labels) and `D(x, y)` returning
# logits `(N,)`; $D$ is $\sigma$ of those logits. $D$ must now reject *real-looking images of
# the wrong class*, so $G$ has to follow $y$. The losses are the ones of chapter 0
# (`cgan_d_loss` = `d_loss_bce`, `cgan_g_loss` = `g_loss_nonsaturating`): conditioning changes
# what the networks see, not the loss.
#
# ```
#  z ─┐                                 x (real or fake) ─┐
#     ├─ concat ─ MLP ─ tanh ─ x̂           onehot(y) ─────┴─ concat ─ MLP ─ logit
#  y ─┘ (one-hot or embedding)         or:  x ─ convs ─ φ(x) ─┬─ w·φ(x) ───────┐
#                                                   y ─ embed ─┴─ ⟨embed(y), φ(x)⟩ ─ + ─ logit   (projection)
# ```

# %% [markdown]
# ## Data
#
# The default data set is the 1,797 real 8×8 digits that scikit-learn ships, upsampled to
# `image_size`; the `gpu` profile (or `dataset="mnist"`) switches to MNIST with one line.

# %%
if cfg.dataset == "digits":
    images, labels = load_digits(cfg.image_size, "train")
else:
    from ganlib.data import registry
    images, labels = registry.load_labelled(cfg.dataset, train=True, size=cfg.image_size)
NUM_CLASSES, CHANNELS = int(labels.max()) + 1, images.shape[1]
print(f"{cfg.dataset}: {tuple(images.shape)} images in [{images.min():.0f}, {images.max():.0f}], "
      f"{NUM_CLASSES} classes")
viz.show_grid(torch.cat([images[labels == k][:10] for k in range(NUM_CLASSES)]), nrow=10,
              row_labels=[str(k) for k in range(NUM_CLASSES)], title="real training images, one row per class")
plt.show()

# %% [markdown]
# ## The judge: a classifier trained on real data
#
# Before we build a conditional generator we build the instrument that grades it: a small CNN
# (`ganlib.classifier.DigitClassifier`) trained on the *training* split and checked on held-out
# real images. Its accuracy is the ceiling of what conditional accuracy can show. It is cached,
# so later chapters get it in a fraction of a second.

# %%
judge = pretrained_classifier(cfg.dataset, image_size=cfg.image_size, device=device)
print(f"judge's held-out accuracy on real {cfg.dataset}: {judge.test_accuracy:.1%}")
if cfg.dataset == "digits":
    assert judge.test_accuracy >= 0.95

# %% [markdown]
# **Conditional accuracy** is the fraction of generated samples that the judge assigns to the
# label they were made for; a generator that ignores $y$ scores about $1/K = 10\%$.
# **Intra-class diversity** is the mean pairwise L2 distance between samples of one class in
# the judge's 128-d feature space (`judge.features`), averaged over classes. We compare it
# with real images of the same classes: a generator that draws one image per class scores 0.

# %%
if cfg.dataset == "digits":
    x_test, y_test = load_digits(cfg.image_size, "test")
else:
    x_test, y_test = registry.load_labelled(cfg.dataset, train=False, size=cfg.image_size)
real_diversity = intra_class_diversity(judge, x_test, y_test)
one_per_class = torch.cat([x_test[y_test == k][:1].expand(20, -1, -1, -1) for k in range(NUM_CLASSES)])
collapsed_labels = torch.arange(NUM_CLASSES).repeat_interleave(20)
print(f"real test images: conditional accuracy {conditional_accuracy(judge, x_test, y_test):.1%}, "
      f"diversity {real_diversity:.2f}")
print(f"one image per class, repeated: accuracy "
      f"{conditional_accuracy(judge, one_per_class, collapsed_labels):.0%}, "
      f"diversity {intra_class_diversity(judge, one_per_class, collapsed_labels):.2f}")
assert intra_class_diversity(judge, one_per_class, collapsed_labels) < 1e-4 < real_diversity

# %% [markdown]
# ## Build it: conditioning the generator
#
# Mirza & Osindero join the label to the noise: $h = [z; \mathrm{onehot}(y)]$, then an MLP
# ending in $\tanh$ (our images live in $[-1, 1]$). We write it inline, check it, then check
# it against `ganlib.models.cgan.MLPConditionalGenerator`.

# %%
class InlineConditionalG(nn.Module):
    def __init__(self, z_dim, num_classes, image_size, channels, hidden):
        super().__init__()
        self.z_dim, self.num_classes, self.shape = z_dim, num_classes, (channels, image_size, image_size)
        self.net = nn.Sequential(
            nn.Linear(z_dim + num_classes, hidden), nn.BatchNorm1d(hidden), nn.ReLU(),
            nn.Linear(hidden, hidden), nn.BatchNorm1d(hidden), nn.ReLU(),
            nn.Linear(hidden, channels * image_size * image_size), nn.Tanh())

    def forward(self, z, y):
        h = torch.cat([z, F.one_hot(y, self.num_classes).float()], dim=1)  # the label joins the noise
        return self.net(h).view(len(z), *self.shape)


g_inline = InlineConditionalG(cfg.z_dim, NUM_CLASSES, cfg.image_size, CHANNELS, cfg.hidden).eval()
z, y = torch.randn(4, cfg.z_dim), torch.tensor([0, 1, 2, 3])
out = g_inline(z, y)
assert out.shape == (4, CHANNELS, cfg.image_size, cfg.image_size) and out.abs().max() <= 1
assert not torch.allclose(g_inline(z, torch.tensor([5, 5, 5, 5])), out), "changing y must change the image"

# %% [markdown]
# This is `ganlib.models.cgan.MLPConditionalGenerator` (which also offers a learned embedding,
# `label_mode="embedding"`): same weights, same output.

# %%
g_lib = cgan.MLPConditionalGenerator(cfg.z_dim, NUM_CLASSES, cfg.image_size, CHANNELS, cfg.hidden).eval()
g_lib.load_state_dict(g_inline.state_dict())
assert torch.allclose(g_lib(z, y), g_inline(z, y), atol=1e-6)
print("inline G == ganlib G; parameters:", ganlib.count_parameters(g_lib))

# %% [markdown]
# ## Build it: conditioning the discriminator
#
# The paper's $D$ sees $[\mathrm{flatten}(x); \mathrm{onehot}(y)]$. It returns a **logit**,
# not a probability: the Sigmoid lives inside the loss (see the pitfalls).

# %%
class InlineConditionalD(nn.Module):
    def __init__(self, num_classes, image_size, channels, hidden):
        super().__init__()
        self.num_classes = num_classes
        self.net = nn.Sequential(
            nn.Linear(channels * image_size * image_size + num_classes, hidden), nn.LeakyReLU(0.2),
            nn.Linear(hidden, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, 1))

    def forward(self, x, y):
        return self.net(torch.cat([x.flatten(1), F.one_hot(y, self.num_classes).float()], 1)).squeeze(1)


d_inline = InlineConditionalD(NUM_CLASSES, cfg.image_size, CHANNELS, cfg.hidden)
x = images[:4]
assert d_inline(x, y).shape == (4,)
assert not torch.allclose(d_inline(x, y), d_inline(x, (y + 1) % NUM_CLASSES)), "D must depend on y"
d_lib = cgan.MLPConditionalDiscriminator(NUM_CLASSES, cfg.image_size, CHANNELS, cfg.hidden)
d_lib.load_state_dict(d_inline.state_dict())
assert torch.allclose(d_lib(x, y), d_inline(x, y), atol=1e-6)
print("inline D == ganlib D; parameters:", ganlib.count_parameters(d_lib))

# %% [markdown]
# ## The training step
#
# One step, in the order of the algorithm: draw labels $y \sim p(y)$ (uniform) and noise,
# update $D$ on real pairs $(x, y_{real})$ and fake pairs $(G(z, y), y)$, then update $G$ on
# fresh noise and labels. The fake pair carries *the label the fake was made for*.

# %%
def inline_cgan_step(G, D, opt_g, opt_d, real, real_labels):
    n = len(real)
    y_fake = torch.randint(0, NUM_CLASSES, (n,), device=real.device)
    fake = G(torch.randn(n, G.z_dim, device=real.device), y_fake)
    d_loss = d_loss_bce(D(real, real_labels), D(fake.detach(), y_fake))
    opt_d.zero_grad(set_to_none=True)
    d_loss.backward()
    opt_d.step()
    y_fake = torch.randint(0, NUM_CLASSES, (n,), device=real.device)
    g_loss = g_loss_nonsaturating(D(G(torch.randn(n, G.z_dim, device=real.device), y_fake), y_fake))
    opt_g.zero_grad(set_to_none=True)
    g_loss.backward()
    opt_g.step()
    return {"d_loss": d_loss.detach(), "g_loss": g_loss.detach()}


# The library's cgan_step is the same function: from the same state it reaches the same weights.
def _pair(seed):
    torch.manual_seed(seed)
    G, D = cgan.MLPConditionalGenerator(8, NUM_CLASSES, cfg.image_size, CHANNELS, 16), \
        cgan.MLPConditionalDiscriminator(NUM_CLASSES, cfg.image_size, CHANNELS, 16)
    return G, D, torch.optim.Adam(G.parameters(), 1e-3), torch.optim.Adam(D.parameters(), 1e-3)


(G1, D1, og1, od1), (G2, D2, og2, od2) = _pair(0), _pair(0)
torch.manual_seed(1)
a = inline_cgan_step(G1, D1, og1, od1, images[:8], labels[:8])
torch.manual_seed(1)
b = cgan.cgan_step(G2, D2, og2, od2, images[:8], labels[:8])
assert all(torch.equal(p, q) for p, q in zip(G1.parameters(), G2.parameters()))
assert torch.equal(a["d_loss"], b["d_loss"]) and torch.equal(a["g_loss"], b["g_loss"])
print("inline step == ganlib.models.cgan.cgan_step:", {k: round(float(v), 4) for k, v in b.items()})

# %% [markdown]
# ## Train the paper's cGAN (MLPs, label joined to the inputs)

# %%
def make_optimizers(G, D):
    return (torch.optim.Adam(G.parameters(), cfg.lr, betas=(0.5, 0.999)),
            torch.optim.Adam(D.parameters(), cfg.lr, betas=(0.5, 0.999)))


def evaluate(G, seed=0):
    gen, gen_labels = cgan.generate_per_class(G, cfg.n_eval, seed=seed)
    return {"conditional accuracy": conditional_accuracy(judge, gen, gen_labels),
            "intra-class diversity": intra_class_diversity(judge, gen, gen_labels)}


ganlib.seed_everything(0)
G = cgan.MLPConditionalGenerator(cfg.z_dim, NUM_CLASSES, cfg.image_size, CHANNELS, cfg.hidden).to(device)
D = cgan.MLPConditionalDiscriminator(NUM_CLASSES, cfg.image_size, CHANNELS, cfg.hidden).to(device)
untrained = evaluate(G)
opt_g, opt_d = make_optimizers(G, D)
batches = TensorBatches(images, labels, batch_size=cfg.batch_size, seed=0, device=device)
fixed_z = torch.randn(NUM_CLASSES * 8, cfg.z_dim, device=device)
fixed_y = torch.arange(NUM_CLASSES, device=device).repeat_interleave(8)
start = time.process_time()
history = fit(lambda batch: cgan.cgan_step(G, D, opt_g, opt_d, *batch), batches, cfg.mlp_steps,
              modules={"G": G, "D": D}, optimizers={"G": opt_g, "D": opt_d}, config=cfg,
              snapshot_fn=lambda: G(fixed_z, fixed_y), snapshot_every=max(cfg.mlp_steps // 3, 1),
              desc="MLP cGAN")
mlp_cpu_seconds = time.process_time() - start
viz.plot_losses(history)
plt.show()
mlp_scores = evaluate(G)
print(f"{cfg.mlp_steps} steps in {history.seconds:.0f} s wall ({mlp_cpu_seconds:.0f} s CPU):", mlp_scores)

# %% [markdown]
# ## Look: one row per class, interpolation in z, the same z across classes

# %%
G.eval()
with torch.no_grad():
    viz.show_grid(G(fixed_z, fixed_y), nrow=8, row_labels=[str(k) for k in range(NUM_CLASSES)],
                  title="MLP cGAN: one row per class")
    plt.show()
    # interpolation in z with the class fixed: a smooth walk through one class's styles
    ends = torch.randn(2, cfg.z_dim, device=device)
    t = torch.linspace(0, 1, 8, device=device)[:, None]
    walk = torch.cat([G((1 - t) * ends[0] + t * ends[1], torch.full((8,), k, device=device))
                      for k in range(min(NUM_CLASSES, 4))])
    viz.show_grid(walk, nrow=8, row_labels=[str(k) for k in range(min(NUM_CLASSES, 4))],
                  title="z interpolated, class fixed (per row)")
    plt.show()
    # the same z across classes: z carries the style, y the class
    styles = torch.randn(6, cfg.z_dim, device=device)
    same_z = torch.cat([G(styles, torch.full((6,), k, device=device)) for k in range(NUM_CLASSES)])
    viz.show_grid(same_z.view(NUM_CLASSES, 6, *same_z.shape[1:]).transpose(0, 1).reshape(-1, *same_z.shape[1:]),
                  nrow=NUM_CLASSES, row_labels=[f"z{i}" for i in range(6)],
                  title="each row: one z, classes 0..9 (style held, class changed)")
    plt.show()
G.train()

# %% [markdown]
# ## A better way to condition D: projection (Miyato & Koyama 2018)
#
# Joining a one-hot vector to the input lets $D$ use the label in any way, which in practice
# is a weak signal. Miyato & Koyama show that, for the optimal $D$ under a log-linear model of
# $p(y \mid x)$, the label enters as an **inner product** with $D$'s features $\phi(x)$:
#
# $$D(x, y) = \underbrace{w^\top \phi(x) + b}_{\psi(\phi(x))} + \mathrm{embed}(y)^\top \phi(x)$$
#
# `ProjectionHead(num_features, num_classes)` computes exactly this, returning shape `(N,)`.
# We write the projection term inline and compare.

# %%
head = cgan.ProjectionHead(num_features=8, num_classes=NUM_CLASSES)
h, y = torch.randn(5, 8), torch.tensor([0, 3, 3, 7, 9])
inline = head.linear(h).squeeze(1) + (head.embed.weight[y] * h).sum(dim=1)
assert torch.allclose(head(h, y), inline, atol=1e-6)
# the class term is linear in the embedding row: zero it, and D no longer depends on y
with torch.no_grad():
    head.embed.weight.zero_()
assert torch.allclose(head(h, y), head(h, torch.zeros_like(y)))
print("ProjectionHead checks pass")

# %% [markdown]
# A convolutional pair: `ConvConditionalGenerator` (DCGAN-style: $[z; e(y)]$ → 4×4 map →
# transposed convolutions with batch norm) with a one-hot label, and `ProjectionDiscriminator`
# (strided convolutions with spectral normalisation, global sum pooling, projection head), as
# in the paper. (`ConvConditionalDiscriminator` is the "label joined to the input" form for
# convolutions: one-hot maps as extra channels.)

# %%
ganlib.seed_everything(0)
G_proj = cgan.ConvConditionalGenerator(cfg.z_dim, NUM_CLASSES, cfg.image_size, CHANNELS, ngf=cfg.ndf,
                                       label_mode="onehot").to(device)
D_proj = cgan.ProjectionDiscriminator(NUM_CLASSES, cfg.image_size, CHANNELS, ndf=cfg.ndf,
                                      spectral_norm=True).to(device)
print(f"conv G {ganlib.count_parameters(G_proj):,} parameters, projection D {ganlib.count_parameters(D_proj):,}")
opt_gp, opt_dp = make_optimizers(G_proj, D_proj)
start = time.process_time()
history_proj = fit(lambda batch: cgan.cgan_step(G_proj, D_proj, opt_gp, opt_dp, *batch),
                   TensorBatches(images, labels, batch_size=cfg.batch_size, seed=1, device=device),
                   cfg.proj_steps, modules={"G": G_proj, "D": D_proj}, desc="conv G + projection D")
proj_cpu_seconds = time.process_time() - start
proj_scores = evaluate(G_proj)
print(f"{cfg.proj_steps} steps in {history_proj.seconds:.0f} s wall ({proj_cpu_seconds:.0f} s CPU):", proj_scores)
with torch.no_grad():
    viz.show_grid(G_proj.eval()(fixed_z, fixed_y), nrow=8, row_labels=[str(k) for k in range(NUM_CLASSES)],
                  title="conv G + projection D")
    plt.show()
G_proj.train();

# %% [markdown]
# (In the `ci` profile this pair trains only a few hundred steps and still sits near chance: a
# one-hot label is a small input next to $z$, and the conv generator needs about 1,500 steps to
# start following it. The `cpu` profile trains it properly.)
#
# ## Measure
#
# Conditional accuracy and intra-class diversity of every model, against the untrained
# generator (chance) and real held-out images (the ceiling).

# %%
rows = [("untrained G (baseline)", untrained),
        (f"MLP cGAN, {cfg.mlp_steps} steps", mlp_scores),
        (f"conv G + projection D, {cfg.proj_steps} steps", proj_scores),
        ("real test images", {"conditional accuracy": judge.test_accuracy, "intra-class diversity": real_diversity})]
print(f"{'model':<36}{'cond. accuracy':>16}{'diversity':>12}")
for name, s in rows:
    print(f"{name:<36}{s['conditional accuracy']:>16.1%}{s['intra-class diversity']:>12.2f}")
assert mlp_scores["conditional accuracy"] > untrained["conditional accuracy"] + 0.3
if PROFILE == "cpu" and cfg.dataset == "digits":
    assert mlp_scores["conditional accuracy"] >= 0.9

# %% [markdown]
# On the `cpu` profile (digits, 16 px, one CPU thread) we measured: MLP cGAN, 6,000 steps in
# 43 s of CPU time: 99.2 % conditional accuracy, diversity 8.26 (real images: 98.1 %, 10.35);
# conv G + projection D, 3,000 steps in 74 s: 97.7 %, 8.81. A grid can look fine while the
# generator ignores $z$: always read the
# diversity column too. (In a first attempt, a conv generator with a learned 64-d label
# embedding as large as $z$ reached 99 % accuracy with diversity 1.9: one image per class.)

# %% [markdown]
# ## Pitfalls
#
# **1. A Sigmoid followed by `BCELoss`.** Mathematically the same loss, numerically not: for a
# confidently rejected fake, $\sigma(\ell)$ underflows to 0 in float32, `BCELoss` clamps
# $\log 0$ to $-100$, and the gradient is exactly zero: $G$ stops learning. The logits form
# (`binary_cross_entropy_with_logits`) uses $\log\sigma(\ell) = -\mathrm{softplus}(-\ell)$.

# %%
for name, loss_fn in [("Sigmoid + BCELoss", lambda l: nn.BCELoss()(torch.sigmoid(l), torch.ones_like(l))),
                      ("BCEWithLogits    ", lambda l: F.binary_cross_entropy_with_logits(l, torch.ones_like(l)))]:
    logit = torch.tensor([-200.0], requires_grad=True)
    loss = loss_fn(logit)
    loss.backward()
    print(f"{name}: G loss {loss.item():7.2f}, gradient {logit.grad.item():+.3f}")
assert logit.grad.item() == -1.0

# %% [markdown]
# **2. Forgetting to condition D.** If $D$ never sees the label (here: we always pass label 0),
# nothing rewards $G$ for following $y$. Images still look like digits, but of random classes:
# conditional accuracy falls to chance.

# %%
class IgnoresLabel(nn.Module):
    """The bug: D is called with y, but a constant label reaches the network."""

    def __init__(self, D):
        super().__init__()
        self.D, self.num_classes = D, D.num_classes

    def forward(self, x, y):
        return self.D(x, torch.zeros_like(y))


ganlib.seed_everything(0)
G_bug = cgan.MLPConditionalGenerator(cfg.z_dim, NUM_CLASSES, cfg.image_size, CHANNELS, cfg.hidden).to(device)
D_bug = IgnoresLabel(cgan.MLPConditionalDiscriminator(NUM_CLASSES, cfg.image_size, CHANNELS, cfg.hidden)).to(device)
opt_gb, opt_db = make_optimizers(G_bug, D_bug)
fit(lambda batch: cgan.cgan_step(G_bug, D_bug, opt_gb, opt_db, *batch),
    TensorBatches(images, labels, batch_size=cfg.batch_size, seed=0, device=device), cfg.pitfall_steps,
    modules={"G": G_bug, "D": D_bug}, desc="D without the label")
bug_scores = evaluate(G_bug)
print("D never sees the label:", bug_scores)
assert bug_scores["conditional accuracy"] < 0.3

# %% [markdown]
# ## Summary
#
# - A conditional GAN feeds the label to both players; the loss is unchanged.
# - $G$: join $y$ (one-hot or embedding) to $z$. $D$: join $y$ to the input (the paper), or
#   better, the projection $\mathrm{embed}(y)^\top\phi(x)$ added to the output.
# - Measure with a classifier trained on real data: conditional accuracy (follows $y$?) and
#   intra-class diversity in its feature space (uses $z$?), against chance and real data.
# - Losses take logits; and a $D$ that never sees $y$ leaves $G$ at chance.

# %% [markdown]
# ## Exercises
#
# These cells run on their own after the setup and parameters cells.

# %%
import torch
import torch.nn.functional as F


# %% [markdown]
# **Exercise 1: the projection term.** Write `projection_logits(h, y, w, b, V)` returning
# $w^\top h_i + b + V_{y_i}^\top h_i$ for each sample, shape `(N,)`. `h`: `(N, F)`,
# `y`: `(N,)` long, `w`: `(F,)`, `b`: a scalar tensor, `V`: `(K, F)`.

# %%
def projection_logits(h, y, w, b, V):
    ### BEGIN SOLUTION
    return h @ w + b + (V[y] * h).sum(dim=1)
    ### END SOLUTION


# %%
h = torch.tensor([[1.0, 2.0], [3.0, -1.0]])
out = projection_logits(h, torch.tensor([1, 0]), torch.tensor([1.0, 1.0]), torch.tensor(0.5),
                        torch.tensor([[2.0, 0.0], [0.0, -1.0]]))
assert out.shape == (2,), f"one logit per sample: expected shape (2,), got {tuple(out.shape)}"
assert not torch.allclose(out, torch.tensor([1.0, 8.0])), "you left out the bias b"
assert not torch.allclose(out, torch.tensor([2.5, 5.5])), "V_y^T h is an inner product: sum over features, not mean"
assert not torch.allclose(out, torch.tensor([3.5, 9.5])), \
    "project h_i on the row of V of its own label y_i, not on every class"
assert not torch.allclose(out, torch.tensor([5.5, 3.5])), "index V by the labels: V[y], not V row by row"
assert torch.allclose(out, torch.tensor([1.5, 8.5])), f"expected [1.5, 8.5] (psi + class term), got {out}"
### BEGIN HIDDEN TESTS
from ganlib.models.cgan import ProjectionHead
ph = ProjectionHead(3, 4)
hh, yy = torch.randn(6, 3), torch.tensor([0, 1, 2, 3, 3, 1])
ref = ph(hh, yy)
got = projection_logits(hh, yy, ph.linear.weight[0], ph.linear.bias[0], ph.embed.weight)
assert torch.allclose(got, ref, atol=1e-6)
### END HIDDEN TESTS
print("exercise 1 ok")


# %% [markdown]
# **Exercise 2: a one-hot label is a per-class bias.** The MLP discriminator above feeds
# `[x.flatten(1), one_hot(y)]` to a linear layer with weight `W` `(H, P + K)` and bias `b` `(H,)`
# (P pixels, K classes). Show that the one-hot half only *selects a column* of `W`: write
# `first_layer_without_one_hot(W, b, x, y)` giving the same `(N, H)` output without building the
# one-hot vector (so the label acts as a learned bias per class, an embedding of size H).

# %%
def first_layer_without_one_hot(W, b, x, y):
    ### BEGIN SOLUTION
    pixels = x.flatten(1)
    P = pixels.shape[1]
    return pixels @ W[:, :P].T + W[:, P + y].T + b
    ### END SOLUTION


# %%
from ganlib.student import forbid  # building the one-hot vector is what the exercise avoids

W = torch.arange(14.0).view(2, 7)          # H = 2, P = 4 pixels, K = 3 classes
b = torch.tensor([0.5, -1.0])
x = torch.tensor([[1.0, 0, 2, -1], [0, 3, -2, 1]]).view(2, 1, 2, 2)
with forbid(F.one_hot):
    out = first_layer_without_one_hot(W, b, x, torch.tensor([2, 0]))
assert out.shape == (2, 2), f"one row of H = 2 features per sample: expected (2, 2), got {tuple(out.shape)}"
assert not torch.allclose(out, torch.tensor([[3.5, 23.0], [2.5, 22.0]])), \
    "the class columns come after the P pixel columns: W[:, P + y], not W[:, y]"
assert not torch.allclose(out, torch.tensor([[7.0, 28.0], [6.0, 27.0]])), "you left out the bias b"
assert not torch.allclose(out, torch.tensor([[16.5, 50.0], [17.5, 51.0]])), \
    "one-hot selects one class column per sample, not the sum of all of them"
assert not torch.allclose(out, torch.tensor([[7.5, 18.0], [15.5, 26.0]])), \
    "W[:, P + y] is (H, N): transpose it to add one column per sample"
assert torch.allclose(out, torch.tensor([[7.5, 27.0], [6.5, 26.0]])), f"expected [[7.5, 27], [6.5, 26]], got {out}"
### BEGIN HIDDEN TESTS
layer = torch.nn.Linear(3 * 4 * 4 + 10, 5)
xx, yy = torch.randn(6, 3, 4, 4), torch.tensor([0, 9, 3, 3, 1, 7])
ref = layer(torch.cat([xx.flatten(1), F.one_hot(yy, 10).float()], 1))
assert torch.allclose(first_layer_without_one_hot(layer.weight, layer.bias, xx, yy), ref, atol=1e-5)
### END HIDDEN TESTS
print("exercise 2 ok")

# %% [markdown]
# **Exercise 3 (open).** Train the MLP cGAN with `label_mode="embedding"` in $G$ and compare
# conditional accuracy and diversity with the one-hot version. Then give the convolutional
# generator a 64-d embedding (`ConvConditionalGenerator(label_mode="embedding")`) and watch the
# diversity column: what happens when the label's vector is as large as $z$?
#
# ## Further reading
#
# - M. Mirza and S. Osindero. *Conditional Generative Adversarial Nets.* arXiv:1411.1784, 2014.
# - T. Miyato and M. Koyama. *cGANs with Projection Discriminator.* ICLR 2018, arXiv:1802.05637.
# - T. Miyato, T. Kataoka, M. Koyama and Y. Yoshida. *Spectral Normalization for Generative
#   Adversarial Networks.* ICLR 2018, arXiv:1802.05957.
# - A. Radford, L. Metz and S. Chintala. *Unsupervised Representation Learning with Deep
#   Convolutional Generative Adversarial Networks.* ICLR 2016, arXiv:1511.06434.
# - I. Goodfellow et al. *Generative Adversarial Nets.* NeurIPS 2014, arXiv:1406.2661.
# - S. Ravuri and O. Vinyals. *Classification Accuracy Score for Conditional Generative
#   Models.* NeurIPS 2019, arXiv:1905.10887 (the reverse test: train a classifier on samples).
