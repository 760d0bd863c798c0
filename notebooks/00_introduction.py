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
# # 0. Introduction: what a GAN is, and how this book works
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/ganbook/ganbook/blob/main/notebooks/00_introduction.ipynb)
#
# **What you will build.** The original generative adversarial network (Goodfellow et al.
# 2014): a generator $G$ that turns noise into samples and a discriminator $D$ that tells
# samples from real data, trained against each other. First on a 2-D mixture of eight
# Gaussians on a ring, where we can *count* which modes the generator reaches, then on the
# real handwritten digits that ship with scikit-learn.
#
# **Learning objectives.** After this chapter you can
# - write the GAN minimax objective and say which network minimises and which maximises it;
# - explain why the generator uses the *non-saturating* loss $-\log D(G(z))$;
# - explain why losses take *logits* (`binary_cross_entropy_with_logits`) rather than a Sigmoid followed by `BCELoss`;
# - run any chapter of this book in its `ci`, `cpu` or `gpu` profile, and read a learning test.
#
# **Prerequisites.** Python, PyTorch basics (modules, optimisers, autograd), and probability
# at the level of "a Gaussian" and "an expectation".

# %%
import sys
if "google.colab" in sys.modules:  # on Colab only: install ganlib from the book's repository
    import subprocess
    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "git+https://github.com/ganbook/ganbook"], check=True)
    # Checkpoints outlive a runtime reset on Google Drive (ganlib.checkpoint_dir uses it once mounted):
    # from google.colab import drive; drive.mount("/content/drive")

# %%
from dataclasses import dataclass

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import nn

import ganlib
from ganlib import viz
from ganlib.data import TensorBatches, load_digits
from ganlib.data.toy2d import ring_mode_coverage, ring_centres, ring_of_gaussians
from ganlib.train import GANTrainer, fit

device = ganlib.setup(seed=0)


# %%
from typing import Optional, Tuple

from ganlib.models import mlp_gan
from ganlib.runs import Run, by_row, format_table, run_all, verdict


@dataclass
class IntroConfig:
    ring_steps: int = 2000      # GAN steps on the 2-D ring
    digits_steps: int = 4000    # GAN steps on the 8x8 digits
    batch_size: int = 256
    z_dim: int = 8
    hidden: int = 128           # width of the MLPs on the ring
    digits_hidden: int = 256    # width of the MLPs on the digits
    lr: float = 1e-3            # Adam, beta1 = 0.5 as in DCGAN (Radford et al. 2016)
    seeds: Tuple[int, ...] = (0, 1, 2)   # independent runs per row of a comparison
    workers: Optional[int] = None        # processes side by side (None: one per core)


# %% tags=["parameters"]
PROFILE = ""   # "ci", "cpu" or "gpu"; "" = GANLIB_PROFILE, else chosen automatically
SEEDS = None   # e.g. (0, 1, 2, 3, 4) to override the profile's seeds

# %%
PROFILE = ganlib.get_profile(PROFILE)
cfg = ganlib.choose(PROFILE,
                    ci=IntroConfig(digits_steps=600, seeds=(0,), workers=1),
                    cpu=IntroConfig(),
                    gpu=IntroConfig(digits_steps=10000))
if SEEDS is not None:
    cfg = ganlib.override(cfg, seeds=tuple(SEEDS))
print(f"profile: {PROFILE}")
print(cfg)

# %% [markdown]
# ## How this book works
#
# **Profiles.** Every chapter reads its knobs from the cell above, one config per profile:
#
# | profile | where | budget | what it shows |
# |---|---|---|---|
# | `ci` | continuous integration | about a minute on 2 CPU cores | every cell runs, every check passes |
# | `cpu` | your laptop | at most ~10 minutes | visibly learned results |
# | `gpu` | Colab or a workstation | hours, resumable | the real data set with the paper's settings |
#
# The profile comes from the environment variable `GANLIB_PROFILE`; without it, `gpu` is
# chosen where CUDA is available, `ci` where the variable `CI` is set, `cpu` otherwise. All
# three run the same code: a profile only changes sizes and step counts.
#
# **Anatomy of a chapter.** Title and objectives; setup; the parameters cell; the idea with
# its equations; the model built step by step, each piece followed by a *check* cell that
# asserts something and by a check that the book's inline code equals the `ganlib` version;
# data; training; pictures; a measured number against a baseline; pitfalls; exercises.
#
# **Learning tests.** Each model in `ganlib` has a test that trains it briefly on CPU and
# asserts a *quality number* against a baseline, for example "the GAN covers all 8 modes of
# the ring, an untrained generator covers none" (`tests/test_introduction.py`). Shape checks
# alone cannot tell a working GAN from a broken one; a learning test can.

# %% [markdown]
# ## The idea
#
# A generator $G$ maps noise $z \sim p_z = \mathcal{N}(0, I)$ (`torch.randn(n, z_dim)`) to a
# sample $G(z)$ (`G(z)`). A discriminator $D$ outputs a logit $D(x)$ (`D(x)`); its probability
# that $x$ is real is $\sigma(D(x))$. The two play the minimax game
#
# $$\min_G \max_D \; V(D, G) = \mathbb{E}_{x \sim p_\text{data}}[\log \sigma(D(x))] + \mathbb{E}_{z \sim p_z}[\log(1 - \sigma(D(G(z))))].$$
#
# For a fixed $G$ the best discriminator is $\sigma(D^*(x)) = p_\text{data}(x) / (p_\text{data}(x) + p_g(x))$,
# and at that discriminator $V = 2\,\mathrm{JS}(p_\text{data} \| p_g) - \log 4$: the generator is
# pushed towards the data distribution.
#
# **The non-saturating loss.** Early in training $D$ rejects the fakes easily, so
# $\sigma(D(G(z))) \approx 0$ and $\log(1 - \sigma(D(G(z))))$ is flat: its gradient vanishes.
# Goodfellow et al. therefore train $G$ to *maximise* $\log \sigma(D(G(z)))$ instead
# (`g_loss_nonsaturating`), which has the same fixed point and strong gradients exactly when
# $G$ is bad.
#
# ```
#  z ~ N(0, I) --> [ G ] --> G(z) --\
#                                    >--> [ D ] --> logit --> loss
#  x ~ data  -----------------------/
# ```

# %% [markdown]
# ## Build it step by step
#
# ### The losses, from logits

# %%
def d_loss(real_logits, fake_logits):
    """-E[log sigma(D(x))] - E[log(1 - sigma(D(G(z))))], computed stably from logits."""
    return (F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
            + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits)))


def g_loss(fake_logits):
    """Non-saturating: -E[log sigma(D(G(z)))]."""
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))


# %%
# Check: a discriminator that is unsure (logit 0 -> probability 1/2) pays log 2 per term.
zero = torch.zeros(4)
assert torch.isclose(d_loss(zero, zero), 2 * torch.log(torch.tensor(2.0)))
assert torch.isclose(g_loss(zero), torch.log(torch.tensor(2.0)))
# A confident, correct D (real logit +10, fake logit -10) pays almost nothing; G pays ~10.
assert d_loss(torch.full((4,), 10.0), torch.full((4,), -10.0)) < 1e-4
assert abs(g_loss(torch.full((4,), -10.0)) - 10.0) < 1e-3
# The book's inline version is ganlib's version.
r, f = torch.randn(16), torch.randn(16)
assert torch.allclose(d_loss(r, f), ganlib.losses.d_loss_bce(r, f))
assert torch.allclose(g_loss(f), ganlib.losses.g_loss_nonsaturating(f))
print("losses ok")

# %% [markdown]
# Why the non-saturating loss: the gradient of each generator loss with respect to the
# logit of a fake that $D$ rejects confidently (logit $-5$):

# %%
logit = torch.tensor([-5.0], requires_grad=True)
(g_sat,) = torch.autograd.grad(ganlib.losses.g_loss_saturating(logit), logit)
logit = torch.tensor([-5.0], requires_grad=True)
(g_ns,) = torch.autograd.grad(g_loss(logit), logit)
print(f"d loss / d logit: saturating {g_sat.item():+.4f}   non-saturating {g_ns.item():+.4f}")
assert abs(g_sat.item()) < 0.01 < 0.9 < abs(g_ns.item())


# %% [markdown]
# ### The networks and the training step
#
# Two small multilayer perceptrons. $D$ ends in a linear layer: it returns logits, and the
# loss applies the sigmoid inside `binary_cross_entropy_with_logits`.

# %%
def mlp(sizes, act):
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(act())
    return nn.Sequential(*layers)


torch.manual_seed(0)
G_inline = mlp([cfg.z_dim, cfg.hidden, cfg.hidden, 2], nn.ReLU)
torch.manual_seed(0)
G_lib = ganlib.models.MLPGenerator(z_dim=cfg.z_dim, out_dim=2, hidden=cfg.hidden, layers=3)
z = torch.randn(5, cfg.z_dim)
assert G_inline(z).shape == (5, 2)
assert torch.equal(G_inline(z), G_lib(z)), "the inline MLP and ganlib.models.MLPGenerator differ"
print("G:", ganlib.count_parameters(G_lib), "parameters")


# %% [markdown]
# One training step, in the order of Algorithm 1 of the paper: update $D$ on a real batch and
# a fake batch (the fakes *detached*, so this step does not change $G$), then update $G$ on
# fresh noise. This is `ganlib.models.mlp_gan.gan_step`.

# %%
def gan_step(G, D, opt_g, opt_d, real):
    fake = G(torch.randn(len(real), G.z_dim))
    loss_d = d_loss(D(real), D(fake.detach()))
    opt_d.zero_grad(set_to_none=True)
    loss_d.backward()
    opt_d.step()

    loss_g = g_loss(D(G(torch.randn(len(real), G.z_dim))))
    opt_g.zero_grad(set_to_none=True)
    loss_g.backward()
    opt_g.step()
    return {"d_loss": loss_d.detach(), "g_loss": loss_g.detach()}


# %%
# Check: one step of the inline version and of ganlib's gives the same weights.
def fresh(seed=0):
    torch.manual_seed(seed)
    G = ganlib.models.MLPGenerator(z_dim=cfg.z_dim, out_dim=2, hidden=32)
    D = ganlib.models.MLPDiscriminator(in_dim=2, hidden=32)
    opts = [torch.optim.Adam(m.parameters(), lr=cfg.lr, betas=(0.5, 0.999)) for m in (G, D)]
    return G, D, opts


real = ring_of_gaussians(64)
(G1, D1, (og1, od1)), (G2, D2, (og2, od2)) = fresh(), fresh()
torch.manual_seed(1); out1 = gan_step(G1, D1, og1, od1, real)
torch.manual_seed(1); out2 = ganlib.models.mlp_gan.gan_step(G2, D2, og2, od2, real)
assert all(torch.equal(a, b) for a, b in zip(G1.parameters(), G2.parameters()))
assert torch.isclose(out1["d_loss"], out2["d_loss"])
print("one step:", {k: round(v.item(), 4) for k, v in out1.items()})

# %% [markdown]
# ## Data: eight Gaussians on a ring
#
# The centres are known, so we can measure **mode coverage**: a sample is *high quality* when
# it lies within $3\sigma$ of a centre, and a mode is *covered* when at least 2 % of the samples
# are high-quality samples of it (the criterion of Metz et al. 2017 and Srivastava et al. 2017).

# %%
data = ring_of_gaussians(20000, seed=0)
centres = ring_centres()
print("real data:", ring_mode_coverage(data))
plt.figure(figsize=(3, 3))
plt.scatter(*data[:2000].T, s=2, alpha=0.4)
plt.scatter(*centres.T, c="red", marker="x")
plt.title("8 Gaussians (real)")
plt.axis("equal");

# %% [markdown]
# ## Train

# %%
ganlib.seed_everything(0)
G = ganlib.models.MLPGenerator(z_dim=cfg.z_dim, out_dim=2, hidden=cfg.hidden)
D = ganlib.models.MLPDiscriminator(in_dim=2, hidden=cfg.hidden)
opt_g = torch.optim.Adam(G.parameters(), lr=cfg.lr, betas=(0.5, 0.999))
opt_d = torch.optim.Adam(D.parameters(), lr=cfg.lr, betas=(0.5, 0.999))
with torch.no_grad():
    untrained = ring_mode_coverage(G(torch.randn(5000, cfg.z_dim)))

fixed_z = torch.randn(2000, cfg.z_dim)
history = fit(GANTrainer(G, D, opt_g, opt_d, gan_step),
              TensorBatches(data, batch_size=cfg.batch_size, seed=0), cfg.ring_steps,
              snapshot_fn=lambda: G(fixed_z), snapshot_every=max(cfg.ring_steps // 4, 1),
              checkpoint=ganlib.checkpoint_path("00_introduction", "ring_gan.pt", PROFILE), desc="ring GAN")
viz.plot_losses(history);

# %% [markdown]
# ## Look: the generator's samples during training

# %%
fig, axes = plt.subplots(1, len(history.snapshots), figsize=(3 * len(history.snapshots), 3))
for ax, (step, pts) in zip(axes, history.snapshots):
    ax.scatter(*pts.T, s=2, alpha=0.4)
    ax.scatter(*centres.T, c="red", marker="x")
    ax.set_title(f"step {step}")
    ax.set_xlim(-3, 3); ax.set_ylim(-3, 3)
fig.tight_layout()

# %% [markdown]
# ## Measure: mode coverage against a baseline

# %%
with torch.no_grad():
    trained = ring_mode_coverage(G(torch.randn(5000, cfg.z_dim)))
print(f"{'generator':<12}{'modes covered (of 8)':>22}{'high-quality samples':>22}")
for name, m in [("untrained", untrained), ("trained", trained), ("real data", ring_mode_coverage(data[:5000]))]:
    print(f"{name:<12}{m['modes_covered']:>22}{m['high_quality']:>22.1%}")
assert trained["modes_covered"] > untrained["modes_covered"]

# %% [markdown]
# ## The same GAN on real images: 8x8 digits
#
# The 1,797 handwritten digits that scikit-learn ships load offline. Flattened to 64 numbers
# in $[-1, 1]$, they are just another distribution for the same two MLPs ($G$ now ends in
# `tanh`). Later chapters switch to MNIST, CIFAR-10 or the pix2pix data sets with one line.

# %%
digits, labels = load_digits(8)
ganlib.seed_everything(0)
Gd = ganlib.models.MLPGenerator(z_dim=32, out_dim=64, hidden=cfg.digits_hidden, out_activation="tanh")
Dd = ganlib.models.MLPDiscriminator(in_dim=64, hidden=cfg.digits_hidden)
with torch.no_grad():
    untrained_digits = mlp_gan.judge_unconditional(Gd(torch.randn(1000, 32)).view(-1, 1, 8, 8))
opt_gd = torch.optim.Adam(Gd.parameters(), lr=2e-4, betas=(0.5, 0.999))
opt_dd = torch.optim.Adam(Dd.parameters(), lr=2e-4, betas=(0.5, 0.999))
history_d = fit(lambda batch: gan_step(Gd, Dd, opt_gd, opt_dd, batch[0].flatten(1)),
                TensorBatches(digits, batch_size=128, seed=0), cfg.digits_steps,
                modules={"G": Gd, "D": Dd}, optimizers={"G": opt_gd, "D": opt_dd},
                checkpoint=ganlib.checkpoint_path("00_introduction", "digits_gan.pt", PROFILE), desc="digits GAN")
with torch.no_grad():
    fake_digits = Gd(torch.randn(40, 32)).view(-1, 1, 8, 8)
fig, axes = plt.subplots(1, 2, figsize=(10, 3))
viz.show_grid(digits[:40], nrow=10, title="real", ax=axes[0])
viz.show_grid(fake_digits, nrow=10, title=f"generated after {cfg.digits_steps} steps", ax=axes[1])
plt.show()

# %% [markdown]
# A number for the digits GAN: a small classifier trained on the real digits (the *judge* of
# chapter 1, here at 8 px) labels 1,000 samples. `classes_covered` counts the classes that get
# at least 5 % of them, `class_spread` is the effective number of classes ($e^{H}$ of the
# judged class frequencies), `confidence` the judge's mean top probability.

# %%
with torch.no_grad():
    trained_digits = mlp_gan.judge_unconditional(Gd.eval()(torch.randn(1000, 32)).view(-1, 1, 8, 8))
print(f"{'':<12}" + "".join(f"{k:>17}" for k in trained_digits))
for name, m in [("untrained", untrained_digits), ("trained", trained_digits),
                ("real digits", mlp_gan.judge_unconditional(digits[:1000]))]:
    print(f"{name:<12}" + "".join(f"{v:>17.2f}" for v in m.values()))
# an untrained G draws nearly one image (one judged class); a trained one spreads over several.
# (The judge's confidence is no test here: the untrained G's single blob can look confident.)
assert trained_digits["class_spread"] > untrained_digits["class_spread"] + 0.1, (untrained_digits, trained_digits)

# %% [markdown]
# ## Measure: the two generator losses in training, over seeds
#
# The gradient cell above shows one number at one logit. Does it matter in training? We
# train the same GAN twice per seed, once with the non-saturating loss and once with the
# minimax ("saturating") loss $\log(1 - \sigma(D(G(z))))$: same networks, data, optimiser,
# steps and seeds; only the generator's loss differs (`mlp_gan.gan_step(..., g_loss=...)`).
# Each run is `ganlib.models.mlp_gan.train_and_measure(config, seed)`, run side by side by
# `ganlib.runs`. On the digits the number is the 8 px judge classifier's view of 1,000
# samples (`mlp_gan.judge_unconditional`): how many of the 10 classes get at least 5 % of
# the samples, the effective number of classes drawn (`class_spread`, 10 for a uniform mix)
# and the judge's mean confidence.

# %%
ring_run = mlp_gan.IntroRunConfig(data="ring", steps=cfg.ring_steps, batch_size=cfg.batch_size,
                                  z_dim=cfg.z_dim, hidden=cfg.hidden, lr=cfg.lr)
digits_run = mlp_gan.IntroRunConfig(data="digits", steps=cfg.digits_steps, batch_size=128, z_dim=32,
                                    hidden=cfg.digits_hidden, lr=2e-4, n_eval=1000)
LOSSES = {"non-saturating": "nonsaturating", "saturating": "saturating"}
runs = [Run(mlp_gan.train_and_measure, ganlib.override(base, g_loss=loss), seed, row=f"{data}, {name}")
        for data, base in [("ring", ring_run), ("digits", digits_run)]
        for name, loss in LOSSES.items() for seed in cfg.seeds]
results = run_all(runs, workers=cfg.workers, keep=ganlib.checkpoint_path("00_introduction", "loss_table", PROFILE))
rows = by_row(results)
print(f"CPU seconds, all runs: {sum(r.cpu_seconds for r in results):.0f}")
print(format_table([r for r in results if r.row.startswith("ring")], ["modes_covered", "high_quality"]))
print()
print(format_table([r for r in results if r.row.startswith("digits")],
                   ["classes_covered", "class_spread", "confidence"]))
print()
for data, measure in [("ring", "modes_covered"), ("ring", "high_quality"),
                      ("digits", "class_spread"), ("digits", "confidence")]:
    a, b = (f"{data}, {name}" for name in LOSSES)
    print(verdict(a, [v[measure] for v in rows[a]], b, [v[measure] for v in rows[b]], measure))

# %% [markdown]
# What every seed agrees on is asserted: with the non-saturating loss the ring GAN covers all
# 8 modes with at least 70 % high-quality samples (the criterion of the learning test
# `tests/test_introduction.py`), in every seed.

# %%
for v in rows["ring, non-saturating"]:
    assert v["modes_covered"] == 8 and v["high_quality"] >= 0.70, v
sat_modes = [v["modes_covered"] for v in rows["ring, saturating"]]
print(f"non-saturating: 8 of 8 modes in all {len(cfg.seeds)} seeds; "
      f"saturating: {', '.join(f'{m:.0f}' for m in sat_modes)} modes")

# %%
from IPython.display import Markdown

from ganlib.runs import separated

MEASURED = [("ring", "modes_covered"), ("ring", "high_quality"), ("digits", "class_spread"), ("digits", "confidence")]


def ahead(data, measure):
    """'non-saturating' or 'saturating' where one is ahead by more than the spread, else None."""
    a, b = ([v[measure] for v in rows[f"{data}, {name}"]] for name in LOSSES)
    if not separated(a, b):
        return None
    return "non-saturating" if sum(a) / len(a) > sum(b) / len(b) else "saturating"


wins = {(d, m): ahead(d, m) for d, m in MEASURED}
ns = [f"{m} ({d})" for (d, m), w in wins.items() if w == "non-saturating"]
sat = [f"{m} ({d})" for (d, m), w in wins.items() if w == "saturating"]
display(Markdown(
    f"**Measured over {len(cfg.seeds)} seeds:** the non-saturating loss is measurably ahead on "
    + (", ".join(ns) if ns else "none of the measures")
    + "; the saturating loss on " + (", ".join(sat) if sat else "none") + ". "
    + ("So at this scale the training runs do not show the advantage the gradient cell predicts. "
       "Goodfellow et al. (2014) recommend the non-saturating loss for the start of training, when $D$ "
       "rejects every fake; a plausible reason it matters little here (not measured in this chapter) is "
       "Adam, which divides each gradient by its running size, so a uniformly small gradient is scaled "
       "back up." if not ns else
       "The advantage the gradient cell predicts shows in training.")))

# %% [markdown]
# ## Pitfalls
#
# **A Sigmoid followed by `BCELoss`.** Many write-ups end $D$ in `nn.Sigmoid()` and use
# `nn.BCELoss`. Mathematically the same, numerically not, and it bites long before the
# probabilities underflow. `BCELoss`'s backward divides by $\max(p(1-p), 10^{-12})$, so once
# $\sigma(\ell) < 10^{-12}$, i.e. $\ell < \ln 10^{-12} \approx -27.6$, the gradient shrinks
# by the factor $p / 10^{-12}$ while the loss still reads the right value. On the other side,
# $1 + e^{-\ell}$ rounds to exactly 1 in float32 once $e^{-\ell}$ is below half the float32
# spacing above 1 ($\ell > 16.6$): $\sigma(\ell) = 1$, $\log(1 - 1)$ is clamped to $-100$,
# and the gradient is 0. `BCEWithLogitsLoss` evaluates $\log \sigma(\ell)$ with the
# log-sum-exp trick: loss $|\ell|$, gradient $\mp 1$, exact at every logit.

# %%
def loss_and_grad(loss_fn, logit, target):
    x = torch.tensor([logit], requires_grad=True)
    loss = loss_fn(x, torch.tensor([target]))
    (grad,) = torch.autograd.grad(loss, x)
    return loss.item(), grad.item()


naive = lambda x, t: nn.BCELoss()(torch.sigmoid(x), t)          # noqa: E731  the pitfall
stable = lambda x, t: nn.BCEWithLogitsLoss()(x, t)               # noqa: E731
print("target 1 (G's non-saturating loss on a fake D rejects; D's loss on a real):")
print(f"{'logit':>7}{'naive loss':>12}{'naive grad':>12}{'stable loss':>13}{'stable grad':>13}")
for logit in (-10.0, -20.0, -27.0, -28.0, -30.0, -35.0, -120.0):
    (ln, gn), (ls, gs) = loss_and_grad(naive, logit, 1.0), loss_and_grad(stable, logit, 1.0)
    print(f"{logit:>7.0f}{ln:>12.3f}{gn:>12.5f}{ls:>13.3f}{gs:>13.5f}")
print("target 0 (D's loss on a fake it scores as real):")
for logit in (10.0, 16.0, 17.0, 30.0):
    (ln, gn), (ls, gs) = loss_and_grad(naive, logit, 0.0), loss_and_grad(stable, logit, 0.0)
    print(f"{logit:>7.0f}{ln:>12.3f}{gn:>12.5f}{ls:>13.3f}{gs:>13.5f}")

# where the naive gradient has lost half its size, scanning the logits -20, -20.1, ...
scan = [-20 - 0.1 * i for i in range(200)]
half = next(l for l in scan if abs(loss_and_grad(naive, l, 1.0)[1]) < 0.5)
print(f"the naive gradient is below half its true size from logit {half:.1f} on, "
      f"where its loss still reads {loss_and_grad(naive, half, 1.0)[0]:.2f} (true {-half:.2f})")
# near -28 the loss is right but the gradient is already smaller; by -35 it is gone
l28, g28 = loss_and_grad(naive, -28.0, 1.0)
l35, g35 = loss_and_grad(naive, -35.0, 1.0)
assert abs(l28 - 28.0) < 1e-3 and abs(l35 - 35.0) < 1e-3, "the naive loss still reads fine"
assert abs(g28) < 0.8 and abs(g35) < 1e-3, "while its gradient vanishes"
# a fake scored at logit 17: loss 100 (clamped), gradient exactly 0; the stable form: 17 and +1
assert loss_and_grad(naive, 17.0, 0.0) == (100.0, 0.0)
assert abs(loss_and_grad(stable, 17.0, 0.0)[0] - 17.0) < 1e-4 and abs(loss_and_grad(stable, 17.0, 0.0)[1] - 1.0) < 1e-6
assert all(abs(loss_and_grad(stable, l, 1.0)[1] + 1.0) < 1e-6 for l in (-28.0, -35.0, -120.0))

# %% [markdown]
# **`BatchNorm2d(channels, 0.8)`.** The second positional argument of `BatchNorm` is `eps`,
# not `momentum`: this popular line sets $\epsilon = 0.8$. Batch norm divides by
# $\sqrt{\mathrm{Var}[x] + \epsilon}$, so with $\epsilon = 0.8$ it no longer normalises:
# features whose standard deviation is 0.1 come out with standard deviation
# $0.1 / \sqrt{0.01 + 0.8} \approx 0.11$ instead of 1, and small activations stay small.

# %%
torch.manual_seed(0)
features = 0.1 * torch.randn(64, 16, 8, 8)                # a batch of features with std 0.1
print(f"input std {features.std():.3f}")
for bn in (nn.BatchNorm2d(16), nn.BatchNorm2d(16, 0.8)):
    out = bn(features)                                    # train mode: normalised by batch statistics
    expected = features.std(unbiased=False) / (features.var(unbiased=False) + bn.eps) ** 0.5
    print(f"BatchNorm2d(16, eps={bn.eps:g}, momentum={bn.momentum}): output std {out.std():.3f} "
          f"(std / sqrt(var + eps) = {expected:.3f})")
    assert abs(out.std() - expected) < 0.01
assert abs(nn.BatchNorm2d(16)(features).std() - 1) < 0.01
assert nn.BatchNorm2d(16, 0.8)(features).std() < 0.15

# %% [markdown]
# ## Summary
#
# - A GAN trains $D$ to tell real from generated samples and $G$ to fool it; the fixed point
#   of the game is $p_g = p_\text{data}$.
# - The non-saturating generator loss keeps $G$'s gradient alive where $D$ rejects its samples;
#   whether that shows in training at this scale, the seeded comparison above measures (its
#   verdict, not this summary, is the result). Compute every loss from logits: a Sigmoid followed
#   by `BCELoss` loses the gradient from a logit of about $-28$ (and at $+17$ on the other side).
# - Measure what the model learned with a number and a baseline, over several seeds: here,
#   modes covered by the trained vs an untrained generator.

# %% [markdown]
# ## Exercises
#
# Each exercise has a check cell right after it. Run it: it passes when your answer is right.

# %%
import torch
import torch.nn.functional as F


# %% [markdown]
# **Exercise 1.** Write the discriminator loss $-\mathbb{E}[\log\sigma(D(x))] - \mathbb{E}[\log(1-\sigma(D(G(z))))]$
# from logits, without `binary_cross_entropy_with_logits`. Hint: $\log\sigma(t) = -\mathrm{softplus}(-t)$
# and $\log(1 - \sigma(t)) = -\mathrm{softplus}(t)$.

# %%
def my_d_loss(real_logits, fake_logits):
    ### BEGIN SOLUTION
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()
    ### END SOLUTION


# %%
from ganlib.student import forbid  # makes the library's version raise while the check runs

r, f = torch.tensor([2.0, -1.0, 0.5]), torch.tensor([-1.0, 3.0, 0.0])  # a batch of 3, asymmetric
with forbid(F.binary_cross_entropy_with_logits):
    got = float(my_d_loss(r, f))
    big = my_d_loss(torch.tensor([-200.0]), torch.tensor([200.0]))
assert abs(got - 1.8230876341) > 1e-4, "real and fake are swapped: push real logits up, fake logits down"
assert abs(got - 3 * 1.9897543008) > 1e-4, "you summed over the batch: the expectations are means"
assert abs(got - 1.9897543008) < 1e-5, f"expected 1.98975 for this batch, got {got:.5f}"
assert torch.isfinite(big) and abs(float(big) - 400.0) < 1e-3, \
    "not stable for large logits (-log sigmoid(-200) = 200): use softplus, not log(sigmoid(.))"
### BEGIN HIDDEN TESTS
r, f = torch.randn(50), torch.randn(50)
expected = (F.binary_cross_entropy_with_logits(r, torch.ones(50))
            + F.binary_cross_entropy_with_logits(f, torch.zeros(50)))
assert torch.isclose(my_d_loss(r, f), expected, atol=1e-6)
assert torch.isfinite(my_d_loss(torch.tensor([1e4]), torch.tensor([-1e4]))), "not stable for large logits"
### END HIDDEN TESTS
print("exercise 1 ok")


# %% [markdown]
# **Exercise 2.** Count covered modes: given samples `(N, 2)`, centres `(K, 2)` and `std`,
# return how many centres have at least `min_fraction` of the samples within `3 * std` of them
# (assign each sample to its nearest centre first).

# %%
def count_modes(samples, centres, std, min_fraction=0.02):
    ### BEGIN SOLUTION
    dist = torch.cdist(samples, centres)
    nearest, which = dist.min(dim=1)
    good = nearest <= 3 * std
    counts = torch.bincount(which[good], minlength=len(centres))
    return int((counts >= min_fraction * len(samples)).sum())
    ### END SOLUTION


# %%
c = torch.tensor([[0.0, 0.0], [5.0, 0.0], [0.0, 5.0]])
two_sd, five_sd = c[0] + torch.tensor([0.2, 0.0]), c[1] + torch.tensor([0.5, 0.0])  # std = 0.1
got = count_modes(torch.cat([two_sd.repeat(10, 1), five_sd.repeat(10, 1)]), c, std=0.1)
assert got != 0, "a sample 2 std from its centre is inside the 3 std radius: is your radius 1 std?"
assert got != 2, "a sample 5 std from its centre is outside the 3 std radius: is your radius too large?"
assert got == 1, f"one mode is covered (the samples 2 std away), got {got}"
close = torch.tensor([[0.0, 0.0], [0.25, 0.0]])  # both centres within 3 std of the samples
assert count_modes(torch.zeros(10, 2), close, std=0.1) == 1, \
    "assign each sample to its nearest centre first: a sample covers one mode, not every centre in reach"
far = torch.cat([c[0].repeat(10, 1), torch.full((90, 2), 50.0)])
assert count_modes(far, c, std=0.1, min_fraction=0.2) == 0, \
    "min_fraction is a fraction of all the samples (here 10 of 100 < 20 %), not of those near a centre"
edge = torch.cat([c[0].repeat(15, 1), c[1].repeat(5, 1)])
assert count_modes(edge, c, std=0.1, min_fraction=0.25) == 2, \
    "'at least min_fraction': 5 of 20 samples is exactly 25 %, which counts (>=, not >)"
### BEGIN HIDDEN TESTS
s = torch.cat([c[0] + 0.01 * torch.randn(50, 2), c[1] + 0.01 * torch.randn(50, 2)])
assert count_modes(s, c, std=0.05) == 2, "two of the three modes have samples"
assert count_modes(s + 1.0, c, std=0.05) == 0, "samples far from every centre cover nothing"
assert count_modes(torch.cat([s, c[2] + torch.zeros(1, 2)]), c, std=0.05, min_fraction=0.02) == 2, \
    "a single sample (1 %) does not cover a mode at 2 %"
### END HIDDEN TESTS
print("exercise 2 ok")

# %% [markdown]
# ## Further reading
#
# - I. Goodfellow, J. Pouget-Abadie, M. Mirza, B. Xu, D. Warde-Farley, S. Ozair, A. Courville,
#   Y. Bengio. *Generative Adversarial Nets.* NeurIPS 2014.
# - A. Radford, L. Metz, S. Chintala. *Unsupervised Representation Learning with Deep
#   Convolutional Generative Adversarial Networks.* ICLR 2016.
# - L. Metz, B. Poole, D. Pfau, J. Sohl-Dickstein. *Unrolled Generative Adversarial Networks.* ICLR 2017.
# - A. Srivastava, L. Valkov, C. Russell, M. U. Gutmann, C. Sutton. *VEEGAN: Reducing Mode
#   Collapse in GANs using Implicit Variational Learning.* NeurIPS 2017.
# - I. Goodfellow. *NIPS 2016 Tutorial: Generative Adversarial Networks.* arXiv:1701.00160.
