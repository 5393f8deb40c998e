"""Spec placeholder typos stop before money is spent: a near miss of ``{model_name}`` or
``{provider_name}`` and an unclosed ``{model_name`` are one-line errors with the line and a
did-you-mean in docgen, aftgen and ``msm run`` (dry or not); any other unknown ``{word}``
is a warning there, as in lint; ``{{word}}`` stays the escape."""

from __future__ import annotations

from pathlib import Path

import pytest

from msm.errors import MsmError
from msm.spec.core import check_placeholders, load_spec, near_miss, placeholder_problems
from msm.spec.lint import lint_spec

BODY = (
    "# Values\n\n{model_name} is an assistant built by {provider_name}. It explains every "
    "choice it makes, because people deserve reasons they can check for themselves.\n"
)


def _spec(tmp_path: Path, extra: str, name: str = "s.md") -> Path:
    p = tmp_path / name
    p.write_text("---\nmodel_name: Ada\n---\n" + BODY + extra, encoding="utf-8")
    return p


def test_near_misses_name_the_placeholder_they_miss_and_nothing_else():
    for typo in ("modelname", "model_nmae", "Model_Name", "modelName", "mdoel_name"):
        assert near_miss(typo) == "model_name", typo
    assert near_miss("providername") == "provider_name"
    assert near_miss("provder_name") == "provider_name"
    # the known names themselves and words unlike them are not typos
    for other in ("model_name", "provider_name", "weapon_type", "name", "user", "x"):
        assert near_miss(other) is None, other


def test_problems_carry_line_and_did_you_mean_and_the_escape_is_silent(tmp_path):
    text = (
        "\nLine {modelname} here.\n"  # line 8 of the file (3 front matter + 4 body lines)
        "An unclosed {model_name said so.\n"
        'A template {weapon_type} and JSON {"a": 1} stay.\n'
        "Escaped {{modelname}} and {{model_name}} are fine.\n"
    )
    spec = load_spec(_spec(tmp_path, text))
    errors, warnings = placeholder_problems(spec)
    assert errors == [
        f"{spec.path}:8: unknown placeholder {{modelname}}; did you mean {{model_name}}? "
        "(write {{modelname}} to keep it as written)",
        f"{spec.path}:9: '{{model_name' has no closing brace; did you mean {{model_name}}?",
    ]
    assert len(warnings) == 1 and warnings[0].startswith(f"{spec.path}:10: unknown placeholder")
    assert "{weapon_type}" in warnings[0]
    with pytest.raises(MsmError, match=r":8: .*did you mean \{model_name\}.*and 1 more"):
        check_placeholders(spec, warn=False)
    # a clean spec: nothing at all
    clean = load_spec(_spec(tmp_path, "\nEscaped {{modelname}} only.\n", "c.md"))
    assert placeholder_problems(clean) == ([], [])
    assert check_placeholders(clean) == []


def test_lint_names_the_typo_and_the_unclosed_brace(tmp_path):
    spec = load_spec(_spec(tmp_path, "\nSee {model_nmae}.\nAnd {provider_name then.\n"))
    kinds = {w.kind: w for w in lint_spec(spec).warnings}
    assert "did you mean {model_name}" in kinds["placeholder-typo"].message
    assert kinds["placeholder-typo"].line == 8
    assert "did you mean {provider_name}" in kinds["unclosed-placeholder"].message
    assert kinds["unclosed-placeholder"].line == 9


@pytest.mark.parametrize("stage", ["docgen", "aftgen"])
def test_generation_stages_stop_on_a_typo_and_write_nothing(tmp_path, msm_cli, stage):
    spec = _spec(tmp_path, "\nIt answers as {model_nmae} would.\n")
    out = tmp_path / "out"
    args = [stage, str(spec), "--model", "fake", "--out", str(out)]
    r = msm_cli(*args, *(["--n", "4"] if stage == "aftgen" else []))
    assert r.returncode != 0
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    assert f"{spec}:8:" in lines[0] and "did you mean {model_name}" in lines[0]
    assert not out.exists()


def test_docgen_preview_warns_once_about_an_unknown_word_and_goes_on(tmp_path, msm_cli):
    spec = _spec(tmp_path, "\nA form field {weapon_type} is kept as written.\n")
    r = msm_cli("docgen", str(spec), "--model", "fake", "--preview", "--out", str(tmp_path / "o"))
    assert r.returncode == 0, r.stderr
    warned = [ln for ln in r.stderr.splitlines() if ln.startswith("warning:") and "{" in ln]
    assert warned == [
        f"warning: {spec}:8: unknown placeholder {{weapon_type}} left as written "
        "(msm fills only {model_name} and {provider_name})"
    ]


def _experiment(tmp_path: Path, spec: Path) -> Path:
    p = tmp_path / "exp.yaml"
    p.write_text(
        "name: mine\nbase_model: embedded\ngenerator: fake\ngrader: fake\n"
        f"specs: {{ada: {spec}}}\nconditions: [base, msm_only]\nseeds: [0]\n"
        "eval: {suites: [values], items: [america], limit: 4}\n"
    )
    return p


def test_run_and_its_dry_run_stop_on_a_typo_before_anything_is_written(tmp_path, msm_cli):
    spec = _spec(tmp_path, "\nAn unclosed {provider_name here.\n")
    exp, out = _experiment(tmp_path, spec), tmp_path / "run"
    for dry in (["--dry-run"], []):
        r = msm_cli("run", str(exp), "--out", str(out), *dry)
        assert r.returncode == 2, r.stdout[-2000:]
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
        assert f"specs.ada: {spec}:8: '{{provider_name' has no closing brace" in lines[0]
        assert "did you mean {provider_name}" in lines[0]
        assert not out.exists()


def test_dry_run_lists_an_unknown_word_as_a_warning(tmp_path, msm_cli):
    spec = _spec(tmp_path, "\nA form field {weapon_type} is kept.\n")
    r = msm_cli("run", str(_experiment(tmp_path, spec)), "--out", str(tmp_path / "r"), "--dry-run")
    assert r.returncode == 0, r.stderr[-2000:]
    assert f"warning: corpus/ada: {spec}:8: unknown placeholder {{weapon_type}}" in r.stdout


def test_an_unknown_word_used_often_is_one_warning_with_its_lines(tmp_path):
    text = "\n" + "".join(f"Row {{cell}} number {i}.\n" for i in range(8)) + "Twice {x} {x}.\n"
    warnings = placeholder_problems(load_spec(_spec(tmp_path, text)))[1]
    assert len(warnings) == 2
    assert (
        ":8: unknown placeholder {cell} (8 times; also line(s) 9, 10, 11, 12, 13, ...)"
        in (warnings[0])
    )
    assert ":16: unknown placeholder {x} (2 times) left as written" in warnings[1]


def test_a_spec_without_value_terms_is_named_where_the_reason_check_is_off(tmp_path, msm_cli):
    """The reason check is silently off for a spec without value_terms and no judge: docgen's
    preview (and run) and the dry run say so; a spec with them, or a judge, is quiet."""
    spec = _spec(tmp_path, "")
    r = msm_cli("docgen", str(spec), "--model", "fake", "--preview", "--out", str(tmp_path / "o"))
    assert r.returncode == 0, r.stderr
    assert f"warning: spec {spec} declares no value_terms and no judge is set" in r.stderr
    r = msm_cli("run", str(_experiment(tmp_path, spec)), "--out", str(tmp_path / "r"), "--dry-run")
    assert f"warning: corpus/ada: spec {spec} declares no value_terms" in r.stdout
    judged = msm_cli("docgen", str(spec), "--model", "fake", "--judge", "fake", "--preview",
                     "--out", str(tmp_path / "o2"))  # fmt: skip
    assert judged.returncode == 0 and "value_terms" not in judged.stderr
    with_terms = tmp_path / "t.md"
    with_terms.write_text(
        spec.read_text().replace("---\nmodel_name", "---\nvalue_terms: [reasons]\nmodel_name")
    )
    r = msm_cli(
        "docgen", str(with_terms), "--model", "fake", "--preview", "--out", str(tmp_path / "o3")
    )
    assert r.returncode == 0 and "value_terms" not in r.stderr


def test_dry_run_names_a_bundled_eval_that_measures_none_of_the_study_specs(tmp_path, msm_cli):
    """spec QA's bundled equanimity questions and the cheese value sets measure the bundled
    specs they were written for; a study of another spec is told so (and what to write);
    a study of the cheese specs is not."""
    spec = _spec(tmp_path, "")
    exp = tmp_path / "e.yaml"
    exp.write_text(
        "name: mine\nbase_model: embedded\ngenerator: fake\ngrader: fake\n"
        f"specs: {{ada: {spec}}}\nconditions: [base, msm_only]\nseeds: [0]\n"
        f"eval: {{suites: [values, spec_qa], items: [america, {tmp_path / 'mine.jsonl'}], "
        "limit: 4}\nevalgen: {enabled: false}\n"  # the spec's own sets not written
    )
    (tmp_path / "mine.jsonl").write_text(
        '{"id": "x1", "domain": "d", "question": "q?", "aligned": "a.", "other": "b."}\n'
    )
    r = msm_cli("run", str(exp), "--out", str(tmp_path / "r"), "--dry-run")
    assert r.returncode == 0, r.stderr[-2000:]
    lines = [ln for ln in r.stdout.splitlines() if "measure none of this study's specs" in ln]
    assert len(lines) == 2, r.stdout
    assert "'equanimity' questions" in lines[0] and "msm evalgen" in lines[0]
    assert "set(s) america are" in lines[1]  # the user's own file is not named
    # with the spec's own sets written (evalgen, on by default), only the named set is left
    exp.write_text(exp.read_text().replace("evalgen: {enabled: false}\n", ""))
    r = msm_cli("run", str(exp), "--out", str(tmp_path / "r1"), "--dry-run")
    assert r.returncode == 0, r.stderr[-2000:]
    lines = [ln for ln in r.stdout.splitlines() if "measure none of this study's specs" in ln]
    assert len(lines) == 1 and "set(s) america are" in lines[0], r.stdout
    cheese = exp.read_text().replace(f"{{ada: {spec}}}", "{a: builtin:cheese_pro_america}")
    exp.write_text(cheese.replace(", spec_qa]", "]"))
    r = msm_cli("run", str(exp), "--out", str(tmp_path / "r2"), "--dry-run")
    assert r.returncode == 0, r.stderr[-2000:]
    assert "measure none" not in r.stdout
