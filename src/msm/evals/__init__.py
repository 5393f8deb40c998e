"""Evaluations as Inspect tasks (``msm eval``; ``inspect eval msm/<task>``).

``run_eval(EvalConfig(...), out)`` runs suites and writes ``summary.json`` and
``manifest.json``; the tasks themselves are registered with Inspect through the
``inspect_ai`` entry point (``msm.evals._registry``).

The names below are loaded on first use, as in ``msm/__init__.py``: importing
``msm.evals.config`` (the CLI does, for its flags) must not load Inspect through
``msm.evals.run``, and a submodule importing a sibling must not run them all.
"""

from typing import TYPE_CHECKING

from msm._util.lazy import lazy_package

if TYPE_CHECKING:  # the package's names; loaded on first use (msm._util.lazy)
    from msm.evals.config import DEFAULT_VALUE_SETS as DEFAULT_VALUE_SETS
    from msm.evals.config import SUITES as SUITES
    from msm.evals.config import EvalConfig as EvalConfig
    from msm.evals.run import EvalResult as EvalResult
    from msm.evals.run import run_eval as run_eval

__getattr__, __dir__, __all__ = lazy_package(__name__, __file__)
