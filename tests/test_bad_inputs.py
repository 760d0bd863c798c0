"""Bad inputs, fed on purpose: each test gives the library a broken or hostile input and checks the
error says what is wrong and what to do, and that nothing already on disk is lost.

Archives (symlink chains, zip bombs, lying headers), downloads (truncated without a length, an HTML
page instead of an archive, a wrong pin), checkpoints (truncated, empty, stale temporaries, resuming
after a NaN loss with a lower learning rate) and images (16-bit, truncated, grey, RGBA, palette).
The HTTP server listens on 127.0.0.1 only; nothing here touches the internet."""
import io
import itertools
import shutil
import struct
import zlib
from dataclasses import dataclass

import numpy as np
import pytest
import torch
from torch import nn

from ganlib.train import (RESUMABLE_FIELDS, CheckpointError, NonFiniteLoss, fit, load_checkpoint,
                          previous_checkpoint, save_checkpoint)


# ============================================================================ checkpoints
@dataclass
class QuadraticConfig:
    lr: float = 1.5
    steps: int = 200


def _quadratic(cfg: QuadraticConfig):
    """Minimise w^2 with SGD: w <- (1 - 2 lr) w. lr = 1.5 doubles |w| each step (the loss reaches
    inf at step 65); lr = 0.25 halves it. A divergence that a lower learning rate cures."""
    w = nn.Parameter(torch.ones(1))
    holder = nn.Module()
    holder.w = w
    opt = torch.optim.SGD([w], lr=cfg.lr)

    def step(_):
        loss = (w ** 2).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        return {"loss": loss}

    return holder, opt, step


def _fit(cfg, path, steps=None, **kwargs):
    model, opt, step = _quadratic(cfg)
    fit(step, itertools.repeat(None), cfg.steps if steps is None else steps, modules={"w": model},
        optimizers={"opt": opt}, checkpoint=path, checkpoint_every=10, config=cfg, progress=False, **kwargs)
    return model, opt


def test_nan_advice_is_followable_resume_with_a_lower_learning_rate(tmp_path, capsys):
    path = tmp_path / "run.pt"
    with pytest.raises(NonFiniteLoss) as caught:
        _fit(QuadraticConfig(lr=1.5), path)
    message = str(caught.value)
    print("NaN MESSAGE:", message)
    assert "step 65: loss 'loss' is inf" in message
    assert f"The checkpoint {path} (step 60) was written before it" in message
    assert "lower rate in the config (lr; learning-rate fields may change on resume)" in message
    assert torch.load(path, weights_only=True)["step"] == 60
    capsys.readouterr()

    # the advice, followed: rebuild with a lower rate, call fit again with the same checkpoint
    model, opt = _fit(QuadraticConfig(lr=0.25), path)
    printed = capsys.readouterr().out
    print("RESUME MESSAGE:", printed)
    assert f"resuming {path} at step 60 with a changed learning rate: lr 1.5 -> 0.25" in printed
    assert "the fields that may change on resume: " + ", ".join(sorted(RESUMABLE_FIELDS)) in printed
    assert opt.param_groups[0]["lr"] == 0.25  # the new rate, not the checkpoint's
    assert torch.load(path, weights_only=True)["step"] == 200
    w = model.w.detach().abs().item()
    assert w == pytest.approx((2.0 ** 60) * 0.5 ** 140, rel=1e-5)  # 60 steps of x2, then 140 of x0.5
    # any other change is still refused
    @dataclass
    class Wider(QuadraticConfig):
        width: int = 2
    with pytest.raises(ValueError, match="another config"):
        _fit(Wider(lr=0.25), path)


def test_nan_without_checkpoint_gives_advice_that_needs_none(tmp_path):
    model, opt, step = _quadratic(QuadraticConfig())
    with pytest.raises(NonFiniteLoss, match=r"Lower the learning rate in the config \(lr.*pass checkpoint=\.\.\. "
                                            "to fit to be able to resume"):
        fit(step, itertools.repeat(None), 100, modules={"w": model}, optimizers={"opt": opt},
            config=QuadraticConfig(), progress=False)


def test_changed_learning_rate_keeps_the_schedule_shape(tmp_path):
    @dataclass
    class Cfg:
        lr: float = 1.0

    def build(lr):
        w = nn.Linear(1, 1)
        opt = torch.optim.SGD(w.parameters(), lr=lr)
        return w, opt, torch.optim.lr_scheduler.LambdaLR(opt, lambda e: 0.5 ** e)

    w, opt, sched = build(1.0)
    for _ in range(3):
        opt.step()
        sched.step()
    assert opt.param_groups[0]["lr"] == 0.125
    save_checkpoint(tmp_path / "c.pt", modules={"w": w}, optimizers={"o": opt}, schedulers={"s": sched},
                    step=3, config=Cfg(1.0))
    w2, opt2, sched2 = build(0.1)
    load_checkpoint(tmp_path / "c.pt", modules={"w": w2}, optimizers={"o": opt2}, schedulers={"s": sched2},
                    config=Cfg(0.1))
    assert opt2.param_groups[0]["lr"] == pytest.approx(0.0125) and sched2.base_lrs == [0.1]
    sched2.step()
    assert opt2.param_groups[0]["lr"] == pytest.approx(0.1 * 0.5 ** 4)
    # the same config: the checkpoint's rates, exactly (resumption stays bit-identical)
    w3, opt3, sched3 = build(1.0)
    load_checkpoint(tmp_path / "c.pt", modules={"w": w3}, optimizers={"o": opt3}, schedulers={"s": sched3},
                    config=Cfg(1.0))
    assert opt3.param_groups[0]["lr"] == 0.125 and sched3.base_lrs == [1.0]


def _two_checkpoints(tmp_path):
    path = tmp_path / "run.pt"
    _fit(QuadraticConfig(lr=0.25, steps=20), path)
    assert torch.load(path, weights_only=True)["step"] == 20
    assert torch.load(previous_checkpoint(path), weights_only=True)["step"] == 10
    return path


@pytest.mark.parametrize("damage", ["truncated", "empty"])
def test_damaged_checkpoint_names_the_file_and_the_previous_one(tmp_path, damage):
    path = _two_checkpoints(tmp_path)
    previous_bytes = previous_checkpoint(path).read_bytes()
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2] if damage == "truncated" else b"")
    with pytest.raises(CheckpointError) as caught:
        _fit(QuadraticConfig(lr=0.25, steps=30), path)
    message = str(caught.value)
    print(f"{damage.upper()} CHECKPOINT:", message)
    what = "is empty (0 bytes)" if damage == "empty" else f"is damaged ({len(data) // 2} bytes, truncated"
    assert message.startswith(f"checkpoint {path} {what}")
    assert f"The checkpoint before it is kept as {tmp_path / 'run.previous.pt'}: copy it over {path}" in message
    assert previous_checkpoint(path).read_bytes() == previous_bytes  # nothing good was lost
    # the advice, followed: the run resumes from step 10 and finishes
    shutil.copyfile(previous_checkpoint(path), path)
    _fit(QuadraticConfig(lr=0.25, steps=30), path)
    assert torch.load(path, weights_only=True)["step"] == 30


def test_damaged_checkpoint_without_a_previous_one(tmp_path):
    model, opt, _ = _quadratic(QuadraticConfig())
    path = tmp_path / "only.pt"
    save_checkpoint(path, modules={"w": model}, optimizers={"opt": opt}, step=1)
    assert not previous_checkpoint(path).exists()
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(CheckpointError, match=r"only\.pt is damaged .*No earlier checkpoint is kept beside it: "
                                              r"delete .*only\.pt to start afresh"):
        load_checkpoint(path, modules={"w": model})


def test_a_pickle_with_code_is_still_refused_clearly(tmp_path):
    import os

    class Evil:
        def __reduce__(self):
            return (os.getcwd, ())

    torch.save({"format": "ganlib-checkpoint-1", "evil": Evil()}, tmp_path / "evil.pt")
    with pytest.raises(CheckpointError, match=r"cannot be loaded safely.*weights_only=True refuses.*do not load it "
                                              "with weights_only=False unless you trust"):
        load_checkpoint(tmp_path / "evil.pt", modules={})


def test_stale_temporary_files_are_removed_on_the_next_save(tmp_path):
    model, opt, _ = _quadratic(QuadraticConfig())
    path = tmp_path / "run.pt"
    save_checkpoint(path, modules={"w": model}, step=1)
    # what a save killed mid-write (SIGKILL, power cut) leaves: atomic_save's temporary names
    stale = [tmp_path / ".run.pt.k3j_x9a1.tmp", tmp_path / ".run.pt.previous.tmp"]
    for p in stale:
        p.write_bytes(b"half a checkpoint")
    others = [tmp_path / ".other.pt.abc.tmp", tmp_path / "notes.tmp", tmp_path / "run.pt.bak"]
    for p in others:
        p.write_bytes(b"not ours")
    save_checkpoint(path, modules={"w": model}, step=2)
    assert not any(p.exists() for p in stale)
    assert all(p.read_bytes() == b"not ours" for p in others)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [".other.pt.abc.tmp", "notes.tmp", "run.pt", "run.pt.bak", "run.previous.pt"])
    assert torch.load(path, weights_only=True)["step"] == 2
    assert torch.load(previous_checkpoint(path), weights_only=True)["step"] == 1
