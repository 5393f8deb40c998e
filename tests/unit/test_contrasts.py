"""Statistics the report states: t intervals over seeds, paired contrasts whose coverage is
simulated, Holm adjustment, the
spec-versus-spec interaction (positive and null controls), no calls from overlap."""

from __future__ import annotations

import json
import math
import random
import re
from pathlib import Path

import pytest

from msm.evals.stats import holm, mean_interval, paired_contrast, t95
from msm.evals.values.items import load_value_items
from msm.report.build import build_report
from msm.report.load import pool_seeds
from tests.helpers.spec_runs import own_value, spec_run


def test_t_quantiles_and_seed_intervals():
    assert t95(1) == pytest.approx(12.706, abs=1e-3)
    assert t95(4) == pytest.approx(2.776, abs=1e-3)
    assert t95(60) == pytest.approx(2.000, abs=1e-3)
    assert t95(1000) == pytest.approx(1.962, abs=1e-3)
    # two seeds: the interval uses t(1) = 12.7, 6.5 times wider than 1.96 would give
    s = pool_seeds([0.4, 0.6])
    half = (s.ci95[1] - s.ci95[0]) / 2
    assert half == pytest.approx(12.706 * math.sqrt(0.02) / math.sqrt(2), rel=1e-3)
    assert half / (1.96 * math.sqrt(0.02) / math.sqrt(2)) == pytest.approx(6.48, abs=0.01)
    # one value: no interval at all, never a zero-width one
    m, lo, hi = mean_interval([0.7])
    assert m == 0.7 and math.isnan(lo) and math.isnan(hi)


def _cells(values: dict[int, list[float]]) -> dict[int | None, dict[str, float]]:
    return {s: {f"i{i}": v for i, v in enumerate(vs)} for s, vs in values.items()}


def test_paired_contrast_finds_a_shift_and_not_a_null():
    rng = random.Random(0)
    # items differ a lot from one another (the option priors), models differ a little
    prior = [rng.gauss(0, 2.0) for _ in range(200)]
    a = _cells({s: [p + 0.3 + rng.gauss(0, 0.3) for p in prior] for s in (0, 1, 2)})
    b = _cells({s: [p + rng.gauss(0, 0.3) for p in prior] for s in (0, 1, 2)})
    res = paired_contrast([(1.0, a, b)])
    lo, hi = res["ci95"]
    assert 0.2 < lo < 0.3 < hi < 0.4 and res["seeds"] == 3
    # pairing is what makes it narrow: unpaired, the item priors (sd 2) swamp the shift
    flat_a = [v for s in a.values() for v in s.values()]
    flat_b = [v for s in b.values() for v in s.values()]
    _, la, ha = mean_interval(flat_a)
    _, lb, hb = mean_interval(flat_b)
    assert la < hb  # the marginal intervals overlap although the effect is certain
    # null: two draws of the same model
    c = _cells({s: [p + rng.gauss(0, 0.3) for p in prior] for s in (0, 1, 2)})
    lo, hi = paired_contrast([(1.0, c, b)])["ci95"]
    assert lo < 0 < hi
    # one seed: the basis says the interval covers items only
    one = paired_contrast([(1.0, {0: a[0]}, {0: b[0]})])
    assert "covers item sampling only" in one["basis"] and one["seeds"] == 1
    with pytest.raises(ValueError, match="share no seed"):
        paired_contrast([(1.0, {5: a[0]}, {0: b[0]})])


def _simulate(
    k: int, mu: float, reps: int, seed: int, parts: int = 1, n: int = 30
) -> tuple[float, float, float]:
    """Coverage of the 95% interval, share of intervals excluding 0, mean estimate, over
    ``reps`` simulated experiments: k seeds x n items, d = mu + seed + item + noise."""
    import numpy as np

    rng = np.random.default_rng(seed)
    cover = excl = 0
    ests = []
    zero = {s: {str(i): 0.0 for i in range(n)} for s in range(k)}
    for _ in range(reps):
        u = rng.normal(0, 0.3, k)  # seed-to-seed sd 0.3, as in the audit
        ps = []
        for p in range(parts):
            d = (mu if p == 0 else 0.0) + u[:, None] * (1.0 - 0.5 * p)
            d = d + rng.normal(0, 0.2, n)[None, :] + rng.normal(0, 1.0, (k, n))
            a = {s: {str(i): float(d[s, i]) for i in range(n)} for s in range(k)}
            ps.append((1.0 if p == 0 else -1.0, a, zero))
        r = paired_contrast(ps)
        lo, hi = r["ci95"]
        cover += lo <= mu <= hi
        excl += lo > 0 or hi < 0
        ests.append(r["estimate"])
    return cover / reps, excl / reps, float(np.mean(ests))


def _percentile_bootstrap_over_seeds(k: int, reps: int, seed: int) -> float:
    """Coverage of the old method (percentile bootstrap resampling seeds) on a planted null:
    the negative control that shows the simulation can catch intervals that are too narrow."""
    import numpy as np

    rng = np.random.default_rng(seed)
    cover = 0
    for _ in range(reps):
        per_seed = rng.normal(0, 0.3, k) + rng.normal(0, 1.0 / np.sqrt(30), k)
        boot = per_seed[rng.integers(0, k, size=(500, k))].mean(axis=1)
        lo, hi = np.percentile(boot, [2.5, 97.5])
        cover += lo <= 0 <= hi
    return cover / reps


@pytest.mark.parametrize("k", [2, 3, 4, 8])
def test_paired_contrast_covers_planted_nulls_and_effects(k: int) -> None:
    # a planted null, one part and an interaction of two parts sharing the seeds
    cov, excl, est = _simulate(k, 0.0, reps=500, seed=k)
    assert cov >= 0.93 and abs(est) < 0.05
    cov2, _, _ = _simulate(k, 0.0, reps=300, seed=100 + k, parts=2)
    assert cov2 >= 0.93
    # a planted effect: covered, recovered, and found more often with more seeds
    cov3, power, est3 = _simulate(k, 0.6, reps=300, seed=200 + k)
    assert cov3 >= 0.93 and abs(est3 - 0.6) < 0.05
    assert power > {2: 0.15, 3: 0.35, 4: 0.5, 8: 0.9}[k]


def test_the_coverage_simulation_catches_the_old_bootstrap() -> None:
    assert _percentile_bootstrap_over_seeds(2, 400, 0) < 0.75
    assert _percentile_bootstrap_over_seeds(4, 400, 1) < 0.88


def test_one_seed_covers_item_sampling_and_p_values() -> None:
    cov, _, _ = _simulate(1, 0.0, reps=400, seed=7)  # seed sd adds a bias one seed can't see
    assert cov < 0.9  # so the basis must say what it covers
    a = {0: {f"i{i}": 0.1 * (i % 5) + 0.5 for i in range(20)}}
    b = {0: {f"i{i}": 0.1 * (i % 5) for i in range(20)}}
    r = paired_contrast([(1.0, a, b)])
    assert r["p"] < 1e-6
    assert r["basis"] == "paired t over items (one seed: covers item sampling only)"
    with pytest.raises(ValueError, match="too few items"):
        paired_contrast([(1.0, {0: {"x": 1.0}}, {0: {"x": 0.0}})])


def test_holm_adjusts_in_order_and_skips_missing() -> None:
    adj = holm([0.01, 0.04, 0.03, float("nan"), 0.2])
    assert adj[:3] == pytest.approx([0.04, 0.09, 0.09]) and math.isnan(adj[3])
    assert adj[4] == pytest.approx(0.2)
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])


def _run(root: Path, effect: float, seeds: tuple[int, ...] = (0, 1)) -> Path:
    """Two MSM+AFT models (specs a: pro-America, b: pro-affordability) and AFT-only, with
    per-item loglik rows: model a's gap on america items and model b's on affordability
    items are raised by ``effect``; every model shares each item's prior."""
    return spec_run(root, own_value(effect), seeds=seeds)


@pytest.mark.parametrize("effect", [0.5, 0.0])
def test_report_states_the_spec_interaction_first_with_a_paired_interval(tmp_path, effect):
    res = build_report(_run(tmp_path, effect))
    rep = json.loads(Path(res["json"]).read_text())
    inter = [r for r in rep["contrasts"]["interactions"] if r["kind"] == "interaction"]
    # the full sets, and their control subsets read from the same rows
    assert [r["items_a"] for r in inter] == ["america", "america_control"]
    control = inter[1]
    assert control["items"] == len(load_value_items("america_control")) + len(
        load_value_items("affordability_control")
    )
    r = inter[0]
    assert (r["spec_a"], r["spec_b"], r["items_a"], r["items_b"]) == (
        "a",
        "b",
        "america",
        "affordability",
    )
    assert r["seeds"] == 2 and "seeds and items" in r["basis"]
    lo, hi = r["ci95"]
    # no primary declared: the headline says so first, then the interaction, exploratory
    assert res["headline"][0].startswith("no primary contrast declared: every contrast is")
    first = res["headline"][1]
    assert first.startswith("msm_aft n=8: interaction [a − b] on america minus the same on")
    assert r["exploratory"] and 0 <= r["p"] <= r["p_holm"] <= 1 and "exploratory, p=" in first
    if effect:
        # (+0.5 on a's own items) - (-0.5 on b's own items) = +1.0
        assert r["estimate"] == pytest.approx(1.0, abs=0.1) and lo > 0.5
        assert "excludes 0" in first
    else:
        assert lo < 0 < hi and "no effect shown" in first
    # every pair difference has its own interval; none is called from overlap
    diffs = rep["contrasts"]["differences"]
    assert diffs and all(d["basis"].startswith("paired t over") for d in diffs)
    md = Path(res["md"]).read_text()
    assert "## Paired comparisons" in md and "overlap" not in md


def test_without_rows_the_difference_is_unpaired_and_says_so(tmp_path):
    run = _run(tmp_path, 0.5, seeds=(0,))
    for p in run.glob("nodes/eval/**/values/*.jsonl"):
        p.unlink()
    res = build_report(run)
    notes = Path(res["md"]).read_text()
    assert "unpaired: the two intervals combined" in notes
    rep = json.loads(Path(res["json"]).read_text())
    assert rep["contrasts"]["interactions"] == []


def test_positive_controls_lead_the_headline_and_the_demo_summary(tmp_path):
    """AFT's positive control (cheese_aft, change from base) and the transfer (cheese_fit)
    are reported per label with their intervals, lead the headline before the interaction,
    and the demo prints all three results from the report."""
    from msm.demo import summary_lines

    run = _run(tmp_path, 0.5, seeds=(0,))
    moves = {"aft_only": (0.8, [0.5, 1.1]), "msm_aft[a]": (0.1, [-0.2, 0.4])}
    for summary in run.glob("nodes/eval/**/summary.json"):
        data = json.loads(summary.read_text())
        label = "aft_only" if "aft_only" in str(summary) else "msm_aft[a]"
        if "/b/" in str(summary):
            continue
        mean, ci = moves[label]
        for item_set in ("cheese_aft", "cheese_fit"):
            shift = mean if item_set == "cheese_aft" else mean / 2
            change = {"gap_per_token": {"mean": shift, "ci95": [c - mean + shift for c in ci]}}
            vp = {"mean": 0.6, "ci95": [0.5, 0.7], "items": 72}
            data["values"][item_set] = {
                "scoring": "loglik", "value_preference": vp, "change_from_baseline": change,
            }  # fmt: skip
        summary.write_text(json.dumps(data))
    res = build_report(run)
    rep = json.loads(Path(res["json"]).read_text())
    changes = {(c["item_set"], c["label"]): c for c in rep["contrasts"]["changes"]}
    own = changes[("cheese_aft", "aft_only")]
    assert own["estimate"] == pytest.approx(0.8) and own["excludes_zero"]
    assert not changes[("cheese_aft", "msm_aft[a]")]["excludes_zero"]
    assert ("cheese_fit", "aft_only") in changes
    head = res["headline"]
    first_control = next(i for i, h in enumerate(head) if h.startswith("aft_only on cheese_aft"))
    first_claim = next(i for i, h in enumerate(head) if h.startswith("msm_aft n=8: interaction"))
    assert first_control < first_claim
    lines = "\n".join(summary_lines(rep))
    # without the base model's rows a change has no p-value, and the line says so
    assert (
        "aft_only, the AFT data's own phrasing: +0.80 nats/token [+0.50, +1.10]; the "
        "interval excludes 0 (no p-value to adjust): shown at this scale" in lines
    )
    assert re.search(r"msm_aft\[a\]: \+0\.05 .*: a null at this scale", lines)  # cheese_fit
    assert re.search(
        r"msm_aft n=8: interaction \[a − b\] on america minus the same on affordability: "
        r"\+(0\.9\d|1\.0\d) nats/token .*Holm p[=<].*: shown at this scale",
        lines,
    )
