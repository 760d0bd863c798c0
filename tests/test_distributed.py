"""DDP: two CPU processes (gloo on 127.0.0.1) train the chapter-6 model under torchrun."""

import json
import os
import socket
import subprocess
import sys

import pytest
import torch

import ganlib
from ganlib.distributed import init_distributed, is_main_process, max_rank_difference, shard, wrap_ddp


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _torchrun(out, steps, nproc=2):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "GANLIB_PROFILE": "ci"}
    env.pop("RANK", None)
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        f"--nproc_per_node={nproc}",
        "--master_addr=127.0.0.1",
        f"--master_port={_free_port()}",
        "-m",
        "ganlib.distributed",
        "--profile",
        "ci",
        "--steps",
        str(steps),
        "--checkpoint-every",
        "3",
        "--out",
        str(out),
    ]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)


def test_single_process_helpers():
    assert init_distributed()[:2] == (0, 1) and is_main_process()
    x, y = torch.arange(10), torch.arange(10) * 2
    parts = [shard(x, y, rank=r, world_size=3) for r in range(3)]
    assert sorted(torch.cat([p[0] for p in parts]).tolist()) == list(range(10))
    assert torch.equal(parts[1][0], torch.tensor([1, 4, 7])) and torch.equal(parts[1][1], torch.tensor([2, 8, 14]))
    with pytest.raises(ValueError):
        shard(x, rank=3, world_size=3)
    m = torch.nn.Linear(2, 2)
    assert wrap_ddp(m, torch.device("cpu")) is m and max_rank_difference({"m": m}) == 0.0


def test_ddp_two_cpu_ranks_identical_weights_and_checkpoint_loads_single_process(tmp_path):
    from ganlib.distributed import _config
    from ganlib.models.biggan import build_biggan, checkpoint_config
    from ganlib.train import load_checkpoint

    out = tmp_path / "run"
    res = _torchrun(out, steps=4)
    assert res.returncode == 0, res.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["world_size"] == 2 and summary["backend"] == "gloo" and summary["sync_bn"] is False
    assert summary["max_rank_difference"] == 0.0, "the two ranks hold different weights"
    assert sorted(p.name for p in out.iterdir()) == [
        "checkpoint.previous.pt",
        "checkpoint.pt",
        "samples.png",
        "summary.json",
    ], "only rank 0 writes, and only these files"
    # shards: 1437 training digits -> 719 + 718
    assert summary["images_per_rank"] == 719

    # the DDP checkpoint loads into an ordinary single-process model
    cfg = ganlib.override(_config("ci", "digits"), steps=4)
    G, D, G_ema = build_biggan(cfg)
    state = load_checkpoint(
        out / "checkpoint.pt", modules={"G": G, "D": D, "G_ema": G_ema}, config=checkpoint_config(cfg)
    )
    assert state["step"] == 4
    assert abs(sum(float(p.detach().double().sum()) for p in G.parameters()) - summary["param_sum_G"]) < 1e-9
    G.eval()
    assert G(torch.randn(3, cfg.z_dim), torch.tensor([0, 5, 9])).shape == (3, 1, 16, 16)

    # and a DDP run resumes from it
    cfg2 = ganlib.override(cfg, steps=6)
    res = _torchrun(out, steps=6)
    assert res.returncode == 0, res.stderr[-3000:]
    assert json.loads((out / "summary.json").read_text())["max_rank_difference"] == 0.0
    G2, D2, E2 = build_biggan(cfg2)
    state = load_checkpoint(
        out / "checkpoint.pt", modules={"G": G2, "D": D2, "G_ema": E2}, config=checkpoint_config(cfg2)
    )
    assert state["step"] == 6 and len(state["history"]["steps"]) == 6


def test_the_ddp_entry_point_trains_the_notebooks_model_per_profile():
    from ganlib.distributed import _config
    from ganlib.models.biggan import chapter_config, cifar10_config

    for profile in ("ci", "cpu"):
        assert _config(profile, "digits") == chapter_config(profile)
    assert _config("ci", "cifar10") == cifar10_config()
    gpu_digits = _config("gpu", "digits")  # BigGAN's CIFAR recipe on the 32x32 digits
    assert (gpu_digits.dataset, gpu_digits.image_channels, gpu_digits.image_size) == ("digits", 1, 32)
