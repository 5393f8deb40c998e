"""The ``evalgen`` node of an experiment: each midtrained spec's own evaluations, written
by ``msm evalgen`` in the plan and scored by every eval node under the spec's key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from msm.experiment.load import load_experiment
from msm.experiment.plan import Gathered, build_plan
from msm.experiment.projection.dryrun import unmeasured_warnings
from msm.spec.builtin import resolve_spec_path


def _spec(tmp_path: Path) -> Path:
    """A spec of the user's own (the pro-America cheese spec's text, outside the package)."""
    p = tmp_path / "myspec.md"
    p.write_text(Path(resolve_spec_path("builtin:cheese_pro_america")).read_text())
    return p


def _yaml(tmp_path: Path, base: str | Path, **over: str) -> Path:
    cfg = {
        "name": "own",
        "base_model": str(base),
        "generator": "fake",
        "grader": "fake",
        "model_name": "Smol",
        "specs": f"{{ada: {_spec(tmp_path)}}}",
        "corpus": "{n_assertions: 1, n_doc_types: 1, n_ideas: 1, docs_per_idea: 2, doc_words: 60}",
        "conditions": "[base, msm_only]",
        "seeds": "[0, 1]",
        "train": "{midtrain: {max_length: 128, lora_r: 8, lora_alpha: 16, precision: fp32}}",
        "evalgen": "{n_questions: 3, n_choices: 6}",
        "eval": "{suites: [values, spec_qa], limit: 2}",
        **over,
    }
    p = tmp_path / "exp.yaml"
    p.write_text("".join(f"{k}: {v}\n" for k, v in cfg.items()))
    return p


def _plan(path: Path):
    return {n.id: n for n in build_plan(load_experiment(path))}


def test_a_spec_of_your_own_gets_its_evaluations_written_and_scored(tmp_path, tiny_model_dir):
    exp_path = _yaml(tmp_path, tiny_model_dir)
    nodes = _plan(exp_path)
    assert "evalgen/ada" in nodes
    gen = nodes["evalgen/ada"]
    assert (gen.config.n_questions, gen.config.n_choices) == (3, 6)
    assert gen.config.judge == "fake"  # the grader judges what the generator wrote
    run = tmp_path / "run"
    for nid in ("eval/base/s0", "eval/base/s1", "eval/msm_only/ada/s0", "eval/msm_only/ada/s1"):
        node = nodes[nid]
        assert "evalgen/ada" in node.deps
        assert isinstance(node.inputs["questions"], Gathered)
        cfg = node.bound(run, nodes) if "model" not in node.inputs else None
        if cfg is not None:  # the base model: nothing else to bind
            folder = run / nodes["evalgen/ada"].path
            # only the spec's own sets: the bundled ones measure none of this study's specs
            assert cfg.questions == f"ada={folder / 'questions.jsonl'}"
            assert cfg.items == [f"ada={folder / 'choices.jsonl'}"]
    # the trained models' evals wait for the model first (the runner reads deps[0])
    assert nodes["eval/msm_only/ada/s0"].deps[0] == "midtrain/ada/s0"
    # more questions asked: evalgen and every eval node are redone, nothing else
    more = _plan(_yaml(tmp_path, tiny_model_dir, evalgen="{n_questions: 4, n_choices: 6}"))
    changed = {nid for nid in nodes if nodes[nid].hash != more[nid].hash}
    assert changed == {"evalgen/ada"} | {nid for nid in nodes if nid.startswith("eval/")}


def test_sets_the_experiment_names_are_scored_beside_the_specs_own(tmp_path, tiny_model_dir):
    items = tmp_path / "mine.jsonl"
    bundled = Path(resolve_spec_path("builtin:cheese_pro_america")).parents[1] / "evals/values"
    items.write_text("".join((bundled / "america.jsonl").read_text().splitlines(True)[:2]))
    exp_path = _yaml(
        tmp_path,
        tiny_model_dir,
        eval=f"{{suites: [values, spec_qa], questions: equanimity, items: [america, {items}]}}",
    )
    nodes = _plan(exp_path)
    run = tmp_path / "run"
    cfg = nodes["eval/base/s0"].bound(run, nodes)
    folder = run / "nodes/evalgen/ada"
    assert cfg.questions == f"equanimity,ada={folder / 'questions.jsonl'}"
    assert cfg.items == ["america", str(items), f"ada={folder / 'choices.jsonl'}"]


@pytest.mark.parametrize(
    ("over", "why"),
    [
        ({"generator": "embedded"}, "the bundled model cannot write them"),
        ({"evalgen": "{enabled: false}"}, "switched off"),
        ({"eval": "{suites: [capability]}"}, "no suite scores them"),
    ],
)
def test_no_evalgen_node_where_it_cannot_or_need_not_run(tmp_path, tiny_model_dir, over, why):
    nodes = _plan(_yaml(tmp_path, tiny_model_dir, **over))
    assert not [n for n in nodes if n.startswith("evalgen/")], why
    assert all("questions" not in n.inputs for n in nodes.values())


def test_bundled_specs_keep_their_own_sets_unless_evalgen_is_asked_for(tmp_path, tiny_model_dir):
    specs = "{ada: builtin:cheese_pro_america}"
    nodes = _plan(_yaml(tmp_path, tiny_model_dir, specs=specs))
    assert "evalgen/ada" not in nodes
    forced = _plan(_yaml(tmp_path, tiny_model_dir, specs=specs, evalgen="{enabled: true}"))
    assert "evalgen/ada" in forced
    # a cheese spec's study keeps the bundled value sets beside the generated ones
    cfg = forced["eval/base/s0"].bound(tmp_path, forced)
    assert cfg.items[:-1] == ["america", "affordability", "cheese_reasons", "cheese_fit"]
    assert cfg.items[-1].startswith("ada=")


def test_the_dry_run_says_why_a_spec_of_your_own_goes_unmeasured(tmp_path, tiny_model_dir):
    exp = load_experiment(_yaml(tmp_path, tiny_model_dir, generator="embedded"))
    warnings = unmeasured_warnings(exp, build_plan(exp))
    assert any("bundled generator cannot write evaluations" in w and "ada" in w
               for w in warnings)  # fmt: skip
    assert any("equanimity" in w for w in warnings)  # the bundled questions stay, named
    exp = load_experiment(_yaml(tmp_path, tiny_model_dir))
    assert unmeasured_warnings(exp, build_plan(exp)) == []


def test_a_typo_in_the_evalgen_section_is_named_with_its_line(tmp_path, tiny_model_dir, msm_cli):
    exp_path = _yaml(tmp_path, tiny_model_dir, evalgen="{config: {overgenerat: 3}}")
    r = msm_cli("run", str(exp_path), "--out", str(tmp_path / "run"), "--dry-run")
    assert r.returncode != 0
    assert "evalgen.config.overgenerat" in r.stderr and "overgenerate" in r.stderr, r.stderr
    assert not (tmp_path / "run").exists()


def test_a_study_of_your_own_spec_runs_its_evaluations_end_to_end(
    tmp_path, tiny_model_dir, msm_cli
):
    exp_path = _yaml(tmp_path, tiny_model_dir, seeds="[0]")
    run = tmp_path / "run"
    r = msm_cli("run", str(exp_path), "--out", str(run), timeout=600)
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
    kept = json.loads((run / "nodes/evalgen/ada/manifest.json").read_text())["counts"]
    assert kept == {"questions": 3, "choices": 6, "beliefs": 0}  # spec_belief not run
    for nid in ("base/s0", "msm_only/ada/s0"):
        summary = json.loads((run / f"nodes/eval/{nid}/summary.json").read_text())
        # scored under the spec's key: 2 questions (limit) and 2 choices in both orders
        assert set(summary["spec_qa"]) == {"ada"} and set(summary["values"]) == {"ada"}
        assert summary["spec_qa"]["ada"]["grade"]["answers"] == 2
        assert summary["values"]["ada"]["acc"]["items"] == 2
    rep = json.loads((run / "report/report.json").read_text())
    assert rep["headline_metric"] == "values.ada"
    again = msm_cli("run", str(exp_path), "--out", str(run))
    assert again.returncode == 0 and "0 to run" in again.stdout


def test_a_kind_asked_for_none_of_is_not_read(tmp_path, tiny_model_dir):
    """n_questions: 0 writes no questions, so no eval reads an empty question file."""
    nodes = _plan(_yaml(tmp_path, tiny_model_dir, evalgen="{n_questions: 0, n_choices: 6}"))
    assert nodes["evalgen/ada"].config.n_questions == 0
    ev = nodes["eval/base/s0"]
    assert "questions" not in ev.inputs and "items" in ev.inputs
