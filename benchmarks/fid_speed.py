"""How fast is ganlib's Fréchet distance next to pytorch-fid, torch-fidelity and torchmetrics?

Usage:  python benchmarks/fid_speed.py [--threads 2] [--dim 2048] [--n 5000] [--repeats 3]

All four run in this one process on the same statistics (mean and covariance of
N random, correlated, ReLU-like "features" of dimension d), with the same number of
threads for numpy/scipy (OpenBLAS) and torch. We report the best of ``--repeats`` runs
in wall-clock seconds and CPU seconds, the ratios (reference time / ganlib time) and
the relative differences of the values. The measurement itself is
``ganlib.metrics.speed.time_frechet_distances``, which chapter 7 also runs and prints.
This is a script, not a timed unit test: timings depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import os


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--dim", type=int, default=2048)
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--skip-pytorch-fid", action="store_true", help="skip the slowest reference")
    args = ap.parse_args(argv)

    # Thread counts fixed before numpy/scipy load their BLAS (threadpoolctl then holds them there).
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    from ganlib.metrics.speed import format_speed_table, machine_description, time_frechet_distances

    results = time_frechet_distances(
        args.dim, args.n, args.repeats, args.threads, pytorch_fid=not args.skip_pytorch_fid
    )
    print(f"Frechet distance, d={args.dim}, N={args.n}, {args.threads} thread(s), best of {args.repeats}")
    print(machine_description())
    print(format_speed_table(results))
    return results


if __name__ == "__main__":
    main()
