"""Asking an Inspect judge (a model role) for a verdict, with msm's re-ask policy.

A judge's reply is untrusted input. The policy is the one :meth:`msm.llm.client.LLM.
generate_structured` applies to every other structured call: up to ``max_reasks`` (2)
re-asks, each one showing the judge its last reply and what was wrong with it. A reply
that still gives no verdict is a *counted* failure, never a safe score, with one reason:

* ``refused``: stopped by the provider's content filter, or a reply that opens like a
  refusal ("I'm sorry, but I can't help ...") and holds no verdict;
* ``empty``: nothing but white space;
* ``unparseable``: text without a verdict the parser accepts (a reply cut by the token
  limit included).

Provider errors (rate limits, time-outs) are retried by Inspect itself, below this.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from inspect_ai.model import ChatMessage, ChatMessageAssistant, ChatMessageUser

T = TypeVar("T")

FAILURE_REASONS = ("refused", "empty", "unparseable")
MAX_REASKS = 2  # LLM.generate_structured's default: three attempts in all
# same words as LLM.generate_structured, so judges and generators are re-asked alike
_REFUSED = "This is a harmless request; please answer it."
_EMPTY = "Your reply was empty."
_CUT = "Your reply was cut off by the length limit. Answer again, shorter."
_REFUSAL_START = re.compile(
    r"^\W*(?:I['’]m sorry|I am sorry|I apologi[sz]e|I can(?:no|['’])t (?:help|assist|comply|"
    r"provide|do that)|I won['’]t|I will not|I am unable|I['’]m unable|I['’]m not able)",
    re.I,
)


@dataclass(frozen=True)
class JudgeResult(Generic[T]):
    """The parsed verdict (None on failure), the last reply, attempts made, failure reason."""

    value: T | None
    reply: str
    attempts: int
    failure: str | None = None
    error: str | None = None  # the parser's last message, for the log

    @property
    def ok(self) -> bool:
        return self.failure is None

    def record(self, verdict: Any = None) -> dict[str, Any]:
        """What a scorer keeps in its metadata about this judgement (JSON-safe)."""
        return {
            "verdict": verdict,
            "failure": self.failure,
            "attempts": self.attempts,
            "error": self.error,
        }


def looks_like_refusal(text: str) -> bool:
    """A reply that opens like a refusal (only consulted once it has proved unparseable)."""
    return bool(_REFUSAL_START.search(text[:200]))


async def ask_judge(
    model: Any,
    messages: Sequence[ChatMessage],
    parse: Callable[[str], T],
    instructions: str,
    max_reasks: int = MAX_REASKS,
) -> JudgeResult[T]:
    """Generate with ``model`` (an Inspect ``Model``) and ``parse`` the reply.

    ``parse`` raises ValueError on a reply without a verdict; its message is shown to the
    judge when it is re-asked, followed by ``instructions`` (how to answer). Returns the
    first parsed verdict, or the failure of the last attempt.
    """
    msgs = list(messages)
    reason, error, text = "unparseable", "", ""
    for attempt in range(max_reasks + 1):
        out = await model.generate(msgs)
        text = out.completion or ""
        refused = out.stop_reason == "content_filter"
        problem = ""
        if refused:
            reason, error, problem = "refused", "the judge refused (content filter)", _REFUSED
        elif not text.strip():
            reason, error, problem = "empty", "the judge's reply was empty", _EMPTY
        else:
            try:
                return JudgeResult(parse(text), text, attempt + 1)
            except ValueError as e:
                error = " ".join(str(e).split())[:200]
                if looks_like_refusal(text):
                    reason, problem = "refused", _REFUSED
                elif out.stop_reason == "max_tokens":
                    reason, problem = "unparseable", _CUT
                else:
                    reason, problem = "unparseable", f"Your reply could not be used: {error}."
        msgs = [
            *msgs,
            ChatMessageAssistant(content=text or "(no reply)"),  # providers refuse empty turns
            ChatMessageUser(content=f"{problem} {instructions}"),
        ]
    return JudgeResult(None, text, max_reasks + 1, reason, error)
