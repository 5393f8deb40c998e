"""``build_report``: a read-only report over an experiment run directory.

Reads ``run.json``, each done node's files (eval ``summary.json``, corpus
``documents.jsonl``, training ``manifest.json``/``loss.csv``) and writes
``report/report.md``, ``report/report.html`` (self-contained), the PNG figures and
``report/report.json`` (every number with the file it came from). Nothing outside
``run_dir/report/`` is touched. Each section is built by its own module in
:mod:`msm.report.sections`; this module runs them in order and writes the files.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from msm._util.fsutil import atomic_write_bytes, atomic_write_json, atomic_write_text
from msm.artifacts.run_folder import RunFolder
from msm.report.load import Aggregate, EvalResult, load_evals, load_run
from msm.report.render import to_html, to_markdown
from msm.report.sections.agentic import add_agentic
from msm.report.sections.belief import add_belief
from msm.report.sections.contrasts import add_contrasts
from msm.report.sections.corpora import add_corpora
from msm.report.sections.cost import add_cost
from msm.report.sections.dose import add_dose, split_dose
from msm.report.sections.efficiency import add_efficiency
from msm.report.sections.graders import add_graders
from msm.report.sections.headline import add_headline
from msm.report.sections.notes import add_notes, add_sources, note_flat_spreads
from msm.report.sections.pressure import add_pressure
from msm.report.sections.primary import add_primary
from msm.report.sections.reasoning import add_reasoning
from msm.report.sections.robustness import add_names, add_robustness
from msm.report.sections.run import add_missing, add_run
from msm.report.sections.seeds import add_seeds
from msm.report.sections.spec_qa import add_spec_qa_capability
from msm.report.sections.training import add_training
from msm.report.sections.values import add_values
from msm.report.state import ReportState
from msm.report.variance import covers


def _agg_json(a: Aggregate, st: ReportState) -> dict[str, Any]:
    s = a.stats
    return {
        "label": a.key.label,
        "aft_size": a.key.aft_size,
        "condition": a.condition,
        "spec": a.spec,
        "metric": a.metric,
        "higher_is_better": a.higher_is_better,
        "mean": s.mean if s else None,
        "ci95": list(s.ci95) if s and s.ci95 else None,
        "interval_method": (
            None
            if s is None
            else "one seed: the eval's own 95% interval, which covers item sampling only"
            if s.method == "eval"
            else "mean +- t(k-1) * sd / sqrt(k) across the k seeds (Student's t)"
        ),
        # the sources of variance the interval covers (msm.report.variance)
        "covers": None if s is None else covers(st.run, s.k, items=s.method == "eval"),
        "sd": s.sd if s else None,
        "min": s.min if s else None,
        "max": s.max if s else None,
        "k": s.k if s else 0,
        "seeds": list(a.seeds),
        "per_seed": list(a.per_seed),
        "n": list(a.n),
        **a.extra,
        "sources": list(a.sources),
    }


def _remove_stale(out_dir: Path, keep: set[str]) -> None:
    """Delete PNGs an earlier report wrote (listed in its report.json) that this one did not."""
    old = out_dir / "report.json"
    try:
        prev = json.loads(old.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    files = prev.get("files") if isinstance(prev, dict) else None
    if not isinstance(files, list):
        return
    for name in files:
        if (
            isinstance(name, str)
            and name.endswith(".png")
            and name == Path(name).name
            and name not in keep
        ):
            (out_dir / name).unlink(missing_ok=True)


def build_report(run_dir: Path) -> dict[str, Any]:
    """Write the report for ``run_dir`` into ``run_dir/report/``.

    Returns ``{"md": path, "html": path, "json": path, "headline": [lines], "files": [...]}``.
    Raises MsmError when ``run.json`` is missing or any JSON it leads to is corrupt.

    Example::

        res = build_report(Path("runs/cheese"))
        print("\n".join(res["headline"]))
    """
    run_dir = Path(run_dir)
    run = load_run(run_dir)
    evals, notes = load_evals(run)
    main, dose = split_dose(evals)
    st = _build_sections(ReportState(run, main, notes, dose))

    out_dir = RunFolder(run_dir).report
    title = f"MSM report: {run.name}"
    md_path, html_path, json_path = (out_dir / f"report.{x}" for x in ("md", "html", "json"))
    for name, data in st.images.items():
        atomic_write_bytes(out_dir / name, data)
    _remove_stale(out_dir, set(st.images))
    atomic_write_text(md_path, to_markdown(title, st.sections))
    atomic_write_text(html_path, to_html(title, st.sections))
    st.headline.append(f"report: {html_path}")
    atomic_write_json(json_path, _report_json(st))
    return {
        "md": md_path,
        "html": html_path,
        "json": json_path,
        "headline": st.headline,
        "files": [out_dir / f for f in sorted(st.images)],
    }


def _build_sections(st: ReportState) -> ReportState:
    """Run every section in report order; the notes go right after the headline. The primary
    section also computes every contrast once, which later sections read."""
    add_run(st)
    add_primary(st)  # before any other table: the one contrast declared in advance
    add_headline(st)
    notes_at = len(st.sections)
    add_contrasts(st)
    add_seeds(st)
    add_efficiency(st)
    add_dose(st)
    add_agentic(st)
    add_robustness(st)
    add_pressure(st)
    add_names(st)
    add_reasoning(st)
    add_graders(st)
    add_values(st)
    add_belief(st)
    add_spec_qa_capability(st)
    add_corpora(st)
    add_training(st)
    add_cost(st)
    add_missing(st)
    note_flat_spreads(st)
    add_notes(st, notes_at)
    add_sources(st)
    return st


def _report_json(st: ReportState) -> dict[str, Any]:
    return {
        "experiment": st.run.experiment,
        "run_json": "run.json",
        "headline_metric": st.metric,
        **st.data,
        "evals": [_eval_json(r) for r in st.evals],
        "aggregates": [_agg_json(a, st) for a in st.aggs.values()],
        "notes": st.notes,
        "headline": st.headline,
        "files": sorted(st.images),
    }


def _eval_json(r: EvalResult) -> dict[str, Any]:
    return {
        "node": r.node.id,
        "label": r.node.display,
        "condition": r.node.condition,
        "spec": r.node.spec,
        "aft_size": r.node.aft_size,
        "seed": r.node.seed,
        "source": r.source,
        "metrics": {
            name: {
                "mean": m.mean,
                "ci95": list(m.ci95) if m.ci95 else None,
                "n": m.n,
                "higher_is_better": m.higher_is_better,
                "field": m.field,
                **m.extra,
                "source": r.source,
            }
            for name, m in sorted(r.metrics.items())
        },
    }
