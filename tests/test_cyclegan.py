"""Chapter 4: CycleGAN -- generator layout vs the official code, image pool, losses, training step,
the unpaired shapes data set, and a learning test on it."""

import json
import time
from pathlib import Path

import pytest
import torch
from torch import nn

import ganlib
from ganlib.data.unpaired_shapes import UnpairedBatches, foreground, load_unpaired_shapes, render, sample_scenes
from ganlib.models.cyclegan import (
    CycleGAN,
    CycleGANConfig,
    ImagePool,
    ResnetGenerator,
    ShapesExperiment,
    cycle_loss,
    evaluate_cyclegan,
    identity_loss,
    real_vs_fake_accuracy,
    train_and_measure,
    train_domain_classifier,
)
from ganlib.train import fit

REFERENCE = Path(__file__).resolve().parent / "data"  # the official state_dict layouts (see its README)
KEYS_9 = REFERENCE / "official_resnet_9blocks_keys.json"
KEYS_UNET = REFERENCE / "official_unet_256_keys.json"


def official_resnet(in_nc=3, out_nc=3, ngf=64, n_blocks=9, norm="instance", use_dropout=False):
    """An independent construction of the official ``ResnetGenerator.model`` (one nn.Sequential),
    written from the official module order, to compare keys and outputs with ours."""
    if norm == "instance":
        nl, bias = (lambda c: nn.InstanceNorm2d(c, affine=False, track_running_stats=False)), True
    elif norm == "batch":
        nl, bias = nn.BatchNorm2d, False
    else:
        nl, bias = (lambda c: nn.Identity()), False

    class Block(nn.Module):
        def __init__(self, dim):
            super().__init__()
            seq = [nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, bias=bias), nl(dim), nn.ReLU(True)]
            seq += [nn.Dropout(0.5)] if use_dropout else []
            seq += [nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, bias=bias), nl(dim)]
            self.conv_block = nn.Sequential(*seq)

        def forward(self, x):
            return x + self.conv_block(x)

    layers = [nn.ReflectionPad2d(3), nn.Conv2d(in_nc, ngf, 7, bias=bias), nl(ngf), nn.ReLU(True)]
    for i in range(2):
        m = 2**i
        layers += [nn.Conv2d(ngf * m, ngf * m * 2, 3, 2, 1, bias=bias), nl(ngf * m * 2), nn.ReLU(True)]
    layers += [Block(ngf * 4) for _ in range(n_blocks)]
    for i in range(2):
        m = 2 ** (2 - i)
        layers += [
            nn.ConvTranspose2d(ngf * m, ngf * m // 2, 3, 2, 1, output_padding=1, bias=bias),
            nl(ngf * m // 2),
            nn.ReLU(True),
        ]
    layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, out_nc, 7), nn.Tanh()]

    class Official(nn.Module):
        def __init__(self):
            super().__init__()
            self.model = nn.Sequential(*layers)

        def forward(self, x):
            return self.model(x)

    net = Official()
    with torch.no_grad():  # non-trivial weights everywhere, including norm affine parameters
        for p in net.parameters():
            p.normal_(0, 0.05)
    return net


# --------------------------------------------------------------------------- the generator


def test_parameter_counts_equal_the_official_ones():
    assert ganlib.count_parameters(ResnetGenerator()) == 11_378_179  # resnet_9blocks
    assert ganlib.count_parameters(ResnetGenerator(n_blocks=6)) == 7_837_699  # resnet_6blocks


def test_official_key_layout_maps_onto_ours_one_to_one():
    layout = json.loads(KEYS_9.read_text())
    ours = ResnetGenerator().state_dict()
    mapped = {ResnetGenerator.official_key(k, 9): tuple(shape) for k, shape in layout}
    assert mapped == {k: tuple(v.shape) for k, v in ours.items()}
    # the independent construction has exactly the reference layout, in order
    official = official_resnet().state_dict()
    assert [(k, list(v.shape)) for k, v in official.items()] == [(k, list(s)) for k, s in layout]


def test_official_key_mapping_exact_values():
    key = ResnetGenerator.official_key
    assert key("model.1.weight", 9) == "stem.1.weight"
    assert key("model.7.bias", 9) == "down.3.bias"
    assert key("model.18.conv_block.5.weight", 9) == "blocks.8.conv_block.5.weight"
    assert key("model.19.weight", 9) == "up.0.weight"
    assert key("model.22.bias", 9) == "up.3.bias"
    assert key("model.26.weight", 9) == "head.1.weight"
    assert key("model.23.weight", 6) == "head.1.weight"
    with pytest.raises(ValueError, match="past the end"):
        key("model.28.weight", 9)


@pytest.mark.parametrize("norm,dropout,n_blocks", [("instance", False, 9), ("batch", True, 2), ("none", False, 3)])
def test_from_official_gives_the_official_output(norm, dropout, n_blocks):
    torch.manual_seed(0)
    ngf = 64 if n_blocks == 9 else 8
    official = official_resnet(3, 1, ngf, n_blocks, norm, dropout).eval()
    if norm == "batch":  # non-trivial running statistics
        for m in official.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
    ours = ResnetGenerator.from_official(official.state_dict()).eval()
    assert (ours.in_channels, ours.out_channels, ours.ngf, ours.n_blocks, ours.norm, ours.use_dropout) == (
        3,
        1,
        ngf,
        n_blocks,
        norm,
        dropout,
    )
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(ours(x), official(x), atol=1e-6)


def test_from_official_reads_a_file_and_patches_old_instance_norm_keys(tmp_path):
    torch.manual_seed(1)
    official = official_resnet(ngf=8, n_blocks=2)
    state = dict(official.state_dict())
    # checkpoints saved by old PyTorch hold running statistics for instance norm layers
    state["model.2.running_mean"], state["model.2.running_var"] = torch.zeros(8), torch.ones(8)
    path = tmp_path / "latest_net_G.pth"
    torch.save(state, path)
    ours = ResnetGenerator.from_official(path)
    x = torch.randn(1, 3, 16, 16)
    with torch.no_grad():
        assert torch.allclose(ours(x), official(x), atol=1e-6)


def test_from_official_rejects_other_architectures():
    unet = {k: torch.zeros(s) for k, s in json.loads(KEYS_UNET.read_text())}
    with pytest.raises(ValueError, match="U-Net"):
        ResnetGenerator.from_official(unet)
    with pytest.raises(ValueError, match="not an official ResnetGenerator"):
        ResnetGenerator.from_official({"conv.weight": torch.zeros(3, 3, 3, 3)})
    with pytest.raises(ValueError, match="7x7"):
        ResnetGenerator.from_official({"model.1.weight": torch.zeros(64, 3, 4, 4)})
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        ResnetGenerator.from_official("/nonexistent/horse2zebra.pth")
    broken = dict(official_resnet(ngf=8, n_blocks=2).state_dict())
    del broken["model.4.weight"]
    with pytest.raises(ValueError, match="missing"):
        ResnetGenerator.from_official(broken)


def test_generator_shapes_and_bad_input():
    G = ResnetGenerator(3, 1, ngf=8, n_blocks=2)
    out = G(torch.randn(2, 3, 20, 28))
    assert out.shape == (2, 1, 20, 28) and out.abs().max() <= 1
    with pytest.raises(ValueError, match="multiples of 4"):
        G(torch.randn(1, 3, 30, 32))
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        G(torch.randn(1, 1, 32, 32))
    with pytest.raises(ValueError, match="n_blocks"):
        ResnetGenerator(n_blocks=-1)
    # instance norm is the default; batch norm only when asked for
    assert any(isinstance(m, nn.InstanceNorm2d) for m in ResnetGenerator(ngf=4, n_blocks=1).modules())
    assert not any(isinstance(m, nn.BatchNorm2d) for m in ResnetGenerator(ngf=4, n_blocks=1).modules())


# --------------------------------------------------------------------------- the image pool


def test_image_pool_fills_then_swaps_half_the_time():
    pool = ImagePool(50, seed=0)
    first = torch.arange(60.0).view(60, 1, 1, 1)
    out = pool.query(first[:50])
    assert torch.equal(out, first[:50]) and len(pool) == 50  # filling: returned as given
    stored_before = torch.cat(pool.images).flatten().tolist()
    new = 100 + torch.arange(2000.0).view(2000, 1, 1, 1)
    swaps = 0
    for image in new:
        before = sorted(torch.cat(pool.images).flatten().tolist())
        got = pool.query(image[None])
        after = sorted(torch.cat(pool.images).flatten().tolist())
        assert len(pool) == 50
        if torch.equal(got, image[None]):  # the new image came back, the pool is unchanged
            assert after == before
        else:  # a stored image came back and the new one took its place
            swaps += 1
            assert got.item() in before and image.item() in after
            assert sorted(after + [got.item()]) == sorted(before + [image.item()])
    assert 0.45 < swaps / 2000 < 0.55
    assert set(stored_before) - set(torch.cat(pool.images).flatten().tolist())  # old ones left


def test_image_pool_off_detached_and_state_roundtrip():
    x = torch.randn(4, 3, 8, 8, requires_grad=True)
    out = ImagePool(0).query(x * 2)
    assert torch.equal(out, x * 2) and not out.requires_grad
    a, b = ImagePool(3, seed=5), ImagePool(3, seed=9)
    a.query(torch.randn(5, 1, 2, 2))
    b.load_state_dict(a.state_dict())
    y = torch.randn(6, 1, 2, 2)
    assert torch.equal(a.query(y), b.query(y))
    with pytest.raises(ValueError, match="pool_size"):
        ImagePool(-1)


# --------------------------------------------------------------------------- the losses


def test_cycle_and_identity_losses_exact_values():
    real = torch.zeros(1, 1, 2, 2)
    rec = torch.tensor([[[[1.0, -1.0], [0.5, 0.0]]]])
    assert cycle_loss(rec, real).item() == pytest.approx(0.625)  # (1 + 1 + 0.5 + 0) / 4
    assert identity_loss(rec, real).item() == pytest.approx(0.625)
    assert cycle_loss(real, real).item() == 0.0
    with pytest.raises(ValueError, match="same shape"):
        cycle_loss(torch.zeros(1, 3, 2, 2), torch.zeros(1, 1, 2, 2))
    with pytest.raises(ValueError, match="lambda_identity=0"):
        identity_loss(torch.zeros(1, 3, 2, 2), torch.zeros(1, 1, 2, 2))


# --------------------------------------------------------------------------- the training step


def _tiny(seed=0, **changes):
    ganlib.seed_everything(seed)
    cfg = ganlib.override(CycleGANConfig(ngf=4, ndf=4, n_blocks=1, n_layers_d=2), **changes)
    return CycleGAN(cfg)


def test_step_order_discriminators_frozen_during_generator_update():
    model = _tiny()
    calls = []
    for name, D in (("D_X", model.D_X), ("D_Y", model.D_Y)):
        D.register_forward_hook(
            lambda m, i, o, name=name: calls.append((name, all(p.requires_grad for p in m.parameters())))
        )
    model.step((torch.randn(2, 3, 16, 16), torch.randn(2, 3, 16, 16)))
    # G-phase: D_Y(G(x)), D_X(F(y)) frozen; then D_Y(real), D_Y(fake), D_X(real), D_X(fake) trainable
    assert calls == [("D_Y", False), ("D_X", False), ("D_Y", True), ("D_Y", True), ("D_X", True), ("D_X", True)]


def test_step_losses_equal_an_independent_computation():
    model = _tiny()
    x, y = torch.rand(2, 3, 16, 16) * 2 - 1, torch.rand(2, 3, 16, 16) * 2 - 1
    G, F, D_X, D_Y = (model.G, model.F, model.D_X, model.D_Y)
    with torch.no_grad():
        fake_y, fake_x = G(x), F(y)
        expect = {
            "g_gan": ((D_Y(fake_y) - 1) ** 2).mean(),
            "f_gan": ((D_X(fake_x) - 1) ** 2).mean(),
            "cycle_x": 10 * (F(fake_y) - x).abs().mean(),
            "cycle_y": 10 * (G(fake_x) - y).abs().mean(),
            "idt_y": 5 * (G(y) - y).abs().mean(),
            "idt_x": 5 * (F(x) - x).abs().mean(),
        }
        expect["g_loss"] = sum(expect.values())
    d_params = [p.detach().clone() for p in D_Y.parameters()]
    losses = model.step((x, y))
    for k, v in expect.items():
        assert losses[k].item() == pytest.approx(v.item(), rel=1e-5), k
    # D_Y's loss: 0.5 * [(D_Y(y) - 1)^2 + D_Y(fake)^2], D_Y's weights before its update; the pool is
    # still filling, so the fakes are this step's G(x), computed before G's update (official order)
    with torch.no_grad():
        D_old = type(D_Y)(3, 4, 2, "instance")
        for p, q in zip(D_old.parameters(), d_params):
            p.copy_(q)
        want = 0.5 * (((D_old(y) - 1) ** 2).mean() + (D_old(fake_y) ** 2).mean())
    assert losses["d_y_loss"].item() == pytest.approx(want.item(), rel=1e-5)


def test_ablation_switches_and_bad_input():
    x, y = torch.randn(2, 3, 16, 16), torch.randn(2, 3, 16, 16)
    losses = _tiny(lambda_x=0.0, lambda_y=0.0, lambda_identity=0.0).step((x, y))
    assert losses["cycle_x"] == losses["cycle_y"] == losses["idt_x"] == losses["idt_y"] == 0
    assert losses["g_loss"].item() == pytest.approx((losses["g_gan"] + losses["f_gan"]).item())
    losses = _tiny(lambda_y=0.0).step((x, y))  # forward cycle only: x -> G -> F -> x
    assert losses["cycle_x"] > 0 and losses["cycle_y"] == 0
    losses = _tiny(lambda_gan=0.0).step((x, y))  # the paper's "Cycle alone"
    assert losses["g_gan"] == losses["f_gan"] == 0 and losses["cycle_x"] > 0
    assert losses["g_loss"].item() == pytest.approx(
        sum(losses[k] for k in ("cycle_x", "cycle_y", "idt_x", "idt_y")).item()
    )
    model = _tiny(y_channels=1)
    with pytest.raises(ValueError, match="identity"):
        model.step((x, torch.randn(2, 1, 16, 16)))
    model = _tiny(y_channels=1, lambda_identity=0.0)  # grayscale <-> RGB works without identity
    assert model.step((x, torch.randn(2, 1, 16, 16)))["d_y_loss"] > 0


# --------------------------------------------------------------------------- the data


def test_unpaired_shapes_train_unpaired_test_paired():
    X, Y = load_unpaired_shapes("train", size=16, limit=64)
    assert X.shape == Y.shape == (64, 3, 16, 16) and X.min() >= -1 and X.max() <= 1
    fx, fy = foreground(X, "X"), foreground(Y, "Y")
    assert (fx != fy).float().mean() > 0.05  # different scenes: silhouettes disagree
    Xt, Yt = load_unpaired_shapes("test", size=16, limit=64)
    assert (foreground(Xt, "X") == foreground(Yt, "Y")).float().mean() > 0.99  # the hidden pairs
    assert not torch.equal(Xt, X[:64])  # test scenes are not training scenes
    scenes = sample_scenes(3, seed=4)
    assert torch.equal(render(scenes, "Y", 16), render(scenes, "Y", 16))  # one Y rendering per scene
    with pytest.raises(ValueError, match="split"):
        load_unpaired_shapes("val")
    with pytest.raises(ValueError, match="domain"):
        render(scenes, "Z")


def test_unpaired_batches_errors_and_resume():
    X, Y = load_unpaired_shapes("train", size=8, limit=10)
    with pytest.raises(ValueError, match="domain Y has no images"):
        UnpairedBatches(X, Y[:0], batch_size=2)
    with pytest.raises(ValueError, match="image sizes"):
        UnpairedBatches(X, torch.zeros(10, 3, 16, 16), batch_size=2)
    a = UnpairedBatches(X, Y, batch_size=4, seed=3)
    next(a)
    b = UnpairedBatches(X, Y, batch_size=4, seed=0)
    b.load_state_dict(a.state_dict())
    for u, v in zip(next(a), next(b)):
        assert torch.equal(u, v)


def test_unpaired_batches_official_crop_and_flip():
    X = torch.arange(2 * 3 * 10 * 10, dtype=torch.float32).view(2, 3, 10, 10)
    batches = UnpairedBatches(X, X.clone(), batch_size=2, seed=1, crop_size=8, flip=True)
    flips = 0
    for _ in range(50):
        x, y = next(batches)
        assert x.shape == y.shape == (2, 3, 8, 8)
        for image in x:  # each image is a window of one source image, flipped or not
            windows = [src[:, t : t + 8, s : s + 8] for src in X for t in range(3) for s in range(3)]
            plain = any(torch.equal(image, w) for w in windows)
            flipped = any(torch.equal(image.flip(-1), w) for w in windows)
            assert plain or flipped
            flips += flipped and not plain
    assert 30 < flips < 70  # about half of the 100 images
    a = UnpairedBatches(X, X, batch_size=2, seed=3, crop_size=8, flip=True)
    next(a)
    b = UnpairedBatches(X, X, batch_size=2, seed=0, crop_size=8, flip=True)
    b.load_state_dict(a.state_dict())
    for u, v in zip(next(a), next(b)):
        assert torch.equal(u, v)
    plain_x = next(UnpairedBatches(X, X, batch_size=2, seed=0))[0]  # no crop, no flip: the images as they are
    assert sorted(float(i.sum()) for i in plain_x) == sorted(float(i.sum()) for i in X)
    with pytest.raises(ValueError, match="crop_size"):
        UnpairedBatches(X, X, batch_size=2, crop_size=12)


def test_real_vs_fake_accuracy_separates_grey_from_real_and_real_from_real():
    _, Y = load_unpaired_shapes("train", size=16, limit=400)
    grey = torch.zeros_like(Y[:200]) + Y.mean()
    assert real_vs_fake_accuracy(grey, Y[:200], steps=100) > 0.95
    assert abs(real_vs_fake_accuracy(Y[200:], Y[:200], steps=100) - 0.5) < 0.15
    with pytest.raises(ValueError, match="at least 4"):
        real_vs_fake_accuracy(Y[:2], Y[:2])


def test_train_and_measure_runs_and_repeats():
    cfg = ShapesExperiment(
        model=CycleGANConfig(ngf=4, ndf=4, n_blocks=1, n_layers_d=1),
        steps=3,
        image_size=16,
        train_limit=32,
        test_limit=16,
        classifier_steps=3,
    )
    ganlib.seed_everything(2)
    a = train_and_measure(cfg, seed=2)
    assert set(a) == {"content L1", "silhouette IoU", "real vs fake", "cycle x", "content L1 (F)"}
    assert all(isinstance(v, float) and v == v for v in a.values())
    ganlib.seed_everything(2)
    assert train_and_measure(cfg, seed=2) == a  # seeded: the same run gives the same numbers


# --------------------------------------------------------------------------- learning


@pytest.mark.learning
def test_cyclegan_learns_to_translate_shapes():
    """Criterion: after 300 steps (32 px, ngf 8, 3 blocks, a 16 px PatchGAN), the domain
    classifier puts >= 80 % of G(x) in Y, a real-vs-fake classifier spots < 90 % of G(x) (it
    spots all of an untrained G's), and G(x) is closer (L1) to x's hidden counterpart y* than the
    identity mapping (x itself) and than a random real y (right style, wrong content)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the budget is CPU time on one core, measured with process_time
    try:
        start = time.process_time()
        ganlib.seed_everything(0)
        X, Y = load_unpaired_shapes("train", size=32)
        Xt, Yt = load_unpaired_shapes("test", size=32, limit=200)
        model = CycleGAN(CycleGANConfig(ngf=8, ndf=8, n_blocks=3, n_layers_d=1))
        history = fit(
            model.step,
            UnpairedBatches(X, Y, batch_size=8),
            300,
            modules=model.modules,
            optimizers=model.optimizers,
            progress=False,
        )
        cpu = time.process_time() - start
    finally:
        torch.set_num_threads(threads)
    assert len(history.steps) == 300, f"only {len(history.steps)} of 300 steps before the 600 s guard"
    assert cpu <= 90, f"training took {cpu:.0f} s of CPU time, over the 90 s budget"
    clf = train_domain_classifier(X, Y, steps=150)
    scores = evaluate_cyclegan(model, Xt, Yt, clf)
    identity = float((Xt - Yt).abs().mean())
    random_y = float((Yt.roll(1, 0) - Yt).abs().mean())
    print(scores, {"identity": identity, "random y": random_y}, f"training: {cpu:.1f} s CPU")
    assert clf.fraction_y(Yt) > 0.99 and clf.fraction_y(Xt) < 0.01
    assert scores["G(x) in Y"] >= 0.8
    assert scores["content G"] < identity and scores["content G"] < random_y
    untrained = CycleGAN(CycleGANConfig(ngf=8, ndf=8, n_blocks=3, n_layers_d=1), seed=1)
    assert real_vs_fake_accuracy(untrained.translate(Xt), Yt) > 0.9
    assert real_vs_fake_accuracy(model.translate(Xt), Yt) < 0.9
