"""``msm evalgen``: write a spec's own evaluations into a folder.

``questions.jsonl`` (spec QA: ``msm eval --suite spec_qa --questions FILE``),
``choices.jsonl`` (behavioural items in the value items' format, with dev/confirm splits:
``msm eval --items FILE``), ``beliefs.jsonl`` (a statement of the spec against each of its
minimally altered false versions: ``msm eval --suite spec_belief --beliefs FILE``),
``stats.json`` (counts and every drop by reason) and
``manifest.json`` last: its presence means the run kept what it was asked for. Calls go
through the stage's store, so a killed run resumes where it stopped and a rerun with
higher counts pays only for the new candidates.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from msm._util.fsutil import atomic_write_json, atomic_write_text
from msm.artifacts.manifest import retract_manifest, write_manifest
from msm.artifacts.outdir import claim_output, evalgen_inputs
from msm.errors import MsmError
from msm.evalgen.config import EvalgenConfig
from msm.evalgen.pipeline import KINDS, STAGE, Evalgen
from msm.gen.prompts import split_prompt
from msm.gen.stagellm import load_stage_spec
from msm.llm.prices import cost_usd
from msm.spec.context import spec_context
from msm.spec.core import approx_token_counts
from msm.spec.units import structure_units

FILES = {"questions": "questions.jsonl", "choices": "choices.jsonl", "beliefs": "beliefs.jsonl"}
JUDGE_REPLY_TOKENS = 60  # a verdict: a short JSON object


class ShortOfItems(MsmError):
    """Fewer items kept than asked (exit status 1): what passed is written, with stats.json,
    but no manifest; a rerun with a higher ``overgenerate`` adds candidates."""

    exit_code = 1

    def __init__(self, message: str, stats: dict[str, Any]) -> None:
        super().__init__(message)
        self.stats = stats


@dataclass
class EvalgenResult:
    out: Path
    questions: int
    choices: int
    beliefs: int  # statements kept (beliefs.jsonl has a row per altered version)
    files: dict[str, Path]
    seconds: float
    stats: dict[str, Any]


def run_evalgen(
    cfg: EvalgenConfig,
    out: str | Path,
    *,
    model_args: dict[str, Any] | None = None,
    judge_model_args: dict[str, Any] | None = None,
    overwrite: bool = False,
) -> EvalgenResult:
    """Write ``cfg.spec``'s evaluations into ``out`` (see the module's docstring).

    Example::

        res = run_evalgen(EvalgenConfig(spec="builtin:equanimity", model="fake",
                                        judge="fake", n_questions=8, n_choices=8), "runs/ev")
        print(res.questions, res.files["choices"])
    """
    t0 = time.monotonic()
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise MsmError(f"--out must be a directory, but {out} is a file")
    if cfg.n_questions == 0 and cfg.n_choices == 0 and cfg.n_beliefs == 0:
        raise MsmError(
            "nothing to write: --n-questions and --n-choices are both 0, and so is --n-beliefs"
        )
    # output of other inputs is refused here, before anything is written
    claim = claim_output(out, STAGE, evalgen_inputs(cfg), overwrite=overwrite)
    gen = Evalgen(cfg, out, model_args, judge_model_args)  # checks spec and models first
    claim.take()
    asyncio.run(gen.run())
    rows = {kind: gen.rows(kind) for kind in KINDS}
    stats = _stats(cfg, gen, rows)
    retract_manifest(out)  # until the new one is written, nothing vouches for the folder
    for kind, name in FILES.items():
        atomic_write_text(out / name, "".join(json.dumps(r, ensure_ascii=False) + "\n"
                                              for r in rows[kind]))  # fmt: skip
    atomic_write_json(out / "stats.json", stats)
    if stats["short"]:
        raise ShortOfItems(_shortfall(stats), stats)
    write_manifest(
        out,
        STAGE,
        config=cfg.model_dump(),
        spec={"path": str(cfg.spec), "sha256": gen.spec.sha256},
        spec_model_name=gen.spec.model_name,
        prompts=gen.prompt_hashes(),
        files=FILES,
        usage=stats["usage"],
        counts={k: len(v) for k, v in rows.items()},  # beliefs: rows (statement, altered)
    )
    return EvalgenResult(
        out=out,
        questions=len(rows["questions"]),
        choices=len(rows["choices"]),
        beliefs=stats["kept"]["beliefs"],
        files={k: out / v for k, v in FILES.items()},
        seconds=round(time.monotonic() - t0, 2),
        stats=stats,
    )


def _stats(cfg: EvalgenConfig, gen: Evalgen, rows: dict[str, list[dict[str, Any]]]) -> dict:
    wanted = gen.wanted()
    kept = {k: len(gen.kept.get(k, [])) for k in KINDS}  # beliefs: statements
    short = {k: wanted[k] - kept[k] for k in KINDS if kept[k] < wanted[k]}
    return {
        "status": "short" if short else "complete",
        "short": short,
        "requested": wanted,
        "kept": kept,
        "belief_rows": len(rows["beliefs"]),
        "sections": len(gen.units),
        "candidates_per_section": {k: gen.per_unit(n) for k, n in wanted.items()},
        "judge": cfg.judge,
        "counts": dict(gen.counts),
        "drops": dict(sorted(gen.drops.items())),
        "dedup_method": gen.dedup_method,
        "spec_context": gen.context.stats(),
        "usage": gen.usage.as_dict(),
    }


def _shortfall(stats: dict[str, Any]) -> str:
    what = ", ".join(f"{stats['kept'][k]} of {stats['requested'][k]} {k}" for k in stats["short"])
    drops = ", ".join(f"{k}={v}" for k, v in stats["drops"].items()) or "none"
    return (
        f"evalgen kept only {what} (drops: {drops}); what passed is written without a "
        "manifest: raise --overgenerate, or ask for fewer"
    )


def preview_evalgen(cfg: EvalgenConfig) -> dict[str, Any]:
    """Calls, tokens and cost of ``cfg`` from the settings alone (the most a run makes: one
    generation per candidate and one verdict per candidate, before any re-ask); nothing is
    called or written, no key needed."""
    spec = load_stage_spec(cfg)
    units, _ = structure_units(spec, cfg.max_section_tokens)
    if not units:
        raise MsmError(f"spec {cfg.spec} yields no usable sections to write items from")
    context = spec_context(spec, cfg.context_tokens).text
    names = {"model_name": spec.model_name, "provider_name": spec.provider_name}
    excerpts = approx_token_counts([u.excerpt for u in units])
    calls = {"generator": [0, 0, 0], "judge": [0, 0, 0]}  # calls, tokens in, tokens out
    per_kind = {}
    for kind, n in (("questions", cfg.n_questions), ("choices", cfg.n_choices),
                    ("beliefs", cfg.n_beliefs)):  # fmt: skip
        k = math.ceil(n * cfg.overgenerate / len(units)) if n else 0
        per_kind[kind] = k * len(units)
        template, _, judge_template = KINDS[kind]
        for name, role, reply in ((template, "generator", cfg.max_tokens_item),
                                  (judge_template, "judge", JUDGE_REPLY_TOKENS)):  # fmt: skip
            if role == "judge" and not cfg.judge:
                continue
            system, user = split_prompt(STAGE, name)
            fixed = approx_token_counts([(system or "") + user + context + str(names)])[0]
            for tokens in excerpts:
                c = calls[role]
                c[0] += k
                c[1] += k * (fixed + tokens + (reply if role == "judge" else 0))
                c[2] += k * reply
    rows = {}
    for role, model in (("generator", cfg.model), ("judge", cfg.judge)):
        if model is None or not calls[role][0]:
            continue
        n, tin, tout = calls[role]
        rows[role] = {"model": model, "calls": n, "input_tokens": tin, "output_tokens": tout,
                      "cost_usd": cost_usd(model, tin, tout)}  # fmt: skip
    return {"sections": len(units), "candidates": per_kind, "calls": rows}
