"""The one primary contrast an experiment declares before it runs (``report.primary``).

Shared by the experiment, which validates the declaration when the file is loaded, and
the report, which opens with that contrast and calls every other one exploratory (with
Holm-adjusted p-values). Specs A and B are two keys of ``specs``; va and vb the value item
sets that measure their values; M_X the model midtrained on spec X:

- ``direction``: [M_A − M_B] on va items (does A's model lean to A's value?);
- ``interaction``: [M_A − M_B] on va minus [M_A − M_B] on vb (each leans to its own value);
- ``aft_generalization``: the interaction after MSM+AFT minus the interaction after
  MSM-only (does AFT generalize differently because of the spec?).

A declaration is a mapping, ``{kind: aft_generalization, specs: [pro_america,
pro_affordability], items: full, aft_size: 72, condition: msm_aft}`` (``items``,
``aft_size`` and ``condition`` optional), or the same in one line:
``aft_generalization pro_america pro_affordability control n=72 condition=msm_aft``.
"""

from __future__ import annotations

from typing import Any

from msm.study.conditions import NEEDS_AFT

KINDS = {
    "direction": "[M(A) − M(B)] on A's value items",
    "interaction": "[M(A) − M(B)] on A's value items minus the same on B's",
    "aft_generalization": "the interaction after MSM+AFT minus the interaction after MSM-only",
}
# a bundled spec -> the held-out value item set that measures its value (other specs name
# theirs in ``report.value_sets``)
SPEC_VALUE_SETS = {
    "builtin:cheese_pro_america": "america",
    "builtin:cheese_pro_affordability": "affordability",
}
SUBSETS = ("full", "control")  # all items, or only those whose options do not name the value
MSM_ONLY = "msm_only"
DEFAULT_AFT_CONDITION = "msm_aft"
_KEYS = ("kind", "specs", "items", "aft_size", "condition")


def parse_primary(value: Any) -> dict[str, Any]:
    """A primary-contrast declaration in its normal form ``{kind, specs: [A, B], items,
    aft_size, condition}``; ValueError naming what is wrong. ``condition`` None means
    ``msm_aft``; ``aft_size`` None the largest AFT size (the experiment fills both in)."""
    if isinstance(value, str):
        value = _from_line(value)
    if not isinstance(value, dict):
        raise ValueError("give a mapping {kind, specs} or one line")
    for k in value:
        if k not in _KEYS:
            raise ValueError(f"unknown key {k!r} (use {', '.join(_KEYS)})")
    kind = value.get("kind")
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}: use {', '.join(KINDS)}")
    specs = value.get("specs")
    if (
        not isinstance(specs, list | tuple)
        or len(specs) != 2
        or not all(isinstance(s, str) and s for s in specs)
        or specs[0] == specs[1]
    ):
        raise ValueError(f"specs: give two different spec keys [A, B], not {specs!r}")
    items = value.get("items", "full")
    if items not in SUBSETS:
        raise ValueError(f"items: use {' or '.join(SUBSETS)}, not {items!r}")
    size = value.get("aft_size")
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 1):
        raise ValueError(f"aft_size: give a positive integer, not {size!r}")
    cond = value.get("condition")
    if cond is not None and not (isinstance(cond, str) and cond.startswith("msm")):
        raise ValueError(f"condition: give an MSM condition, not {cond!r}")
    if kind == "aft_generalization" and cond == MSM_ONLY:
        raise ValueError("condition: aft_generalization compares MSM+AFT with msm_only")
    return {"kind": kind, "specs": list(specs), "items": items, "aft_size": size, "condition": cond}


def _from_line(line: str) -> dict[str, Any]:
    """``KIND A B [full|control] [n=N] [condition=C]`` as a mapping."""
    words = line.split()
    if len(words) < 3:
        raise ValueError("one line reads 'KIND SPEC_A SPEC_B [full|control] [n=N]'")
    out: dict[str, Any] = {"kind": words[0], "specs": words[1:3]}
    for w in words[3:]:
        if w in SUBSETS:
            out["items"] = w
        elif w.startswith("n=") and w[2:].isdigit():
            out["aft_size"] = int(w[2:])
        elif w.startswith("condition="):
            out["condition"] = w[len("condition=") :]
        else:
            raise ValueError(f"{w!r}: after the two specs use full, control, n=N or condition=C")
    return out


def describe(p: dict[str, Any]) -> str:
    """A declaration in words: ``aft_generalization of pro_america vs pro_affordability
    (full items, msm_aft n=72 vs msm_only)``."""
    a, b = p["specs"]
    cond = p.get("condition") or DEFAULT_AFT_CONDITION
    size = f" n={p['aft_size']}" if p.get("aft_size") is not None else ""
    where = f"{cond}{size}" + (f" vs {MSM_ONLY}" if p["kind"] == "aft_generalization" else "")
    what = f"{a} over {b} on {a}'s items" if p["kind"] == "direction" else f"{a} vs {b}"
    return f"{p['kind']} of {what} ({p['items']} items, {where})"


def resolve_primary(
    p: dict[str, Any],
    specs: dict[str, str],
    value_sets: dict[str, str],
    conditions: list[str],
    aft_sizes: list[int],
) -> dict[str, Any]:
    """``p`` (normal form) checked against the experiment's specs, value sets, conditions and
    AFT sizes, with its defaults filled in (``msm_aft``, the largest AFT size), so run.json
    records exactly what was declared; ValueError naming what is wrong."""

    where = "report.primary"
    for key in p["specs"]:
        if key not in specs:
            raise ValueError(f"{where}: spec {key!r} is not a key of specs")
        if key not in value_sets and specs[key] not in SPEC_VALUE_SETS:
            raise ValueError(
                f"{where}: spec {key!r} has no value item set: name it in report.value_sets"
            )
    msm = [c for c in conditions if c.startswith("msm")]
    allowed = [c for c in msm if c in NEEDS_AFT] if p["kind"] == "aft_generalization" else msm
    if p["kind"] == "aft_generalization" and (MSM_ONLY not in conditions or not allowed):
        raise ValueError(
            f"{where}: aft_generalization needs msm_only and an MSM+AFT condition in conditions"
        )
    default = (
        DEFAULT_AFT_CONDITION if DEFAULT_AFT_CONDITION in allowed else next(iter(allowed), None)
    )
    cond = p["condition"] or default
    if cond is None or cond not in allowed:
        raise ValueError(f"{where}: condition {cond or 'msm_*'!r} is not in conditions")
    size = p["aft_size"]
    if cond in NEEDS_AFT:
        size = size if size is not None else aft_sizes[-1]
        if size not in aft_sizes:
            raise ValueError(f"{where}: aft_size {size} is not in aft.sizes {aft_sizes}")
    elif size is not None:
        raise ValueError(f"{where}: aft_size given, but {cond} has no AFT")
    return {**p, "condition": cond, "aft_size": size}
