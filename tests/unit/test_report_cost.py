"""The report's "Cost and time" section: actual calls, tokens, cost and wall time per node
and per stage next to the dry run's projection; and the eval's own usage records."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from msm.experiment.load import load_experiment
from msm.experiment.plan import build_plan
from msm.experiment.projection.project import project
from msm.report.build import build_report

EXP = """\
name: costs
base_model: {base}
generator: fake
grader: fake
model_name: Smol
specs: {{a: {spec}}}
corpus: {{n_assertions: 1, n_doc_types: 1, n_ideas: 1, docs_per_idea: 2, doc_words: 60}}
conditions: [base, msm_only]
seeds: [0]
eval: {{suites: [agentic], scenarios: [exfiltration], goals: [none-none], max_tokens: 16}}
"""


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def _run(tmp_path: Path, base: Path, spec: str = "builtin:cheese_pro_america") -> Path:
    """A finished run folder written by hand: what each stage records, nothing else."""
    p = tmp_path / "exp.yaml"
    p.write_text(EXP.format(base=base, spec="builtin:cheese_pro_america"))
    exp = load_experiment(p)
    plan = build_plan(exp)
    run = tmp_path / "run"
    config = exp.model_dump()
    config["specs"] = {"a": spec}
    nodes = [{"id": n.id, "kind": n.kind, "path": n.path, "status": "done", **n.meta} for n in plan]
    _write_json(
        run / "run.json",
        {
            "experiment": {"name": "costs"},
            "config": config,
            "headline_metric": "agentic.harmful",
            "nodes": nodes,
        },
    )
    if spec == "builtin:cheese_pro_america":  # what msm run writes before the first node
        from msm.experiment.runner import write_projection

        write_projection(run, exp, plan)
    seconds = {
        "corpus/a": 12.0,
        "midtrain/a/s0": 30.0,
        "eval/base/s0": 8.0,
        "eval/msm_only/a/s0": 6.0,
    }
    for nid, s in seconds.items():
        _write_json(
            run / "state" / (nid.replace("/", "__") + ".json"),
            {"hash": "x", "status": "done", "seconds": s},
        )
    usage = {"calls": 50, "input_tokens": 40000, "output_tokens": 5000, "cost_usd": 0.0}
    _write_json(
        run / "nodes/corpus/a/manifest.json",
        {
            "stage": "docgen",
            "usage": {
                "docgen.documents": usage,
                "docgen.ideas": {**usage, "calls": 10, "input_tokens": 1000, "output_tokens": 500},
            },
        },
    )
    _write_json(
        run / "nodes/midtrain/a/s0/manifest.json",
        {"stage": "train-midtrain", "label_tokens_seen": 4000},
    )
    # a local model under test that reported no tokens, and an API grader with no price
    _write_json(
        run / "nodes/eval/base/s0/manifest.json",
        {
            "stage": "eval",
            "usage": {
                "model under test": {
                    "model": "x",
                    "calls": 3,
                    "input_tokens": None,
                    "output_tokens": None,
                    "price": "local",
                    "cost_usd": 0.0,
                },
                "grader": {
                    "model": "y/z",
                    "calls": 3,
                    "input_tokens": 900,
                    "output_tokens": 90,
                    "price": "unknown",
                    "cost_usd": None,
                },
            },
        },
    )
    # an eval made before msm recorded usage: its manifest has none
    _write_json(run / "nodes/eval/msm_only/a/s0/manifest.json", {"stage": "eval"})
    for nid in ("eval/base/s0", "eval/msm_only/a/s0"):
        _write_json(run / "nodes" / nid / "summary.json", {})
    return run


def test_cost_section_puts_actuals_next_to_the_dry_runs_projection(tmp_path, tiny_model_dir):
    run = _run(tmp_path, tiny_model_dir)
    res = build_report(run)
    rep = json.loads(res["json"].read_text())
    cost = rep["cost"]
    assert "dry-run" in cost["projection"]
    # the projection column is the dry run's own numbers for the same experiment
    exp = load_experiment(tmp_path / "exp.yaml")
    want = project(exp, build_plan(exp))["nodes"]
    nodes = {r["node"]: r for r in cost["nodes"]}
    for nid, rec in nodes.items():
        proj = want[nid]
        assert rec["projected"]["calls"] == sum(r["calls"] for r in proj["calls"])
        assert rec["projected"]["seconds"] == pytest.approx(proj["seconds"])
    assert nodes["midtrain/a/s0"]["projected"]["tokens"] == want["midtrain/a/s0"]["train_tokens"]
    # actuals: every usage row summed; trained tokens; the runner's seconds
    corpus = nodes["corpus/a"]["actual"]
    assert (corpus["calls"], corpus["tokens"], corpus["cost_usd"]) == (60, 46500, 0.0)
    assert corpus["seconds"] == 12.0
    assert nodes["midtrain/a/s0"]["actual"]["tokens"] == 4000
    base = nodes["eval/base/s0"]["actual"]
    assert base["calls"] == 6 and base["tokens"] == 990 and base["tokens_note"] == "partial"
    assert base["cost_usd"] is None and base["cost_recorded"]  # a grader without a price
    old = nodes["eval/msm_only/a/s0"]["actual"]
    assert old["calls"] is None and old["tokens"] is None and not old["cost_recorded"]
    assert old["seconds"] == 6.0
    # per stage: sums over the nodes that recorded the quantity, saying how many
    ev = cost["kinds"]["eval"]
    assert ev["actual"]["calls"] == 6 and ev["note_calls"] == "1 of 2 nodes"
    assert ev["projected"]["calls"] == nodes["eval/base/s0"]["projected"]["calls"]
    assert ev["actual"]["seconds"] == 14.0 and ev["note_secs"] == ""
    md = res["md"].read_text()
    section = md.split("## Cost and time", 1)[1].split("\n## ", 1)[0]
    # the ratio of actual to projected, "not recorded" (never 0) and "unknown price"
    ratio = 60 / nodes["corpus/a"]["projected"]["calls"]
    assert f"60 / {nodes['corpus/a']['projected']['calls']:,} (×{ratio:.2f})" in section
    row = next(ln for ln in section.splitlines() if ln.startswith("| eval/msm_only/a/s0 "))
    assert row.count("not recorded") == 3 and "$" in row  # calls, tokens, cost; projected $
    base_row = next(ln for ln in section.splitlines() if ln.startswith("| eval/base/s0 "))
    assert "unknown price" in base_row and "(partial)" in base_row
    # every row cites its files and fields
    assert "`nodes/corpus/a/manifest.json: usage`" in section
    assert "`state/corpus__a.json: seconds`" in section
    assert "`nodes/midtrain/a/s0/manifest.json: label_tokens_seen`" in section
    assert any(line.startswith("wall time 56 s over 4 finished nodes") for line in rep["headline"])


def test_projection_is_written_once_before_the_run_and_says_why_when_it_cannot_be(
    tmp_path, tiny_model_dir
):
    from msm.experiment.runner import write_projection

    run = _run(tmp_path, tiny_model_dir)
    first = json.loads((run / "projection.json").read_text())
    assert first["nodes"]["corpus/a"]["calls"] and first["experiment_sha256"]
    exp = load_experiment(tmp_path / "exp.yaml")
    (run / "projection.json").write_text(json.dumps({**first, "marker": 1}))
    write_projection(run, exp, build_plan(exp))  # a resumed run keeps the first projection
    assert json.loads((run / "projection.json").read_text())["marker"] == 1
    (run / "projection.json").write_text(json.dumps({"nodes": None, "why": "no price for x"}))
    rep = json.loads(build_report(run)["json"].read_text())
    assert rep["cost"]["projection"] == "msm run could not project this experiment (no price for x)"


def test_without_a_projection_the_actuals_stand_alone(tmp_path, tiny_model_dir):
    run = _run(tmp_path, tiny_model_dir, spec=str(tmp_path / "gone.md"))  # no projection.json
    rep = json.loads(build_report(run)["json"].read_text())
    assert rep["cost"]["projection"].startswith("the run folder holds no projection.json")
    corpus = next(r for r in rep["cost"]["nodes"] if r["node"] == "corpus/a")
    assert corpus["actual"]["calls"] == 60 and corpus["projected"]["calls"] is None
    md = (run / "report/report.md").read_text()
    assert "| corpus/a | corpus | 60 | 46,500 | $0.00 | 12 s | — |" in md


def _event(role: str | None, tin: int | None, tout: int = 5, cache: str | None = None) -> Any:
    usage = None if tin is None else SimpleNamespace(input_tokens=tin, output_tokens=tout)
    return SimpleNamespace(
        event="model", role=role, model="m", cache=cache, output=SimpleNamespace(usage=usage)
    )


def test_eval_usage_by_role_counts_calls_and_never_invents_tokens():
    from msm.evals.usage_log import add_passes, finish, log_usage

    log = SimpleNamespace(
        samples=[
            SimpleNamespace(
                events=[
                    _event(None, 100),
                    _event("grader", 40),
                    _event("grader2", 30),
                    SimpleNamespace(event="score"),
                ]
            ),
            SimpleNamespace(events=[_event(None, 120), _event("grader", 0, cache="read")]),
        ]
    )
    roles = {"grader": "anthropic/claude-haiku-4-5", "grader2": "vendor/unpriced"}
    usage = log_usage([log], "fake", roles)
    add_passes(usage, "fake", 10, None, "loglik")
    done = finish(usage)
    mut, grader, second = done["model under test"], done["grader"], done["grader2"]
    assert (mut["calls"], mut["input_tokens"], mut["output_tokens"]) == (12, 220, 10)
    assert "10 of 12 calls not recorded (loglik)" in mut["tokens_partial"]
    assert mut["price"] == "local" and mut["cost_usd"] == 0.0
    assert (grader["calls"], grader["cached_calls"], grader["input_tokens"]) == (1, 1, 40)
    assert grader["price"] == "api" and grader["cost_usd"] == pytest.approx(40 * 1e-6 + 5 * 5e-6)
    assert second["model"] == "vendor/unpriced" and second["price"] == "unknown"
    assert second["cost_usd"] is None
    # a model that reported no tokens at all: None, not 0
    none = finish(
        log_usage(
            [SimpleNamespace(samples=[SimpleNamespace(events=[_event(None, None)])])], "fake", {}
        )
    )
    assert none["model under test"]["input_tokens"] is None
    assert none["model under test"]["calls"] == 1


def test_cost_by_role_puts_actuals_next_to_the_projection(tmp_path, tiny_model_dir):
    run = _run(tmp_path, tiny_model_dir)
    res = build_report(run)
    roles = json.loads(res["json"].read_text())["cost_roles"]
    a, p = roles["actual"], roles["projected"]
    assert a["generator"]["calls"] == 60 and a["generator"]["nodes"] == 1
    assert a["model under test"]["tokens"] is None  # reported none: not 0
    assert a["grader"]["paid"] is None and a["grader"]["calls"] == 3  # a grader without a price
    assert a["generator"]["cache_read"] is None  # no call reported cache tokens
    exp = load_experiment(tmp_path / "exp.yaml")
    want = project(exp, build_plan(exp))["nodes"]["corpus/a"]["calls"]
    assert p["generator"]["calls"] == sum(r["calls"] for r in want if r["role"] == "generator")
    section = res["md"].read_text().split("## Cost and time", 1)[1].split("\n## ", 1)[0]
    assert "| cache reads |" in section and "| generator | 1 | 60 / " in section


def test_an_actual_row_is_priced_with_cache_reads_and_the_batch_price():
    from msm.llm.prices import cost_usd
    from msm.report.sections.cost_roles import actual_by_role, priced

    row = {"model": "anthropic/claude-sonnet-4-6", "calls": 10, "batch_calls": 10,
           "input_tokens": 30000, "output_tokens": 2000, "input_tokens_cache_read": 20000,
           "input_tokens_cache_write": 2000, "cost_usd": 123.0}  # fmt: skip
    paid, listed = priced(row)
    assert paid == pytest.approx(
        cost_usd("anthropic/claude-sonnet-4-6", 30000, 2000, 20000, 2000, batch=True)
    )
    assert listed == pytest.approx((30000 * 3 + 2000 * 15) / 1e6)
    assert paid < listed / 2  # half price, and the cache reads at a tenth
    # no single model named: the recorded cost stands
    assert priced({"calls": 1, "input_tokens": 5, "output_tokens": 5, "cost_usd": 0.5}) == (
        0.5,
        0.5,
    )
    roles = actual_by_role([("eval", {"grader": row, "grader2": row}), ("aftdata", {
        "aftgen.responses": row, "aftgen.judge": row})])  # fmt: skip
    assert roles["grader"]["calls"] == 20 and roles["grader"]["nodes"] == 1
    assert roles["judge"]["cache_read"] == 20000 and roles["generator"]["calls"] == 10
