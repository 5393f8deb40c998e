"""Read-only reports over an experiment run directory (``run_dir/report/``).

:func:`msm.report.build.build_report` is the entry point: it runs one module per
report section (:mod:`msm.report.sections`) over a shared
:class:`~msm.report.state.ReportState`. :mod:`msm.report.efficiency` holds the
data-efficiency arithmetic as pure functions.

Names are imported on first use (as in :mod:`msm`): an eager import here would run
whenever any submodule is imported, and tie every section back to the builder in a cycle.
"""

from __future__ import annotations

from msm._util.lazy import lazy_names

_PUBLIC = {"build_report": "msm.report.build"}

__all__ = sorted(_PUBLIC)


__getattr__, __dir__ = lazy_names(__name__, _PUBLIC)
