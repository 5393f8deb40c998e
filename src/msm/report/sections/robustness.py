"""The "Robustness: agent name and temperature" section, and the "Names" section.

With ``eval.agent_names`` / ``eval.temperatures`` every eval node ran the agentic suite
once per (agent name, temperature). This section shows the headline rate of every label
per variant (and, with both axes, per name over every temperature and per temperature
over every name), each with its interval; then the MSM effect (an MSM label minus its
AFT-only or base counterpart at the same AFT size) per variant, each with the interval
of the difference itself (``msm.report.contrasts.compare``), and flags a pair whose
effect changes sign across the variants, saying whether the intervals exclude 0.

"Names" shows, per eval, the model name of the evaluated model's training data (specs,
documents, AFT data) beside the agent's name in the scenarios: whether they match is
itself a variable. Every cell names its file and field.
"""

from __future__ import annotations

from typing import Any

from msm.report.contrasts import compare
from msm.report.fmt import DASH, LEAD, basis, fmt_ci, fmt_n, fmt_num, fmt_seeds, fmt_size, lead
from msm.report.load import GroupKey, read_json, rel
from msm.report.metric import AGENTIC_METRICS
from msm.report.render import Bullets, Paragraph, Section, Table
from msm.report.state import ReportState

AXES = {"cell": 0, "name": 1, "temperature": 2}


def base_metric(st: ReportState) -> str:
    """The agentic rate the axes are shown for: the headline when it is one, else harmful."""
    m = st.metric or ""
    if m in {f"agentic.{x}" for x in AGENTIC_METRICS}:
        return m
    return "agentic.harmful"


def variant_keys(st: ReportState, metric: str) -> list[tuple[str, dict[str, Any]]]:
    """(variant key, the metric's extra) for every variant any eval reports: the cells in
    the order the evals ran them, then the pools over names and over temperatures."""
    found: dict[str, dict[str, Any]] = {}
    for r in st.evals:
        for name, m in r.metrics.items():
            if name.startswith(metric + "~"):
                found.setdefault(name.split("~", 1)[1], m.extra)
    return sorted(found.items(), key=lambda kv: AXES.get(str(kv[1].get("axis")), 3))


def axis_cells(extra: dict[str, Any]) -> list[str]:
    """The agent name and temperature cells of a variant ("all" where pooled over)."""
    axis = extra.get("axis")
    name = "all" if axis == "temperature" else str(extra.get("agent_name"))
    temp = "all" if axis == "name" else fmt_num(extra.get("temperature"), 2)
    return [name, temp]


def _source(a: Any, st: ReportState, key: GroupKey, metric: str) -> str:
    fields = {r.metrics[metric].field for r in st.groups.get(key, []) if metric in r.metrics}
    return "\n".join([*a.sources, *(f"field: {f}" for f in sorted(fields))])


def add_robustness(st: ReportState) -> None:
    metric = base_metric(st)
    keys = variant_keys(st, metric)
    if not keys:
        return
    sec = st.section(
        "Robustness: agent name and temperature",
        f"{metric} (lower is better) of every label per agent name and sampling "
        "temperature: each eval ran the agentic suite once per combination (same "
        "samples, epochs and graders). 'all' rows pool the counts over the other axis. "
        "The first combination gives the headline rates elsewhere in this report.",
    )
    rows, data = [], []
    for gk in st.groups:
        for vkey, extra in keys:
            a = st.agg(gk, f"{metric}~{vkey}")
            if a is None:
                continue
            s = a.stats
            rows.append([
                *lead(gk, a.seeds), *axis_cells(extra),
                fmt_num(s.mean if s else None), fmt_ci(s.ci95 if s else None), basis(a),
                fmt_n(a.n), _source(a, st, gk, f"{metric}~{vkey}"),
            ])  # fmt: skip
            data.append(
                {"label": gk.label, "aft_size": gk.aft_size, "variant": vkey, **extra,
                 "mean": s.mean if s else None, "ci95": list(s.ci95) if s and s.ci95 else None,
                 "n": a.n, "sources": a.sources}
            )  # fmt: skip
    columns = [*LEAD, "agent name", "temperature", "rate", "95% interval", "interval basis", "n",
        "source"]  # fmt: skip
    table = Table(columns, rows, numeric=frozenset({1, 4, 5, 6, 8}), source_col=9)
    sec.blocks.append(table)
    effects, flags = _effects(st, metric, keys)
    st.data["robustness"] = {"metric": metric, "rates": data, "effects": effects, "flags": flags}
    if effects:
        sec.blocks.append(
            Paragraph(
                "MSM effect per variant: the MSM label's rate minus its AFT-only (or base) "
                "counterpart's at the same AFT size, with the interval of the difference "
                "itself (paired over seeds where there are two or more, else the two "
                "intervals combined). Negative: less misalignment with MSM."
            )
        )
        columns = ["difference", "AFT n", "agent name", "temperature", "effect", "95% interval",
            "excludes 0", "interval basis"]  # fmt: skip
        sec.blocks.append(
            Table(
                columns,
                [
                    [
                        e["pair"],
                        fmt_size(e["aft_size"]),
                        *axis_cells(e),
                        f"{e['estimate']:+.3f}",
                        f"[{e['ci95'][0]:+.3f}, {e['ci95'][1]:+.3f}]",
                        "yes" if e["excludes_zero"] else "no",
                        e["basis"],
                    ]
                    for e in effects
                ],
                numeric=frozenset({1, 3, 4, 5}),
            )  # fmt: skip
        )
    lines = [f["text"] for f in flags]
    if effects and not flags:
        lines = ["No MSM effect changes sign across the agent names and temperatures."]
    if lines:
        sec.blocks.append(Bullets(lines, kind="note" if flags else "plain"))
    st.notes.extend(f["text"] for f in flags)


def _effects(
    st: ReportState, metric: str, keys: list[tuple[str, dict[str, Any]]]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every pair's effect per variant, and a flag per (pair, size) whose cell effects
    have both signs."""
    effects: list[dict[str, Any]] = []
    flags: list[dict[str, Any]] = []
    for p in st.pairs():
        sizes_m = {k.aft_size for k in st.keys_of(p.msm)}
        sizes_a = {k.aft_size for k in st.keys_of(p.aft)}
        against_base = sizes_a == {None}  # then every size of the MSM label
        sizes = sorted(sizes_m if against_base else sizes_m & sizes_a, key=lambda x: x or 0)
        for size in sizes:
            ka, kb = GroupKey(p.msm, size), GroupKey(p.aft, None if against_base else size)
            cells = []
            for vkey, extra in keys:
                res = compare(st, ka, kb, f"{metric}~{vkey}")
                if res is None:
                    continue
                e = {
                    "pair": f"{p.msm} − {p.aft}", "msm": p.msm, "other": p.aft,
                    "aft_size": ka.aft_size, "variant": vkey, **extra,
                    "estimate": res["estimate"], "ci95": list(res["ci95"]),
                    "excludes_zero": res["excludes_zero"], "basis": res["basis"],
                }  # fmt: skip
                effects.append(e)
                if extra.get("axis") == "cell":
                    cells.append(e)
            flag = sign_change(cells, metric)
            if flag is not None:
                flags.append(flag)
    return effects, flags


def sign_change(cells: list[dict[str, Any]], metric: str) -> dict[str, Any] | None:
    """A flag when the effects of one pair at one size have both signs across the cells:
    across which axis, and whether intervals of both signs exclude 0 (the change is shown)
    or not (it is within the noise). None when every effect has one sign (or is 0)."""
    pos = [e for e in cells if e["estimate"] > 0]
    neg = [e for e in cells if e["estimate"] < 0]
    if not pos or not neg:
        return None

    def differs(fixed: str) -> bool:
        """Both signs among effects that share ``fixed`` (so the other axis moved)."""
        groups: dict[Any, set[bool]] = {}
        for e in pos + neg:
            groups.setdefault(e[fixed], set()).add(e["estimate"] > 0)
        return any(len(v) == 2 for v in groups.values())

    axes = [
        what for what, fixed in (("agent names", "temperature"), ("temperatures", "agent_name"))
        if differs(fixed)
    ] or ["agent names and temperatures together"]  # fmt: skip
    shown = any(e["excludes_zero"] for e in pos) and any(e["excludes_zero"] for e in neg)
    e0 = cells[0]
    where = f" at AFT n={e0['aft_size']}" if e0["aft_size"] is not None else ""

    def say(es: list[dict[str, Any]]) -> str:
        return ", ".join(f"{e['estimate']:+.3f} at {e['variant']}" for e in es)

    call = (
        "intervals of both signs exclude 0: the change of sign is shown"
        if shown
        else "no interval excludes 0 on both sides: the change of sign is within the noise"
    )
    text = (
        f"{metric}: the MSM effect {e0['pair']}{where} changes sign across "
        f"{' and '.join(axes)} ({say(pos)}; {say(neg)}); {call}"
    )
    return {"pair": e0["pair"], "aft_size": e0["aft_size"], "axes": axes, "shown": shown,
            "text": text}  # fmt: skip


def add_names(st: ReportState) -> None:
    """Per eval: the name in the evaluated model's training data and the agent's name(s)."""
    rows, data = [], []
    for r in st.evals:
        path = r.node.folder(st.run.run_dir) / "manifest.json"
        if not path.is_file():
            continue
        man = read_json(path, rel(path, st.run.run_dir))
        names = man.get("names") if isinstance(man, dict) else None
        if not isinstance(names, dict):
            continue
        if not (names.get("agent_names") or names.get("spec_model_name")):
            continue
        agents = [str(x) for x in names.get("agent_names") or []]
        match = names.get("match")
        rows.append([
            r.node.display, fmt_size(r.node.aft_size), fmt_seeds([r.node.seed]),
            str(names.get("spec_model_name") or DASH), ", ".join(agents) or DASH,
            DASH if match is None else ("yes" if match else "no"),
            f"{rel(path, st.run.run_dir)}\nfield: names",
        ])  # fmt: skip
        data.append({"node": r.node.id, **names, "source": rel(path, st.run.run_dir)})
    if not rows:
        return
    st.data["names"] = data
    st.sections.append(
        Section(
            "Names",
            [
                Paragraph(
                    "The model name the evaluated model's training data used (specs, documents, "
                    "AFT data; none for the base model) beside the agent's name in the "
                    "agentic scenarios (the first one gives the headline rates). Whether "
                    "they match is itself a variable."
                ),
                Table(
                    [
                        "label",
                        "AFT n",
                        "seed",
                        "name in the training data",
                        "agent name(s)",
                        "match (first agent name)",
                        "source",
                    ],
                    rows,
                    numeric=frozenset({1}),
                    source_col=6,
                ),  # fmt: skip
            ],
        )
    )
