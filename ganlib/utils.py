"""Small utilities every chapter uses: seeding, device choice, threads, parameter counts, eval-mode
batched inference."""

from __future__ import annotations

import contextlib
import os
import random
from pathlib import Path
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


@contextlib.contextmanager
def eval_mode(*nets: nn.Module):
    """Within the block every net is in eval mode (batch norm's running statistics, dropout off);
    after it, also after an error, each is back in the mode it was in."""
    modes = [net.training for net in nets]
    try:
        for net in nets:
            net.eval()
        yield
    finally:
        for net, mode in zip(nets, modes):
            net.train(mode)


@torch.no_grad()
def batched(fn, *inputs: torch.Tensor, batch_size: int, device=None) -> torch.Tensor:
    """``fn`` over slices of ``batch_size`` rows of ``inputs`` (tensors of the same length), each
    slice moved to ``device``, the outputs moved to the CPU and concatenated (no gradients).

    Use it inside :func:`eval_mode` for inference: ``with eval_mode(G): out = batched(G, z, y, batch_size=256)``.
    """
    n = len(inputs[0])
    if any(len(x) != n for x in inputs):
        raise ValueError(f"batched: the inputs must have the same length, got {[len(x) for x in inputs]}")
    outs = [fn(*(x[i : i + batch_size].to(device) for x in inputs)).cpu() for i in range(0, n, batch_size)]
    return torch.cat(outs) if outs else torch.empty(0)


def cache_dir(given=None) -> Path:
    """Where ganlib keeps what it downloads or trains once (the FID network's weights, the judge
    classifier): ``given`` if not None, else ``$GANLIB_CACHE``, else ``~/.cache/ganlib``."""
    if given is not None:
        return Path(given)
    env = os.environ.get("GANLIB_CACHE", "").strip()
    return Path(env) if env else Path.home() / ".cache" / "ganlib"


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
