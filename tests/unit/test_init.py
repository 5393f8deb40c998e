"""``msm init``: a commented experiment for your spec that the next commands accept as
written (laptop scale through the dry run; paper scale through the experiment checks)."""

from __future__ import annotations

import pytest

from msm.errors import MsmError
from msm.experiment.load import load_experiment
from msm.experiment.plan import build_plan
from msm.study.init import init_experiment

SPEC = "---\nmodel_name: Ada\n---\n# Values\n\n" + (
    "Ada explains every choice it makes, because people deserve reasons they can check for "
    "themselves and trust grows from understanding.\n\n## Honesty\n\nAda never hides a "
    "mistake, because a hidden mistake costs the people who rely on it far more later.\n"
)


def test_the_five_commands_as_written(tmp_path, msm_cli):
    """lint, evalgen, init, run --dry-run: the laptop flow runs as README says (fake
    generator for evalgen; the dry run runs nothing)."""
    spec = tmp_path / "my_spec.md"
    spec.write_text(SPEC)
    evals = tmp_path / "evals"
    r = msm_cli("spec", "lint", str(spec))
    assert "Traceback" not in r.stderr
    r = msm_cli("evalgen", str(spec), "--model", "fake", "--judge", "fake", "--n-questions",
                "2", "--n-choices", "4", "--out", str(evals))  # fmt: skip
    assert r.returncode == 0, r.stderr
    study = tmp_path / "my-study.yaml"
    r = msm_cli("init", str(spec), "--out", str(study), "--evals", str(evals))
    assert r.returncode == 0, r.stderr
    assert f"msm run {study} --out runs/my-spec --dry-run" in r.stdout
    text = study.read_text()
    assert text.startswith("# msm experiment for") and "model_name: Ada" in text
    r = msm_cli("run", str(study), "--out", str(tmp_path / "run"), "--dry-run")
    assert r.returncode == 0, r.stderr[-2000:]
    assert "measure none" not in r.stdout  # its evaluations are the spec's own
    exp = load_experiment(study)
    assert exp.eval.items == [f"{evals}/choices.jsonl"] and list(exp.specs) == ["my_spec"]


def test_paper_scale_passes_the_experiment_checks(tmp_path):
    spec = tmp_path / "s.md"
    spec.write_text(SPEC)
    out = init_experiment(str(spec), tmp_path / "p.yaml", "paper")
    exp = load_experiment(out)
    assert exp.base_model == "Qwen/Qwen3-32B" and exp.seeds == [0, 1, 2, 3]
    # the study writes the spec's own evaluations itself, with its generator and grader
    gen = next(n for n in build_plan(exp) if n.kind == "evalgen")
    assert gen.id == "evalgen/s" and gen.config.n_questions == gen.config.n_choices == 48
    assert gen.config.judge == exp.grader
    evals = [n for n in build_plan(exp) if n.kind == "eval"]
    assert evals and all("evalgen/s" in n.deps for n in evals)


def test_bad_input_writes_nothing(tmp_path):
    spec = tmp_path / "s.md"
    spec.write_text(SPEC.replace("Ada never", "{modelname} never"))
    out = tmp_path / "x.yaml"
    with pytest.raises(MsmError, match="did you mean"):
        init_experiment(str(spec), out)
    with pytest.raises(MsmError, match="--scale must be one of laptop, paper"):
        init_experiment(str(spec), out, "huge")
    with pytest.raises(MsmError, match="must name a .yaml file"):
        init_experiment(str(spec), tmp_path / "x.txt")
    assert not out.exists()
    out.write_text("mine")
    spec.write_text(SPEC)
    with pytest.raises(MsmError, match="exists"):
        init_experiment(str(spec), out)
    assert out.read_text() == "mine"
    assert init_experiment(str(spec), out, force=True).read_text().startswith("# msm experiment")
