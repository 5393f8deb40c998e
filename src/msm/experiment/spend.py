"""Spend only what the study needs: a real run that would pay more than a limit stops first.

``msm run`` projects what the nodes still to run will cost (the dry run's projection, the
same numbers ``--dry-run`` prints) before its first call. When API roles would cost more
than ``--max-cost`` (default $100), or a model's price is unknown so the cost cannot be
told, it stops with the projection and one error line, unless ``--yes``. A run whose
calls are all local (the bundled model, trained checkpoints) is never stopped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from msm.errors import MsmError
from msm.experiment.config import Experiment
from msm.experiment.plan import Node
from msm.experiment.projection.project import project

DEFAULT_MAX_COST_USD = 100.0


def projected_spend(
    exp: Experiment, plan: list[Node], run: Path, statuses: dict[str, str]
) -> tuple[float, list[str], dict[str, float]]:
    """(API dollars of the nodes not done, models without a price, dollars by role)."""
    proj = project(exp, plan, run, statuses)
    total = 0.0
    unknown: list[str] = []
    by_role: dict[str, float] = {}
    for n in plan:
        if statuses.get(n.id) == "done":
            continue
        for r in proj["nodes"][n.id]["calls"]:
            if r["price"] == "local" or not r["calls"]:
                continue
            cost = r["cost_usd"]  # what will be paid: batch and cache prices applied
            if cost is None:
                if r["model"] not in unknown:
                    unknown.append(r["model"])
                continue
            total += cost
            by_role[r["role"]] = by_role.get(r["role"], 0.0) + cost
    return total, unknown, by_role


def check_spend(
    exp: Experiment,
    plan: list[Node],
    run: Path,
    statuses: dict[str, str],
    max_cost: float | None,
    yes: bool,
    echo: Any,
) -> None:
    """Raise (one line, after printing the projection) when the run would pay more than
    ``max_cost`` dollars, or an unknown amount, for API calls; ``yes`` lets it go on."""
    if yes:
        return
    limit = DEFAULT_MAX_COST_USD if max_cost is None else max_cost
    total, unknown, by_role = projected_spend(exp, plan, run, statuses)
    if total <= limit and not unknown:
        return
    parts = ", ".join(f"{role} ${usd:,.2f}" for role, usd in by_role.items())
    echo(f"projected API cost of the nodes still to run: ${total:,.2f} ({parts or 'none'})")
    if unknown:
        echo(f"no price known for: {', '.join(unknown)} (msm/data/prices.yaml)")
        raise MsmError(
            f"the run's API cost cannot be projected (no price for {unknown[0]}): nothing was "
            "called; see msm run --dry-run, then pass --yes to run anyway"
        )
    raise MsmError(
        f"the run would pay about ${total:,.2f} for API calls, over --max-cost "
        f"${limit:,.2f}: nothing was called; see msm run --dry-run, then pass --yes or raise "
        "--max-cost"
    )
