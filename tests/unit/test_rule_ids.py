"""One rule-ID scheme: the spec's own rule numbers where it has them, else ``R<d>.<s>``,
cited alike by docgen documents (rules mode) and aftgen responses (rule style)."""

import json
from pathlib import Path

import pytest

from msm.aftgen import AftgenConfig, run_aftgen
from msm.docgen import DocgenConfig, run_docgen
from msm.docgen.filters import check_document, cites
from msm.llm.fake import FakeRule, builtin_script
from msm.spec.core import load_spec, split_sections
from msm.spec.units import Unit, assign_rule_ids, own_rule_number, structure_units

BODY = (
    "{model_name} keeps to this part of the rules in every conversation, with every user, always."
)

# own numbers in several forms, beside sections without any; generated IDs that would
# reuse an own number (R1.2 beside "R1.2", R3.1 beside "§3.1") get a letter
MIXED = {
    "## R1.2 Honesty": "R1.2",
    "### Candour": "R1.2a",
    "### Tact": "R1.3",
    "## Rule 4: Safety": "Rule 4",
    "### §3.1 Oversight": "§3.1",
    "## Scope": "R3.1a",
    "### 2.1 Tools": "2.1",
    "### Privacy (R7)": "R7",
}


def write_spec(path: Path, headings) -> Path:
    path.write_text("".join(f"{h}\n\n{BODY}\n\n" for h in headings))
    return path


def rule_ids(path: Path) -> list[str]:
    units, _ = structure_units(load_spec(path, "Ada"), max_section_tokens=400)
    return [u.rule_id for u in units]


@pytest.mark.parametrize(
    "heading,first_line,expected",
    [
        ("R3.1 Honesty", "", "R3.1"),
        ("Rule 3.1: Honesty", "", "Rule 3.1"),
        ("Rule 3 - Honesty", "", "Rule 3"),
        ("rule 3", "", "Rule 3"),
        ("§3.1 Honesty", "", "§3.1"),
        ("§ 3.1 Honesty", "", "§3.1"),
        ("3.1 Honesty", "", "3.1"),
        ("3.1. Honesty", "", "3.1"),
        ("3.1.2 Honesty", "", "3.1.2"),
        ("Honesty (R7)", "", "R7"),
        ("Honesty [Rule 7]", "", "Rule 7"),
        ("Honesty", "**R9.1** The assistant must tell the truth.", "R9.1"),
        ("Honesty", "- Rule 2: the assistant must tell the truth.", "Rule 2"),
        # not rule numbers
        ("3. Honesty", "", None),
        ("3.5mm jacks", "", None),
        ("R2-D2", "", None),
        ("Respect", "", None),
        ("Honesty", "2.5 million people ask every day.", None),
        ("Rules of thumb", "", None),
    ],
)
def test_own_rule_number_forms(heading, first_line, expected):
    (section,) = split_sections(f"## {heading}\n\n{first_line}\n\nMore text.")
    assert own_rule_number(section) == expected


def test_spec_with_its_own_numbering_keeps_it(tmp_path):
    spec = write_spec(
        tmp_path / "own.md", ["## R1.1 Honesty", "## R1.2 Candour", "### Rule 4: Tact"]
    )
    assert rule_ids(spec) == ["R1.1", "R1.2", "Rule 4"]


def test_spec_without_numbering_gets_domain_subdomain_ids(tmp_path):
    spec = write_spec(
        tmp_path / "plain.md",
        ["## Honesty", "### Candour", "## Safety", "### Oversight", "### Tools"],
    )
    assert rule_ids(spec) == ["R1.1", "R1.2", "R2.1", "R2.2", "R2.3"]


def test_mixed_spec_has_no_collisions(tmp_path):
    ids = rule_ids(write_spec(tmp_path / "mixed.md", MIXED))
    assert ids == list(MIXED.values())
    assert len(set(ids)) == len(ids)


def test_llm_planner_units_take_the_number_of_the_section_they_quote(tmp_path):
    spec = load_spec(write_spec(tmp_path / "mixed.md", MIXED), "Ada")
    quote = "keeps to this part of the rules"  # in every section: ambiguous
    units = [
        Unit("u1", "D", "S", "", "Oversight\n\nAda keeps to this part", (), 0),
        Unit("u2", "D", "T", "", quote, (), 1),
    ]
    # "Oversight ... Ada keeps" only occurs in the section numbered §3.1
    assert [u.rule_id for u in assign_rule_ids(units, spec)] == ["§3.1", "R1.2"]


def test_citation_check_wants_the_whole_id():
    assert cites("Under R1.1, Ada complies.", "R1.1")
    assert cites("As rule 4 says (see Rule 4).", "Rule 4")
    assert not cites("Under R1.10, Ada complies.", "R1.1")
    assert not cites("Under R1.1.2 and R1.1a, Ada complies.", "R1.1")
    assert not cites("Section 12.1 applies.", "2.1")
    text = "Ada " + "word " * 50
    assert check_document(text + "R1.2a.", "Ada", 40, rule_id="R1.2") == "no_rule_id"
    assert check_document(text + "R1.2a.", "Ada", 40, rule_id="R1.2a") is None


def test_documents_and_aft_responses_cite_the_same_unit_ids(tmp_path):
    spec = write_spec(tmp_path / "mixed.md", MIXED)
    expected = set(MIXED.values())
    base = dict(spec=str(spec), model="fake", model_name="Ada", provider_name="Lab")

    stats = run_docgen(
        DocgenConfig(**base, mode="rules", n_assertions=2, n_doc_types=1, n_ideas=1),
        tmp_path / "corpus",
        quiet=True,
        tokenizer="approx",
    ).stats
    stages = tmp_path / "corpus" / "stages"
    units = [json.loads(x) for x in (stages / "units.jsonl").read_text().splitlines()]
    assert [u["rule_id"] for u in units] == list(MIXED.values())
    unit_rule = {u["id"]: u["rule_id"] for u in units}
    for a in (json.loads(x) for x in (stages / "assertions.jsonl").read_text().splitlines()):
        assert a["rule_id"] == unit_rule[a["unit_id"]]  # every assertion cites its unit's ID
    docs = [
        json.loads(x) for x in (tmp_path / "corpus" / "documents.jsonl").read_text().splitlines()
    ]
    assert len(docs) == stats["documents_kept"] == len(units) * 2
    assert "documents:no_rule_id" not in stats["drops"]
    for d in docs:
        assert d["rule_id"] == unit_rule[d["unit_id"]] and cites(d["text"], d["rule_id"])
    assert {d["rule_id"] for d in docs} == expected

    # the fake answers with the ID the response prompt asks it to cite
    script = builtin_script("aftgen")
    script.rules.insert(
        len(script.rules) - 1,
        FakeRule(
            match="(?s)You are (?P<m>[^,\\n]+), an AI assistant made by.*?"
            "cite rule (?P<r>[^\\n]+?) by its ID",
            response="<think>Citing {g:r}: I {words:12}.</think>\n\n{words:20}.",
        ),
    )
    run_aftgen(
        AftgenConfig(
            **base,
            kind="chat",
            style="rule",
            n=len(units),
            n_situations=1,
            n_queries=1,
            max_rounds=1,
        ),
        tmp_path / "aft",
        model_args={"script": script},
    )
    cot = [json.loads(x) for x in (tmp_path / "aft" / "cot.jsonl").read_text().splitlines()]
    assert cot
    by_subdomain = {u["subdomain"]: u["rule_id"] for u in units}
    for row in cot:
        meta = row["meta"]
        assert meta["rule_id"] == by_subdomain[meta["subdomain"]]
        assert f"Citing {meta['rule_id']}:" in row["messages"][1]["content"]
    assert {row["meta"]["rule_id"] for row in cot} <= expected
