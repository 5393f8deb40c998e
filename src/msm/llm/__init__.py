"""Model access: one async interface to any LLM, built on Inspect AI's model API.

Names are imported on first use (as in ``msm/__init__.py``): the client pulls Inspect, and
light modules beside it (``bundled``, ``prices``, ``think``) are read without it.
"""

from __future__ import annotations

from msm._util.lazy import lazy_names

_PUBLIC = {
    "LLM": "msm.llm.client",
    "AccessConfig": "msm.llm.client",
    "Completion": "msm.llm.client",
    "GenConfig": "msm.llm.client",
    "Message": "msm.llm.client",
    "Structured": "msm.llm.client",
    "as_messages": "msm.llm.client",
    "ResolvedModel": "msm.llm.names",
    "resolve_model": "msm.llm.names",
    "ResultStore": "msm.llm.store",
    "JsonParser": "msm.llm.structured",
    "LineListParser": "msm.llm.structured",
    "ParseError": "msm.llm.structured",
    "Parser": "msm.llm.structured",
    "UsageMeter": "msm.llm.usage",
    "cost_usd": "msm.llm.usage",
    "price_per_mtok": "msm.llm.usage",
}

__all__ = sorted(_PUBLIC)


__getattr__, __dir__ = lazy_names(__name__, _PUBLIC)
