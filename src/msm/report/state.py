"""The state one report is built in, shared by every section.

A :class:`ReportState` holds the loaded run and evals plus what the sections add as
they run, in order: document sections, figures, notes, headline lines and the
machine-readable data for ``report.json``. Aggregates are computed on first use and
kept in first-use order (the order ``report.json`` lists them in).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from msm.report.fmt import safe_name
from msm.report.load import (
    EFFICIENCY_PAIRS,
    Aggregate,
    EvalResult,
    GroupKey,
    Run,
    aggregate,
    condition_rank,
    group_evals,
)
from msm.report.render import Image, Paragraph, Section
from msm.report.variance import variance_sources


@dataclass
class Pair:
    msm: str  # MSM-family label
    aft: str  # matching AFT-only-family label
    metric: str


class ReportState:
    def __init__(
        self,
        run: Run,
        evals: list[EvalResult],
        notes: list[str],
        dose: list[EvalResult] | None = None,
    ) -> None:
        self.run = run
        self.evals = evals
        # a dose study's evals of smaller corpora: only the dose section reads them
        self.dose: list[EvalResult] = list(dose or [])
        self.notes: list[str] = list(notes)
        self.sections: list[Section] = []
        self.images: dict[str, bytes] = {}
        self.headline: list[str] = []
        self.groups = group_evals(evals)
        self.aggs: dict[tuple[GroupKey, str], Aggregate] = {}
        self.data: dict[str, Any] = {}
        # which randomness the run's seeds resample (msm.report.variance): a per-run fact
        self.data["variance_sources"] = variance_sources(run)
        self.metric = self._headline_metric()

    def agg(self, key: GroupKey, metric: str) -> Aggregate | None:
        if (key, metric) not in self.aggs:
            a = aggregate(key, self.groups.get(key, []), metric)
            if a is None:
                return None
            self.aggs[(key, metric)] = a
        return self.aggs[(key, metric)]

    def section(self, title: str, intro: str | None = None) -> Section:
        """A new section, appended to the report, opening with ``intro`` where given."""
        sec = Section(title)
        if intro is not None:
            sec.blocks.append(Paragraph(intro))
        self.sections.append(sec)
        return sec

    def image(self, stem: str, data: bytes, alt: str, caption: str | None = None) -> Image:
        """Register a figure under a unique file name derived from ``stem``."""
        name = safe_name(stem)
        base, i = name, 2
        while f"{name}.png" in self.images:
            name, i = f"{base}-{i}", i + 1
        self.images[f"{name}.png"] = data
        return Image(f"{name}.png", alt, data, caption)

    def all_metrics(self) -> list[str]:
        return sorted({m for r in self.evals for m in r.metrics})

    def metric_direction(self, metric: str) -> bool | None:
        for r in self.evals:
            if metric in r.metrics:
                return r.metrics[metric].higher_is_better
        return None

    def labels_by_condition(self) -> dict[str | None, list[str]]:
        out: dict[str | None, list[str]] = defaultdict(list)
        for key, rs in self.groups.items():
            cond = rs[0].node.condition
            if key.label not in out[cond]:
                out[cond].append(key.label)
        return out

    def keys_of(self, label: str) -> list[GroupKey]:
        return [k for k in self.groups if k.label == label]

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

    def pairs(self, with_msm_only: bool = True) -> list[Pair]:
        """(MSM label, AFT-only label) pairs: the msm_aft family against the AFT-only family,
        and (``with_msm_only``) msm_only against base."""
        by_cond = self.labels_by_condition()
        out: list[Pair] = []
        mapping = {**EFFICIENCY_PAIRS, **({"msm_only": "base"} if with_msm_only else {})}
        # MSM+AFT against AFT-only first: that is the comparison the experiment is about
        for cond in sorted(mapping, key=lambda c: (c == "msm_only", condition_rank(c))):
            for m in by_cond.get(cond, []):
                for a in by_cond.get(mapping[cond], []):
                    out.append(Pair(m, a, self.metric or ""))
        return out

    def _headline_metric(self) -> str | None:
        if self.run.headline_metric:
            return self.run.headline_metric
        names = self.all_metrics()
        for prefix in ("values.", "spec_qa.", "agentic.classifier_verdict", "capability."):
            for n in names:
                if n.startswith(prefix) and "@" not in n:
                    self.notes.append(
                        f"run.json names no headline_metric; {n} is used as the headline"
                    )
                    return n
        return None
