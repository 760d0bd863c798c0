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
# conditioning, the projection discriminator, conditional accuracy) and the FID chapter.

# %%
import sys
if "google.colab" in sys.modules:  # on Colab only: install ganlib from the book's repository
    import subprocess
    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "git+https://github.com/ganbook/ganbook"], check=True)

# %%
import time
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
from ganlib.data import TensorBatches, load_digits
from ganlib.models.biggan import (BigGANConfig, ablation_configs, build_biggan, checkpoint_config,
                                  cifar10_config, make_optimizers, make_train_step, sample)
from ganlib.train import fit

device = ganlib.setup(seed=0)


# %% tags=["parameters"]
@dataclass
class RunConfig:
    table_steps: int = 300          # G steps per row of the ablation table (the same for every row)
    per_class: int = 50             # generated images per class for every measurement
    truncations: tuple = (0.2, 0.5, 1.0, 1.5, 2.0)
    checkpoint: Optional[str] = None  # a path makes the main run resumable (gpu profile)
    run_ddp_demo: bool = False      # start a 2-process torchrun from the notebook


PROFILE = ganlib.get_profile()  # "ci", "cpu" or "gpu": GANLIB_PROFILE, else chosen automatically
cfg = ganlib.choose(PROFILE,
                    ci=BigGANConfig(steps=80, g_width=16, d_width=16, z_dim=48, shared_dim=16, batch_size=16,
                                    d_steps=1, lr_g=2e-4, lr_d=8e-4, ema_decay=0.9),
                    cpu=BigGANConfig(steps=600, g_width=32, d_width=32, batch_size=32, d_steps=1,
                                     lr_g=3e-4, lr_d=9e-4, ema_decay=0.99),
                    gpu=cifar10_config())  # BigGAN's CIFAR-10 settings, 125k steps, resumable
run = ganlib.choose(PROFILE,
                    ci=RunConfig(table_steps=80, per_class=12),
                    cpu=RunConfig(table_steps=600, per_class=50, run_ddp_demo=True),
                    gpu=RunConfig(table_steps=10_000, per_class=500, checkpoint="checkpoints/06_biggan.pt",
                                  run_ddp_demo=True))
print(PROFILE, cfg, run, sep="\n")

# %% [markdown]
# The profiles train the same model: `ci` narrow and short, `cpu` the full model on the 16x16
# digits (learning rates 3e-4 for G and 9e-4 for D: SAGAN's 1e-4 and 4e-4 learn too slowly
# for a 600-step run; D still learns faster than G), `gpu` BigGAN's CIFAR-10 recipe (batch 50, 4 D steps per G step, widths 256, lr 2e-4,
# EMA 0.9999 from step 1000, 125,000 steps) with a checkpoint that resumes after a disconnect.

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
# | TTUR | D learns faster than G: $\eta_G = 10^{-4}$, $\eta_D = 4\cdot10^{-4}$, Adam $\beta=(0, 0.999)$ | `cfg.lr_g`, `cfg.lr_d`, `cfg.beta1` |
# | self-attention | $y = x + \gamma\, W_o \sum_i \beta_{j,i} h_i$ lets distant positions talk | `ganlib.nn.SelfAttention` |
# | conditional BN | $\hat x \odot (1 + W_\gamma c) + W_\beta c$, $c = [e(y), z_b]$ | `ganlib.nn.ConditionalBatchNorm2d` |
# | orthogonal reg. | $\beta\lVert W W^\top\odot(1-I)\rVert_F^2$ keeps G smooth in $z$ | `ganlib.nn.orthogonal_regularization` |
# | EMA of G | $\theta_\text{EMA} \leftarrow \delta\theta_\text{EMA} + (1-\delta)\theta$ | `ganlib.nn.EMA` |
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
print(f"sigma(W) by SVD {largest_singular_value(raw):.4f}, our estimate {float(ours.sigma(raw)):.4f}, "
      f"sigma of the normalised weight {largest_singular_value(conv_ours.weight):.4f}")

# %%
assert abs(float(ours.sigma(raw)) - largest_singular_value(raw)) < 1e-3 * largest_singular_value(raw)
assert abs(largest_singular_value(conv_ours.weight) - 1.0) < 1e-3

# %% [markdown]
# ### 2. Self-attention (SAGAN)
#
# For a feature map with positions $i$ ($HW$ of them), 1x1 convolutions give queries
# $f = W_f x$ and keys $g = W_g x$ with $C/8$ channels and values $h = W_h x$. Each position $j$
# mixes the values of all positions with weights $\beta_{j,i} = \mathrm{softmax}_i(f_j^\top g_i)$,
# and the block adds the result back, scaled by a learned $\gamma$ that **starts at 0** (the
# block starts as the identity):
#
# $$o_j = W_o \sum_i \beta_{j,i}\, h_i, \qquad y_j = x_j + \gamma\, o_j.$$

# %%
def self_attention(x, W_f, W_g, W_h, W_o, gamma):
    """x (N, C, H, W); W_f, W_g (C/8, C); W_h (C/2, C); W_o (C, C/2) -> (y, beta (N, HW, HW))."""
    n, c, hh, ww = x.shape
    X = x.flatten(2)                                          # (N, C, HW)
    f, g, h = W_f @ X, W_g @ X, W_h @ X                       # (N, C/8, HW), (N, C/8, HW), (N, C/2, HW)
    beta = torch.softmax(f.transpose(1, 2) @ g, dim=-1)       # (N, HW_query, HW_key)
    o = W_o @ (h @ beta.transpose(1, 2))                      # (N, C, HW)
    return (X + gamma * o).view(n, c, hh, ww), beta


from ganlib.nn import SelfAttention

attn = SelfAttention(32)
x = torch.randn(2, 32, 8, 8)
w = lambda conv: conv.weight[:, :, 0, 0]  # noqa: E731  (a 1x1 conv is a matrix)
y0, beta = self_attention(x, w(attn.query), w(attn.key), w(attn.value), w(attn.out), attn.gamma)

# %%
assert torch.equal(y0, x), "gamma = 0: the block starts as the identity"
assert beta.shape == (2, 64, 64) and torch.allclose(beta.sum(-1), torch.ones(2, 64))
with torch.no_grad():
    attn.gamma.fill_(0.7)
y1, _ = self_attention(x, w(attn.query), w(attn.key), w(attn.value), w(attn.out), attn.gamma)
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
# copied, not averaged.)

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

# %%
G, D, G_ema = build_biggan(cfg, device)
print(f"G: {ganlib.count_parameters(G):,} parameters, D: {ganlib.count_parameters(D):,}")
print("attention blocks in G:", sum(isinstance(m, SelfAttention) for m in G.modules()),
      "| in D:", sum(isinstance(m, SelfAttention) for m in D.modules()))
for name, c in ablation_configs(cfg):
    print(f"{name:52s} SN={c.spectral_norm!s:5} loss={c.loss:5} lr={c.lr_g:.0e}/{c.lr_d:.0e} b1={c.beta1} "
          f"attn={c.attention!s:5} CBN={c.cbn!s:5} EMA={c.ema!s:5} ortho={c.ortho_beta}")

# %%
with torch.no_grad():
    x_fake = G(torch.randn(3, cfg.z_dim, device=device), torch.tensor([0, 1, 2], device=device))
assert x_fake.shape == (3, cfg.image_channels, cfg.image_size, cfg.image_size)
assert sum(isinstance(m, SelfAttention) for m in G.modules()) == (1 if cfg.attention else 0)

# %% [markdown]
# ## Data
#
# The 16x16 digits by default (offline, 1,437 training images, 10 classes); the `gpu` profile
# loads CIFAR-10 (32x32, 10 classes) with `ganlib.data.registry.load_labelled("cifar10")`.

# %%
if cfg.dataset == "digits":
    x_train, y_train = load_digits(cfg.image_size, "train")
else:
    from ganlib.data import registry
    x_train, y_train = registry.load_labelled(cfg.dataset, train=True, size=cfg.image_size)
print(cfg.dataset, tuple(x_train.shape), "labels", y_train.bincount().tolist())
viz.show_grid(x_train[:32], nrow=16, title=f"real {cfg.dataset}")
plt.show()

# %% [markdown]
# ## Train
#
# `make_train_step` is the paper's algorithm: `d_steps` D updates (each on a fresh real batch
# and fresh fakes, real and fake through D in one call, as BigGAN's code does), then one G update
# with D frozen, orthogonal regularisation added to G's loss, and an EMA update.

# %%
def train(cfg, steps, desc, checkpoint=None):
    ganlib.seed_everything(cfg.seed)
    G, D, G_ema = build_biggan(cfg, device)
    opt_g, opt_d = make_optimizers(cfg, G, D)
    batches = TensorBatches(x_train, y_train, batch_size=cfg.d_steps * cfg.batch_size, seed=cfg.seed)
    modules = {"G": G, "D": D, **({"G_ema": G_ema} if G_ema is not None else {})}
    history = fit(make_train_step(cfg, G, D, opt_g, opt_d, G_ema, device), batches, steps,
                  modules=modules, optimizers={"G": opt_g, "D": opt_d}, checkpoint=checkpoint,
                  checkpoint_every=1000, config=checkpoint_config(cfg), desc=desc)
    return G, D, G_ema, history


started = time.perf_counter()
G, D, G_ema, history = train(cfg, cfg.steps, "BigGAN (all tricks)", checkpoint=run.checkpoint)
main_seconds = time.perf_counter() - started
print(f"{cfg.steps} steps in {main_seconds:.0f} s")
viz.plot_losses(history)
plt.show()

# %% [markdown]
# ## Look
#
# One row per class, sampled from the EMA generator.

# %%
labels_grid = torch.arange(cfg.num_classes).repeat_interleave(10)
images = sample(G_ema if G_ema is not None else G, labels_grid, generator=torch.Generator().manual_seed(0))
viz.show_grid(images, nrow=10, row_labels=[str(k) for k in range(cfg.num_classes)], title="BigGAN-style G (EMA)")
plt.show()

# %% [markdown]
# **Where does G attend?** The attention weights $\beta_{j,\cdot}$ of one query position $j$ form
# a map over all positions. We read them from G's attention block with a forward hook.

# %%
if cfg.attention:
    net = G_ema.model if G_ema is not None else G
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
# Two numbers from the judge classifier of the conditional chapters: **conditional accuracy**
# (does G draw the class it was asked for?) and **FID** in the classifier's feature space (the
# offline extractor of the FID chapter: *not* comparable with published Inception FIDs; compare
# only numbers from the same extractor and N). Both from `run.per_class` samples per class.

# %%
from ganlib.metrics.fid import fid
from ganlib.metrics.offline import offline_extractor

judge = pretrained_classifier(cfg.dataset, cfg.image_size)
extractor = offline_extractor(cfg.image_size, cfg.dataset)
eval_labels = torch.arange(cfg.num_classes).repeat_interleave(run.per_class)
x_real_eval = x_train[torch.randperm(len(x_train), generator=torch.Generator().manual_seed(0))[:len(eval_labels)]]


def measure(G, truncation=None, seed=1):
    images = sample(G, eval_labels, truncation=truncation, generator=torch.Generator().manual_seed(seed))
    return {"acc": conditional_accuracy(judge, images, eval_labels),
            "fid": fid(x_real_eval, images, extractor),
            "div": intra_class_diversity(judge, images, eval_labels)}


real_div = intra_class_diversity(judge, x_train, y_train)
print(f"judge held-out accuracy {judge.test_accuracy:.1%}; real intra-class diversity {real_div:.2f}")

# %% [markdown]
# ### EMA vs raw generator, same step

# %%
raw_m = measure(G)
ema_m = measure(G_ema) if G_ema is not None else raw_m
print(f"{'generator':10s} {'cond. acc':>10s} {'FID':>8s} {'diversity':>10s}")
for name, m in [("raw G", raw_m), ("EMA G", ema_m)]:
    print(f"{name:10s} {m['acc']:10.1%} {m['fid']:8.2f} {m['div']:10.2f}")
assert 0 <= ema_m["acc"] <= 1 and ema_m["fid"] >= 0

# %% [markdown]
# ### The ablation: one trick at a time, same budget
#
# Every row trains from the same seed for `run.table_steps` G steps and adds one trick to the
# row above. Rows with an EMA are measured with the EMA generator. When the last row is the
# model trained above (same config, same steps) we reuse it instead of training it again.

# %%
table = []
for name, row_cfg in ablation_configs(cfg):
    if row_cfg == cfg and run.table_steps == cfg.steps:
        table.append((name, ema_m if G_ema is not None else raw_m, main_seconds))
        continue
    started = time.perf_counter()
    G_row, _, G_row_ema, _ = train(row_cfg, run.table_steps, name[:24])
    m = measure(G_row_ema if G_row_ema is not None else G_row)
    table.append((name, m, time.perf_counter() - started))
print(f"{'configuration':52s} {'cond. acc':>9s} {'FID':>7s} {'seconds':>8s}")
for name, m, s in table:
    print(f"{name:52s} {m['acc']:9.1%} {m['fid']:7.2f} {s:8.0f}")

# %%
assert len(table) == 7 and all(np.isfinite(m["fid"]) for _, m, _ in table)
if PROFILE == "cpu":
    assert table[-1][1]["acc"] > table[0][1]["acc"] or table[-1][1]["acc"] >= 0.7, \
        "the full model should beat the baseline"

# %% [markdown]
# ### The truncation curve
#
# Smaller thresholds $t$ move $z$ towards the mode: fidelity (conditional accuracy, FID's
# precision-like behaviour) goes up, diversity (intra-class distance in feature space) goes down.

# %%
G_final = G_ema if G_ema is not None else G
curve = [(t, measure(G_final, truncation=t)) for t in run.truncations] + [(None, measure(G_final))]
print(f"{'threshold':>10s} {'cond. acc':>10s} {'FID':>8s} {'diversity':>10s}")
for t, m in curve:
    print(f"{'none' if t is None else t:>10} {m['acc']:10.1%} {m['fid']:8.2f} {m['div']:10.2f}")
fig, ax = plt.subplots(figsize=(4.5, 3.2))
ax.plot([m["div"] for _, m in curve], [m["acc"] for _, m in curve], "o-")
for t, m in curve:
    ax.annotate("none" if t is None else str(t), (m["div"], m["acc"]), fontsize=8)
ax.axvline(real_div, ls="--", c="gray", label="real data diversity")
ax.set_xlabel("intra-class diversity (feature distance)")
ax.set_ylabel("conditional accuracy")
ax.legend(fontsize=8)
plt.show()

# %%
divs = [m["div"] for _, m in curve]
assert divs[0] < divs[-1], "truncation at 0.2 must give less diversity than no truncation"

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
# **1. Truncation by clip-and-rescale.** Some write-ups keep $z$ inside $[-t, t]$ by folding the
# values outside back in (here: $z \mapsto t^2/z$) instead of resampling them. A bounds check
# passes; the distribution is wrong, which a KS test (or just the standard deviation) shows.

# %%
from ganlib.nn import clip_and_rescale_noise

for name, zz in [("resampled (right)", truncated_noise(400, 50, 1.0, generator=torch.Generator().manual_seed(0))),
                 ("clip-and-rescale (wrong)", clip_and_rescale_noise(400, 50, 1.0, generator=torch.Generator().manual_seed(0)))]:
    flat = zz.flatten().numpy()
    p = scipy.stats.kstest(flat, scipy.stats.truncnorm(-1, 1).cdf).pvalue
    print(f"{name:26s} max |z| {np.abs(flat).max():.3f}  std {flat.std():.4f}  KS p-value vs truncnorm {p:.2g}")
print(f"truncated normal at t = 1: std {scipy.stats.truncnorm(-1, 1).std():.4f}")

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
# BigGAN's. And "class-balanced sampling" is not a BigGAN trick.
#
# **5. Sampling from a generator in training mode.** Batch norm then uses the batch statistics of
# whatever you sample (one class, a truncated z...); `sample` switches to eval mode.

# %% [markdown]
# ## Summary
#
# - Spectral norm divides each weight by its largest singular value, tracked with one
#   power-iteration step per forward pass; ours and PyTorch's agree.
# - SAGAN adds one self-attention block (γ starts at 0), the hinge loss and TTUR.
# - BigGAN adds conditional BN from a shared embedding and z chunks, orthogonal regularisation,
#   an EMA generator, bigger batches and several D steps per G step; truncation trades
#   diversity for fidelity, and must be done by resampling.
# - The table above measures each trick on the same budget; the truncation curve and EMA-vs-raw
#   numbers show the trade-offs. Under `torchrun` the same training runs data-parallel.

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
