"""Read-only reports over an experiment run directory (``run_dir/report/``).

:func:`msm.report.build.build_report` is the entry point: it runs one module per
report section (:mod:`msm.report.sections`) over a shared
:class:`~msm.report.state.ReportState`. :mod:`msm.report.efficiency` holds the
data-efficiency arithmetic as pure functions.

Names are imported on first use (as in :mod:`msm`): an eager import here would run
whenever any submodule is imported, and tie every section back to the builder in a cycle.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from msm._util.lazy import lazy_package

if TYPE_CHECKING:  # the package's names; loaded on first use (msm._util.lazy)
    from msm.report.build import build_report as build_report

__getattr__, __dir__, __all__ = lazy_package(__name__, __file__)
