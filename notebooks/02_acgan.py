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
# # 2. AC-GAN: a discriminator that also classifies
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/ganbook/ganbook/blob/main/notebooks/02_acgan.ipynb)
#
# **What you will build.** The auxiliary classifier GAN (Odena, Olah & Shlens 2017). The
# generator is the conditional $G(z, c)$ of chapter 1, but the discriminator no longer sees
# the label: it has *two heads*, one saying real or fake, one saying which class. $G$ is
# rewarded for samples that the class head assigns to the class it was asked for. We train
# it next to the chapter 1 cGAN with the same generator, data and budget, and compare them
# with the chapter 1 judge: conditional accuracy, intra-class diversity, and how *confidently*
# the judge classifies the samples (AC-GAN's known bias towards easy samples).
#
# **Learning objectives.** After this chapter you can
# - write the two AC-GAN terms $L_S$ and $L_C$ and say who maximises what
#   ($D$: $L_S + L_C$; $G$: $L_C - L_S$);
# - apply the class loss to real *and* generated samples, each with the right labels;
# - compare two conditional GANs on the same budget with numbers, and explain the critique of
#   AC-GAN (it favours easily classified samples and can lose diversity within a class).
#
# **Prerequisites.** Chapter 1 (conditional GAN, the judge classifier and its metrics).

# %%
import sys
if "google.colab" in sys.modules:  # on Colab only: install ganlib from the book's repository
    import subprocess
    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "git+https://github.com/ganbook/ganbook"], check=True)

# %%
import math
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
from ganlib.models import acgan, cgan
from ganlib.train import fit

device = ganlib.setup(seed=0)


# %% tags=["parameters"]
@dataclass
class ACGANConfig:
    dataset: str = "digits"    # or "mnist", "fashion_mnist", "cifar10" (downloaded on first use)
    image_size: int = 16
    z_dim: int = 64
    hidden: int = 256          # width of the MLP G and D (the same for cGAN and AC-GAN)
    steps: int = 6000          # the same budget for both models
    pitfall_steps: int = 3000
    batch_size: int = 64
    lr: float = 2e-4           # Adam(2e-4, betas=(0.5, 0.999))
    n_eval: int = 100          # generated samples per class for the metrics


PROFILE = ganlib.get_profile()  # "ci", "cpu" or "gpu": GANLIB_PROFILE, else chosen automatically
cfg = ganlib.choose(PROFILE,
                    ci=ACGANConfig(steps=1500, pitfall_steps=600, n_eval=50),
                    cpu=ACGANConfig(),
                    gpu=ACGANConfig(dataset="mnist", image_size=32, hidden=512, steps=20000,
                                    pitfall_steps=5000))
print(PROFILE, cfg)

# %% [markdown]
# ## The idea
#
# $D$ outputs two distributions: $P(S \mid x)$ over the source $S \in \{real, fake\}$ and
# $P(C \mid x)$ over the classes. With $x_{fake} = G(z, c)$ for a label $c$ drawn uniformly:
#
# $$L_S = \mathbb{E}[\log P(S{=}real \mid x_{real})] + \mathbb{E}[\log P(S{=}fake \mid x_{fake})]$$
# $$L_C = \mathbb{E}[\log P(C{=}c \mid x_{real})] + \mathbb{E}[\log P(C{=}c \mid x_{fake})]$$
#
# **$D$ maximises $L_S + L_C$; $G$ maximises $L_C - L_S$** (paper, section 3). As losses to
# minimise, in code (`D(x)` returns `(source_logits (N,), class_logits (N, K))`):
#
# - `acgan_d_loss` $= \mathrm{BCE}(s_{real}, 1) + \mathrm{BCE}(s_{fake}, 0) + \mathrm{CE}(c_{real}, y) + \mathrm{CE}(c_{fake}, c)$
# - `acgan_g_loss` $= \mathrm{BCE}(s_{fake}, 1) + \mathrm{CE}(c_{fake}, c)$ (the non-saturating form of $-L_S$)
#
# In $L_C$ the real images carry *their* labels and the fakes carry *the labels they were
# generated for*. Note that $G$ and $D$ both *lower* the class loss on fakes: they cooperate
# on $L_C$ and compete only on $L_S$.
#
# ```
#  z, c ─ G ─ x_fake ─┐
#                     ├─ shared body ─ h ─┬─ source head ─ s (real/fake logit)
#           x_real ───┘                   └─ class head ── K class logits
# ```

# %% [markdown]
# ## Data and the judge (from chapter 1)

# %%
if cfg.dataset == "digits":
    images, labels = load_digits(cfg.image_size, "train")
    x_test, y_test = load_digits(cfg.image_size, "test")
else:
    from ganlib.data import registry
    images, labels = registry.load_labelled(cfg.dataset, train=True, size=cfg.image_size)
    x_test, y_test = registry.load_labelled(cfg.dataset, train=False, size=cfg.image_size)
NUM_CLASSES, CHANNELS = int(labels.max()) + 1, images.shape[1]
judge = pretrained_classifier(cfg.dataset, image_size=cfg.image_size, device=device)
print(f"{cfg.dataset}: {len(images)} training images; judge's held-out accuracy {judge.test_accuracy:.1%}")

# %% [markdown]
# ## Build it: the two-headed discriminator
#
# The body is chapter 1's MLP discriminator *without the label input*; on top, two linear
# heads. Both return raw logits: no Sigmoid, no Softmax (the losses apply them).

# %%
class InlineACGAND(nn.Module):
    def __init__(self, num_classes, image_size, channels, hidden):
        super().__init__()
        self.num_classes = num_classes
        self.body = nn.Sequential(nn.Linear(channels * image_size * image_size, hidden), nn.LeakyReLU(0.2),
                                  nn.Linear(hidden, hidden), nn.LeakyReLU(0.2))
        self.source = nn.Linear(hidden, 1)
        self.classes = nn.Linear(hidden, num_classes)

    def forward(self, x):
        h = self.body(x.flatten(1))
        return self.source(h).squeeze(1), self.classes(h)


d_inline = InlineACGAND(NUM_CLASSES, cfg.image_size, CHANNELS, cfg.hidden)
s, c = d_inline(images[:5])
assert s.shape == (5,) and c.shape == (5, NUM_CLASSES)

# this is ganlib.models.acgan.MLPACGANDiscriminator: same weights, same outputs
d_lib = acgan.MLPACGANDiscriminator(NUM_CLASSES, cfg.image_size, CHANNELS, cfg.hidden)
d_lib.load_state_dict({k.replace("source", "heads.source").replace("classes", "heads.classes"): v
                       for k, v in d_inline.state_dict().items()})
s2, c2 = d_lib(images[:5])
assert torch.allclose(s, s2, atol=1e-6) and torch.allclose(c, c2, atol=1e-6)
print("inline D == ganlib D;", ganlib.count_parameters(d_lib), "parameters")

# %% [markdown]
# ## Build it: the two losses
#
# We write $-(L_S + L_C)$ for $D$ and the non-saturating $G$ loss inline, check them on a
# case computed by hand, then against `ganlib.models.acgan`.

# %%
def inline_d_loss(real_s, fake_s, real_c, real_y, fake_c, fake_y):
    l_s = d_loss_bce(real_s, fake_s)                                    # -L_S
    l_c = F.cross_entropy(real_c, real_y) + F.cross_entropy(fake_c, fake_y)  # -L_C, real AND fake
    return l_s + l_c


def inline_g_loss(fake_s, fake_c, fake_y):
    return g_loss_nonsaturating(fake_s) + F.cross_entropy(fake_c, fake_y)


# by hand: all logits 0 -> each BCE is log 2, each CE is log K
zero_s, zero_c, y = torch.zeros(4), torch.zeros(4, NUM_CLASSES), torch.tensor([0, 1, 2, 3])
expected = 2 * torch.log(torch.tensor(2.0)) + 2 * torch.log(torch.tensor(float(NUM_CLASSES)))
assert torch.allclose(inline_d_loss(zero_s, zero_s, zero_c, y, zero_c, y), expected)
# against the library on random logits
rs, fs, rc, fc = torch.randn(6), torch.randn(6), torch.randn(6, NUM_CLASSES), torch.randn(6, NUM_CLASSES)
ry, fy = torch.randint(0, NUM_CLASSES, (6,)), torch.randint(0, NUM_CLASSES, (6,))
assert torch.allclose(inline_d_loss(rs, fs, rc, ry, fc, fy), acgan.acgan_d_loss(rs, fs, rc, ry, fc, fy))
assert torch.allclose(inline_g_loss(fs, fc, fy), acgan.acgan_g_loss(fs, fc, fy))
print("inline losses == ganlib.models.acgan losses")

# %% [markdown]
# The training step `ganlib.models.acgan.acgan_step` follows chapter 1's `cgan_step` line by
# line; only the discriminator's call (`D(x)`, two outputs) and the losses change.

# %%
import inspect
print(inspect.getsource(acgan.acgan_step).split('"""')[-1])

# %% [markdown]
# ## Train cGAN and AC-GAN on the same data and budget
#
# Same generator (`MLPConditionalGenerator`, one-hot label joined to $z$), same discriminator
# body and width, same optimiser, same number of steps; only the way $D$ uses the label differs.

# %%
def make(kind, seed=0):
    ganlib.seed_everything(seed)
    G = cgan.MLPConditionalGenerator(cfg.z_dim, NUM_CLASSES, cfg.image_size, CHANNELS, cfg.hidden).to(device)
    if kind == "cgan":
        D = cgan.MLPConditionalDiscriminator(NUM_CLASSES, cfg.image_size, CHANNELS, cfg.hidden).to(device)
    else:
        D = acgan.MLPACGANDiscriminator(NUM_CLASSES, cfg.image_size, CHANNELS, cfg.hidden).to(device)
    opts = (torch.optim.Adam(G.parameters(), cfg.lr, betas=(0.5, 0.999)),
            torch.optim.Adam(D.parameters(), cfg.lr, betas=(0.5, 0.999)))
    return G, D, opts


models, histories, cpu_seconds = {}, {}, {}
for kind, step in [("cgan", cgan.cgan_step), ("acgan", acgan.acgan_step)]:
    G, D, (opt_g, opt_d) = make(kind)
    start = time.process_time()
    histories[kind] = fit(lambda batch: step(G, D, opt_g, opt_d, *batch),
                          TensorBatches(images, labels, batch_size=cfg.batch_size, seed=0, device=device),
                          cfg.steps, modules={"G": G, "D": D}, optimizers={"G": opt_g, "D": opt_d},
                          desc=kind)
    cpu_seconds[kind] = time.process_time() - start
    models[kind] = G
    print(f"{kind}: {cfg.steps} steps, {histories[kind].seconds:.0f} s wall, {cpu_seconds[kind]:.0f} s CPU")

fig, axes = plt.subplots(1, 2, figsize=(11, 3))
viz.plot_losses(histories["cgan"], ax=axes[0], title="cGAN")
viz.plot_losses(histories["acgan"], ax=axes[1], title="AC-GAN (d_class_real: D's class loss on real)")
plt.show()

# %% [markdown]
# ## Look

# %%
fixed_z = torch.randn(NUM_CLASSES * 8, cfg.z_dim, device=device)
fixed_y = torch.arange(NUM_CLASSES, device=device).repeat_interleave(8)
fig, axes = plt.subplots(1, 2, figsize=(10, 6))
with torch.no_grad():
    for ax, kind in zip(axes, ["cgan", "acgan"]):
        viz.show_grid(models[kind].eval()(fixed_z, fixed_y), nrow=8, ax=ax,
                      row_labels=[str(k) for k in range(NUM_CLASSES)], title=kind)
        models[kind].train()
plt.show()

# %% [markdown]
# ## Measure: accuracy, diversity, and how easy the samples are
#
# Beside conditional accuracy and intra-class diversity we report the judge's mean confidence
# in the intended class, $\mathbb{E}[P_{judge}(y \mid G(z, y))]$, and the fraction of samples it
# classifies with probability above 0.99 ("easy" samples). AC-GAN's $G$ is trained to make
# its own class head confident, so we expect it to push samples towards easy, prototypical
# ones (Shu, Bui & Ermon 2017; Gong et al. 2019).

# %%
@torch.no_grad()
def scores(gen, gen_labels):
    p = judge(gen.to(device)).softmax(1).cpu()[torch.arange(len(gen_labels)), gen_labels]
    return {"accuracy": conditional_accuracy(judge, gen, gen_labels),
            "diversity": intra_class_diversity(judge, gen, gen_labels),
            "confidence": float(p.mean()), "easy (p > 0.99)": float((p > 0.99).float().mean())}


ganlib.seed_everything(0)
baseline = scores(*cgan.generate_per_class(cgan.MLPConditionalGenerator(
    cfg.z_dim, NUM_CLASSES, cfg.image_size, CHANNELS, cfg.hidden).to(device), cfg.n_eval))
table = {"untrained G": baseline,
         "cGAN": scores(*cgan.generate_per_class(models["cgan"], cfg.n_eval)),
         "AC-GAN": scores(*cgan.generate_per_class(models["acgan"], cfg.n_eval)),
         "real test images": scores(x_test, y_test)}
print(f"{'':<18}" + "".join(f"{k:>17}" for k in baseline))
for name, row in table.items():
    print(f"{name:<18}" + "".join(f"{v:>17.1%}" if k != "diversity" else f"{v:>17.2f}" for k, v in row.items()))
for kind in ("cGAN", "AC-GAN"):
    assert table[kind]["accuracy"] > baseline["accuracy"] + 0.3, kind
    if PROFILE == "cpu" and cfg.dataset == "digits":
        assert table[kind]["accuracy"] >= 0.9, kind

# %% [markdown]
# How to read the table. Conditional accuracy says whether $G$ follows $y$; diversity whether
# it uses $z$; confidence and the share of "easy" samples say how prototypical the samples
# are. The critique of AC-GAN predicts higher confidence and lower diversity for AC-GAN than
# for the cGAN. What we measured on the digits (16 px, one CPU thread):
#
# | profile | model | steps | CPU s | accuracy | diversity | confidence | easy |
# |---|---|---|---|---|---|---|---|
# | ci | cGAN | 1,500 | 14 | 95.6 % | 8.72 | 91.5 % | 51.0 % |
# | ci | AC-GAN | 1,500 | 14 | 93.6 % | 9.69 | 89.1 % | 40.8 % |
# | cpu | cGAN | 6,000 | 44 | 99.7 % | 8.15 | 97.5 % | 64.1 % |
# | cpu | AC-GAN | 6,000 | 43 | 98.2 % | 8.85 | 95.1 % | 54.5 % |
# | — | real test images | — | — | 98.1 % | 10.35 | 95.3 % | 56.3 % |
#
# On this small data set, whose ten classes barely overlap, the weakness does **not** show:
# AC-GAN's samples are slightly *more* diverse than the cGAN's and no more confidently
# classified; both stay below the diversity of real digits.
# The loss of diversity that Gong et al. (2019) measure is strongest where classes overlap
# (CIFAR-100, ImageNet): the class term pushes samples away from class boundaries, and with
# overlapping classes that removes a large part of each class. Try the `gpu` profile with
# `dataset="cifar10"`. Report what you measure, not what you expected.
#
# ## Pitfalls
#
# **1. The labels of generated samples.** The class loss on fakes must use the labels the fakes
# were *generated for*. A common bug reuses the real batch's labels (`labels`) instead of the
# sampled ones: then $D$ learns that fakes have random classes, and $G$'s class signal is
# noise. Conditional accuracy stays at chance.

# %%
def buggy_acgan_step(G, D, opt_g, opt_d, real, real_labels):
    n = len(real)
    y_fake = torch.randint(0, NUM_CLASSES, (n,), device=real.device)
    fake = G(torch.randn(n, G.z_dim, device=real.device), y_fake)
    (rs, rc), (fs, fc) = D(real), D(fake.detach())
    d_loss = acgan.acgan_d_loss(rs, fs, rc, real_labels, fc, real_labels)   # BUG: real labels for fakes
    opt_d.zero_grad(set_to_none=True)
    d_loss.backward()
    opt_d.step()
    fs, fc = D(G(torch.randn(n, G.z_dim, device=real.device), y_fake))
    g_loss = acgan.acgan_g_loss(fs, fc, real_labels)                          # BUG again
    opt_g.zero_grad(set_to_none=True)
    g_loss.backward()
    opt_g.step()
    return {"d_loss": d_loss.detach(), "g_loss": g_loss.detach()}


G_bug, D_bug, (og, od) = make("acgan")
fit(lambda batch: buggy_acgan_step(G_bug, D_bug, og, od, *batch),
    TensorBatches(images, labels, batch_size=cfg.batch_size, seed=0, device=device), cfg.pitfall_steps,
    modules={"G": G_bug, "D": D_bug}, desc="AC-GAN with the wrong labels")
bug = scores(*cgan.generate_per_class(G_bug, cfg.n_eval))
print(f"wrong labels for the fakes: conditional accuracy {bug['accuracy']:.1%}")
assert bug["accuracy"] < 0.3

# %% [markdown]
# **2. A softmax before `cross_entropy`.** `F.cross_entropy` (and `nn.CrossEntropyLoss`) take
# logits and apply log-softmax themselves. A class head ending in `Softmax` gives a double
# softmax: the "logits" then lie in $[0, 1]$, the loss can never approach 0 and its gradient
# is squashed.

# %%
logits, target = torch.tensor([[8.0, 0.0, 0.0, 0.0]], requires_grad=True), torch.tensor([0])
right = F.cross_entropy(logits, target)
double = F.cross_entropy(logits.softmax(1), target)
print(f"cross_entropy(logits) = {right.item():.4f}; cross_entropy(softmax(logits)) = {double.item():.4f}"
      f" (its floor with 4 classes: {-math.log(math.e / (math.e + 3)):.4f})")
assert double > 10 * right

# %% [markdown]
# **3. Forgetting the class loss on real images.** Without $\mathrm{CE}(c_{real}, y)$ the class
# head learns classes only from $G$'s samples, which at the start are noise: $D$ and $G$ can
# agree on an arbitrary labelling that has nothing to do with real digits. Keep both terms.

# %% [markdown]
# ## Summary
#
# - AC-GAN's $D$ has a source head and a class head; $D$ maximises $L_S + L_C$, $G$ maximises
#   $L_C - L_S$; the class loss applies to real images (true labels) and fakes (their labels).
# - On the digits, with the same $G$ and budget, cGAN and AC-GAN both reach high conditional
#   accuracy (≈ 99 % on the `cpu` profile); here AC-GAN did not lose diversity.
# - The critique (Shu et al. 2017; Gong et al. 2019): the class term rewards easy samples and
#   can shrink the diversity within a class, most visibly where classes overlap.

# %% [markdown]
# ## Exercises
#
# These cells run on their own after the setup and parameters cells.

# %%
import math

import torch
import torch.nn.functional as F


# %% [markdown]
# **Exercise 1: what the class term pushes on.** Derive, without autograd, the gradient of the class
# loss $\mathrm{CE} = -\frac1N\sum_i \log \mathrm{softmax}(c_i)_{y_i}$ with respect to the class logits
# `c` `(N, K)`, and write `class_loss_gradient(class_logits, labels)` returning it, shape `(N, K)`. (It
# says how hard G's class term pulls each logit of each fake, and why a confident classifier stops
# pulling.)

# %%
def class_loss_gradient(class_logits, labels):
    ### BEGIN SOLUTION
    p = torch.softmax(class_logits, dim=1)
    return (p - F.one_hot(labels, class_logits.shape[1]).to(p.dtype)) / len(class_logits)
    ### END SOLUTION


# %%
from ganlib.student import forbid  # autograd and the library's loss raise while the check runs

c = torch.tensor([[math.log(3), 0.0, 0.0], [0.0, math.log(2), 0.0]])   # softmax: [.6 .2 .2], [.25 .5 .25]
with forbid(torch.autograd.grad, F.cross_entropy, F.nll_loss):
    got = class_loss_gradient(c, torch.tensor([0, 2]))
expected = torch.tensor([[-0.2, 0.1, 0.1], [0.125, 0.25, -0.375]])
assert got.shape == (2, 3), f"one gradient per logit: expected shape (2, 3), got {tuple(got.shape)}"
assert not torch.allclose(got, 2 * expected, atol=1e-5), "CE is a mean over the batch: divide by N"
assert not torch.allclose(got, -expected, atol=1e-5), "sign: the gradient is softmax(c) - onehot(y), not the reverse"
assert not torch.allclose(got, torch.tensor([[-0.125, 1 / 6, 0.25], [0.125, 1 / 3, -0.25]]), atol=1e-5), \
    "the softmax runs over the classes (dim=1), not over the batch"
assert not torch.allclose(got, torch.tensor([[-0.125, 0.25, 0.25], [0.25, 1 / 3, -0.25]]), atol=1e-5), \
    "the class probabilities are a softmax over K classes, not K sigmoids"
assert torch.allclose(got, expected, atol=1e-6), f"expected {expected}, got {got}"
### BEGIN HIDDEN TESTS
cc, yy = torch.randn(6, 5, requires_grad=True), torch.randint(0, 5, (6,))
F.cross_entropy(cc, yy).backward()
assert torch.allclose(class_loss_gradient(cc.detach(), yy), cc.grad, atol=1e-6)
### END HIDDEN TESTS
print("exercise 1 ok")


# %% [markdown]
# **Exercise 2: one-sided label smoothing.** Salimans et al. (2016) train D with a real target of
# 0.9 instead of 1, and leave the fake target at 0 (smoothing it too would reward D for putting
# mass where the fakes are). Extend AC-GAN's discriminator loss: `d_loss_smoothed(real_source,
# fake_source, real_class_logits, real_labels, fake_class_logits, fake_labels, smooth=0.9)` is
# $-(L_S + L_C)$ with the real images' source target `smooth`; the class terms stay as they are.

# %%
def d_loss_smoothed(real_source, fake_source, real_class_logits, real_labels, fake_class_logits,
                    fake_labels, smooth=0.9):
    ### BEGIN SOLUTION
    l_s = (F.binary_cross_entropy_with_logits(real_source, torch.full_like(real_source, smooth))
           + F.binary_cross_entropy_with_logits(fake_source, torch.zeros_like(fake_source)))
    l_c = F.cross_entropy(real_class_logits, real_labels) + F.cross_entropy(fake_class_logits, fake_labels)
    return l_s + l_c
    ### END SOLUTION


# %%
from ganlib.models.acgan import acgan_d_loss
from ganlib.student import forbid

real_s, fake_s = torch.tensor([1.0, 2.0]), torch.tensor([-0.5, 1.5])
real_c, real_y = torch.tensor([[1.0, 0, 0], [0, 0, 2]]), torch.tensor([0, 2])
fake_c, fake_y = torch.tensor([[0.0, 1, 0], [2, 0, 0]]), torch.tensor([1, 2])
with forbid(acgan_d_loss):
    got = float(d_loss_smoothed(real_s, fake_s, real_c, real_y, fake_c, fake_y))
    got8 = float(d_loss_smoothed(real_s, fake_s, real_c, real_y, fake_c, fake_y, smooth=0.8))
assert abs(got - 3.0988295) > 1e-5, "no smoothing: the real target must be smooth (0.9), not 1"
assert abs(got - 3.1988294) > 1e-5, "one-sided: smooth the real target only, leave the fake target at 0"
assert abs(got - 3.0488293) > 1e-5, "the smoothing goes on the real images' target, not the fakes'"
assert abs(got - 4.4488297) > 1e-5, "the real target is smooth itself (0.9), not 1 - smooth"
assert abs(got - 3.3488295) > 1e-5, "only the source target is smoothed: the class terms keep hard labels"
assert abs(got - 3.2488294) < 1e-5, f"expected 3.24883, got {got:.5f}"
assert abs(got8 - 3.3988295) < 1e-5, f"smooth=0.8 should give 3.39883, got {got8:.5f}: use the argument"
### BEGIN HIDDEN TESTS
args = torch.randn(6), torch.randn(6), torch.randn(6, 4), torch.randint(0, 4, (6,)), torch.randn(6, 4), torch.randint(0, 4, (6,))
assert torch.allclose(d_loss_smoothed(*args, smooth=1.0), acgan_d_loss(*args), atol=1e-5)
### END HIDDEN TESTS
print("exercise 2 ok")

# %% [markdown]
# **Exercise 3 (open).** Weight the class term, $L_S + \lambda L_C$, with $\lambda \in \{0.1, 1, 5\}$
# and plot conditional accuracy, diversity and the judge's confidence against $\lambda$. Then
# try `ConvACGANDiscriminator` and CIFAR-10.
#
# ## Further reading
#
# - A. Odena, C. Olah and J. Shlens. *Conditional Image Synthesis with Auxiliary Classifier
#   GANs.* ICML 2017, arXiv:1610.09585.
# - R. Shu, H. Bui and S. Ermon. *AC-GAN Learns a Biased Distribution.* NeurIPS 2017 Workshop
#   on Bayesian Deep Learning.
# - M. Gong, Y. Xu, C. Li, K. Zhang and K. Batmanghelich. *Twin Auxiliary Classifiers GAN.*
#   NeurIPS 2019, arXiv:1907.02690.
# - T. Miyato and M. Koyama. *cGANs with Projection Discriminator.* ICLR 2018, arXiv:1802.05637
#   (section 2 compares projection with AC-GAN-style conditioning).
# - M. Kang, W. Shim, M. Cho and J. Park. *Rebooting ACGAN: Auxiliary Classifier GANs with
#   Stable Training.* NeurIPS 2021, arXiv:2111.01118.
