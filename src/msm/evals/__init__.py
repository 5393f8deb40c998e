"""Evaluations as Inspect tasks (``msm eval``; ``inspect eval msm/<task>``).

``run_eval(EvalConfig(...), out)`` runs suites and writes ``summary.json`` and
``manifest.json``; the tasks themselves are registered with Inspect through the
``inspect_ai`` entry point (``msm.evals._registry``).

The names below are loaded on first use, as in ``msm/__init__.py``: importing
``msm.evals.config`` (the CLI does, for its flags) must not load Inspect through
``msm.evals.run``, and a submodule importing a sibling must not run them all.
"""

from msm._util.lazy import lazy_names

_PUBLIC = {
    "DEFAULT_VALUE_SETS": "msm.evals.config",
    "SUITES": "msm.evals.config",
    "EvalConfig": "msm.evals.config",
    "EvalResult": "msm.evals.run",
    "run_eval": "msm.evals.run",
}

__all__ = sorted(_PUBLIC)


__getattr__, __dir__ = lazy_names(__name__, _PUBLIC)
