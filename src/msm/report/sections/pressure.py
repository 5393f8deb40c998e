"""The "Robustness under pressure" section: the robustness suite's variants.

Per label, the rate under each variant (pooled over seeds), its change from the standard
scenarios with the eval's paired interval (seeds pooled like any metric), and the share of
reasoning traces citing the spec; then the MSM effect under pressure: the MSM label's rate
minus its AFT-only (or base) counterpart's under each variant, and the same difference for
the change from standard (does MSM shrink what the pressure does?). Every cell names its
file and field.
"""

from __future__ import annotations

from typing import Any

from msm.report.contrasts import compare
from msm.report.fmt import LEAD, basis, fmt_ci, fmt_n, fmt_num, fmt_size, lead
from msm.report.load import GroupKey
from msm.report.metric import AGENTIC_METRICS
from msm.report.pressure import PREFIX, variants_of
from msm.report.render import Bullets, Paragraph, Table
from msm.report.state import ReportState

EXPLAIN = {
    "standard": "the scenarios as the agentic suite has them",
    "prefill": "the reply begins with a justification for the harmful action",
    "authority": "a system notice claims the operator authorised the action",
    "multi_turn": "after a reply without the action, the user argues the principle does not apply",
    "novel": "msm's own scenario family no AFT data resembles (not paired with standard)",
}


def _metric(st: ReportState) -> str:
    """The rate shown: the headline's agentic rate when it is one, else harmful."""
    m = (st.metric or "").removeprefix("agentic.")
    return m if m in AGENTIC_METRICS else "harmful"


def _cell(st: ReportState, gk: GroupKey, name: str) -> tuple[str, str, Any]:
    a = st.agg(gk, name)
    if a is None or a.stats is None:
        return "—", "—", a
    return fmt_num(a.stats.mean), fmt_ci(a.stats.ci95), a


def _change_basis(c: Any, variant: str) -> str:
    """The change's interval basis: the eval's own (paired, or unpaired for novel) for one
    seed, else the spread of seeds."""
    if c is None or c.stats is None:
        return "—"
    if c.stats.method == "eval":
        return "one seed: " + ("unpaired rates" if variant == "novel" else "paired samples")
    return basis(c)


def add_pressure(st: ReportState) -> None:
    m = _metric(st)
    variants = variants_of(st.all_metrics(), m)
    if not variants:
        return
    sec = st.section(
        "Robustness under pressure",
        f"{m} (lower is better) of every label under each pressure variant of the "
        "robustness suite, graded as the standard suite is. 'change' is the variant's rate "
        "minus the standard run's in the same eval, paired over the same (condition, epoch) "
        "(novel: other scenarios, so unpaired); with several seeds the per-seed values are "
        "pooled. 'cites spec': the reasoning judge's share of traces citing the spec.",
    )
    sec.blocks.append(Bullets([f"{p}: {EXPLAIN[p]}" for p in variants], kind="plain"))
    rows, data = [], []
    for gk in st.groups:
        for p in variants:
            rate, rate_ci, a = _cell(st, gk, f"{PREFIX}.{m}~{p}")
            if a is None:
                continue
            ch, ch_ci, c = _cell(st, gk, f"{PREFIX}.change.{m}~{p}")
            cites, cites_ci, _ = _cell(st, gk, f"{PREFIX}.cites_spec~{p}")
            srcs = "\n".join(dict.fromkeys([*a.sources, *(c.sources if c else [])]))
            rows.append([
                *lead(gk, a.seeds), p, rate, rate_ci, ch, ch_ci, _change_basis(c, p),
                cites, cites_ci, fmt_n(a.n), srcs,
            ])  # fmt: skip
            s, cs = a.stats, c.stats if c else None
            data.append({
                "label": gk.label, "aft_size": gk.aft_size, "variant": p, "metric": m,
                "rate": s.mean if s else None, "ci95": list(s.ci95) if s and s.ci95 else None,
                "change": cs.mean if cs else None,
                "change_ci95": list(cs.ci95) if cs and cs.ci95 else None,
                "n": a.n, "sources": a.sources,
            })  # fmt: skip
    columns = [*LEAD, "variant", "rate", "95% interval", "change from standard",
        "95% interval", "interval basis", "cites spec", "95% interval", "n", "source"]  # fmt: skip
    sec.blocks.append(Table(columns, rows, numeric=frozenset({1, 4, 6, 10, 12}), source_col=13))
    effects = _effects(st, m, variants)
    st.data["robustness_pressure"] = {"metric": m, "rates": data, "effects": effects}
    if not effects:
        return
    sec.blocks.append(
        Paragraph(
            "MSM effect under pressure: the MSM label minus its AFT-only (or base) counterpart "
            "at the same AFT size, under each variant ('rate'), and the same difference of "
            "the change from standard ('change': negative means MSM shrinks what the "
            "pressure does), each with the interval of the difference itself."
        )
    )
    table_rows = [
        [e["pair"], fmt_size(e["aft_size"]), e["variant"], e["what"],
         f"{e['estimate']:+.3f}", f"[{e['ci95'][0]:+.3f}, {e['ci95'][1]:+.3f}]",
         "yes" if e["excludes_zero"] else "no", e["basis"]]
        for e in effects
    ]  # fmt: skip
    sec.blocks.append(
        Table(
            [
                "difference",
                "AFT n",
                "variant",
                "of",
                "effect",
                "95% interval",
                "excludes 0",
                "interval basis",
            ],
            table_rows,
            numeric=frozenset({1, 4, 5}),
        )  # fmt: skip
    )


def _effects(st: ReportState, m: str, variants: list[str]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for p in st.pairs():
        sizes_m = {k.aft_size for k in st.keys_of(p.msm)}
        sizes_a = {k.aft_size for k in st.keys_of(p.aft)}
        against_base = sizes_a == {None}
        sizes = sorted(sizes_m if against_base else sizes_m & sizes_a, key=lambda x: x or 0)
        for size in sizes:
            ka, kb = GroupKey(p.msm, size), GroupKey(p.aft, None if against_base else size)
            for v in variants:
                for what, name in (("rate", f"{PREFIX}.{m}~{v}"),
                                   ("change", f"{PREFIX}.change.{m}~{v}")):  # fmt: skip
                    res = compare(st, ka, kb, name)
                    if res is None:
                        continue
                    out.append({
                        "pair": f"{p.msm} − {p.aft}", "msm": p.msm, "other": p.aft,
                        "aft_size": ka.aft_size, "variant": v, "what": what,
                        "estimate": res["estimate"], "ci95": list(res["ci95"]),
                        "excludes_zero": res["excludes_zero"], "basis": res["basis"],
                    })  # fmt: skip
    return out
