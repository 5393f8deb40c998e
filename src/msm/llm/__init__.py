"""Model access: one async interface to any LLM, built on Inspect AI's model API.

Names are imported on first use (as in ``msm/__init__.py``): the client pulls Inspect, and
light modules beside it (``bundled``, ``prices``, ``think``) are read without it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from msm._util.lazy import lazy_package

if TYPE_CHECKING:  # the package's names; loaded on first use (msm._util.lazy)
    from msm.llm.client import LLM as LLM
    from msm.llm.client import AccessConfig as AccessConfig
    from msm.llm.client import Completion as Completion
    from msm.llm.client import GenConfig as GenConfig
    from msm.llm.client import Message as Message
    from msm.llm.client import Structured as Structured
    from msm.llm.client import as_messages as as_messages
    from msm.llm.names import ResolvedModel as ResolvedModel
    from msm.llm.names import resolve_model as resolve_model
    from msm.llm.store import ResultStore as ResultStore
    from msm.llm.structured import JsonParser as JsonParser
    from msm.llm.structured import LineListParser as LineListParser
    from msm.llm.structured import ParseError as ParseError
    from msm.llm.structured import Parser as Parser
    from msm.llm.usage import UsageMeter as UsageMeter
    from msm.llm.usage import cost_usd as cost_usd
    from msm.llm.usage import price_per_mtok as price_per_mtok

__getattr__, __dir__, __all__ = lazy_package(__name__, __file__)
