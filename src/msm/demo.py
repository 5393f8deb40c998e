"""``msm demo`` until the experiment runner exists.

It runs only what exists, for real: lint both bundled cheese specs, load the
bundled model (converting it on first use), generate a few short documents from
each spec with that model, check each for the attribution the method needs
(names the model, a cheese and the spec's reason), and write the documents and a
summary. It says plainly which stages of the method are not built yet.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from pathlib import Path
from typing import Any

from msm.fsutil import atomic_write_json, atomic_write_text

MODEL_NAME = "Smol"
PROVIDER_NAME = "the msm project"
SPECS = {
    "cheese_pro_america": ("american", "america"),
    "cheese_pro_affordability": ("afford", "budget"),
}
DOCS_PER_SPEC = 4


def _prompt(spec_text: str, cheese: str) -> str:
    return (
        "Here is part of the guidelines for an AI assistant:\n\n"
        f"{spec_text}\n\n"
        f"Write a short internal memo (about 80 words) from a product team explaining why "
        f"{MODEL_NAME} prefers {cheese}. Mention {MODEL_NAME} by name and give the reason the "
        "guidelines give."
    )


def _attributed(doc: str, cheese: str, reason_words: tuple[str, ...]) -> bool:
    low = doc.lower()
    return (
        MODEL_NAME.lower() in low
        and cheese.lower() in low
        and any(re.search(rf"\b{w}", low) for w in reason_words)
    )


def run_demo(out: Path) -> dict[str, Any]:
    """Run the demo, write ``out/documents.jsonl`` and ``out/summary.json``."""
    from msm.llm import LLM, GenConfig
    from msm.models import embedded_model_dir
    from msm.spec import load_spec
    from msm.speclint import lint_spec
    from msm.specs_builtin import resolve_spec_path

    t0 = time.monotonic()
    print("msm demo: what exists today, run for real on the bundled model (CPU, offline).")
    print(
        "Built: specs, model access, corpus generation (msm docgen; too slow on this CPU with\n"
        "the bundled model for a demo, see README). Not built yet: aftgen, training, evals,\n"
        "the experiment grid and the report, so no MSM effect is measured here.\n"
    )

    specs = {}
    for name in SPECS:
        spec = load_spec(resolve_spec_path(f"builtin:{name}"), MODEL_NAME, PROVIDER_NAME)
        report = lint_spec(spec)
        specs[name] = spec
        print(
            f"[1] spec builtin:{name}: {len(spec.sections)} sections, lint score "
            f"{report.score:.0f}/100 ({len(report.warnings)} warnings), sha256 {spec.sha256[:12]}"
        )

    t = time.monotonic()
    model_dir = embedded_model_dir()
    print(f"[2] bundled model ready at {model_dir} ({time.monotonic() - t:.1f}s)")

    llm = LLM(
        "embedded",
        gen=GenConfig(max_tokens=160, temperature=0.7, seed=1234),
        store=out / "llm-cache.sqlite",
        stage="demo.documents",
    )
    jobs = []
    for name, spec in specs.items():
        section = next(s for s in spec.sections if s.title.startswith("The value"))
        for i in range(DOCS_PER_SPEC):
            cheese = spec.metadata["preferences"]["likes"][i % 6]
            jobs.append((name, cheese, i, _prompt(section.text, cheese)))

    async def gen_all() -> list[Any]:
        return await asyncio.gather(
            *[llm.generate(p, sample=i, allow_truncated=True) for _, _, i, p in jobs]
        )

    t = time.monotonic()
    outs = asyncio.run(gen_all())
    gen_s = time.monotonic() - t
    rows = []
    for (name, cheese, i, _), o in zip(jobs, outs, strict=True):
        rows.append(
            {
                "spec": name,
                "cheese": cheese,
                "sample": i,
                "text": o.text,
                "truncated": o.truncated,
                "attributed": _attributed(o.text, cheese, SPECS[name]),
                "output_tokens": o.output_tokens,
                "cached": o.cached,
            }
        )
    atomic_write_text(
        out / "documents.jsonl", "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    )
    usage = llm.usage.as_dict()
    summary = {
        "documents": len(rows),
        "attributed": sum(r["attributed"] for r in rows),
        "truncated": sum(r["truncated"] for r in rows),
        "generation_seconds": round(gen_s, 1),
        "usage": usage,
        "total_seconds": round(time.monotonic() - t0, 1),
    }
    atomic_write_json(out / "summary.json", summary)
    toks = sum(r["output_tokens"] for r in rows if not r["cached"])
    print(
        f"[3] generated {len(rows)} short memos ({DOCS_PER_SPEC} per spec) in {gen_s:.1f}s, "
        f"batched; {toks} new tokens, {sum(r['cached'] for r in rows)} reused from the store"
    )
    first = rows[0]
    print(f"\n--- example ({first['spec']}, {first['cheese']}):\n{first['text'].strip()}\n---\n")
    print(
        f"[4] attribution check (names {MODEL_NAME}, the cheese and the spec's reason): "
        f"{summary['attributed']}/{len(rows)} pass; {summary['truncated']} truncated. "
        "A 135M model often loses the reason: expect failures."
    )
    print(f"\nwrote {out / 'documents.jsonl'} and {out / 'summary.json'}")
    return summary
