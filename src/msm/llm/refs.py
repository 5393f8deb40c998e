"""Model names read as text, with no provider loaded: what settings checks need at start-up
(``msm.llm.names`` resolves names fully and pulls Inspect)."""

from __future__ import annotations

VLLM_PREFIX = "vllm/"


def served_by_vllm(name: str) -> bool:
    """Whether ``name`` is a ``vllm/...`` model (Inspect's vLLM provider)."""
    return name.startswith(VLLM_PREFIX)


def vllm_served_name(name: str) -> str:
    """What vLLM serves for ``vllm/<model>``: the folder or hub id after the prefix."""
    return name.removeprefix(VLLM_PREFIX)
