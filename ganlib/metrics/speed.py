"""Time ganlib's Fréchet distance against pytorch-fid, torch-fidelity and torchmetrics on the same statistics.

Used by ``benchmarks/fid_speed.py`` and by chapter 7, which prints the measured ratios. All
methods run in this process on the mean and covariance of N random, correlated, ReLU-like
"features" of dimension d, with the same number of BLAS and torch threads (set for the
duration of the call with ``threadpoolctl``). A reference that is not installed is skipped.
"""

from __future__ import annotations

import os
import platform
import time
from typing import Dict, Tuple

import numpy as np
import torch

from ..utils import torch_threads
from .fid import feature_statistics, frechet_distance

__all__ = ["machine_description", "time_frechet_distances", "format_speed_table"]


def machine_description() -> str:
    """CPU model, core count, OS and library versions, for the line above a timing table."""
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            model = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return (
        f"{model}, {os.cpu_count()} logical cores, {platform.system()}; torch {torch.__version__}, "
        f"numpy {np.__version__}, python {platform.python_version()}"
    )


def _methods(mu1, s1, mu2, s2, pytorch_fid: bool):
    methods = {"ganlib": lambda: frechet_distance(mu1, s1, mu2, s2)}
    try:
        from torch_fidelity.metric_fid import fid_statistics_to_metric

        methods["torch-fidelity"] = lambda: fid_statistics_to_metric(
            {"mu": mu1, "sigma": s1}, {"mu": mu2, "sigma": s2}, False
        )["frechet_inception_distance"]
    except ImportError:
        pass
    try:
        from torchmetrics.image.fid import _compute_fid

        t = [torch.from_numpy(a) for a in (mu1, s1, mu2, s2)]
        methods["torchmetrics"] = lambda: float(_compute_fid(*t))
    except ImportError:
        pass
    if pytorch_fid:
        try:
            from pytorch_fid.fid_score import calculate_frechet_distance

            methods["pytorch-fid"] = lambda: float(calculate_frechet_distance(mu1, s1, mu2, s2))
        except ImportError:
            pass
    return methods


def time_frechet_distances(
    dim: int = 2048, n: int = 5000, repeats: int = 3, threads: int = 2, pytorch_fid: bool = True, seed: int = 0
) -> Dict[str, Tuple[float, float, float]]:
    """``{method: (value, best wall seconds, best CPU seconds)}`` over ``repeats`` runs, ganlib first.

    CPU seconds (``time.process_time``, all threads of this process) measure the work done and
    are not inflated by other processes on a loaded machine; wall seconds are.
    """
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(seed)
    mixing = rng.normal(size=(dim, dim)) / np.sqrt(dim)
    f1 = np.maximum(rng.normal(size=(n, dim)) @ mixing, 0)
    f2 = np.maximum(rng.normal(size=(n, dim)) @ mixing + 0.05, 0)
    (mu1, s1), (mu2, s2) = feature_statistics(f1), feature_statistics(f2)
    results = {}
    with torch_threads(threads), threadpool_limits(limits=threads):
        for name, fn in _methods(mu1, s1, mu2, s2, pytorch_fid).items():
            best_wall = best_cpu = float("inf")
            for _ in range(repeats):
                w0, c0 = time.perf_counter(), time.process_time()
                value = fn()
                best_wall = min(best_wall, time.perf_counter() - w0)
                best_cpu = min(best_cpu, time.process_time() - c0)
            results[name] = (float(value), best_wall, best_cpu)
    return results


def format_speed_table(results: Dict[str, Tuple[float, float, float]]) -> str:
    """The table: value, relative difference to ganlib, wall and CPU seconds, and time ratios to ganlib."""
    ref_value, ref_wall, ref_cpu = results["ganlib"]
    lines = [
        f"{'method':<16}{'value':>22}{'rel. diff':>12}{'wall s':>9}{'cpu s':>9}{'wall ratio':>12}{'cpu ratio':>11}"
    ]
    for name, (value, wall, cpu) in results.items():
        rel = abs(value - ref_value) / abs(value)
        lines.append(
            f"{name:<16}{value:>22.12f}{rel:>12.2e}{wall:>9.3f}{cpu:>9.3f}"
            f"{wall / ref_wall:>11.1f}x{cpu / ref_cpu:>10.1f}x"
        )
    return "\n".join(lines)
