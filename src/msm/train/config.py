"""Configuration of ``msm train midtrain`` and ``msm train aft``.

Defaults are the paper's recipe: LoRA r=64, alpha=128 on every attention and
MLP projection, lr 1e-4, one epoch, cosine schedule, 5% warmup, weight decay
0.01. Every field can come from YAML (``--config``) or a flag; flags win.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from msm.errors import MsmError

# fields that don't change the trained weights (so a rerun may differ in them)
_NOT_HASHED = {"launcher", "accelerate_config", "report_to", "save_every", "threads", "log_every"}


class TrainConfig(BaseModel):
    """Settings of one training run."""

    model_config = ConfigDict(extra="forbid")

    stage: Literal["midtrain", "aft"]
    base: str
    data: str
    mix: str | None = None
    mix_ratio: float = Field(default=0.0, ge=0.0, le=100.0)
    method: Literal["lora", "full"] = "lora"
    fresh_adapter: bool = False
    adapter: str | None = None
    lora_r: int = Field(default=64, ge=1, le=4096)
    lora_alpha: float = Field(default=128.0, gt=0)
    lora_dropout: float = Field(default=0.0, ge=0.0, lt=1.0)
    target_modules: list[str] | Literal["all-linear"] = "all-linear"
    learning_rate: float = Field(default=1e-4, gt=0.0, le=1.0)
    epochs: float = Field(default=1.0, gt=0.0, le=1000.0)
    scheduler: Literal["cosine", "linear", "constant"] = "cosine"
    warmup_ratio: float = Field(default=0.05, ge=0.0, le=1.0)
    weight_decay: float = Field(default=0.01, ge=0.0)
    max_grad_norm: float = Field(default=1.0, ge=0.0)
    max_length: int = Field(default=1024, ge=8, le=1_048_576)
    micro_batch_size: int = Field(default=4, ge=1, le=100_000)
    grad_accum: int = Field(default=1, ge=1, le=100_000)
    max_steps: int | None = Field(default=None, ge=1)
    max_tokens: int | None = Field(default=None, ge=1)
    seed: int = 0
    precision: Literal["auto", "fp32", "bf16"] = "auto"
    system_prompt: str | None = None
    save_every: int | None = Field(default=None, ge=1, description="steps; default ~10 per run")
    log_every: int = Field(default=1, ge=1)
    report_to: list[Literal["tensorboard", "wandb", "mlflow"]] = Field(default_factory=list)
    merge: bool = True
    threads: int | None = Field(default=None, ge=1, le=4096)
    launcher: Literal["none", "accelerate"] = "none"
    accelerate_config: str | None = None

    @model_validator(mode="after")
    def _check(self) -> TrainConfig:
        if self.stage == "midtrain" and self.system_prompt:
            raise ValueError("system_prompt applies to AFT only")
        if self.launcher == "accelerate" and not self.accelerate_config:
            raise ValueError("--launcher accelerate needs --accelerate-config FILE")
        if self.method == "full" and (self.fresh_adapter or self.adapter):
            raise ValueError("--method full trains every weight; adapter options don't apply")
        return self

    def weights_hash(self) -> str:
        """Hash of everything that shapes the weights (a rerun resumes only if equal)."""
        d = self.model_dump(exclude=_NOT_HASHED)
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]


def check_report_to(names: Sequence[str]) -> None:
    """``report_to`` backends need their packages; say so up front."""
    import importlib.util

    need = {
        "tensorboard": ("tensorboard", "tensorboardX"),
        "wandb": ("wandb",),
        "mlflow": ("mlflow",),
    }
    for name in names:
        if not any(importlib.util.find_spec(m) for m in need[name]):
            raise MsmError(f"report_to {name} needs the '{need[name][0]}' package (pip install it)")
