"""One module per report section. Each ``add_*`` function appends its section (if it
has anything to show) to a :class:`~msm.report.state.ReportState`, along with its
figures, notes, headline lines and report.json data; :func:`msm.report.build.build_report`
calls them in report order.
"""

from __future__ import annotations

from msm.report.sections.agentic import add_agentic
from msm.report.sections.contrasts import add_contrasts
from msm.report.sections.corpora import add_corpora
from msm.report.sections.cost import add_cost
from msm.report.sections.efficiency import add_efficiency
from msm.report.sections.graders import add_graders
from msm.report.sections.headline import add_headline
from msm.report.sections.notes import add_notes, add_sources, note_flat_spreads
from msm.report.sections.primary import add_primary
from msm.report.sections.reasoning import add_reasoning
from msm.report.sections.robustness import add_names, add_robustness
from msm.report.sections.run import add_missing, add_run
from msm.report.sections.seeds import add_seeds
from msm.report.sections.spec_qa import add_spec_qa_capability
from msm.report.sections.training import add_training
from msm.report.sections.values import add_values

__all__ = [
    "add_agentic",
    "add_contrasts",
    "add_corpora",
    "add_cost",
    "add_efficiency",
    "add_graders",
    "add_headline",
    "add_missing",
    "add_names",
    "add_notes",
    "add_primary",
    "add_reasoning",
    "add_robustness",
    "add_run",
    "add_seeds",
    "add_sources",
    "add_spec_qa_capability",
    "add_training",
    "add_values",
    "note_flat_spreads",
]
