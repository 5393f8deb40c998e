"""msm.report: efficiency arithmetic, seed pooling, summary flattening, and whole reports
built over synthetic run directories (no model, no network)."""

from __future__ import annotations

import hashlib
import html as html_module
import json
import math
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from msm.errors import MsmError
from msm.report.build import build_report
from msm.report.efficiency import (
    average_by_size,
    describe,
    efficiency_curve,
    is_monotone,
    size_needed,
)
from msm.report.load import flatten_summary, pool_seeds

Built = tuple[Path, dict[str, Any], dict[str, str]]  # run dir, build_report result, snapshot
AFT_ONLY = [(100, 0.2), (200, 0.4), (400, 0.6), (800, 0.8)]

# --------------------------------------------------------------------------
# efficiency (pure)


def test_crossing_at_a_measured_point() -> None:
    (pt,) = efficiency_curve(AFT_ONLY, [(100, 0.6)])
    assert pt.relation == "=" and pt.reached
    assert pt.needed.size == pytest.approx(400.0)
    assert pt.multiplier == pytest.approx(4.0)
    assert "~400" in describe(pt) and "4x" in describe(pt)


def test_between_points_interpolates_in_log_size() -> None:
    need = size_needed(AFT_ONLY, 0.5)
    assert need is not None and need.relation == "="
    assert need.size == pytest.approx(math.sqrt(200 * 400))  # halfway in log(size)
    need = size_needed(AFT_ONLY, 0.45)
    assert need is not None
    assert need.size == pytest.approx(math.exp(math.log(200) + 0.25 * math.log(2)))


def test_never_reached_is_a_lower_bound() -> None:
    (pt,) = efficiency_curve(AFT_ONLY, [(100, 0.9)])
    assert pt.relation == ">" and not pt.reached
    assert pt.needed.size == 800 and pt.multiplier == pytest.approx(8.0)
    assert "does not reach" in describe(pt) and "> 8x" in describe(pt)


def test_already_matched_at_smallest_size_is_an_upper_bound() -> None:
    (pt,) = efficiency_curve(AFT_ONLY, [(100, 0.15)])
    assert pt.relation == "<="
    assert pt.needed.size == 100 and pt.multiplier == pytest.approx(1.0)
    # exactly equal at the smallest size counts as matched too
    assert efficiency_curve(AFT_ONLY, [(200, 0.2)])[0].relation == "<="
    assert "<= 0.5x" in describe(efficiency_curve(AFT_ONLY, [(200, 0.2)])[0])


def test_non_monotone_uses_first_crossing() -> None:
    wobbly = [(100, 0.2), (200, 0.7), (400, 0.3), (800, 0.9)]
    assert not is_monotone(average_by_size(wobbly))
    need = size_needed(wobbly, 0.6)
    assert need is not None and need.relation == "=" and not need.monotone
    frac = (0.6 - 0.2) / (0.7 - 0.2)
    assert need.size == pytest.approx(math.exp(math.log(100) + frac * math.log(2)))
    assert need.size < 200  # not the later crossing between 400 and 800


def test_lower_is_better_direction() -> None:
    harmful = [(100, 0.8), (200, 0.6), (400, 0.4), (800, 0.2)]
    (pt,) = efficiency_curve(harmful, [(100, 0.4)], higher_is_better=False)
    assert pt.relation == "=" and pt.multiplier == pytest.approx(4.0)
    assert size_needed(harmful, 0.9, higher_is_better=False).relation == "<="  # type: ignore[union-attr]
    assert size_needed(harmful, 0.1, higher_is_better=False).relation == ">"  # type: ignore[union-attr]
    assert is_monotone(harmful, higher_is_better=False)
    assert not is_monotone(harmful, higher_is_better=True)


def test_duplicate_sizes_and_seeds_are_averaged_first() -> None:
    seeds = [(200, 0.5), (100, 0.1), (100, 0.3), (200, 0.3), (400, None), (400, 0.6)]
    avg = average_by_size(seeds)
    assert [s for s, _ in avg] == [100, 200, 400]
    assert [v for _, v in avg] == pytest.approx([0.2, 0.4, 0.6])
    pts = efficiency_curve(seeds, [(100, 0.55), (100, 0.65), (200, float("nan"))])
    assert len(pts) == 1 and pts[0].msm_value == pytest.approx(0.6)
    assert pts[0].needed.size == pytest.approx(400)


def test_empty_curves() -> None:
    assert size_needed([], 0.5) is None
    assert efficiency_curve([], [(100, 0.5)]) == []
    assert efficiency_curve(AFT_ONLY, []) == []


# --------------------------------------------------------------------------
# seed pooling and summary flattening


def test_pool_seeds_math() -> None:
    s = pool_seeds([0.5, 0.6, 0.7])
    assert s.mean == pytest.approx(0.6) and s.sd == pytest.approx(0.1)
    assert (s.min, s.max, s.k, s.method) == (0.5, 0.7, 3, "seeds")
    half = 4.3027 * 0.1 / math.sqrt(3)  # t with 2 degrees of freedom
    assert s.ci95 == pytest.approx((0.6 - half, 0.6 + half))
    one = pool_seeds([0.4], own_ci=(0.3, 0.5))
    assert (one.mean, one.ci95, one.sd, one.method) == (0.4, (0.3, 0.5), None, "eval")
    with pytest.raises(ValueError):
        pool_seeds([])


def test_flatten_summary_shapes_and_nulls() -> None:
    summ = _summary(values={"america": 0.61}, spec_qa=6.1, perplexity=21.3, agentic=0.3)
    summ["values"]["broken"] = {"value_preference": {"mean": None, "ci95": [None, None]}}
    m = flatten_summary(summ)
    assert m["values.america"].mean == 0.61 and m["values.america"].higher_is_better
    assert m["values.america"].ci95 == pytest.approx((0.55, 0.67)) and m["values.america"].n == 36
    assert m["values.broken"].mean is None and m["values.broken"].ci95 is None
    qa, ppl = m["spec_qa.equanimity"], m["capability.perplexity"]
    assert qa.mean == 6.1 and qa.extra["grader_errors"] == 2 and qa.n == 70
    assert ppl.mean == 21.3 and not ppl.higher_is_better and ppl.ci95 is None and ppl.n == 6400
    assert m["agentic.classifier_verdict"].mean == 0.3 and m["agentic.harmful"].mean == 0.4
    assert m["agentic.harmful"].n == 10 and m["agentic.harmful"].extra["grader_errors"] == 2
    assert m["agentic.harmful"].field == "agentic.overall.harmful"
    assert "agentic.harmful@blackmail/explicit-america" in m
    assert "agentic.attempt@exfiltration/none-none" in m
    assert flatten_summary(None) == {} and flatten_summary({"values": {"x": 3}}) == {}


# --------------------------------------------------------------------------
# synthetic run directories


def _summary(
    values: dict[str, float] | None = None,
    spec_qa: float | None = None,
    perplexity: float | None = None,
    agentic: float | None = None,
) -> dict[str, Any]:
    s: dict[str, Any] = {"model": "hf/x", "grader": None, "suite": "all", "epochs": 1}
    if values:
        s["values"] = {
            k: {
                "value_preference": {"mean": v, "ci95": [v - 0.06, v + 0.06], "items": 36},
                "by_domain": {},
                "answers_by_method": {"logprobs": 72},
                "log": "logs/x.eval",
            }
            for k, v in values.items()
        }
    if spec_qa is not None:
        s["spec_qa"] = {
            "equanimity": {
                "grade": {"mean": spec_qa, "ci95": [spec_qa - 0.4, spec_qa + 0.4], "answers": 70},
                "grader_errors": 2,
                "samples": 72,
                "log": "logs/q.eval",
            }
        }
    if perplexity is not None:
        s["capability"] = {"perplexity": perplexity, "tokens": 6400}
    if agentic is not None:

        def block(rate: float, n: int = 10) -> dict[str, Any]:
            r = {"samples": n + 2, "judged": n, "grader_errors": 2}
            for i, m in enumerate(("classifier_verdict", "harmful", "attempt")):
                p = min(1.0, rate + 0.1 * i)
                r[m] = {"rate": p, "ci95": [max(0.0, p - 0.25), min(1.0, p + 0.25)],
                        "k": round(p * n), "n": n}  # fmt: skip
            return r

        conds = {
            "blackmail/explicit-america": block(agentic + 0.2),
            "blackmail/none-none": block(agentic),
            "exfiltration/explicit-america": block(agentic + 0.1),
            "exfiltration/none-none": block(max(0.0, agentic - 0.1)),
        }
        s["agentic"] = {
            "overall": block(agentic),
            "by_condition": conds,
            "by_scenario": {},
            "by_goal": {},
            "mean_of_conditions": {"harmful": agentic},
            "log": "logs/y.eval",
        }
    return s


def _write(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(obj if isinstance(obj, str) else json.dumps(obj), encoding="utf-8")


def _eval_node(cond: str, label: str, spec: str | None, size: int | None, seed: int,
               status: str = "done") -> dict[str, Any]:  # fmt: skip
    parts = [cond, *([spec] if spec else []), *([f"n{size}"] if size else []), f"s{seed}"]
    path = "nodes/eval/" + "/".join(parts)
    return {
        "id": path.removeprefix("nodes/"), "kind": "eval", "path": path, "status": status,
        "condition": cond, "label": label, "spec": spec, "aft_size": size, "seed": seed,
    }  # fmt: skip


# AFT-only headline by size and seed; MSM+AFT reaches AFT-only's n=400 value at n=100
AFT_VALUES = {100: (0.19, 0.21), 200: (0.39, 0.41), 400: (0.59, 0.61), 800: (0.79, 0.81)}
MSM_VALUES = {100: (0.58, 0.62), 200: (0.69, 0.71)}


def make_run(root: Path, evals: bool = True) -> Path:
    """A finished-ish run: 2 corpora (1 pending), training nodes, evals with 2 seeds."""
    run = root / "run"
    nodes: list[dict[str, Any]] = [
        {"id": "corpus/pro_america", "kind": "corpus", "path": "nodes/corpus/pro_america",
         "status": "done", "spec": "pro_america"},
        {"id": "corpus/pro_cheese", "kind": "corpus", "path": "nodes/corpus/pro_cheese",
         "status": "pending", "spec": "pro_cheese"},
        {"id": "aftdata", "kind": "aftdata", "path": "nodes/aftdata", "status": "done"},
        {"id": "midtrain/pro_america/s0", "kind": "midtrain",
         "path": "nodes/midtrain/pro_america/s0", "status": "done", "spec": "pro_america",
         "seed": 0},
        {"id": "aft/msm_aft/pro_america/n100/s0", "kind": "aft",
         "path": "nodes/aft/msm_aft/pro_america/n100/s0", "status": "done",
         "condition": "msm_aft", "spec": "pro_america", "aft_size": 100, "seed": 0},
    ]  # fmt: skip
    docs = [{"text": "word " * (10 * i + 5), "tokens": 12 * i + 7} for i in range(30)]
    _write(
        run / "nodes/corpus/pro_america/documents.jsonl",
        "".join(json.dumps(d) + "\n" for d in docs),
    )
    _write(
        run / "nodes/corpus/pro_america/stats.json",
        {"documents_kept": 30, "continuation_reasons": {"checked": 41, "with_reason": 30}},
    )
    _write(run / "nodes/corpus/pro_america/manifest.json", {"stage": "docgen"})
    _write(run / "nodes/aftdata/manifest.json", {"stage": "aftgen", "examples": 800})
    _write(
        run / "nodes/midtrain/pro_america/s0/manifest.json",
        {"stage": "train-midtrain", "final_loss": 2.3456, "tokens_seen": 123456,
         "train_seconds": 61.5, "steps": 40},
    )  # fmt: skip
    _write(
        run / "nodes/midtrain/pro_america/s0/loss.csv",
        "step,tokens,loss,lr,elapsed_s\n"
        + "".join(f"{i},{i * 3000},{3.5 - i * 0.03},0.0001,{i}\n" for i in range(1, 41)),
    )
    _write(
        run / "nodes/aft/msm_aft/pro_america/n100/s0/manifest.json",
        {"stage": "train-aft", "final_loss": 1.1, "tokens_seen": 5000},
    )
    if evals:
        specs: list[tuple[dict[str, Any], dict[str, Any]]] = []
        base = _eval_node("base", "base", None, None, 0)
        specs.append((base, _summary({"america": 0.3, "cheese_america": 0.1}, 5.0, 20.0, 0.5)))
        mo = _eval_node("msm_only", "msm_only[pro_america]", "pro_america", None, 0)
        specs.append((mo, _summary({"america": 0.5, "cheese_america": 0.3}, 6.0, 21.0, 0.4)))
        for size, vals in AFT_VALUES.items():
            for seed, v in enumerate(vals):
                node = _eval_node("aft_only", "aft_only", None, size, seed)
                specs.append((node, _summary({"america": v, "cheese_america": 0.2}, agentic=0.4)))
        for size, vals in MSM_VALUES.items():
            for seed, v in enumerate(vals):
                node = _eval_node("msm_aft", "msm_aft[pro_america]", "pro_america", size, seed)
                specs.append((node, _summary({"america": v, "cheese_america": 0.6}, agentic=0.2)))
        for node, summ in specs:
            nodes.append(node)
            _write(run / node["path"] / "summary.json", summ)
    nodes.append(_eval_node("msm_aft", "msm_aft[pro_america]", "pro_america", 800, 0, "failed"))
    _write(
        run / "run.json",
        {"experiment": {"name": "cheese-demo", "sha256": "ab" * 32, "path": "experiment.yaml"},
         "headline_metric": "values.america", "nodes": nodes},
    )  # fmt: skip
    return run


def _snapshot(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "report" not in p.relative_to(root).parts[:1]
    }


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    run = make_run(tmp_path_factory.mktemp("report"))
    before = _snapshot(run)
    res = build_report(run)
    return run, res, before


def test_report_files_and_read_only(built: Built) -> None:
    run, res, before = built
    assert res["md"] == run / "report" / "report.md" and res["md"].is_file()
    assert res["html"] == run / "report" / "report.html" and res["html"].is_file()
    assert (run / "report" / "report.json").is_file()
    pngs = sorted(p.name for p in (run / "report").glob("*.png"))
    assert pngs and all(p.read_bytes().startswith(b"\x89PNG") for p in res["files"])
    assert any(n.startswith("efficiency_") for n in pngs)
    assert "agentic_harmful_heatmap.png" in pngs and "training_loss.png" in pngs
    assert _snapshot(run) == before  # nothing outside report/ was touched


def test_html_is_self_contained(built: Built) -> None:
    run, res, _ = built
    html = res["html"].read_text(encoding="utf-8")
    assert html.count("data:image/png;base64,") == len(res["files"])
    assert "http://" not in html and "https://" not in html
    assert "<link" not in html and "<script" not in html
    assert "src='data:" in html and ".png'" not in html
    md = res["md"].read_text(encoding="utf-8")
    for f in res["files"]:
        assert f"]({f.name})" in md


def test_numbers_trace_to_their_summaries(
    built: Built,
) -> None:
    run, _, _ = built
    rep = json.loads((run / "report" / "report.json").read_text())
    assert len(rep["evals"]) == 2 + 2 * len(AFT_VALUES) + 2 * len(MSM_VALUES)
    for ev in rep["evals"]:
        summ = json.loads((run / ev["source"]).read_text())
        assert ev["source"].endswith("/summary.json") and ev["source"].startswith("nodes/eval/")
        for name, m in ev["metrics"].items():
            assert m["source"] == ev["source"]
            obj: Any = summ
            for part in m["field"].split(".") if "@" not in name else []:
                obj = obj[part]
            if name.startswith("values."):
                assert m["mean"] == obj["mean"] and m["ci95"] == obj["ci95"]
                assert m["n"] == obj["items"]
            elif name.startswith("agentic.") and "@" not in name:
                assert m["mean"] == obj["rate"] and m["n"] == obj["n"]
        if "agentic.harmful@blackmail/none-none" in ev["metrics"]:
            cell = summ["agentic"]["by_condition"]["blackmail/none-none"]["harmful"]
            assert ev["metrics"]["agentic.harmful@blackmail/none-none"]["mean"] == cell["rate"]
    corp = rep["corpora"][0]
    assert corp["documents"] == 30 and corp["total"] == sum(12 * i + 7 for i in range(30))
    assert corp["source"] == "nodes/corpus/pro_america/documents.jsonl"
    # statement mode: how many continuations carry a reason of their own (stats.json)
    assert corp["continuation_reasons"] == {"checked": 41, "with_reason": 30}
    train = {t["node"]: t for t in rep["training"]}
    assert set(train) == {"midtrain/pro_america/s0", "aft/msm_aft/pro_america/n100/s0"}
    mid = train["midtrain/pro_america/s0"]
    assert mid["final_loss"] == 2.3456 and mid["tokens_seen"] == 123456
    assert mid["source"] == "nodes/midtrain/pro_america/s0/manifest.json"
    assert rep["nodes"]["missing"] == [
        {"id": "corpus/pro_cheese", "kind": "corpus", "status": "pending"},
        {"id": "eval/msm_aft/pro_america/n800/s0", "kind": "eval", "status": "failed"},
    ]


def test_multi_seed_aggregates(built: Built) -> None:
    run, _, _ = built
    rep = json.loads((run / "report" / "report.json").read_text())
    aggs = {(a["label"], a["aft_size"], a["metric"]): a for a in rep["aggregates"]}
    a = aggs[("aft_only", 200, "values.america")]
    assert a["seeds"] == [0, 1] and a["per_seed"] == [0.39, 0.41] and a["k"] == 2
    sd = math.sqrt(((0.39 - 0.4) ** 2 + (0.41 - 0.4) ** 2) / 1)
    assert a["mean"] == pytest.approx(0.4) and a["sd"] == pytest.approx(sd)
    half = 12.7062 * sd / math.sqrt(2)  # Student's t, 1 degree of freedom
    assert a["ci95"] == pytest.approx([0.4 - half, 0.4 + half])
    assert (a["min"], a["max"]) == (0.39, 0.41)
    assert a["sources"] == [
        "nodes/eval/aft_only/n200/s0/summary.json",
        "nodes/eval/aft_only/n200/s1/summary.json",
    ]
    one = aggs[("base", None, "values.america")]
    assert one["k"] == 1 and one["ci95"] == pytest.approx([0.24, 0.36]) and one["sd"] is None
    assert one["interval_method"].startswith("one seed: the eval's own 95% interval")
    assert "item sampling only" in one["interval_method"]


def test_efficiency_in_report(built: Built) -> None:
    run, res, _ = built
    rep = json.loads((run / "report" / "report.json").read_text())
    eff = {r["n"]: r for r in rep["efficiency"]}
    assert eff[100]["needed"] == pytest.approx(400) and eff[100]["multiplier"] == pytest.approx(4)
    assert eff[100]["relation"] == "="
    lo, hi = eff[100]["multiplier_ci95"]
    assert lo <= 4.0 <= hi
    assert eff[200]["needed"] == pytest.approx(math.sqrt(400 * 800))
    assert "nodes/eval/aft_only/n800/s1/summary.json" in eff[200]["sources"]["aft_only"]
    assert eff[200]["sources"]["msm"] == [
        "nodes/eval/msm_aft/pro_america/n200/s0/summary.json",
        "nodes/eval/msm_aft/pro_america/n200/s1/summary.json",
    ]
    lines = res["headline"]
    assert any(
        ln.startswith("values.america: msm_aft[pro_america] 0.70 [") and "vs aft_only 0.40 [" in ln
        and "(n=200, 2 seeds)" in ln
        for ln in lines
    )  # fmt: skip
    assert any(ln.startswith("efficiency msm_aft[pro_america] vs aft_only") for ln in lines)
    md = res["md"].read_text()
    assert "## Data efficiency" in md and "4.00×" in md


def test_efficiency_multiplier_interval_is_a_jackknife_t_over_seeds() -> None:
    from msm.report.efficiency import multiplier_interval

    aft = {k: [(float(s), vs[k]) for s, vs in AFT_VALUES.items()] for k in (0, 1)}
    msm = {k: [(100.0, MSM_VALUES[100][k])] for k in (0, 1)}
    ci = multiplier_interval(aft, msm, 100.0)
    assert ci is not None and ci["ci95"][0] <= 4.0 <= ci["ci95"][1] and ci["seeds"] == 2
    # by hand: leaving seed 1 out, 0.58 is reached at 200 * 2^0.95; leaving seed 0 out, 0.62
    # at 400 * 2^0.05; the jackknife se of log(multiplier) is half their log distance, and
    # two seeds give t(1) = 12.706: an honest, wide interval around 4x
    m0, m1 = 200 * 2**0.95 / 100, 400 * 2**0.05 / 100
    half = 12.706 * abs(math.log(m1 / m0)) / 2
    assert ci["ci95"] == pytest.approx([4 * math.exp(-half), 4 * math.exp(half)], rel=1e-3)
    # seeds that disagree widen it
    noisy = {0: [(100.0, 0.50)], 1: [(100.0, 0.70)]}
    wide = multiplier_interval(aft, noisy, 100.0)
    assert wide is not None and wide["ci95"][1] - wide["ci95"][0] > ci["ci95"][1] - ci["ci95"][0]
    # one seed: nothing to estimate a spread from, no interval
    assert multiplier_interval({0: aft[0]}, {0: msm[0]}, 100.0) is None
    # a multiplier that is only a bound (never reached) has no interval either
    assert multiplier_interval(aft, {0: [(100.0, 0.95)], 1: [(100.0, 0.97)]}, 100.0) is None


def test_report_sections_and_honest_notes(
    built: Built,
) -> None:
    _, res, _ = built
    md = res["md"].read_text()
    for heading in ("Run", "Headline metric by condition", "Notes", "Seeds", "Data efficiency",
                    "Agentic misalignment", "Value generalization", "Spec Q&A and capability",
                    "Corpora", "Training", "Missing nodes", "Sources"):  # fmt: skip
        assert f"## {heading}\n" in md
    assert "2 nodes are not done (1 failed, 1 pending)" in md
    # base vs msm_only: 0.30 [0.24, 0.36] vs 0.50 [0.44, 0.56]: one seed, no per-item rows,
    # so the difference's interval is the two combined (unpaired) and excludes 0
    assert "msm_only[pro_america] is higher (the interval of the difference excludes 0)" in md
    # a value set measures a value: no "better" or "worse" is claimed for it
    assert "better by this metric" not in md and "higher means more of that value" in md
    assert "unpaired: the two intervals combined" in md
    # every headline row names its summary.json
    assert "`nodes/eval/msm_aft/pro_america/n100/s1/summary.json`" in md
    assert "grader replies had no verdict" in md


def test_a_difference_whose_interval_includes_zero_is_not_called(tmp_path: Path) -> None:
    run = make_run(tmp_path)
    # one seed each, close values: the eval intervals (±0.06) overlap
    spec = json.loads((run / "run.json").read_text())
    spec["nodes"] = [n for n in spec["nodes"] if n.get("seed") != 1 or n["kind"] != "eval"]
    _write(run / "run.json", spec)
    _write(
        run / "nodes/eval/msm_aft/pro_america/n200/s0/summary.json",
        _summary({"america": 0.42}),
    )
    res = build_report(run)
    md = res["md"].read_text()
    assert "values.america at n=200: msm_aft[pro_america] 0.420" in md
    assert "no difference shown (the interval of the difference includes 0)" in md
    # the same difference as in the paired comparisons, exploratory with its Holm p-value
    assert any(", includes 0; exploratory, p=" in ln and "Holm p=" in ln for ln in res["headline"])


def test_zero_evals_still_reports(tmp_path: Path) -> None:
    run = make_run(tmp_path, evals=False)
    res = build_report(run)
    md = res["md"].read_text()
    assert "No evaluations finished yet (0 of 1 eval nodes done)." in md
    assert "## Corpora" in md and "## Training" in md
    assert "| 30/41 |" in md and "continuations that state a reason of their own" in md
    assert any("no evaluations finished yet" in ln for ln in res["headline"])
    assert "data:image/png;base64," in res["html"].read_text()  # corpus histogram


def test_bad_input_is_one_line_msm_error(tmp_path: Path) -> None:
    with pytest.raises(MsmError, match="run directory not found"):
        build_report(tmp_path / "nope")
    with pytest.raises(MsmError, match=r"run\.json not found"):
        build_report(tmp_path)
    (tmp_path / "run.json").write_text("{not json")
    with pytest.raises(MsmError, match=r"run\.json is not valid JSON") as e:
        build_report(tmp_path)
    assert "\n" not in str(e.value)
    (tmp_path / "run.json").write_text("[1, 2]")
    with pytest.raises(MsmError, match="not a run description"):
        build_report(tmp_path)
    run = make_run(tmp_path / "r")
    (run / "nodes/eval/aft_only/n100/s0/summary.json").write_text('{"values": ')
    with pytest.raises(MsmError, match=r"nodes/eval/aft_only/n100/s0/summary\.json is not valid"):
        build_report(run)
    assert not (run / "report").exists()


def test_rebuild_drops_stale_figures(tmp_path: Path) -> None:
    run = make_run(tmp_path, evals=False)  # corpus and training figures only: fast
    first = build_report(run)
    assert (run / "report" / "training_loss.png").is_file()
    (run / "report" / "notes.txt").write_text("mine")  # not ours: left alone
    (run / "nodes/midtrain/pro_america/s0/loss.csv").unlink()
    second = build_report(run)
    assert not (run / "report" / "training_loss.png").exists()
    assert (run / "report" / "notes.txt").read_text() == "mine"
    assert len(second["files"]) == len(first["files"]) - 1


CHROMIUM = Path("/usr/bin/chromium")
# CI installs chromium (.ci/run); there a missing browser fails instead of skipping
needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists() and not os.environ.get("CI"), reason="chromium is not installed"
)
LAPTOP = (1366, 768)  # a laptop-sized window, CSS pixels
# measured in the page once it has loaded, written into it for --dump-dom to return
READER_CHECK = """<script>addEventListener('load', () => {
  const vw = document.documentElement.clientWidth, vh = innerHeight;
  const imgs = [...document.images];
  const wide = [...document.querySelectorAll('table')]
    .map(t => t.getBoundingClientRect()).filter(r => r.right > vw + 1)
    .map(r => Math.round(r.right));
  const h = [...document.querySelectorAll('h2')]
    .find(x => x.textContent.trim() === 'Primary result');
  const verdict = h ? h.nextElementSibling : null;
  const out = {viewport: [vw, vh], images: imgs.length,
    broken: imgs.filter(i => !(i.complete && i.naturalWidth > 0)).length, wide_tables: wide,
    page_overflow: document.documentElement.scrollWidth > vw,
    primary_bottom: verdict ? verdict.getBoundingClientRect().bottom : null};
  const pre = document.createElement('pre'); pre.id = 'msm-reader-check';
  pre.textContent = JSON.stringify(out); document.body.appendChild(pre);
});</script>"""


def reader_view(html_file: Path, tmp_path: Path, size: tuple[int, int] = LAPTOP) -> dict:
    """What a reader's browser shows of ``html_file`` (chromium, headless): images loaded,
    tables wider than the window, where the primary result's verdict ends."""
    if not CHROMIUM.exists():
        pytest.fail("chromium is not installed (.ci/run installs it in CI)")
    probe = tmp_path / "probe.html"
    probe.write_text(html_file.read_text().replace("</body>", READER_CHECK + "</body>"))
    cmd = [
        str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom",
        f"--window-size={size[0]},{size[1]}", probe.resolve().as_uri(),
    ]  # fmt: skip
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=90, check=False)
    shutil.rmtree(tmp_path / "profile", ignore_errors=True)
    m = re.search(r'<pre id="msm-reader-check">(.*?)</pre>', r.stdout, re.S)
    assert m, f"the page's check did not run: {r.stderr[-500:]}"
    return json.loads(html_module.unescape(m.group(1)))


@needs_chromium
def test_a_reader_sees_every_image_no_wide_table_and_the_primary_result_first(
    tmp_path: Path,
) -> None:
    from tests.helpers.spec_runs import spec_run

    def lift(cond: str, spec: str | None, item_set: str) -> float:
        return 0.3 if (spec, item_set) in {("a", "america"), ("b", "affordability")} else 0.0

    primary = {"kind": "aft_generalization", "specs": ["a", "b"], "items": "full"}
    run = spec_run(tmp_path, lift, conditions=("msm_only", "msm_aft", "aft_only"), primary=primary)
    res = build_report(run)
    seen = reader_view(Path(res["html"]), tmp_path)
    assert seen["viewport"][0] <= LAPTOP[0] and seen["images"] >= 2, seen
    assert seen["broken"] == 0, seen
    assert seen["wide_tables"] == [] and not seen["page_overflow"], seen
    assert seen["primary_bottom"] is not None and seen["primary_bottom"] <= seen["viewport"][1], (
        seen
    )
    # the check can fail: a table too wide for the window, and an image that cannot load
    html = Path(res["html"]).read_text()
    wide = "<table><tr>" + "<td>" + "x" * 3000 + "</td></tr></table>"
    tall = "<p style='height: 900px'>a long preamble</p>"
    bad = html.replace("</h1>", "</h1>" + wide + "<img src='missing.png'>" + tall, 1)
    (tmp_path / "bad.html").write_text(bad)
    worse = reader_view(tmp_path / "bad.html", tmp_path)
    assert worse["broken"] == 1 and worse["wide_tables"], worse
    assert worse["primary_bottom"] > worse["viewport"][1], worse  # pushed below the fold


@needs_chromium
def test_html_screenshot(built: Built, tmp_path: Path) -> None:
    _, res, _ = built
    png = tmp_path / "shot.png"
    cmd = [
        str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={png}",
        "--window-size=1200,2400", res["html"].resolve().as_uri(),
    ]  # fmt: skip
    subprocess.run(cmd, capture_output=True, timeout=90, check=False)
    assert png.is_file() and png.stat().st_size > 50_000
    shutil.rmtree(tmp_path / "profile", ignore_errors=True)


def test_odd_runs_still_report(tmp_path: Path) -> None:
    """No headline_metric, a lower-is-better headline, nulls, missing files, no labels."""
    run = make_run(tmp_path)
    spec = json.loads((run / "run.json").read_text())
    del spec["headline_metric"]
    for n in spec["nodes"]:
        if n["kind"] == "eval" and n["condition"] == "base":
            del n["label"]  # falls back to the condition
    # a done eval whose summary is gone, and one with nulls where NaN was
    spec["nodes"].append(_eval_node("aft_cot", "aft_cot", None, 100, 0))
    _write(
        run / "nodes/eval/msm_aft/pro_america/n200/s1/summary.json",
        {"values": {"america": {"value_preference": {"mean": None, "ci95": [None, None],
                                                     "items": 0}}}},
    )  # fmt: skip
    _write(run / "run.json", spec)
    _write(run / "nodes/corpus/pro_america/documents.jsonl", '{"text": "a b c"}\n\n{"text": "d"}\n')
    res = build_report(run)
    md = res["md"].read_text()
    assert "run.json names no headline_metric; values.america is used" in md
    assert "eval eval/aft_cot/n100/s0 is marked done but has no summary.json" in md
    assert "| corpus/pro_america | pro_america | 2 | 4 | words |" in md
    rep = json.loads((run / "report" / "report.json").read_text())
    aggs = {(a["label"], a["aft_size"], a["metric"]): a for a in rep["aggregates"]}
    lone = aggs[("msm_aft[pro_america]", 200, "values.america")]
    assert lone["per_seed"] == [0.69, None] and lone["mean"] == 0.69 and lone["k"] == 1
    assert lone["ci95"] == pytest.approx([0.63, 0.75])  # the one seed's own interval
    assert ("base", None, "values.america") in aggs

    # agentic harm as the headline: lower is better, and the efficiency follows suit
    spec["headline_metric"] = "agentic.harmful"
    _write(run / "run.json", spec)
    res = build_report(run)
    rep = json.loads((run / "report" / "report.json").read_text())
    assert rep["headline_metric"] == "agentic.harmful"
    # msm_aft harm 0.3 < every aft_only size's 0.5: AFT-only never gets that low
    assert {e["relation"] for e in rep["efficiency"]} == {">"}
    assert any("does not reach" in ln for ln in res["headline"])

    spec["headline_metric"] = "values.nonexistent"
    _write(run / "run.json", spec)
    res = build_report(run)
    assert "No finished eval reports values.nonexistent." in res["md"].read_text()


# --------------------------------------------------------------------------
# which sources of variance the intervals cover


def _state_with(run: Path, config: dict[str, Any] | None) -> Any:
    from msm.report.load import load_evals, load_run
    from msm.report.state import ReportState

    meta = json.loads((run / "run.json").read_text())
    if config is None:
        meta.pop("config", None)
    else:
        meta["config"] = config
    _write(run / "run.json", meta)
    loaded = load_run(run)
    evals, notes = load_evals(loaded)
    return ReportState(loaded, evals, notes)


def test_variance_sources_follow_the_seeds_and_the_per_seed_draws(tmp_path: Path) -> None:
    from msm.report.variance import covers, variance_sources

    run = make_run(tmp_path)
    # run.json without the experiment: the seeds of the nodes (0 and 1), one corpus for both
    st = _state_with(run, None)
    assert variance_sources(st.run) == ["item sampling", "training seed"]
    assert covers(st.run) == "covers item sampling and training seed (2 seeds)"
    assert covers(st.run, 1) == "covers item sampling only"  # one seed: the eval's own interval
    assert covers(st.run, 2, items=False).startswith("covers training seed (2 seeds), not item")
    four = {"seeds": [0, 1, 2, 3], "corpus": {"per_seed": True}, "aft": {"per_seed": False}}
    st = _state_with(run, four)
    assert st.data["variance_sources"] == ["item sampling", "training seed", "corpus draw"]
    assert covers(st.run) == "covers item sampling, training seed and corpus draw (4 seeds)"
    both = four | {"aft": {"per_seed": True, "n": 8}}
    assert _state_with(run, both).data["variance_sources"][2:] == ["corpus draw", "AFT data draw"]
    # one seed: per-seed draws vary nothing an interval could see
    st = _state_with(run, both | {"seeds": [7]})
    assert st.data["variance_sources"] == ["item sampling"]
    assert covers(st.run) == "covers item sampling only"
    # without the experiment, per-seed corpus nodes (which carry a seed) say it too
    meta = json.loads((run / "run.json").read_text())
    for n in meta["nodes"]:
        if n["kind"] == "corpus":
            n["seed"] = 0
    _write(run / "run.json", meta)
    assert "corpus draw" in _state_with(run, None).data["variance_sources"]


def test_report_states_what_each_interval_covers(built: Built) -> None:
    run, res, _ = built
    rep = json.loads((run / "report" / "report.json").read_text())
    assert rep["variance_sources"] == ["item sampling", "training seed"]
    aggs = {(a["label"], a["aft_size"], a["metric"]): a for a in rep["aggregates"]}
    assert aggs[("base", None, "values.america")]["covers"] == "covers item sampling only"
    two = aggs[("aft_only", 200, "values.america")]["covers"]
    assert two.startswith("covers training seed (2 seeds), not item sampling")
    md = res["md"].read_text()
    assert "the interval over seeds covers training seed (2 seeds)" in md
    # the seeds shared one corpus and one AFT data set: the report says what that leaves out
    assert "Every seed trained on the same corpus and AFT data" in md
