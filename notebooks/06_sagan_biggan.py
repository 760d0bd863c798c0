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
# # 6. SAGAN and BigGAN: every trick built, measured and switchable
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/ganbook/ganbook/blob/main/notebooks/06_sagan_biggan.ipynb)
#
# **What you will build.** The class-conditional GAN of SAGAN (Zhang et al. 2019) and BigGAN
# (Brock, Donahue & Simonyan 2019), one trick at a time: spectral normalisation written by
# hand, the hinge loss with two time-scale learning rates, a self-attention block, conditional
# batch norm fed by a shared class embedding and a hierarchical latent, an exponential moving
# average of the generator, orthogonal regularisation and the truncation trick. Every trick is
# a switch in one config, so we can turn them on one after the other and *measure* each with
# conditional accuracy and FID. At the end the same training runs on several processes with
# `torchrun` and DistributedDataParallel.
#
# **Learning objectives.** After this chapter you can
# - implement spectral normalisation with the power iteration and check it against an SVD;
# - write SAGAN's self-attention block and read its attention maps;
# - explain conditional batch norm with a shared embedding and hierarchical z;
# - apply BigGAN's orthogonal regularisation and say which gradient convention the code uses;
# - sample with truncation **by resampling** and tell it from the clip-and-rescale mistake;
# - measure the fidelity/diversity trade-off of truncation and the effect of an EMA generator;
# - train with DistributedDataParallel and say what happens to batch norm across processes.
#
# **Prerequisites.** Chapter 0 (the GAN game, `fit`), the conditional chapters (class
# conditioning, the projection discriminator, conditional accuracy). FID is introduced briefly
# where we first use it and built in full in chapter 7.

# %%
import sys
if "google.colab" in sys.modules:  # on Colab only: install ganlib from the book's repository
    import subprocess
    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "git+https://github.com/ganbook/ganbook"], check=True)

# %%
from dataclasses import dataclass
from typing import Optional

import matplotlib.pyplot as plt
import numpy as np
import scipy.stats
import torch
import torch.nn.functional as F
from torch import nn

import ganlib
from ganlib import viz
from ganlib.classifier import conditional_accuracy, intra_class_diversity, pretrained_classifier
from ganlib.data import TensorBatches, registry
from ganlib.models.biggan import (ablation_configs, build_biggan, chapter_config, checkpoint_config,
                                  cifar10_config, make_optimizers, make_train_step, sample)
from ganlib.train import fit

device = ganlib.setup(seed=0)


# %%
@dataclass
class RunConfig:
    table_steps: int = 300          # G steps per row of the tables (the same for every row)
    per_class: int = 50             # generated images per class for every measurement
    seeds: tuple = (0, 1, 2)        # every row of every table runs these seeds
    truncations: tuple = (0.25, 0.5, 1.0, 1.5, 2.0)
    big_batch: int = 64             # the batch-size row: the full model with this batch
    checkpoint: Optional[str] = None  # a file under ganlib.checkpoint_dir makes the main run resumable
    run_ddp_demo: bool = False      # start a 2-process torchrun from the notebook
    workers: Optional[int] = None   # processes for the tables (None: one per core)


# %% tags=["parameters"]
PROFILE = ""   # "ci", "cpu" or "gpu"; "" = GANLIB_PROFILE, else chosen automatically
SEEDS = None   # e.g. (0, 1, 2, 3, 4) to run every row of the tables with other seeds

# %%
PROFILE = ganlib.get_profile(PROFILE)
cfg = chapter_config(PROFILE)  # the chapter's model per profile, shared with the DDP entry point
run = ganlib.choose(PROFILE,
                    ci=RunConfig(table_steps=20, per_class=10, seeds=(0,), truncations=(0.25, 1.0), big_batch=16,
                                 workers=1),
                    cpu=RunConfig(table_steps=300, per_class=50, run_ddp_demo=True),
                    gpu=RunConfig(table_steps=10_000, per_class=500, checkpoint="biggan.pt",
                                  run_ddp_demo=True, workers=1))
if SEEDS is not None:
    run = ganlib.override(run, seeds=tuple(SEEDS))
print(f"profile: {PROFILE}")
print(cfg)
print(run)

# %%
from IPython.display import Markdown, display

paper = cifar10_config()
display(Markdown(
    f"The profiles train the same model: `ci` narrow and short, `cpu` width {cfg.g_width} on the 16x16 digits "
    f"for {cfg.steps} steps with learning rates {cfg.lr_g:g} (G) and {cfg.lr_d:g} (D): SAGAN's 1e-4 and 4e-4 "
    "learn too slowly for a run this short; D still learns faster than G. `gpu` is BigGAN's CIFAR-10 recipe "
    f"(batch {paper.batch_size}, {paper.d_steps} D steps per G step, widths {paper.g_width}, lr {paper.lr_g:g}, "
    f"EMA {paper.ema_decay} from step {paper.ema_start}, {paper.steps:,} steps) with a checkpoint that resumes "
    "after a disconnect."))

# %% [markdown]
# ## The idea
#
# Both papers keep the game of chapter 0 and the class conditioning of the conditional chapters
# and change *how* it is trained. With $D(x, y)$ a raw score (`D(x, y)`), SAGAN and BigGAN use the
# **hinge loss** (`ganlib.losses.d_loss_hinge`, `g_loss_hinge`):
#
# $$L_D = \mathbb{E}_{x,y}\big[\max(0, 1 - D(x, y))\big] + \mathbb{E}_{z,y}\big[\max(0, 1 + D(G(z, y), y))\big],
# \qquad L_G = -\mathbb{E}_{z,y}\big[D(G(z, y), y)\big].$$
#
# | trick | what it does | where in the code |
# |---|---|---|
# | spectral norm | $\bar W = W/\sigma(W)$ makes every layer ~1-Lipschitz | `ganlib.nn.SpectralNorm`, `apply_spectral_norm` |
# | TTUR | D learns faster than G: $\eta_G = 10^{-4}$, $\eta_D = 4\cdot10^{-4}$, Adam $\beta=(0, 0.999)$ (SAGAN's paper: $(0, 0.9)$; below) | `cfg.lr_g`, `cfg.lr_d`, `cfg.beta1`, `cfg.beta2` |
# | self-attention | $y_j = x_j + \gamma\, W_v \sum_i \beta_{j,i} h(x_i)$ lets distant positions talk | `ganlib.nn.SelfAttention` |
# | conditional BN | $\hat x \odot (1 + W_\gamma c) + W_\beta c$, $c = [e(y), z_b]$ | `ganlib.nn.ConditionalBatchNorm2d` |
# | orthogonal reg. | $\beta\lVert W W^\top\odot(1-I)\rVert_F^2$ keeps G smooth in $z$ | `ganlib.nn.orthogonal_regularization` |
# | EMA of G | $\theta_\text{EMA} \leftarrow \delta\theta_\text{EMA} + (1-\delta)\theta$, BN statistics re-estimated | `ganlib.nn.EMA`, `standing_statistics` |
# | truncation | $z$ from a normal truncated to $[-t, t]$ | `ganlib.nn.truncated_noise` |
#
# ```
#  z ──split──> z_0 ─> linear ─> 4x4 ─> [GBlock ↑] ─> [GBlock ↑] ─> (attention) ─> ... ─> BN-ReLU-conv-tanh ─> x
#               z_1 ──────────────────────┘ │            │
#  y ─> shared embedding e(y) ─────── [e, z_1]      [e, z_2]   (conditional batch norm in every block)
#
#  x ─> [DBlock ↓] ─> (attention) ─> [DBlock] ─> [DBlock] ─> ReLU ─> sum ─> h ─> w·h + <embed(y), h>
# ```

# %% [markdown]
# ## Build it step by step
#
# ### 1. Spectral normalisation by hand
#
# The largest singular value $\sigma(W)$ of a weight (a conv kernel seen as a matrix
# `(out, in*k*k)`) bounds how much the layer can stretch its input. The **power iteration**
# finds it: repeat $u \leftarrow Wv/\lVert Wv\rVert$, $v \leftarrow W^\top u/\lVert W^\top u\rVert$, then
# $\sigma \approx u^\top W v$. Spectral normalisation does **one** step per forward pass and keeps
# $u, v$ between passes: the weights move little per step, so one step tracks $\sigma$.

# %%
def power_iteration_step(W, u, v):
    """One step of the power iteration on the matrix W (out, in); returns (u, v, sigma estimate)."""
    u = F.normalize(W @ v, dim=0)
    v = F.normalize(W.T @ u, dim=0)
    return u, v, torch.dot(u, W @ v)


torch.manual_seed(0)
W = torch.randn(16, 3 * 3 * 3)                   # a conv3x3 with 3 -> 16 channels, as a matrix
u, v = F.normalize(torch.randn(16), dim=0), F.normalize(torch.randn(27), dim=0)
estimates = []
for _ in range(30):
    u, v, sigma = power_iteration_step(W, u, v)
    estimates.append(float(sigma))
sigma_svd = float(torch.linalg.svdvals(W)[0])
print(f"power iteration after 1, 5, 30 steps: {estimates[0]:.4f}, {estimates[4]:.4f}, {estimates[-1]:.4f}; "
      f"SVD: {sigma_svd:.4f}")

# %%
assert abs(estimates[-1] - sigma_svd) / sigma_svd < 1e-3, "the power iteration converges to the largest singular value"
assert all(e <= sigma_svd + 1e-4 for e in estimates), "u^T W v never exceeds sigma_max"
assert abs(float(torch.linalg.svdvals(W / estimates[-1])[0]) - 1) < 1e-3, "W / sigma has spectral norm 1"

# %% [markdown]
# As a layer, the same computation is a *parametrisation*: every time the layer reads its
# weight, it gets $W/\sigma$. `ganlib.nn.SpectralNorm` is ours, written for teaching; it keeps
# the buffers `_u` and `_v` under PyTorch's names, so we can give both implementations the same
# state and compare. The models use PyTorch's `torch.nn.utils.parametrizations.spectral_norm`
# (one well-kept implementation).

# %%
from torch.nn.utils.parametrizations import spectral_norm as torch_spectral_norm

from ganlib.nn import largest_singular_value, spectral_norm

torch.manual_seed(0)
conv_ours, conv_torch = nn.Conv2d(3, 16, 3), nn.Conv2d(3, 16, 3)
conv_torch.load_state_dict(conv_ours.state_dict())
spectral_norm(conv_ours)
torch_spectral_norm(conv_torch)
ours, theirs = conv_ours.parametrizations.weight[0], conv_torch.parametrizations.weight[0]
ours._u.copy_(theirs._u)
ours._v.copy_(theirs._v)
x = torch.randn(4, 3, 8, 8)
for _ in range(3):
    assert torch.allclose(conv_ours(x), conv_torch(x), atol=1e-6), "ours and PyTorch's agree step by step"
raw = conv_ours.parametrizations.weight.original
print(f"sigma(W) by SVD {largest_singular_value(raw):.4f}, our estimate {float(ours.sigma(raw.detach())):.4f}, "
      f"sigma of the normalised weight {largest_singular_value(conv_ours.weight):.4f}")

# %%
assert abs(float(ours.sigma(raw)) - largest_singular_value(raw)) < 1e-3 * largest_singular_value(raw)
assert abs(largest_singular_value(conv_ours.weight) - 1.0) < 1e-3

# %% [markdown]
# ### 2. Self-attention (SAGAN)
#
# For a feature map with positions $i$ ($HW$ of them), 1x1 convolutions give, in the SAGAN
# paper's notation (its eqs. 1-2), keys $f(x_i) = W_f x_i$ and queries $g(x_j) = W_g x_j$ with
# $C/8$ channels, and values $h(x_i) = W_h x_i$. Output position $j$ mixes the values of all
# positions $i$ with weights $\beta_{j,i}$, "the extent to which the model attends to the $i$-th
# location when synthesising the $j$-th region", and the block adds the result back, scaled by a
# learned $\gamma$ that **starts at 0** (the block starts as the identity):
#
# $$s_{ij} = f(x_i)^\top g(x_j), \qquad \beta_{j,i} = \frac{\exp(s_{ij})}{\sum_{i'} \exp(s_{i'j})}, \qquad
# o_j = W_v \sum_i \beta_{j,i}\, h(x_i), \qquad y_j = x_j + \gamma\, o_j.$$
#
# (In `ganlib.nn.SelfAttention` the layers are named by role: `query` is $W_g$, `key` is $W_f$,
# `value` is $W_h$, `out` is $W_v$. Like the official code, the values have $C/2$ channels.)

# %%
def self_attention(x, W_f, W_g, W_h, W_v, gamma):
    """x (N, C, H, W); W_f, W_g (C/8, C); W_h (C/2, C); W_v (C, C/2) -> (y, beta (N, HW_j, HW_i))."""
    n, c, hh, ww = x.shape
    X = x.flatten(2)                                          # (N, C, HW)
    f, g, h = W_f @ X, W_g @ X, W_h @ X                       # keys, queries (N, C/8, HW); values (N, C/2, HW)
    s = f.transpose(1, 2) @ g                                 # s[n, i, j] = f(x_i)^T g(x_j)
    beta = torch.softmax(s, dim=1).transpose(1, 2)            # beta[n, j, i]: softmax over i
    o = W_v @ (h @ beta.transpose(1, 2))                      # o_j = W_v sum_i beta_ji h(x_i)
    return (X + gamma * o).view(n, c, hh, ww), beta


from ganlib.nn import SelfAttention

attn = SelfAttention(32)
x = torch.randn(2, 32, 8, 8)
w = lambda conv: conv.weight[:, :, 0, 0]  # noqa: E731  (a 1x1 conv is a matrix)
y0, beta = self_attention(x, w(attn.key), w(attn.query), w(attn.value), w(attn.out), attn.gamma)

# %%
assert torch.equal(y0, x), "gamma = 0: the block starts as the identity"
assert beta.shape == (2, 64, 64) and torch.allclose(beta.sum(-1), torch.ones(2, 64))
with torch.no_grad():
    attn.gamma.fill_(0.7)
y1, _ = self_attention(x, w(attn.key), w(attn.query), w(attn.value), w(attn.out), attn.gamma)
assert torch.allclose(y1, attn(x), atol=1e-5), "the inline block equals ganlib.nn.SelfAttention"
print("self-attention ok; parameters:", ganlib.count_parameters(attn))

# %% [markdown]
# ### 3. Conditional batch norm with a shared embedding and a hierarchical z (BigGAN)
#
# Batch norm without its own affine parameters, then a gain and a bias computed from a vector
# $c$: $\mathrm{CBN}(x, c) = \hat x \odot (1 + W_\gamma c) + W_\beta c$. In BigGAN, $c$ joins a
# **shared** class embedding $e(y)$ (one table for all layers, not one per layer) with a
# **chunk of z**: z is split into one piece for the input layer and one per residual block.

# %%
def conditional_batch_norm(x, c, W_gain, W_bias, eps=1e-5):
    """x (N, C, H, W), c (N, D) -> (N, C, H, W), batch statistics (training mode)."""
    mean = x.mean(dim=(0, 2, 3), keepdim=True)
    var = x.var(dim=(0, 2, 3), unbiased=False, keepdim=True)
    x_hat = (x - mean) / torch.sqrt(var + eps)
    return x_hat * (1 + (c @ W_gain.T))[:, :, None, None] + (c @ W_bias.T)[:, :, None, None]


from ganlib.nn import ConditionalBatchNorm2d

shared = nn.Embedding(10, 16)                         # the shared class embedding e(y)
z = torch.randn(4, 3 * 8)                             # z_dim 24 = 3 chunks of 8: input, block 1, block 2
z_chunks = z.split(8, dim=1)
y = torch.tensor([0, 3, 3, 9])
c_block1 = torch.cat([shared(y), z_chunks[1]], dim=1)  # (4, 16 + 8)
cbn = ConditionalBatchNorm2d(32, cond_dim=24)
nn.init.normal_(cbn.gain.weight, 0, 0.1)
nn.init.normal_(cbn.bias.weight, 0, 0.1)
feat = torch.randn(4, 32, 8, 8)

# %%
out_inline = conditional_batch_norm(feat, c_block1, cbn.gain.weight, cbn.bias.weight)
assert torch.allclose(out_inline, cbn(feat, c_block1), atol=1e-5), "inline CBN equals ganlib's"
assert not torch.allclose(cbn(feat, c_block1)[1], cbn(feat, torch.cat([shared(y), z_chunks[2]], 1))[1]), \
    "another z chunk gives another gain and bias"
print("conditional batch norm ok")

# %% [markdown]
# ### 4. Orthogonal regularisation (BigGAN) and its gradient convention
#
# BigGAN asks the filters of G (rows of $W$) to be orthogonal to *each other* without fixing
# their norms: $R_\beta(W) = \beta\lVert W W^\top \odot (\mathbf 1 - I)\rVert_F^2$, $\beta = 10^{-4}$.
# **Careful:** the gradient of this term is $4\beta (W W^\top\odot(1-I))W$, but BigGAN's public
# PyTorch code adds $2\beta(W W^\top\odot(1-I))W$ to the gradient for its `G_ortho = β`. We
# follow the code: `ganlib.nn.orthogonal_regularization` returns $\tfrac\beta2\lVert\cdot\rVert_F^2$,
# whose autograd gradient is exactly what the official code adds.

# %%
def ortho_reg(W, beta):
    """(beta / 2) * || W W^T * (1 - I) ||_F^2 for W (out, ...) seen as (out, -1)."""
    W = W.flatten(1)
    off_diagonal = (W @ W.T) * (1 - torch.eye(W.shape[0]))
    return 0.5 * beta * (off_diagonal ** 2).sum()


from ganlib.nn import orthogonal_regularization

layer = nn.Linear(5, 4, bias=False)
reg = ortho_reg(layer.weight, 1e-4)
reg.backward()
Wd = layer.weight.detach()
biggan_code_grad = 2 * 1e-4 * ((Wd @ Wd.T) * (1 - torch.eye(4))) @ Wd   # what BigGAN's utils.ortho adds

# %%
assert torch.allclose(layer.weight.grad, biggan_code_grad, atol=1e-12), "gradient = BigGAN code's"
assert torch.isclose(reg, orthogonal_regularization(layer, 1e-4)), "inline equals ganlib's"
print(f"R = {float(reg):.3e}; the gradient equals the official code's 2*beta*(WW^T*(1-I))W")

# %% [markdown]
# ### 5. An exponential moving average of G
#
# After each G step, $\theta_\text{EMA} \leftarrow \delta\,\theta_\text{EMA} + (1-\delta)\,\theta$. The
# average is what BigGAN samples from. (Batch-norm statistics and spectral-norm vectors are
# copied, not averaged; the copied batch-norm statistics belong to the raw G's weights, so before
# sampling we re-estimate them for the average: "standing statistics", measured below.)

# %%
from ganlib.nn import EMA

net = nn.Linear(3, 2)
ema = EMA(net, decay=0.9)
theta_ema = [p.detach().clone() for p in net.parameters()]
for _ in range(3):
    with torch.no_grad():
        for p in net.parameters():
            p.add_(torch.randn_like(p))
    ema.update(net)
    theta_ema = [0.9 * e + 0.1 * p.detach() for e, p in zip(theta_ema, net.parameters())]

# %%
assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(theta_ema, ema.model.parameters())), \
    "inline EMA equals ganlib.nn.EMA"
print("EMA ok")

# %% [markdown]
# ### 6. The truncation trick, done right
#
# Sample $z$ from a normal **truncated** to $[-t, t]$: draw, and *resample* the values outside
# until none is left. Its density is `scipy.stats.truncnorm(-t, t)`, so a KS test can check it.
# `ganlib.nn.truncated_noise` does exactly this; you write it yourself in Exercise 1, whose check
# compares your sampler with this one draw for draw.

# %%
from ganlib.nn import truncated_noise

zt = truncated_noise(200, 50, 1.0, generator=torch.Generator().manual_seed(0))

# %%
assert zt.abs().max() <= 1.0
ks = scipy.stats.kstest(zt.flatten().numpy(), scipy.stats.truncnorm(-1, 1).cdf)
print(f"std {zt.std():.4f} (truncnorm: {scipy.stats.truncnorm(-1, 1).std():.4f}), KS p-value {ks.pvalue:.3f}")
assert ks.pvalue > 0.01, "resampling gives the truncated normal"

# %% [markdown]
# ### 7. The model: every trick a switch
#
# `ganlib.models.biggan` puts the pieces into BigGAN's residual generator and projection
# discriminator (the projection head of the conditional chapters, `ganlib.models.cgan.ProjectionHead`).
# One config switches each trick; `ablation_configs` lists the rows of our table.
#
# Spectral norm goes on every weight of D, **including** the projection head's class embedding,
# and on every weight of G **except** G's shared class embedding: BigGAN-PyTorch leaves `G.shared`
# a plain `nn.Embedding` (its code comments that SN there "seems to randomly cripple G").

# %%
from torch.nn.utils import parametrize

G, D, G_ema = build_biggan(cfg, device)
print(f"G: {ganlib.count_parameters(G):,} parameters, D: {ganlib.count_parameters(D):,}")
print("attention blocks in G:", sum(isinstance(m, SelfAttention) for m in G.modules()),
      "| in D:", sum(isinstance(m, SelfAttention) for m in D.modules()))
print("spectral norm on G.shared:", parametrize.is_parametrized(G.shared, "weight"),
      "| on D.head.embed:", parametrize.is_parametrized(D.head.embed, "weight"))
for name, c in ablation_configs(cfg):
    print(f"{name:52s} SN={c.spectral_norm!s:5} gan_mode={c.gan_mode:7} lr={c.lr_g:.0e}/{c.lr_d:.0e} b1={c.beta1} "
          f"attn={c.attention!s:5} CBN={c.cbn!s:5} EMA={c.ema!s:5} ortho={c.ortho_beta}")

# %%
with torch.no_grad():
    x_fake = G(torch.randn(3, cfg.z_dim, device=device), torch.tensor([0, 1, 2], device=device))
assert x_fake.shape == (3, cfg.image_channels, cfg.image_size, cfg.image_size)
assert sum(isinstance(m, SelfAttention) for m in G.modules()) == (1 if cfg.attention else 0)
if cfg.spectral_norm:
    assert not parametrize.is_parametrized(G.shared, "weight"), "G's shared embedding stays plain"
    assert parametrize.is_parametrized(D.head.embed, "weight"), "D's projection embedding is normalised"

# %% [markdown]
# **Adam's betas.** SAGAN's paper writes $\beta_1 = 0$, $\beta_2 = 0.9$; its official code
# (`brain-research/self-attention-gan`) leaves TensorFlow's default $\beta_2 = 0.999$, and BigGAN
# uses $(0, 0.999)$ as well. ganlib follows the code and BigGAN (`cfg.beta1`, `cfg.beta2`):

# %%
print(f"Adam betas in ganlib: ({cfg.beta1}, {cfg.beta2}); the baseline row uses DCGAN's beta1 = "
      f"{ablation_configs(cfg)[0][1].beta1}")

# %% [markdown]
# ## Data
#
# The 16x16 digits by default (offline, 10 classes); the `gpu` profile loads CIFAR-10 (32x32,
# 10 classes) with `ganlib.data.registry.load_labelled("cifar10")`.
#
# **Class balance.** "Class-balanced sampling" (drawing training images so that every class comes
# up equally often) is a remedy from classification on long-tailed data; it is sometimes credited
# to BigGAN, which does not use it: BigGAN-PyTorch shuffles ImageNet's training set uniformly (its
# classes are close to balanced, 732 to 1,300 images each) and draws G's labels uniformly at
# random (`y_.random_(0, n_classes)`). We do the same: `TensorBatches` shuffles, and the step
# draws `y_fake = torch.randint(0, K, ...)`. The class counts of our training set:

# %%
x_train, y_train = registry.load_labelled(cfg.dataset, train=True, size=cfg.image_size)
counts = y_train.bincount()
print(cfg.dataset, tuple(x_train.shape), "images per class", counts.tolist(),
      f"(max/min = {int(counts.max()) / int(counts.min()):.2f})")
viz.show_grid(x_train[:32], nrow=16, title=f"real {cfg.dataset}")
plt.show()

# %% [markdown]
# ## Train
#
# `make_train_step` is the paper's algorithm: `d_steps` D updates (each on a fresh real batch
# and fresh fakes, real and fake through D in one call, as BigGAN's code does), then one G update
# with D frozen, orthogonal regularisation added to G's loss, and an EMA update.
# `ganlib.models.biggan.train_biggan` builds the nets from a config and runs `fit`.
#
# **Watching the top singular values.** BigGAN's analysis of collapse (section 4) tracks the
# largest singular value $\sigma_0$ of each layer's *raw* weight: in G a few layers' $\sigma_0$ grow
# throughout training and explode at collapse; in D they grow and spike. Spectral norm already
# keeps $u$ and $v$ of the power iteration, so $\sigma_0 \approx u^\top W v$ costs one matrix-vector
# product per layer (`ganlib.nn.top_singular_values`); we record it every few steps.

# %%
from ganlib.models.biggan import ema_with_standing_statistics, measure_generator, train_biggan
from ganlib.nn import top_singular_values

sigma_log = {"step": [], "G": [], "D": []}
record_every = max(1, cfg.steps // 50)


def record_singular_values(step, losses, G, D):
    if step % record_every == 0 and cfg.spectral_norm:
        sigma_log["step"].append(step)
        sigma_log["G"].append(top_singular_values(G))
        sigma_log["D"].append(top_singular_values(D))


threads = torch.get_num_threads()
if device.type == "cpu":
    torch.set_num_threads(1)   # nets this small train faster on one thread than on two (see ganlib.runs)
try:
    G, D, G_ema, history = train_biggan(cfg, x_train, y_train, device=device,
                                        checkpoint=ganlib.checkpoint_path("06_sagan_biggan", run.checkpoint),
                                        desc="BigGAN (all tricks)", on_step=record_singular_values)
finally:
    torch.set_num_threads(threads)
print(f"{cfg.steps} steps in {history.cpu_seconds:.0f} CPU seconds")
viz.plot_losses(history)
plt.show()

# %%
if sigma_log["step"]:
    fig, axes = plt.subplots(1, 2, figsize=(9, 3), sharey=False)
    for ax, net in zip(axes, ("G", "D")):
        for layer in sigma_log[net][0]:
            ax.plot(sigma_log["step"], [s[layer] for s in sigma_log[net]], lw=0.8)
        ax.set_title(f"{net}: top singular value of each raw weight", fontsize=9)
        ax.set_xlabel("G step")
    axes[0].set_ylabel(r"$\sigma_0(W)$")
    plt.show()
    sig = torch.tensor([[s[k] for k in sigma_log["G"][0]] for s in sigma_log["G"]])
    layer_names = list(sigma_log["G"][0])
    grown = int((sig[-1] > sig[0]).sum())
    print(f"G: {grown} of {len(layer_names)} layers end with a larger sigma_0 than at the first record; "
          f"largest at the end: {layer_names[int(sig[-1].argmax())]} ({float(sig[-1].max()):.2f})")
    for net in ("G", "D"):
        est = top_singular_values(G if net == "G" else D)
        layer = max(est, key=est.get)
        module = (G if net == "G" else D).get_submodule(layer)
        exact = largest_singular_value(module.parametrizations.weight.original)
        print(f"{net}: {layer}: buffer estimate {est[layer]:.4f}, SVD {exact:.4f}")
        assert abs(est[layer] - exact) < 0.05 * exact, "the SN buffers track sigma_0"

# %% [markdown]
# ## Look
#
# One row per class, sampled from the EMA generator after its batch-norm statistics have been
# recomputed for its own weights (see "standing statistics" below).

# %%
G_sampler = ema_with_standing_statistics(G_ema) if G_ema is not None else G
labels_grid = torch.arange(cfg.num_classes).repeat_interleave(10)
images = sample(G_sampler, labels_grid, generator=torch.Generator().manual_seed(0))
viz.show_grid(images, nrow=10, row_labels=[str(k) for k in range(cfg.num_classes)], title="BigGAN-style G (EMA)")
plt.show()

# %% [markdown]
# **Where does G attend?** The attention weights $\beta_{j,\cdot}$ of one query position $j$ form
# a map over all positions. We read them from G's attention block with a forward hook.

# %%
if cfg.attention:
    net = G_sampler
    captured = {}
    hook = net.attention.register_forward_hook(lambda m, inp, out: captured.update(x=inp[0]))
    with torch.no_grad():
        imgs = net.eval()(torch.randn(4, cfg.z_dim, device=device), torch.tensor([0, 3, 7, 8], device=device))
    hook.remove()
    beta = net.attention.attention(captured["x"]).cpu()              # (4, HW, HW)
    r = captured["x"].shape[-1]
    query = (r // 2) * r + r // 4                                     # a position left of the centre
    fig, axes = plt.subplots(2, 4, figsize=(8, 4))
    for i in range(4):
        axes[0, i].imshow(imgs[i].cpu().permute(1, 2, 0).squeeze() * 0.5 + 0.5, cmap="gray")
        axes[0, i].plot((r // 4 + 0.5) * cfg.image_size / r - 0.5, (r // 2 + 0.5) * cfg.image_size / r - 0.5, "r+")
        axes[1, i].imshow(beta[i, query].view(r, r), cmap="viridis")
        for a in axes[:, i]:
            a.axis("off")
    axes[1, 0].set_title("attention of the + query", fontsize=8, loc="left")
    plt.show()
    print(f"gamma of G's attention after training: {float(net.attention.gamma):.3f}")
    assert torch.allclose(beta.sum(-1), torch.ones(4, r * r), atol=1e-5)

# %% [markdown]
# ## Measure
#
# **A short FID primer** (chapter 7 builds it in full). Put real and generated images through
# a fixed feature network, fit a Gaussian to each set of features (mean $\mu$, covariance
# $\Sigma$) and measure the Fréchet distance between the two Gaussians (Heusel et al. 2017):
#
# $$\mathrm{FID} = \lVert \mu_r - \mu_g\rVert^2 + \mathrm{tr}\big(\Sigma_r + \Sigma_g - 2(\Sigma_r\Sigma_g)^{1/2}\big).$$
#
# Lower is better; it grows when the samples look wrong (the means move) **and** when they lack
# variety (the covariance shrinks). Papers use Inception-v3 pool features and 50,000 samples;
# here the features are the judge classifier's 128-d penultimate layer (`ganlib.metrics.offline`),
# so our numbers are comparable only with each other, at the same N, and biased upwards at small N
# (chapter 7 shows by how much).
#
# Beside FID, every row reports **conditional accuracy** (does G draw the class it was asked
# for?), **intra-class diversity** (mean feature distance between samples of one class), an
# **IS-style confidence** (the Inception Score's formula on the judge's logits: high when each
# sample is classified confidently and the classes are used evenly), and **precision / recall**
# (Kynkäänniemi et al. 2019, `ganlib.metrics.precision_recall`, k = 3): the fraction of samples
# that fall on the real data's manifold, and the fraction of real images whose neighbourhood
# the samples reach. `measure_generator` computes them all from `run.per_class` samples per class.

# %%
judge = pretrained_classifier(cfg.dataset, cfg.image_size)
eval_labels = torch.arange(cfg.num_classes).repeat_interleave(run.per_class)
real_idx = torch.randperm(len(x_train), generator=torch.Generator().manual_seed(0))[:len(eval_labels)]
x_real_eval = x_train[real_idx]                     # the real set train_and_measure compares with, too
real_div = intra_class_diversity(judge, x_real_eval, y_train[real_idx])
print(f"judge held-out accuracy {judge.test_accuracy:.1%}; real intra-class diversity {real_div:.2f}")
m_main = measure_generator(G_sampler, judge, x_real_eval, eval_labels)
print("the model trained above:", {k: round(v, 3) for k, v in m_main.items()})
assert all(np.isfinite(v) for v in m_main.values())

# %% [markdown]
# ### The tables: every row, several seeds, side by side
#
# Every row below trains from scratch for `run.table_steps` G steps with each seed in `run.seeds`,
# through `ganlib.runs` (independent runs side by side, one CPU thread each) and
# `ganlib.models.biggan.train_and_measure`, so rows differ in the thing compared and nothing else.
# The rows:
#
# - **the trick table**: `ablation_configs`, each row one more trick than the row above;
#   rows with an EMA sample with the EMA generator;
# - **EMA vs raw G**: the same runs, measured with the raw G as well;
# - **standing statistics**: the same runs' EMA G with the raw G's copied batch-norm statistics;
# - **batch size**: the full model with a larger batch (`run.big_batch`), BigGAN's largest single gain;
# - **the truncation curve** of the last two rows of the trick table, which differ only in
#   orthogonal regularisation, whose stated purpose is to make G amenable to truncation.

# %%
import dataclasses

from ganlib.models.biggan import BigGANExperiment, train_and_measure
from ganlib.runs import Run, by_row, format_table, mean_sd, run_all, separated, summarise, verdict

rows = [(name, BigGANExperiment(c, run.table_steps, run.per_class)) for name, c in ablation_configs(cfg)]
rows[-2] = (rows[-2][0], dataclasses.replace(rows[-2][1], truncations=tuple(run.truncations)))
rows[-1] = (rows[-1][0], dataclasses.replace(rows[-1][1], truncations=tuple(run.truncations)))
full_cfg = rows[-1][1].model
big_batch_row = f"full model, batch {run.big_batch} (not {full_cfg.batch_size})"
rows.append((big_batch_row, BigGANExperiment(dataclasses.replace(full_cfg, batch_size=run.big_batch),
                                             run.table_steps, run.per_class)))
runs = [Run(train_and_measure, exp, seed, row=name) for name, exp in rows for seed in run.seeds]
results = run_all(runs, workers=run.workers, keep=ganlib.checkpoint_path("06_sagan_biggan", "tables", PROFILE))
values = by_row(results)
cpu_total = sum(r.cpu_seconds for r in results)
print(f"{len(runs)} runs, {cpu_total:.0f} CPU seconds in all")

# %%
def column(row, key):
    return [v[key] for v in values[row]]


def row_verdicts(a, b, keys=(("fid", False), ("acc", True))):
    return "; ".join(verdict(a, column(a, k), b, column(b, k), k, higher_is_better=hi) for k, hi in keys)


trick_rows = [name for name, _ in ablation_configs(cfg)]
print(format_table([r for r in results if r.row in trick_rows], ["acc", "fid", "div", "precision", "recall"]))
lines = []
for previous, row in zip(trick_rows, trick_rows[1:]):
    lines.append(f"- **{row}** against the row above: " + row_verdicts(row, previous))
lines.append(f"- **full model against the baseline**: " + row_verdicts(trick_rows[-1], trick_rows[0]))
display(Markdown("\n".join(lines)))

# %% [markdown]
# The paper's tricks were measured on ImageNet at 128x128 with batch 2048 over hundreds of
# thousands of steps (BigGAN, Table 1); ours on 16x16 digits over a few hundred. The verdicts
# say which differences this budget can resolve; a trick that needs long training (EMA,
# orthogonal regularisation) has little room to show here.

# %%
n_better = sum(separated(column(a, "fid"), column(b, "fid")) and mean_sd(column(a, "fid"))[0] < mean_sd(column(b, "fid"))[0]
               for b, a in zip(trick_rows, trick_rows[1:]))
n_worse = sum(separated(column(a, "fid"), column(b, "fid")) and mean_sd(column(a, "fid"))[0] > mean_sd(column(b, "fid"))[0]
              for b, a in zip(trick_rows, trick_rows[1:]))
display(Markdown(
    f"At this budget ({run.table_steps} steps, {len(run.seeds)} seed(s) per row) {n_better} of the "
    f"{len(trick_rows) - 1} added tricks lower FID by more than twice the pooled sd, {n_worse} raise it, "
    f"and the other {len(trick_rows) - 1 - n_better - n_worse} make no measurable difference. "
    + ("With one seed per row there is no spread, so no ranking is stated (the `cpu` profile runs three)."
       if len(run.seeds) < 2 else "")))
assert all(np.isfinite(v[k]) for vs in values.values() for v in vs for k in ("acc", "fid", "div"))
chance = 1 / cfg.num_classes
learned = [row for row in trick_rows if min(column(row, "acc")) > chance + 0.1]
print(f"rows whose every seed beats chance ({chance:.0%}) by 10 points of conditional accuracy: "
      f"{len(learned)} of {len(trick_rows)}")
if len(learned) < len(trick_rows) / 2:
    display(Markdown(
        f"**What this table can and cannot say.** In {len(trick_rows) - len(learned)} of the {len(trick_rows)} "
        "rows some seed draws its intended class no more often than chance + 10 points: at this budget the "
        "generators have not yet learned the class conditioning, so the table compares unconditional "
        "image quality (FID, precision, recall) only, and says nothing about the tricks that act through "
        "the labels (CBN with a shared embedding, the projection D). The learning test "
        "`tests/test_biggan.py` trains the full model at width 32 and batch 32 for a few hundred steps "
        "more, where conditional accuracy passes 70 %: the gains BigGAN reports need budgets this "
        "profile does not have."))

# %% [markdown]
# ### EMA vs raw G, and the EMA G's batch-norm statistics
#
# The EMA generator's weights are an average; the running batch-norm statistics that
# `ganlib.nn.EMA` copies from the raw G were produced by the raw G's weights. BigGAN-PyTorch
# offers **standing statistics**: reset the EMA G's batch-norm statistics and re-estimate them by
# running the EMA G itself on a number of noise batches (`ganlib.nn.standing_statistics`,
# `ema_with_standing_statistics`). Three generators from the same runs:

# %%
ema_rows = [name for name, exp in rows if exp.model.ema]
print(format_table([r for r in results if r.row in ema_rows], ["raw_fid", "copied_fid", "fid", "raw_acc", "acc"]))
lines = []
for row in ema_rows:
    lines.append(f"- **{row}**: " + verdict("EMA G (standing stats)", column(row, "fid"), "raw G",
                                            column(row, "raw_fid"), "FID", higher_is_better=False)
                 + "; " + verdict("standing statistics", column(row, "fid"), "copied statistics",
                                  column(row, "copied_fid"), "FID", higher_is_better=False))
display(Markdown("\n".join(lines)))

# %% [markdown]
# ### Batch size
#
# BigGAN's largest single gain was the batch: from 256 to 2048 images at 128x128, FID 18.65 → 12.39
# and IS 52.52 → 76.85, "each batch covering more modes" (Table 1, rows 1 and 4).
# Our row trains the full model with a larger batch for the same number of steps (so it sees
# more images per step, as in the paper).

# %%
print(format_table([r for r in results if r.row in (trick_rows[-1], big_batch_row)],
                   ["acc", "fid", "div", "precision", "recall"]))
display(Markdown("- " + row_verdicts(big_batch_row, trick_rows[-1])))

# %% [markdown]
# ### The truncation curve, with and without orthogonal regularisation
#
# Smaller thresholds $t$ move $z$ towards the mode of its prior. BigGAN (Fig. 2, and Fig. 17 for
# many models) reports the trade-off this makes: **IS improves** as $t$ shrinks (each sample is
# more typical of its class), while **FID first improves a little, then gets worse** at strong
# truncation, because FID also penalises the variety that truncation removes. Precision and recall
# separate the two effects (Kynkäänniemi et al. 2019): precision (fidelity) rises, recall (variety)
# falls. We plot all of them against $t$ for the two rows that differ only in orthogonal
# regularisation; "none" is untruncated $z$.

# %%
curve_rows = [trick_rows[-2], trick_rows[-1]]
points = list(run.truncations) + [None]


def curve(row, measure):
    keys = [measure if t is None else f"{measure}@{t:g}" for t in points]
    return np.array([mean_sd(column(row, k)) for k in keys])     # (points, 2): mean, sd


xs = np.arange(len(points))
fig, axes = plt.subplots(1, 4, figsize=(13, 3))
for ax, (measure, title) in zip(axes, [("fid", "FID (lower is better)"), ("conf", "IS-style confidence"),
                                       ("precision", "precision"), ("recall", "recall")]):
    for row, style in zip(curve_rows, ("o--", "s-")):
        c = curve(row, measure)
        ax.errorbar(xs, c[:, 0], yerr=c[:, 1], fmt=style, ms=4, capsize=2,
                    label="with ortho. reg." if "orthogonal" in row else "without ortho. reg.")
    ax.set_xticks(xs, [("none" if t is None else f"{t:g}") for t in points])
    ax.set_xlabel("truncation threshold t")
    ax.set_title(title, fontsize=9)
axes[0].legend(fontsize=7)
plt.tight_layout()
plt.show()
for row in curve_rows:
    print(row)
    print(f"{'t':>6s} " + " ".join(f"{m:>16s}" for m in ("acc", "fid", "div", "conf", "precision", "recall")))
    for t in points:
        cells = [mean_sd(column(row, m if t is None else f"{m}@{t:g}")) for m in
                 ("acc", "fid", "div", "conf", "precision", "recall")]
        print(f"{'none' if t is None else f'{t:g}':>6s} " + " ".join(f"{m:8.3f} ± {s:5.3f}" for m, s in cells))

# %%
lowest = f"{min(run.truncations):g}"
lines = []
for row in curve_rows:
    name = "with ortho. reg." if "orthogonal" in row else "without ortho. reg."
    lines.append(f"- **{name}**, t = {lowest} against no truncation: "
                 + "; ".join(verdict(f"t = {lowest}", column(row, f"{m}@{lowest}"), "no truncation", column(row, m),
                                     m, higher_is_better=hi)
                             for m, hi in (("fid", False), ("conf", True), ("precision", True), ("recall", True))))
    best_t = min(points, key=lambda t: mean_sd(column(row, "fid" if t is None else f"fid@{t:g}"))[0])
    lines.append(f"  (its lowest mean FID is at t = {'none' if best_t is None else f'{best_t:g}'})")
lines.append("- **orthogonal regularisation at t = " + lowest + "**: "
             + verdict("with", column(curve_rows[1], f"fid@{lowest}"), "without",
                       column(curve_rows[0], f"fid@{lowest}"), "FID", higher_is_better=False))
display(Markdown("\n".join(lines)))

# %%
for row in curve_rows:  # robust across seeds: strong truncation removes variety, every seed
    for v in values[row]:
        assert v[f"div@{lowest}"] < v["div"], "truncation at the lowest threshold must reduce diversity"

# %% [markdown]
# ### Play: the truncation threshold for fixed z and classes
#
# The model trained and measured above (its EMA generator with standing statistics, in eval
# mode: looking changes nothing that was measured), one image per class, the same seed for $z$
# at every threshold: the values inside $[-t, t]$ stay where they are and only those outside are
# redrawn, so moving the slider shows what truncation does to *these* samples. Small $t$: every
# class drifts towards one typical image; large $t$: the untruncated variety. In the built book
# (and under nbval) the slider is a static grid of the same thresholds, one row each.

# %%
SLIDER_THRESHOLDS = (0.1, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0)
slider_labels = torch.arange(cfg.num_classes)  # one image per class, the same classes at every t


def truncated_samples(t):
    return sample(G_sampler, slider_labels, truncation=t, generator=torch.Generator().manual_seed(0))


viz.slider(truncated_samples, SLIDER_THRESHOLDS, label="t", nrow=cfg.num_classes,
           title="truncation threshold t (rows), one class per column, the same z seed")
plt.show()

# %% [markdown]
# ## Scaling out: DistributedDataParallel with `torchrun`
#
# `ganlib.distributed` runs the same step function on N processes:
#
# ```bash
# torchrun --nproc_per_node=2 -m ganlib.distributed --profile cpu --out runs/biggan_ddp          # CPU: gloo
# torchrun --nproc_per_node=8 -m ganlib.distributed --dataset cifar10 --out runs/biggan_c10      # GPUs: NCCL
# ```
#
# - the model is this notebook's for the same profile, `chapter_config(profile)`, defined once in
#   `ganlib.models.biggan`;
# - each rank trains on its own shard of the data, `x[rank::world_size]`, with its own noise;
# - G and D are wrapped in `DistributedDataParallel`: gradients are averaged over the ranks after
#   every backward, every rank takes the same Adam step, and the weights stay identical;
# - **batch norm** (only in G): on GPUs we convert it to `SyncBatchNorm`, BigGAN's "cross-replica
#   BN": statistics over the *global* batch, so N GPUs with batch B normalise like one with
#   batch N·B. PyTorch's `SyncBatchNorm` is GPU-only, so on CPU each rank normalises with its own
#   batch (per-rank BN) and DDP broadcasts rank 0's running statistics;
# - only rank 0 writes the checkpoint (of the *unwrapped* modules, so it loads into a
#   single-process model and resumes with `fit`), the samples and a summary.
#
# `tests/test_distributed.py` starts 2 CPU processes with gloo on 127.0.0.1 and checks that
# both ranks end with identical weights and that the checkpoint loads into a single process.
#
# **How BigGAN reaches large batches.** Its batch of 2048 at 128x128 ran on TPU v3 pods (128 to
# 512 cores) with cross-replica batch norm. BigGAN-PyTorch reaches the same global batch on a few
# GPUs with three tools:
#
# - **mixed precision** (`--G_fp16`, `--D_fp16`; today `torch.autocast` with a `GradScaler`): half
#   the activation memory, so a larger batch per GPU;
# - **gradient accumulation** (`--num_G_accumulations`, `--num_D_accumulations`, e.g. 8 x 256 =
#   2048): several forward/backward passes add their gradients before one optimiser step. The
#   gradient equals the large batch's when every loss is a mean over the batch, *but batch norm
#   still sees only one micro-batch*: accumulation does not give large-batch BN statistics (the
#   cell below shows both facts);
# - **data parallelism** (this section): the global batch is `world_size * batch_size`.
#
# **Learning rate against world size.** The linear scaling rule of classifiers (Goyal et al. 2017:
# multiply the learning rate by $k$ when the batch grows $k$ times) is not what BigGAN describes:
# the rows of its Table 1 change the batch, not the learning rates. `ganlib.distributed` does the same:
# adding ranks grows the global batch and leaves `lr_g` and `lr_d` as configured; scale them
# yourself if you want the rule, and measure.

# %%
torch.manual_seed(0)
net_plain = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
xb, yb = torch.randn(16, 4), torch.randn(16, 1)
net_plain.zero_grad()
F.mse_loss(net_plain(xb), yb).backward()
big = [p.grad.clone() for p in net_plain.parameters()]
net_plain.zero_grad()
for xm, ym in zip(xb.split(4), yb.split(4)):          # 4 micro-batches of 4
    (F.mse_loss(net_plain(xm), ym) / 4).backward()      # each a mean, divided by the number of micro-batches
same_plain = all(torch.allclose(a, p.grad, atol=1e-6) for a, p in zip(big, net_plain.parameters()))
net_bn = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 1))
net_bn.zero_grad()
F.mse_loss(net_bn(xb), yb).backward()
big = [p.grad.clone() for p in net_bn.parameters()]
net_bn.zero_grad()
for xm, ym in zip(xb.split(4), yb.split(4)):
    (F.mse_loss(net_bn(xm), ym) / 4).backward()
same_bn = all(torch.allclose(a, p.grad, atol=1e-6) for a, p in zip(big, net_bn.parameters()))
print(f"accumulated gradient equals the large batch's: without batch norm {same_plain}, with batch norm {same_bn}")
assert same_plain and not same_bn


# %%
if run.run_ddp_demo:
    import json
    import os
    import socket
    import subprocess
    import tempfile

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out_dir = tempfile.mkdtemp(prefix="ddp_")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_addr=127.0.0.1",
           f"--master_port={port}", "-m", "ganlib.distributed", "--profile", "ci", "--steps", "10",
           "--out", out_dir]
    res = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    print(res.stdout[-500:] or res.stderr[-2000:])
    summary = json.load(open(os.path.join(out_dir, "summary.json")))
    print(summary)
    assert summary["max_rank_difference"] == 0.0, "both ranks hold the same weights"

# %% [markdown]
# ## Pitfalls
#
# **1. Truncation that is not resampling.** BigGAN samples $z$ from a truncated normal: values
# outside $[-t, t]$ are *resampled*. Three common substitutes, side by side at $t = 1$:
#
# - **clamping**, `z.clamp(-t, t)`: every value outside lands exactly on $\pm t$, point masses that
#   hold a fraction $P(|z| > t)$ of the draws;
# - **scaling**, `t * z`: keeps the normal's shape, shrinks its spread, and is not bounded at all;
# - **folding** the values outside back in, $z \mapsto t^2/z$ (`ganlib.nn.clip_and_rescale_noise`).
#
# A bounds check passes the first and the third; the standard deviation and a KS test against
# `scipy.stats.truncnorm(-t, t)` tell all three from the right one.

# %%
from ganlib.nn import clip_and_rescale_noise

t_demo, n_demo = 1.0, (400, 50)
g = lambda: torch.Generator().manual_seed(0)  # noqa: E731  (the same draws for every method)
samplers = {"resampled (right)": truncated_noise(*n_demo, t_demo, generator=g()),
            "clamp(-t, t)": torch.randn(*n_demo, generator=g()).clamp(-t_demo, t_demo),
            "t * z": t_demo * torch.randn(*n_demo, generator=g()),
            "fold z -> t^2/z": clip_and_rescale_noise(*n_demo, t_demo, generator=g())}
target = scipy.stats.truncnorm(-t_demo, t_demo)
ks_p = {}
print(f"{'method':20s} {'max |z|':>8s} {'at ±t':>7s} {'std':>7s} {'KS p-value':>11s}")
for name, zz in samplers.items():
    flat = zz.flatten().numpy()
    ks_p[name] = scipy.stats.kstest(flat, target.cdf).pvalue
    print(f"{name:20s} {np.abs(flat).max():8.3f} {np.mean(np.abs(flat) == t_demo):7.1%} {flat.std():7.4f} "
          f"{ks_p[name]:11.2g}")
print(f"truncated normal at t = {t_demo:g}: std {target.std():.4f}")
fig, ax = plt.subplots(figsize=(5, 2.8))
for name, zz in samplers.items():
    ax.hist(zz.flatten().numpy(), bins=60, range=(-2.5, 2.5), histtype="step", density=True, label=name)
ax.legend(fontsize=7)
ax.set_xlabel("z")
plt.show()

# %%
assert ks_p["resampled (right)"] > 0.01
assert all(p < 1e-6 for name, p in ks_p.items() if name != "resampled (right)"), "the substitutes are other distributions"

# %% [markdown]
# **2. "BigGAN uses self-attention at every scale."** It uses **one** attention block (at 64x64
# in the 128 px model; none in its CIFAR-10 setting). Attention costs $O((HW)^2)$: the weight
# matrix alone grows 16x per doubling of the resolution.

# %%
for res in (8, 16, 32, 64, 128):
    print(f"{res:4d}x{res:<4d} attention matrix: {(res * res) ** 2:>12,} weights per image and per block")
assert sum(isinstance(m, SelfAttention) for m in G.modules()) <= 1

# %% [markdown]
# **3. Orthogonal regularisation's factor of 2.** Writing the paper's $\beta\lVert W W^\top\odot(1-I)\rVert_F^2$
# as a loss doubles the gradient that BigGAN's code applies for the same $\beta$; state the
# convention (ours: the code's, via a loss of $\tfrac\beta2\lVert\cdot\rVert_F^2$).
#
# **4. The shared embedding and the hierarchical z left out.** "Conditional BN" with one
# embedding per layer and z only at the input is the SAGAN/cGAN-projection generator, not
# BigGAN's. And "class-balanced sampling" is not a BigGAN trick (see "Class balance" above:
# BigGAN shuffles its data and draws G's labels uniformly).
#
# **5. Sampling from a generator in training mode.** Batch norm then uses the batch statistics of
# whatever you sample (one class, a truncated z...); `sample` switches to eval mode. For the EMA
# generator, eval mode alone is not enough: recompute its statistics first (standing statistics).

# %% [markdown]
# ## Summary
#
# - Spectral norm divides each weight by its largest singular value, tracked with one
#   power-iteration step per forward pass; ours and PyTorch's agree.
# - SAGAN adds one self-attention block (γ starts at 0), the hinge loss and TTUR.
# - BigGAN adds conditional BN from a shared embedding and z chunks, orthogonal regularisation,
#   an EMA generator, bigger batches and several D steps per G step; truncation trades
#   diversity for fidelity, and must be done by resampling.
# - The tables above measure each trick, EMA against raw G, standing statistics and batch size
#   on one budget over several seeds, and their verdicts say which differences this scale can
#   resolve; the truncation curve shows the fidelity-variety trade-off in FID, IS-style
#   confidence, precision and recall. Under `torchrun` the same training runs data-parallel.

# %% [markdown]
# ## Exercises
#
# Each exercise has a check cell right after it. Run it: it passes when your answer is right.

# %%
import numpy as np
import scipy.stats
import torch

# %% [markdown]
# **Exercise 1.** Sample `(n, dim)` values from a standard normal truncated to `[-t, t]` by
# **resampling** the values outside (not by clipping or folding them). Use `generator` for every draw.

# %%
def my_truncated_normal(n, dim, t, generator=None):
    ### BEGIN SOLUTION
    z = torch.randn(n, dim, generator=generator)
    outside = z.abs() > t
    while outside.any():
        z[outside] = torch.randn(int(outside.sum()), generator=generator)
        outside = z.abs() > t
    return z
    ### END SOLUTION


# %%
from ganlib.nn import truncated_noise
from ganlib.student import forbid  # makes the library's version raise while the check runs

with forbid(truncated_noise, torch.nn.init.trunc_normal_):  # write the resampling yourself
    zz = my_truncated_normal(300, 40, 0.8, generator=torch.Generator().manual_seed(0))
    again = my_truncated_normal(300, 40, 0.8, generator=torch.Generator().manual_seed(0))
assert zz.shape == (300, 40), "return an (n, dim) tensor"
assert zz.abs().max() <= 0.8, "values outside [-t, t] remain: resample until none is left (once is not enough)"
assert torch.equal(zz, again), "the same generator must give the same draws: pass generator to every draw"
assert int((zz.abs() == 0.8).sum()) == 0, "values sit exactly on +-t: clipping piles the tails onto the bounds"
truncnorm = scipy.stats.truncnorm(-0.8, 0.8)
assert abs(float(zz.std()) - truncnorm.std()) < 0.01, \
    f"wrong spread (std {float(zz.std()):.4f}, truncated normal {truncnorm.std():.4f}): folding or rescaling?"
assert scipy.stats.kstest(zz.flatten().numpy(), truncnorm.cdf).pvalue > 0.01, \
    "the values are not distributed as a truncated normal (KS test): resample from N(0, 1), do not transform"
### BEGIN HIDDEN TESTS
assert torch.equal(zz, truncated_noise(300, 40, 0.8, generator=torch.Generator().manual_seed(0))), \
    "same draws as ganlib.nn.truncated_noise: resample only the values outside, in order"
### END HIDDEN TESTS
print("exercise 1 ok")

# %% [markdown]
# **Exercise 2.** SAGAN and BigGAN train D with the hinge loss
# $L_D = \mathbb E_x[\max(0, 1 - D(x))] + \mathbb E_z[\max(0, 1 + D(G(z)))]$. Write it from D's raw
# outputs on a batch of reals and a batch of fakes (the two batches may differ in size). Which
# outputs still give D a gradient?

# %%
def my_hinge_d_loss(d_real, d_fake):
    ### BEGIN SOLUTION
    return torch.relu(1 - d_real).mean() + torch.relu(1 + d_fake).mean()
    ### END SOLUTION


# %%
from ganlib.losses import d_loss_hinge
from ganlib.student import forbid

real, fake = torch.tensor([2.0, 0.5, -0.5]), torch.tensor([-2.0, 0.0, 1.5, -0.5, 0.25])  # 3 reals, 5 fakes
with forbid(d_loss_hinge):
    got = float(my_hinge_d_loss(real, fake))
assert abs(got - 2.9166667) > 1e-5, "signs swapped: reals are pushed above +1, fakes below -1"
assert abs(got - 1.1833333) > 1e-5, "the max(0, .) is missing: outputs beyond the margin must cost nothing"
assert abs(got - 7.25) > 1e-5, "the expectations are means, not sums"
assert abs(got - 0.90625) > 1e-5, "average reals and fakes separately (3 reals, 5 fakes), then add"
assert abs(got - 0.5166667) > 1e-5, "the margin is 1: max(0, 1 - D(x)), not max(0, -D(x))"
assert abs(got - 1.7166667) < 1e-5, f"expected 2/3 + 1.05 = 1.71667, got {got:.5f}"
### BEGIN HIDDEN TESTS
r, f = torch.randn(7), torch.randn(4)
assert torch.isclose(my_hinge_d_loss(r, f), d_loss_hinge(r, f))
assert float(my_hinge_d_loss(torch.full((3,), 5.0), torch.full((2,), -5.0))) == 0.0, "a confident D pays nothing"
### END HIDDEN TESTS
print("exercise 2 ok")

# %% [markdown]
# ## Further reading
#
# - H. Zhang, I. Goodfellow, D. Metaxas, A. Odena. *Self-Attention Generative Adversarial
#   Networks.* ICML 2019 (arXiv:1805.08318).
# - A. Brock, J. Donahue, K. Simonyan. *Large Scale GAN Training for High Fidelity Natural
#   Image Synthesis.* ICLR 2019 (arXiv:1809.11096). Code: github.com/ajbrock/BigGAN-PyTorch.
# - T. Miyato, T. Kataoka, M. Koyama, Y. Yoshida. *Spectral Normalization for Generative
#   Adversarial Networks.* ICLR 2018.
# - T. Miyato, M. Koyama. *cGANs with Projection Discriminator.* ICLR 2018.
# - J. H. Lim, J. C. Ye. *Geometric GAN.* arXiv:1705.02894, 2017 (the hinge loss).
# - M. Heusel, H. Ramsauer, T. Unterthiner, B. Nessler, S. Hochreiter. *GANs Trained by a Two
#   Time-Scale Update Rule Converge to a Local Nash Equilibrium.* NeurIPS 2017 (TTUR, FID).
# - H. de Vries, F. Strub, J. Mary, H. Larochelle, O. Pietquin, A. Courville. *Modulating Early
#   Visual Processing by Language.* NeurIPS 2017 (conditional batch norm).
# - S. Li, Y. Zhao, R. Varma, et al. *PyTorch Distributed: Experiences on Accelerating Data
#   Parallel Training.* VLDB 2020 (DistributedDataParallel).
