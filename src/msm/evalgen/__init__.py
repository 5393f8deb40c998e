"""Evaluations written from a spec: spec QA questions with rubrics and behavioural choices
(a situation, a reply that follows the spec and one that breaks it), judge-checked.

Names are imported on first use (as in :mod:`msm`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from msm._util.lazy import lazy_package

if TYPE_CHECKING:  # the package's names; loaded on first use (msm._util.lazy)
    from msm.evalgen.config import EvalgenConfig as EvalgenConfig
    from msm.evalgen.run import EvalgenResult as EvalgenResult
    from msm.evalgen.run import preview_evalgen as preview_evalgen
    from msm.evalgen.run import run_evalgen as run_evalgen

__getattr__, __dir__, __all__ = lazy_package(__name__, __file__)
