"""``run_docgen``: the docgen stage as a function (the CLI is a thin wrapper)."""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from msm.artifacts.manifest import read_manifest, retract_manifest, write_manifest
from msm.artifacts.outdir import claim_output, docgen_inputs
from msm.docgen.config import DocgenConfig
from msm.docgen.outputs import histogram_png, token_counter, write_outputs
from msm.docgen.pipeline import Docgen
from msm.docgen.projection import project_docgen, reason_check_warning
from msm.errors import MsmError, warn_once
from msm.gen.stagellm import load_stage_spec
from msm.llm.names import resolve_model
from msm.spec.units import MIN_UNIT_WORDS, structure_units


def check_out(out: Path) -> None:
    """Refuse an ``out`` that exists as a file (before anything is read or written)."""
    if out.exists() and not out.is_dir():
        raise MsmError(f"--out must be a directory, but {out} is a file")


@dataclass(frozen=True, slots=True)
class DocgenResult:
    """What :func:`run_docgen` made: the headline counts, and ``stats`` exactly as
    ``out/stats.json`` holds it."""

    out: Path
    documents_generated: int
    documents_kept: int
    tokens: int  # in the kept documents, by the run's tokenizer
    seconds: float
    stats: dict[str, Any]

    @classmethod
    def from_stats(cls, out: Path, stats: dict[str, Any]) -> DocgenResult:
        """The result of the run whose stats.json is ``stats``."""
        return cls(
            out=out,
            documents_generated=int(stats["documents_generated"]),
            documents_kept=int(stats["documents_kept"]),
            tokens=int(stats["tokens"]["total"]),
            seconds=float(stats["seconds"]),
            stats=stats,
        )


class NothingKept(MsmError):
    """A docgen run whose filters dropped every document (exit status 1). Only stats.json
    and stages/ are written (no corpus, no manifest); ``stats`` holds the drop counts."""

    exit_code = 1

    def __init__(self, message: str, stats: dict[str, Any]) -> None:
        super().__init__(message)
        self.stats = stats


def preview_docgen(cfg: DocgenConfig) -> dict[str, Any]:
    """The projected plan, calls, tokens and cost of ``cfg`` from the settings alone
    (:func:`msm.docgen.projection.project_docgen`, with which counts are exact). The spec
    is read and model names are checked, but nothing is called, no API key is needed and
    nothing is written."""
    spec = load_stage_spec(cfg)
    if not structure_units(spec, cfg.max_section_tokens)[0]:
        raise MsmError(
            f"spec {cfg.spec} yields no usable sections to generate from (each needs at "
            f"least {MIN_UNIT_WORDS} words of its own)"
        )
    for name in (cfg.model, cfg.judge):
        if name:
            resolve_model(name, check=False)  # a bad name or fake script, not a missing key
    unchecked = reason_check_warning(cfg, spec)
    if unchecked:
        warn_once(unchecked)
    return project_docgen(cfg, spec)


def _nothing_kept(stats: dict[str, Any]) -> NothingKept:
    drops = sorted(stats["drops"].items(), key=lambda kv: (-kv[1], kv[0]))
    listed = ", ".join(f"{k}={v}" for k, v in drops[:8]) or "none recorded"
    more = f" (+{len(drops) - 8} more)" if len(drops) > 8 else ""
    made = stats["documents_generated"]
    head = f"kept 0 of {made} documents" if made else "no documents were generated"
    return NothingKept(
        f"docgen: {head}; drops: {listed}{more}; no corpus was written (stats.json and "
        "stages/ say why; a rerun reuses every stored call)",
        stats,
    )


def run_docgen(
    cfg: DocgenConfig,
    out: str | Path,
    *,
    quiet: bool = False,
    tokenizer: str = "embedded",
    model_args: dict[str, Any] | None = None,
    judge_model_args: dict[str, Any] | None = None,
    overwrite: bool = False,
) -> DocgenResult:
    """Generate a corpus for ``cfg.spec`` into ``out`` (:func:`preview_docgen` projects
    one from the settings alone: nothing is called or written).

    A run whose filters drop every document raises :class:`NothingKept` (exit status 1)
    with the drop counts; it writes ``stats.json`` and ``stages/`` to show why, but no
    corpus and no manifest (the call store keeps every answer).

    ``out`` belongs to these settings: a rerun resumes, other settings are refused
    unless ``overwrite`` (see :mod:`msm.artifacts.outdir`).

    Returns the counts, with stats.json in ``stats``. Example::

        cfg = DocgenConfig(spec="builtin:cheese_pro_america", model="fake", model_name="Ada")
        res = run_docgen(cfg, "runs/corpus")
        print(res.documents_kept, res.tokens)
    """
    out = Path(out)
    check_out(out)
    # a bad --tokenizer fails now, not after every document has been generated
    counter, label = token_counter(tokenizer)
    t0 = time.monotonic()
    dg, notes = _open(cfg, out, model_args, judge_model_args, overwrite)
    for n in notes:
        if not quiet:
            print(f"docgen: {n}")
    unchecked = reason_check_warning(cfg, dg.spec)
    if unchecked:
        warn_once(unchecked)
    asyncio.run(dg.run(quiet))
    docs = dg.kept_documents()
    lengths = counter([d["text"] for d in docs]) if docs else []
    for d, n in zip(docs, lengths, strict=True):
        d["tokens"] = int(n)
    stats = _stats(cfg, dg, docs, lengths, label)
    stats["seconds"] = round(time.monotonic() - t0, 2)
    retract_manifest(out)  # until the new one is written, nothing vouches for the folder
    write_outputs(out, docs, dg.stage_rows(), stats)
    if not docs:  # stats and stages say why; there is no corpus and no manifest
        raise _nothing_kept(stats)
    histogram_png(out / "token_hist.png", lengths, label)
    _write_manifest(out, cfg, dg, label, stats, notes)
    return DocgenResult.from_stats(out, stats)


def _open(
    cfg: DocgenConfig,
    out: Path,
    model_args: dict[str, Any] | None,
    judge_model_args: dict[str, Any] | None,
    overwrite: bool,
) -> tuple[Docgen, list[str]]:
    """Claim ``out`` for these settings and set the pipeline up; the notes say what a
    resumed run finds changed."""
    # output of other inputs is refused here, before anything is written (msm.artifacts.outdir)
    claim = claim_output(out, "docgen", docgen_inputs(cfg), overwrite=overwrite)
    previous = read_manifest(out) if claim.action == "resume" else None
    dg = Docgen(cfg, out, model_args, judge_model_args)  # checks spec and models first
    claim.take()
    notes = []
    if previous:
        old = previous.get("spec", {}).get("sha256")
        if old and old != dg.spec.sha256:
            notes.append("spec changed since the last run: affected stages are regenerated")
    return dg, notes


def _reason_check(dg: Docgen) -> str:
    """How the documents' reasons were checked, in words for stats.json."""
    if dg.judge is not None:
        return "judge"
    if dg.value_terms:
        return "value_terms: one sentence names the model and one of " + ", ".join(dg.value_terms)
    return "none: the spec declares no value_terms and there is no judge"


def _stats(
    cfg: DocgenConfig, dg: Docgen, docs: list[dict[str, Any]], lengths: list[int], label: str
) -> dict[str, Any]:
    """stats.json (less ``seconds``, which the caller adds once everything is counted)."""
    counts = dict(dg.progress.counts)
    return {
        "status": "complete" if docs else "nothing_kept",
        "units": len(dg.units),
        "assertions": len(dg.assertions),
        "ideas": len(dg.ideas),
        "documents_generated": len(dg.generations),
        "documents_kept": len(docs),
        "counts": counts,
        "drops": dict(sorted(dg.progress.drops.items())),
        "spec_context": dg.context.stats(),
        "reason_check": _reason_check(dg),
        # document_start: statement: how many generated continuations (the text after the
        # spec's opening sentence) state the reason themselves; None in the other modes
        "continuation_reasons": {
            "checked": counts.get("continuations_checked", 0),
            "with_reason": counts.get("continuation_reasons", 0),
        }
        if cfg.document_start == "statement" and dg.value_terms
        else None,
        "tokens": {
            "tokenizer": label,
            "total": int(sum(lengths)),
            "mean": round(statistics.fmean(lengths), 1) if lengths else 0,
            "min": int(min(lengths)) if lengths else 0,
            "max": int(max(lengths)) if lengths else 0,
        },
        "usage": dg.usage.as_dict(),
        "timings": dg.timings,
    }


def _write_manifest(
    out: Path, cfg: DocgenConfig, dg: Docgen, label: str, stats: dict[str, Any], notes: list[str]
) -> None:
    """The corpus's manifest: settings, spec and prompt hashes, counts, usage."""
    reasons = stats["continuation_reasons"]
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
        spec_model_name=dg.spec.model_name,  # the name in the documents (not the agent's)
        counts={
            "documents": stats["documents_kept"],
            "generated": stats["documents_generated"],
            **({"continuation_reasons": reasons} if reasons is not None else {}),
        },
        usage=stats["usage"],
        seconds=stats["seconds"],
        notes=notes,
    )
