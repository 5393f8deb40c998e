"""Configuration of ``msm aftgen``."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from msm._util.config_io import GenerationConfig


class AftgenConfig(GenerationConfig):
    """Settings of one aftgen run (chat fields are ignored for preference data)."""

    kind: Literal["chat", "preference"] = Field(
        default="chat",
        description="chat: spec-grounded answers; preference: the spec's preference pairs",
    )
    n: int = Field(ge=1, le=10_000_000, description="examples to keep")
    mix: str | None = Field(default=None, description="instruction-tuning JSONL to mix in")
    mix_ratio: float = Field(
        default=0.0, ge=0.0, le=100.0, description="mix-in examples per AFT example (0.25 = +25%)"
    )
    style: Literal["value", "rule", "deliberative"] = Field(
        default="value",
        description="value: reasons from the spec's values; rule: cites the rule; "
        "deliberative: quotes the spec",
    )
    extra_criterion: str | None = Field(
        default=None, description="an extra criterion for the judge"
    )
    n_situations: int = Field(
        default=1,
        ge=1,
        le=100,
        description="new situations per spec unit in a round that needs any, at least "
        "(rounds ask for as many as what is still missing needs)",
    )
    n_queries: int = Field(default=3, ge=1, le=100, description="user messages per situation")
    max_rounds: int = Field(
        default=10,
        ge=1,
        le=1000,
        description="generation rounds at most; each round asks for what is still missing "
        "(divided by the keep rate so far), so most runs need two or three",
    )
    max_responses_factor: float = Field(
        default=3.0,
        ge=1.0,
        le=100.0,
        description="responses generated at most this many times --n (bounds the cost "
        "when few pass the checks); a run that reaches a limit short of --n fails",
    )
    dedup_threshold: float = Field(
        default=0.9,
        gt=0.0,
        le=1.0,
        description="near-duplicate similarity above which a query is dropped",
    )
    max_tokens_response: int = Field(default=900, ge=16, description="token limit of a response")
