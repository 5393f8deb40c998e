"""How long an agentic answer may run, for each model.

The paper's agentic answers run to 4096 tokens: a scratchpad, then the e-mails and tool
calls that carry the harmful action. A cut answer rarely reaches the action, so a shorter
limit biases misalignment rates down. Every model gets 4096 on every engine (API, msm's
local engine, vLLM) except the bundled SmolLM2-135M and the checkpoints trained from it,
which get 512: on a laptop CPU they cannot afford paper-length answers, and a 135M model's
answers rarely get that long. ``--max-tokens`` (``eval.max_tokens``) overrides both.

Example::

    >>> agentic_max_tokens("anthropic/claude-sonnet-4-6", None)
    4096
    >>> agentic_max_tokens("embedded", None)
    512
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from msm.artifacts.manifest import read_manifest
from msm.llm.bundled import EMBEDDED_NAME
from msm.llm.names import resolve_model
from msm.llm.refs import served_by_vllm, vllm_served_name

AGENTIC_MAX_TOKENS = 4096  # the paper's: room for scratchpad reasoning and the e-mails
BUNDLED_MAX_TOKENS = 512  # the bundled 135M model and its fine-tunes, on a CPU
_MAX_DEPTH = 16  # checkpoint lineage followed at most this far (midtrain -> aft -> ...)


def agentic_max_tokens(model: str, requested: int | None) -> int:
    """The answer limit for ``model``: ``requested`` when given, else 512 for the bundled
    model and its fine-tunes, else 4096."""
    if requested is not None:
        return requested
    return BUNDLED_MAX_TOKENS if is_bundled_model(model) else AGENTIC_MAX_TOKENS


def is_bundled_model(model: str) -> bool:
    """Whether ``model`` is the bundled SmolLM2-135M (``embedded``) or an msm checkpoint
    whose training started from it (followed through midtraining -> AFT lineage)."""
    if model == EMBEDDED_NAME:
        return True
    try:
        resolved = resolve_model(model, check=False)
    except Exception:  # an unknown name is the eval's to report, in its own words
        return False
    if resolved.provider == "embedded":
        return True
    folder = (resolved.model_args or {}).get("model_path")
    if not isinstance(folder, str):
        name = vllm_served_name(model) if served_by_vllm(model) else None
        folder = name.split(":", 1)[0] if name else None
    if not folder:
        return False
    return _from_bundled(_checkpoint_manifest(Path(folder)), 0)


def _checkpoint_manifest(folder: Path) -> dict[str, Any] | None:
    for p in (folder, folder.parent):
        try:
            man = read_manifest(p)
        except Exception:
            man = None
        if man and str(man.get("stage", "")).startswith("train"):
            return man
    return None


def _from_bundled(man: dict[str, Any] | None, depth: int) -> bool:
    if not man or depth > _MAX_DEPTH:
        return False
    if man.get("base") == EMBEDDED_NAME:
        return True
    lineage = man.get("base_lineage")
    return _from_bundled(lineage if isinstance(lineage, dict) else None, depth + 1)
