"""The "Corpora" section: document counts and length histograms per finished corpus."""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

from msm.errors import MsmError
from msm.report import plots
from msm.report.fmt import DASH, fmt_num
from msm.report.load import rel
from msm.report.render import Section, Table
from msm.report.state import ReportState


def add_corpora(st: ReportState) -> None:
    """Length statistics from each done corpus's documents.jsonl, and a histogram."""
    nodes = [n for n in st.run.nodes if n.kind == "corpus" and n.done]
    records: list[dict[str, Any]] = []
    st.data["corpora"] = records
    if not nodes:
        return
    sec = Section("Corpora")
    st.sections.append(sec)
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
        rows.append([
            node.id, node.spec or DASH, str(len(lengths)), f"{total:,}", unit, fmt_num(mean, 1),
            fmt_num(med, 1), str(max(lengths)) if lengths else DASH, src,
        ])  # fmt: skip
        records.append({
            "node": node.id, "spec": node.spec, "documents": len(lengths), "total": total,
            "unit": unit, "mean": mean, "median": med,
            "max": max(lengths) if lengths else None, "source": src,
        })  # fmt: skip
        png = plots.histogram(lengths, unit, f"{node.id}: {len(lengths)} documents")
        stem = "corpus_" + node.id.removeprefix("corpus/")
        images.append(st.image(stem, png, f"{node.id} length histogram"))
    sec.blocks.append(
        Table(
            ["corpus", "spec", "documents", "total", "unit", "mean", "median", "max", "source"],
            rows,
            numeric=frozenset({2, 3, 5, 6, 7}),
            source_col=8,
        )  # fmt: skip
    )
    sec.blocks.extend(images)


def _document_lengths(path: Path, src: str) -> tuple[list[int], str]:
    """Token counts per document (``tokens`` field), else whitespace word counts."""
    tokens: list[int | None] = []
    words: list[int] = []
    try:
        with path.open(encoding="utf-8") as fh:
            for i, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    doc = json.loads(line)
                except json.JSONDecodeError:
                    raise MsmError(f"{src} line {i} is not valid JSON") from None
                if not isinstance(doc, dict):
                    raise MsmError(f"{src} line {i} is not a JSON object")
                t = doc.get("tokens")
                tokens.append(t if isinstance(t, int) and not isinstance(t, bool) else None)
                words.append(len(str(doc.get("text") or "").split()))
    except (OSError, UnicodeDecodeError) as e:
        raise MsmError(f"cannot read {src}: {e}") from None
    if tokens and all(t is not None for t in tokens):
        return [t for t in tokens if t is not None], "tokens"
    return words, "words"
