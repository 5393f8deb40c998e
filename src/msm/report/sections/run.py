"""The "Run" section (what ran, how much is done) and the "Missing nodes" section."""

from __future__ import annotations

from collections import defaultdict

from msm.report.fmt import direction
from msm.report.render import Bullets, Section, Table
from msm.report.state import ReportState


def add_run(st: ReportState) -> None:
    """Experiment, run description, node counts by kind and the headline metric."""
    run = st.run
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for n in run.nodes:
        counts[n.kind][0 if n.done else 1] += 1
    done = sum(c[0] for c in counts.values())
    missing = [n for n in run.nodes if not n.done]
    exp = run.experiment
    text = [
        f"Experiment: {run.name}",
        f"Run description: {(run.run_dir / 'run.json').resolve()}",
    ]
    if exp.get("path"):
        text.append(f"Experiment file: {exp['path']} (sha256 {exp.get('sha256') or '?'})")
    text.append(
        f"Nodes: {done} done, {len(missing)} missing (pending or failed) of {len(run.nodes)}."
    )
    if st.metric:
        hib = st.metric_direction(st.metric)
        text.append(
            f"Headline metric: {st.metric}"
            + (f" ({direction(hib, st.metric)})" if hib is not None else "")
        )
    t = Table(
        ["node kind", "done", "missing"],
        [[k, str(c[0]), str(c[1])] for k, c in sorted(counts.items())],
        numeric=frozenset({1, 2}),
    )
    st.sections.append(Section("Run", [Bullets(text), t]))
    st.data["nodes"] = {
        "total": len(run.nodes),
        "done": done,
        "by_kind": {k: {"done": c[0], "missing": c[1]} for k, c in sorted(counts.items())},
        "missing": [{"id": n.id, "kind": n.kind, "status": n.status} for n in missing],
    }
    st.headline.append(
        f"{run.name}: {done} of {len(run.nodes)} nodes done"
        + (f", {len(missing)} pending/failed" if missing else "")
    )


def add_missing(st: ReportState) -> None:
    """List nodes not done, and say so first in the notes."""
    missing = [n for n in st.run.nodes if not n.done]
    if not missing:
        return
    rows = [[n.id, n.kind, n.status, n.path] for n in missing]
    by_status: dict[str, int] = defaultdict(int)
    for n in missing:
        by_status[n.status] += 1
    st.notes.insert(
        0,
        f"{len(missing)} nodes are not done ("
        + ", ".join(f"{c} {s}" for s, c in sorted(by_status.items()))
        + "); their results are missing from this report",
    )
    st.sections.append(
        Section(
            "Missing nodes",
            [Table(["node", "kind", "status", "path"], rows, source_col=3)],
        )
    )
