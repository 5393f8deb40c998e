"""Configuration of ``msm aftgen``."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from msm.config_io import GenerationConfig


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
    n_situations: int = Field(default=3, ge=1, le=100, description="per unit per round")
    n_queries: int = Field(default=3, ge=1, le=100, description="per situation")
    max_rounds: int = Field(default=4, ge=1, le=50, description="generation rounds at most")
    dedup_threshold: float = Field(
        default=0.9,
        gt=0.0,
        le=1.0,
        description="near-duplicate similarity above which a query is dropped",
    )
    max_tokens_response: int = Field(default=900, ge=16, description="token limit of a response")
