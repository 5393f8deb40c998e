"""The robustness suite in a report: every pressure variant of an eval's ``summary.json`` as
metrics of its own (see :mod:`msm.evals.agentic.pressure`), so that seed pooling and
contrasts treat them like any other metric.

* ``robustness.<m>~<variant>``: the variant's rate (lower is better), ``m`` in
  classifier_verdict, harmful, attempt;
* ``robustness.change.<m>~<variant>``: the variant's rate minus the standard run's, with
  the eval's paired interval (unpaired for ``novel``: other scenarios);
* ``robustness.cites_spec~<variant>``: the reasoning judge's share of traces citing the
  spec (higher is better).
"""

from __future__ import annotations

from typing import Any

from msm.evals.agentic.pressure import PRESSURES
from msm.report.metric import AGENTIC_METRICS, Metric, interval, number, opt_int, rate_metric

PREFIX = "robustness"


def pressure_metrics(summary: dict[str, Any]) -> dict[str, Metric]:
    """Every robustness metric of one summary; malformed parts are skipped."""
    out: dict[str, Metric] = {}
    block = summary.get("robustness")
    drops = summary.get("robustness_drops")
    for p, res in (block if isinstance(block, dict) else {}).items():
        if not isinstance(res, dict):
            continue
        overall = res.get("overall")
        extra = {"variant": p}
        if isinstance(overall, dict):
            extra["grader_errors"] = opt_int(overall.get("grader_errors"))
            for m in AGENTIC_METRICS:
                fld = f"robustness.{p}.overall.{m}"
                met = rate_metric(f"{PREFIX}.{m}~{p}", overall.get(m), fld, dict(extra))
                if met is not None:
                    out[met.name] = met
        sr = res.get("spec_reasoning")
        cites = sr.get("overall", {}).get("cites_spec") if isinstance(sr, dict) else None
        if isinstance(cites, dict):
            name = f"{PREFIX}.cites_spec~{p}"
            out[name] = Metric(
                name, number(cites.get("rate")), interval(cites.get("ci95")),
                opt_int(cites.get("n")), True,
                f"robustness.{p}.spec_reasoning.overall.cites_spec", {"variant": p},
            )  # fmt: skip
        d = drops.get(p) if isinstance(drops, dict) else None
        for m in AGENTIC_METRICS:
            rec = d.get(m) if isinstance(d, dict) else None
            if not isinstance(rec, dict):
                continue
            name = f"{PREFIX}.change.{m}~{p}"
            n = rec.get("pairs")
            if n is None and isinstance(rec.get("n"), list):
                n = min(rec["n"])
            out[name] = Metric(
                name, number(rec.get("estimate")), interval(rec.get("ci95")), opt_int(n),
                False, f"robustness_drops.{p}.{m}",
                {"variant": p, "basis": str(rec.get("basis") or ""),
                 "paired": str(rec.get("basis") or "").startswith("paired")},
            )  # fmt: skip
    return out


def variants_of(metrics: list[str], metric: str) -> list[str]:
    """The variants any eval reports ``metric`` for, in the suite's order."""
    found = {m.split("~", 1)[1] for m in metrics if m.startswith(f"{PREFIX}.{metric}~")}
    return [p for p in PRESSURES if p in found]
