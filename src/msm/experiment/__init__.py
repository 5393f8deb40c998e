"""Whole MSM studies from one YAML file: ``msm run`` (see :mod:`msm.experiment.runner`).

Names are imported on first use (as in :mod:`msm`): a submodule importing a sibling then
runs no other submodule, so the package's modules form no import cycle through it.
"""

from __future__ import annotations

from msm._util.lazy import lazy_names

_PUBLIC = {
    "DryRunResult": "msm.experiment.runner",
    "Experiment": "msm.experiment.config",
    "ExperimentResult": "msm.experiment.runner",
    "load_experiment": "msm.experiment.load",
    "run_experiment": "msm.experiment.runner",
}

__all__ = sorted(_PUBLIC)


__getattr__, __dir__ = lazy_names(__name__, _PUBLIC)
