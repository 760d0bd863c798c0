"""Tests of ganlib's core: profiles, utilities, data, batches, training loop and checkpoints."""

import math
import os

import pytest
import torch
from torch import nn

import ganlib
from ganlib.data import TensorBatches, load_digits
from ganlib.train import History, fit, load_checkpoint, save_checkpoint

# ----------------------------------------------------------------------------- profiles


def test_profile_from_env_and_argument(monkeypatch):
    monkeypatch.setenv("GANLIB_PROFILE", "gpu")
    assert ganlib.get_profile() == "gpu"
    assert ganlib.get_profile("ci") == "ci"
    monkeypatch.setenv("GANLIB_PROFILE", " CPU ")
    assert ganlib.get_profile() == "cpu"


def test_profile_automatic(monkeypatch):
    monkeypatch.delenv("GANLIB_PROFILE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setenv("CI", "true")
    assert ganlib.get_profile() == "ci"
    monkeypatch.delenv("CI")
    assert ganlib.get_profile() == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert ganlib.get_profile() == "gpu"


def test_unknown_profile_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("GANLIB_PROFILE", "laptop")
    with pytest.raises(ValueError, match=r"unknown profile 'laptop'.*ci, cpu, gpu"):
        ganlib.get_profile()
    with pytest.raises(ValueError, match="unknown profile"):
        ganlib.choose("fast", ci=1, cpu=2, gpu=3)


def test_choose_and_override():
    from dataclasses import dataclass

    @dataclass
    class Cfg:
        steps: int = 10
        lr: float = 2e-4

    cfg = ganlib.choose("cpu", ci=Cfg(1), cpu=Cfg(2), gpu=Cfg(3))
    assert cfg.steps == 2
    assert ganlib.override(cfg, lr=1e-3) == Cfg(2, 1e-3)
    with pytest.raises(ValueError, match="no field"):
        ganlib.override(cfg, step=5)
    with pytest.raises(ValueError, match="one config per profile"):
        ganlib.choose("ci", ci=1, cpu=2)


def test_checkpoint_path_only_for_gpu_runs_and_under_the_checkpoint_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("GANLIB_CHECKPOINTS", str(tmp_path / "drive"))
    path = ganlib.checkpoint_path("03_pix2pix", "main.pt", "gpu")
    assert path == tmp_path / "drive" / "03_pix2pix" / "main.pt" and path.parent.is_dir()
    assert ganlib.checkpoint_path("03_pix2pix", "main.pt") == path  # no profile: the name decides
    assert ganlib.checkpoint_path("03_pix2pix", "main.pt", "cpu") is None
    assert ganlib.checkpoint_path("03_pix2pix", "main.pt", "ci") is None
    assert ganlib.checkpoint_path("03_pix2pix", None, "gpu") is None
    monkeypatch.delenv("GANLIB_CHECKPOINTS")
    monkeypatch.chdir(tmp_path)
    assert ganlib.checkpoint_path("06_sagan_biggan", "biggan.pt") == tmp_path.joinpath(
        "checkpoints", "06_sagan_biggan", "biggan.pt"
    ).relative_to(tmp_path)


# ----------------------------------------------------------------------------- utilities


def test_seed_everything_repeats_all_rngs():
    import random

    import numpy as np

    ganlib.seed_everything(3)
    a = (random.random(), np.random.rand(), torch.rand(1).item())
    ganlib.seed_everything(3)
    b = (random.random(), np.random.rand(), torch.rand(1).item())
    assert a == b
    with pytest.raises(ValueError):
        ganlib.seed_everything(-1)


def test_count_parameters_exact():
    net = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 1, bias=False))
    assert ganlib.count_parameters(net) == 3 * 4 + 4 + 4 + 4 + 4
    net[2].weight.requires_grad_(False)
    assert ganlib.count_parameters(net, trainable_only=True) == 24


def test_get_device_and_threads():
    assert ganlib.get_device("cpu").type == "cpu"
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA is not available"):
            ganlib.get_device("cuda")
    old = torch.get_num_threads()
    try:
        assert ganlib.set_threads(1) == 1 and torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(old)


# ----------------------------------------------------------------------------- data


@pytest.mark.parametrize("size", [8, 16, 32])
def test_digits_sizes_and_range(size):
    x, y = load_digits(size)
    assert x.shape == (1797, 1, size, size) and y.shape == (1797,)
    assert x.min() == -1 and x.max() == 1 and x.dtype == torch.float32
    assert sorted(y.unique().tolist()) == list(range(10))


def test_digits_split_is_disjoint_stratified_and_fixed():
    xtr, ytr = load_digits(8, "train")
    xte, yte = load_digits(8, "test")
    assert len(xtr) + len(xte) == 1797
    assert 350 <= len(xte) <= 370
    counts = torch.bincount(yte, minlength=10)
    assert counts.min() >= 33
    # no test image appears in the training split
    flat_tr = {tuple(v) for v in xtr.flatten(1).tolist()}
    overlap = sum(tuple(v) in flat_tr for v in xte.flatten(1).tolist())
    assert overlap <= 5  # the digits set has a handful of exact duplicate images
    assert torch.equal(load_digits(8, "test")[0], xte)
    with pytest.raises(ValueError, match="sizes"):
        load_digits(12)


def test_tensor_batches_cover_each_epoch_and_resume():
    x = torch.arange(10)
    b = TensorBatches(x, batch_size=3, seed=1)
    epoch = torch.cat([next(b)[0] for _ in range(3)])
    assert len(set(epoch.tolist())) == 9  # 3 full batches, drop_last drops one item
    state = b.state_dict()
    after = [next(b)[0].tolist() for _ in range(5)]
    b2 = TensorBatches(x, batch_size=3, seed=99)
    b2.load_state_dict(state)
    assert [next(b2)[0].tolist() for _ in range(5)] == after
    with pytest.raises(ValueError, match="same length"):
        TensorBatches(x, torch.arange(3), batch_size=2)
    with pytest.raises(ValueError, match="larger than the data set"):
        TensorBatches(x, batch_size=11)


# ----------------------------------------------------------------------------- training loop


def _toy_problem(seed=0):
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Dropout(0.1), nn.Linear(16, 1))
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 2, generator=g)
    y = (x[:, :1] * 2 - x[:, 1:]).clone()
    batches = TensorBatches(x, y, batch_size=8, seed=0)

    def step(batch):
        xb, yb = batch
        noise = torch.randn_like(yb) * 0.01  # uses the global RNG: resume must restore it
        loss = ((net(xb) - yb - noise) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        return {"loss": loss}

    return net, opt, batches, step


def test_fit_learns_and_records_history():
    net, opt, batches, step = _toy_problem()
    history = fit(step, batches, 200, modules={"net": net}, optimizers={"opt": opt}, progress=False)
    assert history.steps == list(range(1, 201))
    assert history.last("loss", 20) < 0.1 * history["loss"][0]


def test_killed_run_resumes_to_the_same_weights(tmp_path):
    net_a, opt_a, batches_a, step_a = _toy_problem()
    ganlib.seed_everything(5)
    fit(step_a, batches_a, 30, modules={"net": net_a}, optimizers={"opt": opt_a}, progress=False)

    ckpt = tmp_path / "run.pt"
    net_b, opt_b, batches_b, step_b = _toy_problem()
    calls = {"n": 0}

    def dies_at_step_17(batch):
        calls["n"] += 1
        if calls["n"] == 17:
            raise KeyboardInterrupt("killed")
        return step_b(batch)

    ganlib.seed_everything(5)
    with pytest.raises(KeyboardInterrupt):
        fit(
            dies_at_step_17,
            batches_b,
            30,
            modules={"net": net_b},
            optimizers={"opt": opt_b},
            checkpoint=ckpt,
            checkpoint_every=5,
            progress=False,
        )
    assert torch.load(ckpt, weights_only=True)["step"] == 15
    # no temp files left; the checkpoint before the last (step 10) is kept beside it
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.previous.pt", "run.pt"]
    assert torch.load(tmp_path / "run.previous.pt", weights_only=True)["step"] == 10

    # a fresh process: new objects, other RNG state; the checkpoint restores everything
    net_c, opt_c, batches_c, step_c = _toy_problem(seed=123)
    ganlib.seed_everything(999)
    history = fit(
        step_c,
        batches_c,
        30,
        modules={"net": net_c},
        optimizers={"opt": opt_c},
        checkpoint=ckpt,
        checkpoint_every=5,
        progress=False,
    )
    assert history.steps == list(range(1, 31))
    for (k, a), (_, c) in zip(net_a.state_dict().items(), net_c.state_dict().items()):
        assert torch.equal(a, c), k


def test_nan_loss_stops_with_a_clear_message():
    net, opt, batches, step = _toy_problem()

    def bad(batch):
        out = step(batch)
        return {"d_loss": out["loss"], "g_loss": torch.tensor(float("nan")) if len(h.steps) >= 3 else 1.0}

    h = History()
    with pytest.raises(FloatingPointError, match=r"step 4: loss 'g_loss' is nan"):
        fit(bad, batches, 10, modules={"net": net}, optimizers={"opt": opt}, progress=False, history=h)


def test_checkpoint_of_another_model_or_config_is_refused(tmp_path):
    from dataclasses import dataclass

    @dataclass
    class Cfg:
        width: int = 16
        steps: int = 100

    net, opt, *_ = _toy_problem()
    path = tmp_path / "c.pt"
    save_checkpoint(path, modules={"net": net}, optimizers={"opt": opt}, step=3, config=Cfg())
    other = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Dropout(0.1), nn.Linear(8, 1))
    with pytest.raises(ValueError, match=r"different model for 'net'.*shape mismatch"):
        load_checkpoint(path, modules={"net": other})
    with pytest.raises(ValueError, match=r"another config \(width: checkpoint 16 vs now 32\)"):
        load_checkpoint(path, modules={"net": net}, config=Cfg(width=32))
    with pytest.raises(ValueError, match="holds modules"):
        load_checkpoint(path, modules={"G": net})
    torch.save({"x": 1}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a ganlib checkpoint"):
        load_checkpoint(tmp_path / "other.pt", modules={"net": net})
    state = load_checkpoint(path, modules={"net": net}, optimizers={"opt": opt}, config=Cfg())
    assert state["step"] == 3
    # training a finished run for longer: only `steps` changed
    assert load_checkpoint(path, modules={"net": net}, config=Cfg(steps=500))["step"] == 3


def test_time_limit_is_a_safety_net_not_a_budget(tmp_path):
    # passing time_limit stops with an error that says the machine was too slow, and leaves a
    # checkpoint that resumes; it never returns a silently shortened run
    from ganlib.train import TrainingTooSlow

    net, opt, batches, step = _toy_problem()
    ckpt = tmp_path / "slow.pt"
    with pytest.raises(TrainingTooSlow, match="too slow or too busy.*not cut short"):
        fit(
            step,
            batches,
            10_000_000,
            modules={"net": net},
            optimizers={"opt": opt},
            progress=False,
            time_limit=0.3,
            checkpoint=ckpt,
        )
    assert 0 < torch.load(ckpt, weights_only=True)["step"] < 10_000_000


def test_snapshots():
    net, opt, batches, step = _toy_problem()
    h = fit(
        step,
        batches,
        20,
        modules={"net": net},
        optimizers={"opt": opt},
        progress=False,
        snapshot_fn=lambda: torch.zeros(2, 1, 4, 4),
        snapshot_every=5,
    )
    assert len(h.steps) == 20
    assert h.snapshots and h.snapshots[0][0] == 5 and h.snapshots[0][1].shape == (2, 1, 4, 4)
    assert not math.isnan(h.last("loss"))


def test_viz_functions_draw(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    from ganlib import viz

    imgs = torch.rand(20, 1, 8, 8) * 2 - 1
    ax = viz.show_grid(imgs, nrow=10, row_labels=["a", "b"])
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b"]
    with pytest.raises(ValueError, match="row labels"):
        viz.show_grid(imgs, nrow=10, row_labels=["a"])
    fig = viz.show_side_by_side({"in": imgs, "out": imgs}, n=3)
    assert len(fig.axes) == 6
    fig = viz.show_strips(imgs[:2], imgs[:8].reshape(2, 4, 1, 8, 8))
    h = History()
    for i in range(30):
        h.append(i + 1, {"d": float(i), "g": 1.0})
    viz.plot_losses(h)
    grid = viz.to_image(imgs[:4], nrow=2)
    assert grid.shape[-1] == 3 and 0 <= grid.min() and grid.max() <= 1


def test_gan_losses_exact_values():
    from ganlib import losses

    real, fake = torch.tensor([0.0, 2.0]), torch.tensor([-1.0, 0.5])
    sp = torch.nn.functional.softplus
    assert torch.isclose(losses.d_loss_bce(real, fake), sp(-real).mean() + sp(fake).mean())
    assert torch.isclose(losses.g_loss_nonsaturating(fake), sp(-fake).mean())
    assert torch.isclose(losses.d_loss_lsgan(real, fake), torch.tensor((1 + 1) / 2 + (1 + 0.25) / 2))
    assert torch.isclose(losses.g_loss_lsgan(fake), torch.tensor((4 + 0.25) / 2))
    assert torch.isclose(losses.d_loss_hinge(real, fake), torch.tensor((1 + 0) / 2 + (0 + 1.5) / 2))
    assert torch.isclose(losses.g_loss_hinge(fake), torch.tensor(0.25))
    assert losses.gan_losses("lsgan") == (losses.d_loss_lsgan, losses.g_loss_lsgan)
    with pytest.raises(ValueError, match="gan_mode must be one of"):
        losses.gan_losses("wgan")


def test_an_interrupt_finishes_the_step_checkpoints_and_resumes_to_the_same_weights(tmp_path):
    import signal

    def run(path, interrupt_at=None):
        ganlib.seed_everything(0)
        net, opt, batches, step = _toy_problem()

        def on_step(s, losses):
            if s == interrupt_at:
                os.kill(os.getpid(), signal.SIGINT)  # what Ctrl-C / Jupyter's stop button sends

        kwargs = dict(
            modules={"net": net}, optimizers={"opt": opt}, progress=False, checkpoint=path, checkpoint_every=1000
        )
        if interrupt_at is not None:
            with pytest.raises(KeyboardInterrupt):
                fit(step, batches, 40, on_step=on_step, **kwargs)
            assert torch.load(path, weights_only=True)["step"] == interrupt_at
            net, opt, batches, step = _toy_problem()
            kwargs.update(modules={"net": net}, optimizers={"opt": opt})
        h = fit(step, batches, 40, **kwargs)
        assert h.cpu_seconds > 0 and h.seconds > 0
        return [p.detach().clone() for p in net.parameters()]

    before = signal.getsignal(signal.SIGINT)  # the default, or SIG_IGN in a job started in the background
    straight = run(tmp_path / "a.pt")
    resumed = run(tmp_path / "b.pt", interrupt_at=13)
    assert all(torch.equal(a, b) for a, b in zip(straight, resumed))
    assert signal.getsignal(signal.SIGINT) is before  # the handler fit found is restored


def test_slider_falls_back_to_a_static_grid_of_the_same_values(monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    from ganlib import viz

    monkeypatch.setenv("GANLIB_STATIC", "1")
    assert not viz.interactive()
    seen = []
    ax = viz.slider(
        lambda t: (seen.append(t), torch.full((3, 1, 4, 4), float(t) / 2))[1], [0.5, 1.0], "truncation", nrow=3
    )
    assert seen == [0.5, 1.0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["truncation = 0.5", "truncation = 1.0"]
    with pytest.raises(ValueError, match="at least one value"):
        viz.slider(lambda t: None, [], "z")
