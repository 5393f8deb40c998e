"""Configuration of ``msm aftgen``."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from msm.config_io import ContextTokens, LiteralName


class AftgenConfig(BaseModel):
    """Settings of one aftgen run (chat fields are ignored for preference data)."""

    model_config = ConfigDict(extra="forbid")

    spec: str = Field(description="spec file (Markdown/text) or builtin:<name>")
    kind: Literal["chat", "preference"] = Field(
        default="chat",
        description="chat: spec-grounded answers; preference: the spec's preference pairs",
    )
    model: str = Field(default="embedded", description="generator model (chat)")
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
    judge: str | None = Field(default=None, description="judge model (chat; fails closed)")
    extra_criterion: str | None = Field(
        default=None, description="an extra criterion for the judge"
    )
    model_name: str = Field(
        default="the assistant", description="the model's name (fills {model_name} in the spec)"
    )
    provider_name: str = Field(
        default="its developer", description="its developer (fills {provider_name})"
    )
    literal_name: LiteralName = None
    n_situations: int = Field(default=3, ge=1, le=100, description="per unit per round")
    n_queries: int = Field(default=3, ge=1, le=100, description="per situation")
    max_rounds: int = Field(default=4, ge=1, le=50, description="generation rounds at most")
    dedup_threshold: float = Field(
        default=0.9,
        gt=0.0,
        le=1.0,
        description="near-duplicate similarity above which a query is dropped",
    )
    context_tokens: ContextTokens = 4000
    max_tokens_list: int = Field(
        default=400, ge=16, description="token limit of a situation or query list"
    )
    max_tokens_response: int = Field(default=900, ge=16, description="token limit of a response")
    max_section_tokens: int = Field(
        default=1500, ge=100, description="longer sections are split into parts of this size"
    )
    temperature: float = Field(default=0.8, ge=0.0, description="generator sampling temperature")
    seed: int = Field(default=0, description="seed of every sampled choice and call")
    concurrency: int = Field(default=16, ge=1, le=1024, description="LLM calls in flight at once")
    max_retries: int = Field(default=4, ge=0, description="retries of a failed call")
    timeout_s: float = Field(default=300.0, gt=0, description="seconds per call")
    max_reasks: int = Field(
        default=2, ge=0, le=10, description="re-asks of an unparsable list reply"
    )
    batch: bool = Field(default=False, description="use the provider's batch API (via Inspect)")
