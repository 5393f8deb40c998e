"""The robustness axes in a report: every agentic variant (agent name x temperature) of an
eval's ``summary.json`` as metrics of its own, so that the report's seed pooling and
contrasts treat them like any other metric (see ``msm.evals.agentic.variants``)."""

from __future__ import annotations

from typing import Any

from msm.evals.stats import wilson
from msm.report.metric import AGENTIC_METRICS, Metric, number, opt_int, rate_metric


def variant_key(name: Any, temperature: Any) -> str:
    """How one (agent name, temperature) is written in a metric name and a table."""
    t = number(temperature)
    return f"{name} T={'default' if t is None else f'{t:g}'}"


def variant_metrics(variants: Any) -> dict[str, Metric]:
    """``agentic.<m>~<name> T=<t>`` for every variant of ``summary.json``'s
    ``agentic_variants``; with several names and several temperatures also each name over
    every temperature (``~<name> T=all``) and each temperature over every name
    (``~all T=<t>``), pooled as one proportion with its Wilson interval. ``extra`` holds
    ``agent_name``, ``temperature`` (None: pooled over) and ``axis`` (cell, name or
    temperature)."""
    out: dict[str, Metric] = {}
    if not isinstance(variants, list):
        return out
    recs = [
        (i, r) for i, r in enumerate(variants)
        if isinstance(r, dict) and isinstance(r.get("overall"), dict)
    ]  # fmt: skip
    names = list(dict.fromkeys(str(r.get("agent_name")) for _, r in recs))
    temps = list(dict.fromkeys(number(r.get("temperature")) for _, r in recs))
    for m in AGENTIC_METRICS:
        for i, r in recs:
            key = variant_key(r.get("agent_name"), r.get("temperature"))
            extra = {"agent_name": str(r.get("agent_name")), "axis": "cell"}
            met = rate_metric(
                f"agentic.{m}~{key}", r["overall"].get(m), f"agentic_variants[{i}].overall.{m}",
                {**extra, "temperature": number(r.get("temperature"))},
            )  # fmt: skip
            if met is not None:
                out[met.name] = met
        if len(names) < 2 or len(temps) < 2:
            continue  # one axis only: its values are the cells already
        pools: list[tuple[str, str | None, float | None]] = [("name", n, None) for n in names]
        pools += [("temperature", None, t) for t in temps if t is not None]
        for axis, name, temp in pools:
            picked = [
                (i, r["overall"][m]) for i, r in recs
                if isinstance(r["overall"].get(m), dict)
                and (name is None or str(r.get("agent_name")) == name)
                and (temp is None or number(r.get("temperature")) == temp)
                and opt_int(r["overall"][m].get("k")) is not None
                and opt_int(r["overall"][m].get("n")) is not None
            ]  # fmt: skip
            if not picked:
                continue
            k = sum(int(b["k"]) for _, b in picked)
            n = sum(int(b["n"]) for _, b in picked)
            p, lo, hi = wilson(k, n)
            key = f"{name or 'all'} T={'all' if temp is None else f'{temp:g}'}"
            idx = ",".join(str(i) for i, _ in picked)
            out[f"agentic.{m}~{key}"] = Metric(
                f"agentic.{m}~{key}", number(p), (lo, hi), n, False,
                f"agentic_variants[{idx}].overall.{m} (k and n summed)",
                {"agent_name": name, "temperature": temp, "axis": axis},
            )  # fmt: skip
    return out
