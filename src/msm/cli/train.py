"""``msm train midtrain`` and ``msm train aft``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from msm.cli._common import (
    _explicit_params,
    train_app,
)

BaseOpt = Annotated[
    str,
    typer.Option("--base", help="embedded, a model folder, a cached hub id, or an msm checkpoint."),
]
TrainOutOpt = Annotated[Path, typer.Option("--out", "-o", help="Checkpoint folder to write.")]
MethodOpt = Annotated[str, typer.Option("--method", help="lora | full")]
LrOpt = Annotated[float, typer.Option("--lr", help="Learning rate.")]
EpochsOpt = Annotated[float, typer.Option("--epochs")]
MaxLenOpt = Annotated[int, typer.Option("--max-length", help="Tokens per sequence.")]
MicroOpt = Annotated[
    int, typer.Option("--micro-batch-size", help="Rows per process per micro-step.")
]
AccumOpt = Annotated[int, typer.Option("--grad-accum", help="Micro-steps per optimizer step.")]
MaxStepsOpt = Annotated[int | None, typer.Option("--max-steps")]
MaxTokensOpt = Annotated[int | None, typer.Option("--max-tokens")]
PrecisionOpt = Annotated[str, typer.Option("--precision", help="auto | fp32 | bf16")]
SaveEveryOpt = Annotated[int | None, typer.Option("--save-every", help="Checkpoint every N steps.")]
ReportToOpt = Annotated[
    list[str] | None, typer.Option("--report-to", help="tensorboard | wandb | mlflow (repeatable).")
]
LauncherOpt = Annotated[str, typer.Option("--launcher", help="none | accelerate")]
AccCfgOpt = Annotated[
    Path | None,
    typer.Option("--accelerate-config", help="accelerate config YAML (multi-GPU etc.)."),
]
TrainCfgOpt = Annotated[
    Path | None, typer.Option("--config", help="YAML with TrainConfig fields (flags win).")
]
MixOpt = Annotated[Path | None, typer.Option("--mix", help="JSONL to mix in.")]
MixRatioOpt = Annotated[float, typer.Option("--mix-ratio", help="Mix rows per data row.")]


def _train(stage: str, out: Path, flags: dict[str, Any], config: Path | None) -> None:
    from msm.config_io import build_config
    from msm.train import TrainConfig, run_train
    from msm.train.launch import launch_accelerate

    explicit = _explicit_params()
    renames = {"lr": "learning_rate", "docs": "data"}
    explicit = {renames.get(k, k) for k in explicit}
    flags = {renames.get(k, k): v for k, v in flags.items()}
    flags["stage"] = stage
    explicit.add("stage")
    for k in ("mix", "accelerate_config", "data"):
        if flags.get(k) is not None:
            flags[k] = str(flags[k])
    if flags.get("report_to") is None:
        flags["report_to"] = []
    cfg = build_config(TrainConfig, config, flags, explicit)
    if cfg.launcher == "accelerate":
        ran = launch_accelerate(cfg, out)
        typer.echo(f"train: {'done' if ran else 'already complete'} -> {out}")
        return
    man = run_train(cfg, out)
    loss = man.get("final_loss")
    typer.echo(
        f"train {stage}: {man.get('steps')} steps, {man.get('tokens_seen')} tokens, final loss "
        f"{loss:.4f} -> {out}"
        if isinstance(loss, float)
        else f"train {stage}: -> {out}"
    )


@train_app.command("midtrain")
def train_midtrain(
    base: BaseOpt,
    docs: Annotated[Path, typer.Option("--docs", help="documents.jsonl from msm docgen.")],
    out: TrainOutOpt,
    method: MethodOpt = "lora",
    lr: LrOpt = 1e-4,
    epochs: EpochsOpt = 1.0,
    max_length: MaxLenOpt = 1024,
    micro_batch_size: MicroOpt = 4,
    grad_accum: AccumOpt = 1,
    max_steps: MaxStepsOpt = None,
    max_tokens: MaxTokensOpt = None,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    precision: PrecisionOpt = "auto",
    save_every: SaveEveryOpt = None,
    report_to: ReportToOpt = None,
    mix: MixOpt = None,
    mix_ratio: MixRatioOpt = 0.0,
    launcher: LauncherOpt = "none",
    accelerate_config: AccCfgOpt = None,
    config: TrainCfgOpt = None,
) -> None:
    """Midtrain: next-token loss on every document token, EOS between documents."""
    flags = dict(locals())
    for k in ("out", "config"):
        flags.pop(k)
    _train("midtrain", out, flags, config)


@train_app.command("aft")
def train_aft(
    base: BaseOpt,
    data: Annotated[
        Path, typer.Option("--data", help="cot.jsonl or stripped.jsonl from msm aftgen.")
    ],
    out: TrainOutOpt,
    method: MethodOpt = "lora",
    fresh_adapter: Annotated[
        bool, typer.Option("--fresh-adapter", help="New LoRA on the merged checkpoint.")
    ] = False,
    adapter: Annotated[
        Path | None, typer.Option("--adapter", help="A LoRA adapter folder to keep training.")
    ] = None,
    system_prompt: Annotated[
        str | None, typer.Option("--system-prompt", help="For examples without one.")
    ] = None,
    lr: LrOpt = 1e-4,
    epochs: EpochsOpt = 1.0,
    max_length: MaxLenOpt = 1024,
    micro_batch_size: MicroOpt = 4,
    grad_accum: AccumOpt = 1,
    max_steps: MaxStepsOpt = None,
    max_tokens: MaxTokensOpt = None,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    precision: PrecisionOpt = "auto",
    save_every: SaveEveryOpt = None,
    report_to: ReportToOpt = None,
    mix: MixOpt = None,
    mix_ratio: MixRatioOpt = 0.0,
    launcher: LauncherOpt = "none",
    accelerate_config: AccCfgOpt = None,
    config: TrainCfgOpt = None,
) -> None:
    """AFT: chat template, loss on assistant tokens; continues the midtraining adapter."""
    flags = dict(locals())
    for k in ("out", "config"):
        flags.pop(k)
    if flags["adapter"] is not None:
        flags["adapter"] = str(flags["adapter"])
    _train("aft", out, flags, config)
