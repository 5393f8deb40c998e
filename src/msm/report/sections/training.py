"""The "Training" section: fields from each training node's manifest.json, and the
loss curves from its loss.csv."""

from __future__ import annotations

import csv
import math
from collections import defaultdict
from pathlib import Path
from typing import Any

from msm.errors import MsmError
from msm.report import plots
from msm.report.fmt import DASH, as_number, fmt_num
from msm.report.load import Node, read_json, rel
from msm.report.render import Table
from msm.report.state import ReportState

TRAINING_FIELDS = (
    "steps",
    "tokens_seen",
    "final_loss",
    "train_seconds",
    "wall_seconds",
    "tokens_per_s",
)
TRAINING_KINDS = ("midtrain", "aft")


def add_training(st: ReportState) -> None:
    """A row per node with training fields (training kinds, or any node that records them)."""
    records: list[dict[str, Any]] = []
    st.data["training"] = records
    found: list[tuple[Node, dict[str, Any], str]] = []
    for node in st.run.nodes:
        if not node.done or node.kind in ("eval", "corpus"):
            continue
        path = node.folder(st.run.run_dir) / "manifest.json"
        if not path.is_file():
            if node.kind in TRAINING_KINDS:
                st.notes.append(f"training node {node.id} is done but has no manifest.json")
            continue
        src = rel(path, st.run.run_dir)
        man = read_json(path, src)
        if not isinstance(man, dict):
            raise MsmError(f"{src} is not a JSON object")
        if node.kind in TRAINING_KINDS or any(f in man for f in TRAINING_FIELDS):
            found.append((node, man, src))
    if not found:
        return
    sec = st.section("Training")
    fields = [
        f for f in TRAINING_FIELDS if any(as_number(m.get(f)) is not None for _, m, _ in found)
    ]
    rows = []
    curves: dict[str, list[tuple[str, list[tuple[float, float]]]]] = defaultdict(list)
    for node, man, src in found:
        vals = {f: as_number(man.get(f)) for f in fields}
        rows.append([node.id, node.kind, *[_fmt_field(f, vals[f]) for f in fields], src])
        records.append({"node": node.id, "kind": node.kind, **vals, "source": src})
        loss = _loss_curve(node.folder(st.run.run_dir) / "loss.csv")
        if loss:
            curves[node.kind].append((node.id, loss))
    sec.blocks.append(
        Table(
            ["node", "kind", *fields, "source"],
            rows,
            numeric=frozenset(range(2, 2 + len(fields))),
            source_col=2 + len(fields),
            caption="Fields as recorded in each node's manifest.json (absent fields omitted).",
        )
    )
    if curves:
        png = plots.loss_curves(sorted(curves.items(), key=lambda kv: kv[0] != "midtrain"))
        sec.blocks.append(
            st.image("training_loss", png, "training loss curves", "From each loss.csv.")
        )


def _fmt_field(name: str, v: float | None) -> str:
    if v is None:
        return DASH
    if name in ("steps", "tokens_seen"):
        return f"{v:,.0f}"
    if name == "final_loss":
        return f"{v:.4f}"
    return fmt_num(v, 1)


def _loss_curve(path: Path) -> list[tuple[float, float]]:
    """(tokens or step, loss) rows of ``loss.csv``; empty when absent or unreadable."""
    if not path.is_file():
        return []
    out: list[tuple[float, float]] = []
    try:
        with path.open(encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh):
                x = row.get("tokens") or row.get("step")
                try:
                    out.append((float(x or "nan"), float(row.get("loss") or "nan")))
                except ValueError:
                    continue
    except (OSError, UnicodeDecodeError, csv.Error):
        return []
    return [p for p in out if math.isfinite(p[0]) and math.isfinite(p[1])]
