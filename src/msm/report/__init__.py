"""Read-only reports over an experiment run directory (``run_dir/report/``).

:func:`msm.report.build.build_report` is the entry point: it runs one module per
report section (:mod:`msm.report.sections`) over a shared
:class:`~msm.report.state.ReportState`. :mod:`msm.report.efficiency` holds the
data-efficiency arithmetic as pure functions.
"""

from __future__ import annotations

from msm.report.build import build_report

__all__ = ["build_report"]
