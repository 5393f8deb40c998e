"""Model output is untrusted input. Hostile names and texts (path tricks, NUL bytes and
terminal escapes, template braces, JSON/YAML/HTML breakers, bidi overrides, 100k-character
lines) are scripted into every answer docgen and aftgen ask for; hostile titles go into a
spec and hostile names into a report.

What must hold: (a) nothing is created outside the output folder and every created path
is one of msm's own names; (b) braces and ``$`` in model text stay literal in every later
prompt (prompts are recorded as the fake model receives them); (c) every JSON/JSONL file
parses, one record per ``\\n``-line, with no raw control characters, and names are cleaned
and capped; (d) the run finishes and counts what it dropped.
"""

from __future__ import annotations

import json
import os
import re
import unicodedata
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from msm.aftgen import AftgenConfig, make_subsets, run_aftgen
from msm.cli import main
from msm.docgen import DocgenConfig, run_docgen
from msm.llm import LLM
from msm.llm.fake import FakeRule, FakeScript, builtin_script
from msm.report.build import build_report
from msm.spec.core import load_spec

ABS = f"/tmp/msm-hostile-{os.getpid()}/pwned"
LONG = "x" * 100_000
BRACES = "{model_name} {{ model_name }} {0} {__class__} {% for x in y %}{{ x }}{% endfor %}"
DOLLARS = "$model_name ${provider_name} $$ $n $avoid"
CONTROL = "nul\x00 esc\x1b[31mred\x1b[0m osc\x1b]0;pwned\x07 del\x7f csi\x9b2J tab\there"
MARKUP = "<script>alert(1)</script><img src=x onerror=alert(2)> **b** [l](javascript:x) |p|"
BREAKERS = '"}, {"x": 1} \\ \\u0000 \\" key: value &a *a !!python/object/apply:os.system [ls]'
BIDI = "\u202eevil\u202c \u2066iso\u2069"
# not one line to a line splitter: \r, \x85, U+2028 and U+2029 all end lines for str.splitlines
SPLITTERS = "cr\rcr nel\x85nel line\u2028sep para\u2029sep"
NAMES = ["../../etc/passwd", "..", ABS, "a/b\\c:d*e?f<g>h|i", "CON", "C:\\Windows\\system32\\x"]
TEXTS = [
    f"Ada keeps {BRACES} and {DOLLARS} as written",
    f"Ada sees {CONTROL} {BIDI}",
    f"Ada reads {MARKUP} {BREAKERS}",
]
# model-chosen names in documents.jsonl, with their caps
DOC_NAMES = {"domain": 200, "subdomain": 200, "doc_type": 600, "idea": 600, "assertion": 600}
BIDI_CONTROLS = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
MSM_DOCGEN_PATHS = re.compile(
    r"out(/(\.msm(/(llm\.sqlite(-wal|-shm|-journal)?|owner\.json))?|"
    r"stages(/(units|assertions|ideas|generations)\.jsonl)?|"
    r"documents\.jsonl|stats\.json|manifest\.json|token_hist\.png))?"
)
MSM_AFTGEN_PATHS = re.compile(
    r"out(/(\.msm(/(llm\.sqlite(-wal|-shm|-journal)?|owner\.json))?|"
    r"cot\.jsonl|stripped\.jsonl|stats\.json|manifest\.json|"
    r"subsets(/n\d+(/(cot\.jsonl|stripped\.jsonl|manifest\.json))?)?))?"
)


def listing(*lines: str) -> str:
    return "\n".join(lines)


# --------------------------------------------------------------------------
# helpers


@pytest.fixture
def prompts(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every transcript the fake model is sent (generator and judge alike)."""
    seen: list[str] = []
    api = type(LLM("fake").inspect_model().api)  # the class behind Inspect's registry wrapper
    real = api.generate

    async def spy(self: Any, *args: Any, **kwargs: Any) -> Any:
        messages = kwargs["input"] if "input" in kwargs else args[0]
        seen.append("\n".join(m.text for m in messages))
        return await real(self, *args, **kwargs)

    monkeypatch.setattr(api, "generate", spy)
    return seen


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working directory, so a relative path written by mistake would land here."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    monkeypatch.setattr("msm._util.embed.minilm_dir", lambda: None)  # MinHash dedup: no model load
    return tmp_path


def tree(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*")}


def assert_only_own_paths(root: Path, before: set[str], allowed: re.Pattern[str]) -> None:
    """(a): everything new under ``root`` is one of msm's names; nothing anywhere else."""
    new = tree(root) - before
    odd = sorted(p for p in new if not allowed.fullmatch(p))
    assert not odd, odd
    assert not any((root / "cwd").iterdir())
    assert not Path(ABS).parent.exists()
    for base in (root, root.parent, root / "cwd"):
        assert not (base / "etc").exists()


def read_records(path: Path) -> list[dict[str, Any]]:
    """(c): a JSONL file is one JSON object per ``\\n``-terminated line."""
    text = path.read_bytes().decode("utf-8")  # no newline translation: a raw \r stays
    assert text == "" or text.endswith("\n"), path
    rows = [json.loads(line) for line in text.split("\n")[:-1]]
    assert all(isinstance(r, dict) for r in rows), path
    return rows


def assert_outputs_parse(root: Path) -> None:
    """(c): every JSON/JSONL file parses; control characters are escaped, never raw."""
    for p in root.rglob("*"):
        if p.suffix not in (".json", ".jsonl"):
            continue
        data = p.read_bytes()
        assert not re.search(rb"[\x00-\x09\x0b-\x1f]", data), p
        if p.suffix == ".json":
            json.loads(data)
        else:
            read_records(p)


def assert_clean_name(text: str, cap: int = 600) -> None:
    """A model-chosen name or list item: no control, bidi or line-separator characters."""
    assert len(text) <= cap
    bad = [c for c in text if unicodedata.category(c) in ("Cc", "Zl", "Zp") or c in BIDI_CONTROLS]
    assert not bad, (text[:80], bad)


def exit_code(args: list[str]) -> int:
    with pytest.raises(SystemExit) as e:
        main(args)
    return e.value.code if isinstance(e.value.code, int) else 0 if e.value.code is None else 1


# --------------------------------------------------------------------------
# docgen


def docgen_script() -> FakeScript:
    subdomains = json.dumps(
        {
            "subdomains": [
                {"name": f"{NAMES[0]} {TEXTS[0]}", "summary": CONTROL + BIDI, "quote": "{g:q}"},
                {"name": f"{LONG}\n{CONTROL}", "summary": LONG, "quote": "{g:q}"},
                {"name": "invented", "quote": "This sentence is certainly not in the spec."},
            ]
        }
    )
    body = f"{TEXTS[0]}. {TEXTS[1]}. {TEXTS[2]}. {SPLITTERS}"
    document = "<plan>{words:5}</plan>\n<document>\nAda {words:150}. %s\n</document>"
    rules = [
        FakeRule(match="Divide these guidelines into", response=listing(*NAMES, LONG, *TEXTS)),
        FakeRule(
            match="(?s)<guidelines>.*?(?P<q>[A-Za-z0-9 ,;']{30,160}).*Within the domain",
            response=subdomains,
        ),
        FakeRule(match="List what this excerpt says about", response=listing(*TEXTS, LONG)),
        FakeRule(match="different kinds of document", response=listing(*NAMES, LONG, *TEXTS)),
        FakeRule(match="Suggest \\d+ ideas for a", response=listing(TEXTS[0], LONG, *NAMES)),
        FakeRule(
            match="realistic document for a collection",
            # one per sample: kept; a judge that answers garbage; cut by the token limit
            response=[document % body, document % f"{body} JUDGE-BAD", "Ada {words:2000}"],
        ),
    ]
    script = builtin_script("docgen")
    script.rules = [*rules, *script.rules]
    return script


JUDGE = FakeScript(
    rules=[
        FakeRule(match="JUDGE-BAD", response='{"faithful": true, "reason": "\x00"} ' + LONG),
        FakeRule(
            match="You are checking",
            response=json.dumps({"faithful": True, "reason": f"{MARKUP} {BRACES} {CONTROL}"}),
        ),
    ]
)


def test_docgen_hostile_answers_everywhere(sandbox: Path, prompts: list[str]) -> None:
    before = tree(sandbox)
    cfg = DocgenConfig(
        spec="builtin:cheese_pro_america",
        model="fake",
        model_name="Ada",
        provider_name="Lab",
        planner="llm",
        doc_types_from="llm",
        n_domains=2,
        n_subdomains=3,
        n_assertions=2,
        n_doc_types=2,
        n_ideas=1,
        docs_per_idea=3,
        judge="fake",
        judge_criterion=BRACES,
        max_reasks=1,
    )
    out = sandbox / "out"
    stats = run_docgen(
        cfg,
        out,
        quiet=True,
        tokenizer="approx",
        model_args={"script": docgen_script()},
        judge_model_args={"script": JUDGE},
    ).stats

    # (d) finished; every document is kept or dropped with a reason, and the reasons add up
    drops = stats["drops"]
    for reason in (
        "domains:overlong_item",
        "subdomains:quote_not_in_spec",
        "assertions:overlong_item",
        "documents:judge_parse_error",
        "documents:truncated",
    ):
        assert drops.get(reason, 0) >= 1, (reason, sorted(drops.items()))
    dropped = sum(v for k, v in drops.items() if k.startswith("documents:"))
    assert stats["documents_kept"] > 0
    assert stats["documents_kept"] + dropped == stats["documents_generated"] == 4 * 2 * 2 * 3

    # (a) only msm's own file names, only inside the output folder
    assert_only_own_paths(sandbox, before, MSM_DOCGEN_PATHS)

    # (c) every file parses; names cleaned and capped; texts keep their content, escaped
    assert_outputs_parse(out)
    docs = read_records(out / "documents.jsonl")
    assert len(docs) == stats["documents_kept"]
    for d in docs:
        for field, cap in DOC_NAMES.items():
            assert_clean_name(d[field], cap)
        assert TEXTS[0] in d["text"] and MARKUP in d["text"] and "\x00" in d["text"]
    units = read_records(out / "stages" / "units.jsonl")
    domains = {u["domain"] for u in units}
    assert NAMES[0] in domains and domains <= set(NAMES) and len(domains) == 2
    assert any(len(u["subdomain"]) == 200 for u in units)  # the 100k-character name, capped
    for u in units:
        assert_clean_name(u["summary"])
    cleaned = re.sub(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", " ", TEXTS[1]).strip()
    said = {TEXTS[0], cleaned}  # the assertions, as the next prompts must quote them
    assert {a["text"] for a in read_records(out / "stages" / "assertions.jsonl")} == said

    # (b) model text is inserted into later prompts exactly as written, never expanded
    def sent(marker: str) -> list[str]:
        found = [p for p in prompts if marker in p]
        assert found, marker
        return found

    assert {re.search('the domain "(.*)"', p)[1] for p in sent("Within the domain")} == domains
    assert all(f'titled "{NAMES[0]} {TEXTS[0]}"' in p or 'titled "xxx' in p
               for p in sent("List what this excerpt says"))  # fmt: skip
    for p in sent("Suggest 5 ideas"):
        assert sum(f"\n\n{a}\n\n" in p for a in said) == 1
    kinds = set()
    for p in sent("realistic document for a collection"):
        kinds.add(re.search("Kind of document: (.*)\n", p)[1])
        assert f"Idea: {TEXTS[0]}\n" in p
    assert NAMES[0] in kinds and kinds <= set(NAMES)
    judged = sent("You are checking a document")
    assert all(f"Also check this criterion: {BRACES}" in p for p in judged)
    assert any(f"{TEXTS[0]}. {TEXTS[1]}" in p for p in judged)  # the document, verbatim
    assert not any("Ada keeps Ada" in p or "Ada keeps the assistant" in p for p in prompts)


# --------------------------------------------------------------------------
# aftgen


def aftgen_script() -> FakeScript:
    answer = f"<think>I, {{g:m}}, keep {BRACES} {CONTROL}</think>\n\n{TEXTS[2]} {SPLITTERS} {BIDI}"
    rules = [
        FakeRule(
            # each unit's situations start with the first words of its excerpt
            match="(?s)<excerpt>\\n(?P<e>[^\\n]{1,40}).*Describe \\d+ different situations",
            response=listing("{g:e} " + TEXTS[0], "{g:e} " + TEXTS[1], LONG, *NAMES),
        ),
        FakeRule(
            match="Situation: (?P<s>[^\\n]{1,50})",
            response=listing("{g:s} / " + TEXTS[0], NAMES[0], "{g:s} / " + TEXTS[2], LONG),
        ),
        FakeRule(
            match="(?s)an AI assistant made by.*User: \\.\\./\\.\\./etc/passwd",
            response="<think>never closed " + CONTROL,
        ),
        FakeRule(match="(?s)You are (?P<m>[^,\\n]+), an AI assistant made by", response=answer),
    ]
    return FakeScript(rules=[*rules, *builtin_script("aftgen").rules])


AFT_JUDGE = FakeScript(
    rules=[
        FakeRule(
            match="(?s)<query>\\n[^\\n]*Ada reads <script>",
            response='{"faithful": false, "reason": "' + MARKUP.replace('"', "") + '"}',
        ),
        FakeRule(match=".", response=json.dumps({"faithful": True, "reason": CONTROL})),
    ]
)


def test_aftgen_hostile_answers_everywhere(sandbox: Path, prompts: list[str]) -> None:
    before = tree(sandbox)
    cfg = AftgenConfig(
        spec="builtin:equanimity",
        kind="chat",
        model="fake",
        judge="fake",
        extra_criterion=DOLLARS,
        n=8,
        n_situations=2,
        n_queries=3,
        max_rounds=2,
        max_reasks=1,
        model_name="Ada",
        provider_name="Lab",
    )
    out = sandbox / "out"
    stats = run_aftgen(
        cfg, out, model_args={"script": aftgen_script()}, judge_model_args={"script": AFT_JUDGE}
    ).stats

    # (d) finished, with the bad answers counted by reason
    drops = stats["drops"]
    for reason in ("situations:overlong_item", "responses:no_think", "responses:judge_rejected"):
        assert drops.get(reason, 0) >= 1, (reason, sorted(drops.items()))
    assert 0 < stats["main_examples"] <= 8

    # (c) both files parse line by line; names cleaned; texts escaped, not lost
    assert_outputs_parse(out)
    cot, stripped = read_records(out / "cot.jsonl"), read_records(out / "stripped.jsonl")
    assert len(cot) == len(stripped) == stats["main_examples"]
    for row in cot:
        user, reply = row["messages"]
        assert_clean_name(user["content"])
        assert_clean_name(row["meta"]["situation"])
        assert TEXTS[0] in user["content"]
        assert f"I, Ada, keep {BRACES}" in reply["content"] and SPLITTERS in reply["content"]
    # a model's U+2028 inside a record does not split it for the subset writer
    res = make_subsets(out, sorted({1, len(cot)}))
    assert len(read_records(Path(res["subsets"][len(cot)]) / "cot.jsonl")) == len(cot)
    assert_only_own_paths(sandbox, before, MSM_AFTGEN_PATHS)

    # (b) situations and queries reach the next prompts verbatim
    queries = [p for p in prompts if "Write 5 different messages" in p]
    answered = [p for p in prompts if p.startswith("You are Ada, an AI assistant")]
    for row in cot:
        assert any(f"Situation: {row['meta']['situation']}\n" in p for p in queries)
        query = row["messages"][0]["content"]
        assert any(p.rstrip("\n").endswith(f"User: {query}") for p in answered)
    assert any(p.rstrip("\n").endswith(f"User: {NAMES[0]}") for p in answered)
    assert not any("Ada keeps Ada" in p or "Ada keeps the assistant" in p for p in prompts)
    judged = [p for p in prompts if "You are checking a training example" in p]
    assert judged and all(p.count(f"5. Also: {DOLLARS}") == 1 for p in judged)
    assert any(f"I, Ada, keep {BRACES}" in p for p in judged)


def test_lone_surrogate_in_an_answer_is_harmless(sandbox: Path) -> None:
    script = FakeScript(
        rules=[
            FakeRule(match="List what", response="Ada half \ud800 pair.\nAda values honesty."),
            *builtin_script("docgen").rules,
        ]
    )
    cfg = DocgenConfig(
        spec="builtin:cheese_pro_america",
        model="fake",
        model_name="Ada",
        n_assertions=2,
        n_doc_types=1,
        ideas_from="template",
        n_ideas=1,
    )
    out = sandbox / "out"
    run_docgen(cfg, out, quiet=True, tokenizer="approx", model_args={"script": script})
    assert_outputs_parse(out)


# --------------------------------------------------------------------------
# spec


HOSTILE_SPEC = (
    "# ../../etc/passwd\n\n"
    "{model_name} keeps its word because people rely on what it says and trust is slow to "
    "rebuild.\n\n"
    "## {model_name} and {{model_name}} and {__class__} {0} {% for x in y %}{{ x }}{% endfor %}"
    " $provider_name\n\n"
    "{model_name} answers calmly even when a question is hostile, because calm answers help "
    "people think.\n\n"
    "## a/b\\c <script>alert(1)</script> \u202eevil\u202c\n\n"
    "{model_name} never pretends to be human, because honesty about itself is part of being "
    "trustworthy.\n\n"
    "## Dots {#..}\n\n"
    "{model_name} cites sources when it can, because people deserve to check what they are "
    "told.\n\n"
    '## \x1b[31mred\x1b[0m {"json": "title"} key: value\n\n'
    "{model_name} admits mistakes quickly, because hiding them would make every later answer "
    "less reliable.\n"
)


def test_hostile_section_titles(sandbox: Path, prompts: list[str], capsys) -> None:
    path = sandbox / "spec.md"
    path.write_text(HOSTILE_SPEC, encoding="utf-8")
    spec = load_spec(path, "Ada", "Lab")
    titles = [s.title for s in spec.sections]
    templated = "Ada and {model_name} and {__class__} {0} {% for x in y %}{{ x }}{% endfor %}"
    assert titles == [
        "../../etc/passwd",
        f"{templated} $provider_name",
        "a/b\\c <script>alert(1)</script> \u202eevil\u202c",
        "Dots",
        '\x1b[31mred\x1b[0m {"json": "title"} key: value',
    ]
    assert [p.name for p in spec.unknown_placeholders] == ["__class__"]
    ids = [s.id for s in spec.sections]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"[A-Za-z0-9_.:-]+", i) and "/" not in i for i in ids), ids

    args = ["spec", "sections", str(path), "--model-name", "Ada", "--tokenizer", "approx"]
    capsys.readouterr()
    assert exit_code([*args, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["title"] for r in rows] == titles and [r["id"] for r in rows] == ids

    # a spec with a NUL byte is refused in one line
    (sandbox / "nul.md").write_bytes(b"# a\n\nnul \x00 here\n")
    assert exit_code(["spec", "sections", str(sandbox / "nul.md")]) == 2
    assert capsys.readouterr().err.startswith("msm: error: spec file looks binary")

    # docgen over it: the titles are names in prompts and rows, never paths
    before = tree(sandbox)
    cfg = DocgenConfig(
        spec=str(path),
        model="fake",
        model_name="Ada",
        n_assertions=1,
        n_doc_types=1,
        ideas_from="template",
        n_ideas=1,
    )
    stats = run_docgen(cfg, sandbox / "out", quiet=True, tokenizer="approx").stats
    assert stats["units"] == 5 and stats["documents_kept"] == 5
    assert_only_own_paths(sandbox, before, MSM_DOCGEN_PATHS)
    assert_outputs_parse(sandbox / "out")
    listed = [p for p in prompts if "List what this excerpt says" in p]
    for t in titles:
        assert sum(f'the part titled "{t}"' in p for p in listed) == 1, t


# --------------------------------------------------------------------------
# report

SCRIPT_NAME = '</title><script>alert("name")</script>'
LABEL = "<script>alert(1)</script>"
LABEL2 = "<img src=x onerror=alert(2)> |pipe| \u202eevil\nline"
ITEMS = "<svg onload=alert(3)>"
SPEC_NAME = "../../etc/passwd<b>"
HTML_TAGS = {
    "html", "head", "meta", "title", "style", "body", "h1", "h2", "h3", "h4", "p", "ul", "li",
    "table", "caption", "thead", "tbody", "tr", "th", "td", "br", "wbr", "figure", "img",
    "figcaption", "code", "em", "strong",
}  # fmt: skip


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))


def make_hostile_run(root: Path) -> Path:
    run = root / "run"

    def write(rel: str, obj: Any) -> None:
        p = run / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(obj if isinstance(obj, str) else json.dumps(obj), encoding="utf-8")

    def summary(v: float) -> dict[str, Any]:
        vp = {"mean": v, "ci95": [v - 0.05, v + 0.05], "items": 36}
        return {"values": {ITEMS: {"value_preference": vp}}}

    nodes = [
        {"id": f"corpus/{SPEC_NAME}", "kind": "corpus", "path": "nodes/corpus/c",
         "status": "done", "spec": SPEC_NAME, "label": LABEL},
        {"id": f"eval/{LABEL}", "kind": "eval", "path": "nodes/eval/a", "status": "done",
         "condition": "base", "label": LABEL, "seed": 0},
        {"id": "eval/../../b", "kind": "eval", "path": "nodes/eval/b", "status": "done",
         "condition": "msm_only", "label": LABEL2, "spec": SPEC_NAME, "seed": 0},
        {"id": f"eval/{ITEMS}", "kind": "eval", "path": "../../elsewhere", "status": "failed",
         "condition": ITEMS, "label": ITEMS},
    ]  # fmt: skip
    docs = [{"text": f"{MARKUP} {CONTROL} " * (i + 1)} for i in range(6)]
    write("nodes/corpus/c/documents.jsonl", "".join(json.dumps(d) + "\n" for d in docs))
    write("nodes/eval/a/summary.json", summary(0.3))
    write("nodes/eval/b/summary.json", summary(0.6))
    write("run.json", {"experiment": {"name": SCRIPT_NAME}, "nodes": nodes,
                       "headline_metric": f"values.{ITEMS}"})  # fmt: skip
    return run


def test_hostile_names_in_the_report_are_escaped(sandbox: Path) -> None:
    run = make_hostile_run(sandbox)
    before = tree(sandbox)
    res = build_report(run)
    new = tree(sandbox) - before
    assert all(re.fullmatch(r"run/report(/[A-Za-z0-9_][A-Za-z0-9._-]*)?", p) for p in new), new
    assert not (sandbox / "cwd" / "etc").exists() and not any((sandbox / "cwd").iterdir())

    html = res["html"].read_text(encoding="utf-8")
    parser = _Tags()
    parser.feed(html)
    tags = {t for t, _ in parser.tags}
    assert tags <= HTML_TAGS, tags - HTML_TAGS
    for tag, attrs in parser.tags:
        assert not [k for k, _ in attrs if k.startswith("on")], (tag, attrs)
        if tag == "img":
            assert dict(attrs)["src"].startswith("data:image/png;base64,")  # type: ignore[union-attr]
    low = html.lower()
    assert "<script" not in low and "<svg" not in low and "<img src=x" not in low
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # shown, as text
    assert html.count("<title>") == 1

    report = json.loads(res["json"].read_text(encoding="utf-8"))
    assert report["headline_metric"] == f"values.{ITEMS}"
    assert {e["label"] for e in report["evals"]} == {LABEL, LABEL2}

    # Markdown tables keep their shape: a pipe or newline in a name does not add cells
    md = res["md"].read_text(encoding="utf-8").split("\n")
    for i, line in enumerate(md):
        if line.startswith("|") and i + 1 < len(md) and md[i + 1].startswith("|-"):
            width = len(re.findall(r"(?<!\\)\|", line))
            j = i + 1
            while j < len(md) and md[j].startswith("|"):
                assert len(re.findall(r"(?<!\\)\|", md[j])) == width, md[j]
                j += 1
