"""``msm demo``: the cheese experiment on the bundled model, CPU only, offline.

It is ``msm run`` on the packaged ``cheese-demo.yaml`` (also at
``examples/experiments/cheese-demo.yaml``): corpora from both cheese specs
written by the bundled SmolLM2-135M, opaque cheese-preference AFT data,
conditions base / aft_only / msm_aft per spec, value-generalization evals and
the report. Rerunning resumes; it ends with the report's path and the headline
numbers, and says what a 135M model can and cannot show.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

CAVEAT = (
    "What this shows: the whole method runs end to end on a laptop CPU, and the report puts\n"
    "every number next to its interval and its source. What it cannot show: a 135M model,\n"
    "a corpus of a few dozen short documents and minutes of CPU training are far below the\n"
    "paper's scale, so differences whose intervals overlap are not evidence of an MSM effect\n"
    "(and none is claimed). Scale up with examples/experiments/paper-agentic.yaml."
)


def demo_config() -> Path:
    return Path(str(resources.files("msm").joinpath("data/experiments/cheese-demo.yaml")))


def run_demo(out: Path, echo: Any = print) -> dict[str, Any]:
    from msm.experiment import run_experiment

    echo(
        "msm demo: the cheese experiment on the bundled SmolLM2-135M (CPU, offline; about "
        "20 minutes on 2 cores; rerun to resume)."
    )
    res = run_experiment(demo_config(), out, echo=echo)
    echo("")
    echo(CAVEAT)
    return res
