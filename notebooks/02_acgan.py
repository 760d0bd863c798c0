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
    # Checkpoints outlive a runtime reset on Google Drive (ganlib.checkpoint_dir uses it once mounted):
    # from google.colab import drive; drive.mount("/content/drive")

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
from ganlib.data import TensorBatches, registry
from ganlib.losses import d_loss_bce, g_loss_nonsaturating
from ganlib.models import acgan, cgan
from ganlib.train import GANTrainer, fit

device = ganlib.setup(seed=0)


# %%
from typing import Optional, Tuple

from IPython.display import Markdown

from ganlib.data.overlap2d import boundary_measures, other_side_fraction, overlapping_classes
from ganlib import conditional_protocol as protocol
from ganlib.runs import Run, by_row, execute, format_table, run_all, separated, verdict


@dataclass
class ACGANConfig:
    dataset: str = "digits"    # or "mnist", "fashion_mnist", "cifar10" (downloaded on first use)
    image_size: int = 16
    z_dim: int = 64
    hidden: int = 256          # width of the MLP G and D (the same for cGAN and AC-GAN)
    steps: int = 6000          # the same budget for both models (chapter 1's MLP cGAN budget)
    pitfall_steps: int = 3000
    batch_size: int = 64
    lr: float = 2e-4           # Adam(2e-4, betas=(0.5, 0.999))
    n_eval: int = 100          # generated samples per class for the metrics
    toy_steps: int = 2000      # steps on the 2-D toy with overlapping classes
    seeds: Tuple[int, ...] = (0, 1, 2)   # independent runs per row of a table
    workers: Optional[int] = None        # processes side by side (None: one per core)


# %% tags=["parameters"]
PROFILE = ""   # "ci", "cpu" or "gpu"; "" = GANLIB_PROFILE, else chosen automatically
SEEDS = None   # e.g. (0, 1, 2, 3, 4) to override the profile's seeds

# %%
PROFILE = ganlib.get_profile(PROFILE)
cfg = ganlib.choose(PROFILE,
                    ci=ACGANConfig(steps=1000, pitfall_steps=300, n_eval=50, toy_steps=500, seeds=(0,),
                                   workers=1),
                    cpu=ACGANConfig(),
                    gpu=ACGANConfig(dataset="mnist", image_size=32, hidden=512, steps=20000,
                                    pitfall_steps=5000))
if SEEDS is not None:
    cfg = ganlib.override(cfg, seeds=tuple(SEEDS))
print(f"profile: {PROFILE}")
print(cfg)

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
# ## Build it: the training step
#
# The step follows chapter 1's `cgan_step` line by line; only the discriminator's call
# (`D(x)`, two outputs) and the losses change. The fakes' class loss uses `y_fake`, the labels
# they were generated for.

# %%
def inline_acgan_step(G, D, opt_g, opt_d, real, real_labels):
    n = len(real)
    y_fake = torch.randint(0, NUM_CLASSES, (n,), device=real.device)
    fake = G(torch.randn(n, G.z_dim, device=real.device), y_fake)
    (real_s, real_c), (fake_s, fake_c) = D(real), D(fake.detach())
    d_loss = inline_d_loss(real_s, fake_s, real_c, real_labels, fake_c, y_fake)
    opt_d.zero_grad(set_to_none=True)
    d_loss.backward()
    opt_d.step()
    y_fake = torch.randint(0, NUM_CLASSES, (n,), device=real.device)
    fake_s, fake_c = D(G(torch.randn(n, G.z_dim, device=real.device), y_fake))
    g_loss = inline_g_loss(fake_s, fake_c, y_fake)
    opt_g.zero_grad(set_to_none=True)
    g_loss.backward()
    opt_g.step()
    return {"d_loss": d_loss.detach(), "g_loss": g_loss.detach()}


# from the same state and the same random draws, the library's acgan_step reaches the same weights
def _pair(seed):
    torch.manual_seed(seed)
    G = cgan.MLPConditionalGenerator(8, NUM_CLASSES, cfg.image_size, CHANNELS, 16)
    D = acgan.MLPACGANDiscriminator(NUM_CLASSES, cfg.image_size, CHANNELS, 16)
    return G, D, torch.optim.Adam(G.parameters(), 1e-3), torch.optim.Adam(D.parameters(), 1e-3)


(G1, D1, og1, od1), (G2, D2, og2, od2) = _pair(0), _pair(0)
torch.manual_seed(1)
a = inline_acgan_step(G1, D1, og1, od1, images[:8], labels[:8])
torch.manual_seed(1)
b = acgan.acgan_step(G2, D2, og2, od2, images[:8], labels[:8])
assert all(torch.equal(p, q) for p, q in zip(list(G1.parameters()) + list(D1.parameters()),
                                             list(G2.parameters()) + list(D2.parameters())))
assert torch.equal(a["d_loss"], b["d_loss"]) and torch.equal(a["g_loss"], b["g_loss"])
print("inline step == ganlib.models.acgan.acgan_step:", {k: round(float(v), 4) for k, v in a.items()})

# %% [markdown]
# ## Train cGAN and AC-GAN on the same data and budget
#
# Same generator (`MLPConditionalGenerator`, one-hot label joined to $z$), same discriminator
# body and width, same optimiser, same number of steps, same seeds; only the way $D$ uses the
# label differs. Every run is `ganlib.conditional_protocol.train_and_measure(config,
# seed)`, the protocol of chapter 1: the cGAN row here is chapter 1's "MLP G + concat D" row,
# the same runs with the same numbers. First one seed of each, in this process, to look at;
# those two runs are also the first seeds of the table below.

# %%
def make(kind, seed=0):
    """G, D and their optimisers, built as the protocol builds them (for the cells that train here)."""
    ganlib.seed_everything(seed)
    G = cgan.MLPConditionalGenerator(cfg.z_dim, NUM_CLASSES, cfg.image_size, CHANNELS, cfg.hidden).to(device)
    if kind == "cgan":
        D = cgan.MLPConditionalDiscriminator(NUM_CLASSES, cfg.image_size, CHANNELS, cfg.hidden).to(device)
    else:
        D = acgan.MLPACGANDiscriminator(NUM_CLASSES, cfg.image_size, CHANNELS, cfg.hidden).to(device)
    opts = (torch.optim.Adam(G.parameters(), cfg.lr, betas=(0.5, 0.999)),
            torch.optim.Adam(D.parameters(), cfg.lr, betas=(0.5, 0.999)))
    return G, D, opts


cgan_run = protocol.ConditionalRunConfig(discriminator="concat", arch="mlp", image_size=cfg.image_size,
                                         z_dim=cfg.z_dim, hidden=cfg.hidden, steps=cfg.steps,
                                         batch_size=cfg.batch_size, lr=cfg.lr, n_eval=cfg.n_eval)
acgan_run = ganlib.override(cgan_run, discriminator="acgan")
models, first = {}, {}
if cfg.dataset == "digits":
    def train_keep_and_measure(config, seed):
        """protocol.train_and_measure, keeping the trained G to look at (in this process only)."""
        G = protocol.train_conditional(config, seed)
        models[config.discriminator] = G.to(device)
        return protocol.measure_digits(G, config, seed)

    # runs.execute runs it as a worker would (seeded, one thread): these are the tables' first seeds
    for name, run_cfg in [("cGAN", cgan_run), ("AC-GAN", acgan_run)]:
        first[name] = execute(Run(train_keep_and_measure, run_cfg, cfg.seeds[0], row=name))
        assert first[name].ok, first[name].error
        print(f"{name}: {cfg.steps} steps, {first[name].cpu_seconds:.0f} s CPU")
    models["cgan"] = models.pop("concat")
else:  # the protocol trains on the bundled digits; other data sets train here
    for kind, step in [("cgan", cgan.cgan_step), ("acgan", acgan.acgan_step)]:
        G, D, (opt_g, opt_d) = make(kind)
        fit(GANTrainer(G, D, opt_g, opt_d, step),
            TensorBatches(images, labels, batch_size=cfg.batch_size, seed=0, device=device),
            cfg.steps, checkpoint=ganlib.checkpoint_path("02_acgan", f"{kind}.pt", PROFILE), desc=kind)
        models[kind] = G

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
plt.show()

# %% [markdown]
# ## Measure over seeds: accuracy, diversity, precision and recall, how easy the samples are
#
# Beside conditional accuracy and the two diversities of chapter 1 (in the judge's features,
# and in pixel space, which sees within-class variation the judge discards) we report the
# judge's mean confidence in the intended class, $\mathbb{E}[P_{judge}(y \mid G(z, y))]$, the
# fraction it classifies with probability above 0.99 ("easy" samples), and k-NN precision and
# recall against real images of the class. Higher diversity with lower accuracy could mean
# *more ambiguous* samples rather than *more varied* ones: precision (do samples fall where
# real ones do?) and recall (are all kinds of real digits reached?) separate the two.
# AC-GAN's $G$ is trained to make its own class head confident, so the critique predicts
# higher confidence and lower diversity and recall for AC-GAN (Shu, Bui & Ermon 2017;
# Gong et al. 2019). The third row is pitfall 3 below: AC-GAN without the class loss on real images.

# %%
ROWS = {"cGAN": cgan_run, "AC-GAN": acgan_run,
        "AC-GAN, no class loss on real": ganlib.override(acgan_run, discriminator="acgan_no_real_class")}
MEASURES = ["accuracy", "diversity_judge", "diversity_pixels", "precision", "recall", "confidence", "easy",
            "nearest_train"]
if cfg.dataset == "digits":
    others = [Run(protocol.train_and_measure, c, seed, row=name) for name, c in ROWS.items()
              for seed in cfg.seeds if not (name in first and seed == cfg.seeds[0])]  # those ran above
    results = list(first.values()) + run_all(  # tables group by row
        others, workers=cfg.workers, keep=ganlib.checkpoint_path("02_acgan", "digits_table", PROFILE))
    rows = by_row(results)
    real_row = protocol.measure_real_digits(cfg.image_size)
    ganlib.seed_everything(0)
    untrained_row = protocol.measure_digits(protocol.build(cgan_run, NUM_CLASSES, cfg.image_size, CHANNELS)[0],
                                            cgan_run)
    print(f"CPU seconds, all runs: {sum(r.cpu_seconds for r in results):.0f}")
    print(format_table(results, MEASURES))
    print()
    print(f"{'untrained G':<30}" + "  ".join(f"{untrained_row[m]:.3f}" for m in MEASURES))
    print(f"{'real test images':<30}" + "  ".join(f"{real_row[m]:.3f}" for m in MEASURES))
    for kind in ("cGAN", "AC-GAN"):
        for v in rows[kind]:
            assert v["accuracy"] > untrained_row["accuracy"] + 0.3, (kind, v)
            if PROFILE == "cpu":
                assert v["accuracy"] >= 0.9, (kind, v)

# %%
if cfg.dataset == "digits":
    def compare(m, higher=True):
        return verdict("AC-GAN", [v[m] for v in rows["AC-GAN"]], "cGAN", [v[m] for v in rows["cGAN"]], m, higher)

    def direction(m):
        a = sum(v[m] for v in rows["AC-GAN"]) / len(rows["AC-GAN"])
        c = sum(v[m] for v in rows["cGAN"]) / len(rows["cGAN"])
        if not separated([v[m] for v in rows["AC-GAN"]], [v[m] for v in rows["cGAN"]]):
            return "no measurable difference"
        return "higher for AC-GAN" if a > c else "lower for AC-GAN"

    predicted = {"confidence": "higher for AC-GAN", "diversity_pixels": "lower for AC-GAN",
                 "diversity_judge": "lower for AC-GAN", "recall": "lower for AC-GAN"}
    agree = [m for m, d in predicted.items() if direction(m) == d]
    display(Markdown(
        "**Measured on the digits, AC-GAN vs cGAN** (same G, D body, data, steps and seeds):\n\n"
        + "\n".join(f"- {compare(m)}" for m in ["accuracy", "confidence", "easy", "diversity_judge",
                                                 "diversity_pixels", "precision", "recall"])
        + f"\n\nOf the critique's four predictions (confidence up; both diversities and recall down), "
        f"{len(agree)} hold here" + (f" ({', '.join(agree)})" if agree else "")
        + ". The ten digit classes barely overlap, so the class term has little boundary to push "
        "samples away from; the next section builds data where it has one."))

# %% [markdown]
# ## Where AC-GAN's bias shows: two classes that overlap
#
# Shu, Bui & Ermon (2017) show that AC-GAN's objective adds to the GAN's a term that lowers
# the conditional entropy $H(c \mid x)$ of the generated samples: $G$ is rewarded for samples
# its class head finds unambiguous, so where two classes share support, AC-GAN pulls each
# class's samples *away from the class boundary* instead of reproducing the overlap. The
# digits have almost no overlap. Here is data that has it, with a known answer
# (`ganlib.data.overlap2d`): class 0 is a Gaussian at $(-\mu, 0)$, class 1 at $(+\mu, 0)$, both
# with standard deviation $\sigma = \mu$, so a fixed, exactly known fraction
# $\Phi(-\mu/\sigma)$ of each class lies on the other class's side of the boundary $x_1 = 0$.
# The points are two-channel 1×1 "images", so chapter 1's MLP $G$ and $D$ and this chapter's
# AC-GAN $D$ train on them unchanged.
#
# We measure, averaged over the two classes: `other_side`, the fraction of class-$k$ samples
# beyond the boundary; `posterior_entropy`, the mean entropy of the *true* posterior at the
# samples (how ambiguous they are); `spread_x1`, the within-class standard deviation across
# the boundary; and `spread_x2`, along the axis that carries no class information (a check
# that $G$ still fits the data where the class term has no say).

# %%
toy_x, toy_y = overlapping_classes(20000, seed=0)
toy_real = boundary_measures(*overlapping_classes(2 * 1000, seed=123))
print(f"exact fraction beyond the boundary: {other_side_fraction():.3f}; a real sample:",
      {k: round(v, 3) for k, v in toy_real.items()})
plt.figure(figsize=(3.5, 3))
for k in (0, 1):
    pts = toy_x[toy_y == k][:1500].flatten(1)
    plt.scatter(*pts.T, s=2, alpha=0.4, label=f"class {k}")
plt.axvline(0, c="k", lw=0.8)
plt.legend(markerscale=5)
plt.title("two overlapping classes (real)")
plt.show()

# %%
toy_base = protocol.ConditionalRunConfig(data="overlap2d", arch="mlp", z_dim=4, hidden=128, steps=cfg.toy_steps,
                                         batch_size=256, lr=1e-3, n_eval=1000, g_batch_norm=False)
TOY_ROWS = {"cGAN (concat D)": toy_base, "cGAN (projection D)": ganlib.override(toy_base, discriminator="projection"),
            "AC-GAN": ganlib.override(toy_base, discriminator="acgan")}
TOY_MEASURES = ["other_side", "posterior_entropy", "spread_x1", "spread_x2"]
toy_results = run_all([Run(protocol.train_and_measure, c, seed, row=name)
                       for name, c in TOY_ROWS.items() for seed in cfg.seeds], workers=cfg.workers,
                      keep=ganlib.checkpoint_path("02_acgan", "toy_table", PROFILE))
toy_rows = by_row(toy_results)
print(f"CPU seconds, all runs: {sum(r.cpu_seconds for r in toy_results):.0f}")
print(format_table(toy_results, TOY_MEASURES))
print(f"{'real data':<22}" + "  ".join(f"{toy_real[m]:.3f}" for m in TOY_MEASURES))

# %%
def toy_verdict(a, m, higher=True):
    return verdict(a, [v[m] for v in toy_rows[a]], "cGAN (concat D)", [v[m] for v in toy_rows["cGAN (concat D)"]],
                   m, higher)


ac, cg = [v["other_side"] for v in toy_rows["AC-GAN"]], [v["other_side"] for v in toy_rows["cGAN (concat D)"]]
biased = separated(ac, cg) and sum(ac) / len(ac) < sum(cg) / len(cg)
display(Markdown(
    "**Measured on the overlapping classes:**\n\n"
    + "\n".join(f"- {toy_verdict(a, m)}" for a in ("AC-GAN", "cGAN (projection D)")
                 for m in ("other_side", "spread_x1", "spread_x2"))
    + f"\n\nThe real data put {toy_real['other_side']:.1%} of each class beyond the boundary "
    f"(exactly {other_side_fraction():.1%}). "
    + ("AC-GAN puts measurably fewer of its samples there than the cGAN: it pulls each class away "
       "from the boundary, as Shu et al. (2017) predict." if biased else
       "At this scale AC-GAN's samples are not measurably further from the boundary than the cGAN's: "
       "this run does not reproduce the bias Shu et al. (2017) describe.")))

# %% [markdown]
# Asserted, because every seed we ran agrees by a wide margin: AC-GAN leaves fewer than half
# the real share of its samples on the other side of the boundary.

# %%
for v in toy_rows["AC-GAN"]:
    assert v["other_side"] < 0.5 * other_side_fraction(), v

# %% [markdown]
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
    modules={"G": G_bug, "D": D_bug}, optimizers={"G": og, "D": od},
    checkpoint=ganlib.checkpoint_path("02_acgan", "pitfall_wrong_labels.pt", PROFILE), desc="AC-GAN with the wrong labels")
bug_accuracy = conditional_accuracy(judge, *cgan.generate_per_class(G_bug, cfg.n_eval))
print(f"wrong labels for the fakes: conditional accuracy {bug_accuracy:.1%}")
assert bug_accuracy < 0.3

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
# agree on an arbitrary labelling that has nothing to do with real digits. We ran it above, as
# the third row of the table (`acgan_step(..., real_class_loss=False)`, same everything else):

# %%
if cfg.dataset == "digits":
    no_real = [v["accuracy"] for v in rows["AC-GAN, no class loss on real"]]
    print(verdict("AC-GAN", [v["accuracy"] for v in rows["AC-GAN"]], "AC-GAN without the class loss on real",
                  no_real, "conditional accuracy"))
    print("per seed:", ", ".join(f"{a:.1%}" for a in no_real))

# %% [markdown]
# ## Summary
#
# - AC-GAN's $D$ has a source head and a class head; $D$ maximises $L_S + L_C$, $G$ maximises
#   $L_C - L_S$; the class loss applies to real images (true labels) and fakes (their labels).
# - On the digits, with the same $G$, budget and seeds, compare cGAN and AC-GAN on accuracy,
#   diversity, precision and recall in the seeded table; the verdicts are computed from the spread.
# - The critique (Shu et al. 2017; Gong et al. 2019): the class term rewards easy samples and
#   can shrink the diversity within a class, most visibly where classes overlap: the 2-D toy
#   with overlapping classes measures it where it should appear.

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
