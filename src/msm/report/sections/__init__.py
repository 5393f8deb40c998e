"""One module per report section. Each ``add_*`` function appends its section (if it
has anything to show) to a :class:`~msm.report.state.ReportState`, along with its
figures, notes, headline lines and report.json data; :func:`msm.report.build.build_report`
calls them in report order.

Names are imported on first use (as in :mod:`msm`), so importing one section module does
not import every other.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from msm._util.lazy import lazy_package

if TYPE_CHECKING:  # the package's names; loaded on first use (msm._util.lazy)
    from msm.report.sections.agentic import add_agentic as add_agentic
    from msm.report.sections.belief import add_belief as add_belief
    from msm.report.sections.contrasts import add_contrasts as add_contrasts
    from msm.report.sections.corpora import add_corpora as add_corpora
    from msm.report.sections.cost import add_cost as add_cost
    from msm.report.sections.efficiency import add_efficiency as add_efficiency
    from msm.report.sections.graders import add_graders as add_graders
    from msm.report.sections.headline import add_headline as add_headline
    from msm.report.sections.notes import add_notes as add_notes
    from msm.report.sections.notes import add_sources as add_sources
    from msm.report.sections.notes import note_flat_spreads as note_flat_spreads
    from msm.report.sections.primary import add_primary as add_primary
    from msm.report.sections.reasoning import add_reasoning as add_reasoning
    from msm.report.sections.robustness import add_names as add_names
    from msm.report.sections.robustness import add_robustness as add_robustness
    from msm.report.sections.run import add_missing as add_missing
    from msm.report.sections.run import add_run as add_run
    from msm.report.sections.seeds import add_seeds as add_seeds
    from msm.report.sections.spec_qa import add_spec_qa_capability as add_spec_qa_capability
    from msm.report.sections.training import add_training as add_training
    from msm.report.sections.values import add_values as add_values

__getattr__, __dir__, __all__ = lazy_package(__name__, __file__)
