"""Midtraining throughput: ``msm train midtrain`` vs TRL's ``SFTTrainer``, framed fairly.

The bundled SmolLM2-135M, the same 400 synthetic documents, sequence length 512
and global batch 4 rows (2,048 token slots per optimizer step), full fine-tuning
and LoRA (r64, alpha 128, all linear layers), each configuration in its own
subprocess. Rows, with every setting that differs recorded in the JSON:

* ``msm_*``: ``msm train midtrain`` with its defaults (precision picked by
  measurement, fp32 on a CPU that emulates bf16; no gradient checkpointing;
  documents packed into rows with restarting position ids and a block-diagonal
  mask, long documents split, nothing truncated; fused AdamW);
* ``trl_fp32_*``: ``SFTTrainer`` with ``bf16=False``, otherwise TRL's defaults
  (gradient checkpointing on, one document per row padded to the longest in the
  batch, documents truncated at 512 tokens);
* ``trl_fp32_nogc_*``: the same with ``gradient_checkpointing=False``;
* ``trl_fp32_nogc_packed_*``: the strongest fair TRL setting we found: also
  ``packing=True, packing_strategy="bfd_split"`` (best-fit-decreasing packing
  that splits long documents instead of truncating them; TRL turns on
  padding-free batches for it). With sdpa attention on CPU this works and does
  not attend across documents: the child checks it on the first batch (logits
  of each packed document against the document alone; the JSON records the
  largest difference, and a negative control with positions not restarted);
* ``trl_default_*``: ``SFTTrainer`` with TRL's defaults plus ``use_cpu=True``
  (without it TRL's default ``bf16=True`` refuses to start with no GPU): bf16
  autocast, gradient checkpointing, padding. On a CPU without native bf16 a
  step takes minutes, so it runs ``--default-steps`` steps with none excluded
  as warm-up (stated in the JSON).

The fast rows first run ``--warmup-rounds`` untimed rounds (the first run of each row
was slower in every step: 292 tok/s against 368-411 in the three rounds after it, in
``train_throughput_20261208.json``), then ``--repeats`` timed rounds, interleaved (round
2 in reverse order) to spread drift from other load on a shared machine; a row whose
repeats spread by more than ``--max-spread`` (10%: (fastest - slowest repeat) / pooled
rate) gets further rounds, up to ``--max-repeats``, and the JSON names any row still
over the limit. A rate is the median over timed steps of each step's tokens per second
(the plain ratio of sums is recorded beside it).
``--msm-precision fp32`` runs the msm rows in fp32, like for like with the trl_fp32
rows, on a CPU where ``auto`` would pick bf16. Every fast row excludes the
same ``--warmup`` steps and times the same number of steps. Throughput =
document tokens (padding excluded) per second of each timed step, its median
pooled over the repeats; per-repeat figures and step-time spread are recorded. TRL steps are
timed from ``on_step_begin`` to ``on_step_end`` (batch collation excluded); msm
steps are its own per-step timer (batch assembly included). msm's document
tokens per step use its padding fraction over the whole plan (about 1%).

Model FLOP/s = 6 x parameters x tokens/s (full fine-tuning only; LoRA skips the
weight gradients, so 6N would overstate it). MFU is reported only against the
measured peak of the precision the row computes in: fp32 rows against the best
fp32 square matmul. The bf16-autocast rows get no MFU: the emulated bf16 matmul
probe is not a valid peak for the kernels autocast uses (see the JSON note).
Writes ``benchmarks/results/train_throughput.json``.

Run: ``python benchmarks/train_throughput.py`` (about 1.5 hours on 2 AVX2 cores:
2 repeats of 8 fast rows plus 2 single-step TRL-default rows in emulated bf16).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
SEQ, ROWS = 512, 4
LORA = "r64, alpha 128, all linear layers, dropout 0"


def make_docs(path: Path, n: int, seed: int = 0) -> None:
    """Documents of 80-700 words drawn from the bundled specs' vocabulary."""
    words = []
    for f in sorted((ROOT / "src" / "msm" / "data" / "specs").glob("*.md")):
        words += f.read_text().split()
    rng = random.Random(seed)
    with path.open("w") as fh:
        for _ in range(n):
            k = rng.randint(80, 700)
            start = rng.randrange(0, max(1, len(words) - k))
            fh.write(json.dumps({"text": " ".join(words[start : start + k])}) + "\n")


def cpu_info() -> dict:
    """The CPU model and the flags that decide bf16 speed (AMX, AVX-512)."""
    model, flags = "unknown", set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, val = line.partition(":")
            if key.strip() == "model name" and model == "unknown":
                model = val.strip()
            elif key.strip() == "flags" and not flags:
                flags = set(val.split())
    except OSError:
        pass
    wanted = ("avx2", "fma", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile")
    return {"model_name": model, "flags_of_interest": [f for f in wanted if f in flags]}


def git_state() -> dict:
    def git(*a: str) -> str:
        r = subprocess.run(["git", *a], cwd=ROOT, capture_output=True, text=True, check=False)
        return r.stdout.strip()

    return {
        "revision": git("rev-parse", "HEAD"),
        "dirty_src": git("status", "--porcelain", "--", "src"),
    }


def peak_gflops(dtype_name: str, seconds: float = 3.0) -> float:
    import torch

    dtype = getattr(torch, dtype_name)
    best = 0.0
    for n in (512, 1024, 2048, 3072):
        a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
        t0 = time.perf_counter()
        a @ b  # warm-up (and a size probe: emulated bf16 takes seconds here)
        if time.perf_counter() - t0 > seconds:
            break
        t, k = time.perf_counter(), 0
        while time.perf_counter() - t < seconds / 4:
            a @ b
            k += 1
        best = max(best, 2 * n**3 * k / (time.perf_counter() - t) / 1e9)
    return best


MSM_PRECISION = ["auto"]  # --msm-precision (main sets it)


def run_msm(method: str, docs: Path, steps: int, warmup: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "ckpt"
        cmd = [sys.executable, "-m", "msm.cli", "train", "midtrain", "--base", "embedded"]
        cmd += ["--docs", str(docs), "--out", str(out), "--method", method]
        cmd += ["--max-length", str(SEQ), "--micro-batch-size", str(ROWS)]
        cmd += ["--max-steps", str(steps), "--save-every", str(10 * steps)]
        cmd += ["--precision", MSM_PRECISION[0]]
        res = subprocess.run(cmd, check=False, capture_output=True, text=True)
        if res.returncode != 0:
            raise SystemExit(f"msm run failed ({method}): {res.stderr.strip()[-800:]}")
        man = json.loads((out / "manifest.json").read_text())
        rows = (out / "loss.csv").read_text().splitlines()[1:]
    elapsed = [float(r.split(",")[4]) for r in rows]
    step_s = [b - a for a, b in zip([0.0, *elapsed], elapsed, strict=False)]
    tokens_per_step = SEQ * ROWS * (1.0 - man["data_stats"]["padding_fraction"])
    return {
        "step_s": step_s,
        "tokens": [tokens_per_step] * len(step_s),
        "in_effect": {
            "precision": man["hardware"]["precision"],
            "parameters": man["parameters"],
            "trainable_parameters": man["trainable_parameters"],
            "padding_fraction": man["data_stats"]["padding_fraction"],
        },
    }


TRL_CHILD = r"""
import json, sys, time
import torch
from datasets import load_dataset
from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
from trl import SFTConfig, SFTTrainer
from msm.llm.bundled import embedded_model_dir

docs, method, steps, rows, seq, extra, out = sys.argv[1:8]
extra = json.loads(extra)
d = embedded_model_dir()
tok = AutoTokenizer.from_pretrained(d)
model = AutoModelForCausalLM.from_pretrained(d)
peft_config = None
if method == "lora":
    from peft import LoraConfig
    peft_config = LoraConfig(r=64, lora_alpha=128, target_modules="all-linear",
                             task_type="CAUSAL_LM")
ds = load_dataset("json", data_files=docs, split="train")
args = SFTConfig(output_dir=out, max_length=int(seq), per_device_train_batch_size=int(rows),
                 learning_rate=1e-4, max_steps=int(steps), save_strategy="no", report_to=[],
                 dataset_text_field="text", **extra)
trainer = SFTTrainer(model=model, args=args, train_dataset=ds, processing_class=tok,
                     peft_config=peft_config)


def leak_check():
    # Logits of each document in the first packed batch vs the same document alone; the
    # negative control feeds the same batch with positions 0..N-1 (no restarts).
    batch = next(iter(trainer.get_train_dataloader()))
    pos = batch["position_ids"][0]
    starts = (pos == 0).nonzero().flatten().tolist() + [pos.numel()]
    m = trainer.model
    was_training = m.training
    m.eval()
    kw = {k: v for k, v in batch.items() if k != "labels"}
    with torch.no_grad():
        packed = m(**kw, use_cache=False).logits[0]
        control = m(input_ids=batch["input_ids"], use_cache=False).logits[0]
        worst = worst_control = 0.0
        for a, e in zip(starts, starts[1:]):
            alone = m(input_ids=batch["input_ids"][:, a:e], use_cache=False).logits[0]
            worst = max(worst, float((alone - packed[a:e]).abs().max()))
            worst_control = max(worst_control, float((alone - control[a:e]).abs().max()))
    m.train(was_training)
    return {"documents_in_first_batch": len(starts) - 1, "max_abs_logit_diff": worst,
            "negative_control_max_abs_logit_diff": worst_control}


leak = leak_check() if trainer.padding_free else None
counts, times = [], []
collate = trainer.data_collator
def counting(batch):
    b = collate(batch)
    m = b.get("attention_mask")
    counts.append(int(m.sum()) if m is not None else int(b["input_ids"].numel()))
    return b
trainer.data_collator = counting
class Clock(TrainerCallback):
    def on_step_begin(self, a, s, c, **k): self.t = time.perf_counter()
    def on_step_end(self, a, s, c, **k): times.append(time.perf_counter() - self.t)
trainer.add_callback(Clock())
trainer.train()
json.dump({"times": times, "tokens": counts[: len(times)], "in_effect": {
           "bf16": bool(args.bf16), "use_cpu": bool(args.use_cpu),
           "gradient_checkpointing": bool(args.gradient_checkpointing),
           "packing": bool(args.packing), "packing_strategy": args.packing_strategy,
           "padding_free": bool(trainer.padding_free), "optim": str(args.optim),
           "attn_implementation": model.config._attn_implementation,
           "trainable_parameters": sum(p.numel() for p in trainer.model.parameters()
                                       if p.requires_grad),
           "leak_check": leak}}, sys.stdout)
"""


def run_trl(method: str, docs: Path, steps: int, extra: dict) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-c", TRL_CHILD, str(docs), method, str(steps), str(ROWS)]
        cmd += [str(SEQ), json.dumps(extra), tmp]
        res = subprocess.run(cmd, check=False, capture_output=True, text=True)
    if res.returncode != 0:
        raise SystemExit(f"TRL run failed ({method}, {extra}): {res.stderr.strip()[-800:]}")
    data = json.loads(res.stdout.strip().splitlines()[-1])
    return {"step_s": data["times"], "tokens": data["tokens"], "in_effect": data["in_effect"]}


# name -> (method, extra SFTConfig arguments or None for msm, settings for readers)
FP32_PAD = "fp32 (bf16=False)"
PADDED = "one document per row, padded to the batch's longest; truncated at 512 tokens"
CONFIGS: dict[str, tuple[str, dict | None, dict]] = {}
for _m in ("full", "lora"):
    CONFIGS[f"msm_{_m}"] = (
        _m,
        None,
        {
            "precision": "auto (measured; fp32 where bf16 is emulated)",
            "gradient_checkpointing": False,
            "packing": "packed rows, restarting position ids, block-diagonal attention; "
            "long documents split, nothing truncated",
        },
    )
    CONFIGS[f"trl_fp32_{_m}"] = (
        _m,
        {"bf16": False},
        {"precision": FP32_PAD, "gradient_checkpointing": True, "packing": PADDED},
    )
    CONFIGS[f"trl_fp32_nogc_{_m}"] = (
        _m,
        {"bf16": False, "gradient_checkpointing": False},
        {"precision": FP32_PAD, "gradient_checkpointing": False, "packing": PADDED},
    )
    CONFIGS[f"trl_fp32_nogc_packed_{_m}"] = (
        _m,
        {
            "bf16": False,
            "gradient_checkpointing": False,
            "packing": True,
            "packing_strategy": "bfd_split",
        },
        {
            "precision": FP32_PAD,
            "gradient_checkpointing": False,
            "packing": "packing=True, packing_strategy='bfd_split' (padding-free: the 4 rows "
            "flattened into one sequence with restarting position ids; long documents split)",
        },
    )
DEFAULTS = {
    f"trl_default_{m}": (
        m,
        {"use_cpu": True},
        {
            "precision": "bf16 autocast (TRL default bf16=True; emulated on CPUs without bf16)",
            "gradient_checkpointing": True,
            "packing": PADDED,
        },
    )
    for m in ("full", "lora")
}


def one_run(cfg: tuple, docs: Path, steps: int) -> dict:
    method, extra, _ = cfg
    load0 = os.getloadavg()
    r = run_msm(method, docs, steps, 0) if extra is None else run_trl(method, docs, steps, extra)
    r["loadavg_start"], r["loadavg_end"] = load0, os.getloadavg()
    return r


def log(name: str, r: dict) -> None:
    print(name, [round(x, 2) for x in r["step_s"]], r["loadavg_end"], flush=True)


def summarise(cfg: tuple, runs: list[dict], warmup: int) -> dict:
    """A row's throughput: the median over its timed steps of each step's document tokens
    per second (a step slowed by other load on the machine moves a median little, a sum of
    times a lot), pooled over the repeats and per repeat; the spread of the per-repeat
    medians; and the plain ratio of sums beside them."""
    method, extra, settings = cfg
    per_repeat, all_s, all_tok, all_rate = [], [], [], []
    for r in runs:
        s, t = r["step_s"][warmup:], r["tokens"][warmup:]
        rates = [tok / sec for tok, sec in zip(t, s, strict=True)]
        per_repeat.append(statistics.median(rates))
        all_s += s
        all_tok += t
        all_rate += rates
    tps = statistics.median(all_rate)
    return {
        "tool": "msm" if extra is None else "trl",
        "method": method,
        "settings": {
            **settings,
            "lora": LORA if method == "lora" else None,
            "rows_per_step": ROWS,
            "sequence_length": SEQ,
            "sft_config_overrides": extra,
            "warmup_steps_excluded": warmup,
            "timed_steps_per_repeat": len(runs[0]["step_s"]) - warmup,
            "repeats": len(runs),
        },
        "in_effect": runs[0]["in_effect"],
        "tokens_per_s": tps,
        "tokens_per_s_ratio_of_sums": sum(all_tok) / sum(all_s),
        "tokens_per_s_by_repeat": per_repeat,
        "spread_by_repeat": (max(per_repeat) - min(per_repeat)) / tps,
        "median_step_s": statistics.median(all_s),
        "step_s_min_max": [min(all_s), max(all_s)],
        "document_tokens_per_timed_step_mean": statistics.fmean(all_tok),
        "raw": [
            {k: r[k] for k in ("step_s", "tokens", "loadavg_start", "loadavg_end")} for r in runs
        ],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # 10 steps, 4 not timed: with 6 and 2, msm_full's in-run warm-up sometimes outlasted
    # the excluded steps (19% spread; 1.2% with these, train_throughput_20261208c_warmup4.json)
    ap.add_argument("--steps", type=int, default=10, help="optimizer steps per fast run")
    ap.add_argument("--warmup", type=int, default=4, help="first steps not timed (fast rows)")
    ap.add_argument("--repeats", type=int, default=2, help="interleaved rounds of the fast rows")
    ap.add_argument("--default-steps", type=int, default=1, help="steps for the slow TRL default")
    ap.add_argument("--skip-trl-default", action="store_true")
    ap.add_argument("--only", default="", help="comma-separated row names (for quick checks)")
    ap.add_argument(
        "--msm-precision",
        default="auto",
        choices=["auto", "fp32", "bf16"],
        help="msm rows' --precision (fp32: like for like with the trl_fp32 rows)",
    )
    ap.add_argument(
        "--max-spread",
        type=float,
        default=0.10,
        help="rows whose per-repeat spread exceeds this get more rounds, up to --max-repeats",
    )
    ap.add_argument("--max-repeats", type=int, default=5)
    ap.add_argument(
        "--warmup-rounds",
        type=int,
        default=1,
        help="untimed rounds of every fast row before the timed ones (first runs of a "
        "process tree are slower: page cache, allocator, thread pools)",
    )
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "train_throughput.json"))
    args = ap.parse_args()
    import torch

    torch.set_num_threads(os.cpu_count() or 1)
    load_start = os.getloadavg()
    docs = Path(tempfile.mkdtemp()) / "documents.jsonl"
    make_docs(docs, 400)
    peaks_start = {"bf16": peak_gflops("bfloat16"), "fp32": peak_gflops("float32")}
    print(f"peaks GFLOP/s: {peaks_start}", flush=True)
    only = {s for s in args.only.split(",") if s}
    fast = [n for n in CONFIGS if not only or n in only]
    runs: dict[str, list[dict]] = {n: [] for n in fast}
    MSM_PRECISION[0] = args.msm_precision
    for m in ("full", "lora"):
        CONFIGS[f"msm_{m}"][2]["precision"] = (
            "auto (measured: bf16 where it runs fast, else fp32)"
            if args.msm_precision == "auto"
            else args.msm_precision
        )
    warm: dict[str, list[dict]] = {n: [] for n in fast}
    for _ in range(args.warmup_rounds):  # untimed: recorded, never in a rate
        for name in fast:
            warm[name].append(one_run(CONFIGS[name], docs, args.steps))
            log(f"{name} (warm-up round)", warm[name][-1])
    k = 0
    todo = list(fast)
    while todo:  # interleaved rounds; a row whose repeats spread too far gets more rounds
        for name in todo if k % 2 == 0 else todo[::-1]:
            runs[name].append(one_run(CONFIGS[name], docs, args.steps))
            log(name, runs[name][-1])
        k += 1
        if k < args.repeats:
            continue
        spreads = {n: summarise(CONFIGS[n], runs[n], args.warmup)["spread_by_repeat"] for n in fast}
        todo = [n for n in fast if spreads[n] > args.max_spread and len(runs[n]) < args.max_repeats]
    res = {n: summarise(CONFIGS[n], runs[n], args.warmup) for n in fast}
    for n in fast:
        res[n]["warmup_rounds_step_s"] = [r["step_s"] for r in warm[n]]
    if not args.skip_trl_default:
        for name, cfg in DEFAULTS.items():
            if only and name not in only:
                continue
            r = one_run(cfg, docs, args.default_steps)
            log(name, r)
            res[name] = summarise(cfg, [r], 0)
    peaks_end = {"fp32": peak_gflops("float32")}
    fp32_peak = max(peaks_start["fp32"], peaks_end["fp32"])

    for row in res.values():
        ie, full = row["in_effect"], row["method"] == "full"
        n_params = ie.get("parameters") or ie.get("trainable_parameters")
        row["model_gflops_per_s"] = 6 * n_params * row["tokens_per_s"] / 1e9 if full else None
        fp32 = ie.get("precision") == "fp32" or ie.get("bf16") is False
        row["mfu"] = row["model_gflops_per_s"] / fp32_peak if full and fp32 else None
        row["mfu_peak"] = "fp32" if row["mfu"] is not None else None
    ratios = {}
    for m in ("full", "lora"):
        msm = res.get(f"msm_{m}")
        for name, row in res.items():
            if msm is None or row["tool"] != "trl" or row["method"] != m:
                continue
            entry = {"pooled": msm["tokens_per_s"] / row["tokens_per_s"]}
            if len(row["tokens_per_s_by_repeat"]) == len(msm["tokens_per_s_by_repeat"]):
                entry["by_repeat"] = [
                    a / b
                    for a, b in zip(
                        msm["tokens_per_s_by_repeat"], row["tokens_per_s_by_repeat"], strict=True
                    )
                ]
            ratios[f"msm_{m}_vs_{name}"] = entry
    result = {
        "benchmark": "train_throughput",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": {
            "cpu": cpu_info(),
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(),
            "loadavg_start": load_start,
            "loadavg_end": os.getloadavg(),
        },
        "git": git_state(),
        "versions": _versions(),
        "documents": "400 synthetic documents of 80-700 words from the bundled specs' words",
        "sequence_length": SEQ,
        "global_batch_rows": ROWS,
        "peak_gflops": {"start": peaks_start, "end": peaks_end, "fp32_used": fp32_peak},
        "mfu_note": mfu_note(res, peaks_start["bf16"]),
        "results": res,
        "ratios_msm_over_row": ratios,
        # spread_by_repeat = (fastest - slowest repeat) / pooled tokens per second
        "spread_limit": args.max_spread,
        "rows_over_spread_limit": [
            n
            for n, r in res.items()
            if len(r["raw"]) > 1 and r["spread_by_repeat"] > args.max_spread
        ],
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({n: round(r["tokens_per_s"], 2) for n, r in res.items()}, indent=2))
    print(json.dumps({n: round(r["pooled"], 3) for n, r in ratios.items()}, indent=2))


def mfu_note(res: dict, bf16_peak: float) -> str:
    note = (
        "MFU = 6 x parameters x tokens/s / the measured fp32 peak (best fp32 square matmul, "
        "start or end of the run), for full fine-tuning rows that compute in fp32 only. "
        "The bf16-autocast rows get no MFU"
    )
    row = res.get("trl_default_full")
    if row and row["model_gflops_per_s"] > bf16_peak:
        note += (
            f": their model FLOP/s ({row['model_gflops_per_s']:.2f} GFLOP/s) exceed the "
            f"measured bf16 matmul peak ({bf16_peak:.2f} GFLOP/s), so that probe is not a "
            "valid peak for the kernels autocast uses on this CPU (bf16 is emulated here)"
        )
    return note + "."


def _versions() -> dict:
    from importlib.metadata import version

    return {p: version(p) for p in ("torch", "transformers", "trl", "peft", "accelerate")}


if __name__ == "__main__":
    main()
