"""msm: Model Spec Midtraining, end to end.

The public Python API: each stage is a typed config plus a function over files,
the same objects the CLI builds from flags and YAML::

    from msm import DocgenConfig, run_docgen
    run_docgen(DocgenConfig(spec="builtin:cheese_pro_america", model="fake"), "runs/corpus")

Names are imported on first use, so ``import msm`` stays light (the CLI's
``--help`` does not pay for torch or Inspect).
"""

from __future__ import annotations

__version__ = "0.1.0"

from msm._util.lazy import lazy_names

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


__getattr__, __dir__ = lazy_names(__name__, _PUBLIC)
