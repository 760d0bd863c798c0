"""Profiles: one switch that sizes every chapter for where it runs.

``ci``  -- CI and nbval: every cell runs in about a minute on 2 CPU cores.
``cpu`` -- a laptop: visibly learned results in at most ~10 minutes.
``gpu`` -- Colab or a workstation: the real data set and the paper's settings.

The profile comes from the argument, else the ``GANLIB_PROFILE`` environment
variable, else it is chosen automatically: ``gpu`` where CUDA is available,
``ci`` where the ``CI`` environment variable is set, otherwise ``cpu``.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Optional, TypeVar

PROFILES = ("ci", "cpu", "gpu")

T = TypeVar("T")


def _check(name: str, where: str) -> str:
    key = name.strip().lower()
    if key not in PROFILES:
        raise ValueError(
            f"unknown profile {name!r} ({where}); choose one of {', '.join(PROFILES)}, "
            f"e.g. GANLIB_PROFILE=cpu, or unset it to choose automatically"
        )
    return key


def get_profile(name: Optional[str] = None) -> str:
    """Return the active profile name: ``name``, else ``$GANLIB_PROFILE``, else automatic."""
    if name:
        return _check(name, "passed as an argument")
    env = os.environ.get("GANLIB_PROFILE", "").strip()
    if env:
        return _check(env, "from GANLIB_PROFILE")
    try:
        import torch

        if torch.cuda.is_available():
            return "gpu"
    except ImportError:  # pragma: no cover - torch is a dependency
        pass
    if os.environ.get("CI"):
        return "ci"
    return "cpu"


def choose(profile: Optional[str] = None, /, **configs: T) -> T:
    """Pick the config for ``profile`` from one config per profile.

    >>> choose("ci", ci=1, cpu=2, gpu=3)
    1
    """
    key = get_profile(profile)
    missing = [p for p in PROFILES if p not in configs]
    extra = [k for k in configs if k not in PROFILES]
    if missing or extra:
        raise ValueError(
            f"choose() needs exactly one config per profile {PROFILES}; missing {missing}, unknown {extra}"
        )
    return configs[key]


def override(config: T, **changes) -> T:
    """A copy of the dataclass ``config`` with some fields changed; unknown fields are an error."""
    names = {f.name for f in dataclasses.fields(config)}
    unknown = sorted(set(changes) - names)
    if unknown:
        raise ValueError(f"{type(config).__name__} has no field(s) {unknown}; its fields are {sorted(names)}")
    return dataclasses.replace(config, **changes)


# Where a Colab runtime mounts Google Drive (`from google.colab import drive; drive.mount(COLAB_DRIVE)`).
COLAB_DRIVE = "/content/drive"


def checkpoint_dir(chapter: str, root: Optional[str] = None) -> "os.PathLike[str]":
    """The folder for ``chapter``'s checkpoints, created if needed: one that outlives the runtime.

    ``root``, else ``$GANLIB_CHECKPOINTS``, else on Colab with Google Drive mounted
    ``MyDrive/ganbook/checkpoints`` (a runtime reset wipes the local disk, Drive keeps them),
    else ``checkpoints/`` in the working folder. The chapter gets a subfolder of its own.
    """
    from pathlib import Path

    drive = Path(COLAB_DRIVE) / "MyDrive"
    base = root or os.environ.get("GANLIB_CHECKPOINTS", "").strip()
    if not base:
        base = drive / "ganbook" / "checkpoints" if drive.is_dir() else Path("checkpoints")
    folder = Path(base).expanduser() / chapter
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def checkpoint_path(chapter: str, name: Optional[str], profile: Optional[str] = None) -> "Optional[os.PathLike[str]]":
    """Where ``chapter``'s run ``name`` keeps its checkpoint: ``checkpoint_dir(chapter) / name``.

    ``None`` (the run writes no checkpoint) when ``name`` is ``None``, or when ``profile`` is given
    and is not ``"gpu"``: the ``ci`` and ``cpu`` runs take minutes, the ``gpu`` runs hours, and only
    those must survive a disconnect or a runtime reset.
    """
    if name is None or (profile is not None and profile != "gpu"):
        return None
    return checkpoint_dir(chapter) / name
