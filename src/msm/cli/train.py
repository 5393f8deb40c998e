"""``msm train midtrain`` and ``msm train aft`` (flags generated from ``TrainConfig``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from msm.artifacts.checkpoint import Checkpoint
from msm.cli._common import OverwriteOpt, train_app
from msm.cli.config_flags import Flag, config_command
from msm.train.config import TrainConfig

TrainOutOpt = Annotated[Path, typer.Option("--out", "-o", help="Checkpoint folder to write.")]
FLAGS = {
    "learning_rate": Flag(alias="--lr"),
    **{k: Flag(path=True) for k in ("mix", "adapter", "accelerate_config")},
}
AFT_ONLY = ("fresh_adapter", "adapter", "system_prompt")


def _train(cfg: TrainConfig, out: Path, overwrite: bool) -> None:
    # lazy: the engine pulls torch
    from msm.train import run_train

    # lazy: pulls Inspect
    from msm.train.launch import launch_accelerate

    if cfg.launcher == "accelerate":
        ran = launch_accelerate(cfg, out, overwrite)
        typer.echo(f"train: {'done' if ran else 'already complete'} -> {out}")
        return
    res = run_train(cfg, out, overwrite=overwrite)
    loss = res.final_loss
    typer.echo(
        f"train {cfg.stage}: {res.steps} steps, {res.label_tokens_seen} trained tokens "
        f"({res.tokens_seen} with padding), final loss {loss:.4f} -> {out}"
        if loss is not None
        else f"train {cfg.stage}: -> {out}"
    )


@config_command(
    train_app,
    "midtrain",
    TrainConfig,
    flags={
        **FLAGS,
        "data": Flag(alias="--docs", help="documents.jsonl from msm docgen", path=True),
    },
    fixed={"stage": "midtrain"},
    exclude=AFT_ONLY,
)
def train_midtrain(cfg: TrainConfig, out: TrainOutOpt, overwrite: OverwriteOpt = False) -> None:
    """Midtrain: next-token loss on every document token, EOS between documents."""
    _train(cfg, out, overwrite)


@config_command(
    train_app,
    "aft",
    TrainConfig,
    flags={**FLAGS, "data": Flag(help="cot.jsonl or stripped.jsonl from msm aftgen", path=True)},
    fixed={"stage": "aft"},
)
def train_aft(cfg: TrainConfig, out: TrainOutOpt, overwrite: OverwriteOpt = False) -> None:
    """AFT: chat template, loss on assistant tokens; continues the midtraining adapter."""
    _train(cfg, out, overwrite)


@train_app.command("merge")
def train_merge(
    checkpoint: Annotated[Path, typer.Argument(help="msm training checkpoint with adapter/")],
) -> None:
    """Merge a checkpoint's LoRA adapter into its base: writes CHECKPOINT/model (what
    ``save: merged`` would have saved), for engines that cannot load adapters."""
    # lazy: pulls torch and Inspect
    from msm.train.checkpoint import merge_adapter

    if Checkpoint(checkpoint).has_model():
        typer.echo(f"train merge: {checkpoint}/model already exists")
        return
    dest = merge_adapter(checkpoint)
    typer.echo(f"train merge: -> {dest}")
