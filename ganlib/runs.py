"""Independent training runs side by side: seeds x rows of a table, and how to read them.

Small models do not use two CPU threads well, so independent runs (the seeds and rows of an
ablation) go faster side by side, one thread each, than one after another with all threads.

A run is a picklable description: a library-level function, its config and a seed::

    from ganlib.runs import Run, run_all, summarise, verdict
    runs = [Run(train_and_measure, override(cfg, lambda_l1=0.0), seed, row="cGAN only")
            for seed in (0, 1, 2)]
    results = run_all(runs)            # worker processes, one thread each; in order
    table = summarise(results)         # row -> {measure: (mean, sd, n)}

Each run is seeded with ``ganlib.seed_everything(seed)`` and given one CPU thread before
``fn(config, seed)`` is called, whether it runs alone, sequentially (``workers=1``) or in a
worker process, so the same run gives the same numbers in every mode. Workers are started
with the ``spawn`` method (the same on Linux, macOS and in Jupyter), so ``fn`` must be
importable by name: a function of ``ganlib`` or of another module, not one defined in a
notebook cell.
"""

from __future__ import annotations

import dataclasses
import math
import multiprocessing
import os
import sys
import time
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple


@dataclasses.dataclass(frozen=True)
class Run:
    """One independent run: ``fn(config, seed)``, labelled by ``row`` in tables and messages."""

    fn: Callable[[Any, int], Any]
    config: Any
    seed: int
    row: str = ""

    @property
    def name(self) -> str:
        return f"{self.row or self.fn.__name__} (seed {self.seed})"


@dataclasses.dataclass
class RunResult:
    """What a run returned (``value``), or the error it raised (``error``), and its times."""

    row: str
    seed: int
    value: Any = None
    error: Optional[str] = None
    seconds: float = 0.0  # wall clock of the run
    cpu_seconds: float = 0.0  # process CPU time of the run

    @property
    def ok(self) -> bool:
        return self.error is None


class RunsFailed(RuntimeError):
    """Some runs raised; ``results`` holds every run's result, the failed ones with ``error``."""

    def __init__(self, results: List[RunResult]):
        self.results = results
        failed = [r for r in results if not r.ok]
        lines = [f"{len(failed)} of {len(results)} runs failed (the other results are in .results):"]
        for r in failed:
            last = r.error.strip().splitlines()[-1] if r.error.strip() else "?"
            lines.append(f"  row {r.row!r}, seed {r.seed}: {last}")
        lines.append("full traceback of the first failure:\n" + failed[0].error)
        super().__init__("\n".join(lines))


def execute(run: Run, threads: int = 1) -> RunResult:
    """Run one ``Run`` in this process: seed, limit CPU threads, call, time; never raises."""
    import ganlib
    from ganlib.utils import torch_threads

    with torch_threads(threads):
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            ganlib.seed_everything(run.seed)
            value, error = run.fn(run.config, run.seed), None
        except Exception:  # reported with its row and seed; the other runs go on
            value, error = None, traceback.format_exc()
    return RunResult(run.row, run.seed, value, error, time.perf_counter() - wall, time.process_time() - cpu)


def _worker_init(threads: int) -> None:
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(threads)
    os.environ.setdefault("MPLBACKEND", "Agg")


def default_workers(n_runs: int) -> int:
    """As many workers as CPU cores (``GANLIB_WORKERS`` overrides), at most one per run."""
    wanted = os.environ.get("GANLIB_WORKERS", "").strip()
    if wanted:
        if not wanted.isdigit() or int(wanted) < 1:
            raise ValueError(f"GANLIB_WORKERS must be a whole number >= 1, got {wanted!r}")
        n = int(wanted)
    else:
        n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(n, n_runs))


def _check_picklable(run: Run) -> None:
    module = getattr(run.fn, "__module__", None)
    # a script's __main__ is re-imported by spawned workers; a notebook's or a REPL's is not
    interactive = module == "__main__" and not hasattr(sys.modules["__main__"], "__file__")
    if module is None or interactive or "<locals>" in getattr(run.fn, "__qualname__", "<locals>"):
        raise ValueError(
            f"run {run.name}: fn={getattr(run.fn, '__qualname__', run.fn)!r} is defined in a notebook "
            "cell or inside a function, so worker processes cannot import it. Use a library-level "
            "function (e.g. from ganlib.models), or run with workers=1."
        )


def _kept_file(folder, run: Run):
    """The file that keeps ``run``'s result: named by its row and seed, keyed by everything that
    decides its numbers (function, config, seed), so a changed config is trained again."""
    import hashlib
    from pathlib import Path

    key = repr((getattr(run.fn, "__module__", ""), getattr(run.fn, "__qualname__", repr(run.fn)), run.config, run.seed))
    slug = "".join(c if c.isalnum() else "_" for c in (run.row or run.fn.__name__))[:60]
    return Path(folder) / f"{slug}-seed{run.seed}-{hashlib.sha256(key.encode()).hexdigest()[:16]}.pt", key


def _read_kept(folder, run: Run) -> Optional[RunResult]:
    import torch

    path, key = _kept_file(folder, run)
    if not path.exists():
        return None
    try:
        kept = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # a file cut short by a crash: train the run again
        print(f"{path}: not readable ({type(err).__name__}); run {run.name} is trained again", file=sys.stderr)
        return None
    if not isinstance(kept, dict) or kept.get("key") != key:
        return None
    return RunResult(run.row, run.seed, kept["value"], None, kept["seconds"], kept["cpu_seconds"])


def _plain(value):
    """``value`` with NumPy scalars and arrays as Python numbers and tensors (what
    ``torch.load(weights_only=True)`` reads back)."""
    import numpy as np
    import torch

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return torch.from_numpy(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v) for v in value)
    return value


def _keep(folder, run: Run, result: RunResult) -> None:
    """Write a finished run's result atomically (``ganlib.train.atomic_save``)."""
    from .train import atomic_save

    path, key = _kept_file(folder, run)
    atomic_save(
        {"key": key, "value": _plain(result.value), "seconds": result.seconds, "cpu_seconds": result.cpu_seconds}, path
    )


def run_all(
    runs: Sequence[Run], workers: Optional[int] = None, *, progress: bool = True, raise_on_error: bool = True, keep=None
) -> List[RunResult]:
    """Execute independent ``runs``; return their results in the order of ``runs``.

    ``workers``: processes side by side, one CPU thread each (default: one per core, at most
    one per run). ``workers=1`` runs them one after another in this process, still with one
    thread each, so the numbers are the same; use it where one process owns the GPU. One line
    is printed per finished run. If any run raised, ``RunsFailed`` is raised after all runs
    have finished, naming each failed row and seed (``raise_on_error=False`` returns instead).

    ``keep``: a folder (e.g. ``ganlib.checkpoint_path(chapter, "table", PROFILE)``) where each
    finished run's result is written as it finishes; run again after a disconnect, the table
    reads those back and trains only the runs that had not finished. Results are loaded with
    ``weights_only=True``, so a run's value must be made of numbers, strings, tensors, lists
    and dicts.
    """
    runs = list(runs)
    if not runs:
        return []
    workers = default_workers(len(runs)) if workers is None else int(workers)
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    results: List[Optional[RunResult]] = [None] * len(runs)
    if keep is not None:
        results = [_read_kept(keep, run) for run in runs]
        if progress and any(r is not None for r in results):
            print(f"{sum(r is not None for r in results)} of {len(runs)} runs read back from {keep}", flush=True)
    todo = [i for i, r in enumerate(results) if r is None]
    began = time.perf_counter()

    def report(i: int, result: RunResult) -> None:
        results[i] = result
        if keep is not None and result.ok:
            _keep(keep, runs[i], result)
        if progress:
            done = sum(r is not None for r in results)
            status = f"{result.seconds:.1f} s" if result.ok else "FAILED"
            print(f"[{done}/{len(runs)}] {runs[i].name}: {status}", file=sys.stdout, flush=True)

    if workers == 1:
        for i in todo:
            report(i, execute(runs[i]))
    elif todo:
        for run in runs:
            _check_picklable(run)
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(
            min(workers, len(todo)), mp_context=context, initializer=_worker_init, initargs=(1,)
        ) as pool:
            futures = {pool.submit(execute, runs[i]): i for i in todo}
            for future in as_completed(futures):
                i = futures[future]
                try:
                    result = future.result()
                except Exception as err:  # the worker itself died (e.g. killed for memory)
                    result = RunResult(
                        runs[i].row,
                        runs[i].seed,
                        error=(
                            f"the worker process running this run died: {type(err).__name__}: {err}. "
                            "If the machine ran out of memory, use fewer workers (workers=1 runs them "
                            "one at a time)"
                        ),
                    )
                report(i, result)
    if progress:
        print(f"{len(runs)} runs in {time.perf_counter() - began:.1f} s with {workers} worker(s)", flush=True)
    if raise_on_error and any(not r.ok for r in results):
        raise RunsFailed(results)
    return results


# --------------------------------------------------------------------------- reading the results


def mean_sd(values: Sequence[float]) -> Tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value)."""
    values = [float(v) for v in values]
    m = sum(values) / len(values)
    sd = math.sqrt(sum((v - m) ** 2 for v in values) / (len(values) - 1)) if len(values) > 1 else 0.0
    return m, sd


def by_row(results: Sequence[RunResult]) -> Dict[str, List[Mapping[str, float]]]:
    """row -> the values (dicts of measures) of its successful runs, in run order."""
    rows: Dict[str, List[Mapping[str, float]]] = {}
    for r in results:
        if r.ok:
            rows.setdefault(r.row, []).append(r.value)
    return rows


def summarise(results: Sequence[RunResult]) -> Dict[str, Dict[str, Tuple[float, float, int]]]:
    """row -> measure -> (mean, sd, number of seeds), for runs whose value is a dict of numbers."""
    return {
        row: {key: (*mean_sd([v[key] for v in values]), len(values)) for key in values[0]}
        for row, values in by_row(results).items()
    }


def format_table(results: Sequence[RunResult], measures: Optional[Sequence[str]] = None, digits: int = 3) -> str:
    """A plain-text table: one line per row, ``mean ± sd`` per measure, and the seed count."""
    table = summarise(results)
    if not table:
        return "(no successful runs)"
    measures = list(measures or next(iter(table.values())).keys())
    head = ["row"] + measures + ["seeds"]
    lines = [
        [row]
        + [f"{stats[m][0]:.{digits}f} ± {stats[m][1]:.{digits}f}" for m in measures]
        + [str(next(iter(stats.values()))[2])]
        for row, stats in table.items()
    ]
    widths = [max(len(x[i]) for x in [head] + lines) for i in range(len(head))]
    fmt = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    return "\n".join([fmt(head), fmt(["-" * w for w in widths])] + [fmt(x) for x in lines])


def separated(a: Sequence[float], b: Sequence[float], factor: float = 2.0) -> bool:
    """True when the means of ``a`` and ``b`` differ by more than ``factor`` pooled sds.

    With a single seed on a side there is no spread to compare against, so nothing is
    separated (the ``ci`` profile's one-seed runs never state a ranking)."""
    if len(a) < 2 or len(b) < 2:
        return False
    (ma, sa), (mb, sb) = mean_sd(a), mean_sd(b)
    pooled = math.sqrt((sa**2 + sb**2) / 2)
    return abs(ma - mb) > factor * pooled


def verdict(
    name_a: str,
    a: Sequence[float],
    name_b: str,
    b: Sequence[float],
    measure: str,
    higher_is_better: bool = True,
    factor: float = 2.0,
    digits: int = 3,
) -> str:
    """A sentence built from the measured values: which is better, or no measurable difference.

    >>> verdict("L1 + cGAN", [0.93, 0.95, 0.94], "L1", [0.64, 0.61, 0.66], "sharpness")
    'L1 + cGAN beats L1 on sharpness: 0.940 ± 0.010 vs 0.637 ± 0.025 over 3 vs 3 seeds'
    """
    (ma, sa), (mb, sb) = mean_sd(a), mean_sd(b)
    numbers = f"{ma:.{digits}f} ± {sa:.{digits}f} vs {mb:.{digits}f} ± {sb:.{digits}f} over {len(a)} vs {len(b)} seeds"
    if not separated(a, b, factor):
        return f"no measurable difference between {name_a} and {name_b} on {measure} at this scale: {numbers}"
    a_better = (ma > mb) == higher_is_better
    first, second = (name_a, name_b) if a_better else (name_b, name_a)
    if not a_better:
        numbers = (
            f"{mb:.{digits}f} ± {sb:.{digits}f} vs {ma:.{digits}f} ± {sa:.{digits}f} over {len(b)} vs {len(a)} seeds"
        )
    return f"{first} beats {second} on {measure}: {numbers}"
