"""Paper scale without surprises: settings that change no output re-run nothing, a stale
node keeps its call store, the base model's deterministic eval runs once for every seed,
spec QA is not graded 300 times, and a run that would pay too much stops first."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from msm.errors import MsmError
from msm.experiment.load import load_experiment
from msm.experiment.plan import build_plan
from tests.unit.test_experiment import _write, tiny_yaml

# a study small enough to finish quickly: a corpus, a midtraining, two evals per seed
SMALL = {
    "conditions": "[base, msm_only]",
    "seeds": "[0, 1]",
    "train": "{midtrain: {max_length: 96, lora_r: 4, lora_alpha: 8, max_steps: 2, "
    "precision: fp32}}",
}
# every setting that changes how a stage runs, never what it writes
SPEED = {
    "corpus": "{n_assertions: 1, n_doc_types: 1, n_ideas: 1, docs_per_idea: 2, doc_words: 60, "
    "concurrency: 3, max_retries: 7, timeout_s: 99, batch_wait_s: 60}",
    "train": "{midtrain: {max_length: 96, lora_r: 4, lora_alpha: 8, max_steps: 2, "
    "save: adapter, threads: 1, log_every: 3, precision: fp32}}",
    "eval": "{suites: [values], items: [cheese_america], limit: 12, batch_wait_s: 60, "
    "batch: false}",
}


def _hashes(path: Path) -> dict[str, str]:
    return {n.id: n.hash for n in build_plan(load_experiment(path))}


def _store_rows(folder: Path) -> int:
    with sqlite3.connect(folder / ".msm" / "llm.sqlite") as db:
        return int(db.execute("select count(*) from results").fetchone()[0])


def test_speed_settings_rerun_nothing_and_a_stale_node_keeps_its_store(tmp_path, tiny_model_dir):
    from msm.experiment.runner import run_experiment

    exp = _write(tmp_path, tiny_yaml(tiny_model_dir, **SMALL))
    run = tmp_path / "run"
    lines: list[str] = []
    first = run_experiment(exp, run, echo=lines.append)
    assert first.ran == first.nodes == len(build_plan(load_experiment(exp)))
    # the base model's deterministic eval ran once: seed 1's node copied seed 0's result
    assert sum("its result copied, nothing run" in ln for ln in lines) == 1
    s0, s1 = (json.loads((run / f"nodes/eval/base/s{s}/summary.json").read_text()) for s in "01")
    assert s0 == s1 and s0["values"]["cheese_america"]["value_preference"]["mean"] is not None
    corpus = run / "nodes/corpus/pro_america"
    calls = _store_rows(corpus)
    assert calls > 0
    # each setting alone leaves every hash as it was...
    base = _hashes(exp)
    for key in ("corpus", "train", "eval"):
        alone = _write(tmp_path, tiny_yaml(tiny_model_dir, **{**SMALL, key: SPEED[key]}), "a.yaml")
        assert _hashes(alone) == base, key
    for setting in ("max_rounds: 9", "max_responses_factor: 5", "concurrency: 2", "batch: false"):
        aft = (
            f"{{kind: preference, spec: pro_america, n: 24, sizes: [8, 24], config: {{{setting}}}}}"
        )
        with_aft = {**SMALL, "conditions": "[base, aft_only]"}
        a = _hashes(_write(tmp_path, tiny_yaml(tiny_model_dir, **with_aft), "b.yaml"))
        b = _hashes(_write(tmp_path, tiny_yaml(tiny_model_dir, **with_aft, aft=aft), "c.yaml"))
        assert a == b, setting
    # ...and all of them at once re-run no node and make no call
    again = _write(tmp_path, tiny_yaml(tiny_model_dir, **{**SMALL, **SPEED}), "exp.yaml")
    assert run_experiment(again, run, echo=lambda s: None).ran == 0
    assert _store_rows(corpus) == calls
    # a real change makes the corpus stale: its output goes, its call store stays, so the
    # calls it shares with the first corpus are answered from the store
    more = SPEED["corpus"].replace("docs_per_idea: 2", "docs_per_idea: 3")
    stale = _write(tmp_path, tiny_yaml(tiny_model_dir, **{**SMALL, "corpus": more}), "exp.yaml")
    assert run_experiment(stale, run, echo=lambda s: None).ran > 0
    man = json.loads((corpus / "manifest.json").read_text())
    usage = man["usage"]  # per docgen step: calls made, calls answered from the store
    cached = sum(u["cached_calls"] for u in usage.values())
    made = sum(u["calls"] for u in usage.values())
    assert cached == calls, usage  # every earlier call was reused...
    assert made == _store_rows(corpus) - calls > 0, usage  # ...and only the new ones made


def test_sampled_evals_are_one_per_seed_with_their_seed(tmp_path, tiny_model_dir):
    """Deterministic suites: the base eval of every seed after the first copies the first
    (run in the study above); sampled suites (agentic, spec QA): one per seed, seeded."""
    exp = _write(tmp_path, tiny_yaml(tiny_model_dir, conditions="[base]", seeds="[3, 5, 7]"))
    plan = {n.id: n for n in build_plan(load_experiment(exp))}
    assert plan["eval/base/s5"].meta["same_as"] == "eval/base/s3"
    assert plan["eval/base/s7"].deps == ["eval/base/s3"]
    assert "same_as" not in plan["eval/base/s3"].meta
    sampled = tiny_yaml(
        tiny_model_dir,
        conditions="[base]",
        seeds="[0, 1]",
        grader="fake",
        eval="{suites: [spec_qa], limit: 2}",
    )
    plan = {n.id: n for n in build_plan(load_experiment(_write(tmp_path, sampled, "s.yaml")))}
    assert "same_as" not in plan["eval/base/s1"].meta
    assert (plan["eval/base/s0"].config.seed, plan["eval/base/s1"].config.seed) == (None, 1)
    assert plan["eval/base/s0"].hash != plan["eval/base/s1"].hash


def test_spec_qa_is_graded_once_unless_asked(tmp_path, authors_home):
    from msm.experiment.projection.project import project

    exp = load_experiment(Path(__file__).parents[2] / "examples/experiments/paper-agentic.yaml")
    assert exp.eval.epochs == 300 and exp.eval.spec_qa_epochs == 1
    plan = build_plan(exp)
    node = next(n for n in plan if n.id == "eval/base/s0")
    assert node.config.spec_qa_epochs == 1
    # the spec's own questions (its evalgen node's), each asked once
    gen = next(n for n in plan if n.id == "evalgen/philosophy")
    assert exp.evalgen.n_questions == 24 and gen.config.n_questions == 24
    samples = project(exp, [gen, node])["nodes"][node.id]["samples"]
    assert samples["agentic"] == 27 * 300 and samples["spec_qa"] == 24


def test_run_eval_gives_each_suite_its_epochs(tmp_path, monkeypatch):
    import inspect_ai

    import msm.evals.run as run_mod
    from msm.evals.config import EvalConfig

    seen: list = []

    class Stop(Exception):
        pass

    def fake_eval(tasks, **kw):
        seen.extend((t.name, t.epochs) for t in tasks)
        assert "epochs" not in kw or kw["epochs"] is None
        raise Stop

    monkeypatch.setattr(inspect_ai, "eval", fake_eval)
    cfg = EvalConfig(
        model="fake", suite="agentic,spec_qa", grader="fake", epochs=300, scenarios=["murder"]
    )
    with pytest.raises(Stop):
        run_mod.run_eval(cfg, tmp_path / "o", echo=lambda *_: None)
    # a task's registered name may carry the package prefix (msm/agentic)
    assert {name.split("/")[-1]: n for name, n in seen} == {"agentic": 300, "spec_qa": 1}
    with pytest.raises(MsmError, match="--spec-qa-epochs must be at least 1"):
        EvalConfig(model="fake", suite="spec_qa", grader="fake", spec_qa_epochs=0).check()


def test_a_run_over_its_cost_limit_stops_before_any_call(tmp_path, msm_cli, monkeypatch):
    """An API grader priced in prices.yaml: the projection is over $0, so the run stops
    with the projection and one error line, writes nothing and calls nothing."""
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test-not-a-real-key")
    # were the check to let it through, the call would fail at once, not hang
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://127.0.0.1:9")
    text = tiny_yaml(
        Path("embedded"),
        conditions="[base]",
        grader="anthropic/claude-sonnet-4-5",
        eval="{suites: [spec_qa], limit: 3}",
    )
    exp = _write(tmp_path, text)
    run = tmp_path / "run"
    r = msm_cli("run", str(exp), "--out", str(run), "--max-cost", "0", timeout=120)
    assert r.returncode == 2, r.stderr
    err = [x for x in r.stderr.splitlines() if x.strip()]
    assert len(err) == 1 and "over --max-cost $0.00" in err[0] and "nothing was called" in err[0]
    assert "projected API cost of the nodes still to run: $" in r.stdout
    assert not run.exists()
    # under the default $100 it would go on (checked without running: the spend check alone)
    from msm.experiment.spend import check_spend

    e = load_experiment(exp)
    plan = build_plan(e)
    check_spend(e, plan, run, {}, None, False, lambda s: None)
    with pytest.raises(MsmError, match="over --max-cost"):
        check_spend(e, plan, run, {}, 0.0, False, lambda s: None)
    check_spend(e, plan, run, {}, 0.0, True, lambda s: None)  # --yes


def test_an_unknown_price_stops_a_real_run_unless_yes(tmp_path):
    from msm.experiment.spend import check_spend

    text = tiny_yaml(
        Path("embedded"),
        conditions="[base]",
        grader="openai/some-model-without-a-price",
        eval="{suites: [spec_qa], limit: 3}",
    )
    e = load_experiment(_write(tmp_path, text))
    plan = build_plan(e)
    lines: list[str] = []
    with pytest.raises(MsmError, match="cannot be projected \\(no price for openai/some-model"):
        check_spend(e, plan, tmp_path / "run", {}, None, False, lines.append)
    assert any("no price known for: openai/some-model-without-a-price" in ln for ln in lines)
    check_spend(e, plan, tmp_path / "run", {}, None, True, lines.append)


def test_batch_on_a_provider_without_a_batch_api_is_refused_before_anything_runs(
    tmp_path, msm_cli, tiny_model_dir
):
    """The experiment's batch default reaches every API role; the fake generator has no
    batch API, so the dry run and the real run both refuse in one line, writing nothing."""
    exp = _write(tmp_path, tiny_yaml(tiny_model_dir, batch="true"))
    for extra in (["--dry-run"], []):
        r = msm_cli("run", str(exp), "--out", str(tmp_path / "run"), *extra)
        assert r.returncode == 2, r.stderr
        err = [x for x in r.stderr.splitlines() if x.strip()]
        assert (
            len(err) == 1
            and "corpus generator: batch mode needs an openai/ or anthropic/" in (err[0])
        )
        assert not (tmp_path / "run").exists()
    # off for the corpus, where the stage sets its own: nothing to refuse there
    corpus = "{n_assertions: 1, n_doc_types: 1, n_ideas: 1, docs_per_idea: 2, batch: false}"
    ok = _write(tmp_path, tiny_yaml(tiny_model_dir, batch="true", corpus=corpus), "ok.yaml")
    assert load_experiment(ok).batch is True
