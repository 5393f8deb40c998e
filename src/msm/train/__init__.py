"""Midtraining and AFT: ``msm train midtrain`` / ``msm train aft``."""

from msm.artifacts.checkpoint import trained_model_dir, work_dir_for
from msm.train.config import TrainConfig
from msm.train.engine import run_train

__all__ = ["TrainConfig", "run_train", "trained_model_dir", "work_dir_for"]
