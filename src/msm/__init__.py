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

from typing import TYPE_CHECKING

from msm._util.lazy import lazy_package

if TYPE_CHECKING:  # the package's names; loaded on first use (msm._util.lazy)
    from msm.aftgen import AftgenConfig as AftgenConfig
    from msm.aftgen import make_subsets as make_subsets
    from msm.aftgen import run_aftgen as run_aftgen
    from msm.docgen import DocgenConfig as DocgenConfig
    from msm.docgen import run_docgen as run_docgen
    from msm.errors import MsmError as MsmError
    from msm.evals import EvalConfig as EvalConfig
    from msm.evals import run_eval as run_eval
    from msm.experiment import Experiment as Experiment
    from msm.experiment import load_experiment as load_experiment
    from msm.experiment import run_experiment as run_experiment
    from msm.llm import LLM as LLM
    from msm.llm import AccessConfig as AccessConfig
    from msm.llm import GenConfig as GenConfig
    from msm.report import build_report as build_report
    from msm.spec.core import load_spec as load_spec
    from msm.train import TrainConfig as TrainConfig
    from msm.train import run_train as run_train

__getattr__, __dir__, _names = lazy_package(__name__, __file__)
__all__ = ["__version__", *_names]
