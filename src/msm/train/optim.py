"""The optimizer and its learning-rate schedule, built together so the schedule's shape
(warm-up, then constant, linear or cosine decay) sits beside the optimizer it drives."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from msm.errors import MsmError
from msm.train.config import TrainConfig


def lr_lambda(cfg: TrainConfig, steps: int) -> Callable[[int], float]:
    """The LR multiplier per step: linear warm-up over ``warmup_ratio`` of ``steps``, then
    ``cfg.scheduler``'s decay (for ``torch.optim.lr_scheduler.LambdaLR``)."""
    warm = math.ceil(cfg.warmup_ratio * steps)

    def f(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        if cfg.scheduler == "constant":
            return 1.0
        frac = (step - warm) / max(1, steps - warm)
        if cfg.scheduler == "linear":
            return max(0.0, 1.0 - frac)
        return 0.5 * (1.0 + math.cos(math.pi * frac))

    return f


def build_optimizer(
    acc: Any, cfg: TrainConfig, model: Any, steps: int
) -> tuple[Any, Any, Any, int, int]:
    """AdamW (no decay on biases and norms) and the LR schedule, prepared by accelerate."""
    import torch
    from accelerate.utils import DistributedType

    trainable = [p for p in model.parameters() if p.requires_grad]
    if not trainable:
        raise MsmError("the model has no trainable parameters")
    n_trainable = sum(p.numel() for p in trainable)
    n_params = sum(p.numel() for p in model.parameters())
    decay = [p for n, p in model.named_parameters() if p.requires_grad and p.ndim >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.requires_grad and p.ndim < 2]
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}]
    if no_decay:
        groups.append({"params": no_decay, "weight_decay": 0.0})
    fused = acc.distributed_type not in (DistributedType.FSDP, DistributedType.DEEPSPEED)
    opt = torch.optim.AdamW(groups, lr=cfg.learning_rate, fused=fused or None)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda(cfg, steps))
    model, opt = acc.prepare(model, opt)
    acc.register_for_checkpointing(sched)
    if cfg.report_to:
        acc.init_trackers("msm", config={k: str(v) for k, v in cfg.model_dump().items()})
    return model, opt, sched, n_params, n_trainable
