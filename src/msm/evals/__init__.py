"""Evaluations as Inspect tasks (``msm eval``; ``inspect eval msm/<task>``).

``run_eval(EvalConfig(...), out)`` runs suites and writes ``summary.json`` and
``manifest.json``; the tasks themselves are registered with Inspect through the
``inspect_ai`` entry point (``msm.evals._registry``).
"""

from msm.evals.config import DEFAULT_VALUE_SETS, SUITES, EvalConfig
from msm.evals.run import run_eval

__all__ = ["DEFAULT_VALUE_SETS", "SUITES", "EvalConfig", "run_eval"]
