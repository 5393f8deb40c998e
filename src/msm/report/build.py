"""``build_report``: a read-only report over an experiment run directory.

Reads ``run.json``, each done node's files (eval ``summary.json``, corpus
``documents.jsonl``, training ``manifest.json``/``loss.csv``) and writes
``report/report.md``, ``report/report.html`` (self-contained), the PNG figures and
``report/report.json`` (every number with the file it came from). Nothing outside
``run_dir/report/`` is touched.
"""

from __future__ import annotations

import csv
import json
import math
import re
import statistics
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from msm.errors import MsmError
from msm.fsutil import atomic_write_bytes, atomic_write_json, atomic_write_text
from msm.report import plots
from msm.report.efficiency import EfficiencyPoint, describe, efficiency_curve
from msm.report.load import (
    AGENTIC_METRICS,
    EFFICIENCY_PAIRS,
    Aggregate,
    EvalResult,
    GroupKey,
    Node,
    Run,
    aggregate,
    condition_rank,
    group_evals,
    load_evals,
    load_run,
    metric_kind,
    read_json,
    rel,
)
from msm.report.render import Bullets, Image, Paragraph, Section, Table, to_html, to_markdown

REPORT_DIR = "report"
TRAINING_FIELDS = (
    "steps",
    "tokens_seen",
    "final_loss",
    "train_seconds",
    "wall_seconds",
    "tokens_per_s",
)
TRAINING_KINDS = ("midtrain", "aft")
DASH = "—"


# --------------------------------------------------------------------------
# formatting


def _f(x: float | None, digits: int = 3) -> str:
    if x is None or not math.isfinite(x):
        return DASH
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    if abs(x) >= 100:
        return f"{x:.1f}"
    return f"{x:.{digits}f}"


def _ci(ci: tuple[float, float] | None, digits: int = 3) -> str:
    return DASH if ci is None else f"[{_f(ci[0], digits)}, {_f(ci[1], digits)}]"


def _size(s: int | None) -> str:
    return DASH if s is None else str(s)


def _seeds(seeds: Sequence[int | None]) -> str:
    return ", ".join("?" if s is None else str(s) for s in seeds)


def _n(ns: Sequence[int | None]) -> str:
    vals = sorted({n for n in ns if n is not None})
    if not vals:
        return DASH
    return str(vals[0]) if len(vals) == 1 else f"{vals[0]}–{vals[-1]}"


def _basis(a: Aggregate) -> str:
    if a.stats is None:
        return DASH
    return "eval CI" if a.stats.method == "eval" else f"across {a.stats.k} seeds"


def _direction(higher: bool) -> str:
    return "higher is better" if higher else "lower is better"


def _group_name(key: GroupKey) -> str:
    return key.label if key.aft_size is None else f"{key.label} n={key.aft_size}"


def _safe_name(text: str) -> str:
    return re.sub(r"_+", "_", re.sub(r"[^A-Za-z0-9._-]+", "_", text)).strip("_") or "x"


def _overlap(a: tuple[float, float] | None, b: tuple[float, float] | None) -> bool | None:
    if a is None or b is None:
        return None
    return a[0] <= b[1] and b[0] <= a[1]


def _agg_json(a: Aggregate) -> dict[str, Any]:
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
            else "eval's own 95% interval"
            if s.method == "eval"
            else "mean +- 1.96 * sd / sqrt(k) across seeds"
        ),
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


# --------------------------------------------------------------------------
# the builder


@dataclass
class _Pair:
    msm: str  # MSM-family label
    aft: str  # matching AFT-only-family label
    metric: str


class _Builder:
    def __init__(self, run: Run, evals: list[EvalResult], notes: list[str]) -> None:
        self.run = run
        self.evals = evals
        self.notes: list[str] = list(notes)
        self.sections: list[Section] = []
        self.images: dict[str, bytes] = {}
        self.headline: list[str] = []
        self.groups = group_evals(evals)
        self.aggs: dict[tuple[GroupKey, str], Aggregate] = {}
        self.data: dict[str, Any] = {}
        self.metric = self._headline_metric()

    # ---------------------------------------------------------------- helpers

    def agg(self, key: GroupKey, metric: str) -> Aggregate | None:
        if (key, metric) not in self.aggs:
            a = aggregate(key, self.groups.get(key, []), metric)
            if a is None:
                return None
            self.aggs[(key, metric)] = a
        return self.aggs[(key, metric)]

    def image(self, stem: str, data: bytes, alt: str, caption: str | None = None) -> Image:
        name = _safe_name(stem)
        base, i = name, 2
        while f"{name}.png" in self.images:
            name, i = f"{base}-{i}", i + 1
        self.images[f"{name}.png"] = data
        return Image(f"{name}.png", alt, data, caption)

    def all_metrics(self) -> list[str]:
        return sorted({m for r in self.evals for m in r.metrics})

    def labels_by_condition(self) -> dict[str | None, list[str]]:
        out: dict[str | None, list[str]] = defaultdict(list)
        for key, rs in self.groups.items():
            cond = rs[0].node.condition
            if key.label not in out[cond]:
                out[cond].append(key.label)
        return out

    def chosen_groups(self) -> tuple[list[GroupKey], str]:
        """One group per label for bar charts, and a caption saying which AFT size is shown.

        AFT labels are shown at the largest AFT size they all have, so bars compare like
        with like; when they share none, each at its own largest (and the caption says so).
        Labels without a size (base, msm_only) are shown as they are.
        """
        sizes: dict[str, set[int]] = defaultdict(set)
        for k in self.groups:
            if k.aft_size is not None:
                sizes[k.label].add(k.aft_size)
        if not sizes:
            return list(self.groups), ""
        common = set.intersection(*sizes.values())
        largest = max(max(v) for v in sizes.values())
        if common:
            top = max(common)
            caption = f"AFT conditions at n={top}, the largest AFT size every AFT label has"
            if top < largest:
                caption += f" (sizes up to {largest} exist: see the table)"
        else:
            caption = (
                "AFT labels share no AFT size, so each is at its own largest (n= in its name): "
                "these bars are not like for like"
            )
        out: list[GroupKey] = []
        for k in self.groups:
            if k.label in sizes:
                want = max(common) if common else max(sizes[k.label])
                if k.aft_size == want:
                    out.append(k)
            elif k.aft_size is None:
                out.append(k)
        return out, caption + "."

    def _headline_metric(self) -> str | None:
        if self.run.headline_metric:
            return self.run.headline_metric
        names = self.all_metrics()
        for prefix in ("values.", "spec_qa.", "agentic.harmful", "capability."):
            for n in names:
                if n.startswith(prefix) and "@" not in n:
                    self.notes.append(
                        f"run.json names no headline_metric; {n} is used as the headline"
                    )
                    return n
        return None

    def pairs(self, with_msm_only: bool = True) -> list[_Pair]:
        """(MSM label, AFT-only label) pairs: the msm_aft family against the AFT-only family,
        and (``with_msm_only``) msm_only against base."""
        by_cond = self.labels_by_condition()
        out: list[_Pair] = []
        mapping = {**EFFICIENCY_PAIRS, **({"msm_only": "base"} if with_msm_only else {})}
        # MSM+AFT against AFT-only first: that is the comparison the experiment is about
        for cond in sorted(mapping, key=lambda c: (c == "msm_only", condition_rank(c))):
            for m in by_cond.get(cond, []):
                for a in by_cond.get(mapping[cond], []):
                    out.append(_Pair(m, a, self.metric or ""))
        return out

    def keys_of(self, label: str) -> list[GroupKey]:
        return [k for k in self.groups if k.label == label]

    # ---------------------------------------------------------------- sections

    def header(self) -> None:
        run = self.run
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
        if self.metric:
            hib = self.metric_direction(self.metric)
            text.append(
                f"Headline metric: {self.metric}"
                + (f" ({_direction(hib)})" if hib is not None else "")
            )
        t = Table(
            ["node kind", "done", "missing"],
            [[k, str(c[0]), str(c[1])] for k, c in sorted(counts.items())],
            numeric=frozenset({1, 2}),
        )
        self.sections.append(Section("Run", [Bullets(text), t]))
        self.data["nodes"] = {
            "total": len(run.nodes),
            "done": done,
            "by_kind": {k: {"done": c[0], "missing": c[1]} for k, c in sorted(counts.items())},
            "missing": [{"id": n.id, "kind": n.kind, "status": n.status} for n in missing],
        }
        self.headline.append(
            f"{run.name}: {done} of {len(run.nodes)} nodes done"
            + (f", {len(missing)} pending/failed" if missing else "")
        )

    def metric_direction(self, metric: str) -> bool | None:
        for r in self.evals:
            if metric in r.metrics:
                return r.metrics[metric].higher_is_better
        return None

    def headline_section(self) -> None:
        sec = Section("Headline metric by condition")
        self.sections.append(sec)
        n_evals = sum(1 for n in self.run.nodes if n.kind == "eval")
        if not self.evals:
            msg = f"No evaluations finished yet (0 of {n_evals} eval nodes done)."
            sec.blocks.append(Paragraph(msg))
            self.headline.append(f"no evaluations finished yet (0 of {n_evals} eval nodes done)")
            return
        metric = self.metric
        if metric is None:
            sec.blocks.append(Paragraph("No headline metric: run.json names none and no eval "
                                        "summary holds a usable metric."))  # fmt: skip
            return
        rows = []
        for key in self.groups:
            a = self.agg(key, metric)
            if a is None:
                continue
            s = a.stats
            rows.append([
                key.label, _size(key.aft_size), _seeds(a.seeds), _f(s.mean if s else None),
                _ci(s.ci95 if s else None), _basis(a), _n(a.n), "\n".join(a.sources),
            ])  # fmt: skip
        hib = self.metric_direction(metric)
        if not rows:
            sec.blocks.append(Paragraph(f"No finished eval reports {metric}."))
            self.notes.append(f"headline metric {metric} is not in any eval summary")
            self.headline.append(f"{metric}: not reported by any finished eval")
            return
        sec.blocks.append(
            Paragraph(
                f"{metric} ({_direction(bool(hib))}). One row per label and AFT size; "
                "n is the eval's sample size (items, answers or judged samples) per seed."
            )
        )
        sec.blocks.append(
            Table(
                [
                    "label",
                    "AFT n",
                    "seeds",
                    "mean",
                    "95% interval",
                    "interval basis",
                    "n",
                    "source",
                ],
                rows,
                numeric=frozenset({1, 3, 4, 6}),
                source_col=7,
            )
        )
        chosen, which = self.chosen_groups()
        bars = [(k, self.agg(k, metric)) for k in chosen]
        bars_ok = [(k, a) for k, a in bars if a is not None and a.stats is not None]
        if bars_ok:
            names = [_group_name(k) for k, _ in bars_ok]
            means = [a.stats.mean for _, a in bars_ok if a.stats]
            cis = [a.stats.ci95 for _, a in bars_ok if a.stats]
            png = plots.bar_chart(names, means, cis, f"{metric} by condition", metric)
            cap = f"Error bars: 95% intervals (see the interval basis column). {which}".strip()
            sec.blocks.append(self.image(f"headline_{metric}", png, f"{metric} by label", cap))
        self.headline_lines(metric)

    def headline_lines(self, metric: str) -> None:
        pairs = self.pairs()
        if not pairs:
            for key in self.chosen_groups()[0]:
                a = self.agg(key, metric)
                if a and a.stats:
                    self.headline.append(
                        f"{metric}: {_group_name(key)} {_f(a.stats.mean, 2)} "
                        f"{_ci(a.stats.ci95, 2)} ({self._seed_note(a)})"
                    )
            return
        for p in pairs:
            shared = sorted(
                {k.aft_size for k in self.keys_of(p.msm)}
                & {k.aft_size for k in self.keys_of(p.aft)},
                key=lambda s: s or 0,
            )
            if not shared:
                self.notes.append(f"{p.msm} and {p.aft} share no AFT size: not compared directly")
                continue
            for size in shared:
                am = self.agg(GroupKey(p.msm, size), metric)
                aa = self.agg(GroupKey(p.aft, size), metric)
                if not (am and aa and am.stats and aa.stats):
                    continue
                ov = _overlap(am.stats.ci95, aa.stats.ci95)
                where = f" at n={size}" if size is not None else ""
                compare = (
                    f"{metric}{where}: {p.msm} {_f(am.stats.mean)} {_ci(am.stats.ci95)} vs "
                    f"{p.aft} {_f(aa.stats.mean)} {_ci(aa.stats.ci95)}"
                )
                if ov is None:
                    self.notes.append(compare + ": no interval for one side, cannot judge")
                elif ov:
                    self.notes.append(
                        compare + ": the 95% intervals overlap, so the difference is not "
                        "significant at 95% by this (conservative) check"
                    )
                else:
                    better = (am.stats.mean > aa.stats.mean) == am.higher_is_better
                    self.notes.append(
                        compare + f": the 95% intervals do not overlap ({p.msm} is "
                        f"{'better' if better else 'worse'})"
                    )
                if size == shared[-1]:
                    size_txt = f"n={size}, " if size is not None else ""
                    tail = "" if ov is None else "; intervals overlap" if ov else ""
                    self.headline.append(
                        f"{metric}: {p.msm} {_f(am.stats.mean, 2)} {_ci(am.stats.ci95, 2)} vs "
                        f"{p.aft} {_f(aa.stats.mean, 2)} {_ci(aa.stats.ci95, 2)} "
                        f"({size_txt}{self._seed_note(am)}){tail}"
                    )

    @staticmethod
    def _seed_note(a: Aggregate) -> str:
        if len(a.seeds) == 1:
            return f"seed {_seeds(a.seeds)}"
        return f"{len(a.seeds)} seeds"

    def seeds_section(self) -> None:
        if not self.evals or not self.metric:
            return
        sec = Section("Seeds")
        self.sections.append(sec)
        rows = []
        for key in self.groups:
            a = self.agg(key, self.metric)
            if a is None or a.stats is None or len(a.seeds) < 2:
                continue
            s = a.stats
            per = ", ".join(
                f"s{'?' if sd is None else sd}: {_f(v)}"
                for sd, v in zip(a.seeds, a.per_seed, strict=True)
            )
            rows.append([
                key.label, _size(key.aft_size), str(s.k), per, _f(s.mean), _f(s.sd), _f(s.min),
                _f(s.max), _ci(s.ci95), "\n".join(a.sources),
            ])  # fmt: skip
        if not rows:
            sec.blocks.append(
                Paragraph(
                    "Every (label, AFT size) has a single seed, so each interval is that eval's "
                    "own 95% interval over items; it does not include seed-to-seed variation."
                )
            )
            return
        sec.blocks.append(
            Paragraph(
                f"{self.metric} where a (label, AFT size) has several seeds: the mean across "
                "seeds, the sample standard deviation (sd), min and max, and the interval "
                "mean ± 1.96·sd/√k over the k seeds (a normal approximation, optimistic for "
                "small k). Groups with one seed use that eval's own interval."
            )
        )
        sec.blocks.append(
            Table(
                [
                    "label",
                    "AFT n",
                    "k",
                    "per seed",
                    "mean",
                    "sd",
                    "min",
                    "max",
                    "95% interval",
                    "source",
                ],
                rows,
                numeric=frozenset({1, 2, 4, 5, 6, 7, 8}),
                source_col=9,
            )  # fmt: skip
        )

    def efficiency_section(self) -> None:
        metric = self.metric
        pairs = self.pairs(with_msm_only=False)
        if not self.evals or not metric or not pairs:
            self.data["efficiency"] = []
            return
        sec = Section("Data efficiency")
        self.sections.append(sec)
        hib = bool(self.metric_direction(metric))
        sec.blocks.append(
            Paragraph(
                f"{metric} against the number of AFT examples, MSM+AFT against AFT alone. The "
                "efficiency multiplier at MSM+AFT size n is the AFT-only size needed to reach "
                "the MSM+AFT value at n, divided by n. The needed size is interpolated linearly "
                "in log(size) between AFT-only sizes, seeds averaged first; on a non-monotone "
                "AFT-only curve the first crossing in increasing size is used. '≤' means "
                "AFT-only already matches at its smallest size (an upper bound); '>' means it "
                "never reaches the value within its sizes (a lower bound)."
            )
        )
        rows: list[list[str]] = []
        records: list[dict[str, Any]] = []
        for p in pairs:
            msm_pts, msm_src = self._points(p.msm, metric)
            aft_pts, aft_src = self._points(p.aft, metric)
            if not msm_pts or not aft_pts:
                continue
            points = efficiency_curve(aft_pts, msm_pts, hib)
            for pt in points:
                rows.append([
                    p.msm, p.aft, f"{pt.n:g}", _f(pt.msm_value), _rel_txt(pt, "size"),
                    _rel_txt(pt, "mult"), _eff_note(pt),
                ])  # fmt: skip
                records.append({
                    "metric": metric, "msm_label": p.msm, "aft_label": p.aft,
                    "n": int(pt.n) if pt.n.is_integer() else pt.n,
                    "msm_value": pt.msm_value, "needed": pt.needed.size,
                    "relation": pt.relation, "multiplier": pt.multiplier,
                    "aft_only_monotone": pt.needed.monotone,
                    "sources": {
                        "msm": [s for (n, _), s in zip(msm_pts, msm_src, strict=True)
                                if n == pt.n],
                        "aft_only": aft_src,
                    },
                })  # fmt: skip
            if points and not points[0].needed.monotone:
                self.notes.append(
                    f"the {p.aft} curve of {metric} is not monotone in AFT size; the efficiency "
                    "multiplier uses its first crossing"
                )
            if points:
                last = points[-1]
                caveats = []
                if len({n for n, _ in aft_pts}) < 2:
                    caveats.append(f"{p.aft} has one AFT size, so this is a bound, not a curve")
                am = self.agg(GroupKey(p.msm, int(last.n)), metric)
                aa = self.agg(GroupKey(p.aft, int(last.n)), metric)
                if am and aa and am.stats and aa.stats and _overlap(am.stats.ci95, aa.stats.ci95):
                    caveats.append(
                        f"at n={last.n:g} the two intervals overlap, so it is not evidence of "
                        "a difference"
                    )
                self.headline.append(
                    f"efficiency {p.msm} vs {p.aft} ({metric}): "
                    + describe(last, baseline=p.aft)
                    + "".join(f"; {c}" for c in caveats)
                )
                self.notes.extend(f"efficiency {p.msm} vs {p.aft}: {c}" for c in caveats)
            sec.blocks.append(self._efficiency_plot(p, metric))
        self.data["efficiency"] = records
        if rows:
            sec.blocks.insert(
                1,
                Table(
                    [
                        "MSM label",
                        "AFT-only label",
                        "n",
                        "MSM+AFT value",
                        "AFT-only needs",
                        "multiplier",
                        "note",
                    ],
                    rows,
                    numeric=frozenset({2, 3, 4, 5}),
                    caption="sources: the summary.json files in the headline table; "
                    "report.json lists them per row",
                ),  # fmt: skip
            )
        else:
            sec.blocks.append(Paragraph("Not enough finished evals to draw any curve yet."))

    def _points(
        self, label: str, metric: str
    ) -> tuple[list[tuple[float, float | None]], list[str]]:
        pts: list[tuple[float, float | None]] = []
        srcs: list[str] = []
        for key in self.keys_of(label):
            if key.aft_size is None:
                continue
            for r in self.groups[key]:
                m = r.metrics.get(metric)
                if m is not None and m.mean is not None:
                    pts.append((float(key.aft_size), m.mean))
                    srcs.append(r.source)
        return pts, srcs

    def _efficiency_plot(self, p: _Pair, metric: str) -> Image:
        curves = []
        for label in (p.aft, p.msm):
            pts = []
            for key in self.keys_of(label):
                a = self.agg(key, metric)
                if key.aft_size is not None and a is not None and a.stats is not None:
                    pts.append((float(key.aft_size), a.stats.mean, a.stats.ci95))
            curves.append((label, pts))
        refs: list[tuple[str, float]] = []
        spec = next((r.node.spec for k in self.keys_of(p.msm) for r in self.groups[k]), None)
        for key, rs in self.groups.items():
            node = rs[0].node
            if node.condition == "base" or (node.condition == "msm_only" and node.spec == spec):
                a = self.agg(key, metric)
                if a is not None and a.stats is not None:
                    refs.append((key.label, a.stats.mean))
        png = plots.efficiency_plot(curves, refs, f"{p.msm} vs {p.aft}", metric)
        return self.image(
            f"efficiency_{p.msm}_vs_{p.aft}",
            png,
            f"{metric} against AFT size: {p.msm} vs {p.aft}",
            "Error bars: 95% intervals; dotted lines: conditions without AFT.",
        )

    def agentic_section(self) -> None:
        keys = [k for k in self.groups if self.agg(k, "agentic.harmful") is not None]
        if not keys:
            return
        sec = Section("Agentic misalignment")
        self.sections.append(sec)
        cols = sorted({
            m.split("@", 1)[1] for r in self.evals for m in r.metrics
            if m.startswith("agentic.harmful@")
        })  # fmt: skip
        if cols:
            vals = []
            for k in keys:
                row = []
                for c in cols:
                    a = self.agg(k, f"agentic.harmful@{c}")
                    row.append(a.stats.mean if a and a.stats else None)
                vals.append(row)
            png = plots.heatmap(
                [_group_name(k) for k in keys], cols, vals,
                "harmful rate by scenario / goal condition", "harmful rate",
            )  # fmt: skip
            sec.blocks.append(
                self.image(
                    "agentic_harmful_heatmap",
                    png,
                    "harmful rate heatmap",
                    "Rows: label (and AFT size); columns: scenario/goal condition; "
                    "cells: harmful rate (seeds averaged). Lower is better.",
                )  # fmt: skip
            )
        rows = []
        total_errors = 0
        for k in keys:
            cells = []
            judged: list[int | None] = []
            errors = 0
            srcs: list[str] = []
            seeds: list[int | None] = []
            for m in AGENTIC_METRICS:
                a = self.agg(k, f"agentic.{m}")
                if a is None or a.stats is None:
                    cells.append(DASH)
                    continue
                cells.append(f"{_f(a.stats.mean)} {_ci(a.stats.ci95)}")
                judged, srcs, seeds = a.n, a.sources, a.seeds
                errors = int(a.extra.get("grader_errors") or 0)
            total_errors += errors
            rows.append([
                k.label, _size(k.aft_size), _seeds(seeds), *cells, _n(judged), str(errors),
                "\n".join(srcs),
            ])  # fmt: skip
        sec.blocks.append(
            Table(
                [
                    "label",
                    "AFT n",
                    "seeds",
                    "classifier verdict",
                    "harmful",
                    "attempt",
                    "judged per seed",
                    "grader errors",
                    "source",
                ],
                rows,
                numeric=frozenset({1, 3, 4, 5, 6, 7}),
                source_col=8,
                caption="Rates over all scenario/goal conditions with 95% intervals (Wilson for "
                "one seed, across seeds otherwise); lower is better. Grader errors are replies "
                "without a verdict (not scored), summed over seeds.",
            )  # fmt: skip
        )
        if total_errors:
            self.notes.append(
                f"agentic: {total_errors} grader replies had no verdict and were not scored"
            )

    def values_section(self) -> None:
        sets = [m for m in self.all_metrics() if metric_kind(m) == "values"]
        if not sets:
            return
        sec = Section("Value generalization")
        self.sections.append(sec)
        rows = []
        n_by_set: dict[str, set[int]] = defaultdict(set)
        for k in self.groups:
            cells, srcs, seeds = [], [], []
            for m in sets:
                a = self.agg(k, m)
                if a is None or a.stats is None:
                    cells.append(DASH)
                    continue
                cells.append(f"{_f(a.stats.mean)} {_ci(a.stats.ci95)}")
                n_by_set[m].update(n for n in a.n if n is not None)
                srcs += [s for s in a.sources if s not in srcs]
                seeds = a.seeds
            if any(c != DASH for c in cells):
                rows.append([k.label, _size(k.aft_size), _seeds(seeds), *cells, "\n".join(srcs)])
        names = [m.split(".", 1)[1] for m in sets]
        n_txt = "; ".join(
            f"{nm} {_n(sorted(n_by_set[m]))}" for nm, m in zip(names, sets, strict=True)
        )
        sec.blocks.append(
            Table(
                ["label", "AFT n", "seeds", *names, "source"],
                rows,
                numeric=frozenset(range(3, 3 + len(sets))) | {1},
                source_col=3 + len(sets),
                caption="Share of value-consistent choices, mean [95% interval]; 0.5 = "
                f"indifferent, higher is better. Items per set: {n_txt}.",
            )
        )
        chosen, which = self.chosen_groups()
        series = [k for k in chosen if any(self.agg(k, m) for m in sets)]
        if series:
            means, cis = [], []
            for k in series:
                row_m, row_c = [], []
                for m in sets:
                    a = self.agg(k, m)
                    row_m.append(a.stats.mean if a and a.stats else None)
                    row_c.append(a.stats.ci95 if a and a.stats else None)
                means.append(row_m)
                cis.append(row_c)
            png = plots.grouped_bars(
                names, [_group_name(k) for k in series], means, cis,
                "value-consistent choice by item set", "share value-consistent",
            )  # fmt: skip
            cap = f"Error bars: 95% intervals. {which}".strip()
            sec.blocks.append(self.image("values_by_set", png, "values by item set", cap))

    def spec_qa_capability_section(self) -> None:
        qa = [m for m in self.all_metrics() if metric_kind(m) == "spec_qa"]
        cap = "capability.perplexity" in self.all_metrics()
        if not qa and not cap:
            return
        sec = Section("Spec Q&A and capability")
        self.sections.append(sec)
        if qa:
            rows = []
            for k in self.groups:
                for m in qa:
                    a = self.agg(k, m)
                    if a is None or a.stats is None:
                        continue
                    rows.append([
                        k.label, _size(k.aft_size), _seeds(a.seeds), m.split(".", 1)[1],
                        _f(a.stats.mean, 2), _ci(a.stats.ci95, 2), _n(a.n),
                        str(a.extra.get("grader_errors", 0) or 0), "\n".join(a.sources),
                    ])  # fmt: skip
            sec.blocks.append(
                Table(
                    [
                        "label",
                        "AFT n",
                        "seeds",
                        "question set",
                        "grade",
                        "95% interval",
                        "answers",
                        "grader errors",
                        "source",
                    ],
                    rows,
                    numeric=frozenset({1, 4, 5, 6, 7}),
                    source_col=8,
                    caption="Spec Q&A: grader's score of answers about the spec (higher is "
                    "better).",
                )  # fmt: skip
            )
        if cap:
            rows = []
            for k in self.groups:
                a = self.agg(k, "capability.perplexity")
                if a is None or a.stats is None:
                    continue
                rows.append([
                    k.label, _size(k.aft_size), _seeds(a.seeds), _f(a.stats.mean, 2),
                    _ci(a.stats.ci95, 2) if a.stats.k > 1 else DASH, _n(a.n),
                    "\n".join(a.sources),
                ])  # fmt: skip
            sec.blocks.append(
                Table(
                    [
                        "label",
                        "AFT n",
                        "seeds",
                        "perplexity",
                        "95% interval (seeds)",
                        "tokens",
                        "source",
                    ],
                    rows,
                    numeric=frozenset({1, 3, 4, 5}),
                    source_col=6,
                    caption="Capability: perplexity of held-out prose (lower is better; a rise "
                    "means training damaged general ability). One eval has no interval.",
                )  # fmt: skip
            )

    def corpus_section(self) -> None:
        nodes = [n for n in self.run.nodes if n.kind == "corpus" and n.done]
        records: list[dict[str, Any]] = []
        self.data["corpora"] = records
        if not nodes:
            return
        sec = Section("Corpora")
        self.sections.append(sec)
        rows = []
        images = []
        for node in nodes:
            path = node.folder(self.run.run_dir) / "documents.jsonl"
            src = rel(path, self.run.run_dir)
            if not path.is_file():
                self.notes.append(f"corpus {node.id} is marked done but has no documents.jsonl")
                continue
            lengths, unit = _document_lengths(path, src)
            total = sum(lengths)
            mean = statistics.fmean(lengths) if lengths else None
            med = statistics.median(lengths) if lengths else None
            rows.append([
                node.id, node.spec or DASH, str(len(lengths)), f"{total:,}", unit, _f(mean, 1),
                _f(med, 1), str(max(lengths)) if lengths else DASH, src,
            ])  # fmt: skip
            records.append({
                "node": node.id, "spec": node.spec, "documents": len(lengths), "total": total,
                "unit": unit, "mean": mean, "median": med,
                "max": max(lengths) if lengths else None, "source": src,
            })  # fmt: skip
            png = plots.histogram(lengths, unit, f"{node.id}: {len(lengths)} documents")
            stem = "corpus_" + node.id.removeprefix("corpus/")
            images.append(self.image(stem, png, f"{node.id} length histogram"))
        sec.blocks.append(
            Table(
                ["corpus", "spec", "documents", "total", "unit", "mean", "median", "max", "source"],
                rows,
                numeric=frozenset({2, 3, 5, 6, 7}),
                source_col=8,
            )  # fmt: skip
        )
        sec.blocks.extend(images)

    def training_section(self) -> None:
        records: list[dict[str, Any]] = []
        self.data["training"] = records
        found: list[tuple[Node, dict[str, Any], str]] = []
        for node in self.run.nodes:
            if not node.done or node.kind in ("eval", "corpus"):
                continue
            path = node.folder(self.run.run_dir) / "manifest.json"
            if not path.is_file():
                if node.kind in TRAINING_KINDS:
                    self.notes.append(f"training node {node.id} is done but has no manifest.json")
                continue
            src = rel(path, self.run.run_dir)
            man = read_json(path, src)
            if not isinstance(man, dict):
                raise MsmError(f"{src} is not a JSON object")
            if node.kind in TRAINING_KINDS or any(f in man for f in TRAINING_FIELDS):
                found.append((node, man, src))
        if not found:
            return
        sec = Section("Training")
        self.sections.append(sec)
        fields = [
            f for f in TRAINING_FIELDS if any(_num(m.get(f)) is not None for _, m, _ in found)
        ]
        rows = []
        curves: dict[str, list[tuple[str, list[tuple[float, float]]]]] = defaultdict(list)
        for node, man, src in found:
            vals = {f: _num(man.get(f)) for f in fields}
            rows.append([node.id, node.kind, *[_fmt_field(f, vals[f]) for f in fields], src])
            records.append({"node": node.id, "kind": node.kind, **vals, "source": src})
            loss = _loss_curve(node.folder(self.run.run_dir) / "loss.csv")
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
                self.image("training_loss", png, "training loss curves", "From each loss.csv.")
            )

    def missing_section(self) -> None:
        missing = [n for n in self.run.nodes if not n.done]
        if not missing:
            return
        rows = [[n.id, n.kind, n.status, n.path] for n in missing]
        by_status: dict[str, int] = defaultdict(int)
        for n in missing:
            by_status[n.status] += 1
        self.notes.insert(
            0,
            f"{len(missing)} nodes are not done ("
            + ", ".join(f"{c} {s}" for s, c in sorted(by_status.items()))
            + "); their results are missing from this report",
        )
        self.sections.append(
            Section(
                "Missing nodes",
                [Table(["node", "kind", "status", "path"], rows, source_col=3)],
            )
        )

    def spread_notes(self) -> None:
        """Flag across-seed intervals of zero width: identical seeds say little about spread."""
        flat: dict[str, list[str]] = defaultdict(list)
        for a in self.aggs.values():
            if a.stats and a.stats.method == "seeds" and a.stats.sd == 0 and "@" not in a.metric:
                flat[a.metric].append(_group_name(a.key))
        if flat:
            parts = []
            for metric, names in sorted(flat.items()):
                more = f" and {len(names) - 3} more" if len(names) > 3 else ""
                parts.append(f"{metric} ({', '.join(names[:3])}{more})")
            self.notes.append(
                "all seeds gave the same value, so the across-seed interval has zero width and "
                "understates the uncertainty (each eval's own interval is in report.json): "
                + "; ".join(parts)
            )

    def notes_section(self, at: int) -> None:
        items = self.notes or ["Nothing to flag."]
        self.sections.insert(at, Section("Notes", [Bullets(items, kind="note")]))

    def sources_section(self) -> None:
        self.sections.append(
            Section(
                "Sources",
                [
                    Paragraph(
                        "Every number in this report is listed in report.json next to the "
                        "file it was read from (paths relative to the run directory): eval "
                        "numbers from each node's summary.json, corpus numbers from "
                        "documents.jsonl, training numbers from manifest.json."
                    )
                ],
            )
        )


def _num(x: Any) -> float | None:
    if isinstance(x, bool) or not isinstance(x, int | float):
        return None
    return float(x) if math.isfinite(x) else None


def _fmt_field(name: str, v: float | None) -> str:
    if v is None:
        return DASH
    if name in ("steps", "tokens_seen"):
        return f"{v:,.0f}"
    if name == "final_loss":
        return f"{v:.4f}"
    return _f(v, 1)


def _rel_txt(pt: EfficiencyPoint, what: str) -> str:
    if what == "size":
        sym = {"=": "≈", "<=": "≤ ", ">": "> "}[pt.relation]
        return f"{sym}{pt.needed.size:.0f}"
    sym = {"=": "", "<=": "≤ ", ">": "> "}[pt.relation]
    return f"{sym}{pt.multiplier:.2f}×"


def _eff_note(pt: EfficiencyPoint) -> str:
    note = {
        "=": "interpolated",
        "<=": "AFT-only matches at its smallest size",
        ">": "not reached within AFT-only sizes",
    }[pt.relation]
    if not pt.needed.monotone:
        note += "; AFT-only curve not monotone (first crossing)"
    return note


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
    """
    run_dir = Path(run_dir)
    run = load_run(run_dir)
    evals, notes = load_evals(run)
    b = _Builder(run, evals, notes)
    b.header()
    b.headline_section()
    notes_at = len(b.sections)
    b.seeds_section()
    b.efficiency_section()
    b.agentic_section()
    b.values_section()
    b.spec_qa_capability_section()
    b.corpus_section()
    b.training_section()
    b.missing_section()
    b.spread_notes()
    b.notes_section(notes_at)
    b.sources_section()

    out_dir = run_dir / REPORT_DIR
    title = f"MSM report: {run.name}"
    md_path, html_path, json_path = (out_dir / f"report.{x}" for x in ("md", "html", "json"))
    for name, data in b.images.items():
        atomic_write_bytes(out_dir / name, data)
    _remove_stale(out_dir, set(b.images))
    atomic_write_text(md_path, to_markdown(title, b.sections))
    atomic_write_text(html_path, to_html(title, b.sections))
    b.headline.append(f"report: {html_path}")
    report = {
        "experiment": run.experiment,
        "run_json": "run.json",
        "headline_metric": b.metric,
        **b.data,
        "evals": [
            {
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
            for r in evals
        ],
        "aggregates": [_agg_json(a) for a in b.aggs.values()],
        "notes": b.notes,
        "headline": b.headline,
        "files": sorted(b.images),
    }
    atomic_write_json(json_path, report)
    return {
        "md": md_path,
        "html": html_path,
        "json": json_path,
        "headline": b.headline,
        "files": [out_dir / f for f in sorted(b.images)],
    }
