"""Read an experiment file: the schema (:mod:`msm.experiment.config`), then the checks
that need each stage's own config (:mod:`msm.experiment.config_checks`).

It sits above both so that the schema imports neither the checks nor the stages.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from msm._util.config_io import (
    key_lines,
    problems_error,
    read_yaml_mapping,
    validation_problems,
)
from msm.errors import MsmError
from msm.experiment.config import Experiment
from msm.experiment.config_checks import check_experiment, stage_key_problems


def load_experiment(path: str | Path) -> Experiment:
    """Read and validate an experiment file; every problem is one MsmError line."""
    p = Path(path)
    data = read_yaml_mapping(p, "experiment")
    if not data:
        raise MsmError(f"{p}: empty experiment file (examples/experiments/ has complete ones)")
    lines = key_lines(p.read_text(encoding="utf-8-sig"))  # it parsed as UTF-8 above
    try:
        exp = Experiment.model_validate(data)
    except ValidationError as e:
        # the stage sections' typos too, so one run names every problem of the file
        problems = validation_problems(e, Experiment, lines=lines)
        raise problems_error(str(p), problems + stage_key_problems(data, lines)) from None
    check_experiment(exp, p, lines)
    return exp
