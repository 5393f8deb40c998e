"""``run_docgen``: the docgen stage as a function (the CLI is a thin wrapper)."""

from __future__ import annotations

import asyncio
import statistics
import time
from pathlib import Path
from typing import Any

from msm.docgen.config import DocgenConfig
from msm.docgen.outputs import histogram_png, token_counter, write_outputs
from msm.docgen.pipeline import Docgen
from msm.errors import MsmError
from msm.llm.usage import cost_usd
from msm.manifest import read_manifest, retract_manifest, write_manifest

PLAN_TOKENS_ESTIMATE = 120
TOKENS_PER_WORD = 1.35


def _check_out(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise MsmError(f"--out must be a directory, but {out} is a file")


def _projection(dg: Docgen) -> dict[str, Any]:
    cfg = dg.cfg
    n_docs = len(dg.ideas) * cfg.docs_per_idea
    by_id = {a.id: a for a in dg.assertions}
    units = {u.id: u for u in dg.units}
    prompt_tokens = []
    for idea in dg.ideas[:500]:
        a = by_id[idea.assertion_id]
        u = units[a.unit_id]
        prompt_tokens.append(len(u.excerpt.split()) + len(a.text.split()) + 220)
    tin = int(statistics.fmean(prompt_tokens) * TOKENS_PER_WORD) if prompt_tokens else 0
    tout = int(cfg.doc_words * TOKENS_PER_WORD) + PLAN_TOKENS_ESTIMATE
    docs_in, docs_out = n_docs * tin, n_docs * tout
    cost = cost_usd(cfg.model, docs_in, docs_out)
    judge_cost: float | None = 0.0
    if cfg.judge:
        judge_cost = cost_usd(cfg.judge, n_docs * (tin + tout), n_docs * 40)
    total = None if cost is None or judge_cost is None else cost + judge_cost
    planning = dg.usage.as_dict()
    return {
        "units": len(dg.units),
        "assertions": len(dg.assertions),
        "ideas": len(dg.ideas),
        "documents": n_docs,
        "document_input_tokens": docs_in,
        "document_output_tokens": docs_out,
        "document_cost_usd": cost,
        "judge_cost_usd": judge_cost if cfg.judge else None,
        "total_cost_usd": total,
        "planning_usage": planning,
        "estimate_basis": (
            f"input ~ {tin} tokens/doc (excerpt + assertion + instructions), output ~ {tout} "
            f"tokens/doc ({cfg.doc_words} words x {TOKENS_PER_WORD} + plan)"
        ),
    }


def run_docgen(
    cfg: DocgenConfig,
    out: str | Path,
    *,
    preview: bool = False,
    quiet: bool = False,
    tokenizer: str = "embedded",
    model_args: dict[str, Any] | None = None,
    judge_model_args: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Generate (or, with ``preview``, only plan) a corpus for ``cfg.spec`` into ``out``.

    Returns the stats (or the projection for a preview). Example::

        cfg = DocgenConfig(spec="builtin:cheese_pro_america", model="fake", model_name="Ada")
        stats = run_docgen(cfg, "runs/corpus")
    """
    out = Path(out)
    _check_out(out)
    # a bad --tokenizer fails now, not after every document has been generated
    counter, label = token_counter("approx" if preview else tokenizer)
    t0 = time.monotonic()
    previous = read_manifest(out)
    dg = Docgen(cfg, out, model_args, judge_model_args)
    notes = []
    if previous and not preview:
        old = previous.get("spec", {}).get("sha256")
        if old and old != dg.spec.sha256:
            notes.append("spec changed since the last run: affected stages are regenerated")
    for n in notes:
        if not quiet:
            print(f"docgen: {n}")
    asyncio.run(dg.run(preview, quiet))
    if preview:
        return _projection(dg)

    docs = dg.kept_documents()
    lengths = counter([d["text"] for d in docs]) if docs else []
    for d, n in zip(docs, lengths, strict=True):
        d["tokens"] = int(n)
    counts = dict(dg.progress.counts)
    stats = {
        "units": len(dg.units),
        "assertions": len(dg.assertions),
        "ideas": len(dg.ideas),
        "documents_generated": len(dg.generations),
        "documents_kept": len(docs),
        "counts": counts,
        "drops": dict(sorted(dg.progress.drops.items())),
        "spec_context": dg.context.stats(),
        "reason_check": "judge"
        if dg.judge is not None
        else "value_terms: one sentence names the model and one of " + ", ".join(dg.value_terms)
        if dg.value_terms
        else "none: the spec declares no value_terms and there is no judge",
        "tokens": {
            "tokenizer": label,
            "total": int(sum(lengths)),
            "mean": round(statistics.fmean(lengths), 1) if lengths else 0,
            "min": int(min(lengths)) if lengths else 0,
            "max": int(max(lengths)) if lengths else 0,
        },
        "usage": dg.usage.as_dict(),
        "timings": dg.timings,
        "seconds": round(time.monotonic() - t0, 2),
    }
    retract_manifest(out)  # until the new one is written, nothing vouches for the folder
    write_outputs(out, docs, dg.stage_rows(), stats)
    histogram_png(out / "token_hist.png", lengths, label)
    write_manifest(
        out,
        "docgen",
        config=cfg.model_dump(),
        spec={
            "path": str(cfg.spec),
            "sha256": dg.spec.sha256,
            "source_sha256": dg.spec.source_sha256,
        },
        prompts=dg.prompt_hashes(),
        tokenizer=label,
        counts={"documents": len(docs), "generated": len(dg.generations)},
        usage=stats["usage"],
        seconds=stats["seconds"],
        notes=notes,
    )
    return stats
