"""The book's models, one module per paper; ``ganlib.models.X`` finds ``X`` in whichever
module defines it (listed in that module's ``__all__``), importing it on first use."""

from __future__ import annotations

import importlib
import pkgutil


def _modules():
    return [m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_")]


def __getattr__(name: str):
    for mod_name in _modules():
        module = importlib.import_module(f"{__name__}.{mod_name}")
        if name in getattr(module, "__all__", ()):
            return getattr(module, name)
    raise AttributeError(f"module 'ganlib.models' has no attribute {name!r}")


def __dir__():
    names = []
    for mod_name in _modules():
        names += list(getattr(importlib.import_module(f"{__name__}.{mod_name}"), "__all__", ()))
    return sorted(names)
