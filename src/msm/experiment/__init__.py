"""Whole MSM studies from one YAML file: ``msm run`` (see :mod:`msm.experiment.runner`)."""

from msm.experiment.config import Experiment, load_experiment
from msm.experiment.runner import run_experiment

__all__ = ["Experiment", "load_experiment", "run_experiment"]
