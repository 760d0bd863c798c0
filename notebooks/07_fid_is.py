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
# with pytorch-fid, torch-fidelity and torchmetrics (see `tests/test_metrics.py`) and is
# faster than all three. Then we test the metrics themselves: we reproduce, at toy scale,
# Heusel et al.'s experiment in which FID rises as real images are disturbed more and more,
# we watch FID's bias at small sample sizes next to KID, which has none, and we walk through
# the mistakes that make published numbers incomparable.
#
# **Learning objectives.** After this chapter you can
# - derive FID as the Fréchet (2-Wasserstein) distance between two Gaussians and compute
#   $\operatorname{tr}(\Sigma_1\Sigma_2)^{1/2}$ stably and fast;
# - compute IS with splits, and spot the reversed-KL and missing-softmax bugs;
# - explain why FID is biased at small N and why KID is not;
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
from ganlib.data import TensorBatches
from ganlib.metrics.disturbances import DISTURBANCES
from ganlib.train import fit

device = ganlib.setup(seed=0)


# %% tags=["parameters"]
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


PROFILE = ganlib.get_profile()  # "ci", "cpu" or "gpu": GANLIB_PROFILE, else chosen automatically
cfg = ganlib.choose(PROFILE,
                    ci=MetricsConfig(sample_sizes=(25, 100, 400), bias_repeats=20, kid_subsets=10,
                                     gan_steps=1000),
                    cpu=MetricsConfig(),
                    gpu=MetricsConfig(dataset="mnist", extractor="inception", image_size=32,
                                      sample_sizes=(100, 500, 1000, 2000, 5000), gan_steps=10000))
print(PROFILE, cfg)

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

# %%
# How much faster? d = 512 here to keep the cell quick (benchmarks/fid_speed.py runs d = 2048, N = 5000).
d = 512
f1, f2 = rng.normal(size=(2000, d)), rng.normal(size=(2000, d)) + 0.05
s1, s2 = np.cov(f1, rowvar=False), np.cov(f2, rowvar=False)
m1, m2 = f1.mean(0), f2.mean(0)
times = {}
for name, fn in {"sqrtm (pytorch-fid)": frechet_distance_sqrtm,
                 "eigvals (torch-fidelity)": lambda a, b, c, e: float(
                     (a - c) @ (a - c) + np.trace(b) + np.trace(e)
                     - 2 * np.sqrt(np.linalg.eigvals(b @ e).astype(complex)).real.sum()),
                 "ganlib.metrics": metrics.frechet_distance}.items():
    t0 = time.process_time()
    value = fn(m1, s1, m2, s2)
    times[name] = time.process_time() - t0
    print(f"{name:<26} FID {value:.8f}   {times[name]:.3f} CPU s")

# %% [markdown]
# ### The Inception Score
# Softmax of the logits, the marginal $p(y)$ per split, the KL *from* $p(y\mid x)$ *to*
# $p(y)$, exponentiated; splits are consecutive chunks (no shuffling). Hand case:
# $p(y\mid x) = [.9,.1]$ and $[.2,.8]$ give $p(y) = [.55, .45]$ and IS = 1.3170522760.

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
if cfg.dataset == "digits":
    real, real_labels = ganlib.data.load_digits(cfg.image_size, "train")
    held_out, held_out_labels = ganlib.data.load_digits(cfg.image_size, "test")
else:
    from ganlib.data import registry
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
              snapshot_fn=sample, snapshot_every=max(1, cfg.gan_steps // 5), desc="MLP GAN")
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
# increasing strength and verified that FID rises. Their five disturbances (`ganlib.metrics.disturbances`),
# with their strengths: Gaussian noise mixed in, Gaussian blur, five black rectangles, swirl
# and salt-and-pepper noise.

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
# ### Sample-size bias: FID vs KID
# Draw two samples of size N from the *same* distribution (all real digits) and compute FID and
# KID. The true value of both is 0. FID's estimate is biased upwards — by roughly $c/N$ — so
# FIDs computed with different N cannot be compared. KID's estimate is unbiased: it
# scatters around 0 at every N.

# %%
pool = torch.cat([real_feats, held_out_feats])
gen = torch.Generator().manual_seed(0)
ns = [n for n in cfg.sample_sizes if 2 * n <= len(pool)]
fid_draws, kid_draws = {n: [] for n in ns}, {n: [] for n in ns}
for n in ns:
    for _ in range(cfg.bias_repeats):
        perm = torch.randperm(len(pool), generator=gen)
        a, b = pool[perm[:n]], pool[perm[n:2 * n]]
        fid_draws[n].append(metrics.fid_from_features(a, b))
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
# report it with its standard deviation over subsets, as `kernel_inception_distance` returns.

# %% [markdown]
# ## Pitfalls
# ### 1. The reversed KL and the missing softmax in the Inception Score
# A popular write-up computes `F.kl_div(p_yx.log(), p_y)`, which is KL(p(y) ‖ p(y|x)) — the
# arguments reversed. On the hand case it gives 1.4215100172 instead of 1.3170522760.
# Passing probabilities where logits are expected (a softmax applied twice) flattens the
# distributions; `ganlib` warns.

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
# ## Summary
#
# - FID is the Fréchet distance between Gaussians fitted to real and generated features;
#   compute $\operatorname{tr}(\Sigma_1\Sigma_2)^{1/2}$ from a Cholesky factor and symmetric
#   eigenvalues: real, exact, faster than `sqrtm`.
# - IS = exp of the mean KL(p(y|x) ‖ p(y)) per split, from a softmax of logits; it ignores real
#   data and only makes sense for the classifier's own classes.
# - KID is an unbiased MMD²: ≈ 0 for equal distributions at every N, where FID is biased upwards.
# - FID rose monotonically with every disturbance of Heusel et al.
# - Two FIDs are comparable only with the same network and weights, the same preprocessing
#   (resizer) and the same N. Our offline numbers are comparable with nothing published.
#
# Measured for `ganlib.metrics` (details in `tests/test_metrics.py`, `tests/test_inception.py`,
# `benchmarks/fid_speed.py`): FID within 1e-6 (relative) of pytorch-fid, torch-fidelity and
# torchmetrics at d = 64 and 2048, including N < d; IS within 1e-6 of torch-fidelity; KID equal
# to torch-fidelity's on the same subsets; Inception pool features equal to pytorch-fid's and
# torch-fidelity's on the same random weights.

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
# **Exercise 3.** The *biased* MMD² estimate keeps the diagonal terms:
# $\frac{1}{m^2}\sum_{i,j}k(x_i,x_j) + \frac{1}{m^2}\sum_{i,j}k(y_i,y_j) - \frac{2}{m^2}\sum_{i,j}k(x_i,y_j)$
# with $k(a, b) = (a^\top b / d + 1)^3$. Write it, then see (check cell) that it is positive for two
# samples of the same distribution, where the unbiased KID is about 0.

# %%
def mmd2_biased(x, y):
    ### BEGIN SOLUTION
    x, y = torch.as_tensor(x, dtype=torch.float64), torch.as_tensor(y, dtype=torch.float64)
    k = lambda a, b: (a @ b.T / x.shape[1] + 1) ** 3  # noqa: E731
    return float(k(x, x).mean() + k(y, y).mean() - 2 * k(x, y).mean())
    ### END SOLUTION


# %%
from ganlib.metrics.kid import polynomial_kernel
from ganlib.student import forbid

hx = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, -1.0]])   # a hand case, d = 2
hy = np.array([[1.0, 1.0], [-1.0, 0.0], [0.5, 0.5]])
g = np.random.default_rng(3)
x, y = g.normal(size=(50, 8)), g.normal(size=(50, 8))
with forbid(polynomial_kernel):
    hand = mmd2_biased(hx, hy)
    biased, zero = mmd2_biased(x, y), mmd2_biased(x, x)
assert abs(hand + 1.6684028) > 1e-6, "that is the unbiased estimate: the biased one keeps the diagonal terms"
assert abs(hand - 0.9513889) > 1e-6, "KID's kernel is cubic: (a.b / d + 1)^3, not squared"
assert abs(hand - 14.6527778) > 1e-6, "scale the inner product by 1/d: (a.b / d + 1)^3"
assert abs(hand - 0.7170139) > 1e-6, "the kernel has a + 1: (a.b / d + 1)^3"
assert abs(hand - 0.2777778) > 1e-6, "that is a linear kernel: use k(a, b) = (a.b / d + 1)^3"
assert abs(hand - 5.3715278) > 1e-6, "the cross term counts twice: - 2/m^2 sum k(x_i, y_j)"
assert abs(hand - 3.1545139) < 1e-6, f"the hand case gives 3.1545139, got {hand:.7f}"
unbiased = metrics.kernel_inception_distance(x, y, subsets=1, subset_size=50)[0]
assert biased > 0 and biased > unbiased + 0.01, f"the biased estimate should exceed the unbiased one: {biased}, {unbiased}"
assert abs(zero) < 1e-12, "identical samples: 0"
### BEGIN HIDDEN TESTS
kxx = (torch.as_tensor(x) @ torch.as_tensor(x).T / 8 + 1) ** 3
kyy = (torch.as_tensor(y) @ torch.as_tensor(y).T / 8 + 1) ** 3
assert np.isclose(biased - unbiased, float(kxx.trace() + kyy.trace()) / 2500
                  - float(kxx.sum() - kxx.trace() + kyy.sum() - kyy.trace()) / 2500 / 49)
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
