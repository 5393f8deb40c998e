"""The "Seeds" section: per-seed values and their spread for the headline metric."""

from __future__ import annotations

from msm.report.fmt import fmt_ci, fmt_num, fmt_size
from msm.report.render import Paragraph, Table
from msm.report.state import ReportState
from msm.report.variance import covers


def add_seeds(st: ReportState) -> None:
    """Groups with several seeds: each seed's value, mean, sd, min, max and interval."""
    if not st.evals or not st.metric:
        return
    sec = st.section("Seeds")
    rows = []
    for key in st.groups:
        a = st.agg(key, st.metric)
        if a is None or a.stats is None or len(a.seeds) < 2:
            continue
        s = a.stats
        per = ", ".join(
            f"s{'?' if sd is None else sd}: {fmt_num(v)}"
            for sd, v in zip(a.seeds, a.per_seed, strict=True)
        )
        rows.append([
            key.label, fmt_size(key.aft_size), str(s.k), per, fmt_num(s.mean), fmt_num(s.sd),
            fmt_num(s.min), fmt_num(s.max), fmt_ci(s.ci95), "\n".join(a.sources),
        ])  # fmt: skip
    if not rows:
        sec.blocks.append(
            Paragraph(
                "Every (label, AFT size) has a single seed, so each interval is that eval's "
                f"own 95% interval over items: it {covers(st.run, 1)}, not seed-to-seed "
                "variation (training, corpus or AFT data draw)."
            )
        )
        return
    sec.blocks.append(
        Paragraph(
            f"{st.metric} where a (label, AFT size) has several seeds: the mean across "
            "seeds, the sample standard deviation (sd), min and max, and the interval "
            "mean ± t(k−1)·sd/√k over the k seeds (Student's t: with 2 seeds t is 12.7, so "
            "the interval is honest about how little two seeds say). Groups with one seed "
            f"use that eval's own interval, which {covers(st.run, 1)}, not seed-to-seed variation."
        )
    )
    sec.blocks.append(Paragraph(_what_seeds_cover(st)))
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


def _what_seeds_cover(st: ReportState) -> str:
    """What the seeds of this run resample, and what they leave out (``per_seed``)."""
    text = f"Sources of variance: the interval over seeds {covers(st.run, items=False)}."
    drawn = (
        ("corpus", "corpus", "corpus draw", "corpus.per_seed"),
        ("AFT data", "aftdata", "AFT data draw", "aft.per_seed"),
    )
    left = [
        (what, setting)
        for what, kind, src, setting in drawn
        if src not in st.data["variance_sources"] and any(n.kind == kind for n in st.run.nodes)
    ]
    if left:
        what = " and ".join(w for w, _ in left)
        settings = " and ".join(f"{s}: true" for _, s in left)
        text += (
            f" Every seed trained on the same {what}, so the interval leaves out the "
            f"variation between draws of the {what} ({settings} draws one per seed)."
        )
    return text
