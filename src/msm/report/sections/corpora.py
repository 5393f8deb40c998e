"""The "Corpora" section: document counts and length histograms per finished corpus."""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

from msm._util.records import read_jsonl
from msm.errors import MsmError
from msm.report import plots
from msm.report.fmt import DASH, fmt_num
from msm.report.load import rel
from msm.report.render import Paragraph, Table
from msm.report.state import ReportState


def add_corpora(st: ReportState) -> None:
    """Length statistics from each done corpus's documents.jsonl, and a histogram."""
    nodes = [n for n in st.run.nodes if n.kind == "corpus" and n.done]
    records: list[dict[str, Any]] = []
    st.data["corpora"] = records
    if not nodes:
        return
    sec = st.section("Corpora")
    rows = []
    images = []
    for node in nodes:
        path = node.folder(st.run.run_dir) / "documents.jsonl"
        src = rel(path, st.run.run_dir)
        if not path.is_file():
            st.notes.append(f"corpus {node.id} is marked done but has no documents.jsonl")
            continue
        lengths, unit = _document_lengths(path, src)
        total = sum(lengths)
        mean = statistics.fmean(lengths) if lengths else None
        med = statistics.median(lengths) if lengths else None
        own = _continuation_reasons(path.parent / "stats.json")
        own_cell = f"{own['with_reason']}/{own['checked']}" if own else DASH
        rows.append([
            node.id, node.spec or DASH, str(len(lengths)), f"{total:,}", unit, fmt_num(mean, 1),
            fmt_num(med, 1), str(max(lengths)) if lengths else DASH, own_cell, src,
        ])  # fmt: skip
        records.append({
            "node": node.id, "spec": node.spec, "documents": len(lengths), "total": total,
            "unit": unit, "mean": mean, "median": med,
            "max": max(lengths) if lengths else None, "continuation_reasons": own,
            "source": src,
        })  # fmt: skip
        png = plots.histogram(lengths, unit, f"{node.id}: {len(lengths)} documents")
        stem = "corpus_" + node.id.removeprefix("corpus/")
        images.append(st.image(stem, png, f"{node.id} length histogram"))
    columns = ["corpus", "spec", "documents", "total", "unit", "mean", "median", "max",
        "own reason", "source"]  # fmt: skip
    table = Table(columns, rows, numeric=frozenset({2, 3, 5, 6, 7}), source_col=9)
    sec.blocks.append(table)
    if any(r["continuation_reasons"] for r in records):
        sec.blocks.append(Paragraph(
            "own reason: in `document_start: statement` mode each document opens with a spec "
            "sentence that already states the reason; the column counts the generated "
            "continuations that state a reason of their own, of those checked (the rest were "
            "dropped as `no_reason`)."
        ))  # fmt: skip
    sec.blocks.extend(images)


def _continuation_reasons(stats: Path) -> dict[str, int] | None:
    """``continuation_reasons`` from a corpus's stats.json (None outside statement mode,
    or where stats.json is missing or was written before the count existed)."""
    try:
        got = json.loads(stats.read_text(encoding="utf-8")).get("continuation_reasons")
    except (OSError, ValueError, AttributeError):
        return None
    if not isinstance(got, dict) or not all(
        isinstance(got.get(k), int) for k in ("checked", "with_reason")
    ):
        return None
    return {"checked": got["checked"], "with_reason": got["with_reason"]}


def _document_lengths(path: Path, src: str) -> tuple[list[int], str]:
    """Token counts per document (``tokens`` field), else whitespace word counts."""
    tokens: list[int | None] = []
    words: list[int] = []
    try:
        for i, doc in read_jsonl(path, src):
            if not isinstance(doc, dict):
                raise MsmError(f"{src} line {i} is not a JSON object")
            t = doc.get("tokens")
            tokens.append(t if isinstance(t, int) and not isinstance(t, bool) else None)
            words.append(len(str(doc.get("text") or "").split()))
    except OSError as e:
        raise MsmError(f"cannot read {src}: {e}") from None
    if tokens and all(t is not None for t in tokens):
        return [t for t in tokens if t is not None], "tokens"
    return words, "words"
