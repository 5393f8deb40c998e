"""How much batching moves a log-probability in local evaluation.

msm's local backend (and Inspect's ``hf`` provider) left-pads the prompts that share a
batch, and which prompts share a batch depends on when they arrive. This scores the same
prompts alone and left-padded next to longer ones and records the largest change of a
next-token log-probability. It explains why evaluation numbers of two runs of the same
model can differ in the 6th-8th decimal while training resumes bitwise.

Run: ``python benchmarks/eval_batch_invariance.py [--model PATH]`` (default: the bundled
SmolLM2-135M-Instruct); writes ``benchmarks/results/eval_batch_invariance.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROMPTS = [
    "Which cheese do you prefer, Colby or Brie?",
    "Is a cheaper cheese a better choice?",
    "Name one cheese made in America.",
]
LONG = (
    "A much longer question about cheese, prices, origins and the reasons behind every "
    "preference, written so that the short prompts beside it need left padding."
)


def _cpu() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None, help="HF folder (default: the bundled model)")
    ap.add_argument(
        "--out", default=str(ROOT / "benchmarks" / "results" / "eval_batch_invariance.json")
    )
    args = ap.parse_args()

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from msm.llm.bundled import embedded_model_dir

    path = args.model or str(embedded_model_dir())
    tok = AutoTokenizer.from_pretrained(path)
    tok.padding_side = "left"
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    rows = []
    with torch.no_grad():
        for p in PROMPTS:
            alone = model(**tok([p], return_tensors="pt")).logits[0, -1].log_softmax(-1)
            enc = tok([p, LONG], return_tensors="pt", padding=True)
            padded = model(**enc).logits[0, -1].log_softmax(-1)
            pads = int((enc["attention_mask"][0] == 0).sum())
            rows.append(
                {
                    "prompt": p,
                    "pad_tokens": pads,
                    "max_abs_logprob_change": float((alone - padded).abs().max()),
                    "top1_same": int(alone.argmax()) == int(padded.argmax()),
                }
            )
    result = {
        "command": "python benchmarks/eval_batch_invariance.py",
        "model": "bundled SmolLM2-135M-Instruct" if args.model is None else path,
        "dtype": "float32",
        "cpu": _cpu(),
        "torch": torch.__version__,
        "rows": rows,
        "max_abs_logprob_change": max(r["max_abs_logprob_change"] for r in rows),
    }
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
