"""Whole MSM studies from one YAML file: ``msm run`` (see :mod:`msm.experiment.runner`).

Names are imported on first use (as in :mod:`msm`): a submodule importing a sibling then
runs no other submodule, so the package's modules form no import cycle through it.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_PUBLIC = {
    "Experiment": "msm.experiment.config",
    "load_experiment": "msm.experiment.load",
    "run_experiment": "msm.experiment.runner",
}

__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'msm.experiment' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_PUBLIC))
