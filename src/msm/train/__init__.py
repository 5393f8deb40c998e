"""Midtraining and AFT: ``msm train midtrain`` / ``msm train aft``.

Names are imported on first use (as in ``msm/__init__.py``): the engine pulls torch, and
``TrainConfig`` is read without it (the CLI builds its flags from it at start-up).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from msm._util.lazy import lazy_package

if TYPE_CHECKING:  # the package's names; loaded on first use (msm._util.lazy)
    from msm.artifacts.checkpoint import trained_model_dir as trained_model_dir
    from msm.artifacts.checkpoint import work_dir_for as work_dir_for
    from msm.train.config import TrainConfig as TrainConfig
    from msm.train.engine import TrainResult as TrainResult
    from msm.train.engine import run_train as run_train

__getattr__, __dir__, __all__ = lazy_package(__name__, __file__)
