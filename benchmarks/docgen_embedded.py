"""docgen with the bundled SmolLM2 on this CPU, at small counts.

Reports documents generated and kept per minute and generated tokens per second
over the generation phase (planning lists + documents, pipelined and batched).
Run: ``python benchmarks/docgen_embedded.py`` (writes JSON). Takes minutes.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spec", default="builtin:cheese_pro_america")
    ap.add_argument("--n-assertions", type=int, default=2)
    ap.add_argument("--docs-per-idea", type=int, default=2)
    ap.add_argument("--doc-words", type=int, default=80)
    ap.add_argument("--max-tokens-doc", type=int, default=160)
    ap.add_argument("--out", default="benchmarks/results/docgen_embedded.json")
    args = ap.parse_args()

    from msm.docgen import DocgenConfig, run_docgen
    from msm.models import embedded_model_dir

    embedded_model_dir()
    cfg = DocgenConfig(
        spec=args.spec,
        model="embedded",
        model_name="Smol",
        provider_name="the msm project",
        n_assertions=args.n_assertions,
        n_doc_types=1,
        n_ideas=1,
        docs_per_idea=args.docs_per_idea,
        doc_words=args.doc_words,
        max_tokens_doc=args.max_tokens_doc,
        max_tokens_list=150,
        plan_first=False,
        truncated="trim",
    )
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        stats = run_docgen(cfg, tmp, quiet=True, tokenizer="embedded")
        wall = time.perf_counter() - t
        sample = [json.loads(x) for x in (Path(tmp) / "stages/generations.jsonl").open()][:3]
    gen_s = stats["timings"]["generation_s"]
    out_tokens = sum(u["output_tokens"] for u in stats["usage"].values())
    report = {
        "benchmark": "docgen_embedded",
        "spec": args.spec,
        "config": cfg.model_dump(
            include={
                "n_assertions",
                "docs_per_idea",
                "doc_words",
                "max_tokens_doc",
                "plan_first",
                "truncated",
                "max_tokens_list",
            }
        ),
        "documents_generated": stats["documents_generated"],
        "documents_kept": stats["documents_kept"],
        "drops": stats["drops"],
        "generation_seconds": gen_s,
        "wall_seconds": round(wall, 1),
        "documents_per_minute": round(stats["documents_generated"] / gen_s * 60, 2),
        "kept_documents_per_minute": round(stats["documents_kept"] / gen_s * 60, 2),
        "generated_tokens": out_tokens,
        "generated_tokens_per_s": round(out_tokens / gen_s, 1),
        "examples": [{"drop": g["drop"], "text": g["text"][:400]} for g in sample],
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({k: v for k, v in report.items() if k != "examples"}, indent=2))


if __name__ == "__main__":
    main()
