"""A stage's identity: the settings that shape its output, and only those.

One rule per stage, used twice: by the stage itself when it claims its ``--out``
(``msm.artifacts.outdir``) and by ``msm run`` when it hashes a plan node (``msm.experiment.plan``).
A setting named here changes how fast, how cheaply or how quietly a stage runs, or how
long it may try, never what it writes; changing it in a finished study re-runs nothing.

Example::

    >>> identity("docgen", {"n_ideas": 3, "concurrency": 64})
    {'n_ideas': 3}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# how generation calls are made (parallelism, batching, retries, timeouts), not what they
# return; and aftgen's effort limits: a run that reaches its target holds the same examples
# whatever they are, and one that ended short wrote no manifest, so raising a limit continues
GENERATION = frozenset(
    {
        "concurrency",
        "batch",
        "batch_wait_s",
        "max_retries",
        "timeout_s",
        "max_rounds",
        "max_responses_factor",
    }
)
# the same weights whichever launcher, logger or save format
TRAINING = frozenset(
    {
        "launcher",
        "accelerate_config",
        "report_to",
        "save_every",
        "threads",
        "log_every",
        "save",  # the same weights, merged or as an adapter (merged again on demand)
    }
)
# how grader calls are sent and how a vLLM server is laid out over GPUs
EVALUATION = frozenset({"batch", "batch_wait_s", "tensor_parallel_size", "gpu_memory_utilization"})

NOT_IDENTITY: dict[str, frozenset[str]] = {
    "docgen": GENERATION,
    "aftgen": GENERATION,
    "evalgen": GENERATION,
    "train": TRAINING,
    "eval": EVALUATION,
}

# a plan node's kind -> the stage that makes its output
_STAGE_OF = {
    "corpus": "docgen",
    "aftdata": "aftgen",
    "midtrain": "train",
    "aft": "train",
    "eval": "eval",
}


def stage_of(kind: str) -> str:
    """The stage behind a plan node kind (``corpus`` -> ``docgen``); a stage is its own."""
    return _STAGE_OF.get(kind, kind)


def identity(stage: str, settings: Mapping[str, Any]) -> dict[str, Any]:
    """``settings`` (a config dumped to JSON types) less what does not shape the output."""
    drop = NOT_IDENTITY.get(stage_of(stage), frozenset())
    return {k: v for k, v in settings.items() if k not in drop}
