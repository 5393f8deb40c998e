"""The spec-versus-spec contrasts the paper's claim needs, each paired over seeds and items.

For each pair of specs (A, B) whose values are measured by item sets va and vb, with M_X
the model midtrained on spec X, in the per-token log-likelihood gap (value-consistent minus
other option, so the base model's option priors cancel):

- ``direction`` (one row per spec): [M_A − M_B] on va items, and [M_B − M_A] on vb items.
  Either direction alone could make the whole interaction; the two rows say which does.
- ``interaction``: [M_A − M_B] on va minus [M_A − M_B] on vb (each model leans to its own
  spec's value), for every MSM condition and AFT size.
- ``aft_generalization``: the interaction after MSM+AFT (at each AFT size) minus the
  interaction after MSM-only: does AFT generalize differently because of the spec? The
  MSM-only and MSM+AFT models of one seed share their midtraining, so they pair by seed;
  on each item set the two models' differences are paired item by item.
- ``reasons`` (midtraining's positive control): M_A − M_B on cheese_reasons when A's value
  is America.

Each on the full value sets and on their ``_control`` subsets (items whose options do not
name the value). Every interval comes from :func:`msm.evals.stats.paired_contrast`.
"""

from __future__ import annotations

from typing import Any

from msm.evals.stats import Cells, paired_contrast
from msm.report.contrasts import cells, excludes_zero, spec_value_sets
from msm.report.fmt import p_note
from msm.report.load import GroupKey
from msm.report.state import ReportState

SUBSETS = {"full": "", "control": "_control"}
MSM_ONLY = "msm_only"


def _gaps(st: ReportState, key: GroupKey, item_set: str) -> Cells | None:
    return cells(st, key, item_set, "gap_per_token")


def _minus(a: Cells | None, b: Cells | None) -> Cells | None:
    """Per seed and item, ``a - b`` on the seeds and items both have; None when none."""
    if not a or not b:
        return None
    out = {s: {i: a[s][i] - b[s][i] for i in a[s] if i in b[s]} for s in a if s in b}
    out = {s: v for s, v in out.items() if v}
    return out or None


def _row(
    parts: list[tuple[float, Cells | None, Cells | None]], **what: Any
) -> dict[str, Any] | None:
    """One contrast row: the paired contrast of ``parts`` and what it compares."""
    if not all(a and b for _, a, b in parts):
        return None
    try:
        res = paired_contrast([(w, a, b) for w, a, b in parts if a and b])
    except ValueError:
        return None
    return {
        **res,
        "baseline_condition": None,
        "items_b": None,
        **what,
        "unit": "nats/token",
        "excludes_zero": excludes_zero(res["ci95"]),
    }


def spec_contrasts(st: ReportState) -> list[dict[str, Any]]:
    """Every spec-versus-spec contrast this run allows (see the module docstring), in the
    order the report lists them: per MSM condition and AFT size the directions, the
    interaction and the reasons control, then the AFT-generalization contrasts."""
    sets = spec_value_sets(st)
    by_cond: dict[tuple[str, int | None], dict[str, GroupKey]] = {}
    for key, rs in st.groups.items():
        node = rs[0].node
        if node.condition and node.condition.startswith("msm") and node.spec in sets:
            by_cond.setdefault((node.condition, key.aft_size), {})[node.spec] = key
    out: list[dict[str, Any]] = []
    for (cond, size), keys in by_cond.items():
        for sa, sb in _pairs(sets, keys):
            out += _within(st, cond, size, keys, (sa, sb), (sets[sa], sets[sb]))
    only = next((keys for (c, _), keys in by_cond.items() if c == MSM_ONLY), None)
    for (cond, size), keys in by_cond.items():
        if cond == MSM_ONLY or size is None or only is None:
            continue
        for sa, sb in _pairs(sets, keys):
            if sa in only and sb in only:
                out += _aft_generalization(st, cond, size, keys, only, (sa, sb), sets)
    return out


def _pairs(sets: dict[str, str], keys: dict[str, GroupKey]) -> list[tuple[str, str]]:
    names = [s for s in sets if s in keys]
    return [
        (a, b) for i, a in enumerate(names) for b in names[i + 1 :] if sets[a] != sets[b]
    ]  # fmt: skip


def _within(
    st: ReportState,
    cond: str,
    size: int | None,
    keys: dict[str, GroupKey],
    specs: tuple[str, str],
    values: tuple[str, str],
) -> list[dict[str, Any]]:
    """Directions and interaction of one condition and size, then the reasons control."""
    sa, sb = specs
    out: list[dict[str, Any]] = []
    common = {"condition": cond, "aft_size": size}
    for subset, suffix in SUBSETS.items():
        va, vb = values[0] + suffix, values[1] + suffix
        a_va, b_va = _gaps(st, keys[sa], va), _gaps(st, keys[sb], va)
        a_vb, b_vb = _gaps(st, keys[sa], vb), _gaps(st, keys[sb], vb)
        rows = [
            _row([(1.0, a_va, b_va)], kind="direction", spec_a=sa, spec_b=sb, items_a=va,
                 subset=subset, **common),
            _row([(1.0, b_vb, a_vb)], kind="direction", spec_a=sb, spec_b=sa, items_a=vb,
                 subset=subset, **common),
            _row([(1.0, a_va, b_va), (-1.0, a_vb, b_vb)], kind="interaction", spec_a=sa,
                 spec_b=sb, items_a=va, items_b=vb, subset=subset, **common),
        ]  # fmt: skip
        out += [r for r in rows if r is not None]
    america = sa if values[0] == "america" else sb if values[1] == "america" else None
    if america is not None:
        other = sb if america == sa else sa
        ca = _gaps(st, keys[america], "cheese_reasons")
        cb = _gaps(st, keys[other], "cheese_reasons")
        row = _row([(1.0, ca, cb)], kind="reasons", spec_a=america, spec_b=other,
                   items_a="cheese_reasons", items_b="cheese_reasons", subset=None,
                   **common)  # fmt: skip
        out += [row] if row is not None else []
    return out


def _aft_generalization(
    st: ReportState,
    cond: str,
    size: int,
    keys: dict[str, GroupKey],
    only: dict[str, GroupKey],
    specs: tuple[str, str],
    sets: dict[str, str],
) -> list[dict[str, Any]]:
    """interaction(``cond`` at ``size``) − interaction(msm_only), full and control items.

    On va: (M_A − M_B after AFT) − (M_A − M_B after MSM-only), item by item and seed by
    seed; on vb the same with the opposite sign. Pairing the two conditions' differences
    on the same items keeps the items' shared effects out of the interval (four separate
    parts would count them twice)."""
    sa, sb = specs
    out: list[dict[str, Any]] = []
    for subset, suffix in SUBSETS.items():
        va, vb = sets[sa] + suffix, sets[sb] + suffix
        parts: list[tuple[float, Cells | None, Cells | None]] = []
        for sign, item_set in ((1.0, va), (-1.0, vb)):
            after = _minus(_gaps(st, keys[sa], item_set), _gaps(st, keys[sb], item_set))
            before = _minus(_gaps(st, only[sa], item_set), _gaps(st, only[sb], item_set))
            parts.append((sign, after, before))
        row = _row(parts, kind="aft_generalization", condition=cond, aft_size=size,
                   baseline_condition=MSM_ONLY, spec_a=sa, spec_b=sb, items_a=va, items_b=vb,
                   subset=subset)  # fmt: skip
        out += [row] if row is not None else []
    return out


def describe(r: dict[str, Any]) -> str:
    """What one contrast row compares, in words (without its numbers)."""
    size = f" n={r['aft_size']}" if r.get("aft_size") is not None else ""
    where = f"{r['condition']}{size}"
    a, b = r["spec_a"], r["spec_b"]
    if r["kind"] == "reasons":
        return (
            f"{where}: [{a} − {b}] on cheese_reasons (the corpus left the spec's value words "
            "near its cheeses: the America-worded reason over the price-worded one)"
        )
    if r["kind"] == "direction":
        return f"{where}: [{a} − {b}] on {r['items_a']} items ({a}'s value)"
    if r["kind"] == "interaction":
        return (
            f"{where}: interaction [{a} − {b}] on {r['items_a']} minus the same on {r['items_b']}"
        )
    return (
        f"AFT generalization, {where} minus {r['baseline_condition']}: the interaction "
        f"{a} vs {b} on {r['items_a']} / {r['items_b']}"
    )


def short(r: dict[str, Any]) -> str:
    """A figure label: ``msm_aft n=72: a over b on america [control]``."""
    size = f" n={r['aft_size']}" if r.get("aft_size") is not None else ""
    where = f"{r['condition']}{size}"
    subset = " [control]" if r.get("subset") == "control" else ""
    if r["kind"] == "direction":
        what = f"{r['spec_a']} over {r['spec_b']} on {r['items_a'].removesuffix('_control')}"
    elif r["kind"] == "aft_generalization":
        return f"AFT generalization ({where} − {r['baseline_condition']}){subset}"
    else:
        what = r["kind"]
    return f"{where}: {what}{subset}"


def describe_contrast(r: dict[str, Any]) -> str:
    """One contrast row in words with its numbers, its interval's basis and its p-values."""
    lo, hi = r["ci95"]
    seeds = f"{r['seeds']} seed" + ("s" if r["seeds"] != 1 else "")
    call = "excludes 0" if r["excludes_zero"] else "includes 0: no effect shown"
    return (
        f"{describe(r)}: {r['estimate']:+.2f} nats/token [{lo:+.2f}, {hi:+.2f}] "
        f"({seeds}; {r['basis']}; the interval {call}{p_note(r)})"
    )
