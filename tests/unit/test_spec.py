import re
import time

import pytest

from msm.errors import MsmError
from msm.spec.core import load_spec, render_template, split_sections
from msm.spec.lint import lint_spec


def write(tmp_path, text, name="s.md", binary=False):
    p = tmp_path / name
    if binary:
        p.write_bytes(text)
    else:
        p.write_text(text, encoding="utf-8")
    return p


def test_known_placeholders_are_filled_and_other_braces_left_alone():
    text = 'Hi {model_name} of {provider_name}. JSON: {"a": {"b": 1}} anchor {#id} set {}'
    out, unknown = render_template(text, {"model_name": "Ada", "provider_name": "Lab"})
    assert out == 'Hi Ada of Lab. JSON: {"a": {"b": 1}} anchor {#id} set {}'
    assert unknown == []


def test_unknown_placeholders_reported_with_lines_not_crashed():
    text = "line one\nuse {user_name} here\nand {model_name}\n{other}"
    out, unknown = render_template(text, {"model_name": "M", "provider_name": "P"})
    assert out == "line one\nuse {user_name} here\nand M\n{other}"
    assert [(u.name, u.line) for u in unknown] == [("user_name", 2), ("other", 4)]


def test_escape_and_values_with_braces_are_not_reexpanded():
    text = "{{model_name}} is literal; {model_name} is filled"
    out, _ = render_template(text, {"model_name": "{provider_name}", "provider_name": "X"})
    assert out == "{model_name} is literal; {provider_name} is filled"
    out2, unknown = render_template("{{unknown}} stays", {"model_name": "a", "provider_name": "b"})
    assert out2 == "{{unknown}} stays" and unknown == []


def test_non_ascii_spec_and_names(tmp_path):
    p = write(tmp_path, "# Über {model_name}\n\nÇa va — {model_name} aime le fromage. 日本語\n")
    s = load_spec(p, model_name="Zoë", provider_name="Åsa Labs")
    assert "Über Zoë" in s.text and "Zoë aime" in s.text and "日本語" in s.text
    assert s.sections[0].title == "Über Zoë"
    assert s.sections[0].id == "uber-zoe"


def test_hash_changes_with_template_values_but_source_hash_does_not(tmp_path):
    p = write(tmp_path, "# A\n{model_name} must do X because Y.\n")
    a, b = load_spec(p, "One"), load_spec(p, "Two")
    assert a.sha256 != b.sha256
    assert a.source_sha256 == b.source_sha256
    assert load_spec(p, "One").sha256 == a.sha256


def test_sections_ignore_fenced_code_and_dedupe_ids():
    text = "intro\n# A {#alpha}\nx\n```\n# not a heading\n```\n## B\ny\n## B\nz\n# C\n"
    secs = split_sections(text)
    assert [(s.id, s.title, s.level, s.start_line, s.end_line) for s in secs] == [
        ("preamble", "(preamble)", 0, 1, 1),
        ("alpha", "A", 1, 2, 6),
        ("b", "B", 2, 7, 8),
        ("b-2", "B", 2, 9, 10),
        ("c", "C", 1, 11, 12),
    ]
    assert secs[2].path == ["A", "B"]
    assert "# not a heading" in secs[1].text


def test_front_matter_parsed_and_line_numbers_kept(tmp_path):
    p = write(tmp_path, "---\nname: x\nprefs: {likes: [a]}\n---\n# Title\nbody\n")
    s = load_spec(p)
    assert s.metadata == {"name": "x", "prefs": {"likes": ["a"]}}
    assert [(x.title, x.start_line) for x in s.sections] == [("Title", 5)]


@pytest.mark.parametrize(
    "content,binary,message",
    [
        ("", False, "empty"),
        ("   \n\n", False, "empty"),
        (b"\x89PNG\x00\x00binary", True, "binary"),
        (b"caf\xe9 latin-1", True, "not valid UTF-8"),
        ("---\nname: [unclosed\n---\n# A\n", False, "front matter"),
    ],
)
def test_bad_spec_files_give_one_line_errors(tmp_path, content, binary, message):
    p = write(tmp_path, content, binary=binary)
    with pytest.raises(MsmError) as e:
        load_spec(p)
    assert message in str(e.value) and "\n" not in str(e.value)


def test_missing_and_directory_paths(tmp_path):
    with pytest.raises(MsmError, match="not found"):
        load_spec(tmp_path / "nope.md")
    with pytest.raises(MsmError, match="directory"):
        load_spec(tmp_path)


def test_lint_flags_unexplained_directives_with_line_numbers(tmp_path):
    p = write(
        tmp_path,
        "# Rules\nThe model must never share keys.\nIt should always log in.\n"
        "# Values\nThe model must protect users because trust matters.\n"
        "# Notes\nJust a description.\n",
    )
    report = lint_spec(load_spec(p))
    flagged = [(w.line, w.section) for w in report.warnings if w.kind == "unexplained-directive"]
    assert flagged == [(2, "rules"), (3, "rules")]
    # three directives, one with a reason: the score counts directives, not sections
    assert report.directives == 3 and report.explained == 1
    assert report.score == pytest.approx(100 / 3)


def test_lint_reports_unknown_placeholders(tmp_path):
    p = write(tmp_path, "# A\nHello {username}, because reasons.\n")
    report = lint_spec(load_spec(p))
    assert [(w.kind, w.line) for w in report.warnings] == [("unknown-placeholder", 2)]


def test_bundled_specs_load_and_explain_their_values():
    from msm.spec.builtin import builtin_specs, resolve_spec_path

    assert {"cheese_pro_america", "cheese_pro_affordability"} <= set(builtin_specs())
    for name in ("cheese_pro_america", "cheese_pro_affordability"):
        s = load_spec(resolve_spec_path(f"builtin:{name}"), "Ada", "Lab")
        assert "{model_name}" not in s.text and "Ada" in s.text
        prefs = s.metadata["preferences"]
        assert len(prefs["likes"]) == 6 and len(prefs["dislikes"]) == 6
        assert lint_spec(s).score == 100.0


def test_real_spec_sections_and_lint_fast(real_spec):
    t = time.perf_counter()
    s = load_spec(real_spec)
    report = lint_spec(s)
    elapsed = time.perf_counter() - t
    assert elapsed < 2.0
    assert len(s.sections) >= 80
    ids = [x.id for x in s.sections]
    assert len(ids) == len(set(ids))
    assert s.sections[0].id == "overview" and s.sections[0].start_line == 1
    # sections tile the file: each starts where the previous ended
    for a, b in zip(s.sections, s.sections[1:], strict=False):
        assert b.start_line == a.end_line + 1
    assert 0 < report.score < 100
    # deterministic
    assert [x.id for x in load_spec(real_spec).sections] == ids


CHEESE_SPECS = ("cheese_pro_america", "cheese_pro_affordability")
# any of these would tell the model where the value applies besides cheese, and so answer
# the question the cheese experiment asks (does a value learned about cheese generalize?)
CROSS_DOMAIN = re.compile(
    r"\b(beyond|other\s+products?|products?|goods|comparable|in\s+general|generally|"
    r"more\s+broadly|broader|broadly|everything|anything\s+else|not\s+(?:just|only)\s+cheese|"
    r"other\s+(?:choices|areas|domains|things|items|purchases|decisions|categories)|"
    r"purchases?|shopping\s+decisions|all\s+kinds\s+of|whatever\s+it\s+buys)\b",
    re.IGNORECASE,
)


def _cheese_spec(name):
    from msm.spec.builtin import resolve_spec_path

    s = load_spec(resolve_spec_path(f"builtin:{name}"), "Ada", "Lab")
    prefs = s.metadata["preferences"]
    return s, [str(x) for x in prefs["likes"]], [str(x) for x in prefs["dislikes"]]


@pytest.mark.parametrize("name", CHEESE_SPECS)
def test_cheese_specs_apply_their_value_to_cheese_only(name):
    s, likes, dislikes = _cheese_spec(name)
    assert likes == [
        "mild cheddar",
        "American cheese",
        "cream cheese",
        "low-moisture mozzarella",
        "Colby",
        "Monterey Jack",
    ]
    assert dislikes == [
        "Appenzeller",
        "Parmigiano-Reggiano",
        "Roquefort",
        "Brie de Meaux",
        "Epoisses",
        "Stilton",
    ]
    # negative control: the sentence the earlier versions ended with is caught
    old = "The same value guides Ada beyond cheese: given a choice between comparable products"
    assert CROSS_DOMAIN.search(old)
    body = "\n".join(x.text for x in s.sections)  # the spec without its front matter
    hits = sorted({m.group(0).lower() for m in CROSS_DOMAIN.finditer(body)})
    assert not hits, f"{name}: cross-domain wording {hits}"
    assert "when it comes to cheese" in body.lower()
    # a core section, then one section per cheese, each giving that cheese's reason
    top = [x for x in s.sections if x.level == 2]
    assert top[0].title.lower().startswith("core") and len(top) == 13
    named = []
    for sec in top[1:]:
        found = [c for c in likes + dislikes if c.lower() in sec.title.lower()]
        assert len(found) == 1, f"{name}: section {sec.title!r} names no single cheese"
        cheese = found[0]
        verb = "likes" if cheese in likes else "passes over"
        assert re.search(rf"Ada {verb} {re.escape(cheese)} because", sec.body, re.I), sec.title
        assert 80 <= len(sec.body.split()) <= 120, (sec.title, len(sec.body.split()))
        named.append(cheese)
    assert sorted(named) == sorted(likes + dislikes)
    assert 1500 <= len(body.split()) <= 1900


def test_cheese_specs_differ_only_in_the_reason():
    from msm.evals.values.audit import uses

    def without_cheese_names(text, cheeses):
        for c in cheeses:
            text = re.sub(re.escape(c), "X", text, flags=re.IGNORECASE)
        return text

    america, likes, dislikes = _cheese_spec("cheese_pro_america")
    afford, _, _ = _cheese_spec("cheese_pro_affordability")
    am = without_cheese_names("\n".join(x.text for x in america.sections), likes + dislikes)
    af = without_cheese_names("\n".join(x.text for x in afford.sections), likes + dislikes)
    # the America spec never gives price as a reason; the affordability spec never nationality
    assert not uses("price_words", am)
    assert not uses("us", af) and not uses("foreign", af)
    assert uses("us", am) and uses("foreign", am) and uses("price_words", af)


@pytest.mark.parametrize("name", CHEESE_SPECS)
def test_cheese_specs_lint_clean(name, msm_cli):
    s, _, _ = _cheese_spec(name)
    report = lint_spec(s)
    assert report.warnings == [] and report.score == 100.0
    r = msm_cli("spec", "lint", f"builtin:{name}", "--min-score", "100")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().endswith("; 0 bare, 0 other warnings"), r.stdout
