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
# # 7. Measuring GANs: FID, IS and KID
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/ganbook/ganbook/blob/main/notebooks/07_fid_is.ipynb)
#
# **What you will build.** The three numbers that GAN papers report, from scratch: the
# **Fréchet Inception Distance** (FID; Heusel et al. 2017), the **Inception Score** (IS;
# Salimans et al. 2016) and the **Kernel Inception Distance** (KID; Bińkowski et al. 2018),
# each checked against a known value and against `ganlib.metrics`, which in turn agrees
# with pytorch-fid, torch-fidelity and torchmetrics (see `tests/test_metrics.py`); we time it
# against all three below. FID mixes two failures into one number, so we add the metrics that
# keep them apart: **precision and recall** (Kynkäänniemi et al. 2019) and **density and
# coverage** (Naeem et al. 2020). Then we test the metrics themselves: we reproduce, at toy
# scale, Heusel et al.'s experiment in which FID rises as real images are disturbed more and
# more (all six disturbances), we watch FID's bias at small sample sizes next to KID, which has
# none, remove it by extrapolation (FID∞, IS∞; Chong & Forsyth 2020), and walk through the
# mistakes that make published numbers incomparable.
#
# **Learning objectives.** After this chapter you can
# - derive FID as the Fréchet (2-Wasserstein) distance between two Gaussians and compute
#   $\operatorname{tr}(\Sigma_1\Sigma_2)^{1/2}$ stably and fast;
# - compute IS with splits (and say why 1 and 10 splits differ), and spot the reversed-KL and
#   missing-softmax bugs;
# - explain why FID is biased at small N and why KID is not, and extrapolate FID∞ and IS∞;
# - separate fidelity from diversity with precision / recall and density / coverage;
# - say which choices (network, weights, resizer, N) must match before two FIDs can be compared.
#
# **Prerequisites.** Chapter 0 (GANs, profiles); means, covariances and eigenvalues; the
# KL divergence.

# %%
import sys
if "google.colab" in sys.modules:  # on Colab only: install ganlib from the book's repository
    import subprocess
    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "git+https://github.com/ganbook/ganbook"], check=True)
    # Checkpoints outlive a runtime reset on Google Drive (ganlib.checkpoint_dir uses it once mounted):
    # from google.colab import drive; drive.mount("/content/drive")

# %%
import time
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import scipy.linalg
import torch
import torch.nn.functional as F

import ganlib
import ganlib.classifier
import ganlib.metrics as metrics
from ganlib import viz
from ganlib.data import TensorBatches, registry
from ganlib.metrics.disturbances import DISTURBANCES
from ganlib.train import fit

device = ganlib.setup(seed=0)


# %%
@dataclass
class MetricsConfig:
    dataset: str = "digits"            # "digits" (bundled, offline) or "mnist" (downloaded)
    image_size: int = 16               # the offline extractor works at 8, 16 or 32 px
    extractor: str = "offline"         # "offline": the digit classifier; "inception": the published FID network
    sample_sizes: tuple = (25, 50, 100, 200, 400, 800)  # for the sample-size bias plot
    bias_repeats: int = 30             # random draws per sample size
    kid_subsets: int = 20              # KID subsets (the paper and torch-fidelity use 100 of 1,000)
    gan_steps: int = 4000              # a small GAN to follow with FID during training
    gan_hidden: int = 256
    batch_size: int = 64
    lr: float = 1e-3                   # Adam, beta1 = 0.5 (as in chapter 0)
    infinity_sizes: tuple = (250, 500, 1000, 2000, 4000)  # generated N for FID∞ / IS∞
    infinity_repeats: int = 3          # draws per N for FID∞ / IS∞
    bench_dim: int = 2048              # the FID timing: feature dimension d ...
    bench_n: int = 5000                # ... and N, as in benchmarks/fid_speed.py
    bench_threads: int = 2
    bench_repeats: int = 1


# %% tags=["parameters"]
PROFILE = ""   # "ci", "cpu" or "gpu"; "" = GANLIB_PROFILE, else chosen automatically

# %%
PROFILE = ganlib.get_profile(PROFILE)
cfg = ganlib.choose(PROFILE,
                    ci=MetricsConfig(sample_sizes=(25, 100, 400), bias_repeats=20, kid_subsets=10,
                                     gan_steps=1000, infinity_sizes=(200, 400, 800, 1600), infinity_repeats=1,
                                     bench_dim=512, bench_n=2000),
                    cpu=MetricsConfig(),
                    gpu=MetricsConfig(dataset="mnist", extractor="inception", image_size=32,
                                      sample_sizes=(100, 500, 1000, 2000, 5000), gan_steps=10000,
                                      infinity_sizes=(5000, 10000, 20000, 30000, 50000)))
print(f"profile: {PROFILE}")
print(cfg)

# %% [markdown]
# ## The idea
#
# A generator is good when its samples look like the data *and* cover it. Comparing pixels
# is hopeless, so all three metrics first map each image $x$ to features $f(x)$ of a
# classifier trained on real images (Inception-v3 on ImageNet in papers; here a small digit
# classifier, see below), then compare the two clouds of features.
#
# **FID** fits a Gaussian to each cloud — mean $\mu_r$, covariance $\Sigma_r$ for real
# features (`mu1, sigma1`), $\mu_g, \Sigma_g$ for generated ones (`mu2, sigma2`) — and
# takes the squared Fréchet distance between them:
#
# $$\mathrm{FID} = \lVert\mu_r-\mu_g\rVert_2^2 + \operatorname{tr}\bigl(\Sigma_r+\Sigma_g-2(\Sigma_r\Sigma_g)^{1/2}\bigr).$$
#
# Lower is better; 0 means equal means and covariances.
#
# **IS** uses the classifier's class probabilities $p(y\mid x)$ (`softmax(logits)`) and
# their average $p(y)$ over the samples:
#
# $$\mathrm{IS} = \exp\bigl(\mathbb E_x\,\mathrm{KL}(p(y\mid x)\,\Vert\,p(y))\bigr)\in[1, K],$$
#
# high when every sample is classified confidently and the classes are balanced. It never
# looks at real images.
#
# **KID** is the squared maximum mean discrepancy with the kernel
# $k(a,b) = (a^\top b/d + 1)^3$ (`polynomial_kernel`), estimated without bias:
#
# $$\mathrm{KID} = \tfrac{1}{m(m-1)}\!\sum_{i\neq j}\!k(x_i,x_j) + \tfrac{1}{m(m-1)}\!\sum_{i\neq j}\!k(y_i,y_j) - \tfrac{2}{m^2}\!\sum_{i,j}k(x_i,y_j).$$
#
# ```
# images ──► feature extractor f ──► features (N, d) ──► mean, covariance ──► FID
#                                 │                  └─► kernel matrices  ──► KID
#                                 └─► logits (N, K) ──► softmax, splits   ──► IS
# ```

# %% [markdown]
# ## Build it step by step
#
# ### Feature statistics
# The mean and the unbiased covariance (divide by $N-1$), in float64.

# %%
def statistics(features):
    f = np.asarray(features, dtype=np.float64)
    mu = f.mean(axis=0)
    centred = f - mu
    return mu, centred.T @ centred / (len(f) - 1)


rng = np.random.default_rng(0)
feats_a = rng.normal(size=(500, 16))
feats_b = rng.normal(size=(500, 16)) * 1.5 + 0.3
mu_a, sigma_a = statistics(feats_a)
mu_b, sigma_b = statistics(feats_b)
assert mu_a.shape == (16,) and sigma_a.shape == (16, 16)
assert np.allclose(sigma_a, np.cov(feats_a, rowvar=False))
# the same as ganlib's
lib_mu, lib_sigma = metrics.feature_statistics(feats_a)
assert np.allclose(lib_mu, mu_a) and np.allclose(lib_sigma, sigma_a)
print("statistics ok")


# %% [markdown]
# ### The Fréchet distance, textbook version
# The formula as written, with `scipy.linalg.sqrtm` for the matrix square root (this is what
# pytorch-fid does). Check it on one dimension, where it reduces to
# $(m_1-m_2)^2 + (s_1-s_2)^2$ for standard deviations $s_1, s_2$.

# %%
def frechet_distance_sqrtm(mu1, sigma1, mu2, sigma2):
    diff = mu1 - mu2
    covmean = scipy.linalg.sqrtm(sigma1 @ sigma2)
    covmean = np.real(covmean)  # sqrtm of a non-symmetric matrix may return round-off imaginary parts
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))


assert np.isclose(frechet_distance_sqrtm(np.array([1.0]), np.array([[4.0]]),
                                         np.array([3.0]), np.array([[9.0]])), (1 - 3) ** 2 + (2 - 3) ** 2)
print("FID(a, b) =", frechet_distance_sqrtm(mu_a, sigma_a, mu_b, sigma_b))


# %% [markdown]
# ### Faster and always real: a symmetric eigenvalue problem
# We need only the *trace* of $(\Sigma_1\Sigma_2)^{1/2}$, i.e. the sum of the square roots of
# the eigenvalues of $\Sigma_1\Sigma_2$. Write $\Sigma_1 = LL^\top$ (Cholesky). Then
# $\Sigma_1\Sigma_2 = L(L^\top\Sigma_2 L)L^{-1}$ has the same eigenvalues as the *symmetric*
# positive semi-definite matrix $M = L^\top \Sigma_2 L$, so
#
# $$\operatorname{tr}(\Sigma_1\Sigma_2)^{1/2} = \sum_i \sqrt{\lambda_i(M)}.$$
#
# Symmetric eigenvalues are real (no complex round-off), and computing them without
# eigenvectors costs a fraction of `sqrtm` (a Schur decomposition) or `eigvals` of a
# non-symmetric matrix. `ganlib` uses LAPACK's *pivoted* Cholesky, which also works when
# $\Sigma_1$ is singular (fewer samples than dimensions).

# %%
def frechet_distance_eig(mu1, sigma1, mu2, sigma2):
    L = np.linalg.cholesky(sigma1)
    M = L.T @ sigma2 @ L
    eig = np.linalg.eigvalsh((M + M.T) / 2).clip(min=0)
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * np.sqrt(eig).sum())


ours = frechet_distance_eig(mu_a, sigma_a, mu_b, sigma_b)
assert np.isclose(ours, frechet_distance_sqrtm(mu_a, sigma_a, mu_b, sigma_b), rtol=1e-9)
assert abs(frechet_distance_eig(mu_a, sigma_a, mu_a, sigma_a)) < 1e-9  # identical inputs: 0
# the same as ganlib's
assert np.isclose(ours, metrics.frechet_distance(mu_a, sigma_a, mu_b, sigma_b), rtol=1e-9)
print(f"FID(a, b) = {ours:.6f}")

# %% [markdown]
# **How much faster?** `ganlib.metrics.speed.time_frechet_distances` (the measurement of
# `benchmarks/fid_speed.py`) runs all four on the same statistics, with the same threads, and
# reports CPU seconds (the work done; wall-clock time on a shared machine is inflated by other
# processes). The published setting is $d = 2048$, $N = 5000$; the `ci` profile times a
# smaller $d$ to stay quick, and says so.

# %%
from ganlib.metrics.speed import format_speed_table, machine_description, time_frechet_distances

speed = time_frechet_distances(cfg.bench_dim, cfg.bench_n, repeats=cfg.bench_repeats, threads=cfg.bench_threads)
setting = (f"d = {cfg.bench_dim}, N = {cfg.bench_n}, {cfg.bench_threads} threads, best of {cfg.bench_repeats}"
           + ("" if (cfg.bench_dim, cfg.bench_n) == (2048, 5000) else
              " (NOT the published d = 2048, N = 5000: this profile times a smaller problem)"))
print(f"Fréchet distance, {setting}\nmachine: {machine_description()}")
print(format_speed_table(speed))
cpu_ratio = {name: t_cpu / speed["ganlib"][2] for name, (_, _, t_cpu) in speed.items() if name != "ganlib"}
slower = [name for name, r in cpu_ratio.items() if r <= 1]
print("ganlib in CPU seconds: " + ", ".join(f"{r:.1f}x faster than {name}" for name, r in cpu_ratio.items())
      + ("" if not slower else f"; NOT faster than {', '.join(slower)} here"))
assert all(abs(v - speed["ganlib"][0]) <= 1e-6 * abs(v) for v, _, _ in speed.values()), "the four must agree"

# %% [markdown]
# ### The Inception Score
# Softmax of the logits, the marginal $p(y)$ per split, the KL *from* $p(y\mid x)$ *to*
# $p(y)$, exponentiated; splits are consecutive chunks (no shuffling). Hand case:
# $p(y\mid x) = [.9,.1]$ and $[.2,.8]$ give $p(y) = [.55, .45]$ and
# $\mathrm{IS} = \exp\bigl(\tfrac12[\mathrm{KL}([.9,.1]\Vert[.55,.45]) + \mathrm{KL}([.2,.8]\Vert[.55,.45])]\bigr)$,
# which the cell checks to ten decimals. Everything stays in log space (`log_softmax`): with
# sharp logits some probabilities underflow to 0, and `log(0)` would turn the score into NaN.

# %%
def inception_score_inline(logits, splits=10):
    logits = torch.as_tensor(logits, dtype=torch.float64)
    n = len(logits)
    log_p = torch.log_softmax(logits, dim=1)                     # log p(y|x)
    scores = []
    for i in range(splits):
        chunk = log_p[i * n // splits:(i + 1) * n // splits]
        log_py = torch.log(chunk.exp().mean(0, keepdim=True))    # log p(y) of this split
        kl = (chunk.exp() * (chunk - log_py)).sum(1)             # KL(p(y|x) || p(y))
        scores.append(kl.mean().exp().item())
    return float(np.mean(scores)), float(np.std(scores))


hand = np.log(np.array([[0.9, 0.1], [0.2, 0.8]]))
assert abs(inception_score_inline(hand, splits=1)[0] - 1.3170522760) < 1e-9
confident = torch.full((100, 10), -20.0)
confident[torch.arange(100), torch.arange(100) % 10] = 20.0   # balanced and confident over K = 10
assert abs(inception_score_inline(confident)[0] - 10) < 1e-6
logits = torch.randn(200, 10) * 3
assert np.allclose(inception_score_inline(logits), metrics.inception_score(logits), rtol=1e-10)
print("IS ok:", metrics.inception_score(logits))

# %% [markdown]
# **Why splits, and why the number of splits matters.** $p(y)$ is *estimated* from the split's
# own samples, and each sample pulls that estimate towards itself, so each KL is a little too
# small; the smaller the split, the more. IS is therefore biased downwards at small split sizes,
# and **IS with 1 split and IS with 10 splits of the same N are different numbers**. The protocol
# of Salimans et al. (2016, their released code): 50,000 samples, 10 splits of 5,000, report the
# mean ± standard deviation over splits. FID's protocol (Heusel et al. 2017, the TTUR code):
# 50,000 generated samples against the statistics of the training set. Numbers computed another
# way are not comparable with published ones. The cell: random logits for 1000 classes, N = 5000.

# %%
random_logits = torch.randn(5000, 1000, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 3
is_splits = {k: metrics.inception_score(random_logits, splits=k) for k in (1, 10)}
for k, (m, sd) in is_splits.items():
    print(f"N = 5000, {k:>2} split(s) of {5000 // k}: IS = {m:.2f} ± {sd:.2f}")
print(f"one split is {is_splits[1][0] - is_splits[10][0]:.2f} higher: splits of {5000 // 10} estimate p(y) "
      "from fewer samples, which pulls each KL down")
se_10 = is_splits[10][1] / np.sqrt(10)  # standard error of the 10-split mean
print(f"the gap is {(is_splits[1][0] - is_splits[10][0]) / se_10:.1f} standard errors of the 10-split mean")
assert is_splits[1][0] > is_splits[10][0] + 3 * se_10, "1 and 10 splits should differ beyond the standard error"


# %% [markdown]
# ### The Kernel Inception Distance
# The unbiased MMD² leaves out the diagonals $k(x_i, x_i)$, which is what removes the bias.

# %%
def kid_inline(x, y):
    x, y = torch.as_tensor(x, dtype=torch.float64), torch.as_tensor(y, dtype=torch.float64)
    d, m = x.shape[1], len(x)
    k = lambda a, b: (a @ b.T / d + 1) ** 3  # noqa: E731
    kxx, kyy, kxy = k(x, x), k(y, y), k(x, y)
    return float((kxx.sum() - kxx.trace() + kyy.sum() - kyy.trace()) / (m * (m - 1)) - 2 * kxy.mean())


kid_ab = kid_inline(feats_a[:200], feats_b[:200])
assert kid_ab > 0 and abs(kid_inline(feats_a[:200], feats_a[200:400])) < 0.1 * kid_ab
# ganlib averages over random subsets; one subset with all samples is the inline number
assert np.isclose(metrics.kernel_inception_distance(feats_a[:200], feats_b[:200], subsets=1, subset_size=200)[0],
                  kid_ab, rtol=1e-10)
print(f"KID(a, b) = {kid_ab:.4f}")

# %% [markdown]
# ### The feature extractor
#
# **Published FIDs** use the TensorFlow Inception-v3 graph of 2015-12-05 (pool features,
# $d = 2048$; 1008 logits for IS). `ganlib.metrics.FIDInceptionV3` rebuilds it with the
# module names of the published PyTorch weights `pt_inception-2015-12-05-6726825d.pth`
# (downloaded once, sha256-checked, by `ganlib.metrics.fid_inception_extractor()`), and
# differs from torchvision's `inception_v3` where the 2015 graph does: 1008 classes, average
# pools that ignore padding, a *max* pool in the last block. Its preprocessing follows
# pytorch-fid: bilinear resize to 299×299 without antialiasing, then $[-1, 1]$. On the same
# (random) weights its pool features equal pytorch-fid's and torch-fidelity's
# (`tests/test_inception.py`). Here we only build it (no download) and look at the shapes:

# %%
with torch.device("meta"):  # shapes only: no memory, no time
    inception = metrics.FIDInceptionV3()
print(f"FID Inception: {ganlib.count_parameters(inception):,} parameters "
      "(torchvision's inception_v3 without aux head: 23,834,568, plus 8 more classes)")
assert ganlib.count_parameters(inception) == 23_850_960
print(list(inception.state_dict())[:3], "...")
print(metrics.preprocess_for_inception(torch.zeros(2, 1, 16, 16)).shape, "-> pool (N, 2048), logits (N, 1008)")

# %% [markdown]
# **On a CPU** the 299×299 Inception is too slow, and offline it cannot be downloaded, so this
# chapter's default extractor is the book's small digit classifier
# (`ganlib.classifier.pretrained_classifier`, trained once on the training digits and cached;
# 128-d penultimate features, 10 logits). Everything below carries over; **its numbers are not
# comparable with published FIDs** — only with numbers from the same extractor, image size
# and sample size. The `gpu` profile switches to MNIST and the real Inception.

# %%
if cfg.extractor == "offline":
    extractor = metrics.offline_extractor(image_size=cfg.image_size, dataset=cfg.dataset, device=device)
    print(f"{extractor.name}: held-out accuracy {extractor.test_accuracy:.1%} -- NOT comparable with published FIDs")
else:
    extractor = metrics.fid_inception_extractor(device=device)  # downloads 96 MB once, checks the sha256


def features(images):
    return metrics.extract_features(extractor, images, batch_size=256)


def logits_of(images):
    return metrics.extract_features(extractor.logits, images.to(device), batch_size=256)


# %% [markdown]
# ## Data
# The bundled digits (1,797 real 8×8 scans, upsampled); `dataset="mnist"` in the parameters
# switches to MNIST. The training split is the "real" reference set; the test split plays
# the part of a perfect generator.

# %%
real, real_labels = registry.load_labelled(cfg.dataset, train=True, size=cfg.image_size)
held_out, held_out_labels = registry.load_labelled(cfg.dataset, train=False, size=cfg.image_size)
real_feats, held_out_feats = features(real), features(held_out)
print(f"real {tuple(real.shape)}, held out {tuple(held_out.shape)}, features {tuple(real_feats.shape)}")
viz.show_grid(held_out[:32], nrow=16, title="held-out real images")
plt.show()

# %% [markdown]
# ## Train: follow a small GAN with FID and KID
# The chapter-0 MLP GAN on the same images. We keep a fixed batch of samples every few steps
# and measure them afterwards against the real features.

# %%
torch.manual_seed(0)
pixels = cfg.image_size ** 2
G = ganlib.models.MLPGenerator(z_dim=32, out_dim=pixels, hidden=cfg.gan_hidden, layers=3,
                               out_activation="tanh").to(device)
D = ganlib.models.MLPDiscriminator(in_dim=pixels, hidden=cfg.gan_hidden, layers=3).to(device)
opt_g = torch.optim.Adam(G.parameters(), lr=cfg.lr, betas=(0.5, 0.999))
opt_d = torch.optim.Adam(D.parameters(), lr=cfg.lr, betas=(0.5, 0.999))
z_fixed = torch.randn(len(held_out), 32, generator=torch.Generator().manual_seed(1)).to(device)


def sample(n=None):
    z = z_fixed if n is None else torch.randn(n, 32, device=device)
    with torch.no_grad():
        return G(z).view(-1, 1, cfg.image_size, cfg.image_size).cpu()


untrained = sample()
history = fit(lambda batch: ganlib.models.mlp_gan.gan_step(G, D, opt_g, opt_d, batch[0].flatten(1)),
              TensorBatches(real, batch_size=cfg.batch_size, seed=0, device=device), cfg.gan_steps,
              modules={"G": G, "D": D}, optimizers={"G": opt_g, "D": opt_d},
              snapshot_fn=sample, snapshot_every=max(1, cfg.gan_steps // 5),
              checkpoint=ganlib.checkpoint_path("07_fid_is", "mlp_gan.pt", PROFILE), desc="MLP GAN")
viz.plot_losses(history)
plt.show()

# %%
track = [(0, untrained)] + [(s, img) for s, img in history.snapshots]
fid_track = [metrics.fid_from_features(real_feats, features(img)) for _, img in track]
kid_track = [metrics.kernel_inception_distance(real_feats, features(img), subsets=cfg.kid_subsets,
                                               subset_size=len(held_out) // 2)[0] for _, img in track]
fig, ax = plt.subplots(1, 2, figsize=(9, 3))
ax[0].plot([s for s, _ in track], fid_track, "o-"); ax[0].set(xlabel="step", ylabel="FID", yscale="log")
ax[1].plot([s for s, _ in track], kid_track, "o-"); ax[1].set(xlabel="step", ylabel="KID", yscale="log")
plt.tight_layout(); plt.show()
assert fid_track[-1] < 0.5 * fid_track[0], "FID should fall as the GAN trains"

# %% [markdown]
# ## Look: the disturbances of Heusel et al. (2017)
# To check that FID measures visual quality, Heusel et al. disturbed real images with
# increasing strength and verified that FID rises. They used six disturbances; five act on each
# image (`ganlib.metrics.disturbances`), with their strengths: Gaussian noise mixed in, Gaussian
# blur, five black rectangles, swirl and salt-and-pepper noise. The sixth mixes images of
# *another data set* into the real ones (ImageNet into CelebA in the paper); we come to it after
# the five.

# %%
rows = []
for name, (fn, alphas) in DISTURBANCES.items():
    rows.append(torch.cat([fn(held_out[:4], a) for a in alphas]))
viz.show_grid(torch.cat(rows), nrow=16, row_labels=list(DISTURBANCES),
              title="strength rises to the right (4 images per strength)")
plt.show()

# %% [markdown]
# ## Measure
# ### FID rises with every disturbance
# FID between the real (training) images and the disturbed held-out images; strength 0 is the
# FID of two real samples, our baseline.

# %%
table = {}
for name, (fn, alphas) in DISTURBANCES.items():
    table[name] = [metrics.fid_from_features(real_feats, features(fn(held_out, a))) for a in alphas]
fig, axes = plt.subplots(1, 5, figsize=(15, 2.8))
for ax, (name, values) in zip(axes, table.items()):
    ax.plot(DISTURBANCES[name][1], values, "o-"); ax.set(title=name, xlabel="strength", ylabel="FID")
plt.tight_layout(); plt.show()
print(f"{'disturbance':<18}" + "".join(f"{'level ' + str(i):>10}" for i in range(4)))
for name, values in table.items():
    print(f"{name:<18}" + "".join(f"{v:>10.2f}" for v in values))
    assert all(b > a for a, b in zip(values, values[1:])), f"FID does not rise with {name}"
print(f"\nGAN after {cfg.gan_steps} steps: FID {fid_track[-1]:.2f}   untrained G: {fid_track[0]:.2f}   "
      f"real vs real: {table['gaussian noise'][0]:.2f}")

# %% [markdown]
# **The sixth disturbance: another data set mixed in.** Here the "data set" is the digits 0–8
# and the contaminant another class, the 9s: the reference statistics come from the training
# digits 0–8, and a growing fraction (the paper's 0, 0.25, 0.5, 0.75) of held-out digits 0–8 is
# replaced by 9s (`ganlib.metrics.disturbances.mix_in`; the number of images stays fixed).

# %%
from ganlib.metrics.disturbances import MIX_IN_FRACTIONS, mix_in

contaminant = 9
reference_08 = features(real[real_labels != contaminant])
nines = torch.cat([real[real_labels == contaminant], held_out[held_out_labels == contaminant]])
base_08 = held_out[held_out_labels != contaminant]
base_08 = base_08[:min(len(base_08), int(len(nines) / MIX_IN_FRACTIONS[-1]))]
table["mixed in: 9s"] = [metrics.fid_from_features(reference_08, features(mix_in(base_08, nines, a)))
                         for a in MIX_IN_FRACTIONS]
print(f"{'mixed in: 9s':<18}" + "".join(f"{v:>10.2f}" for v in table["mixed in: 9s"])
      + f"   (fractions {MIX_IN_FRACTIONS}, N = {len(base_08)})")
assert all(b > a for a, b in zip(table["mixed in: 9s"], table["mixed in: 9s"][1:])), "FID should rise with the mix"

# %% [markdown]
# ### Sample-size bias: FID vs KID
# Draw two samples of size N from the *same* distribution (all real digits) and compute FID and
# KID. The true value of both is 0. FID's estimate is biased upwards — by roughly $c/N$ — so
# FIDs computed with different N cannot be compared. KID's estimate is unbiased: it
# scatters around 0 at every N.

# %%
import warnings

pool = torch.cat([real_feats, held_out_feats])
gen = torch.Generator().manual_seed(0)
ns = [n for n in cfg.sample_sizes if 2 * n <= len(pool)]
fid_draws, kid_draws = {n: [] for n in ns}, {n: [] for n in ns}
for n in ns:
    for _ in range(cfg.bias_repeats):
        perm = torch.randperm(len(pool), generator=gen)
        a, b = pool[perm[:n]], pool[perm[n:2 * n]]
        fid_draws[n].append(metrics.fid_from_features(a, b))
        with warnings.catch_warnings():  # tiny subsets warn; here we average many draws on purpose
            warnings.filterwarnings("ignore", message="KID on subsets of")
            kid_draws[n].append(metrics.kernel_inception_distance(a, b, subsets=1, subset_size=n)[0])
mean_fid = {n: np.mean(v) for n, v in fid_draws.items()}
mean_kid = {n: np.mean(v) for n, v in kid_draws.items()}
se_kid = {n: np.std(v, ddof=1) / np.sqrt(len(v)) for n, v in kid_draws.items()}
kid_noise = metrics.kernel_inception_distance(real_feats, features(DISTURBANCES["gaussian noise"][0](held_out, 0.25)),
                                              subsets=cfg.kid_subsets, subset_size=len(held_out) // 2)[0]
fig, ax = plt.subplots(1, 2, figsize=(9, 3))
ax[0].plot(ns, [mean_fid[n] for n in ns], "o-"); ax[0].set(xscale="log", xlabel="N", ylabel="FID (true value 0)")
ax[1].errorbar(ns, [mean_kid[n] for n in ns], yerr=[2 * se_kid[n] for n in ns], fmt="o-", capsize=3)
ax[1].axhline(0, color="k", lw=0.5)
ax[1].set(xscale="log", xlabel="N", ylabel="KID (true value 0), ±2 s.e.")
plt.tight_layout(); plt.show()
print(f"(for scale: FID of real vs noise 0.25 is {table['gaussian noise'][1]:.1f}, KID {kid_noise:.3f})")
for n in ns:
    print(f"N = {n:>4}: FID {mean_fid[n]:8.2f}   KID {mean_kid[n]:+.4f} ± {se_kid[n]:.4f} "
          f"(mean of {cfg.bias_repeats} draws ± standard error)")
assert mean_fid[ns[0]] > 3 * mean_fid[ns[-1]], "FID should shrink with N"
assert all(abs(mean_kid[n]) < 3 * se_kid[n] for n in ns), "KID should be 0 within its standard error"

# %% [markdown]
# KID is unbiased but not free: at small N its *variance* is large (the error bars), so
# report it with its standard deviation over subsets, as `kernel_inception_distance` returns;
# below 50 samples per subset it warns (the bias cell above silences that warning: it averages
# many draws on purpose, to show the mean).

# %% [markdown]
# ### FID∞ and IS∞: extrapolate the bias away (Chong & Forsyth 2020)
# FID computed from N samples is, to first order, $\mathrm{FID}_N = \mathrm{FID}_\infty + c/N$.
# Chong & Forsyth compute FID at several N, fit a line in $1/N$ and report its intercept,
# $\mathrm{FID}_\infty$, the value at infinitely many samples (the same for IS). First on the
# bias plot's draws, where the true value is 0; then for the trained GAN, whose samples we can
# draw in any number, against the fixed statistics of all real training images.

# %%
def extrapolate(sizes, values):
    """Least-squares line value = intercept + slope / N; returns (intercept, slope)."""
    slope, intercept = np.polyfit(1.0 / np.asarray(sizes, dtype=float), np.asarray(values), 1)
    return float(intercept), float(slope)


fid_inf_same, _ = extrapolate(ns, [mean_fid[n] for n in ns])
print(f"two samples of the same digits (true FID 0): FID at N = {ns[-1]} is {mean_fid[ns[-1]]:.2f}, "
      f"FID∞ = {fid_inf_same:.2f}")
assert abs(fid_inf_same) < 0.5 * mean_fid[ns[-1]], "the extrapolation should remove most of the bias"

torch.manual_seed(2)
sizes = [n for n in cfg.infinity_sizes]
fid_n = {n: np.mean([metrics.fid_from_features(real_feats, features(sample(n))) for _ in range(cfg.infinity_repeats)])
         for n in sizes}
is_n = {n: np.mean([metrics.inception_score(logits_of(sample(n)), splits=1)[0] for _ in range(cfg.infinity_repeats)])
        for n in sizes}
fid_inf, fid_slope = extrapolate(sizes, [fid_n[n] for n in sizes])
is_inf, is_slope = extrapolate(sizes, [is_n[n] for n in sizes])
fig, ax = plt.subplots(1, 2, figsize=(9, 3))
for a, vals, inf, name in ((ax[0], fid_n, fid_inf, "FID"), (ax[1], is_n, is_inf, "IS (1 split)")):
    x = 1.0 / np.asarray(sizes)
    a.plot(x, [vals[n] for n in sizes], "o", label="measured")
    a.plot(np.r_[0, x], inf + np.r_[0, x] * extrapolate(sizes, [vals[n] for n in sizes])[1], "--", label="fit")
    a.set(xlabel="1 / N", ylabel=name, title=f"{name}∞ = {inf:.2f}"); a.legend()
plt.tight_layout(); plt.show()
for n in sizes:
    print(f"N = {n:>5}: FID {fid_n[n]:8.2f}   IS {is_n[n]:6.3f}")
print(f"FID∞ = {fid_inf:.2f} (slope {fid_slope:.0f}),  IS∞ = {is_inf:.3f} (slope {is_slope:.1f}); "
      f"{cfg.infinity_repeats} draw(s) per N")
assert fid_slope > 0, "FID is biased upwards: it should fall with N"

# %% [markdown]
# ### Fidelity and diversity apart: precision, recall, density, coverage
# FID rises both when samples look wrong and when kinds of real images are missing. The
# k-nearest-neighbour metrics keep the two apart. Around each feature vector put the ball
# whose radius is the distance to its k-th nearest neighbour in its own set:
#
# - **precision** (Kynkäänniemi et al. 2019): the fraction of generated samples inside some
#   real ball — *do the samples look real?*
# - **recall**: the fraction of real samples inside some generated ball — *is every kind of
#   real image generated?*
# - **density** and **coverage** (Naeem et al. 2020) use only the real balls, which an outlier
#   among the generated samples cannot inflate: density counts how many real balls hold each
#   sample (divided by k; about 1 for a perfect generator), coverage is the fraction of real
#   balls that hold at least one sample.
#
# `ganlib.metrics.precision_recall` (k = 3, closed balls) counts the same points as
# torch-fidelity's code, and `density_coverage` (k = 5) gives the numbers of the authors' `prdc`
# package (`tests/test_precision_recall.py`). Both sets get the same N here (the papers use
# 50,000 and 10,000); the rows are the perfect generator (held-out digits), one that drops half
# the classes, one whose samples are noisy, the collapsed "ten copied images" of pitfall 4
# below, and our GAN.

# %%
gen_pr = torch.Generator().manual_seed(3)
n_pr = len(held_out)
real_ref = real_feats[torch.randperm(len(real_feats), generator=gen_pr)[:n_pr]]
half_classes = held_out[held_out_labels < 5]
candidates = {
    "held-out real (perfect)": held_out,
    "classes 0-4 only": half_classes[torch.randint(len(half_classes), (n_pr,), generator=gen_pr)],
    "noise 0.5": DISTURBANCES["gaussian noise"][0](held_out, 0.5),
    "ten copied images": torch.stack([held_out[held_out_labels == k][0] for k in range(10)]).repeat(
        n_pr // 10 + 1, 1, 1, 1)[:n_pr],
    "GAN": sample(n_pr),
}
pr_table = {}
for name, images in candidates.items():
    f = features(images)
    pr_table[name] = (metrics.fid_from_features(real_ref, f), *metrics.precision_recall(real_ref, f),
                      *metrics.density_coverage(real_ref, f))
print(f"N = {n_pr} each; precision / recall k = 3, density / coverage k = 5")
print(f"{'samples':<26}{'FID':>9}{'precision':>11}{'recall':>9}{'density':>9}{'coverage':>10}")
for name, (fd, p, r, dn, cv) in pr_table.items():
    print(f"{name:<26}{fd:>9.2f}{p:>11.3f}{r:>9.3f}{dn:>9.3f}{cv:>10.3f}")
perfect, dropped, noisy, copied = (pr_table[k] for k in list(candidates)[:4])
print(f"dropping half the classes keeps precision at {dropped[1]:.2f} (perfect: {perfect[1]:.2f}) but cuts "
      f"recall to {dropped[2]:.2f} and coverage to {dropped[4]:.2f}; noise cuts precision to {noisy[1]:.2f} "
      f"and density to {noisy[3]:.2f}; ten copies keep precision {copied[1]:.2f} with coverage {copied[4]:.2f}")
assert dropped[1] > 0.8 * perfect[1] and dropped[2] < 0.8 * perfect[2] and dropped[4] < 0.8 * perfect[4]
assert noisy[1] < 0.8 * perfect[1] and noisy[3] < 0.8 * perfect[3]
assert copied[4] < 0.5 * perfect[4] and copied[2] < 0.5 * perfect[2]

# %% [markdown]
# ## Pitfalls
# ### 1. The reversed KL and the missing softmax in the Inception Score
# A popular write-up computes `F.kl_div(p_yx.log(), p_y)`, which is KL(p(y) ‖ p(y|x)) — the
# arguments reversed; on the hand case it gives a different number (the cell prints both).
# The softmax can go missing in two ways. (a) **Raw logits taken as probabilities**: code that
# expects $p(y\mid x)$ is handed the classifier's logits; negative logits make `log` NaN, and
# logits that happen to be positive give a finite number that means nothing (it can exceed
# the bound K). (b) **A softmax applied twice**: probabilities passed where logits are
# expected are flattened by the second softmax, and the score drops; `ganlib` warns.

# %%
p_yx = torch.tensor([[0.9, 0.1], [0.2, 0.8]], dtype=torch.float64)
p_y = p_yx.mean(0, keepdim=True)
correct = torch.exp((p_yx * (p_yx.log() - p_y.log())).sum(1).mean()).item()
reversed_kl = torch.exp((p_y * (p_y.log() - p_yx.log())).sum(1).mean()).item()
print(f"correct IS {correct:.10f}   reversed KL {reversed_kl:.10f}")
assert abs(correct - 1.3170522760) < 1e-9 and abs(reversed_kl - 1.4215100172) < 1e-9
import warnings
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    double_softmax = metrics.inception_score(p_yx, splits=1)[0]  # probabilities passed as logits
print(f"probabilities passed as logits: IS {double_softmax:.4f} (warning: {caught[0].message})")
assert double_softmax < correct and caught


# %%
def is_of_probabilities(p):  # the formula for inputs that are already probabilities (no softmax)
    p_y = p.mean(0, keepdim=True)
    return torch.exp((p * (p.log() - p_y.log())).sum(1).mean()).item()


digit_logits = logits_of(held_out).double()
is_correct = metrics.inception_score(digit_logits, splits=1)[0]
is_raw = is_of_probabilities(digit_logits)                        # (a) logits taken as probabilities
is_raw_positive = is_of_probabilities(digit_logits - digit_logits.min() + 1)  # (a) logits that happen to be > 0
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    is_double = metrics.inception_score(torch.softmax(digit_logits, 1), splits=1)[0]  # (b) softmax twice
print(f"held-out digits, K = 10:  correct IS {is_correct:.3f}")
n_classes = digit_logits.shape[1]
print(f"(a) raw logits as probabilities: IS {is_raw}; shifted to be > 0: IS {is_raw_positive:.3f}"
      + (f", above the bound K = {n_classes}" if is_raw_positive > n_classes else ""))
print(f"(b) softmax applied twice: IS {is_double:.3f}")
assert np.isnan(is_raw) and np.isfinite(is_raw_positive) and abs(is_raw_positive - is_correct) > 0.1 * is_correct
assert is_double < 0.9 * is_correct

# %% [markdown]
# ### 2. FID on the classifier output instead of the pool features
# The classifier's output (10 class probabilities here, 1008 for Inception) keeps little more
# than "which digit, how sure": disturbances that leave the class readable hardly move an
# output-space FID away from its real-vs-real baseline, while the pool features (128-d here,
# 2048-d for Inception) also see *how* the digit is drawn. We print each FID divided by its
# own real-vs-real baseline, so the two columns are on the same footing.

# %%
def probs_of(images):
    return torch.softmax(logits_of(images), dim=1)


real_probs = probs_of(real)
base_f = metrics.fid_from_features(real_feats, held_out_feats)
base_p = metrics.fid_from_features(real_probs, probs_of(held_out))
print(f"{'mild disturbance':<22}{'pool features: FID / baseline':>31}{'output: FID / baseline':>25}")
ratios = {}
for name in ("gaussian blur", "swirl"):
    fn, alphas = DISTURBANCES[name]
    x = fn(held_out, alphas[1])
    ratios[name] = (metrics.fid_from_features(real_feats, features(x)) / base_f,
                    metrics.fid_from_features(real_probs, probs_of(x)) / base_p)
    print(f"{name + ' ' + str(alphas[1]):<22}{ratios[name][0]:>31.1f}{ratios[name][1]:>25.1f}")
assert all(r_out < r_feat for r_feat, r_out in ratios.values()), "the output-space FID should react less"

# %% [markdown]
# ### 3. Different resizers, weights or sample sizes give different FIDs
# The *same* 8×8 digits upsampled to 16 px with two resizers are, for FID, two different
# distributions; the same pair of image sets measured with two different networks gives
# numbers on unrelated scales. (Parmar et al. 2022 found the same for JPEG and resizing
# libraries with Inception; pytorch-fid and torch-fidelity resize differently, so their FIDs
# differ in the decimals.) Sample size: see the bias plot above. Report the extractor, its
# weights, the resizer and N with every FID.

# %%
small, _ = ganlib.data.load_digits(8, "test")
bilinear = F.interpolate((small + 1) / 2, size=(16, 16), mode="bilinear", align_corners=False) * 2 - 1
nearest = F.interpolate(small, size=(16, 16), mode="nearest")
fid_resizers = metrics.fid_from_features(features(bilinear.clamp(-1, 1)), features(nearest))
print(f"same digits, bilinear vs nearest resize: FID {fid_resizers:.2f} (real vs real: {base_f:.2f})")
torch.manual_seed(123)
random_net = ganlib.classifier.DigitClassifier(image_size=cfg.image_size).eval()
noisy = DISTURBANCES["gaussian noise"][0](held_out, 0.25)
with torch.no_grad():
    fid_random = metrics.fid_from_features(random_net.features(real), random_net.features(noisy))
fid_trained = metrics.fid_from_features(real_feats, features(noisy))
print(f"same images (real vs noise 0.25), trained extractor: FID {fid_trained:.2f}; "
      f"randomly initialised extractor: FID {fid_random:.4f}")
assert fid_resizers > 5 * base_f, "two resizers of the same images should look like different data to FID"
assert fid_random < 0.1 * fid_trained, "different weights put FID on a different scale"

# %% [markdown]
# **Quantisation and resizing: what ganlib measures, and how to match a published number.**
# Published FIDs are computed on images *saved as 8-bit files*: the generator's floats are
# quantised to 256 levels (often through PNG or JPEG) before the network sees them. Parmar et al.
# (2022, clean-fid) showed that this quantisation, JPEG compression, and above all the *resizer*
# (PIL's antialiased bicubic, TensorFlow's and PyTorch's non-antialiased bilinear) shift FID by
# amounts comparable to the gaps papers report; clean-fid resizes with antialiasing in float
# ("clean" mode) and offers `legacy_tensorflow` and `legacy_pytorch` modes that reproduce the old
# pipelines. **ganlib measures** the generator's float images in [-1, 1], *not* quantised, resized
# by `preprocess_for_inception` with PyTorch's bilinear interpolation without antialiasing to
# 299×299 (pytorch-fid's choice). To match a published number: quantise first
# (`((x + 1) * 127.5).round()`), use the paper's resizer (or clean-fid's matching mode), its
# network weights and its N. The cell measures what quantisation alone does here.

# %%
def quantise_uint8(x):
    return ((x + 1) * 127.5).round().clamp(0, 255) / 127.5 - 1


fid_float = metrics.fid_from_features(real_feats, held_out_feats)
fid_quantised = metrics.fid_from_features(features(quantise_uint8(real)), features(quantise_uint8(held_out)))
print(f"real vs held-out, float images: FID {fid_float:.3f}; both quantised to uint8: FID {fid_quantised:.3f} "
      f"({100 * (fid_quantised - fid_float) / fid_float:+.2f} %)")

# %% [markdown]
# ### 4. The Inception Score on data that is not ImageNet
# IS asks an ImageNet classifier for ImageNet classes; on digits (or faces, or bedrooms) its
# classes mean nothing, and a K-class classifier caps IS at K. Worse, IS never looks at
# real data: a "generator" that outputs *one* image per class, copied, scores as well as
# real data — FID catches the collapse at once.

# %%
one_per_class = torch.stack([held_out[held_out_labels == k][0] for k in range(10)])
collapsed = one_per_class.repeat(len(held_out) // 10, 1, 1, 1)  # 0, 1, ..., 9, 0, 1, ...
is_real = metrics.inception_score(logits_of(held_out), splits=2)[0]
is_collapsed = metrics.inception_score(logits_of(collapsed), splits=2)[0]
fid_collapsed = metrics.fid_from_features(real_feats, features(collapsed))
print(f"IS: real {is_real:.2f}, ten copied images {is_collapsed:.2f} (max 10)")
print(f"FID: real {base_f:.2f}, ten copied images {fid_collapsed:.2f}")
assert is_collapsed > 0.9 * is_real and fid_collapsed > 5 * base_f

# %% [markdown]
# ### 5. Training-set or test-set reference statistics
# The protocol compares generated samples with statistics of the *training* set. A generator
# that memorised its training images then looks perfect. Statistics of held-out images do not
# reward copying. The cell: reference statistics from training images or from held-out images
# (the same N), and three "generators": one that copies the training reference images, one that
# outputs other real images it never saw, and our GAN.

# %%
gen_ref = torch.Generator().manual_seed(4)
half = len(held_out) // 2
train_idx = torch.randperm(len(real), generator=gen_ref)[:half]
test_perm = torch.randperm(len(held_out), generator=gen_ref)
references = {"train statistics": real_feats[train_idx], "test statistics": held_out_feats[test_perm[:half]]}
generators = {"copies of training images": real_feats[train_idx],
              "unseen real images": held_out_feats[test_perm[half:2 * half]],
              "GAN": features(sample(half))}
ref_table = {g: {r: metrics.fid_from_features(ref, gf) for r, ref in references.items()} for g, gf in generators.items()}
print(f"N = {half} for every set")
print(f"{'generator':<28}" + "".join(f"{r:>18}" for r in references))
for g, row in ref_table.items():
    print(f"{g:<28}" + "".join(f"{v:>18.2f}" for v in row.values()))
copy_row, unseen_row = ref_table["copies of training images"], ref_table["unseen real images"]
print(f"against training statistics the copier scores {copy_row['train statistics']:.2f}, better than unseen real "
      f"images ({unseen_row['train statistics']:.2f}); against test statistics {copy_row['test statistics']:.2f} vs "
      f"{unseen_row['test statistics']:.2f}")
assert copy_row["train statistics"] < 0.5 * unseen_row["train statistics"]
assert copy_row["test statistics"] > 0.5 * unseen_row["test statistics"]

# %% [markdown]
# ## Summary
#
# - FID is the Fréchet distance between Gaussians fitted to real and generated features;
#   compute $\operatorname{tr}(\Sigma_1\Sigma_2)^{1/2}$ from a Cholesky factor and symmetric
#   eigenvalues: real, exact, faster than `sqrtm`.
# - IS = exp of the mean KL(p(y|x) ‖ p(y)) per split, from a softmax of logits; it ignores real
#   data and only makes sense for the classifier's own classes.
# - KID is an unbiased MMD²: ≈ 0 for equal distributions at every N, where FID is biased upwards;
#   FID∞ and IS∞ extrapolate the bias away by a line in 1/N. IS with 1 and 10 splits differ.
# - Precision / recall and density / coverage separate fidelity from diversity, which FID mixes.
# - FID rose monotonically with every one of Heusel et al.'s six disturbances.
# - Two FIDs are comparable only with the same network and weights, the same preprocessing
#   (quantisation, resizer), the same N and the same reference set (training or test). Our
#   offline numbers are comparable with nothing published.
#
# Measured for `ganlib.metrics` (details in `tests/test_metrics.py`, `tests/test_inception.py`,
# `benchmarks/fid_speed.py`): FID within 1e-6 (relative) of pytorch-fid, torch-fidelity and
# torchmetrics at d = 64 and 2048, including N < d; IS within 1e-6 of torch-fidelity; KID equal
# to torch-fidelity's on the same subsets; precision / recall counting the same points as
# torch-fidelity, density / coverage equal to prdc's; Inception pool features equal to
# pytorch-fid's and torch-fidelity's on the same random weights.

# %% [markdown]
# ## Exercises
#
# Each exercise has a check cell right after it. Run it: it passes when your answer is right.

# %%
import numpy as np
import torch

import ganlib.metrics as metrics

# %% [markdown]
# **Exercise 1.** FID when both covariances are diagonal, without any matrix square root:
# $\lVert\mu_1-\mu_2\rVert^2 + \sum_i(\sqrt{a_i}-\sqrt{b_i})^2$ for variances $a_i, b_i$.
# Inputs: numpy vectors `mu1, var1, mu2, var2` of length d.

# %%
def fid_diagonal(mu1, var1, mu2, var2):
    ### BEGIN SOLUTION
    return float(np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(var1) - np.sqrt(var2)) ** 2))
    ### END SOLUTION


# %%
from ganlib.student import forbid  # makes the library's version raise while the check runs

with forbid(metrics.frechet_distance):
    got = fid_diagonal(np.array([1.0, 0.0]), np.array([4.0, 1.0]), np.array([3.0, 0.5]), np.array([9.0, 0.25]))
    same = fid_diagonal(np.zeros(3), np.ones(3), np.zeros(3), np.ones(3))
assert abs(got - 29.8125) > 1e-9, "compare standard deviations (square roots of the variances), not variances"
assert abs(got - 5.75) > 1e-9, "square the differences of the standard deviations"
assert abs(got - 2.75) > 1e-9, "sum over the d dimensions, do not average"
assert abs(got - 3.3115528) > 1e-6, "the mean term is the squared distance ||mu1 - mu2||^2"
assert abs(got - 5.5) < 1e-9, f"2-d: (4 + 0.25) + ((2 - 3)^2 + (1 - 0.5)^2) = 5.5, got {got}"
assert same == 0.0, "identical Gaussians: 0"
### BEGIN HIDDEN TESTS
r = np.random.default_rng(1)
m1, m2, v1, v2 = r.normal(size=5), r.normal(size=5), r.uniform(0.1, 2, 5), r.uniform(0.1, 2, 5)
assert np.isclose(fid_diagonal(m1, v1, m2, v2), metrics.frechet_distance(m1, np.diag(v1), m2, np.diag(v2)))
### END HIDDEN TESTS
print("exercise 1 ok")


# %% [markdown]
# **Exercise 2.** Extend the one-split score to the protocol of the paper: `inception_score_splits(logits,
# splits)` takes the classifier's **logits** `(N, K)`, turns them into $p(y \mid x)$, cuts the rows into
# `splits` consecutive chunks (chunk $i$: rows `i*N//splits` to `(i+1)*N//splits`, no shuffling),
# scores each chunk with its own marginal, $\exp(\frac{1}{|s|}\sum_{x \in s}\mathrm{KL}(p(y \mid x)\,\Vert\,p_s(y)))$,
# and returns the mean and the (population) standard deviation of the chunk scores.

# %%
def inception_score_splits(logits, splits=10):
    ### BEGIN SOLUTION
    logits = np.asarray(logits, dtype=np.float64)
    log_p = logits - logits.max(axis=1, keepdims=True)
    log_p = log_p - np.log(np.exp(log_p).sum(axis=1, keepdims=True))
    n, scores = len(logits), []
    for i in range(splits):
        lp = log_p[i * n // splits:(i + 1) * n // splits]
        log_marginal = np.log(np.exp(lp).mean(axis=0, keepdims=True))
        scores.append(np.exp(np.mean(np.sum(np.exp(lp) * (lp - log_marginal), axis=1))))
    return float(np.mean(scores)), float(np.std(scores))
    ### END SOLUTION


# %%
from ganlib.student import forbid

probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.5, 0.5], [0.7, 0.3], [0.05, 0.95], [0.6, 0.4]])
logits = np.log(probs) + 3.0          # logits, not probabilities: a softmax gives probs back
with forbid(metrics.inception_score, metrics.inception_score_per_split):
    mean, sd = inception_score_splits(logits, splits=3)
assert abs(mean - 1.6811385) > 1e-5, "the inputs are logits: apply a softmax first"
assert abs(mean - 1.2491884) > 1e-5, "you computed KL(p(y) || p(y|x)): the arguments are reversed"
assert abs(mean - 1.0219067) > 1e-5, "splits are consecutive chunks of rows, not every splits-th row"
assert abs(mean - 1.2192924) > 1e-5, "each split needs its own marginal p_s(y), not the marginal of all N rows"
assert abs(mean - 1.2126859) > 1e-5, "score each split, then average the scores: the splits are missing"
assert abs(mean - 1.1847895) > 1e-6, "exp of the mean KL per split, not the mean of exp(KL) per image"
assert abs(mean - 1.1844566) < 1e-6, f"expected a mean of 1.1844566 over 3 splits, got {mean:.7f}"
assert abs(sd - 0.1502723) > 1e-5, "the population std (np.std, ddof=0), as the reference code"
assert abs(sd - 0.1226968) < 1e-6, f"expected a std of 0.1226968, got {sd:.7f}"
### BEGIN HIDDEN TESTS
q = np.random.default_rng(2).normal(size=(40, 6)) * 2
for k in (1, 4, 7):
    assert np.allclose(inception_score_splits(q, k), metrics.inception_score(q, splits=k))
### END HIDDEN TESTS
print("exercise 2 ok")


# %% [markdown]
# **Exercise 3.** Where FID's bias comes from, in its simplest part. Take two independent samples
# of $n$ points each from *the same* distribution with covariance $\Sigma$ ($d \times d$). The true
# FID is 0, but the mean term $\lVert\hat\mu_1 - \hat\mu_2\rVert^2$ of the sample estimate is not.
# Derive its expected value and write `expected_mean_term(cov, n)` (a float) for a numpy matrix
# `cov`. Hint: $\hat\mu_1 - \hat\mu_2$ has mean 0; what is its covariance, and what is
# $\mathbb E\lVert v\rVert^2$ for a random vector $v$ with mean 0?

# %%
def expected_mean_term(cov, n):
    ### BEGIN SOLUTION
    return float(2 * np.trace(cov) / n)       # Cov(mu1 - mu2) = 2 cov / n; E||v||^2 = tr Cov(v)
    ### END SOLUTION


# %%
cov = np.array([[2.0, 0.5, 0.0], [0.5, 1.0, -0.3], [0.0, -0.3, 0.5]])   # trace 3.5, entries sum 3.9
got = expected_mean_term(cov, 10)
assert isinstance(got, float), f"return a float, got {type(got).__name__}"
assert abs(got - 0.35) > 1e-9, "both sample means carry noise: Cov(mu1 - mu2) = cov/n + cov/n"
assert abs(got - 0.78) > 1e-9, "E||v||^2 is the trace of Cov(v), the sum of its diagonal, not of all its entries"
assert abs(got - 0.6) > 1e-9, "the covariance is not the identity: use its trace, not d"
assert abs(got - 7.0 / 9) > 1e-9, "the sample mean's covariance is cov / n (n, not n - 1)"
assert abs(got - 0.7) < 1e-9, f"expected 2 * 3.5 / 10 = 0.7, got {got}"
assert abs(expected_mean_term(cov, 1000) - 0.007) < 1e-12, "the bias falls as 1/n"
rng = np.random.default_rng(0)           # see it: 2,000 pairs of samples of n = 10 points
draws = rng.multivariate_normal(np.zeros(3), cov, size=(2000, 2, 10)).mean(axis=2)
simulated = float(((draws[:, 0] - draws[:, 1]) ** 2).sum(axis=1).mean())
print(f"expected {got:.3f}, simulated {simulated:.3f}")
### BEGIN HIDDEN TESTS
a = np.random.default_rng(4).normal(size=(5, 5))
c5 = a @ a.T
assert np.isclose(expected_mean_term(c5, 7), 2 * np.trace(c5) / 7)
assert abs(simulated - 0.7) < 0.05
### END HIDDEN TESTS
print("exercise 3 ok")

# %% [markdown]
# ## Further reading
#
# - M. Heusel, H. Ramsauer, T. Unterthiner, B. Nessler, S. Hochreiter. *GANs Trained by a Two
#   Time-Scale Update Rule Converge to a Local Nash Equilibrium.* NeurIPS 2017 (FID; the
#   disturbance experiments are in its appendix).
# - T. Salimans, I. Goodfellow, W. Zaremba, V. Cheung, A. Radford, X. Chen. *Improved Techniques
#   for Training GANs.* NeurIPS 2016 (the Inception Score).
# - M. Bińkowski, D. J. Sutherland, M. Arbel, A. Gretton. *Demystifying MMD GANs.* ICLR 2018 (KID).
# - S. Barratt, R. Sharma. *A Note on the Inception Score.* ICML 2018 Workshop on Theoretical
#   Foundations and Applications of Deep Generative Models.
# - M. J. Chong, D. Forsyth. *Effectively Unbiased FID and Inception Score and Where to Find Them.*
#   CVPR 2020.
# - G. Parmar, R. Zhang, J.-Y. Zhu. *On Aliased Resizing and Surprising Subtleties in GAN
#   Evaluation.* CVPR 2022.
# - T. Kynkäänniemi, T. Karras, M. Aittala, T. Aila, J. Lehtinen. *The Role of ImageNet Classes in
#   Fréchet Inception Distance.* ICLR 2023.
# - C. Szegedy, V. Vanhoucke, S. Ioffe, J. Shlens, Z. Wojna. *Rethinking the Inception
#   Architecture for Computer Vision.* CVPR 2016.
