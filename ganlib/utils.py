"""Small utilities every chapter uses: seeding, device choice, threads, parameter counts."""

from __future__ import annotations

import contextlib
import os
import random
from typing import Optional

import numpy as np
import torch
from torch import nn


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python's, NumPy's and torch's RNGs (CPU and CUDA); return a seeded ``torch.Generator``."""
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    return torch.Generator().manual_seed(seed)


def get_device(prefer: Optional[str] = None) -> torch.device:
    """``prefer`` if given, else CUDA when available, else CPU."""
    if prefer is not None:
        device = torch.device(prefer)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise RuntimeError("device 'cuda' was asked for but CUDA is not available; use 'cpu'")
        return device
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def set_threads(n: Optional[int] = None) -> int:
    """Use ``n`` CPU threads for torch (default: ``$OMP_NUM_THREADS`` when set, else all cores,
    at most 8); return the number set.

    On small CPUs more threads than cores slow training down, and torch's default
    can exceed the cores a container really has, so we follow ``os.sched_getaffinity``.
    """
    if n is None and os.environ.get("OMP_NUM_THREADS", "").isdigit():
        n = max(1, int(os.environ["OMP_NUM_THREADS"]))
    if n is None:
        try:
            cores = len(os.sched_getaffinity(0))
        except AttributeError:  # macOS, Windows
            cores = os.cpu_count() or 1
        n = max(1, min(cores, 8))
    torch.set_num_threads(n)
    return n


@contextlib.contextmanager
def torch_threads(n: int):
    """Within the block torch uses ``n`` CPU threads; the count found is restored after it."""
    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def count_parameters(module: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters of ``module`` (buffers such as batch-norm statistics not counted)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


def setup(
    seed: int = 0, profile: Optional[str] = None, threads: Optional[int] = None, verbose: bool = True
) -> torch.device:
    """Seed, set threads and choose the device for a chapter; print one summary line."""
    from . import __version__
    from .profiles import get_profile

    name = get_profile(profile)
    n = set_threads(threads)
    seed_everything(seed)
    device = get_device()
    if verbose:
        print(
            f"ganlib {__version__} | torch {torch.__version__} | device {device} | "
            f"{n} CPU threads | profile {name} | seed {seed}"
        )
    return device
