"""The closing parts: the zero-width-spread note, the "Notes" and "Sources" sections."""

from __future__ import annotations

from collections import defaultdict

from msm.report.fmt import group_name
from msm.report.render import Bullets, Paragraph, Section
from msm.report.state import ReportState


def note_flat_spreads(st: ReportState) -> None:
    """Flag across-seed intervals of zero width: identical seeds say little about spread."""
    flat: dict[str, list[str]] = defaultdict(list)
    for a in st.aggs.values():
        if a.stats and a.stats.method == "seeds" and a.stats.sd == 0 and not _per_part(a.metric):
            flat[a.metric].append(group_name(a.key))
    if flat:
        parts = []
        for metric, names in sorted(flat.items()):
            more = f" and {len(names) - 3} more" if len(names) > 3 else ""
            parts.append(f"{metric} ({', '.join(names[:3])}{more})")
        st.notes.append(
            "all seeds gave the same value, so the across-seed interval has zero width and "
            "understates the uncertainty (each eval's own interval is in report.json): "
            + "; ".join(parts)
        )


def _per_part(metric: str) -> bool:
    """A metric of one scenario condition (``@``) or one agentic variant (``~``)."""
    return "@" in metric or "~" in metric


def add_notes(st: ReportState, at: int) -> None:
    """Insert the "Notes" section at position ``at`` (after the headline)."""
    items = st.notes or ["Nothing to flag."]
    st.sections.insert(at, Section("Notes", [Bullets(items, kind="note")]))


def add_sources(st: ReportState) -> None:
    st.sections.append(
        Section(
            "Sources",
            [
                Paragraph(
                    "Every number in this report is listed in report.json next to the "
                    "file it was read from (paths relative to the run directory): eval "
                    "numbers from each node's summary.json, corpus numbers from "
                    "documents.jsonl, training numbers from manifest.json, calls, tokens "
                    "and cost from each node's manifest.json (usage) and wall time from "
                    "state/NODE.json (seconds); tables name the field where it is not the "
                    "obvious one. Excerpts and "
                    "disagreeing samples name the Inspect log, sample id and epoch they come "
                    "from (open the log with inspect view)."
                )
            ],
        )
    )
