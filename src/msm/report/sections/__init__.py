"""One module per report section. Each ``add_*`` function appends its section (if it
has anything to show) to a :class:`~msm.report.state.ReportState`, along with its
figures, notes, headline lines and report.json data; :func:`msm.report.build.build_report`
calls them in report order.

Names are imported on first use (as in :mod:`msm`), so importing one section module does
not import every other.
"""

from __future__ import annotations

from msm._util.lazy import lazy_names

_PUBLIC = {
    "add_agentic": "msm.report.sections.agentic",
    "add_contrasts": "msm.report.sections.contrasts",
    "add_corpora": "msm.report.sections.corpora",
    "add_cost": "msm.report.sections.cost",
    "add_efficiency": "msm.report.sections.efficiency",
    "add_graders": "msm.report.sections.graders",
    "add_headline": "msm.report.sections.headline",
    "add_missing": "msm.report.sections.run",
    "add_names": "msm.report.sections.robustness",
    "add_notes": "msm.report.sections.notes",
    "add_primary": "msm.report.sections.primary",
    "add_reasoning": "msm.report.sections.reasoning",
    "add_robustness": "msm.report.sections.robustness",
    "add_run": "msm.report.sections.run",
    "add_seeds": "msm.report.sections.seeds",
    "add_sources": "msm.report.sections.notes",
    "add_spec_qa_capability": "msm.report.sections.spec_qa",
    "add_training": "msm.report.sections.training",
    "add_values": "msm.report.sections.values",
    "note_flat_spreads": "msm.report.sections.notes",
}

__all__ = sorted(_PUBLIC)


__getattr__, __dir__ = lazy_names(__name__, _PUBLIC)
