"""Tests of the chapter-6 model (ganlib.models.biggan): shapes, switches, bad input, a learning test."""

import time

import pytest
import torch

import ganlib
from ganlib.models.biggan import (
    BigGANConfig,
    BigGANDiscriminator,
    BigGANGenerator,
    ablation_configs,
    build_biggan,
    cifar10_config,
    make_optimizers,
    make_train_step,
    sample,
)
from ganlib.nn import SelfAttention

TINY = BigGANConfig(g_width=16, d_width=16, z_dim=48, shared_dim=8, batch_size=4, d_steps=2)


@pytest.mark.parametrize("size,channels", [(16, 1), (32, 3), (64, 3)])
def test_shapes_at_every_supported_size(size, channels):
    cfg = ganlib.override(
        TINY, image_size=size, image_channels=channels, z_dim=(size.bit_length() - 2) * 16, attn_res=8
    )
    G, D, _ = build_biggan(cfg)
    y = torch.tensor([0, 9])
    x = G(torch.randn(2, cfg.z_dim), y)
    assert x.shape == (2, channels, size, size) and x.abs().max() <= 1
    assert D(x, y).shape == (2,)


def test_unsupported_resolution_and_bad_labels_and_truncation():
    with pytest.raises(ValueError, match="image_size 28 is not supported"):
        BigGANGenerator(ganlib.override(TINY, image_size=28))
    with pytest.raises(ValueError, match="not supported"):
        BigGANDiscriminator(ganlib.override(TINY, image_size=8))
    G, D, _ = build_biggan(TINY)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 9\]"):
        G(torch.randn(2, TINY.z_dim), torch.tensor([3, 10]))
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 9\]"):
        sample(G, torch.tensor([-1]))
    with pytest.raises(ValueError, match="threshold must be a number > 0"):
        sample(G, torch.tensor([1, 2]), truncation=0.0)
    with pytest.raises(ValueError, match="threshold"):
        sample(G, torch.tensor([1, 2]), truncation=-0.5)
    with pytest.raises(ValueError, match="z_dim 50 must be divisible by 3"):
        BigGANGenerator(ganlib.override(TINY, z_dim=50))
    with pytest.raises(ValueError, match="hinge"):
        BigGANGenerator(ganlib.override(TINY, gan_mode="wgan"))


def test_one_attention_block_and_switches():
    G, D, _ = build_biggan(TINY)
    assert sum(isinstance(m, SelfAttention) for m in G.modules()) == 1, "BigGAN uses ONE attention block"
    assert sum(isinstance(m, SelfAttention) for m in D.modules()) == 1
    rows = ablation_configs(TINY)
    assert len(rows) == 7 and rows[0][0].startswith("baseline") and all(r[0].startswith("+ ") for r in rows[1:])
    base, full = rows[0][1], rows[-1][1]
    assert (base.spectral_norm, base.gan_mode, base.attention, base.cbn, base.ema, base.ortho_beta) == (
        False,
        "vanilla",
        False,
        False,
        False,
        0.0,
    )
    assert (
        full.spectral_norm,
        full.gan_mode,
        full.attention,
        full.cbn,
        full.hierarchical_z,
        full.ema,
        full.ortho_beta,
        full.lr_g,
        full.lr_d,
        full.beta1,
    ) == (True, "hinge", True, True, True, True, 1e-4, 1e-4, 4e-4, 0.0)
    assert (base.lr_g, base.lr_d, base.beta1) == (1e-4, 1e-4, 0.5)
    Gb = BigGANGenerator(base)
    assert not any(isinstance(m, SelfAttention) for m in Gb.modules())
    assert not any(hasattr(m, "parametrizations") for m in Gb.modules())


def test_hierarchical_z_feeds_each_block_its_chunk():
    torch.manual_seed(0)
    G = BigGANGenerator(TINY).eval()
    assert G.num_chunks == 3 and G.chunk == 16
    y = torch.tensor([1])
    z = torch.randn(1, TINY.z_dim)
    z2 = z.clone()
    z2[:, 32:] += 1.0  # only the last block's chunk
    h1 = G.blocks[0](G.linear(z[:, :16]).view(1, 16, 4, 4), torch.cat([G.shared(y), z[:, 16:32]], 1))
    h2 = G.blocks[0](G.linear(z2[:, :16]).view(1, 16, 4, 4), torch.cat([G.shared(y), z2[:, 16:32]], 1))
    assert torch.equal(h1, h2), "the first block does not see the last chunk"
    assert not torch.allclose(G(z, y), G(z2, y)), "but the output does"
    assert G.blocks[0].bn1.cond_dim == 8 + 16, "CBN input = [shared embedding, z chunk]"


def test_train_step_updates_everything_and_ema():
    torch.manual_seed(0)
    cfg = TINY
    G, D, G_ema = build_biggan(cfg)
    og, od = make_optimizers(cfg, G, D)
    assert og.param_groups[0]["lr"] == 1e-4 and od.param_groups[0]["lr"] == 4e-4
    assert og.param_groups[0]["betas"] == (0.0, 0.999)
    g0 = [p.detach().clone() for p in G.parameters()]
    d0 = [p.detach().clone() for p in D.parameters()]
    step = make_train_step(cfg, G, D, og, od, G_ema)
    x, y = torch.rand(8, 1, 16, 16) * 2 - 1, torch.randint(0, 10, (8,))
    out = step((x, y))
    assert set(out) == {"d_loss", "g_loss"} and all(torch.isfinite(v) for v in out.values())
    assert sum(not torch.equal(a, b) for a, b in zip(g0, G.parameters())) >= len(g0) - 1
    assert sum(not torch.equal(a, b) for a, b in zip(d0, D.parameters())) >= len(d0) - 1
    assert all(p.requires_grad for p in D.parameters()), "D's gradients are switched back on"
    assert int(G_ema.num_updates) == 1
    with pytest.raises(ValueError, match="d_steps \\* batch_size"):
        step((x[:5], y[:5]))


def test_cifar10_config_is_biggans():
    cfg = cifar10_config()
    assert (cfg.batch_size, cfg.d_steps, cfg.g_width, cfg.d_width, cfg.lr_g, cfg.lr_d, cfg.steps) == (
        50,
        4,
        256,
        256,
        2e-4,
        2e-4,
        125_000,
    )
    assert (cfg.image_size, cfg.image_channels, cfg.attention, cfg.ema_decay, cfg.ema_start) == (
        32,
        3,
        False,
        0.9999,
        1000,
    )
    G, D, _ = build_biggan(cfg)
    assert G(torch.randn(2, 128), torch.tensor([0, 1])).shape == (2, 3, 32, 32)


#: The learning test's budget: the full model (every trick on) at a short-run learning rate.
#: 800 steps: the EMA generator (decay 0.99) lags the raw one; measured with seed 0, its
#: conditional accuracy is 55 % at 600 steps, 96 % at 750 and 100 % at 900.
LEARN = BigGANConfig(steps=800, g_width=32, d_width=32, batch_size=32, d_steps=1, lr_g=3e-4, lr_d=9e-4, ema_decay=0.99)


@pytest.mark.learning
def test_biggan_learns_class_conditional_digits():
    from ganlib.classifier import conditional_accuracy, pretrained_classifier
    from ganlib.data import TensorBatches, load_digits
    from ganlib.train import fit

    clf = pretrained_classifier("digits", 16)
    ganlib.seed_everything(0)
    cfg = LEARN
    x, y = load_digits(16, "train")
    G, D, G_ema = build_biggan(cfg)
    og, od = make_optimizers(cfg, G, D)
    labels = torch.arange(10).repeat_interleave(50)
    before = conditional_accuracy(clf, sample(G, labels, generator=torch.Generator().manual_seed(1)), labels)
    started = time.process_time()
    history = fit(
        make_train_step(cfg, G, D, og, od, G_ema),
        TensorBatches(x, y, batch_size=cfg.batch_size, seed=0),
        cfg.steps,
        modules={"G": G, "D": D},
        progress=False,
    )
    seconds = time.process_time() - started
    acc = conditional_accuracy(clf, sample(G_ema, labels, generator=torch.Generator().manual_seed(1)), labels)
    print(
        f"conditional accuracy {before:.1%} -> {acc:.1%} (EMA G) after {len(history.steps)} steps, {seconds:.0f} s CPU"
    )
    assert before < 0.3
    assert acc >= 0.70, f"conditional accuracy {acc:.1%} < 70 % after {len(history.steps)} steps"


def test_spectral_norm_skips_gs_shared_embedding_but_not_ds_projection():
    from torch.nn.utils import parametrize

    G, D, _ = build_biggan(TINY)
    assert not parametrize.is_parametrized(G.shared), "BigGAN-PyTorch keeps G.shared plain"
    assert parametrize.is_parametrized(D.head.embed, "weight"), "D's projection embedding is normalised"
    assert parametrize.is_parametrized(G.linear, "weight") and parametrize.is_parametrized(G.blocks[0].conv1, "weight")


def test_ema_with_standing_statistics_recomputes_bn_on_a_copy():
    from ganlib.models.biggan import ema_with_standing_statistics

    torch.manual_seed(0)
    G, D, G_ema = build_biggan(TINY)
    with torch.no_grad():
        for p in G_ema.model.parameters():  # the average has weights of its own
            p.mul_(1.5)
    bn = G_ema.model.blocks[0].bn1.bn
    bn.running_mean.fill_(3.0)  # copied statistics that do not fit
    copy_ = ema_with_standing_statistics(G_ema, batches=4, batch_size=16)
    assert torch.equal(bn.running_mean, torch.full_like(bn.running_mean, 3.0)), "the EMA itself is untouched"
    assert not torch.allclose(copy_.blocks[0].bn1.bn.running_mean, bn.running_mean)
    assert not copy_.training
    z, y = torch.randn(4, TINY.z_dim), torch.tensor([0, 1, 2, 3])
    assert not torch.allclose(copy_(z, y), G_ema.model(z, y))


def test_train_and_measure_returns_every_measure():
    from ganlib.models.biggan import BigGANExperiment, train_and_measure

    cfg = ganlib.override(TINY, g_width=8, d_width=8, batch_size=8, d_steps=1, ema_decay=0.9)
    out = train_and_measure(BigGANExperiment(cfg, steps=3, per_class=5, truncations=(0.5,)), seed=1)
    want = {
        "acc",
        "fid",
        "div",
        "conf",
        "precision",
        "recall",
        "raw_acc",
        "raw_fid",
        "copied_acc",
        "copied_fid",
        "sigma_g_max",
        "sigma_d_max",
    } | {f"{m}@0.5" for m in ("acc", "fid", "div", "conf", "precision", "recall")}
    assert set(out) == want and all(isinstance(v, float) and v == v for v in out.values())
    assert 0 <= out["acc"] <= 1 and 0 <= out["precision"] <= 1 and out["fid"] > 0
    assert out["div@0.5"] < out["div"], "truncation at 0.5 gives less diversity"
    plain = train_and_measure(BigGANExperiment(ganlib.override(cfg, ema=False, spectral_norm=False), 3, 5), 1)
    assert "raw_fid" not in plain and "sigma_g_max" not in plain
