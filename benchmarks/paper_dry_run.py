"""The paper study's projected cost: `msm run examples/experiments/paper-agentic.yaml
--dry-run`'s totals by role, as JSON (benchmarks/results/paper_dry_run.json).

Needs a local checkout of the authors' repository at ~/model_spec_midtraining (the example
reads its Philosophy Spec and templates); set HOME to point elsewhere. Projections only:
nothing is called.
"""

from __future__ import annotations

import sys

from _bench import REPO, Report


def main() -> int:
    from msm.experiment.load import load_experiment
    from msm.experiment.plan import build_plan
    from msm.experiment.projection.project import project

    exp = load_experiment(REPO / "examples/experiments/paper-agentic.yaml")
    plan = build_plan(exp)
    proj = project(exp, plan)
    t = proj["totals"]
    rep = Report("paper_dry_run")
    rep["corpus"] = {
        k: proj["nodes"][f"corpus/{key}"].get(k)
        for key in exp.specs
        for k in ("documents", "corpus_tokens")
    }
    rep["by_role"] = {
        role: {
            k: r.get(k)
            for k in ("calls", "input_tokens", "output_tokens", "cost_usd", "list_cost_usd")
        }
        for role, r in t["by_role"].items()
    }
    rep["api_cost_usd_to_pay"] = t["cost_usd"]
    rep["api_cost_usd_list"] = t.get("list_cost_usd")
    rep["nodes"] = len(plan)
    rep.write(REPO / "benchmarks/results/paper_dry_run.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
