"""The training loop: accelerate for devices and processes, peft for LoRA.

One loop serves midtraining and AFT (they differ only in how segments are
built). The loss is the sum of token losses over the *global* batch divided by
its label count, so 1 process and N processes with the same global batch give
the same gradients. Checkpoints (``accelerate`` state + our step counter) go
to a hidden work folder beside ``--out``; a rerun of the same command resumes
from the newest one. The output folder appears only when complete (built in
the work folder, then renamed).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import platform
import random
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from msm.errors import MsmError
from msm.fsutil import atomic_write_json, atomic_write_text
from msm.manifest import file_sha256, read_manifest, write_manifest
from msm.train.config import TrainConfig, check_report_to
from msm.train.data import (
    IGNORE,
    DataStats,
    Row,
    chat_segments,
    document_segments,
    finish_stats,
    pack,
    read_chats,
    read_documents,
)
from msm.train.model_io import attach_adapter, load_model, load_tokenizer, resolve_base


def work_dir_for(out: Path) -> Path:
    return out.parent / f".{out.name}.msm-train"


def pick_precision(requested: str, cuda: bool) -> str:
    """``auto``: bf16 where the hardware runs it fast (measured on CPU), else fp32."""
    import torch

    if requested != "auto":
        return requested
    if cuda:
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    return "bf16" if bf16_speedup() >= 1.5 else "fp32"


def bf16_speedup(n: int = 384, reps: int = 3) -> float:
    """How much faster a bf16 matmul runs than fp32 on this CPU (AMX: ~6x; AVX2: ~0.01x)."""
    import torch

    def best(dtype: Any) -> float:
        a = torch.randn(n, n, dtype=dtype)
        b = torch.randn(n, n, dtype=dtype)
        a @ b
        times = []
        for _ in range(reps):
            t = time.perf_counter()
            a @ b
            times.append(time.perf_counter() - t)
            if times[-1] > 0.5:  # emulated bf16 is very slow; one rep says enough
                break
        return min(times)

    return best(torch.float32) / max(best(torch.bfloat16), 1e-9)


def hardware(precision: str, world: int, threads: int, distributed: str = "NO") -> dict[str, Any]:
    import torch

    info: dict[str, Any] = {
        "device": "cuda" if torch.cuda.is_available() else "cpu",
        "processes": world,
        "distributed_type": distributed,
        "threads_per_process": threads,
        "precision": precision,
        "torch": torch.__version__,
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
    }
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    if torch.cuda.is_available():
        info["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return info


def read_stage_data(cfg: TrainConfig) -> tuple[list[Any], list[Any]]:
    """The stage's rows and mix-in rows, read and checked: documents (midtrain) or chats (AFT).

    Cheap and model-free, so bad data fails before any library or model loads.
    """
    from msm.aftgen.mix import read_mix

    if cfg.stage == "midtrain":
        texts = read_documents(cfg.data)
        mix_texts: list[str] = []
        if cfg.mix:
            from msm.train.data import read_jsonl

            for lineno, obj in read_jsonl(cfg.mix, "mix file"):
                if isinstance(obj, dict) and isinstance(obj.get("text"), str):
                    mix_texts.append(obj["text"])
                else:
                    raise MsmError(f"{cfg.mix}:{lineno}: expected an object with a string 'text'")
        return texts, mix_texts
    return read_chats(cfg.data), read_mix(cfg.mix) if cfg.mix else []


def build_segments(
    cfg: TrainConfig,
    tok: Any,
    stats: DataStats,
    data: tuple[list[Any], list[Any]] | None = None,
) -> list[Any]:
    """Tokenised segments for the stage, mix-in included (``data``: from read_stage_data)."""
    rows, mix_rows = data if data is not None else read_stage_data(cfg)
    if cfg.stage == "midtrain":
        texts = rows
        stats.examples = len(texts)
        segs = document_segments(texts, tok, cfg.max_length, stats)
        if cfg.mix:
            picked = _sample(mix_rows, cfg.mix_ratio, len(texts), cfg.seed)
            stats.mix_examples = len(picked)
            segs += document_segments(picked, tok, cfg.max_length, stats)
        return segs
    chats = rows
    stats.examples = len(chats)
    if cfg.mix:
        picked_chats = _sample(mix_rows, cfg.mix_ratio, len(chats), cfg.seed)
        stats.mix_examples = len(picked_chats)
        chats = chats + picked_chats
    segs = chat_segments(chats, tok, cfg.max_length, stats, cfg.system_prompt)
    if not segs:
        if stats.dropped_too_long:
            raise MsmError(
                f"every example is longer than --max-length {cfg.max_length} tokens "
                f"({stats.dropped_too_long} of {len(chats)}); raise --max-length"
            )
        raise MsmError("no example has assistant tokens to learn from")
    return segs


def _sample(items: list[Any], ratio: float, n: int, seed: int) -> list[Any]:
    k = round(ratio * n)
    rng = random.Random(seed + 7919)
    if not items or k == 0:
        return []
    return rng.sample(items, k) if k <= len(items) else [rng.choice(items) for _ in range(k)]


def plan_rows(rows: list[Row], cfg: TrainConfig, world: int) -> tuple[list[Row], int, int]:
    """Row order over all epochs, padded to whole global batches; (rows, steps, global batch)."""
    g = cfg.micro_batch_size * cfg.grad_accum * world
    per_epoch = math.ceil(len(rows) / g)
    steps = max(1, math.ceil(cfg.epochs * per_epoch))
    if cfg.max_steps:
        steps = min(steps, cfg.max_steps)
    if cfg.max_tokens:
        steps = min(steps, max(1, math.ceil(cfg.max_tokens / (g * cfg.max_length))))
    plan: list[Row] = []
    epoch = 0
    while len(plan) < steps * g:
        order = list(rows)
        if epoch:
            random.Random(cfg.seed * 1000 + epoch).shuffle(order)
        pad = per_epoch * g - len(order)
        filler = Row([0] * cfg.max_length, [IGNORE] * cfg.max_length, list(range(cfg.max_length)))
        plan += order + [filler] * pad
        epoch += 1
    return plan[: steps * g], steps, g


def lr_lambda(cfg: TrainConfig, steps: int) -> Any:
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


def _tensors(rows: list[Row], device: Any) -> dict[str, Any]:
    import torch

    return {
        "input_ids": torch.tensor([r.input_ids for r in rows], device=device),
        "position_ids": torch.tensor([r.position_ids for r in rows], device=device),
        "labels": torch.tensor([r.labels for r in rows], device=device),
    }


def micro_batch_loss_sum(model: Any, batch: dict[str, Any], autocast: Any = None) -> Any:
    """Summed next-token loss over the labelled tokens of one micro-batch of packed rows.

    Documents packed into a row stay apart only because position ids restart at each
    document and the forward pass gets neither an attention mask nor a KV cache:
    transformers then builds a block-diagonal mask from the position ids. Passing a mask,
    dropping the position ids or leaving ``use_cache`` on silently lets tokens attend
    across documents (tests/unit/test_train.py checks this step against each document
    scored alone).
    """
    import torch.nn.functional as F

    with autocast() if autocast is not None else contextlib.nullcontext():
        logits = model(
            input_ids=batch["input_ids"],
            position_ids=batch["position_ids"],
            use_cache=False,
        ).logits
    return F.cross_entropy(
        logits[:, :-1].reshape(-1, logits.shape[-1]).float(),
        batch["labels"][:, 1:].reshape(-1),
        ignore_index=IGNORE,
        reduction="sum",
    )


def _latest_checkpoint(work: Path) -> Path | None:
    ckpts = sorted(p for p in work.glob("ckpt-*") if (p / "msm-state.json").is_file())
    return ckpts[-1] if ckpts else None


def prepare_output(cfg: TrainConfig, out: Path) -> dict[str, Any] | None:
    """Checks before any work. Returns the manifest if this exact run is already complete."""
    if not out.parent.is_dir():
        raise MsmError(f"output parent folder does not exist: {out.parent}")
    if out.exists():
        man = read_manifest(out)
        if man is not None and man.get("weights_hash") == cfg.weights_hash():
            return man
        raise MsmError(f"output exists: {out} (remove it or choose another --out)")
    check_report_to(cfg.report_to)
    return None


def run_train(cfg: TrainConfig, out: Path, echo: Any = None) -> dict[str, Any]:
    """Train and write ``out``; resumes an interrupted run of the same settings."""
    say = echo or (lambda s: print(s, file=sys.stderr, flush=True))
    out = Path(out)
    done = prepare_output(cfg, out)
    if done is not None:
        say(f"train: {out} is already complete (same settings)")
        return done
    t_start = time.time()
    base = resolve_base(cfg.base, cfg.method, cfg.fresh_adapter, cfg.adapter)
    data = read_stage_data(cfg)  # bad data fails now, before torch and the model load

    import torch
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState
    from accelerate.utils import DistributedType, set_seed

    _quiet_libraries()
    tok = load_tokenizer(base.model)
    stats = DataStats()
    segments = build_segments(cfg, tok, stats, data)
    del data
    pad_id = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    rows = pack(segments, cfg.max_length, int(pad_id or 0), cfg.seed)
    finish_stats(stats, segments, rows)
    del segments

    cuda = torch.cuda.is_available()
    precision = pick_precision(cfg.precision, cuda)
    world_env = int(os.environ.get("WORLD_SIZE", "1"))
    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", str(world_env)))
    threads = cfg.threads or max(1, (os.cpu_count() or 1) // max(1, local_world))
    if not cuda:
        torch.set_num_threads(threads)
    work = work_dir_for(out)
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
        project_dir=str(work / "logs"),
    )
    set_seed(cfg.seed)
    asked = _asked_distributed_type()
    if asked and acc.is_main_process and acc.distributed_type.value != asked:
        # accelerate enables FSDP and DeepSpeed on accelerators only; on CPU such a
        # config quietly becomes plain data parallel (every process holds the model)
        say(
            f"train: warning: the accelerate config asks for {asked}, but accelerate runs "
            f"{acc.distributed_type.value} here (no GPU); training is plain data parallel"
        )
    full = cfg.method == "full"
    base_dtype = torch.bfloat16 if (precision == "bf16" and not full) else torch.float32
    model = load_model(base.model, base_dtype)
    if not full:
        model = attach_adapter(model, cfg, base.adapter)
    world, rank = acc.num_processes, acc.process_index
    plan, steps, g = plan_rows(rows, cfg, world)
    run_file = work / "run.json"
    if acc.is_main_process:
        work.mkdir(exist_ok=True)
        if run_file.is_file():
            prev = json.loads(run_file.read_text())
            if prev.get("weights_hash") != cfg.weights_hash():
                raise MsmError(
                    f"an interrupted run with different settings is in {work}; "
                    "rerun it with the same settings, or delete that folder"
                )
        else:
            atomic_write_json(
                run_file, {"weights_hash": cfg.weights_hash(), "config": cfg.model_dump()}
            )
    acc.wait_for_everyone()

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

    start, tokens_seen, history, train_s = 0, 0, [], 0.0
    ckpt = _latest_checkpoint(work)
    if ckpt is not None:
        acc.load_state(str(ckpt))
        st = json.loads((ckpt / "msm-state.json").read_text())
        start, tokens_seen, history, train_s = (
            st["step"],
            st["tokens"],
            st["history"],
            st["train_s"],
        )
        say(f"train: resuming from step {start} of {steps} ({ckpt.name})")
    save_every = cfg.save_every or max(1, math.ceil(steps / 10))
    micro = cfg.micro_batch_size
    model.train()
    t_last = time.time()
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
                loss_sum = micro_batch_loss_sum(model, batch, acc.autocast)
                acc.backward(loss_sum * (world * cfg.grad_accum / max(n_glob, 1)))
            local_sum += float(loss_sum.detach())
            del loss_sum
        if cfg.max_grad_norm > 0:
            acc.clip_grad_norm_(model.parameters(), cfg.max_grad_norm)
        lr = sched.get_last_lr()[0]
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        total = acc.reduce(torch.tensor([local_sum], device=acc.device), reduction="sum")
        loss = float(total.item()) / max(n_glob, 1)
        tokens_seen += g * cfg.max_length
        train_s += time.perf_counter() - t0
        history.append(
            {"step": step + 1, "tokens": tokens_seen, "loss": loss, "lr": lr, "elapsed_s": train_s}
        )
        if cfg.report_to:
            acc.log({"loss": loss, "lr": lr}, step=step + 1)
        if acc.is_main_process and (
            (step + 1) % cfg.log_every == 0 or time.time() - t_last > 15 or step + 1 == steps
        ):
            rate = tokens_seen / train_s if train_s else 0.0
            eta = (steps - step - 1) * (train_s / max(1, step + 1 - start)) if step >= start else 0
            say(
                f"train: step {step + 1}/{steps} loss {loss:.4f} lr {lr:.2e} "
                f"{rate:.0f} tok/s eta {eta:.0f}s"
            )
            t_last = time.time()
        if (step + 1) % save_every == 0 and step + 1 < steps:
            _save_checkpoint(acc, work, step + 1, tokens_seen, history, train_s)

    acc.wait_for_everyone()
    final = work / "final"
    if acc.is_main_process:
        shutil.rmtree(final, ignore_errors=True)
        final.mkdir()
    acc.wait_for_everyone()
    _save_model(acc, model, tok, final, base.model, cfg, full, base_dtype)
    manifest: dict[str, Any] = {}
    if acc.is_main_process:
        from msm.train.curves import write_curves

        write_curves(final, history)
        if (work / "logs").is_dir():
            shutil.copytree(work / "logs", final / "logs")
        manifest = write_manifest(
            final,
            f"train-{cfg.stage}",
            weights_hash=cfg.weights_hash(),
            base=cfg.base,
            base_path=base.model,
            continued_adapter=base.adapter,
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
            hardware=hardware(precision, world, threads, str(acc.distributed_type.value)),
        )
        os.replace(final, out)
        shutil.rmtree(work, ignore_errors=True)
    if cfg.report_to:
        acc.end_training()
    acc.wait_for_everyone()
    return manifest


def _asked_distributed_type() -> str | None:
    """FSDP or DEEPSPEED when ``accelerate launch`` was given such a config, else None."""
    for env, name in (("ACCELERATE_USE_FSDP", "FSDP"), ("ACCELERATE_USE_DEEPSPEED", "DEEPSPEED")):
        if os.environ.get(env, "").lower() == "true":
            return name
    return None


def _quiet_libraries() -> None:
    """Keep the CLI to msm's own progress lines (no per-file bars or known-harmless notes)."""
    import logging
    import warnings

    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    # accelerate notes every checkpoint that tied embeddings are stored once (expected)
    logging.getLogger("accelerate.utils.other").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*")


def _save_checkpoint(
    acc: Any, work: Path, step: int, tokens: int, history: list[dict[str, Any]], train_s: float
) -> None:
    tmp = work / f".tmp-ckpt-{step:08d}"
    if acc.is_main_process:
        shutil.rmtree(tmp, ignore_errors=True)
    acc.wait_for_everyone()
    acc.save_state(str(tmp))
    acc.wait_for_everyone()
    if acc.is_main_process:
        state = {"step": step, "tokens": tokens, "history": history, "train_s": train_s}
        atomic_write_text(tmp / "msm-state.json", json.dumps(state))
        os.replace(tmp, work / f"ckpt-{step:08d}")
        for old in work.glob("ckpt-*"):
            if old.name != f"ckpt-{step:08d}":
                shutil.rmtree(old, ignore_errors=True)
    acc.wait_for_everyone()


def _save_model(
    acc: Any,
    model: Any,
    tok: Any,
    final: Path,
    base_model: str,
    cfg: TrainConfig,
    full: bool,
    base_dtype: Any,
) -> None:
    """``adapter/`` (LoRA) and ``model/`` (a merged, plain Hugging Face folder)."""
    from accelerate.utils import DistributedType

    state = acc.get_state_dict(model)
    unwrapped = acc.unwrap_model(model)
    if full:
        if acc.is_main_process:
            unwrapped.config.use_cache = True
            unwrapped.save_pretrained(final / "model", state_dict=state, safe_serialization=True)
            tok.save_pretrained(final / "model")
        return
    if acc.is_main_process:
        unwrapped.save_pretrained(final / "adapter", state_dict=state, safe_serialization=True)
    if not cfg.merge or not acc.is_main_process:
        return
    if acc.distributed_type in (DistributedType.FSDP, DistributedType.DEEPSPEED):
        from peft import PeftModel

        fresh = load_model(base_model, base_dtype)
        unwrapped = PeftModel.from_pretrained(fresh, str(final / "adapter"))
    merged = unwrapped.merge_and_unload()
    merged.config.use_cache = True
    merged.save_pretrained(final / "model", safe_serialization=True)
    tok.save_pretrained(final / "model")
