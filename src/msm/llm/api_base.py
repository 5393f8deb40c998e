"""What msm's own Inspect model APIs (``msm-local``, ``fake``) share: Inspect's
constructor and ``generate`` signature, and one ``ModelOutput`` from what they produced."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from inspect_ai.model import (
    ChatCompletionChoice,
    ChatMessage,
    ChatMessageAssistant,
    GenerateConfig,
    Logprob,
    Logprobs,
    ModelAPI,
    ModelOutput,
    ModelUsage,
    StopReason,
    TopLogprob,
)
from inspect_ai.tool import ToolChoice, ToolInfo

# (token, its logprob, [(alternative, logprob), ...]) for each generated token
TokenLogprobs = Sequence[tuple[str, float, Sequence[tuple[str, float]]]]


def model_output(
    model: str,
    text: str,
    stop: StopReason,
    n_in: int,
    n_out: int,
    logprobs: TokenLogprobs | None = None,
    seconds: float | None = None,
) -> ModelOutput:
    """A one-choice output with its usage and, where given, per-token logprobs."""
    content = (
        Logprobs(
            content=[
                Logprob(
                    token=tok,
                    logprob=lp,
                    top_logprobs=[TopLogprob(token=a, logprob=v) for a, v in alts],
                )
                for tok, lp, alts in logprobs
            ]
        )
        if logprobs is not None
        else None
    )
    return ModelOutput(
        model=model,
        choices=[
            ChatCompletionChoice(
                message=ChatMessageAssistant(content=text, model=model),
                stop_reason=stop,
                logprobs=content,
            )
        ],
        usage=ModelUsage(input_tokens=n_in, output_tokens=n_out, total_tokens=n_in + n_out),
        time=seconds,
    )


class MsmModelAPI(ModelAPI):
    """Inspect's model API with the parts msm's own providers share: model args go to
    :meth:`setup`, and :meth:`answer` replaces ``generate`` (msm offers no tools)."""

    def __init__(
        self,
        model_name: str,
        base_url: str | None = None,
        api_key: str | None = None,
        config: GenerateConfig = GenerateConfig(),
        **model_args: Any,
    ) -> None:
        super().__init__(model_name, base_url, api_key, [], config)
        self.setup(model_args)

    def setup(self, model_args: dict[str, Any]) -> None:
        """Take this provider's model args (``model_args`` may be changed)."""

    async def generate(
        self,
        input: list[ChatMessage],
        tools: list[ToolInfo],
        tool_choice: ToolChoice,
        config: GenerateConfig,
    ) -> ModelOutput:
        return await self.answer(input, config)

    async def answer(self, input: list[ChatMessage], config: GenerateConfig) -> ModelOutput:
        """The reply to ``input``: each provider's own."""
        raise NotImplementedError
