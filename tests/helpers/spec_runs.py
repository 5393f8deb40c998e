"""A finished experiment run folder with planted per-item loglik rows, for report tests.

Specs ``a`` (pro-America) and ``b`` (pro-affordability); every model shares each item's
prior gap, plus the planted ``lift(condition, spec, item_set)`` and noise per row.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from msm.evals.values.items import load_value_items

Lift = Callable[[str, str | None, str], float]
OWN = {("a", "america"), ("b", "affordability")}


def write(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(obj if isinstance(obj, str) else json.dumps(obj), encoding="utf-8")


def own_value(effect: float) -> Lift:
    """Each MSM model's gap raised by ``effect`` on its own spec's value items."""
    return lambda cond, spec, item_set: effect if (spec, item_set) in OWN else 0.0


def spec_run(
    root: Path,
    lift: Lift,
    seeds: Sequence[int] = (0, 1),
    conditions: Sequence[str] = ("msm_aft", "aft_only"),
    primary: Any = None,
    size: int = 8,
    noise: float = 0.2,
    rng_seed: int = 1,
    sets: Sequence[str] = ("america", "affordability"),
) -> Path:
    """Write ``root/run`` (run.json, eval summaries, per-item rows) and return its path.

    With ``base`` first in ``conditions``, every other eval's summary also holds its
    change from the base model of the same seed, as ``msm eval --baseline`` writes it."""
    from msm.evals.stats import mean_interval

    rng = random.Random(rng_seed)
    run = root / "run"
    ids = {s: [it.id for it in load_value_items(s)] for s in sets}
    prior = {s: [rng.gauss(0, 1.5) for _ in ids[s]] for s in sets}
    nodes = []
    base: dict[tuple[int, str], list[float]] = {}  # (seed, item set) -> the base model's gaps
    for cond in conditions:
        specs: list[str | None] = ["a", "b"] if cond.startswith("msm") else [None]
        aft_size = size if "aft" in cond else None
        for spec in specs:
            for seed in seeds:
                parts = [cond, *([spec] if spec else []), *([f"n{size}"] if aft_size else []),
                         f"s{seed}"]  # fmt: skip
                path = "nodes/eval/" + "/".join(parts)
                label = f"{cond}[{spec}]" if spec else cond
                nodes.append({"id": path[6:], "kind": "eval", "path": path, "status": "done",
                              "condition": cond, "label": label, "spec": spec,
                              "aft_size": aft_size, "seed": seed})  # fmt: skip
                values = {}
                for item_set, pri in prior.items():
                    up = lift(cond, spec, item_set)
                    rows = []
                    for i, p in enumerate(pri):
                        g = p + up + rng.gauss(0, noise)
                        rows.append({"id": ids[item_set][i], "domain": "d", "gap_per_token": g,
                                     "acc": 1.0 if g > 0 else 0.0})  # fmt: skip
                    write(run / path / "values" / f"{item_set}.jsonl",
                          "".join(json.dumps(r) + "\n" for r in rows))  # fmt: skip
                    acc = sum(r["acc"] for r in rows) / len(rows)
                    vp = {"mean": acc, "ci95": [acc - 0.09, acc + 0.09], "items": len(rows)}
                    values[item_set] = {"scoring": "loglik", "value_preference": vp}
                    gaps = [r["gap_per_token"] for r in rows]
                    if cond == "base":
                        base[(seed, item_set)] = gaps
                    elif (seed, item_set) in base:
                        m, lo, hi = mean_interval(
                            [g - b for g, b in zip(gaps, base[(seed, item_set)], strict=True)]
                        )
                        change = {"gap_per_token": {"mean": m, "ci95": [lo, hi]}}
                        values[item_set]["change_from_baseline"] = change
                write(run / path / "summary.json", {"values": values})
    config: dict[str, Any] = {
        "name": "t",
        "specs": {"a": "builtin:cheese_pro_america", "b": "builtin:cheese_pro_affordability"},
        "conditions": list(conditions),
    }
    if primary is not None:
        config["report"] = {"primary": primary}
    write(run / "run.json", {"experiment": {"name": "t"}, "headline_metric": "values.america",
                             "config": config, "nodes": nodes})  # fmt: skip
    return run
