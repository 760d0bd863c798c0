"""The training loop every chapter shares: progress bar, loss history, snapshots,
atomic checkpoints and exact resumption.

A chapter writes its model's training step as one short function
``step(batch) -> {"d_loss": ..., "g_loss": ...}`` in the order of the paper's
algorithm; ``fit`` calls it ``steps`` times. With ``checkpoint=path`` the state
(models, optimizers, schedulers, RNGs, data position, history) is written every
``checkpoint_every`` steps, atomically (a temporary file renamed over the old
one, so a kill mid-write never leaves a broken checkpoint); a later call with the
same path resumes from it and, with the same seed, reaches the same weights as a
run that was never interrupted.
"""
from __future__ import annotations

import dataclasses
import math
import os
import random
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple, Union

import numpy as np
import torch
from torch import nn

PathLike = Union[str, os.PathLike]

# config fields that may differ when a run is resumed: training a finished run for longer
RESUMABLE_FIELDS = frozenset({"steps"})


class History:
    """Loss values per step, plus snapshots (step, images) taken during training."""

    def __init__(self) -> None:
        self.steps: List[int] = []
        self.losses: Dict[str, List[float]] = {}
        self.snapshots: List[Tuple[int, torch.Tensor]] = []
        self.seconds: float = 0.0      # wall clock spent in training, over all resumptions
        self.cpu_seconds: float = 0.0  # CPU time of this process spent in training, likewise

    def append(self, step: int, losses: Mapping[str, float]) -> None:
        self.steps.append(step)
        for name, value in losses.items():
            self.losses.setdefault(name, []).append(value)

    def __getitem__(self, name: str) -> List[float]:
        return self.losses[name]

    def last(self, name: str, n: int = 1) -> float:
        """Mean of the last ``n`` values of loss ``name``."""
        values = self.losses[name][-n:]
        return float(sum(values) / len(values))

    def state_dict(self) -> Dict[str, Any]:
        return {"steps": list(self.steps), "losses": {k: list(v) for k, v in self.losses.items()},
                "snapshots": [(s, img) for s, img in self.snapshots], "seconds": self.seconds,
                "cpu_seconds": self.cpu_seconds}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.steps = list(state["steps"])
        self.losses = {k: list(v) for k, v in state["losses"].items()}
        self.snapshots = [(int(s), img) for s, img in state["snapshots"]]
        self.seconds = float(state.get("seconds", 0.0))
        self.cpu_seconds = float(state.get("cpu_seconds", 0.0))

    def __repr__(self) -> str:
        last = ", ".join(f"{k}={v[-1]:.4g}" for k, v in self.losses.items())
        return f"History({len(self.steps)} steps; last: {last})"


def set_requires_grad(nets, flag: bool) -> None:
    """Switch gradient tracking of every parameter of ``nets`` on or off (``None`` entries skipped).

    The official pix2pix/CycleGAN/BicycleGAN steps freeze the discriminators this way while
    the generator is updated, so G's backward pass computes no gradients for D.
    """
    for net in nets:
        if net is not None:
            for p in net.parameters():
                p.requires_grad_(flag)


# --------------------------------------------------------------------------- checkpoints

def _config_dict(config: Any) -> Optional[Dict[str, Any]]:
    if config is None:
        return None
    if dataclasses.is_dataclass(config):
        config = dataclasses.asdict(config)
    if not isinstance(config, Mapping):
        raise TypeError(f"config must be a dataclass or a dict, got {type(config).__name__}")
    return {k: (v if isinstance(v, (int, float, str, bool, type(None))) else repr(v))
            for k, v in config.items()}


def _rng_state() -> Dict[str, Any]:
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    state = {"torch": torch.get_rng_state(), "python": random.getstate(),
             "numpy": (kind, torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss), float(gauss))}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: Mapping[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    kind, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def atomic_save(obj: Any, path: PathLike) -> None:
    """``torch.save`` to a temporary file beside ``path``, then rename it over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _check_model(name: str, module: nn.Module, saved: Mapping[str, torch.Tensor], path: Path) -> None:
    own = module.state_dict()
    missing = [k for k in own if k not in saved]
    unexpected = [k for k in saved if k not in own]
    shapes = [f"{k}: checkpoint {tuple(saved[k].shape)} vs model {tuple(v.shape)}"
              for k, v in own.items() if k in saved and tuple(saved[k].shape) != tuple(v.shape)]
    if missing or unexpected or shapes:
        details = "; ".join(filter(None, [
            f"missing keys {missing[:3]}{'...' if len(missing) > 3 else ''}" if missing else "",
            f"unexpected keys {unexpected[:3]}{'...' if len(unexpected) > 3 else ''}" if unexpected else "",
            f"shape mismatch {shapes[:3]}" if shapes else ""]))
        raise ValueError(f"checkpoint {path} holds a different model for {name!r} ({details}). "
                         "It was written by another architecture or config: use another checkpoint "
                         "path, or delete this file to start afresh.")


def save_checkpoint(path: PathLike, *, modules: Mapping[str, nn.Module],
                    optimizers: Optional[Mapping[str, torch.optim.Optimizer]] = None,
                    schedulers: Optional[Mapping[str, Any]] = None, step: int = 0,
                    history: Optional[History] = None, batches: Any = None, config: Any = None,
                    extra: Optional[Mapping[str, Any]] = None,
                    states: Optional[Mapping[str, Any]] = None) -> None:
    """Write a checkpoint atomically; it loads with ``torch.load(..., weights_only=True)``."""
    state = {
        "format": "ganlib-checkpoint-1",
        "step": int(step),
        "modules": {k: m.state_dict() for k, m in modules.items()},
        "optimizers": {k: o.state_dict() for k, o in (optimizers or {}).items()},
        "schedulers": {k: s.state_dict() for k, s in (schedulers or {}).items()},
        "states": {k: s.state_dict() for k, s in (states or {}).items()},
        "history": history.state_dict() if history is not None else None,
        "batches": batches.state_dict() if batches is not None and hasattr(batches, "state_dict") else None,
        "config": _config_dict(config),
        "rng": _rng_state(),
        "extra": dict(extra or {}),
    }
    atomic_save(state, path)


def load_checkpoint(path: PathLike, *, modules: Mapping[str, nn.Module],
                    optimizers: Optional[Mapping[str, torch.optim.Optimizer]] = None,
                    schedulers: Optional[Mapping[str, Any]] = None, history: Optional[History] = None,
                    batches: Any = None, config: Any = None, restore_rng: bool = True,
                    map_location: Any = "cpu",
                    states: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
    """Load a checkpoint written by :func:`save_checkpoint` into the given objects.

    Loads with ``weights_only=True`` (no arbitrary code runs). Raises ``ValueError``
    naming the mismatch when the checkpoint holds another model or another config; a
    config that differs only in ``steps`` is accepted, so a finished run can train longer.
    Returns the raw state (``step``, ``extra``...).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    state = torch.load(path, map_location=map_location, weights_only=True)
    if not isinstance(state, dict) or state.get("format") != "ganlib-checkpoint-1":
        raise ValueError(f"{path} is not a ganlib checkpoint (written by save_checkpoint/fit)")
    saved_config, want = state.get("config"), _config_dict(config)
    if want is not None and saved_config is not None and saved_config != want:
        diff = sorted(k for k in set(want) | set(saved_config)
                      if want.get(k) != saved_config.get(k) and k not in RESUMABLE_FIELDS)
        shown = ", ".join(f"{k}: checkpoint {saved_config.get(k)!r} vs now {want.get(k)!r}" for k in diff[:5])
    if want is not None and saved_config is not None and saved_config != want and diff:
        raise ValueError(f"checkpoint {path} was written with another config ({shown}). "
                         "Use the same config to resume, another checkpoint path, or delete the file.")
    names = set(modules)
    if names != set(state["modules"]):
        raise ValueError(f"checkpoint {path} holds modules {sorted(state['modules'])}, "
                         f"but {sorted(names)} were given: it belongs to another model")
    for name, module in modules.items():
        _check_model(name, module, state["modules"][name], path)
    for name, module in modules.items():
        module.load_state_dict(state["modules"][name])
    for name, opt in (optimizers or {}).items():
        opt.load_state_dict(state["optimizers"][name])
    for name, sched in (schedulers or {}).items():
        sched.load_state_dict(state["schedulers"][name])
    for name, obj in (states or {}).items():
        obj.load_state_dict(state.get("states", {})[name])
    if history is not None and state.get("history") is not None:
        history.load_state_dict(state["history"])
    if batches is not None and state.get("batches") is not None:
        batches.load_state_dict(state["batches"])
    if restore_rng:
        _set_rng_state(state["rng"])
    return state


# --------------------------------------------------------------------------- the loop

class _StopAfterStep:
    """Ctrl-C / Jupyter's "interrupt" during ``fit``: finish the step, checkpoint, then stop.

    The first interrupt sets a flag that ``fit`` reads after each whole step, so the checkpoint
    holds a consistent state (no half-done step) and resuming gives the uninterrupted run. A
    second interrupt stops at once. Outside the main thread signals cannot be caught: no-op."""

    def __init__(self) -> None:
        import signal
        import threading

        self.requested = False
        self._previous = None
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)

    def _handle(self, signum, frame) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def restore(self) -> None:
        if self._previous is not None:
            import signal

            signal.signal(signal.SIGINT, self._previous)
            self._previous = None


class TrainingTooSlow(TimeoutError):
    """``fit`` passed its ``time_limit`` (a safety net) before finishing its steps."""


def _as_float(name: str, value: Any, step: int) -> float:
    v = float(value.detach()) if isinstance(value, torch.Tensor) else float(value)
    if not math.isfinite(v):
        raise FloatingPointError(
            f"training stopped at step {step}: loss {name!r} is {v}. Lower the learning rate, "
            "check the inputs for NaN/inf, or resume from the last checkpoint.")
    return v


def fit(step_fn: Callable[[Any], Mapping[str, Any]], batches: Any, steps: int, *,
        modules: Mapping[str, nn.Module],
        optimizers: Optional[Mapping[str, torch.optim.Optimizer]] = None,
        schedulers: Optional[Mapping[str, Any]] = None,
        states: Optional[Mapping[str, Any]] = None,
        checkpoint: Optional[PathLike] = None, checkpoint_every: int = 500,
        config: Any = None, snapshot_fn: Optional[Callable[[], torch.Tensor]] = None,
        snapshot_every: int = 0, time_limit: Optional[float] = None,
        progress: bool = True, desc: str = "training", history: Optional[History] = None,
        on_step: Optional[Callable[[int, Mapping[str, float]], None]] = None) -> History:
    """Run ``step_fn(next(batches))`` until ``steps`` steps are done; return the loss history.

    - ``step_fn`` does one training step (all updates of all networks) and returns
      its losses; any non-finite loss stops training with an error naming the step.
    - ``checkpoint``: a path; resumes from it when it exists, writes it every
      ``checkpoint_every`` steps and at the end (models, optimizers, schedulers,
      data position, RNG states, history, and ``states``: any other objects with
      ``state_dict``/``load_state_dict``, such as image pools). ``config`` is stored
      and checked on resume (``steps`` may change, to train a finished run longer).
    - ``snapshot_fn``: called every ``snapshot_every`` steps (models in eval mode);
      its images are kept in ``history.snapshots``.
    - ``time_limit``: seconds; a safety net, never a budget. Training always runs its
      ``steps``; if the wall clock passes ``time_limit`` first, the run is checkpointed
      (when ``checkpoint`` is given) and stopped with ``TrainingTooSlow``, an error that
      says the machine was too slow. A result is never silently cut short.
    """
    if steps < 0:
        raise ValueError(f"steps must be >= 0, got {steps}")
    history = history if history is not None else History()
    start = 0
    if checkpoint is not None and Path(checkpoint).exists():
        state = load_checkpoint(checkpoint, modules=modules, optimizers=optimizers,
                                schedulers=schedulers, history=history, batches=batches, config=config,
                                states=states)
        start = state["step"]
    save = (lambda s: save_checkpoint(checkpoint, modules=modules, optimizers=optimizers,
                                      schedulers=schedulers, step=s, history=history,
                                      batches=batches, config=config, states=states)) if checkpoint else None
    bar = None
    if progress and steps > start:
        from tqdm.auto import tqdm
        bar = tqdm(total=steps, initial=start, desc=desc, mininterval=1.0, leave=False)
    began, cpu_began = time.perf_counter(), time.process_time()
    elapsed_before, cpu_before = history.seconds, history.cpu_seconds
    step = start
    stop = _StopAfterStep()
    try:
        for module in modules.values():
            module.train()
        while step < steps:
            raw = step_fn(next(batches))
            step += 1
            losses = {k: _as_float(k, v, step) for k, v in raw.items()}
            history.append(step, losses)
            history.seconds = elapsed_before + time.perf_counter() - began
            history.cpu_seconds = cpu_before + time.process_time() - cpu_began
            if on_step is not None:
                on_step(step, losses)
            if bar is not None:
                bar.update(1)
                if step % 20 == 0 or step == steps:
                    bar.set_postfix({k: f"{v:.3f}" for k, v in losses.items()}, refresh=False)
            if snapshot_fn is not None and snapshot_every and step % snapshot_every == 0:
                for module in modules.values():
                    module.eval()
                with torch.no_grad():
                    history.snapshots.append((step, snapshot_fn().detach().cpu()))
                for module in modules.values():
                    module.train()
            if save is not None and checkpoint_every and step % checkpoint_every == 0:
                save(step)
            if stop.requested:
                if save is not None:
                    save(step)
                    print(f"{desc}: interrupted after step {step} of {steps}; checkpoint written to "
                          f"{checkpoint}. Run the same call again to resume from it.", flush=True)
                raise KeyboardInterrupt
            if time_limit is not None and step < steps and time.perf_counter() - began >= time_limit:
                if save is not None:
                    save(step)
                raise TrainingTooSlow(
                    f"{desc}: {time.perf_counter() - began:.0f} s passed the time_limit of {time_limit:g} s "
                    f"after {step} of {steps} steps. The machine is too slow or too busy for this "
                    "budget; the result was not cut short. Raise time_limit, or run on a less busy "
                    "machine" + (f" (the checkpoint {checkpoint} resumes where this stopped)." if save else "."))
        if save is not None and step > start and step % max(checkpoint_every, 1) != 0:
            save(step)
    finally:
        stop.restore()
        if bar is not None:
            bar.close()
    return history
