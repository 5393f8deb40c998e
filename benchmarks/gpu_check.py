"""GPU check: msm's training and scoring on CUDA, in one command of at most 8 minutes.

No GPU has run msm yet. This script is ready for the day one is lent: it needs no
downloaded weights and no network. It builds two Llama models from config with random
weights (SmolLM2-135M-shaped and Llama-3.2-1B-shaped) and a byte-level BPE tokenizer
trained on the spot on words of the bundled specs (the ``tokenizers`` library; ChatML chat
template), and then runs, each part on its own so one failure does not stop the others:

* ``msm_midtrain_{lora,full}`` and ``msm_aft_{lora,full}`` per model: msm's own
  ``run_train`` (packed rows, bf16: LoRA r64/alpha 128 on a bf16 base, full fine-tuning with
  fp32 weights under bf16 autocast), exactly as ``msm train`` runs it;
* ``loglik`` per model: the log-likelihood scorer (``msm.evals.loglik.option_logliks``) on
  the GPU, plus for the small model the same items scored on the CPU (largest difference);
* ``packed_attention``: logits of a packed row (restarting position ids, no mask) against
  each document alone, on the GPU (msm's packing relies on it), with a negative control;
* ``trl_midtrain_{lora,full}`` per model: the same step through ``trl.SFTTrainer`` (bf16,
  packing ``bfd_split``, no gradient checkpointing, same LoRA, data, rows and length), for
  the ratio msm / TRL. "skipped: trl not installed" where it is missing.

The JSON (``$OUT/gpu_check.json`` when ``OUT`` is set, else
``benchmarks/results/gpu_check.json``) holds per part ok / failed (with the one-line error)
/ skipped, tokens/s, MFU against the GPU's dense bf16 peak (a table of datasheet peaks by
device name; "unknown" otherwise; also against a bf16 matmul measured here), the peak GPU
memory, the device name and the versions of torch, transformers, peft, accelerate and trl.
A part starts only if it would end inside ``--budget-s`` (420 s on a GPU) had it taken as
long as the longest part so far; the others are skipped, so the run stays under 8 minutes.

On a machine without CUDA (or with ``--tiny``) everything runs at tiny size on the CPU in
fp32 in well under a minute: ``tests/unit/test_gpu_check.py`` runs it so it cannot rot.

On a lent GPU machine (torch, transformers, accelerate and peft are there; no network):
first ``make gpu-wheels`` here (the small wheels msm's configs need beyond those, pydantic
and its needs, plus trl, datasets, dill and multiprocess for the TRL part, for the device's
Python 3.12, into the ignored ``.gpu-wheels/``; size in docs/LOG.md), then call the device tool's
``run`` with ``carry: [".gpu-wheels"]``, ``timeout_s: 600`` and the command (one line)::

    python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site
    .gpu-wheels/*.whl && PYTHONPATH=$PWD/src:/tmp/site PYTHONUNBUFFERED=1 python3
    benchmarks/gpu_check.py 2>$OUT/gpu_check.log

One line per part comes back in the output; ``gpu_check.json`` (rewritten after every part,
so a run cut short keeps what it measured) and ``gpu_check.log`` (msm's progress lines,
tracebacks of failed parts) come back as files.

Model FLOPs per token count the weight matmuls only (attention scores excluded, so MFU is
a slight underestimate): 6 x the linear layers' parameters for full fine-tuning; for LoRA
4 x the frozen ones (forward, input gradients) + 6 x the adapter's. Tokens are document
tokens (row padding excluded); the first ``--warmup`` steps are not timed. msm's steps are
timed by its own per-step timer (batch assembly included), TRL's from ``on_step_begin`` to
``on_step_end`` (batch collation excluded), both synchronised with the GPU.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import gc
import importlib.abc
import importlib.util
import json
import os
import platform
import random
import resource
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for _p in (ROOT / "src", ROOT / "benchmarks"):  # the device machine runs a plain checkout
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

# msm's training and scoring paths must not need these (they are absent on a bare GPU machine)
FORBIDDEN = ("inspect_ai", "inspect_evals", "openai", "anthropic", "typer")

# dense bf16 tensor-core peaks from the vendors' datasheets, TFLOP/s (sparsity not counted);
# matched in this order against torch.cuda.get_device_name()
BF16_PEAKS: tuple[tuple[str, float], ...] = (
    ("H100 PCIe", 756.0),
    ("H100 NVL", 835.0),
    ("H100", 989.4),  # SXM, e.g. "NVIDIA H100 80GB HBM3"
    ("H200 NVL", 835.0),
    ("H200", 989.4),  # the H100's chip with more memory
    ("A100", 312.0),
)


@dataclass(frozen=True)
class Shape:
    """A model to build from config, and how to train it here."""

    name: str
    config: dict[str, Any]
    max_length: int
    rows: int  # rows per optimizer step (one micro-batch)
    steps: int
    loglik_items: int


GPU_SHAPES = (
    Shape(
        "smollm2_135m",
        dict(
            vocab_size=49152,
            hidden_size=576,
            intermediate_size=1536,
            num_hidden_layers=30,
            num_attention_heads=9,
            num_key_value_heads=3,
            rope_theta=100000.0,
            tie_word_embeddings=True,
        ),
        max_length=2048,
        rows=8,
        steps=25,
        loglik_items=256,
    ),
    Shape(
        "llama_1b",
        dict(
            vocab_size=128256,
            hidden_size=2048,
            intermediate_size=8192,
            num_hidden_layers=16,
            num_attention_heads=32,
            num_key_value_heads=8,
            rope_theta=500000.0,
            tie_word_embeddings=True,
        ),
        max_length=2048,
        rows=4,
        steps=20,
        loglik_items=256,
    ),
)
TINY_SHAPES = (  # tied embeddings, as both GPU shapes
    Shape(
        "tiny",
        dict(
            vocab_size=512,
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            tie_word_embeddings=True,
        ),
        max_length=128,
        rows=2,
        steps=3,
        loglik_items=8,
    ),
)


class _Forbid(importlib.abc.MetaPathFinder):
    """Import of any of ``names`` fails, as on a machine without them."""

    def __init__(self, names: Sequence[str]) -> None:
        self.names = tuple(names)

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> None:
        if fullname.split(".")[0] in self.names:
            raise ImportError(f"{fullname} is not available on a bare GPU machine (gpu_check)")
        return None


def forbid_imports(names: Sequence[str] = FORBIDDEN) -> None:
    """Make ``names`` unimportable in this process (already imported ones count as a failure)."""
    loaded = sorted({m.split(".")[0] for m in sys.modules} & set(names))
    if loaded:
        raise RuntimeError(f"already imported before the check: {loaded}")
    sys.meta_path.insert(0, _Forbid(names))


def one_line(e: BaseException) -> str:
    text = " ".join(str(e).split())
    return f"{type(e).__name__}: {text}"[:400]


def words() -> list[str]:
    out: list[str] = []
    for f in sorted((ROOT / "src" / "msm" / "data" / "specs").glob("*.md")):
        out += f.read_text(encoding="utf-8").split()
    return out


def passage(rng: random.Random, pool: list[str], lo: int, hi: int) -> str:
    k = rng.randint(lo, hi)
    start = rng.randrange(0, max(1, len(pool) - k))
    return " ".join(pool[start : start + k])


def write_data(
    folder: Path, n_docs: int, n_chats: int, max_length: int, seed: int = 0
) -> tuple[Path, Path]:
    """documents.jsonl (midtraining) and cot.jsonl (AFT chats, each well under
    ``max_length`` tokens) from the bundled specs' words."""
    reply = max(10, min(300, max_length // 6))
    pool, rng = words(), random.Random(seed)
    docs, chats = folder / "documents.jsonl", folder / "cot.jsonl"
    with docs.open("w", encoding="utf-8") as fh:
        for _ in range(n_docs):
            fh.write(json.dumps({"text": passage(rng, pool, 80, 700)}) + "\n")
    with chats.open("w", encoding="utf-8") as fh:
        for _ in range(n_chats):
            msgs = [
                {"role": "user", "content": passage(rng, pool, reply // 4, reply // 2)},
                {"role": "assistant", "content": passage(rng, pool, reply // 2, reply)},
            ]
            fh.write(json.dumps({"messages": msgs}) + "\n")
    return docs, chats


CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def build_tokenizer(folder: Path, docs: Path, vocab: int) -> Any:
    """A byte-level BPE tokenizer trained on ``docs`` (no download), saved in ``folder``."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    texts = [json.loads(line)["text"] for line in docs.read_text(encoding="utf-8").splitlines()]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    special = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    trainer = trainers.BpeTrainer(
        vocab_size=vocab,
        special_tokens=special,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<|im_start|>",
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token="<|endoftext|>",
    )
    fast.chat_template = CHATML
    fast.save_pretrained(folder)
    return fast


def build_model(folder: Path, shape: Shape, tok: Any, device: str) -> dict[str, int]:
    """A random Llama of ``shape`` saved in bf16 to ``folder``; its parameter counts."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    cfg = LlamaConfig(
        **shape.config,
        max_position_embeddings=max(8192, shape.max_length),
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
    )
    torch.manual_seed(0)
    with torch.device(device):
        model = LlamaForCausalLM(cfg).to(torch.bfloat16)
    linear = sum(m.weight.numel() for m in model.modules() if isinstance(m, torch.nn.Linear))
    total = sum(p.numel() for p in model.parameters())
    model.save_pretrained(folder, safe_serialization=True)
    tok.save_pretrained(folder)
    del model
    return {"parameters": total, "linear_parameters": linear}


class Clock:
    """Device-aware timing and peak memory of one part."""

    def __init__(self, cuda: bool) -> None:
        self.cuda = cuda

    def sync(self) -> None:
        if self.cuda:
            import torch

            torch.cuda.synchronize()

    def reset(self) -> None:
        if self.cuda:
            import torch

            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()

    def peak_gib(self) -> float | None:
        if not self.cuda:
            return None
        import torch

        return round(float(torch.cuda.max_memory_allocated()) / 2**30, 3)


def throughput(step_s: list[float], doc_tokens_per_step: float, warmup: int) -> dict[str, Any]:
    timed = step_s[warmup:] if len(step_s) > warmup else step_s[-1:]
    secs = sum(timed)
    return {
        "timed_steps": len(timed),
        "warmup_steps": len(step_s) - len(timed),
        "median_step_s": round(sorted(timed)[len(timed) // 2], 5),
        "tokens_per_s": round(doc_tokens_per_step * len(timed) / secs, 2) if secs > 0 else None,
    }


def mfu(tokens_per_s: float | None, flops_per_token: float, peak_tflops: float | None) -> Any:
    if tokens_per_s is None or peak_tflops is None:
        return None
    return round(tokens_per_s * flops_per_token / (peak_tflops * 1e12), 4)


def flops_per_token(counts: dict[str, int], method: str, trainable: int) -> float:
    if method == "full":
        return 6.0 * counts["linear_parameters"]
    return 4.0 * counts["linear_parameters"] + 6.0 * trainable


def run_msm(
    ctx: Context, shape: Shape, stage: str, method: str, model_dir: Path, data: Path
) -> dict[str, Any]:
    """One ``run_train`` on ``data``; throughput from its own per-step timer (loss.csv)."""
    from msm.train import TrainConfig, run_train

    out = ctx.tmp / f"{shape.name}-{stage}-{method}"
    cfg = TrainConfig(
        stage=stage,
        base=str(model_dir),
        data=str(data),
        method=method,
        precision="bf16" if ctx.cuda else "fp32",
        max_length=shape.max_length,
        micro_batch_size=shape.rows,
        max_steps=shape.steps,
        save_every=10**6,  # no mid-run checkpoints: they would be timed as steps
        learning_rate=2e-4 if method == "lora" else 5e-5,
        lora_r=64,
        lora_alpha=128.0,
        threads=None if ctx.cuda else 1,  # see main(): tiny CPU runs use one thread
    )
    man = run_train(cfg, out, echo=ctx.say).manifest
    elapsed = [float(r.split(",")[4]) for r in (out / "loss.csv").read_text().splitlines()[1:]]
    step_s = [b - a for a, b in zip([0.0, *elapsed], elapsed, strict=False)]
    losses = [float(r.split(",")[2]) for r in (out / "loss.csv").read_text().splitlines()[1:]]
    pad = float(man["data_stats"]["padding_fraction"])
    slots = int(man["global_batch_rows"]) * shape.max_length
    res = throughput(step_s, slots * (1.0 - pad), ctx.warmup)
    fpt = flops_per_token(ctx.counts[shape.name], method, int(man["trainable_parameters"]))
    res.update(
        steps=man["steps"],
        tokens_per_step=slots,
        padding_fraction=pad,
        loss_first_last=[round(losses[0], 4), round(losses[-1], 4)],
        trainable_parameters=man["trainable_parameters"],
        precision=man["hardware"]["precision"],
        saved=man["saved"],
        model_tflops_per_s=round((res["tokens_per_s"] or 0) * fpt / 1e12, 3),
        mfu=mfu(res["tokens_per_s"], fpt, ctx.peak),
        mfu_vs_measured_matmul=mfu(res["tokens_per_s"], fpt, ctx.measured_peak),
        wall_s_in_run_train=man["wall_seconds"],
    )
    import shutil

    shutil.rmtree(out, ignore_errors=True)
    return res


def value_items(n: int, seed: int = 0) -> list[Any]:
    from msm.evals.values.items import ValueItem

    pool, rng = words(), random.Random(seed)
    return [
        ValueItem(
            id=f"q{i}",
            domain=f"d{i % 3}",
            question=passage(rng, pool, 20, 80),
            aligned=passage(rng, pool, 3, 25),
            other=passage(rng, pool, 3, 25),
        )
        for i in range(n)
    ]


def run_loglik(ctx: Context, shape: Shape, model_dir: Path) -> dict[str, Any]:
    """The scorer on ``ctx.device`` (fp32, as ``msm eval`` scores); the CPU's answer beside it."""
    import torch

    from msm.evals.loglik import load_model, load_tokenizer, option_logliks

    tok = load_tokenizer(str(model_dir))
    model = load_model(str(model_dir)).to(ctx.device)
    items = value_items(shape.loglik_items)
    option_logliks(tok, model, items[:16])  # warm-up: kernels, allocator
    ctx.clock.sync()
    t = time.perf_counter()
    rows = option_logliks(tok, model, items)
    ctx.clock.sync()
    secs = time.perf_counter() - t
    scored = sum(r["tokens_aligned"] + r["tokens_other"] for r in rows)
    res: dict[str, Any] = {
        "device": str(ctx.device),
        "dtype": "float32",
        "items": len(rows),
        "items_per_s": round(len(rows) / secs, 2),
        "answer_tokens_per_s": round(scored / secs, 2),
        "finite": all(
            torch.isfinite(torch.tensor([r["ll_aligned"], r["ll_other"]])).all() for r in rows
        ),
    }
    if ctx.cuda and shape is ctx.shapes[0]:  # the same items on the CPU: do they agree?
        cpu_rows = option_logliks(tok, model.to("cpu"), items[:16])
        res["max_abs_diff_vs_cpu_nats"] = max(
            abs(a[k] - b[k])
            for a, b in zip(rows, cpu_rows, strict=False)
            for k in ("ll_aligned", "ll_other")
        )
    if not res["finite"]:
        raise RuntimeError("non-finite log-likelihoods")
    del model
    return res


def run_packed_attention(ctx: Context, model_dir: Path) -> dict[str, Any]:
    """Logits of 3 documents packed in one row vs each alone (msm's no-mask packing)."""
    import torch

    from msm.train.model_io import load_model

    model = load_model(str(model_dir), torch.float32).to(ctx.device).eval()
    g = torch.Generator().manual_seed(0)
    lens = [37, 64, 23]
    docs = [torch.randint(3, 200, (n,), generator=g) for n in lens]
    ids = torch.cat(docs)[None].to(ctx.device)
    pos = torch.cat([torch.arange(n) for n in lens])[None].to(ctx.device)
    with torch.inference_mode():
        packed = model(input_ids=ids, position_ids=pos, use_cache=False).logits[0]
        control = model(input_ids=ids, use_cache=False).logits[0]
        worst = worst_control = 0.0
        a = 0
        for d in docs:
            alone = model(input_ids=d[None].to(ctx.device), use_cache=False).logits[0]
            worst = max(worst, float((alone - packed[a : a + len(d)]).abs().max()))
            worst_control = max(worst_control, float((alone - control[a : a + len(d)]).abs().max()))
            a += len(d)
    del model
    res = {"max_abs_logit_diff": worst, "negative_control_max_abs_logit_diff": worst_control}
    if not (worst < 1e-3 and worst_control > 10 * worst):
        raise RuntimeError(f"packed documents attend across each other: {res}")
    return res


TRL_OVERRIDES: dict[str, Any] = {
    "gradient_checkpointing": False,
    "packing": True,
    "packing_strategy": "bfd_split",
}


def run_trl(ctx: Context, shape: Shape, method: str, model_dir: Path, docs: Path) -> Any:
    """The msm midtraining step through ``trl.SFTTrainer``: tokens/s from step callbacks."""
    if importlib.util.find_spec("trl") is None:
        return "trl not installed"
    import torch
    from accelerate.state import AcceleratorState
    from datasets import load_dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
    from trl import SFTConfig, SFTTrainer  # type: ignore[attr-defined]

    AcceleratorState._reset_state(reset_partial_state=False)  # as msm does between runs
    tok = AutoTokenizer.from_pretrained(model_dir)
    dtype = torch.bfloat16 if (method == "lora" and ctx.cuda) else torch.float32
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype, attn_implementation="sdpa")
    peft_config = None
    if method == "lora":
        from peft import LoraConfig

        peft_config = LoraConfig(
            r=64, lora_alpha=128, target_modules="all-linear", task_type="CAUSAL_LM"
        )
    ds = load_dataset("json", data_files=str(docs), split="train")
    out = ctx.tmp / f"trl-{shape.name}-{method}"
    args = SFTConfig(
        output_dir=str(out),
        max_length=shape.max_length,
        per_device_train_batch_size=shape.rows,
        learning_rate=2e-4 if method == "lora" else 5e-5,
        lr_scheduler_type="cosine",
        warmup_steps=0.05,  # a ratio of the steps, as msm's warmup_ratio
        weight_decay=0.01,
        max_steps=shape.steps,
        save_strategy="no",
        report_to=[],
        logging_steps=10**6,
        dataset_text_field="text",
        bf16=ctx.cuda,
        use_cpu=not ctx.cuda,
        disable_tqdm=True,
        **TRL_OVERRIDES,
    )
    trainer = SFTTrainer(
        model=model, args=args, train_dataset=ds, processing_class=tok, peft_config=peft_config
    )
    counts: list[int] = []
    times: list[float] = []
    collate = trainer.data_collator

    def counting(batch: Any) -> Any:
        b = collate(batch)
        m = b.get("attention_mask")
        counts.append(int(m.sum()) if m is not None else int(b["input_ids"].numel()))
        return b

    trainer.data_collator = counting
    clock = ctx.clock

    class StepClock(TrainerCallback):  # type: ignore[misc]
        t = 0.0

        def on_step_begin(self, *a: Any, **k: Any) -> None:
            clock.sync()
            self.t = time.perf_counter()

        def on_step_end(self, *a: Any, **k: Any) -> None:
            clock.sync()
            times.append(time.perf_counter() - self.t)

    trainer.add_callback(StepClock())
    trainer.train()
    trainable = sum(p.numel() for p in trainer.model.parameters() if p.requires_grad)
    w = min(ctx.warmup, max(0, len(times) - 1))
    secs, toks = sum(times[w:]), sum(counts[w : len(times)])
    tps = round(toks / secs, 2) if secs > 0 else None
    fpt = flops_per_token(ctx.counts[shape.name], method, trainable)
    res = {
        "timed_steps": len(times) - w,
        "warmup_steps": w,
        "tokens_per_s": tps,
        "mfu": mfu(tps, fpt, ctx.peak),
        "mfu_vs_measured_matmul": mfu(tps, fpt, ctx.measured_peak),
        "in_effect": {
            "bf16": bool(args.bf16),
            "optim": str(args.optim),
            "padding_free": bool(getattr(trainer, "padding_free", False)),
            "model_dtype": str(dtype),
            **TRL_OVERRIDES,
        },
    }
    del trainer, model
    return res


@dataclass
class Context:
    """What every part needs: the device, a scratch folder, the peaks, a clock, the results."""

    cuda: bool
    tmp: Path
    shapes: Sequence[Shape]
    warmup: int
    budget_s: float
    peak: float | None  # datasheet dense bf16 TFLOP/s, None when unknown
    only: set[str]
    measured_peak: float | None = None
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    parts: dict[str, dict[str, Any]] = field(default_factory=dict)
    t0: float = field(default_factory=time.perf_counter)
    modules_msm: list[str] = field(default_factory=list)
    save: Callable[[], None] | None = None

    @property
    def device(self) -> str:
        return "cuda" if self.cuda else "cpu"

    @property
    def clock(self) -> Clock:
        return Clock(self.cuda)

    def say(self, line: str) -> None:
        if self.cuda:  # msm's progress lines; on the CPU the tiny run stays quiet
            print(line, file=sys.stderr, flush=True)

    def part(self, key: str, fn: Callable[[], Any], needed: bool = False) -> bool:
        """Run one part: ok with its figures, failed with the one-line error, or skipped
        (a string result, the time budget, ``--only`` unless ``needed``). True when ok."""
        kind = key.split(":", 1)[-1]
        if self.only and not needed and not {kind, key} & self.only:
            return False
        longest = max((p["seconds"] for p in self.parts.values() if "seconds" in p), default=0.0)
        if time.perf_counter() - self.t0 + longest > self.budget_s:
            # it could not finish inside the budget if it took as long as the longest so far
            self.parts[key] = {"status": "skipped", "reason": f"time budget {self.budget_s:.0f} s"}
            print(f"{key}: skipped (time budget)", flush=True)
            return False
        self.clock.reset()
        t = time.perf_counter()
        try:
            res = fn()
        except Exception as e:  # noqa: BLE001 - one failing part must not stop the others
            entry: dict[str, Any] = {"status": "failed", "error": one_line(e)}
            traceback.print_exc()
        else:
            ok = isinstance(res, dict)
            entry = {"status": "ok", **res} if ok else {"status": "skipped", "reason": str(res)}
        entry["seconds"] = round(time.perf_counter() - t, 2)
        entry["peak_gpu_memory_gib"] = self.clock.peak_gib()
        self.parts[key] = entry
        if self.save is not None:  # after every part: a run cut short still leaves its JSON
            self.save()
        gc.collect()
        print(f"{key}: {entry['status']} {_brief(entry)}", flush=True)
        return bool(entry["status"] == "ok")


def measure_bf16_matmul(ctx: Context, n: int = 8192, reps: int = 10) -> dict[str, Any]:
    """TFLOP/s of an n x n x n bf16 matmul on random data (events; after 3 warm-ups)."""
    import torch

    a = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
    b = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
    for _ in range(3):
        a @ b
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(reps):
        a @ b
    end.record()
    torch.cuda.synchronize()
    ctx.measured_peak = round(2 * n**3 * reps / (start.elapsed_time(end) / 1e3) / 1e12, 1)
    return {"tflops": ctx.measured_peak, "what": f"{n}^3 bf16 matmul, random data, mean of {reps}"}


def datasheet_peak(name: str) -> float | None:
    for key, tflops in BF16_PEAKS:
        if key in name:
            return tflops
    return None


def versions() -> dict[str, str | None]:
    from importlib.metadata import PackageNotFoundError, version

    out: dict[str, str | None] = {"python": platform.python_version()}
    for p in ("torch", "transformers", "peft", "accelerate", "trl", "datasets", "pydantic"):
        try:
            out[p] = version(p)
        except PackageNotFoundError:
            out[p] = None
    return out


def third_party_modules() -> list[str]:
    """Top-level packages imported so far that are not in the standard library."""
    std = set(sys.stdlib_module_names)
    return sorted({m.split(".")[0] for m in sys.modules} - std - {"__main__", "msm"})


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def check_shape(ctx: Context, shape: Shape, tok: Any, docs: Path, chats: Path) -> None:
    """Every part on one model shape; the model folder is removed after."""
    import shutil

    model_dir = ctx.tmp / shape.name

    def build() -> dict[str, Any]:
        ctx.counts[shape.name] = build_model(model_dir, shape, tok, ctx.device)
        return {
            **ctx.counts[shape.name],
            "config": shape.config,
            "max_length": shape.max_length,
            "rows_per_step": shape.rows,
            "steps": shape.steps,
        }

    if not ctx.part(f"{shape.name}:build", build, needed=True):
        return
    for stage, data in (("midtrain", docs), ("aft", chats)):
        for method in ("lora", "full"):
            ctx.part(
                f"{shape.name}:msm_{stage}_{method}",
                functools.partial(run_msm, ctx, shape, stage, method, model_dir, data),
            )
    ctx.part(f"{shape.name}:loglik", lambda: run_loglik(ctx, shape, model_dir))
    if shape is ctx.shapes[0]:
        ctx.part(f"{shape.name}:packed_attention", lambda: run_packed_attention(ctx, model_dir))
        ctx.modules_msm = third_party_modules()  # before TRL: what msm's paths imported
    for method in ("lora", "full"):
        ctx.part(
            f"{shape.name}:trl_midtrain_{method}",
            functools.partial(run_trl, ctx, shape, method, model_dir, docs),
        )
    shutil.rmtree(model_dir, ignore_errors=True)


def default_out(cuda: bool) -> Path:
    if os.environ.get("OUT"):  # the device tool brings $OUT back
        return Path(os.environ["OUT"]) / "gpu_check.json"
    return ROOT / "benchmarks" / "results" / ("gpu_check.json" if cuda else "gpu_check_tiny.json")


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--tiny", action="store_true", help="tiny model on the CPU (auto: no CUDA)")
    ap.add_argument("--budget-s", type=float, default=None, help="start no part after this")
    ap.add_argument("--warmup", type=int, default=None, help="first steps not timed")
    ap.add_argument("--out", default=None, help="JSON path (default $OUT or benchmarks/results)")
    ap.add_argument("--only", default="", help="comma-separated part names (quick checks)")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    forbid_imports()
    import torch

    cuda = torch.cuda.is_available() and not args.tiny
    if not cuda:
        # tiny ops gain nothing from threads, and threads of a shared CPU lose badly to
        # other load (docs/LOG.md): one thread keeps the CI run short and steady
        torch.set_num_threads(1)
    name = torch.cuda.get_device_name(0) if cuda else cpu_model()
    peak = datasheet_peak(name) if cuda else None
    ctx = Context(
        cuda=cuda,
        tmp=Path(tempfile.mkdtemp(prefix="msm-gpu-check-")),
        shapes=GPU_SHAPES if cuda else TINY_SHAPES,
        warmup=args.warmup if args.warmup is not None else (3 if cuda else 1),
        budget_s=args.budget_s if args.budget_s is not None else (420.0 if cuda else 180.0),
        peak=peak,
        only={s for s in args.only.split(",") if s},
        t0=t0,
    )
    report: dict[str, Any] = {
        "benchmark": "gpu_check",
        "command": " ".join(["python", *sys.argv]),
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "mode": "gpu" if cuda else "tiny-cpu",
        "device": device_facts(cuda, name),
        "versions": versions(),
        "git_revision": _git_rev(),
        "loadavg_start": [round(x, 2) for x in os.getloadavg()],
        "bf16_peak_tflops": peak if peak is not None else "unknown",
        "bf16_peak_source": "vendor datasheet, dense" if peak is not None else None,
        "budget_s": ctx.budget_s,
        "warmup_steps": ctx.warmup,
        "flops_note": "per token: full 6 x linear params; LoRA 4 x frozen linear + 6 x adapter;"
        " attention scores not counted",
        "forbidden_imports": list(FORBIDDEN),
        "parts": ctx.parts,
    }
    print(f"gpu_check on {name} ({report['mode']}): {report['versions']}", flush=True)
    out = Path(args.out) if args.out else default_out(cuda)
    ctx.save = lambda: write_report(report, ctx, out)
    try:
        if cuda:
            ctx.part("bf16_matmul", lambda: measure_bf16_matmul(ctx))
        need = max(s.steps * s.rows * s.max_length for s in ctx.shapes)
        shortest = min(s.max_length for s in ctx.shapes)
        (ctx.tmp / "data").mkdir()
        docs, chats = write_data(
            ctx.tmp / "data", need // 400 + 50, need // (shortest // 8) + 50, shortest
        )
        vocab = min(s.config["vocab_size"] for s in ctx.shapes)
        tok = build_tokenizer(ctx.tmp / "tokenizer", docs, min(vocab, 8192))
        for shape in ctx.shapes:
            check_shape(ctx, shape, tok, docs, chats)
    finally:
        import shutil

        shutil.rmtree(ctx.tmp, ignore_errors=True)
    write_report(report, ctx, out)
    print(f"wrote {out} in {report['elapsed_s']} s: {report['summary']}", flush=True)
    return 0


def write_report(report: dict[str, Any], ctx: Context, out: Path) -> None:
    """The JSON as it stands (written after every part, and at the end)."""
    report["modules_imported_by_msm_parts"] = ctx.modules_msm
    report["ratios_msm_over_trl"] = ratios(ctx.parts, ctx.shapes)
    statuses = [p["status"] for p in ctx.parts.values()]
    report["summary"] = {s: statuses.count(s) for s in ("ok", "failed", "skipped")}
    report["elapsed_s"] = round(time.perf_counter() - ctx.t0, 2)
    report["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    report["max_rss_gib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(json.dumps(report, indent=2) + "\n")
    tmp.replace(out)


def device_facts(cuda: bool, name: str) -> dict[str, Any]:
    import torch

    facts: dict[str, Any] = {"name": name, "cuda": cuda, "cpu": cpu_model()}
    facts["cpu_count"] = os.cpu_count()
    if cuda:
        props = torch.cuda.get_device_properties(0)
        facts["gpu_memory_gib"] = round(props.total_memory / 2**30, 1)
        facts["capability"] = list(torch.cuda.get_device_capability(0))
        facts["multiprocessors"] = props.multi_processor_count
    return facts


def ratios(parts: dict[str, Any], shapes: Sequence[Shape]) -> dict[str, float]:
    out = {}
    for s in shapes:
        for m in ("lora", "full"):
            a = parts.get(f"{s.name}:msm_midtrain_{m}", {})
            b = parts.get(f"{s.name}:trl_midtrain_{m}", {})
            if a.get("tokens_per_s") and b.get("tokens_per_s"):
                out[f"{s.name}:midtrain_{m}"] = round(a["tokens_per_s"] / b["tokens_per_s"], 3)
    return out


def _brief(p: dict[str, Any]) -> str:
    keys = ("tokens_per_s", "mfu", "items_per_s", "tflops", "max_abs_logit_diff", "error", "reason")
    return " ".join(f"{k}={p[k]}" for k in keys if k in p) + f" ({p.get('seconds')} s)"


def _git_rev() -> str | None:
    from _bench import git_rev  # the benchmarks' own helper (benchmarks/ is on the path)

    return git_rev()


if __name__ == "__main__":
    sys.exit(main())
