"""Midtraining throughput: ``msm train midtrain`` vs a plain TRL ``SFTTrainer``.

The bundled SmolLM2-135M, the same documents, sequence length (512) and global
batch (4 sequences), in one run, each configuration in its own subprocess:

* ``msm_full`` / ``msm_lora``: ``msm train midtrain --method full|lora`` (msm's
  defaults: packing without cross-document attention, precision picked by
  measurement, fused AdamW);
* ``trl_default_full`` / ``trl_default_lora``: ``SFTTrainer`` with its default
  settings, changing only what must match (max_length, batch size, learning
  rate, step count) plus ``use_cpu=True``, without which TRL's default
  (``bf16=True``) refuses to start on a machine with no GPU — the baseline a
  user would otherwise write. On a CPU without fast bf16 it is so slow that it
  is timed over ``--default-steps`` steps with no warm-up step (the one-time
  start-up cost is a few seconds of a ~10-minute step);
* ``trl_fp32_full``: the same with ``bf16=False`` (what a user would switch to
  on a CPU without fast bf16), as a second, fairer baseline.

Throughput = document tokens (padding excluded) per second, over the steps
after the first ``--warmup`` ones. MFU (full fine-tuning) = 6 x parameters x
tokens/s / peak, with the peak measured here: the best of several large square
matmuls, for bf16 and for fp32. Writes ``benchmarks/results/train_throughput.json``.

Run: ``python benchmarks/train_throughput.py`` (about 40 minutes on 2 AVX2
cores, mostly the TRL default, whose bf16 is emulated on such a CPU).
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


def run_msm(method: str, docs: Path, steps: int, warmup: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "ckpt"
        cmd = [sys.executable, "-m", "msm.cli", "train", "midtrain", "--base", "embedded"]
        cmd += ["--docs", str(docs), "--out", str(out), "--method", method]
        cmd += ["--max-length", str(SEQ), "--micro-batch-size", str(ROWS)]
        cmd += ["--max-steps", str(steps), "--save-every", str(10 * steps)]
        subprocess.run(cmd, check=True, capture_output=True, text=True)
        man = json.loads((out / "manifest.json").read_text())
        rows = (out / "loss.csv").read_text().splitlines()[1:]
    elapsed = [float(r.split(",")[4]) for r in rows]
    step_s = [b - a for a, b in zip([0.0, *elapsed], elapsed, strict=False)][warmup:]
    doc_frac = 1.0 - man["data_stats"]["padding_fraction"]
    tokens_per_step = SEQ * ROWS * doc_frac
    return {
        "tokens_per_s": tokens_per_step * len(step_s) / sum(step_s),
        "median_step_s": statistics.median(step_s),
        "steps_timed": len(step_s),
        "precision": man["hardware"]["precision"],
        "parameters": man["parameters"],
        "trainable_parameters": man["trainable_parameters"],
        "padding_fraction": man["data_stats"]["padding_fraction"],
    }


TRL_CHILD = r"""
import json, sys, time
import torch
from datasets import load_dataset
from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
from trl import SFTConfig, SFTTrainer
from msm.models import embedded_model_dir

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
json.dump({"times": times, "tokens": counts[: len(times)],
           "bf16": bool(args.bf16), "use_cpu": bool(args.use_cpu),
           "gradient_checkpointing": bool(args.gradient_checkpointing),
           "packing": bool(args.packing), "padding_free": bool(args.padding_free)}, sys.stdout)
"""


def run_trl(method: str, docs: Path, steps: int, warmup: int, extra: dict) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-c", TRL_CHILD, str(docs), method, str(steps), str(ROWS)]
        cmd += [str(SEQ), json.dumps(extra), tmp]
        res = subprocess.run(cmd, check=False, capture_output=True, text=True)
    if res.returncode != 0:
        raise SystemExit(f"TRL run failed ({method}, {extra}): {res.stderr.strip()[-600:]}")
    data = json.loads(res.stdout.strip().splitlines()[-1])
    times, toks = data.pop("times")[warmup:], data.pop("tokens")[warmup:]
    return {
        "tokens_per_s": sum(toks) / sum(times),
        "median_step_s": statistics.median(times),
        "steps_timed": len(times),
        "settings_in_effect": data,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=6, help="optimizer steps per msm/TRL-fp32 run")
    ap.add_argument("--warmup", type=int, default=2, help="first steps not timed")
    ap.add_argument("--default-steps", type=int, default=1, help="steps for the slow TRL default")
    ap.add_argument("--skip-trl-default", action="store_true")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "train_throughput.json"))
    args = ap.parse_args()
    import torch

    torch.set_num_threads(os.cpu_count() or 1)
    tmp = Path(tempfile.mkdtemp())
    docs = tmp / "documents.jsonl"
    make_docs(docs, 400)
    peaks = {"bf16": peak_gflops("bfloat16"), "fp32": peak_gflops("float32")}
    print(f"peaks GFLOP/s: {peaks}", flush=True)
    res: dict = {}
    for name, fn in [
        ("msm_full", lambda: run_msm("full", docs, args.steps, args.warmup)),
        ("msm_lora", lambda: run_msm("lora", docs, args.steps, args.warmup)),
        ("trl_fp32_full", lambda: run_trl("full", docs, args.steps, args.warmup, {"bf16": False})),
        ("trl_fp32_lora", lambda: run_trl("lora", docs, args.steps, args.warmup, {"bf16": False})),
    ]:
        res[name] = fn()
        print(name, json.dumps(res[name]), flush=True)
    if not args.skip_trl_default:
        for method in ("full", "lora"):
            name = f"trl_default_{method}"
            res[name] = run_trl(method, docs, args.default_steps, 0, {"use_cpu": True})
            print(name, json.dumps(res[name]), flush=True)
    n = res["msm_full"]["parameters"]
    flops = 6 * n * res["msm_full"]["tokens_per_s"] / 1e9
    prec = res["msm_full"]["precision"]
    summary = {
        "msm_full_mfu_vs_bf16_peak": flops / peaks["bf16"],
        "msm_full_mfu_vs_fp32_peak": flops / peaks["fp32"],
        "msm_full_mfu_vs_peak_of_precision_used": flops / peaks[prec],
        "msm_precision": prec,
        "full_vs_trl_fp32": res["msm_full"]["tokens_per_s"] / res["trl_fp32_full"]["tokens_per_s"],
        "lora_vs_trl_fp32": res["msm_lora"]["tokens_per_s"] / res["trl_fp32_lora"]["tokens_per_s"],
    }
    for m in ("full", "lora"):
        if f"trl_default_{m}" in res:
            summary[f"{m}_vs_trl_default"] = (
                res[f"msm_{m}"]["tokens_per_s"] / res[f"trl_default_{m}"]["tokens_per_s"]
            )
    result = {
        "benchmark": "train_throughput",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform()},
        "sequence_length": SEQ,
        "global_batch_rows": ROWS,
        "peak_gflops": peaks,
        "results": res,
        "summary": summary,
    }
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
