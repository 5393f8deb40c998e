"""msm: Model Spec Midtraining, end to end.

The public Python API: each stage is a typed config plus a function over files,
the same objects the CLI builds from flags and YAML::

    from msm import DocgenConfig, run_docgen
    run_docgen(DocgenConfig(spec="builtin:cheese_pro_america", model="fake"), "runs/corpus")

Names are imported on first use, so ``import msm`` stays light (the CLI's
``--help`` does not pay for torch or Inspect).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_PUBLIC = {
    "load_spec": "msm.spec.core",
    "DocgenConfig": "msm.docgen",
    "run_docgen": "msm.docgen",
    "AftgenConfig": "msm.aftgen",
    "run_aftgen": "msm.aftgen",
    "make_subsets": "msm.aftgen",
    "TrainConfig": "msm.train",
    "run_train": "msm.train",
    "EvalConfig": "msm.evals",
    "run_eval": "msm.evals",
    "Experiment": "msm.experiment",
    "load_experiment": "msm.experiment",
    "run_experiment": "msm.experiment",
    "build_report": "msm.report",
    "LLM": "msm.llm",
    "GenConfig": "msm.llm",
    "AccessConfig": "msm.llm",
    "MsmError": "msm.errors",
}

__all__ = ["__version__", *sorted(_PUBLIC)]


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'msm' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_PUBLIC))
