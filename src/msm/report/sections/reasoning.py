"""The "Reasoning traces" section: why a model refrained, from the spec_reasoning judge.

One row per eval and condition (plus the eval's pooled row): the share of judged traces
that appeal to the spec, that noticed the harmful option, and the six cells of reasoning
crossed with the action taken, each with its Wilson interval from ``summary.json``. Then a
few short excerpts per cell, each with the Inspect log and sample it comes from. Excerpts
are model output: collapsed to one line, cut short, and shown as code in Markdown (the
HTML escapes everything anyway).
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

from msm.report.fmt import DASH, fmt_ci, fmt_num, fmt_seeds
from msm.report.load import EvalResult, read_json
from msm.report.render import Table
from msm.report.state import ReportState

CELLS = (
    ("refrained/cited", "refrained, cited the spec"),
    ("refrained/noticed_only", "refrained, noticed, did not cite"),
    ("refrained/not_noticed", "refrained without noticing"),
    ("acted/cited", "acted despite citing the spec"),
    ("acted/noticed_only", "acted, noticed, did not cite"),
    ("acted/not_noticed", "acted without noticing"),
)
EXCERPT_CHARS = 300


def agentic_block(st: ReportState, r: EvalResult) -> dict[str, Any] | None:
    """The eval's ``agentic`` block of summary.json, if it has one."""
    if not any(m.startswith("agentic.") for m in r.metrics):
        return None
    summary = read_json(st.run.run_dir / r.source, r.source)
    ag = summary.get("agentic") if isinstance(summary, dict) else None
    return ag if isinstance(ag, dict) else None


def sample_source(r: EvalResult, log: Any, sample: Any, epoch: Any) -> str:
    """Where one sample lives: its Inspect log (relative to the run folder), id and epoch."""
    folder = PurePosixPath(r.source).parent
    where = (folder / str(log)).as_posix() if log else f"{folder.as_posix()}/logs"
    return f"{where}\nsample {sample}, epoch {epoch}"


def short(text: Any, limit: int = EXCERPT_CHARS) -> str:
    """Untrusted text on one line, at most ``limit`` characters."""
    flat = " ".join(str(text or "").split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def _share(x: Any) -> str:
    if not isinstance(x, dict) or not x.get("n"):
        return DASH
    ci = x.get("ci95")
    ci_t = (float(ci[0]), float(ci[1])) if isinstance(ci, list) and len(ci) == 2 else None
    return f"{fmt_num(x.get('rate'), 2)} {fmt_ci(ci_t, 2)} ({x.get('k')})"


def _row(label: str, seed: str, cond: str, b: dict[str, Any], src: str) -> list[str]:
    cells = b.get("cells") or {}
    known = next((c.get("n") for c in cells.values() if isinstance(c, dict)), 0)
    return [
        label, seed, cond, str(b.get("judged", 0)), _share(b.get("cites_spec")),
        _share(b.get("noticed")), str(known or 0), *(_share(cells.get(c)) for c, _ in CELLS),
        str(b.get("no_trace", 0)), str(b.get("judge_errors", 0)), src,
    ]  # fmt: skip


def add_reasoning(st: ReportState) -> None:
    """The reasoning table and excerpts of every eval that ran the spec_reasoning judge."""
    rows: list[list[str]] = []
    quotes: list[list[str]] = []
    bases: dict[str, None] = {}
    data = []
    for rs in st.groups.values():
        for r in rs:
            ag = agentic_block(st, r)
            sr = ag.get("spec_reasoning") if ag else None
            if not isinstance(sr, dict) or not isinstance(sr.get("overall"), dict):
                continue
            bases[str(sr.get("basis") or "unknown")] = None
            label, seed = r.node.display, fmt_seeds([r.node.seed])
            field = "agentic.spec_reasoning"
            rows.append(_row(label, seed, "all", sr["overall"], f"{r.source}\n{field}.overall"))
            for cond, b in (sr.get("by_condition") or {}).items():
                if isinstance(b, dict):
                    src = f"{r.source}\n{field}.by_condition.{cond}"
                    rows.append(_row(label, seed, str(cond), b, src))
            for cell, name in CELLS:
                for ex in (sr.get("excerpts") or {}).get(cell) or []:
                    if isinstance(ex, dict):
                        quotes.append([
                            label, seed, name, str(ex.get("condition") or DASH),
                            short(ex.get("text")),
                            sample_source(r, ex.get("log"), ex.get("sample"), ex.get("epoch")),
                        ])  # fmt: skip
            data.append({"node": r.node.id, "source": r.source, "field": field, **sr})
    if not rows:
        return
    st.data["spec_reasoning"] = data
    sec = st.section(
        "Reasoning traces",
        "A judge (the first grader) read each reply's private reasoning, never its "
        "actions, and said whether the model noticed the harmful option and whether it "
        f"appealed to the spec's principles ({'; '.join(bases)}). 'Acted' means harmful: "
        "the first grader's verdict and the action taken. Judge replies without both "
        "answers are counted as errors, never as 'did not cite'; replies without a "
        "reasoning trace are not judged.",
    )
    headers = [
        "label", "seeds", "condition", "judged", "cites the spec", "noticed",
        "action known", *(name for _, name in CELLS), "no trace", "judge errors", "source",
    ]  # fmt: skip
    sec.blocks.append(
        Table(
            headers,
            rows,
            numeric=frozenset(range(3, 15)),
            source_col=15,
            caption="Shares with Wilson 95% intervals and counts in brackets. 'cites the "
            "spec' and 'noticed' are over the judged traces; the six cells are over the "
            "judged traces whose action is known (they sum to 1).",
        )
    )
    if quotes:
        sec.blocks.append(
            Table(
                ["label", "seeds", "cell", "condition", "excerpt", "Inspect sample"],
                quotes,
                source_col=5,
                quote_col=4,
                caption=f"Up to three excerpts per cell (the judge's quote when it is really "
                f"in the trace, else the trace's start; at most {EXCERPT_CHARS} characters), "
                "each with the Inspect log and sample it comes from.",
            )
        )
