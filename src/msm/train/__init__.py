"""Midtraining and AFT: ``msm train midtrain`` / ``msm train aft``.

Names are imported on first use (as in ``msm/__init__.py``): the engine pulls torch, and
``TrainConfig`` is read without it (the CLI builds its flags from it at start-up).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_PUBLIC = {
    "TrainConfig": "msm.train.config",
    "run_train": "msm.train.engine",
    "trained_model_dir": "msm.artifacts.checkpoint",
    "work_dir_for": "msm.artifacts.checkpoint",
}

__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'msm.train' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_PUBLIC))
