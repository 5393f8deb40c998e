"""Read-only reports over an experiment run directory (``run_dir/report/``).

:func:`msm.report.build.build_report` is the entry point: it runs one module per
report section (:mod:`msm.report.sections`) over a shared
:class:`~msm.report.state.ReportState`. :mod:`msm.report.efficiency` holds the
data-efficiency arithmetic as pure functions.

Names are imported on first use (as in :mod:`msm`): an eager import here would run
whenever any submodule is imported, and tie every section back to the builder in a cycle.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_PUBLIC = {"build_report": "msm.report.build"}

__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'msm.report' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_PUBLIC))
