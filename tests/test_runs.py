"""The runner of independent runs: same numbers alone, sequentially and in parallel; failures
reported with their row and seed while the other results are kept; verdicts from the spread."""

import pytest
import torch

from ganlib.runs import Run, RunsFailed, execute, format_table, run_all, separated, summarise, verdict


def tiny_fit(config, seed):
    """A seeded toy regression: a few Adam steps; returns its final loss and a weight."""
    if config.get("fail"):
        raise ValueError("this row was asked to fail")
    net = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1))
    opt = torch.optim.Adam(net.parameters(), lr=config["lr"])
    x = torch.randn(64, 4)
    y = x.sum(1, keepdim=True).sin()
    for _ in range(config["steps"]):
        loss = (net(x) - y).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return {"loss": loss.item(), "w": net[0].weight[0, 0].item(), "threads": torch.get_num_threads()}


def _runs():
    return [Run(tiny_fit, {"lr": lr, "steps": 30}, seed, row=f"lr {lr}") for lr in (1e-3, 1e-2) for seed in (0, 1)]


def test_same_numbers_alone_sequential_and_parallel():
    runs = _runs()
    alone = [execute(r).value for r in runs]
    sequential = [r.value for r in run_all(runs, workers=1, progress=False)]
    parallel = run_all(runs, workers=2, progress=False)
    assert [r.value for r in parallel] == sequential == alone  # bit for bit, in order
    assert [(r.row, r.seed) for r in parallel] == [(r.row, r.seed) for r in runs]
    assert all(v["threads"] == 1 for v in alone)
    assert alone[0] != alone[1], "different seeds must give different runs"


def test_a_failing_run_names_its_row_and_seed_and_the_others_are_kept(capsys):
    runs = _runs()[:2] + [Run(tiny_fit, {"fail": True}, 7, row="broken row")]
    with pytest.raises(RunsFailed, match=r"row 'broken row', seed 7: ValueError: this row was asked to fail") as e:
        run_all(runs, workers=2)
    kept = e.value.results
    assert [r.ok for r in kept] == [True, True, False] and kept[0].value["loss"] > 0
    assert "[3/3]" in capsys.readouterr().out  # one progress line per finished run
    assert not run_all(runs, workers=1, progress=False, raise_on_error=False)[2].ok


def test_functions_from_a_notebook_cell_are_refused_for_workers():
    with pytest.raises(ValueError, match="notebook cell or inside a function.*workers=1"):
        run_all([Run(lambda c, s: 0, None, 0), Run(lambda c, s: 0, None, 1)], workers=2)


def test_verdicts_follow_the_spread():
    a, b = [0.93, 0.95, 0.94], [0.64, 0.61, 0.66]
    assert verdict("A", a, "B", b, "sharpness").startswith("A beats B on sharpness: 0.940 ± 0.010")
    assert verdict("A", a, "B", b, "error", higher_is_better=False).startswith("B beats A on error: 0.637")
    assert verdict("A", [1.0, 2.0, 3.0], "B", [1.5, 2.5, 3.5], "x").startswith("no measurable difference")
    assert not separated([1.0], [5.0])  # one seed: no spread, no ranking
    results = run_all(_runs(), workers=1, progress=False)
    stats = summarise(results)
    assert set(stats) == {"lr 0.001", "lr 0.01"} and stats["lr 0.01"]["loss"][2] == 2
    assert "lr 0.01" in format_table(results, ["loss"]) and "±" in format_table(results, ["loss"])


def dies(config, seed):
    """A run whose worker process dies (as when the out-of-memory killer ends it)."""
    if config.get("die"):
        import os

        os._exit(1)
    return {"seed": float(seed)}


def test_a_dead_worker_does_not_lose_the_finished_runs():
    runs = [Run(dies, {}, 0, row="fine"), Run(dies, {"die": True}, 1, row="killed")]
    results = run_all(runs, workers=2, progress=False, raise_on_error=False)
    assert results[1].row == "killed" and not results[1].ok and "worker process" in results[1].error
    assert all(r is not None for r in results)


def test_a_keep_folder_reads_finished_runs_back_and_trains_only_the_others(tmp_path, capsys):
    runs, keep = _runs(), tmp_path / "table"
    fresh = [r.value for r in run_all(runs, workers=1, progress=False)]
    run_all(runs[:2], workers=1, keep=keep)  # a table cut short after two runs
    assert len(list(keep.glob("*.pt"))) == 2 and not list(keep.glob("*.tmp"))
    capsys.readouterr()
    resumed = run_all(runs, workers=2, keep=keep)
    out = capsys.readouterr().out
    assert "2 of 4 runs read back" in out and "[1/4]" not in out and "[4/4]" in out  # two trained, not four
    assert [r.value for r in resumed] == fresh and all(r.cpu_seconds > 0 for r in resumed)
    first = list(keep.glob("lr_0_001-seed0-*.pt"))
    assert len(first) == 1
    changed = Run(tiny_fit, {"lr": 1e-3, "steps": 31}, 0, row="lr 0.001")  # same row and seed, other config
    assert run_all([changed], workers=1, progress=False, keep=keep)[0].value != fresh[0]
    assert len(list(keep.glob("*.pt"))) == 5
    first[0].write_bytes(first[0].read_bytes()[:20])  # a file cut short by a crash: trained again
    again = run_all(runs[:1], workers=1, progress=False, keep=keep)
    assert "not readable" in capsys.readouterr().err and again[0].value == fresh[0]
