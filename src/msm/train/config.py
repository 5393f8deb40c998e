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

from msm.artifacts.identity import TRAINING
from msm.errors import MsmError

# fields that don't change the trained weights (so a rerun may differ in them)
NOT_HASHED = set(TRAINING)

# ``save: auto``: a LoRA run on a base this large keeps only its adapter. A merged copy of
# a 3B model is ~6 GB in bf16 (~64 GB at 32B); the adapter is a few hundred MB at most,
# and the merged model can always be rebuilt from it (msm.train.checkpoint.merge_adapter).
LARGE_MODEL_PARAMS = 3_000_000_000
SaveMode = Literal["merged", "adapter", "full"]


class TrainConfig(BaseModel):
    """Settings of one training run."""

    model_config = ConfigDict(extra="forbid")

    stage: Literal["midtrain", "aft"] = Field(
        description="midtrain (documents) or aft (chat or preference data)"
    )
    base: str = Field(description="embedded, a model folder, a cached hub id, or an msm checkpoint")
    data: str = Field(description="documents.jsonl (midtrain) or cot.jsonl / stripped.jsonl (aft)")
    mix: str | None = Field(default=None, description="JSONL to mix in")
    mix_ratio: float = Field(default=0.0, ge=0.0, le=100.0, description="mix rows per data row")
    method: Literal["lora", "full"] = Field(
        default="lora", description="lora (the paper) or full fine-tuning"
    )
    fresh_adapter: bool = Field(
        default=False,
        description="a new LoRA on the merged checkpoint instead of continuing its adapter",
    )
    adapter: str | None = Field(default=None, description="a LoRA adapter folder to keep training")
    lora_r: int = Field(default=64, ge=1, le=4096, description="LoRA rank")
    lora_alpha: float = Field(default=128.0, gt=0, description="LoRA alpha")
    lora_dropout: float = Field(default=0.0, ge=0.0, lt=1.0, description="LoRA dropout")
    target_modules: list[str] | Literal["all-linear"] = "all-linear"
    learning_rate: float = Field(default=1e-4, gt=0.0, le=1.0, description="learning rate")
    epochs: float = Field(default=1.0, gt=0.0, le=1000.0, description="passes over the data")
    scheduler: Literal["cosine", "linear", "constant"] = Field(
        default="cosine", description="learning-rate schedule"
    )
    warmup_ratio: float = Field(
        default=0.05, ge=0.0, le=1.0, description="share of steps warming up"
    )
    weight_decay: float = Field(default=0.01, ge=0.0, description="AdamW weight decay")
    max_grad_norm: float = Field(default=1.0, ge=0.0, description="gradient clipping norm")
    max_length: int = Field(default=1024, ge=8, le=1_048_576, description="tokens per sequence")
    micro_batch_size: int = Field(
        default=4, ge=1, le=100_000, description="rows per process per micro-step"
    )
    grad_accum: int = Field(
        default=1, ge=1, le=100_000, description="micro-steps per optimizer step"
    )
    max_steps: int | None = Field(
        default=None, ge=1, description="stop after this many optimizer steps"
    )
    max_tokens: int | None = Field(
        default=None, ge=1, description="stop after this many training tokens"
    )
    seed: int = Field(default=0, description="seed of data order and initialisation")
    precision: Literal["auto", "fp32", "bf16"] = Field(
        default="auto", description="auto (bf16 where fast), fp32 or bf16"
    )
    system_prompt: str | None = Field(
        default=None, description="AFT: a system prompt for examples without one"
    )
    save_every: int | None = Field(
        default=None,
        ge=1,
        description="steps between checkpoints; default: about ten per run, none within a "
        "minute of the last",
    )
    log_every: int = Field(default=1, ge=1, description="steps between log lines")
    report_to: list[Literal["tensorboard", "wandb", "mlflow"]] = Field(
        default_factory=list, description="experiment trackers to log to"
    )
    merge: bool = Field(default=True, description="older spelling: merge false is save adapter")
    save: Literal["auto", "merged", "adapter"] = Field(
        default="auto",
        description="LoRA: merged (adapter/ and a merged model/), adapter (adapter/ only; "
        "merged on demand), auto (adapter only from 3B parameters; msm run also at scale)",
    )
    threads: int | None = Field(
        default=None,
        ge=1,
        le=4096,
        description="CPU threads (default: all cores, at most OMP_NUM_THREADS)",
    )
    launcher: Literal["none", "accelerate"] = Field(
        default="none", description="none (this process) or accelerate (multi-GPU)"
    )
    accelerate_config: str | None = Field(
        default=None, description="accelerate config YAML (multi-GPU etc.)"
    )

    @model_validator(mode="after")
    def _check(self) -> TrainConfig:
        if self.stage == "midtrain" and self.system_prompt:
            raise ValueError("system_prompt applies to AFT only")
        if self.launcher == "accelerate" and not self.accelerate_config:
            raise ValueError("--launcher accelerate needs --accelerate-config FILE")
        if self.method == "full" and (self.fresh_adapter or self.adapter):
            raise ValueError("--method full trains every weight; adapter options don't apply")
        if not self.merge and self.save == "merged":
            raise ValueError("--no-merge contradicts --save merged: use --save adapter")
        return self

    def save_mode(self, base_params: int | None) -> SaveMode:
        """What training writes: ``full`` (full fine-tuning: ``model/``), ``merged``
        (``adapter/`` and a merged ``model/``) or ``adapter`` (``adapter/`` only).

        ``auto`` keeps only the adapter when the base has at least ``LARGE_MODEL_PARAMS``
        parameters (``base_params`` None: unknown, so merged, as before ``save`` existed).
        """
        if self.method == "full":
            return "full"
        if not self.merge or self.save == "adapter":
            return "adapter"
        if self.save == "merged":
            return "merged"
        large = base_params is not None and base_params >= LARGE_MODEL_PARAMS
        return "adapter" if large else "merged"

    def weights_hash(self) -> str:
        """Hash of everything that shapes the weights (a rerun resumes only if equal)."""
        d = self.model_dump(exclude=NOT_HASHED)
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
