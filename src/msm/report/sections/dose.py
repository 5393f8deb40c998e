"""The "Corpus dose" section: how the headline metric and the MSM effect grow with corpus
size (``corpus: {sizes: [...]}``), beside the AFT data-efficiency curve.

Each MSM condition was midtrained on nested subsets of its spec's corpus and on the whole
corpus. Its effect at each size is the paired difference from the condition it adds MSM to
(msm_only: base; msm_aft: aft_only at the same AFT size; msm_aft_cot: aft_cot), with the
report's usual interval (items and seeds). The x axis is the corpus tokens midtraining
trained on, read from the midtraining manifests.
"""

from __future__ import annotations

import statistics
from dataclasses import replace
from pathlib import Path
from typing import Any

from msm.artifacts.manifest import read_manifest
from msm.report import plots
from msm.report.contrasts import compare
from msm.report.fmt import fmt_ci, fmt_num
from msm.report.load import EvalResult, GroupKey
from msm.report.render import Paragraph, Table
from msm.report.state import ReportState

# an MSM condition -> the condition its effect is measured against
COUNTERPART = {"msm_only": "base", "msm_aft": "aft_only", "msm_aft_cot": "aft_cot"}
FRACTIONS = (0.5, 0.8)


def dose_label(label: str, docs: int) -> str:
    return f"{label} @ {docs} docs"


def split_dose(evals: list[EvalResult]) -> tuple[list[EvalResult], list[EvalResult]]:
    """The evals of the full corpora, and those of a dose study's smaller corpora (relabelled
    ``LABEL @ N docs``, so that no other section mixes them with the full ones)."""
    main, dose = [], []
    for e in evals:
        docs = e.node.raw.get("corpus_docs")
        if docs:
            node = replace(e.node, label=dose_label(e.node.display, int(docs)))
            dose.append(EvalResult(node, e.source, e.metrics))
        else:
            main.append(e)
    return main, dose


def _tokens(st: ReportState, spec: str | None, docs: int | None) -> float | None:
    """Mean over seeds of the tokens midtraining on spec ``spec``'s corpus (``docs``: its
    subset) trained on, from the manifests."""
    vals = []
    for n in st.run.nodes:
        if n.kind != "midtrain" or not n.done or n.spec != spec:
            continue
        if n.raw.get("corpus_docs") != docs:
            continue
        m = read_manifest(Path(n.folder(st.run.run_dir))) or {}
        t = (m.get("data_stats") or {}).get("label_tokens")
        if isinstance(t, int | float):
            vals.append(float(t))
    return statistics.fmean(vals) if vals else None


def dose_records(st: ReportState, metric: str) -> list[dict[str, Any]]:
    """Per (MSM condition, spec, AFT size) with dose evals: ``metric`` and the MSM effect at
    each corpus size (the full corpus last), and how far the effect reaches."""
    view = ReportState(st.run, st.evals + st.dose, [])  # groups of both, for the contrasts
    curves: dict[tuple[str, str | None, int | None], list[int]] = {}
    for e in st.dose:
        n = e.node
        curve = (str(n.condition), n.spec, n.aft_size)
        size = int(n.raw["corpus_docs"])
        if size not in curves.setdefault(curve, []):
            curves[curve].append(size)
    records: list[dict[str, Any]] = []
    docs: int | None
    for (cond, spec, aft_size), sizes in sorted(curves.items(), key=str):
        full = next((e.node.display for e in st.evals if e.node.condition == cond
                     and e.node.spec == spec), None)  # fmt: skip
        if full is None:
            continue
        other = GroupKey(COUNTERPART[cond], aft_size if cond != "msm_only" else None)
        points: list[dict[str, Any]] = []
        for docs in [*sorted(sizes), None]:
            label = dose_label(full, docs) if docs else full
            group = GroupKey(label, aft_size)
            agg = view.agg(group, metric)
            eff = compare(view, group, other, metric)
            points.append({
                "docs": docs, "tokens": _tokens(st, spec, docs), "label": label,
                "mean": agg.stats.mean if agg and agg.stats else None,
                "ci95": list(agg.stats.ci95) if agg and agg.stats and agg.stats.ci95 else None,
                "effect": eff["estimate"] if eff else None,
                "effect_ci95": eff["ci95"] if eff else None,
                "effect_basis": eff.get("basis") if eff else None,
            })  # fmt: skip
        base = view.agg(other, metric)
        records.append({"condition": cond, "spec": spec, "aft_size": aft_size, "model": full,
                        "against": other.label, "metric": metric, "points": points,
                        "against_mean": base.stats.mean if base and base.stats else None,
                        "reach": _reach(points)})  # fmt: skip
    return records


def add_dose(st: ReportState) -> None:
    """Table, plot and efficiency summary per (MSM condition, spec) with dose evals."""
    metric = st.metric
    if not st.dose or not metric:
        st.data["dose"] = []
        return
    records = dose_records(st, metric)
    sec = st.section(
        "Corpus dose",
        f"{metric} against the corpus tokens each MSM model was midtrained on (nested subsets "
        "of each corpus, balanced across the spec's hierarchy, and the full corpus). The "
        "effect is the paired difference from the condition MSM is added to, with the "
        "report's interval (items and seeds); 0 tokens is that condition itself.",
    )
    rows: list[list[str]] = []
    for rec in records:
        full, points, summary = rec["model"], rec["points"], rec["reach"]
        for p in points:
            rows.append([
                full, "all" if p["docs"] is None else str(p["docs"]),
                fmt_num(p["tokens"], 0) if p["tokens"] is not None else "?",
                f"{fmt_num(p['mean'])} {fmt_ci(p['ci95'])}",
                f"{fmt_num(p['effect'])} {fmt_ci(p['effect_ci95'])}", rec["against"],
            ])  # fmt: skip
        sec.blocks.append(Paragraph(f"{full}: {summary['text']}"))
        st.headline.append(f"corpus dose, {full}: {summary['text']}")
        line = [(p["tokens"], p["mean"], p["ci95"]) for p in points
                if p["tokens"] and p["mean"] is not None]  # fmt: skip
        if len(line) >= 2:
            refs = (
                [(rec["against"], rec["against_mean"])] if rec["against_mean"] is not None else []
            )
            png = plots.efficiency_plot(
                [(full, line)], refs, f"{metric}: corpus dose, {full}", metric,
                xlabel="corpus tokens midtrained on (log scale)",
            )  # fmt: skip
            sec.blocks.append(st.image(f"dose-{full}", png, f"{metric} against corpus tokens"))
    sec.blocks.insert(
        1,
        Table(
            ["model", "documents", "tokens", metric, "effect", "against"],
            rows,
            numeric=frozenset({1, 2}),
        ),  # fmt: skip
    )
    st.data["dose"] = records


def _reach(points: list[dict[str, Any]]) -> dict[str, Any]:
    """How many corpus tokens reach each of :data:`FRACTIONS` of the full corpus's effect
    (point estimates), stated only where the full effect's interval excludes 0."""
    full = points[-1]
    ci = full["effect_ci95"]
    if full["effect"] is None or ci is None:
        return {"text": "no effect of the full corpus could be computed", "fractions": {}}
    if ci[0] <= 0 <= ci[1]:
        return {
            "text": f"the full corpus's effect {fmt_num(full['effect'])} {fmt_ci(ci)} includes "
            "0, so no fraction of it is stated (a null, not a dose curve)",
            "fractions": {},
        }
    sign = 1.0 if full["effect"] > 0 else -1.0
    out: dict[str, float | None] = {}
    for f in FRACTIONS:
        hit = next((p["tokens"] for p in points if p["effect"] is not None
                    and sign * p["effect"] >= f * sign * full["effect"]), None)  # fmt: skip
        out[str(f)] = hit
    words = ", ".join(
        f"{int(float(f) * 100)}% at ~{fmt_num(t, 0)} tokens" if t is not None else
        f"{int(float(f) * 100)}%: not reached"
        for f, t in out.items()
    )  # fmt: skip
    return {
        "text": f"full-corpus effect {fmt_num(full['effect'])} {fmt_ci(ci)}; its fractions "
        f"reached (point estimates): {words}",
        "fractions": out,
    }
