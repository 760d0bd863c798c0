"""How fast is ganlib's Fréchet distance next to pytorch-fid, torch-fidelity and torchmetrics?

Usage:  python benchmarks/fid_speed.py [--threads 2] [--dim 2048] [--n 5000] [--repeats 3]

All four run in this one process on the same statistics (mean and covariance of
N random, correlated, ReLU-like "features" of dimension d), with the same number of
threads for numpy/scipy (OpenBLAS) and torch (MKL). We report the best of
``--repeats`` runs in wall-clock seconds and CPU seconds, the ratios
(reference time / ganlib time; the issue asks >= 5x vs pytorch-fid and >= 1.3x vs
torch-fidelity at d = 2048, N = 5000) and the relative differences of the values.
This is a script, not a timed unit test: timings depend on the machine and its load.
"""
from __future__ import annotations

import argparse
import os
import sys


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--dim", type=int, default=2048)
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--skip-pytorch-fid", action="store_true", help="skip the slowest reference")
    args = ap.parse_args(argv)

    # Thread counts must be fixed before numpy/scipy load their BLAS.
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    import time

    import numpy as np
    import torch

    torch.set_num_threads(args.threads)
    from ganlib.metrics import feature_statistics, frechet_distance

    rng = np.random.default_rng(0)
    d, n = args.dim, args.n
    mixing = rng.normal(size=(d, d)) / np.sqrt(d)
    f1 = np.maximum(rng.normal(size=(n, d)) @ mixing, 0)
    f2 = np.maximum(rng.normal(size=(n, d)) @ mixing + 0.05, 0)
    (mu1, s1), (mu2, s2) = feature_statistics(f1), feature_statistics(f2)

    methods = {"ganlib": lambda: frechet_distance(mu1, s1, mu2, s2)}
    try:
        from torch_fidelity.metric_fid import fid_statistics_to_metric

        methods["torch-fidelity"] = lambda: fid_statistics_to_metric(
            {"mu": mu1, "sigma": s1}, {"mu": mu2, "sigma": s2}, False)["frechet_inception_distance"]
    except ImportError:
        print("torch-fidelity not installed; skipped")
    try:
        from torchmetrics.image.fid import _compute_fid

        t = [torch.from_numpy(a) for a in (mu1, s1, mu2, s2)]
        methods["torchmetrics"] = lambda: float(_compute_fid(*t))
    except ImportError:
        print("torchmetrics not installed; skipped")
    if not args.skip_pytorch_fid:
        try:
            from pytorch_fid.fid_score import calculate_frechet_distance

            methods["pytorch-fid"] = lambda: float(calculate_frechet_distance(mu1, s1, mu2, s2))
        except ImportError:
            print("pytorch-fid not installed; skipped")

    results = {}
    for name, fn in methods.items():
        best_wall = best_cpu = float("inf")
        for _ in range(args.repeats):
            w0, c0 = time.perf_counter(), time.process_time()
            value = fn()
            best_wall = min(best_wall, time.perf_counter() - w0)
            best_cpu = min(best_cpu, time.process_time() - c0)
        results[name] = (value, best_wall, best_cpu)

    ref_value, ref_wall, ref_cpu = results["ganlib"]
    print(f"Frechet distance, d={d}, N={n}, {args.threads} thread(s), best of {args.repeats} "
          f"(torch {torch.__version__}, numpy {np.__version__}, python {sys.version.split()[0]})")
    print(f"{'method':<16}{'value':>22}{'rel. diff':>12}{'wall s':>9}{'cpu s':>9}{'ratio':>8}")
    for name, (value, wall, cpu) in results.items():
        rel = abs(value - ref_value) / abs(value)
        print(f"{name:<16}{value:>22.12f}{rel:>12.2e}{wall:>9.3f}{cpu:>9.3f}{wall / ref_wall:>7.1f}x")
    return results


if __name__ == "__main__":
    main()
