"""Plan hashes of fixed experiments, pinned: a refactor cannot shift what identifies a stage's
output unnoticed (a shifted hash redoes finished, possibly paid-for, work on the next run).

When a change is meant to move them (a new identity rule, changed package data such as
prompts or item files), regenerate and say why in the commit:
``python tests/unit/test_golden_hashes.py > tests/data/golden_plan_hashes.json``.
"""

from __future__ import annotations

import json
from pathlib import Path

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "golden_plan_hashes.json"


def plan_hashes() -> dict[str, dict[str, str]]:
    """{experiment file: {node id: hash}} for the packaged cheese experiments."""
    from msm.demo import demo_config
    from msm.experiment.load import load_experiment
    from msm.experiment.plan import build_plan

    out = {}
    for quick in (False, True):
        path = demo_config(quick)
        out[path.name] = {n.id: n.hash for n in build_plan(load_experiment(path))}
    return out


def test_plan_hashes_of_the_packaged_experiments_are_pinned() -> None:
    want = json.loads(GOLDEN.read_text(encoding="utf-8"))
    got = plan_hashes()
    for name, nodes in want.items():
        moved = sorted(i for i in nodes if got[name].get(i) != nodes[i])
        assert not moved, f"{name}: plan hashes moved for {moved} (see this module's docstring)"
        assert set(got[name]) == set(nodes), f"{name}: the plan's nodes changed"


if __name__ == "__main__":
    print(json.dumps(plan_hashes(), indent=1, sort_keys=True))
