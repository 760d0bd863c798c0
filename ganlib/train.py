"""The training loop every chapter shares: progress bar, loss history, snapshots,
atomic checkpoints and exact resumption.

Every chapter's model follows one contract, :class:`Trainer`: it holds its networks
(``modules``), its optimizers (``optimizers``), everything else with a state (``states``:
learning-rate schedulers, image pools...) and ``step(batch) -> {"d_loss": ..., "g_loss": ...}``,
one training step in the order of the paper's algorithm. The loss keys follow one scheme
(:data:`LOSS_KEYS`), which :func:`loss_network` reads and the loss plots use. ``fit(trainer, batches, steps)`` calls
``trainer.step`` ``steps`` times and checkpoints the rest. (The older form
``fit(step_fn, batches, steps, modules=..., optimizers=..., states=...)`` still works, for a step
built inline.) With ``checkpoint=path`` the state
(models, optimizers, schedulers, RNGs, data position, history) is written every
``checkpoint_every`` steps, atomically (a temporary file renamed over the old
one, so a kill mid-write never leaves a broken checkpoint); a later call with the
same path resumes from it and, with the same seed, reaches the same weights as a
run that was never interrupted. The checkpoint before the last one is kept beside
it (``run.pt`` -> ``run.previous.pt``), so a damaged file is never the only copy.
"""

from __future__ import annotations

import dataclasses
import math
import os
import random
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Protocol, Tuple, Union, runtime_checkable

import numpy as np
import torch
from torch import nn

PathLike = Union[str, os.PathLike]

#: The scheme of the keys of the dict ``step(batch)`` returns, the same in every chapter. All lower
#: case; ``<net>`` is the network's name in ``trainer.modules``, lower-cased:
#:
#: - ``<net>_loss``: the whole loss that one network descends (``d_loss``, ``g_loss``, ``d2_loss``,
#:   ``d_x_loss``, ``d_y_loss``); CycleGAN's ``g_loss`` is what G and F descend together.
#: - ``<net>_<term>``: one weighted term of it (``g_gan``, ``g_l1``, ``g_gan2``, ``f_gan``), or a
#:   diagnostic of that network (``d_class_real``).
#: - ``<term>`` or ``<term>_<domain>``: a term the paper names by its own symbol (``kl``, ``z_l1``,
#:   ``cycle_x``, ``idt_y``).
LOSS_KEYS = ("<net>_loss", "<net>_<term>", "<term>", "<term>_<domain>")
# the book's network names, lower-cased: G, F, E, D, D2, D_X, D_Y
_NETWORKS = ("g", "f", "e", "d", "d2", "d_x", "d_y")


def loss_network(key: str) -> Optional[str]:
    """The network (lower-cased) a loss key of the :data:`LOSS_KEYS` scheme belongs to, or None for a
    term named by the paper's symbol: ``"d_x_loss" -> "d_x"``, ``"g_gan" -> "g"``, ``"kl" -> None``."""
    if key.endswith("_loss"):
        return key[: -len("_loss")]
    head = key.split("_")[0]
    return head if head in _NETWORKS else None


# Config fields that may differ when a run is resumed, and nothing else: ``steps`` (train a
# finished run for longer) and the learning rates (resume with a lower rate after a loss went
# NaN). When a learning-rate field differs, the optimizers continue from the checkpoint with the
# rate of the optimizers as built now, and ``load_checkpoint`` prints which fields changed.
RESUMABLE_FIELDS = frozenset({"steps", "lr", "lr_g", "lr_d", "lr_G", "lr_D", "lr_e", "lr_E"})


class History:
    """Loss values per step, plus snapshots (step, images) taken during training."""

    def __init__(self) -> None:
        self.steps: List[int] = []
        self.losses: Dict[str, List[float]] = {}
        self.snapshots: List[Tuple[int, torch.Tensor]] = []
        self.seconds: float = 0.0  # wall clock spent in training, over all resumptions
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
        return {
            "steps": list(self.steps),
            "losses": {k: list(v) for k, v in self.losses.items()},
            "snapshots": [(s, img) for s, img in self.snapshots],
            "seconds": self.seconds,
            "cpu_seconds": self.cpu_seconds,
        }

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


# --------------------------------------------------------------------------- the training contract


@runtime_checkable
class Trainer(Protocol):
    """What every chapter's model offers ``fit``: one shape for every model.

    - ``modules``: the networks by name (``"G"``, ``"D"``, ``"E"``, ``"G_ema"``...); checkpointed,
      and put in train mode by ``fit``.
    - ``optimizers``: the optimizers by name, ``"G"`` and ``"D"`` (and ``"E"``, ``"D2"`` where the
      paper has them); checkpointed.
    - ``states``: every other object with ``state_dict``/``load_state_dict`` that a resumed run
      needs: learning-rate schedulers (``"lr_G"``, ``"lr_D"``...), image pools, ...; checkpointed.
    - ``step(batch)``: one training step (every update of every network, then the schedulers),
      returning the losses as a dict of tensors.

    ``fit(trainer, batches, steps, checkpoint=...)`` takes all four from the trainer. Any object
    with these attributes is a trainer (a ``typing.Protocol``: no base class needed).
    """

    @property
    def modules(self) -> Dict[str, nn.Module]: ...

    @property
    def optimizers(self) -> Dict[str, torch.optim.Optimizer]: ...

    @property
    def states(self) -> Dict[str, Any]: ...

    def step(self, batch: Any) -> Dict[str, torch.Tensor]: ...


class GANTrainer:
    """A generator, a discriminator, their optimizers and a step function: the :class:`Trainer` of
    the chapter 0-2 models. ``step(batch)`` is ``step_fn(G, D, opt_g, opt_d, *batch, **options)``,
    e.g. ``GANTrainer(G, D, opt_g, opt_d, mlp_gan.gan_step, g_loss="saturating")``,
    ``GANTrainer(G, D, opt_g, opt_d, cgan.cgan_step)`` or ``acgan.acgan_step``; ``batch`` is the
    tuple a ``TensorBatches`` yields (``(x,)`` or ``(x, labels)``)."""

    def __init__(
        self,
        G: nn.Module,
        D: nn.Module,
        opt_g: torch.optim.Optimizer,
        opt_d: torch.optim.Optimizer,
        step_fn: Callable[..., Mapping[str, torch.Tensor]],
        **options: Any,
    ):
        self.G, self.D, self.opt_g, self.opt_d = G, D, opt_g, opt_d
        self.step_fn, self.options = step_fn, options

    @property
    def modules(self) -> Dict[str, nn.Module]:
        return {"G": self.G, "D": self.D}

    @property
    def optimizers(self) -> Dict[str, torch.optim.Optimizer]:
        return {"G": self.opt_g, "D": self.opt_d}

    @property
    def states(self) -> Dict[str, Any]:
        return {}

    def step(self, batch: Any) -> Dict[str, torch.Tensor]:
        return self.step_fn(self.G, self.D, self.opt_g, self.opt_d, *batch, **self.options)

    def __repr__(self) -> str:
        name = getattr(self.step_fn, "__name__", repr(self.step_fn))
        return f"GANTrainer({type(self.G).__name__}, {type(self.D).__name__}, step={name})"


# --------------------------------------------------------------------------- checkpoints


def _config_dict(config: Any) -> Optional[Dict[str, Any]]:
    if config is None:
        return None
    if dataclasses.is_dataclass(config):
        config = dataclasses.asdict(config)
    if not isinstance(config, Mapping):
        raise TypeError(f"config must be a dataclass or a dict, got {type(config).__name__}")
    return {k: (v if isinstance(v, (int, float, str, bool, type(None))) else repr(v)) for k, v in config.items()}


def _rng_state() -> Dict[str, Any]:
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    state = {
        "torch": torch.get_rng_state(),
        "python": random.getstate(),
        "numpy": (kind, torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss), float(gauss)),
    }
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


class CheckpointError(ValueError):
    """A checkpoint file is damaged (truncated, empty) or holds something other than a checkpoint."""


def previous_checkpoint(path: PathLike) -> Path:
    """Where ``save_checkpoint`` keeps the checkpoint before the last one: ``run.pt`` -> ``run.previous.pt``."""
    path = Path(path)
    return path.with_name(f"{path.stem}.previous{path.suffix}")


def _stale_temporaries(path: Path) -> List[Path]:
    """Temporary files ``.{name}.*.tmp`` that a killed ``atomic_save`` of ``path`` left behind."""
    if not path.parent.is_dir():
        return []
    head = f".{path.name}."
    return [p for p in path.parent.iterdir() if p.name.startswith(head) and p.name.endswith(".tmp")]


def atomic_save(obj: Any, path: PathLike, keep_previous: bool = False) -> None:
    """``torch.save`` to a temporary file beside ``path``, then rename it over ``path``.

    Temporary files left by an earlier, killed save of ``path`` are deleted first. With
    ``keep_previous`` the file being replaced is kept as :func:`previous_checkpoint`; ``path``
    itself is a complete file at every moment.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in _stale_temporaries(path):
        stale.unlink(missing_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        if keep_previous and path.is_file():
            _keep_copy(path, previous_checkpoint(path))
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _keep_copy(path: Path, previous: Path) -> None:
    """Make ``previous`` a copy of ``path`` atomically (a hard link where the file system has them)."""
    staging = previous.with_name(f".{path.name}.previous.tmp")
    staging.unlink(missing_ok=True)
    try:
        os.link(path, staging)
    except OSError:  # no hard links here (some network or FAT file systems): copy
        import shutil

        shutil.copyfile(path, staging)
    os.replace(staging, previous)


def _damage_advice(path: Path) -> str:
    """What to do about a damaged ``path``: the previous checkpoint, if one is kept and loads."""
    previous = previous_checkpoint(path)
    if not previous.is_file() or previous == path:
        return f"No earlier checkpoint is kept beside it: delete {path} to start afresh."
    try:
        step = int(torch.load(previous, map_location="cpu", weights_only=True)["step"])
    except Exception:  # damaged too
        return f"The checkpoint before it, {previous}, does not load either: delete both to start afresh."
    return (
        f"The checkpoint before it, {previous} (step {step}), loads: copy it over {path} to resume "
        f"from step {step}, or delete {path} to start afresh."
    )


def _read_checkpoint(path: Path, map_location: Any) -> Dict[str, Any]:
    """``torch.load(path, weights_only=True)``; a damaged or foreign file -> ``CheckpointError``."""
    import pickle

    size = path.stat().st_size
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CheckpointError(
            f"checkpoint {path} cannot be loaded safely: it holds objects other than tensors and plain "
            f"values, which weights_only=True refuses ({first}). It was not written by ganlib's "
            "save_checkpoint, or it was altered; do not load it with weights_only=False unless you trust "
            f"where it came from. {_damage_advice(path)}"
        ) from err
    except (EOFError, OSError, RuntimeError, ValueError) as err:
        what = "empty (0 bytes)" if size == 0 else f"damaged ({size} bytes, truncated or corrupted)"
        raise CheckpointError(
            f"checkpoint {path} is {what} and cannot be loaded: {type(err).__name__}: "
            f"{str(err).strip().splitlines()[0] if str(err).strip() else 'unexpected end of file'}. "
            "(ganlib writes checkpoints atomically; a copy or sync that did not finish, or a full disk, "
            f"leaves files like this.) {_damage_advice(path)}"
        ) from err
    if not isinstance(state, dict) or state.get("format") != "ganlib-checkpoint-1":
        raise CheckpointError(f"{path} is not a ganlib checkpoint (written by save_checkpoint/fit)")
    return state


def _changed_learning_rates(
    optimizers: Mapping[str, torch.optim.Optimizer], schedulers: List[Any], wanted: Mapping[str, List[float]]
) -> None:
    """After loading an optimizer's state, continue with the base learning rates ``wanted`` (those
    of the optimizer as built now): each group's current rate is scaled by new base / saved base,
    so a schedule (``LambdaLR``) keeps its shape, and the schedulers' ``base_lrs`` follow (any
    object of ``schedulers`` without ``optimizer`` and ``base_lrs``, an image pool, is skipped)."""
    for name, opt in optimizers.items():
        for group, new_base in zip(opt.param_groups, wanted[name]):
            old_base = group.get("initial_lr", group["lr"])
            group["lr"] = group["lr"] * (new_base / old_base) if old_base else new_base
            if "initial_lr" in group:
                group["initial_lr"] = new_base
    for sched in schedulers:
        opt = getattr(sched, "optimizer", None)
        if opt is not None and hasattr(sched, "base_lrs"):
            sched.base_lrs = [g.get("initial_lr", g["lr"]) for g in opt.param_groups]
            sched._last_lr = [g["lr"] for g in opt.param_groups]


def _check_model(name: str, module: nn.Module, saved: Mapping[str, torch.Tensor], path: Path) -> None:
    own = module.state_dict()
    missing = [k for k in own if k not in saved]
    unexpected = [k for k in saved if k not in own]
    shapes = [
        f"{k}: checkpoint {tuple(saved[k].shape)} vs model {tuple(v.shape)}"
        for k, v in own.items()
        if k in saved and tuple(saved[k].shape) != tuple(v.shape)
    ]
    if missing or unexpected or shapes:
        details = "; ".join(
            filter(
                None,
                [
                    f"missing keys {missing[:3]}{'...' if len(missing) > 3 else ''}" if missing else "",
                    f"unexpected keys {unexpected[:3]}{'...' if len(unexpected) > 3 else ''}" if unexpected else "",
                    f"shape mismatch {shapes[:3]}" if shapes else "",
                ],
            )
        )
        raise ValueError(
            f"checkpoint {path} holds a different model for {name!r} ({details}). "
            "It was written by another architecture or config: use another checkpoint "
            "path, or delete this file to start afresh."
        )


def save_checkpoint(
    path: PathLike,
    *,
    modules: Mapping[str, nn.Module],
    optimizers: Optional[Mapping[str, torch.optim.Optimizer]] = None,
    schedulers: Optional[Mapping[str, Any]] = None,
    step: int = 0,
    history: Optional[History] = None,
    batches: Any = None,
    config: Any = None,
    extra: Optional[Mapping[str, Any]] = None,
    states: Optional[Mapping[str, Any]] = None,
) -> None:
    """Write a checkpoint atomically; it loads with ``torch.load(..., weights_only=True)``.

    The checkpoint it replaces is kept as :func:`previous_checkpoint` (the last two are kept),
    and temporary files left by a killed earlier save are deleted."""
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
    atomic_save(state, path, keep_previous=True)


def load_checkpoint(
    path: PathLike,
    *,
    modules: Mapping[str, nn.Module],
    optimizers: Optional[Mapping[str, torch.optim.Optimizer]] = None,
    schedulers: Optional[Mapping[str, Any]] = None,
    history: Optional[History] = None,
    batches: Any = None,
    config: Any = None,
    restore_rng: bool = True,
    map_location: Any = "cpu",
    states: Optional[Mapping[str, Any]] = None,
) -> Dict[str, Any]:
    """Load a checkpoint written by :func:`save_checkpoint` into the given objects.

    Loads with ``weights_only=True`` (no arbitrary code runs). A damaged (truncated, empty)
    file raises ``CheckpointError`` naming it and the previous checkpoint kept beside it.
    Raises ``ValueError`` naming the mismatch when the checkpoint holds another model or
    another config; only the fields in ``RESUMABLE_FIELDS`` may differ (``steps``, to train
    a finished run longer, and the learning rates ``lr``, ``lr_g``, ``lr_d``...; a changed
    learning rate is printed and the optimizers continue at the rate they were built with
    now). Returns the raw state (``step``, ``extra``...).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    state = _read_checkpoint(path, map_location)
    saved_config, want = state.get("config"), _config_dict(config)
    if want is not None and saved_config is not None and saved_config != want:
        diff = sorted(
            k for k in set(want) | set(saved_config) if want.get(k) != saved_config.get(k) and k not in RESUMABLE_FIELDS
        )
        shown = ", ".join(f"{k}: checkpoint {saved_config.get(k)!r} vs now {want.get(k)!r}" for k in diff[:5])
    if want is not None and saved_config is not None and saved_config != want and diff:
        raise ValueError(
            f"checkpoint {path} was written with another config ({shown}). "
            "Use the same config to resume, another checkpoint path, or delete the file."
        )
    names = set(modules)
    if names != set(state["modules"]):
        raise ValueError(
            f"checkpoint {path} holds modules {sorted(state['modules'])}, "
            f"but {sorted(names)} were given: it belongs to another model"
        )
    for name, module in modules.items():
        _check_model(name, module, state["modules"][name], path)
    saved_states = dict(state.get("states", {}))
    for name, sched in state.get("schedulers", {}).items():  # written before the schedulers moved
        saved_states.setdefault(f"lr_{name}", sched)  # into a trainer's states (as lr_G, lr_D...)
    for kind, given, saved in (
        ("optimizers", optimizers, state.get("optimizers", {})),
        ("schedulers", schedulers, state.get("schedulers", {})),
        ("states", states, saved_states),
    ):
        missing = sorted(set(given or {}) - set(saved))
        if missing:
            raise ValueError(
                f"checkpoint {path} holds no {kind} {missing} (it holds {sorted(saved)}): it was written "
                "by another trainer. Resume with the trainer that wrote it, or start anew with another "
                "checkpoint path (or delete the file)."
            )
    for name, module in modules.items():
        module.load_state_dict(state["modules"][name])
    changed_lr = sorted(
        k
        for k in RESUMABLE_FIELDS - {"steps"}
        if want is not None and saved_config is not None and want.get(k) != saved_config.get(k)
    )
    built_lr = {
        name: [g.get("initial_lr", g["lr"]) for g in opt.param_groups] for name, opt in (optimizers or {}).items()
    }
    for name, opt in (optimizers or {}).items():
        opt.load_state_dict(state["optimizers"][name])
    for name, sched in (schedulers or {}).items():
        sched.load_state_dict(state["schedulers"][name])
    for name, obj in (states or {}).items():
        obj.load_state_dict(saved_states[name])
    if changed_lr:  # schedulers may be passed as schedulers or among the states (a Trainer's)
        _changed_learning_rates(optimizers or {}, [*(schedulers or {}).values(), *(states or {}).values()], built_lr)
        print(
            f"resuming {path} at step {state['step']} with a changed learning rate: "
            + ", ".join(f"{k} {saved_config.get(k)!r} -> {want.get(k)!r}" for k in changed_lr)
            + f" (the fields that may change on resume: {', '.join(sorted(RESUMABLE_FIELDS))})",
            flush=True,
        )
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


class NonFiniteLoss(FloatingPointError):
    """A loss became NaN or infinite; ``step`` is the step, ``loss`` its name."""

    def __init__(self, message: str, step: int, loss: str):
        super().__init__(message)
        self.step, self.loss = step, loss


def _as_float(name: str, value: Any, step: int) -> float:
    v = float(value.detach()) if isinstance(value, torch.Tensor) else float(value)
    if not math.isfinite(v):
        raise NonFiniteLoss(f"training stopped at step {step}: loss {name!r} is {v}.", step, name)
    return v


def _nan_advice(err: NonFiniteLoss, checkpoint: Optional[PathLike], config: Any) -> str:
    """What to do after a non-finite loss, in steps that work with this run's checkpoint and config."""
    fields = sorted(k for k in RESUMABLE_FIELDS - {"steps"} if k in (_config_dict(config) or {}))
    where = (
        f"in the config ({', '.join(fields)}; learning-rate fields may change on resume)"
        if fields
        else "where the optimizers are built"
    )
    if checkpoint is not None and Path(checkpoint).is_file():
        try:
            saved = int(torch.load(checkpoint, map_location="cpu", weights_only=True)["step"])
        except Exception:  # a damaged file: fit's next call says so in full
            saved = None
        at = f" (step {saved})" if saved is not None else ""
        return (
            f"{err} The checkpoint {checkpoint}{at} was written before it. To resume from there with "
            f"a lower learning rate: rebuild the models and optimizers with a lower rate {where}, then "
            "call fit again with the same checkpoint. Also check the inputs for NaN/inf."
        )
    return f"{err} Lower the learning rate {where} and train again, and check the inputs for NaN/inf" + (
        "." if checkpoint is not None else "; pass checkpoint=... to fit to be able to resume."
    )


def _unpack(trainer: Any, modules, optimizers, schedulers, states):
    """``fit``'s first argument as ``(step_fn, modules, optimizers, schedulers, states)``: from a
    :class:`Trainer`, or a step function with its objects given by keyword."""
    if isinstance(trainer, Trainer):
        given = [
            k
            for k, v in (
                ("modules", modules),
                ("optimizers", optimizers),
                ("schedulers", schedulers),
                ("states", states),
            )
            if v is not None
        ]
        if given:
            raise TypeError(
                f"fit(trainer, ...) takes modules, optimizers and states from the trainer "
                f"({type(trainer).__name__}); do not pass {', '.join(given)} too"
            )
        return trainer.step, dict(trainer.modules), dict(trainer.optimizers), None, dict(trainer.states)
    if not callable(trainer):
        raise TypeError(
            f"fit's first argument must be a Trainer (modules, optimizers, states, step) or a "
            f"step function, got {type(trainer).__name__}"
        )
    if modules is None:
        raise TypeError(
            "fit(step_fn, ...) needs modules=...: pass a Trainer instead, whose modules, "
            "optimizers and states fit takes from it"
        )
    return trainer, modules, optimizers, schedulers, states


def fit(
    trainer: Union[Trainer, Callable[[Any], Mapping[str, Any]]],
    batches: Any,
    steps: int,
    *,
    modules: Optional[Mapping[str, nn.Module]] = None,
    optimizers: Optional[Mapping[str, torch.optim.Optimizer]] = None,
    schedulers: Optional[Mapping[str, Any]] = None,
    states: Optional[Mapping[str, Any]] = None,
    checkpoint: Optional[PathLike] = None,
    checkpoint_every: int = 500,
    config: Any = None,
    snapshot_fn: Optional[Callable[[], torch.Tensor]] = None,
    snapshot_every: int = 0,
    time_limit: Optional[float] = None,
    progress: bool = True,
    desc: str = "training",
    history: Optional[History] = None,
    on_step: Optional[Callable[[int, Mapping[str, float]], None]] = None,
) -> History:
    """Run ``trainer.step(next(batches))`` until ``steps`` steps are done; return the loss history.

    - ``trainer``: a :class:`Trainer` (every chapter's model is one); its ``modules``,
      ``optimizers`` and ``states`` are what is checkpointed. ``trainer.step`` does one training
      step (all updates of all networks) and returns its losses; any non-finite loss stops
      training with an error naming the step. The older form ``fit(step_fn, batches, steps,
      modules=..., optimizers=..., schedulers=..., states=...)``, a plain step function and its
      objects by keyword, still works (for a step built inline).
    - ``checkpoint``: a path; resumes from it when it exists, writes it every
      ``checkpoint_every`` steps and at the end (models, optimizers, schedulers,
      data position, RNG states, history, and ``states``: any other objects with
      ``state_dict``/``load_state_dict``, such as image pools). ``config`` is stored
      and checked on resume (only ``RESUMABLE_FIELDS`` may change: ``steps``, to train a
      finished run longer, and the learning rates, to resume after a NaN loss). The
      checkpoint before the last is kept as ``previous_checkpoint(checkpoint)``.
    - ``snapshot_fn``: called every ``snapshot_every`` steps (models in eval mode);
      its images are kept in ``history.snapshots``.
    - ``time_limit``: seconds; a safety net, never a budget. Training always runs its
      ``steps``; if the wall clock passes ``time_limit`` first, the run is checkpointed
      (when ``checkpoint`` is given) and stopped with ``TrainingTooSlow``, an error that
      says the machine was too slow. A result is never silently cut short.
    """
    if steps < 0:
        raise ValueError(f"steps must be >= 0, got {steps}")
    step_fn, modules, optimizers, schedulers, states = _unpack(trainer, modules, optimizers, schedulers, states)
    history = history if history is not None else History()
    start = 0
    if checkpoint is not None and Path(checkpoint).exists():
        state = load_checkpoint(
            checkpoint,
            modules=modules,
            optimizers=optimizers,
            schedulers=schedulers,
            history=history,
            batches=batches,
            config=config,
            states=states,
        )
        start = state["step"]
    save = (
        (
            lambda s: save_checkpoint(
                checkpoint,
                modules=modules,
                optimizers=optimizers,
                schedulers=schedulers,
                step=s,
                history=history,
                batches=batches,
                config=config,
                states=states,
            )
        )
        if checkpoint
        else None
    )
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
            try:
                losses = {k: _as_float(k, v, step) for k, v in raw.items()}
            except NonFiniteLoss as err:
                raise NonFiniteLoss(_nan_advice(err, checkpoint, config), err.step, err.loss) from None
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
                    print(
                        f"{desc}: interrupted after step {step} of {steps}; checkpoint written to "
                        f"{checkpoint}. Run the same call again to resume from it.",
                        flush=True,
                    )
                raise KeyboardInterrupt
            if time_limit is not None and step < steps and time.perf_counter() - began >= time_limit:
                if save is not None:
                    save(step)
                raise TrainingTooSlow(
                    f"{desc}: {time.perf_counter() - began:.0f} s passed the time_limit of {time_limit:g} s "
                    f"after {step} of {steps} steps. The machine is too slow or too busy for this "
                    "budget; the result was not cut short. Raise time_limit, or run on a less busy "
                    "machine" + (f" (the checkpoint {checkpoint} resumes where this stopped)." if save else ".")
                )
        if save is not None and step > start and step % max(checkpoint_every, 1) != 0:
            save(step)
    finally:
        stop.restore()
        if bar is not None:
            bar.close()
    return history
