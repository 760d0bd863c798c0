"""Shared test settings for tests/ and the notebooks under nbval: CPU threads, the ci profile,
and a timing table (time per notebook, slowest tests) at the end of the run."""
import os
from collections import defaultdict

os.environ.setdefault("GANLIB_PROFILE", "ci")
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("GANLIB_STATIC", "1")  # no one moves sliders under nbval: static grids
# Threads that wait for work sleep instead of spinning: on a busy machine (a shared CI runner, a
# laptop doing other work) spinning OpenMP threads of a 2-thread torch burn the cores the others
# need (measured: 20 BigGAN steps took 39 CPU s spinning, 8 CPU s sleeping, at load 6 on 2 cores).
# Set before torch loads its OpenMP runtime; the notebooks' kernels inherit it.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402

import ganlib  # noqa: E402

ganlib.set_threads()

_durations = defaultdict(float)


_printed = {}  # learning and gpu-profile tests: what they printed (quality numbers, memory)


def pytest_runtest_logreport(report):
    _durations[report.nodeid] += report.duration
    if report.when == "call" and report.capstdout.strip() and (
            "learning" in report.keywords or "gpu_profile" in report.keywords):
        _printed[report.nodeid] = report.capstdout.strip()


def pytest_terminal_summary(terminalreporter):
    if not _durations:
        return
    notebooks = defaultdict(float)
    tests = {}
    for nodeid, seconds in _durations.items():
        path = nodeid.split("::")[0]
        if path.endswith(".ipynb"):
            notebooks[path] += seconds
        else:
            tests[nodeid] = seconds
    tr = terminalreporter
    if _printed:
        tr.write_sep("=", "learning and gpu-profile tests: what they measured")
        for nodeid, text in sorted(_printed.items()):
            tr.write_line(nodeid)
            for line in text.splitlines():
                tr.write_line(f"    {line}")
    if notebooks:
        tr.write_sep("=", "notebooks (nbval, ci profile): time per notebook")
        for path, seconds in sorted(notebooks.items(), key=lambda kv: -kv[1]):
            tr.write_line(f"{seconds:8.1f} s  {path}")
        tr.write_line(f"{sum(notebooks.values()):8.1f} s  all notebooks")
    if tests:
        tr.write_sep("=", "slowest tests")
        for nodeid, seconds in sorted(tests.items(), key=lambda kv: -kv[1])[:15]:
            tr.write_line(f"{seconds:8.1f} s  {nodeid}")
        tr.write_line(f"{sum(tests.values()):8.1f} s  all tests")
