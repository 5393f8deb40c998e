"""Whole MSM studies from one YAML file: ``msm run`` (see :mod:`msm.experiment.runner`).

Names are imported on first use (as in :mod:`msm`): a submodule importing a sibling then
runs no other submodule, so the package's modules form no import cycle through it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from msm._util.lazy import lazy_package

if TYPE_CHECKING:  # the package's names; loaded on first use (msm._util.lazy)
    from msm.experiment.config import Experiment as Experiment
    from msm.experiment.load import load_experiment as load_experiment
    from msm.experiment.runner import DryRunResult as DryRunResult
    from msm.experiment.runner import ExperimentResult as ExperimentResult
    from msm.experiment.runner import dry_run_experiment as dry_run_experiment
    from msm.experiment.runner import run_experiment as run_experiment

__getattr__, __dir__, __all__ = lazy_package(__name__, __file__)
