"""Model access: one async interface to any LLM, built on Inspect AI's model API."""

from msm.llm.client import (
    LLM,
    AccessConfig,
    Completion,
    GenConfig,
    Message,
    Structured,
    as_messages,
)
from msm.llm.names import ResolvedModel, resolve_model
from msm.llm.store import ResultStore
from msm.llm.structured import JsonParser, LineListParser, ParseError, Parser
from msm.llm.usage import UsageMeter, cost_usd, price_per_mtok

__all__ = [
    "LLM",
    "AccessConfig",
    "Completion",
    "GenConfig",
    "JsonParser",
    "LineListParser",
    "Message",
    "ParseError",
    "Parser",
    "ResolvedModel",
    "ResultStore",
    "Structured",
    "UsageMeter",
    "as_messages",
    "cost_usd",
    "price_per_mtok",
    "resolve_model",
]
