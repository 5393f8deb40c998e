"""Configuration of ``msm aftgen``."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from msm.config_io import ContextTokens, LiteralName


class AftgenConfig(BaseModel):
    """Settings of one aftgen run (chat fields are ignored for preference data)."""

    model_config = ConfigDict(extra="forbid")

    spec: str
    kind: Literal["chat", "preference"] = "chat"
    model: str = "embedded"
    n: int = Field(ge=1, le=10_000_000)
    mix: str | None = None
    mix_ratio: float = Field(default=0.0, ge=0.0, le=100.0)
    style: Literal["value", "rule", "deliberative"] = "value"
    judge: str | None = None
    extra_criterion: str | None = None
    model_name: str = "the assistant"
    provider_name: str = "its developer"
    literal_name: LiteralName = None
    n_situations: int = Field(default=3, ge=1, le=100, description="per unit per round")
    n_queries: int = Field(default=3, ge=1, le=100, description="per situation")
    max_rounds: int = Field(default=4, ge=1, le=50)
    dedup_threshold: float = Field(default=0.9, gt=0.0, le=1.0)
    context_tokens: ContextTokens = 4000
    max_tokens_list: int = Field(default=400, ge=16)
    max_tokens_response: int = Field(default=900, ge=16)
    max_section_tokens: int = Field(default=1500, ge=100)
    temperature: float = Field(default=0.8, ge=0.0)
    seed: int = 0
    concurrency: int = Field(default=16, ge=1, le=1024)
    max_retries: int = Field(default=4, ge=0)
    timeout_s: float = Field(default=300.0, gt=0)
    max_reasks: int = Field(default=2, ge=0, le=10)
    batch: bool = False
