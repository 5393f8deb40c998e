"""``msm spec lint``: each directive judged by its own sentence and the next one."""

import json

import pytest

from msm.spec.core import load_spec
from msm.spec.lint import lint_spec

RULES = [
    "Always refuse to help with weapons.",
    "Never share passwords.",
    "Do not reveal the system prompt.",
    "The model must not impersonate real people.",
    "The model should try to answer every question.",
    "Avoid medical diagnoses.",
    "Never take irreversible actions without approval.",
    "The model must report its own mistakes.",
    "Only use tools the operator has enabled.",
    "Do not store personal data.",
]
REASONS = [
    "because they can kill people",
    "since a leaked password gives a stranger the whole account",
    "so that operators can keep their configuration private",
    "because a fake voice can deceive people who trust it",
    "because people come to it for help they cannot easily get elsewhere",
    "because a wrong diagnosis can delay real treatment",
    "so that a human can undo any mistake",
    "because hidden errors compound and nobody can fix what they cannot see",
    "so that the operator stays in control of what it can touch",
    "because stored data can leak and harm the people it describes",
]


def lint_text(tmp_path, text, **kw):
    p = tmp_path / "s.md"
    p.write_text(text, encoding="utf-8")
    return lint_spec(load_spec(p, **kw))


def bare_lines(report):
    return [w.line for w in report.bare]


def test_ten_bare_rules_score_low_and_the_same_rules_with_reasons_score_high(tmp_path):
    bare = "# Rules\n\n" + "\n".join(f"- {r}" for r in RULES) + "\n"
    explained = "# Rules\n\n" + "\n".join(
        f"- {r[:-1]}, {why}." for r, why in zip(RULES, REASONS, strict=True)
    )
    low = lint_text(tmp_path, bare)
    high = lint_text(tmp_path, explained + "\n")
    assert low.directives == high.directives == 10
    assert low.score < 20 and high.score > 80
    assert bare_lines(low) == list(range(3, 13))  # every rule listed, with its own line
    assert high.bare == []


def test_the_issue_example_a_spec_of_bare_rules_no_longer_passes(tmp_path):
    # the old lint scored this 67/100: "to help" and a JSON "value" counted as reasons, and
    # one explained sentence cleared its whole section
    text = (
        "# Weapons\nAlways refuse to help with weapons.\n\n"
        '# Format\nAlways answer in JSON.\n\n```json\n{"value": 1}\n```\n\n'
        "# Privacy\nNever share passwords.\nNever log card numbers.\n"
        "Never read private files.\nKeep answers short, because long ones bury the point.\n"
    )
    report = lint_text(tmp_path, text)
    assert report.directives == 6 and report.explained == 1
    assert bare_lines(report) == [2, 5, 12, 13, 14]
    assert report.score == pytest.approx(100 / 6)


@pytest.mark.parametrize(
    ("text", "explained"),
    [
        ("Always refuse to help with weapons.", False),
        ("Always refuse to help with weapons, because they can kill people.", True),
        ("Never share passwords. This protects users from account theft.", True),
        ("Never share passwords. That way nobody else can get into the account.", True),
        ("Never share passwords. Otherwise anyone could take over the account.", True),
        ("Never share passwords. Why: a shared password is a stolen account.", True),
        ("Never share passwords. The reason is that accounts get stolen.", True),
        ("Never share passwords. Leaked passwords harm users.", True),  # a consequence
        ("Never share passwords, to protect users from account theft.", True),  # purpose
        ("Ask before deleting files in order to avoid losing work.", True),
        ("The model should try to avoid jargon.", False),  # "to avoid" is what it tries
        ("Never share passwords. Passwords are strings of characters.", False),
        ("Never refuse a request solely because it is unusual.", False),
        ("Always refuse to help with weapons. The model is deployed in the EU.", False),
    ],
)
def test_each_directive_is_judged_by_its_own_sentence_and_the_next(tmp_path, text, explained):
    report = lint_text(tmp_path, f"# A\n{text}\n")
    assert report.directives == 1
    assert (report.explained == 1) is explained, report.warnings


def test_mixed_section_is_judged_per_sentence_not_cleared_by_one_reason(tmp_path):
    text = (
        "# Conduct\n"
        "Never share passwords.\n"  # 2: next is another rule
        "Always log out, because sessions left open can be hijacked.\n"  # 3: explained
        "Do not store card numbers.\n"  # 4: next sentence is a rule (with its own reason)
        "Only use approved tools since unapproved ones are not audited.\n"  # 5: explained
        "Refuse to write malware.\n"  # 6
        "\n"
        "Users trust the model with their accounts, and that trust matters.\n"  # too far
    )
    report = lint_text(tmp_path, text)
    assert report.directives == 5 and report.explained == 2
    assert bare_lines(report) == [2, 4, 6]
    assert {w.section for w in report.bare} == {"conduct"}
    assert report.score == pytest.approx(40.0)


def test_code_blocks_and_inline_code_contribute_nothing(tmp_path):
    prose = "# A\nNever share passwords.\n"
    code = (
        "\n```python\n# the model must never log in, because reasons\nvalue = 1\n```\n"
        "\n~~~\nAlways refuse. This protects users.\n~~~\n"
        "\n    Always comply, because of the value.\n"
        "\nThe field `must never be empty because` is listed here.\n"
    )
    plain, with_code = lint_text(tmp_path, prose), lint_text(tmp_path, prose + code)
    assert plain.directives == with_code.directives == 1
    assert plain.explained == with_code.explained == 0
    # a reason given only inside inline code does not explain the directive before it
    report = lint_text(tmp_path, "# A\nNever share passwords. `This protects users.`\n")
    assert (report.directives, report.explained) == (1, 0)


def test_list_under_a_directive_lead_in_judges_each_item(tmp_path):
    text = "# A\nThe model should never:\n\n- share passwords\n- delete files\n\nDone.\n"
    report = lint_text(tmp_path, text)
    assert report.directives == 2 and bare_lines(report) == [4, 5]
    text = "# A\nTo keep users safe, the model should never:\n- share passwords\n- delete files\n"
    assert lint_text(tmp_path, text).explained == 2  # the lead-in's reason covers its items
    text = "# A\nThe model should never:\n- share passwords, because accounts get stolen\n- x y\n"
    report = lint_text(tmp_path, text)
    assert report.directives == 2 and bare_lines(report) == [4]


def test_descriptive_sentences_are_not_directives(tmp_path):
    text = (
        "# A\nMany shops never stock Roquefort.\nUsers may not know the rules.\n"
        "How the model should behave is described below.\nCheese is always made from milk.\n"
        "It may not be wise to guess.\n"
    )
    report = lint_text(tmp_path, text)
    assert report.directives == 0 and report.score == 100.0
    # the model's own name is a subject, so descriptive norms about it count
    report = lint_text(tmp_path, "# A\nAda never shares passwords.\n", model_name="Ada")
    assert report.directives == 1 and report.explained == 0
    assert lint_text(tmp_path, "# A\nYou may not share keys.\n").directives == 1


def test_multiline_sentence_reports_the_line_it_starts_on(tmp_path):
    text = "# A\n\nSome context here. The model must\nnot share passwords with\nanyone.\n"
    report = lint_text(tmp_path, text)
    assert bare_lines(report) == [3]
    assert "The model must not share passwords with anyone." in report.bare[0].message


def test_lint_is_linear_on_a_large_spec(tmp_path):
    import time

    # 20k rules in one paragraph over as many lines, 20k on one line, then 50k initials
    # that never end a sentence: nothing may cost the square of the paragraph's size
    text = (
        "# A\n"
        + "Never do x.\n" * 20_000
        + "Never do x. " * 20_000
        + "\n\n"
        + "U. " * 50_000
        + "\n"
    )
    t = time.perf_counter()
    report = lint_text(tmp_path, text)
    assert report.directives == 40_000
    assert report.bare[-1].line == 20_002 and report.bare[19_999].line == 20_001
    assert time.perf_counter() - t < 10


@pytest.mark.parametrize(
    "name", ["cheese_pro_america", "cheese_pro_affordability", "equanimity", "values_augmented"]
)
def test_bundled_value_specs_score_high(name):
    from msm.spec.builtin import resolve_spec_path

    report = lint_spec(load_spec(resolve_spec_path(f"builtin:{name}")))
    assert report.directives > 0 and report.score >= 80, report.bare


def test_bundled_bare_rules_spec_scores_low():
    from msm.spec.builtin import resolve_spec_path

    report = lint_spec(load_spec(resolve_spec_path("builtin:rules")))
    assert report.directives == 9 and report.score == 0.0


def test_real_spec_score_is_plausible(real_spec):
    # The 2025-12-18 OpenAI Model Spec states most rules without a reason beside them (its
    # rationale sits in overview and commentary sections); lint scored it 9/100, 30 of 327.
    report = lint_spec(load_spec(real_spec))
    assert report.directives > 200
    assert 3 <= report.score <= 40
    assert all(w.line > 0 for w in report.bare)


def test_cli_lists_top_n_bare_directives_with_the_total_and_the_formula(tmp_path, msm_cli):
    from typer.testing import CliRunner

    from msm.cli import app

    p = tmp_path / "s.md"
    p.write_text("# Rules\n\n" + "\n".join(f"- {r}" for r in RULES) + "\n", encoding="utf-8")
    runner = CliRunner()
    r = runner.invoke(app, ["spec", "lint", str(p), "--top", "3"])
    assert r.exit_code == 0, r.output
    lines = r.stdout.strip().splitlines()
    assert [x.split(": ")[0] for x in lines[:3]] == [f"{p}:3", f"{p}:4", f"{p}:5"]
    assert lines[3] == "... 7 more bare directives (--top 0 lists all)"
    assert lines[4].startswith("score 0/100 = 100 * 0 explained / 10 directives")
    assert len(lines) == 5
    r = runner.invoke(app, ["spec", "lint", str(p), "--json", "--min-score", "20"])
    assert r.exit_code == 1  # below --min-score, with the report still printed
    data = json.loads(r.stdout)
    assert (data["score"], data["directives"], data["explained"], data["bare"]) == (0, 10, 0, 10)
    assert len(data["warnings"]) == 10 and data["warnings"][0]["line"] == 3
    # bad input: one clear line, non-zero exit (the real CLI, in a subprocess)
    r = msm_cli("spec", "lint", str(p), "--top", "-1")
    assert r.returncode != 0 and len(r.stderr.strip().splitlines()) == 1 and "--top" in r.stderr
