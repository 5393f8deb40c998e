"""The contrasts the paper's claim needs and the one declared in advance: the two directional
effects, the AFT-generalization contrast (planted effect found, planted null not), the
primary section first in the report, Holm over every other contrast, the demo's verdict."""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path
from typing import Any

import pytest

from msm.evals.stats import holm
from msm.evals.values.items import load_value_items
from msm.report.build import build_report
from msm.study.primary import parse_primary
from tests.helpers.spec_runs import OWN, spec_run

CONDITIONS = ("msm_only", "msm_aft", "aft_only")
PRIMARY = {"kind": "aft_generalization", "specs": ["a", "b"], "items": "full"}


def _aft_gen(before: float, gain: float) -> Any:
    """Each MSM model leans ``before`` to its own value after midtraining and ``before +
    gain`` after MSM+AFT: the interaction moves by 2 x gain, the AFT-generalization contrast."""

    def lift(cond: str, spec: str | None, item_set: str) -> float:
        if (spec, item_set) not in OWN:
            return 0.0
        return before + (gain if cond == "msm_aft" else 0.0)

    return lift


def _build(tmp_path: Path, lift: Any, **kw: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    kw.setdefault("conditions", CONDITIONS)
    res = build_report(spec_run(tmp_path, lift, **kw))
    return res, json.loads(Path(res["json"]).read_text())


def _rows(rep: dict[str, Any], kind: str, subset: str = "full") -> list[dict[str, Any]]:
    return [
        r for r in rep["contrasts"]["interactions"]
        if r["kind"] == kind and r.get("subset") == subset
    ]  # fmt: skip


@pytest.mark.parametrize("gain", [0.25, 0.0])
def test_aft_generalization_finds_a_planted_effect_and_not_a_planted_null(tmp_path, gain):
    # the interaction is there after midtraining alone (2 x 0.3) in both cases: only the
    # AFT-generalization contrast says whether AFT moved it
    _, rep = _build(tmp_path, _aft_gen(0.3, gain), primary=PRIMARY)
    inter = {r["condition"]: r for r in _rows(rep, "interaction")}
    assert inter["msm_only"]["estimate"] == pytest.approx(0.6, abs=0.05)
    assert inter["msm_only"]["excludes_zero"] and inter["msm_aft"]["excludes_zero"]
    (gen,) = _rows(rep, "aft_generalization")
    what = (gen["condition"], gen["baseline_condition"], gen["aft_size"])
    assert what == ("msm_aft", "msm_only", 8)
    assert gen["seeds"] == 2 and "seeds and items" in gen["basis"]
    assert gen["estimate"] == pytest.approx(2 * gain, abs=0.05)
    # it is exactly the difference of the two interactions, with its own interval
    assert gen["estimate"] == pytest.approx(
        inter["msm_aft"]["estimate"] - inter["msm_only"]["estimate"], abs=1e-9
    )
    assert gen["excludes_zero"] is (gain > 0)
    (ctrl,) = _rows(rep, "aft_generalization", "control")
    n_ctrl = len(load_value_items("america_control")) + len(
        load_value_items("affordability_control")
    )
    assert ctrl["items"] == n_ctrl and ctrl["excludes_zero"] is (gain > 0)
    # the declared primary is that row
    assert rep["primary"]["result"]["estimate"] == gen["estimate"] and gen["primary"]


def _mean_diff(run: Path, a: str, b: str, item_set: str, seeds: tuple[int, ...]) -> float:
    """[M_a − M_b] on ``item_set``, straight from the per-item rows files."""
    diffs = []
    for s in seeds:
        rows = {}
        for spec in (a, b):
            path = run / f"nodes/eval/msm_aft/{spec}/n8/s{s}/values/{item_set}.jsonl"
            rows[spec] = {
                json.loads(x)["id"]: json.loads(x)["gap_per_token"]
                for x in path.read_text().splitlines()
            }
        diffs += [rows[a][i] - rows[b][i] for i in rows[a]]
    return statistics.fmean(diffs)


def test_the_two_directions_say_which_side_makes_the_interaction(tmp_path):
    # only model a moves (toward America): the interaction is all one direction's doing
    def lift(cond: str, spec: str | None, item_set: str) -> float:
        return 0.6 if (spec, item_set) == ("a", "america") else 0.0

    _, rep = _build(tmp_path, lift, conditions=("msm_aft", "aft_only"))
    run = tmp_path / "run"
    dirs = {(r["spec_a"], r["items_a"]): r for r in _rows(rep, "direction")}
    assert set(dirs) == {("a", "america"), ("b", "affordability")}
    to_a, to_b = dirs[("a", "america")], dirs[("b", "affordability")]
    assert to_a["estimate"] == pytest.approx(_mean_diff(run, "a", "b", "america", (0, 1)))
    assert to_b["estimate"] == pytest.approx(_mean_diff(run, "b", "a", "affordability", (0, 1)))
    assert to_a["estimate"] == pytest.approx(0.6, abs=0.05) and to_a["excludes_zero"]
    lo, hi = to_b["ci95"]
    assert lo < 0 < hi and not to_b["excludes_zero"]
    (inter,) = _rows(rep, "interaction")
    assert inter["estimate"] == pytest.approx(to_a["estimate"] + to_b["estimate"], abs=1e-9)
    # control subsets: read from the same rows, on the control items only
    ctrl = {r["spec_a"]: r for r in _rows(rep, "direction", "control")}
    assert ctrl["a"]["items_a"] == "america_control"
    assert ctrl["a"]["items"] == len(load_value_items("america_control"))


def test_holm_covers_every_other_contrast_and_the_primary_stands_alone(tmp_path):
    _, rep = _build(tmp_path, _aft_gen(0.3, 0.25), primary=PRIMARY)
    c = rep["contrasts"]
    family = [*c["interactions"], *c["changes"], *c["differences"]]
    primary = [r for r in family if r["primary"]]
    assert len(primary) == 1 and not primary[0]["exploratory"]
    assert primary[0]["p_holm"] == primary[0]["p"]
    others = [r for r in family if not r["primary"]]
    assert others and all(r["exploratory"] for r in others)
    ps = [r["p"] for r in others]
    assert all(isinstance(p, float) for p in ps)
    assert [r["p_holm"] for r in others] == pytest.approx(holm(ps))
    assert c["holm_family"] == len(others) == rep["primary"]["holm_family"]
    # the adjustment matters: some adjusted p-value is larger than its raw one
    assert any(r["p_holm"] > r["p"] for r in others if r["p"] > 0)
    md = Path(tmp_path / "run/report/report.md").read_text()
    assert "| exploratory |" in md and "| primary |" in md


def test_the_report_opens_with_the_primary_before_any_table(tmp_path):
    res, rep = _build(tmp_path, _aft_gen(0.3, 0.25), primary=PRIMARY, seeds=(0,))
    md = Path(res["md"]).read_text()
    body = md.split("\n## Run\n", 1)[1].split("\n## ", 1)[1]  # the section after "Run"
    assert body.startswith("Primary result\n")
    primary = body.split("\n## ", 1)[0]
    assert "|" not in primary  # no table before it: the figure and its numbers
    assert "![primary contrast and others](primary_contrast.png)" in primary
    assert (tmp_path / "run/report/primary_contrast.png").stat().st_size > 1000
    # one seed: the interval covers item sampling only, and the report says so in words
    assert "The interval covers item sampling only" in primary
    assert "Items: all items;" in primary and "Verdict: shown" in primary
    assert md.index("## Primary result") < md.index("## Headline metric by condition")
    assert res["headline"][0].startswith("primary (declared before the run): AFT generalization")
    assert rep["primary"]["declared"] == parse_primary(PRIMARY)
    assert rep["primary"]["split"] == "all items"


def test_the_split_the_items_came_from_is_named(tmp_path):
    run = spec_run(tmp_path, _aft_gen(0.3, 0.0), conditions=CONDITIONS, primary=PRIMARY)
    for p in run.glob("nodes/eval/**/summary.json"):
        p.write_text(json.dumps({**json.loads(p.read_text()), "values_split": "confirm"}))
    rep = json.loads(Path(build_report(run)["json"]).read_text())
    assert rep["primary"]["split"] == "confirm split"
    for p in tmp_path.rglob("summary.json"):  # "all" names no split
        p.write_text(json.dumps({**json.loads(p.read_text()), "values_split": "all"}))
    rep = json.loads(Path(build_report(run)["json"]).read_text())
    assert rep["primary"]["split"] == "all items"
    assert rep["primary"]["verdict"].startswith("a null at this scale")


def test_without_a_declared_primary_every_contrast_is_exploratory(tmp_path):
    res, rep = _build(tmp_path, _aft_gen(0.3, 0.0))
    md = Path(res["md"]).read_text()
    assert "No primary contrast declared: every contrast is exploratory" in md
    assert rep["primary"]["declared"] is None and rep["primary"]["result"] is None
    rows = [*rep["contrasts"]["interactions"], *rep["contrasts"]["differences"]]
    assert all(r["exploratory"] and not r["primary"] for r in rows)
    assert [r["p_holm"] for r in rows[:3]] != [r["p"] for r in rows[:3]]


def test_a_primary_whose_models_are_missing_is_said_not_computed(tmp_path):
    # declared on msm_only vs msm_aft, but msm_only never ran
    res, rep = _build(tmp_path, _aft_gen(0.3, 0.0), conditions=("msm_aft", "aft_only"),
                      primary=PRIMARY)  # fmt: skip
    assert rep["primary"]["result"] is None
    assert "Not computed" in Path(res["md"]).read_text()
    assert res["headline"][0].endswith(": not computed")


@pytest.mark.parametrize("gain", [0.25, 0.0])
def test_the_demo_verdict_is_about_the_primary_only(tmp_path, gain):
    from msm.demo import CAVEAT, summary_lines

    _, rep = _build(tmp_path, _aft_gen(0.3, gain), primary=PRIMARY)
    lines = summary_lines(rep)
    first = lines[0]
    assert first.startswith("Primary (declared before the run): AFT generalization")
    assert "[full sets, all items]" in first
    if gain:
        assert first.endswith(": shown.") and "a null" not in first
    else:
        assert first.endswith(": a null at this scale.")
    # then the exploratory contrasts, each with its Holm-adjusted p-value
    text = "\n".join(lines)
    for heading in ("Exploratory (Holm-adjusted", "1. Positive controls", "2. The two directions",
                    "3. The interaction", "4. AFT generalization"):  # fmt: skip
        assert heading in text
    # the interaction after midtraining alone (0.6) is shown in both runs, as exploratory
    only = next(ln for ln in lines if ln.strip().startswith("msm_only: interaction"))
    assert "Holm p" in only and only.endswith("shown at this scale.")
    ctrl = next(ln for ln in lines if "AFT generalization" in ln and "_control" in ln)
    assert "Holm p" in ctrl
    # the primary appears once: not again among the exploratory lines
    assert sum("america / affordability" in ln and "AFT generalization" in ln
               for ln in lines) == 1  # fmt: skip
    # the caveat reads a null and an effect in the same terms
    flat = " ".join(CAVEAT.split())
    assert "not evidence against" not in flat
    assert "an effect shown at this scale" in flat and "a null at this scale" in flat


def test_p_values_print_as_sentences():
    from msm.report.fmt import fmt_p, p_is

    assert p_is("p", 0.0312) == "p=0.031" and p_is("Holm p", 1e-9) == "Holm p<0.0001"
    assert fmt_p(None) == "—" and fmt_p(math.nan) == "—"


def test_aft_positive_control_is_paired_against_the_base_model(tmp_path):
    """AFT's positive control (cheese_aft, change from the base model) is paired item by
    item against the base model's rows, so it has a p-value and a Holm p-value like every
    other exploratory contrast; a model AFT never touched shows no change."""
    from msm.demo import summary_lines

    def lift(cond: str, spec: str | None, item_set: str) -> float:
        return 0.8 if item_set == "cheese_aft" and "aft" in cond else 0.0

    sets = ("america", "affordability", "cheese_aft")
    _, rep = _build(tmp_path, lift, conditions=("base", "aft_only", "msm_only", "msm_aft"),
                    sets=sets, primary=PRIMARY, seeds=(0,))  # fmt: skip
    changes = {(c["item_set"], c["label"]): c for c in rep["contrasts"]["changes"]}
    own = changes[("cheese_aft", "aft_only")]
    assert own["estimate"] == pytest.approx(0.8, abs=0.05) and own["excludes_zero"]
    assert own["basis"].startswith("paired t over items") and own["p"] < 1e-4 and own["exploratory"]
    # the paired estimate is the eval's own change from the base model
    metric = "values.cheese_aft.change_from_base"
    agg = next(a for a in rep["aggregates"] if (a["label"], a["metric"]) == ("aft_only", metric))
    assert own["estimate"] == pytest.approx(agg["mean"], abs=1e-9)
    untouched = changes[("cheese_aft", "msm_only[a]")]
    assert not untouched["excludes_zero"] and untouched["p_holm"] >= untouched["p"]
    assert ("cheese_aft", "base") not in changes
    text = "\n".join(summary_lines(rep))
    assert "aft_only, the AFT data's own phrasing: +0.8" in text
    line = next(ln for ln in text.splitlines() if "AFT data's own phrasing" in ln)
    assert line.endswith("Holm p<0.0001: shown at this scale.")


def test_a_declaration_is_checked_against_the_experiment():
    from msm.study.primary import resolve_primary

    specs = {"a": "builtin:cheese_pro_america", "b": "builtin:cheese_pro_affordability"}
    conds = ["base", "msm_only", "aft_only", "msm_aft"]

    def resolve(p: Any, conditions: list[str] = conds) -> Any:
        return resolve_primary(parse_primary(p), specs, {}, conditions, [8, 24])

    assert resolve("interaction a b")["condition"] == "msm_aft"
    assert resolve("interaction a b")["aft_size"] == 24
    assert resolve("direction b a control n=8") == {
        "kind": "direction", "specs": ["b", "a"], "items": "control", "aft_size": 8,
        "condition": "msm_aft",
    }  # fmt: skip
    assert resolve("interaction a b", ["base", "msm_only"])["condition"] == "msm_only"
    for bad, msg in (
        ("interaction a b condition=msm_aft_cot", "'msm_aft_cot' is not in conditions"),
        ("interaction a b condition=msm_only n=8", "msm_only has no AFT"),
        ("aft_generalization a b condition=msm_only", r"compares MSM\+AFT with msm_only"),
        ("direction a a", "two different spec keys"),
        ("direction a b half", "'half'"),
    ):
        with pytest.raises(ValueError, match=msg):
            resolve(bad)
    with pytest.raises(ValueError, match="needs msm_only"):
        resolve("aft_generalization a b", ["base", "aft_only", "msm_aft"])
    with pytest.raises(ValueError, match="no value item set"):
        resolve_primary(parse_primary("interaction a b"), {**specs, "b": "x.md"}, {}, conds, [8])
