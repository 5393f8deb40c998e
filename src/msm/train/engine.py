"""The training loop: accelerate for devices and processes, peft for LoRA.

One loop serves midtraining and AFT (they differ only in how segments are
built). The loss is the sum of token losses over the *global* batch divided by
its label count, so 1 process and N processes with the same global batch give
the same gradients. Checkpoints (``accelerate`` state + our step counter) go
to a hidden work folder beside ``--out``; a rerun of the same command resumes
from the newest one. The output folder appears only when complete (built in
the work folder, then renamed).

``run_train`` reads as its steps: data to packed rows (``batches``), the
accelerator and precision (``hardware``), the model, the optimizer, resuming
(``checkpoint``), the step loop, and the output with its manifest.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from msm._util.fsutil import atomic_write_json
from msm._util.progress import StageProgress, progress_mode
from msm.artifacts.checkpoint import STATE_FILE, Checkpoint, work_dir_for
from msm.artifacts.manifest import file_sha256, read_manifest, write_manifest
from msm.errors import MsmError
from msm.train.batches import build_segments, plan_rows, read_stage_data
from msm.train.checkpoint import (
    prepare_output,
    replace_output,
    resolve_base,
    save_checkpoint,
    save_model,
)
from msm.train.config import TrainConfig
from msm.train.curves import write_curves
from msm.train.data import IGNORE, DataStats, Row, finish_stats, pack
from msm.train.hardware import asked_distributed_type, cpu_threads, hardware, pick_precision
from msm.train.model_io import attach_adapter, load_model, load_tokenizer
from msm.train.optim import build_optimizer

__all__ = [
    "build_segments",
    "micro_batch_loss_sum",
    "prepare_output",
    "run_train",
    "work_dir_for",
]


def _tensors(rows: list[Row], device: Any) -> dict[str, Any]:
    import torch

    return {
        "input_ids": torch.tensor([r.input_ids for r in rows], device=device),
        "position_ids": torch.tensor([r.position_ids for r in rows], device=device),
        "labels": torch.tensor([r.labels for r in rows], device=device),
    }


def micro_batch_loss_sum(
    model: Any, batch: dict[str, Any], autocast: Any = None, labelled_only: bool = False
) -> Any:
    """Summed next-token loss over the labelled tokens of one micro-batch of packed rows.

    Documents packed into a row stay apart only because position ids restart at each
    document and the forward pass gets neither an attention mask nor a KV cache:
    transformers then builds a block-diagonal mask from the position ids. Passing a mask,
    dropping the position ids or leaving ``use_cache`` on silently lets tokens attend
    across documents (tests/unit/test_train.py checks this step against each document
    scored alone).

    ``labelled_only`` (for models whose forward takes ``logits_to_keep``): the output
    layer runs only at the positions that predict a labelled token in some row of the
    batch. The loss is the same sum; AFT, whose labels are the answers alone (a third of
    the positions in the demo), skips most of the output layer's work.
    """
    import torch.nn.functional as F

    target = batch["labels"][:, 1:]  # target[:, p] is predicted at position p
    keep = None
    if labelled_only:
        cols = (target != IGNORE).any(0).nonzero().squeeze(-1)
        if 0 < cols.numel() < 0.9 * target.shape[1]:
            keep = cols
    with autocast() if autocast is not None else contextlib.nullcontext():
        logits = model(
            input_ids=batch["input_ids"],
            position_ids=batch["position_ids"],
            use_cache=False,
            **({"logits_to_keep": keep} if keep is not None else {}),
        ).logits
    if keep is None:
        logits = logits[:, :-1]
    else:
        target = target[:, keep]
    return F.cross_entropy(
        logits.reshape(-1, logits.shape[-1]).float(),
        target.reshape(-1),
        ignore_index=IGNORE,
        reduction="sum",
    )


def takes_logits_to_keep(model: Any) -> bool:
    """Whether the causal LM inside ``model`` (through DDP/FSDP/DeepSpeed and PEFT
    wrappers) computes its output layer only at the positions ``logits_to_keep`` names."""
    import inspect

    m = model
    while hasattr(m, "module"):
        m = m.module
    if hasattr(m, "get_base_model"):
        m = m.get_base_model()
    return "logits_to_keep" in inspect.signature(m.forward).parameters


@dataclass(frozen=True, slots=True)
class TrainResult:
    """What :func:`run_train` made: the checkpoint, headline counts, and ``manifest``
    exactly as ``out/manifest.json`` holds it (empty on every process but the main one)."""

    out: Path
    checkpoint: Checkpoint
    steps: int  # optimizer steps
    tokens_seen: int  # with padding
    label_tokens_seen: int  # the tokens trained on
    final_loss: float | None
    seconds: float  # wall time of the run that wrote the checkpoint
    manifest: dict[str, Any]

    @classmethod
    def from_manifest(cls, out: Path, manifest: dict[str, Any]) -> TrainResult:
        """The result that a finished checkpoint's ``manifest`` records."""
        loss = manifest.get("final_loss")
        return cls(
            out=out,
            checkpoint=Checkpoint(out),
            steps=int(manifest.get("steps") or 0),
            tokens_seen=int(manifest.get("tokens_seen") or 0),
            label_tokens_seen=int(manifest.get("label_tokens_seen") or 0),
            final_loss=float(loss) if loss is not None else None,
            seconds=float(manifest.get("wall_seconds") or 0.0),
            manifest=manifest,
        )


@dataclass
class _Progress:
    """What a checkpoint carries besides accelerate's state."""

    step: int = 0
    tokens: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    train_s: float = 0.0


def run_train(
    cfg: TrainConfig, out: Path, echo: Any = None, *, overwrite: bool = False
) -> TrainResult:
    """Train and write ``out``; resumes an interrupted run of the same settings.

    ``out`` belongs to its settings: other settings are refused unless ``overwrite``
    (see :func:`msm.train.checkpoint.prepare_output`). Example::

        res = run_train(TrainConfig(stage="midtrain", data="runs/corpus/documents.jsonl"),
                        Path("runs/mid"))
        print(res.steps, res.final_loss, res.checkpoint.model_dir)
    """
    say = echo or (lambda s: print(s, file=sys.stderr, flush=True))
    out = Path(out)
    done = prepare_output(cfg, out, overwrite)
    if done is not None:
        say(f"train: {out} is already complete (same settings)")
        return TrainResult.from_manifest(out, done)
    t_start = time.time()
    base = resolve_base(cfg.base, cfg.method, cfg.fresh_adapter, cfg.adapter)
    data = read_stage_data(cfg)  # bad data fails now, before torch and the model load
    if overwrite:
        replace_output(cfg, out)  # only now that the new settings and data have checked out
    _quiet_libraries()
    tok = load_tokenizer(base.model)
    stats, rows = _packed_rows(cfg, tok, data)
    del data
    layout = Checkpoint(out)
    acc, precision, threads = _accelerator(cfg, layout.logs_dir, say)
    full = cfg.method == "full"
    model = _load_model(cfg, base, precision)
    plan, steps, g = plan_rows(rows, cfg, acc.num_processes)
    _record_or_check_settings(acc, cfg, layout)
    model, opt, sched, n_params, n_trainable = build_optimizer(acc, cfg, model, steps)
    progress = _resume(acc, layout, steps, say)
    _train_steps(acc, cfg, model, opt, sched, plan, steps, g, progress, layout, say)

    acc.wait_for_everyone()
    final = layout.final_dir
    if acc.is_main_process:
        shutil.rmtree(final, ignore_errors=True)
        final.mkdir()
    acc.wait_for_everyone()
    saved = save_model(acc, model, tok, final, base.model, cfg, full, _base_dtype(cfg, precision))
    manifest: dict[str, Any] = {}
    history, train_s, tokens_seen = progress.history, progress.train_s, progress.tokens
    if acc.is_main_process:
        write_curves(final, history)
        if layout.logs_dir.is_dir():
            shutil.copytree(layout.logs_dir, final / "logs")
        manifest = write_manifest(
            final,
            f"train-{cfg.stage}",
            weights_hash=cfg.weights_hash(),
            base=cfg.base,
            base_path=base.model,
            continued_adapter=base.adapter,
            saved=saved,  # full, merged (adapter/ + model/) or adapter (adapter/ only)
            base_lineage=base.lineage or None,
            data={
                "path": str(Path(cfg.data).resolve()),
                "sha256": file_sha256(cfg.data),
                "upstream": read_manifest(Path(cfg.data).parent),
            },
            mix={"path": str(Path(cfg.mix).resolve()), "sha256": file_sha256(cfg.mix)}
            if cfg.mix
            else None,
            config=cfg.model_dump(),
            seed=cfg.seed,
            data_stats=stats.as_dict(),
            steps=steps,
            global_batch_rows=g,
            tokens_seen=tokens_seen,
            label_tokens_seen=sum(r.n_labels for r in plan),
            final_loss=history[-1]["loss"] if history else None,
            parameters=n_params,
            trainable_parameters=n_trainable,
            train_seconds=round(train_s, 2),
            tokens_per_s=round(tokens_seen / train_s, 2) if train_s else None,
            wall_seconds=round(time.time() - t_start, 2),
            hardware=hardware(
                precision, acc.num_processes, threads, str(acc.distributed_type.value)
            ),
        )
        os.replace(final, out)
        shutil.rmtree(layout.work_dir, ignore_errors=True)
    if cfg.report_to:
        acc.end_training()
    acc.wait_for_everyone()
    if manifest:
        return TrainResult.from_manifest(out, manifest)
    # another process than the main one: what it knows, and no manifest
    loss, labels = (history[-1]["loss"] if history else None), sum(r.n_labels for r in plan)
    wall = round(time.time() - t_start, 2)
    return TrainResult(out, layout, steps, tokens_seen, labels, loss, wall, manifest={})


def _packed_rows(
    cfg: TrainConfig, tok: Any, data: tuple[list[Any], list[Any]]
) -> tuple[DataStats, list[Row]]:
    """Tokenise the stage's data into segments and pack them into rows of ``max_length``."""
    stats = DataStats()
    segments = build_segments(cfg, tok, stats, data)
    pad_id = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    rows = pack(segments, cfg.max_length, int(pad_id or 0), cfg.seed)
    finish_stats(stats, segments, rows)
    return stats, rows


def _accelerator(cfg: TrainConfig, logs: Path, say: Any) -> tuple[Any, str, int]:
    """The accelerator for this run (trackers log to ``logs``), its precision and the CPU
    threads per process."""
    import torch
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState
    from accelerate.utils import set_seed

    cuda = torch.cuda.is_available()
    precision = pick_precision(cfg.precision, cuda)
    world_env = int(os.environ.get("WORLD_SIZE", "1"))
    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", str(world_env)))
    threads = cfg.threads or cpu_threads(local_world)
    if not cuda:
        torch.set_num_threads(threads)
    # accelerate keeps its settings process-wide and refuses a second training in
    # the same process with another precision; each run sets its own (the
    # process group, in PartialState, is kept)
    AcceleratorState._reset_state(reset_partial_state=False)
    acc = Accelerator(
        cpu=not cuda,
        mixed_precision="bf16" if precision == "bf16" else "no",
        # accelerate divides each backward loss by this (and DeepSpeed steps on
        # its boundaries); the loss below multiplies it back
        gradient_accumulation_steps=cfg.grad_accum,
        log_with=list(cfg.report_to) or None,
        project_dir=str(logs),
    )
    set_seed(cfg.seed)
    asked = asked_distributed_type()
    if asked and acc.is_main_process and acc.distributed_type.value != asked:
        # accelerate enables FSDP and DeepSpeed on accelerators only; on CPU such a
        # config quietly becomes plain data parallel (every process holds the model)
        say(
            f"train: warning: the accelerate config asks for {asked}, but accelerate runs "
            f"{acc.distributed_type.value} here (no GPU); training is plain data parallel"
        )
    return acc, precision, threads


def _base_dtype(cfg: TrainConfig, precision: str) -> Any:
    """LoRA in bf16 keeps the frozen base in bf16; everything else trains fp32 weights."""
    import torch

    lora_bf16 = precision == "bf16" and cfg.method != "full"
    return torch.bfloat16 if lora_bf16 else torch.float32


def _load_model(cfg: TrainConfig, base: Any, precision: str) -> Any:
    model = load_model(base.model, _base_dtype(cfg, precision))
    if cfg.method != "full":
        model = attach_adapter(model, cfg, base.adapter)
    return model


def _record_or_check_settings(acc: Any, cfg: TrainConfig, layout: Checkpoint) -> None:
    """The work folder remembers its settings; resuming with other settings is refused."""
    work, run_file = layout.work_dir, layout.settings_file
    if acc.is_main_process:
        work.mkdir(exist_ok=True)
        if run_file.is_file():
            prev = json.loads(run_file.read_text())
            if prev.get("weights_hash") != cfg.weights_hash():
                raise MsmError(
                    f"an interrupted run with different settings is in {work}; "
                    "rerun it with the same settings, or pass --overwrite"
                )
        else:
            atomic_write_json(
                run_file, {"weights_hash": cfg.weights_hash(), "config": cfg.model_dump()}
            )
    acc.wait_for_everyone()


def _resume(acc: Any, layout: Checkpoint, steps: int, say: Any) -> _Progress:
    """Load the newest checkpoint in the work folder, if any."""
    ckpt = layout.latest_step_dir()
    if ckpt is None:
        return _Progress()
    acc.load_state(str(ckpt))
    st = json.loads((ckpt / STATE_FILE).read_text())
    say(f"train: resuming from step {st['step']} of {steps} ({ckpt.name})")
    return _Progress(st["step"], st["tokens"], st["history"], st["train_s"])


# the default checkpoint policy (no ``save_every``): about ten per run, but none before a
# minute of training since the last one (or the start), nor before ten times what the last
# save took: a save of a full 135M model with its optimizer takes ~2.7 s on 2 CPU cores,
# and at ten per run they were a fifth of a two-minute run (docs/LOG.md, 2026-12-07)
SAVE_MIN_S = 60.0
SAVE_COST_RATIO = 10.0


def _step_bar(acc: Any, steps: int, start: int) -> StageProgress | None:
    """A live bar of the steps on a terminal (main process only); logs keep the lines."""
    if not acc.is_main_process or progress_mode() != "bar":
        return None
    return StageProgress("train", "steps", total=steps - start).__enter__()


def _train_steps(
    acc: Any,
    cfg: TrainConfig,
    model: Any,
    opt: Any,
    sched: Any,
    plan: list[Row],
    steps: int,
    g: int,
    progress: _Progress,
    layout: Checkpoint,
    say: Any,
) -> None:
    """The optimizer steps from ``progress.step`` on, checkpointing every ``save_every`` steps
    (by default: see ``SAVE_MIN_S``)."""
    import torch

    world, rank = acc.num_processes, acc.process_index
    start = progress.step
    every = cfg.save_every or max(1, math.ceil(steps / 10))
    micro = cfg.micro_batch_size
    labelled_only = takes_logits_to_keep(model)
    model.train()
    t_last = time.time()
    last_save, save_cost = time.monotonic(), 0.0
    bar = _step_bar(acc, steps, start)
    for step in range(start, steps):
        t0 = time.perf_counter()
        step_rows = plan[step * g : (step + 1) * g]
        n_glob = sum(r.n_labels for r in step_rows)
        local_sum = 0.0
        for a in range(cfg.grad_accum):
            k = (a * world + rank) * micro
            batch = _tensors(step_rows[k : k + micro], acc.device)
            sync = contextlib.nullcontext() if a == cfg.grad_accum - 1 else acc.no_sync(model)
            with sync:
                loss_sum = micro_batch_loss_sum(model, batch, acc.autocast, labelled_only)
                acc.backward(loss_sum * (world * cfg.grad_accum / max(n_glob, 1)))
            local_sum += float(loss_sum.detach())
            del loss_sum
        if cfg.max_grad_norm > 0:
            acc.clip_grad_norm_(model.parameters(), cfg.max_grad_norm)
        lr = sched.get_last_lr()[0]
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        due = (step + 1) % every == 0 and step + 1 < steps
        if due and cfg.save_every is None:  # the default also waits for enough work to lose
            due = time.monotonic() - last_save >= max(SAVE_MIN_S, SAVE_COST_RATIO * save_cost)
        # one reduce carries the loss and whether any process wants a checkpoint, so every
        # process saves at the same step even though each reads its own clock
        total = acc.reduce(
            torch.tensor([local_sum, float(due)], device=acc.device), reduction="sum"
        )
        loss = float(total[0].item()) / max(n_glob, 1)
        save_now = float(total[1].item()) > 0
        progress.step = step + 1
        progress.tokens += g * cfg.max_length
        progress.train_s += time.perf_counter() - t0
        progress.history.append(
            {
                "step": step + 1,
                "tokens": progress.tokens,
                "loss": loss,
                "lr": lr,
                "elapsed_s": progress.train_s,
            }
        )
        if cfg.report_to:
            acc.log({"loss": loss, "lr": lr}, step=step + 1)
        if bar is not None:
            bar.update(step + 1 - start, note=f"loss {loss:.4f}")
        if acc.is_main_process and (
            (step + 1) % cfg.log_every == 0 or time.time() - t_last > 15 or step + 1 == steps
        ):
            train_s = progress.train_s
            rate = progress.tokens / train_s if train_s else 0.0
            eta = (steps - step - 1) * (train_s / max(1, step + 1 - start))
            say(
                f"train: step {step + 1}/{steps} loss {loss:.4f} lr {lr:.2e} "
                f"{rate:.0f} tok/s eta {eta:.0f}s"
            )
            t_last = time.time()
        if save_now:
            t_save = time.monotonic()
            save_checkpoint(
                acc, layout, step + 1, progress.tokens, progress.history, progress.train_s
            )
            last_save = time.monotonic()
            save_cost = last_save - t_save
    if bar is not None:
        bar.close()


def _quiet_libraries() -> None:
    """Keep the CLI to msm's own progress lines (no per-file bars or known-harmless notes)."""
    import logging
    import warnings

    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    # accelerate notes every checkpoint that tied embeddings are stored once (expected)
    logging.getLogger("accelerate.utils.other").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*")
