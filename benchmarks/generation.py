"""Batched vs one-at-a-time generation on the bundled model, in one run.

16 prompts, greedy, the same max_tokens for every request. Modes:

* ``msm_batched``: all 16 sent concurrently through ``msm.llm.LLM("embedded")``;
  the local backend groups them into one batch;
* ``msm_sequential``: the same 16, awaited one after another;
* ``inspect_hf_batched`` / ``inspect_hf_sequential``: the same through Inspect's
  own ``hf`` provider, for comparison (it also batches, but waits for two quiet
  seconds before each batch; sequential uses only the first ``--inspect-seq`` prompts
  to keep the run short, and reports a rate).

Throughput = generated tokens / wall seconds. Writes JSON (default
``benchmarks/results/generation.json``). Run: ``python benchmarks/generation.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

TOPICS = [
    "rivers", "bread", "trains", "maps", "bees", "glass", "tides", "clocks",
    "salt", "kites", "moss", "ink", "bridges", "wool", "lanterns", "frost",
]  # fmt: skip


def prompts() -> list[str]:
    return [f"Write a short paragraph about {t}." for t in TOPICS]


async def run_llm(llm, ps: list[str], concurrent: bool) -> tuple[float, int]:
    t = time.perf_counter()
    if concurrent:
        outs = await asyncio.gather(*[llm.generate(p, allow_truncated=True) for p in ps])
    else:
        outs = [await llm.generate(p, allow_truncated=True) for p in ps]
    return time.perf_counter() - t, sum(o.output_tokens for o in outs)


async def run_inspect(model, ps: list[str], max_tokens: int, concurrent: bool) -> tuple[float, int]:
    from inspect_ai.model import ChatMessageUser, GenerateConfig

    cfg = GenerateConfig(max_tokens=max_tokens)

    async def one(p: str):
        return await model.generate([ChatMessageUser(content=p)], config=cfg)

    t = time.perf_counter()
    if concurrent:
        outs = await asyncio.gather(*[one(p) for p in ps])
    else:
        outs = [await one(p) for p in ps]
    return time.perf_counter() - t, sum(o.usage.output_tokens for o in outs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--inspect-seq", type=int, default=4)
    ap.add_argument("--skip-inspect", action="store_true")
    ap.add_argument("--out", default="benchmarks/results/generation.json")
    args = ap.parse_args()

    import torch

    from msm.llm import LLM, GenConfig
    from msm.llm.bundled import embedded_model_dir

    model_dir = embedded_model_dir()
    ps = prompts()
    llm = LLM("embedded", gen=GenConfig(max_tokens=args.max_tokens, temperature=0))
    asyncio.run(run_llm(llm, ps[:1], False))  # warm-up: load + first-step overheads

    results: dict[str, dict[str, float]] = {}

    def record(name: str, secs: float, toks: int, n: int) -> None:
        results[name] = {
            "requests": n,
            "seconds": round(secs, 2),
            "output_tokens": toks,
            "tokens_per_s": round(toks / secs, 2),
        }
        print(
            f"{name:>24}: {n:>2} requests, {toks:>5} tokens, {secs:7.1f}s, "
            f"{toks / secs:6.1f} tok/s",
            flush=True,
        )

    s, n = asyncio.run(run_llm(llm, ps, True))
    record("msm_batched", s, n, len(ps))
    s, n = asyncio.run(run_llm(llm, ps, False))
    record("msm_sequential", s, n, len(ps))

    if not args.skip_inspect:
        from inspect_ai.model import get_model

        hf = get_model("hf/local", model_path=str(model_dir), device="cpu", do_sample=False)
        asyncio.run(run_inspect(hf, ps[:1], args.max_tokens, False))
        s, n = asyncio.run(run_inspect(hf, ps, args.max_tokens, True))
        record("inspect_hf_batched", s, n, len(ps))
        k = args.inspect_seq
        s, n = asyncio.run(run_inspect(hf, ps[:k], args.max_tokens, False))
        record("inspect_hf_sequential", s, n, k)

    ratio = results["msm_batched"]["tokens_per_s"] / results["msm_sequential"]["tokens_per_s"]
    report = {
        "benchmark": "generation",
        "model": "embedded (SmolLM2-135M-Instruct, fp32)",
        "prompts": len(ps),
        "max_tokens": args.max_tokens,
        "greedy": True,
        "results": results,
        "batched_over_sequential": round(ratio, 2),
        "target_ratio": 4.0,
        "machine": {
            "cpus": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "torch": torch.__version__,
        },
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    if "inspect_hf_batched" in results:
        report["inspect_hf_batched_over_msm_batched"] = round(
            results["inspect_hf_batched"]["tokens_per_s"] / results["msm_batched"]["tokens_per_s"],
            2,
        )
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(f"batched / sequential = {ratio:.2f}x (target >= 4x); wrote {args.out}")


if __name__ == "__main__":
    main()
