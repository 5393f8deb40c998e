"""Midtraining and AFT: ``msm train midtrain`` / ``msm train aft``.

Names are imported on first use (as in ``msm/__init__.py``): the engine pulls torch, and
``TrainConfig`` is read without it (the CLI builds its flags from it at start-up).
"""

from __future__ import annotations

from msm._util.lazy import lazy_names

_PUBLIC = {
    "TrainConfig": "msm.train.config",
    "TrainResult": "msm.train.engine",
    "run_train": "msm.train.engine",
    "trained_model_dir": "msm.artifacts.checkpoint",
    "work_dir_for": "msm.artifacts.checkpoint",
}

__all__ = sorted(_PUBLIC)


__getattr__, __dir__ = lazy_names(__name__, _PUBLIC)
