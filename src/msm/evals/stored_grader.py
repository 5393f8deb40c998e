"""Grader roles through msm's LLM client: batch mode and a call store for Inspect roles.

Inspect's scorers reach their graders through ``model_roles``. With ``--batch`` each
grader role (``grader``, ``grader2``; the reasoning judge and spec QA grading use
``grader``) becomes an Inspect ``Model`` over :class:`StoredGraderAPI`, which sends
every call through :class:`msm.llm.LLM`: the provider's batch API with msm's wait and
fallback, and every answer stored in ``OUT/.msm/grader.sqlite`` (keyed by content) the
moment it arrives, so a killed eval reruns without paying for those answers again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from inspect_ai.model import GenerateConfig, ModelAPI, ModelOutput, modelapi

from msm.llm import LLM, AccessConfig, GenConfig, Message, ResultStore
from msm.llm.batch import IN_FLIGHT

GRADER_STORE = "grader.sqlite"
GRADER_MAX_TOKENS = 4096  # a grader call's token limit when the scorer sets none


@modelapi(name="msm-stored")
class StoredGraderAPI(ModelAPI):
    """An Inspect model API delegating to an ``msm.llm.LLM`` (built by :func:`grader_model`)."""

    def __init__(self, model_name: str, llm: Any = None, **kwargs: Any) -> None:
        super().__init__(model_name=model_name, config=GenerateConfig())
        self.llm = llm

    async def generate(
        self, input: list[Any], tools: list[Any], tool_choice: Any, config: GenerateConfig
    ) -> ModelOutput:
        from inspect_ai.model import ModelUsage

        msgs = [Message(role=m.role, content=m.text) for m in input]
        over: dict[str, Any] = {}
        if config.max_tokens is not None:
            over["max_tokens"] = config.max_tokens
        if config.temperature is not None:
            over["temperature"] = config.temperature
        comp = await self.llm.generate(msgs, allow_truncated=True, allow_refused=True, **over)
        stop = {"max_tokens": "max_tokens", "content_filter": "content_filter"}
        out = ModelOutput.from_content(
            model=self.llm.name, content=comp.text, stop_reason=stop.get(comp.stop_reason, "stop")
        )
        out.usage = ModelUsage(
            input_tokens=comp.input_tokens,
            output_tokens=comp.output_tokens,
            total_tokens=comp.input_tokens + comp.output_tokens,
        )
        return out

    def should_retry(self, ex: BaseException) -> bool:
        return False  # the LLM client has retried already

    def connection_key(self) -> str:
        return f"msm-stored:{self.llm.name}:{self.llm.stage}"


def grader_model(name: str, role: str, store: Any, wait_s: float) -> tuple[Any, Any]:
    """An Inspect ``Model`` for grader role ``role`` in batch mode, and its ``LLM``."""
    from inspect_ai.model import Model

    llm = LLM(
        name,
        gen=GenConfig(max_tokens=GRADER_MAX_TOKENS),
        access=AccessConfig(batch=True, batch_wait_s=wait_s),
        store=store,
        stage=role,
    )
    api = StoredGraderAPI(name, llm=llm)
    return Model(api, GenerateConfig(max_connections=IN_FLIGHT)), llm


def grader_store(out: Path) -> Any:
    """The eval's grader call store, ``OUT/.msm/grader.sqlite``."""
    return ResultStore(out / ".msm" / GRADER_STORE)
