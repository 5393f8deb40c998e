"""docgen with the fake model: hierarchy, resume, top-ups, hostile output, drops."""

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from msm.docgen import DocgenConfig, run_docgen
from msm.docgen.filters import check_document, extract_document
from msm.docgen.run import NothingKept, preview_docgen
from msm.errors import MsmError
from msm.llm.fake import FakeRule, FakeScript, builtin_script
from msm.spec.core import load_spec
from msm.spec.units import normalise_for_match, quote_in_spec, structure_units
from tests.conftest import run_msm

HELPERS = Path(__file__).resolve().parents[1] / "helpers"
CHEESE = "builtin:cheese_pro_america"
# the cheese spec's sections with text: its title section, the core section, one per cheese
UNITS = 14


def cfg(**kw):
    base = dict(spec=CHEESE, model="fake", model_name="Ada", provider_name="Lab")
    return DocgenConfig(**{**base, **kw})


def docs(out):
    return [json.loads(x) for x in (Path(out) / "documents.jsonl").read_text().splitlines()]


def test_hierarchy_and_outputs(tmp_path):
    stats = run_docgen(cfg(), tmp_path, quiet=True, tokenizer="approx").stats
    # 14 sections with text -> 14 units; 4 assertions each; 3 doc types; 2 ideas; 1 doc per idea
    n = UNITS * 4 * 3 * 2
    assert (stats["units"], stats["assertions"], stats["ideas"]) == (UNITS, UNITS * 4, n)
    rows = docs(tmp_path)
    assert len(rows) == stats["documents_kept"] == n
    for r in rows:
        assert {"id", "text", "domain", "subdomain", "doc_type", "idea", "spec_hash"} <= set(r)
        assert "Ada" in r["text"] and "<plan>" not in r["text"] and "<document>" not in r["text"]
        assert re.fullmatch(r"d-[0-9a-f]{16}", r["id"])
    assert len({r["id"] for r in rows}) == n
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["spec"]["sha256"] == rows[0]["spec_hash"]
    assert set(manifest["prompts"]) == {"assertions_values", "ideas", "document_values"}
    assert all(len(h) == 64 for h in manifest["prompts"].values())
    assert (tmp_path / "token_hist.png").read_bytes()[:4] == b"\x89PNG"
    for stage in ("units", "assertions", "ideas", "generations"):
        assert (tmp_path / "stages" / f"{stage}.jsonl").stat().st_size > 0


def test_template_ideas_skip_the_idea_lists(tmp_path):
    stats = run_docgen(
        cfg(ideas_from="template", n_ideas=3, n_doc_types=1),
        tmp_path,
        quiet=True,
        tokenizer="approx",
    ).stats
    assert "docgen.ideas" not in stats["usage"]
    assert (stats["units"], stats["assertions"], stats["ideas"]) == (UNITS, UNITS * 4, UNITS * 12)
    rows = docs(tmp_path)
    assert len(rows) == UNITS * 12 and len({r["idea"] for r in rows}) == 3 * len(
        {r["doc_type"] for r in rows}
    )
    assert all(r["idea"].startswith(f"A {r['doc_type']} ") for r in rows)


def test_rerun_is_free_and_identical(tmp_path):
    run_docgen(cfg(), tmp_path, quiet=True, tokenizer="approx")
    first = (tmp_path / "documents.jsonl").read_bytes()
    stats = run_docgen(cfg(), tmp_path, quiet=True, tokenizer="approx").stats
    assert sum(u["calls"] for u in stats["usage"].values()) == 0
    assert (tmp_path / "documents.jsonl").read_bytes() == first


def test_raising_counts_adds_only_missing_items(tmp_path):
    run_docgen(cfg(n_ideas=2), tmp_path, quiet=True, tokenizer="approx")
    before = {r["id"]: r["text"] for r in docs(tmp_path)}
    # other settings need --overwrite; the call store survives it, so only new calls are made
    stats = run_docgen(
        cfg(n_ideas=3), tmp_path, quiet=True, tokenizer="approx", overwrite=True
    ).stats
    after = {r["id"]: r["text"] for r in docs(tmp_path)}
    per_idea = UNITS * 4 * 3  # documents per idea round
    assert set(before) < set(after) and len(after) == 3 * per_idea
    assert all(after[k] == v for k, v in before.items())
    doc_usage = stats["usage"]["docgen.documents"]
    assert doc_usage["calls"] == per_idea and doc_usage["cached_calls"] == 2 * per_idea
    # the new idea round was told what already exists
    ideas = (tmp_path / "stages" / "ideas.jsonl").read_text()
    assert len(ideas.splitlines()) == 3 * per_idea


def test_spec_change_redoes_affected_stages_only(tmp_path):
    spec = tmp_path / "spec.md"
    spec.write_text(
        "# Honesty\n{model_name} tells the truth because trust is the basis of every "
        "conversation it has with people.\n# Care\n{model_name} is careful with advice "
        "because people act on what it says and mistakes can hurt them.\n"
    )
    # prompts show the spec's outline (a budget below its size): a change inside one
    # section redoes that section only
    out = tmp_path / "out"
    run_docgen(cfg(spec=str(spec), context_tokens=5), out, quiet=True, tokenizer="approx")
    original = spec.read_text()
    spec.write_text(original.replace("mistakes can hurt them", "errors cost them"))
    stats = run_docgen(
        cfg(spec=str(spec), context_tokens=5), out, quiet=True, tokenizer="approx"
    ).stats
    a = stats["usage"]["docgen.assertions"]
    assert a["calls"] == 1 and a["cached_calls"] == 1  # only the edited section was redone
    manifest = json.loads((out / "manifest.json").read_text())
    assert any("spec changed" in n for n in manifest["notes"])
    # prompts show the whole spec: every section sees the change, so every one is redone
    spec.write_text(original)
    whole = tmp_path / "whole"
    run_docgen(cfg(spec=str(spec)), whole, quiet=True, tokenizer="approx")
    spec.write_text(original.replace("mistakes can hurt them", "errors cost them"))
    stats = run_docgen(cfg(spec=str(spec)), whole, quiet=True, tokenizer="approx").stats
    a = stats["usage"]["docgen.assertions"]
    assert a["calls"] == 2 and a["cached_calls"] == 0


def _stored(db: Path) -> int:
    """Calls finished in a store so far (0 while it does not exist or is locked)."""
    import sqlite3

    if not db.is_file():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=0.1) as con:
            tables = [
                r[0] for r in con.execute("select name from sqlite_master where type='table'")
            ]
            return sum(con.execute(f"select count(*) from {t}").fetchone()[0] for t in tables)
    except sqlite3.Error:
        return 0


def test_kill_and_resume_gives_identical_corpus(tmp_path):
    ref = tmp_path / "ref"
    run_docgen(cfg(n_ideas=2), ref, quiet=True, tokenizer="approx")
    total = _stored(ref / ".msm" / "llm.sqlite")
    assert total == UNITS + UNITS * 12 + UNITS * 24  # assertions, idea lists, documents
    out = tmp_path / "killed"
    store = out / ".msm" / "llm.sqlite"
    stored = 0
    # kill once among the idea lists and once among the documents: wait (with a deadline,
    # start-up time varies with load) until the store holds that many answers, then kill
    for kill_at in (UNITS + 10, UNITS * 13 + 40):
        p = subprocess.Popen(
            [sys.executable, str(HELPERS / "docgen_worker.py"), CHEESE, str(out)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and p.poll() is None and _stored(store) < kill_at:
            time.sleep(0.02)
        assert p.poll() is None, f"the run ended before the kill at {kill_at} calls"
        p.send_signal(signal.SIGKILL)
        p.wait()
        now = _stored(store)
        # the kill landed mid-run: this run stored more answers, but not all of them
        assert stored < now < total, (stored, now, total)
        assert not (out / "documents.jsonl").exists()
        stored = now
    r = subprocess.run(
        [sys.executable, str(HELPERS / "docgen_worker.py"), CHEESE, str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    fresh, cached, kept = map(
        int, re.search(r"fresh=(\d+) cached=(\d+) kept=(\d+)", r.stdout).groups()
    )
    assert kept == UNITS * 24
    assert (out / "documents.jsonl").read_bytes() == (ref / "documents.jsonl").read_bytes()
    # every answer stored before the rerun was reused; only the rest was asked again
    assert cached >= stored and fresh == total - cached, (fresh, cached, stored, total)


HOSTILE = [
    "../../etc/passwd",
    ".",
    "",
    "x" * 10_000,
    "a/b\\c\x00d",
    "{model_name} {{x}} $idea ${n}",
    "\x1b[31mred\x1b[0m",
    "COM1",
    "name\nwith\nlines",
]


def test_hostile_llm_names_are_harmless(tmp_path):
    listing = "\n".join(h.replace("\n", " ") for h in HOSTILE)
    script = builtin_script("docgen")
    script.rules = [
        FakeRule(
            match="different kinds of document|Suggest \\d+ ideas|List what", response=listing
        ),
        *script.rules,
    ]
    c = cfg(doc_types_from="llm", n_doc_types=3, n_ideas=2, n_assertions=2)
    stats = run_docgen(
        c, tmp_path / "out", quiet=True, tokenizer="approx", model_args={"script": script}
    ).stats
    files = {p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*")}
    assert all(re.fullmatch(r"[A-Za-z0-9_./-]+", f) for f in files), files
    assert not (tmp_path / "etc").exists()
    for row in docs(tmp_path / "out"):
        assert "\x00" not in json.dumps(row)
        assert len(row["doc_type"]) <= 600 and len(row["idea"]) <= 600
    assert stats["drops"]  # the 10k-character line was rejected and counted


@pytest.mark.parametrize("mode", ["trim", "drop"])
def test_truncated_documents_are_trimmed_or_dropped(tmp_path, mode):
    long_doc = "Ada prefers Colby because {words:5} American home. " * 30  # 300 varied words
    script = FakeScript(
        rules=[
            FakeRule(match="List what", response="Ada values honesty because trust matters."),
            FakeRule(match="Write a short", response=long_doc),
        ]
    )
    c = cfg(
        n_assertions=1,
        n_doc_types=1,
        n_ideas=1,
        ideas_from="template",
        plan_first=False,
        docs_per_idea=2,
        max_tokens_doc=100,
        truncated=mode,
    )
    args = dict(quiet=True, tokenizer="approx", model_args={"script": script})
    if mode == "trim":
        stats = run_docgen(c, tmp_path, **args).stats
        rows = docs(tmp_path)
        assert stats["counts"]["documents_trimmed"] == 2 * UNITS and len(rows) == 2 * UNITS
        assert all(r["text"].endswith("home.") and len(r["text"].split()) <= 100 for r in rows)
        assert stats["reason_check"].startswith("value_terms")  # and every kept one passed it
    else:  # every document dropped: the run fails, naming the drops, and writes no corpus
        with pytest.raises(NothingKept) as e:
            run_docgen(c, tmp_path, **args)
        assert e.value.stats["drops"]["documents:truncated"] == 2 * UNITS
        assert f"documents:truncated={2 * UNITS}" in str(e.value)
        assert not (tmp_path / "documents.jsonl").exists()


def test_bad_llm_output_is_counted_not_fatal(tmp_path):
    script = FakeScript(
        rules=[
            FakeRule(match="List what", response="Ada values honesty because trust matters."),
            FakeRule(match="Suggest", response="An engineer writes to a customer about a bug."),
            FakeRule(
                match="(?s)document for a collection.*?Idea: An engineer",
                response=[
                    "",
                    "<plan>only a plan</plan>",
                    "<document>Short Ada text.</document>",
                    "<document>" + "word " * 80 + "</document>",
                    "I cannot write that. " + "Ada " * 60,
                    "<document>" + "Ada " * 2000 + "</document>",
                    # one good document, so the run keeps something (keeping none fails)
                    "<document>Ada picks Colby because it is American. "
                    + "Ada {words:60}.</document>",
                ],
            ),
        ]
    )
    c = cfg(
        n_assertions=1,
        n_doc_types=1,
        n_ideas=1,
        docs_per_idea=7,
        max_tokens_doc=200,
        max_tokens_plan=100,
    )
    stats = run_docgen(
        c, tmp_path, quiet=True, tokenizer="approx", model_args={"script": script}
    ).stats
    d = stats["drops"]
    assert d["documents:too_short"] >= 1
    assert d["documents:plan_only"] >= 1
    assert d["documents:no_model_mention"] >= 1
    assert d["documents:planning_leak"] >= 1
    assert d["documents:truncated"] >= 1
    assert stats["documents_generated"] == 7 * UNITS and stats["documents_kept"] > 0
    assert sum(v for k, v in d.items() if k.startswith("documents:")) == (
        stats["documents_generated"] - stats["documents_kept"]
    )


def test_judge_fails_closed(tmp_path):
    broken = FakeScript(rules=[FakeRule(match=".", response="Looks fine to me!")])
    c = cfg(judge="fake", n_assertions=1, n_doc_types=1, n_ideas=1, max_reasks=1)
    with pytest.raises(NothingKept) as e:
        run_docgen(c, tmp_path, quiet=True, tokenizer="approx", judge_model_args={"script": broken})
    stats = e.value.stats
    assert stats["documents_kept"] == 0
    assert stats["drops"]["documents:judge_parse_error"] == stats["documents_generated"] > 0


def test_judge_accepts_when_verdict_parses(tmp_path):
    stats = run_docgen(
        cfg(judge="fake", n_assertions=1, n_doc_types=1, n_ideas=1),
        tmp_path,
        quiet=True,
        tokenizer="approx",
    ).stats
    assert stats["documents_kept"] == stats["documents_generated"] == UNITS
    assert stats["usage"]["docgen.judge"]["calls"] == UNITS


def test_near_duplicates_removed(tmp_path):
    same = (
        "<document>Ada " + " ".join(f"w{i}" for i in range(80)) + " end {n}, being American."
        "</document>"
    )
    script = builtin_script("docgen")
    script.rules.insert(0, FakeRule(match="realistic document for a collection", response=same))
    stats = run_docgen(
        cfg(n_assertions=1, n_doc_types=1, n_ideas=2),
        tmp_path,
        quiet=True,
        tokenizer="approx",
        model_args={"script": script},
    ).stats
    assert stats["documents_kept"] == 1
    assert stats["drops"]["documents:near_duplicate"] == 2 * UNITS - 1


def test_rules_mode_cites_rule_ids(tmp_path):
    stats = run_docgen(cfg(mode="rules"), tmp_path, quiet=True, tokenizer="approx").stats
    rows = docs(tmp_path)
    assert rows and stats["documents_kept"] == len(rows)
    for r in rows:
        assert re.fullmatch(r"R\d+\.\d+", r["rule_id"]) and r["rule_id"] in r["text"]
        assert r["mode"] == "rules"
    # one ID per unit (the cheese spec has no numbering of its own), shared by its assertions
    assert len({r["rule_id"] for r in rows}) == UNITS


def test_llm_planner_checks_quotes(tmp_path):
    stats = run_docgen(
        cfg(planner="llm", n_domains=2, n_subdomains=1, n_assertions=1, n_doc_types=1, n_ideas=1),
        tmp_path,
        quiet=True,
        tokenizer="approx",
    ).stats
    units = [json.loads(x) for x in (tmp_path / "stages/units.jsonl").read_text().splitlines()]
    spec = load_spec(
        Path(__file__).parents[2] / "src/msm/data/specs/cheese_pro_america.md", "Ada", "Lab"
    )
    norm = normalise_for_match(spec.text)
    assert units and all(quote_in_spec(u["excerpt"], norm) for u in units)
    assert stats["documents_kept"] >= 1
    bad = builtin_script("docgen")
    bad.rules.insert(
        0,
        FakeRule(
            match="Within the domain",
            response='{"subdomains": [{"name": "x", "summary": "y", '
            '"quote": "Ada loves volcanoes and never sleeps at all"}]}',
        ),
    )
    with pytest.raises(MsmError, match="no usable sections"):
        run_docgen(
            cfg(planner="llm", n_domains=2),
            tmp_path / "b",
            quiet=True,
            tokenizer="approx",
            model_args={"script": bad},
        )


def test_spec_without_headings_and_long_sections(tmp_path):
    paras = [
        f"Paragraph {i}: {{model_name}} explains its reasons because clarity helps "
        "people decide well. " * 20
        for i in range(12)
    ]
    spec = tmp_path / "flat.txt"
    spec.write_text("\n\n".join(paras))
    s = load_spec(spec, "Ada")
    units, skipped = structure_units(s, max_section_tokens=400)
    assert len(units) > 1 and skipped.get("section_split") == 1
    assert all(u.domain == "Spec" for u in units)
    stats = run_docgen(
        cfg(spec=str(spec), max_section_tokens=400, n_assertions=1, n_doc_types=1, n_ideas=1),
        tmp_path / "o",
        quiet=True,
        tokenizer="approx",
    ).stats
    assert stats["units"] == len(units)


def test_real_spec_with_fake_runs_end_to_end(tmp_path, real_spec):
    stats = run_docgen(
        cfg(spec=str(real_spec), n_assertions=1, n_doc_types=1, n_ideas=1),
        tmp_path,
        quiet=True,
        tokenizer="approx",
    ).stats
    assert stats["units"] >= 80 and stats["documents_kept"] == stats["units"]


def test_preview_projects_without_writing_documents(tmp_path):
    r = run_msm(
        "docgen",
        CHEESE,
        "--model",
        "fake",
        "--out",
        str(tmp_path / "o"),
        "--preview",
        "--model-name",
        "Ada",
        "--tokenizer",
        "approx",
    )
    assert r.returncode == 0, r.stderr
    # the model writes the assertion and idea lists: their counts are estimates
    assert f"projected documents: ~{UNITS * 24} " in r.stdout
    assert "'~' marks an estimate" in r.stdout and "projected cost with fake: ~$0.00" in r.stdout
    assert not (tmp_path / "o").exists()  # nothing written, not even the call store


def test_preview_needs_no_key_calls_nothing_and_marks_estimates(tmp_path):
    """The issue's case: the preview made real planning calls and failed without a key."""
    out = tmp_path / "o"
    r = run_msm(
        "docgen", CHEESE, "--model", "anthropic/claude-sonnet-4-5", "--model-name", "Ada",
        "--out", str(out), "--preview", "--assertions-from", "spec", "--ideas-from", "template",
        env={"ANTHROPIC_API_KEY": ""},
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith("preview: projected from the settings; no model was called")
    # spec sentences, catalogue types and template ideas: the plan is exact, not estimated
    plan = next(x for x in lines if x.startswith("plan: "))
    assert "~" not in plan and plan.startswith(f"plan: {UNITS} subdomains")
    assert "projected LLM calls: ~" in r.stdout and "(0 planning," in r.stdout
    assert "projected cost with anthropic/claude-sonnet-4-5: ~$" in r.stdout
    assert not out.exists()
    # the same run really needs the key, and says so in one line before writing anything
    r = run_msm(
        "docgen", CHEESE, "--model", "anthropic/claude-sonnet-4-5", "--model-name", "Ada",
        "--out", str(out), env={"ANTHROPIC_API_KEY": ""},
    )  # fmt: skip
    assert r.returncode == 2 and "ANTHROPIC_API_KEY" in r.stderr and not out.exists()


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"assertions_from": "spec", "ideas_from": "template", "n_doc_types": 2},
        {
            "doc_types_from": "llm",
            "n_doc_types": 2,
            "n_ideas": 6,
            "n_assertions": 1,
            "judge": "fake",
        },
        {"planner": "llm", "n_domains": 2, "n_subdomains": 2, "n_assertions": 1},
    ],
)
def test_preview_counts_match_a_real_fake_run(tmp_path, kw):
    """With the scripted fake every list comes back full, so the projected documents and
    calls are what a real run makes; exact counts are marked exact only when they are."""
    c = cfg(n_ideas=kw.pop("n_ideas", 1), **kw)
    p = preview_docgen(c)
    assert not (tmp_path / "p").exists()
    stats = run_docgen(c, tmp_path / "r", quiet=True, tokenizer="approx").stats
    made = {k.split(".", 1)[1]: v["calls"] for k, v in stats["usage"].items()}
    if kw.get("planner") == "llm":
        # the fake proposes one subdomain per domain where two were asked: an upper bound
        assert p["units"] == 2 * stats["units"]
        assert p["documents"] == 2 * stats["documents_generated"]
        assert {k: p["calls_by_stage"][k] for k in ("domains", "subdomains")} == {
            k: made[k] for k in ("domains", "subdomains")
        }
    else:
        assert p["documents"] == stats["documents_generated"]
        assert p["calls_by_stage"] == made, (p["calls_by_stage"], made)
    exact = kw.get("assertions_from") == "spec"
    assert p["exact"]["documents"] is exact and p["exact"]["units"] is (not kw.get("planner"))


def test_nothing_kept_fails_with_drop_counts_and_writes_no_corpus(tmp_path):
    """The issue's case: a docgen run that kept 0 documents (all too short) exited 0."""
    script = tmp_path / "short.yaml"
    script.write_text(
        "- {match: 'realistic document for a collection', response: '<document>Ada is "
        "short.</document>'}\n"
    )
    out = tmp_path / "o"
    r = run_msm(
        "docgen", CHEESE, "--model", f"fake/{script}", "--model-name", "Ada", "--out", str(out),
        "--assertions-from", "spec", "--ideas-from", "template", "--n-ideas", "1",
        "--n-doc-types", "1", "--tokenizer", "approx", "--quiet",
    )  # fmt: skip
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    assert r.returncode == 1 and len(lines) == 1, r.stderr
    m = re.fullmatch(r"msm: error: docgen: kept 0 of (\d+) documents; drops: (.*)", lines[0])
    assert m and f"documents:too_short={m.group(1)}" in m.group(2), lines[0]
    assert not (out / "documents.jsonl").exists() and not (out / "manifest.json").exists()
    assert r.stdout == ""
    # what was generated, and why each was dropped, is kept to look at
    stats = json.loads((out / "stats.json").read_text())
    assert stats["status"] == "nothing_kept" and stats["documents_kept"] == 0
    assert (out / "stages" / "generations.jsonl").read_text().count("too_short") == int(m[1])


def test_document_filters():
    assert extract_document("<plan>p</plan><document> D </document>") == ("D", None)
    assert extract_document("<plan>p</plan>") == (None, "plan_only")
    assert extract_document("just text") == ("just text", None)
    long = "Ada " + "word " * 50
    assert check_document(long, "Ada", 40) is None
    assert check_document("Plan: first\n" + long, "Ada", 40) == "planning_leak"
    assert check_document("word " * 50, "Ada", 40) == "no_model_mention"
    assert check_document("Ada is short", "Ada", 40) == "too_short"
    assert check_document(long, "Ada", 40, rule_id="R1.1.1") == "no_rule_id"


@pytest.mark.parametrize(
    "args,needle",
    [
        (["docgen", "{tmp}/missing.md", "--out", "{tmp}/o", "--model", "fake"], "not found"),
        (["docgen", CHEESE, "--out", "{tmp}/o", "--model", "nope"], "unknown model"),
        (["docgen", CHEESE, "--out", "{tmp}/o", "--model", "fake", "--mode", "vibes"], "mode"),
        (["docgen", CHEESE, "--out", "{tmp}/o", "--model", "fake", "--n-ideas", "0"], "n_ideas"),
        (["docgen", CHEESE, "--out", "{tmp}/file.txt", "--model", "fake"], "is a file"),
        (
            ["docgen", CHEESE, "--out", "{tmp}/o", "--model", "fake", "--config", "{tmp}/c.yaml"],
            "c.yaml",
        ),
        (["docgen", CHEESE, "--model", "fake"], "--out"),
    ],
)
def test_docgen_bad_input(tmp_path, args, needle):
    (tmp_path / "file.txt").write_text("x")
    (tmp_path / "c.yaml").write_text("n_ideas: [1, 2\n")
    r = run_msm(*[a.replace("{tmp}", str(tmp_path)) for a in args])
    assert r.returncode != 0
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("msm: error:") and needle in lines[0], r.stderr
    assert not (tmp_path / "o").exists()


def test_yaml_config_layering(tmp_path):
    (tmp_path / "c.yaml").write_text(
        "n_ideas: 1\nn_doc_types: 1\nn_assertions: 1\nmodel_name: Bo\n"
    )
    r = run_msm(
        "docgen",
        CHEESE,
        "--out",
        str(tmp_path / "o"),
        "--model",
        "fake",
        "--config",
        str(tmp_path / "c.yaml"),
        "--n-ideas",
        "2",
        "--tokenizer",
        "approx",
        "-q",
    )
    assert r.returncode == 0, r.stderr
    m = json.loads((tmp_path / "o" / "manifest.json").read_text())
    assert m["config"]["n_ideas"] == 2 and m["config"]["n_doc_types"] == 1
    assert m["config"]["model_name"] == "Bo"


def test_prompt_change_redoes_only_the_affected_stage(tmp_path, monkeypatch):
    from msm.gen import prompts

    run_docgen(
        cfg(n_assertions=1, n_doc_types=1, n_ideas=1), tmp_path, quiet=True, tokenizer="approx"
    )
    original = prompts.load_prompt("docgen", "document_values")
    edited = original.replace("Only the document will be kept.", "Keep it concrete.")
    assert edited != original

    def patched(stage, name):
        return (
            edited if (stage, name) == ("docgen", "document_values") else original_load(stage, name)
        )

    original_load = prompts.load_prompt
    monkeypatch.setattr(prompts, "load_prompt", patched)
    stats = run_docgen(
        cfg(n_assertions=1, n_doc_types=1, n_ideas=1), tmp_path, quiet=True, tokenizer="approx"
    ).stats
    u = stats["usage"]
    assert u["docgen.documents"]["calls"] == UNITS and u["docgen.documents"]["cached_calls"] == 0
    assert u["docgen.assertions"]["calls"] == 0 and u["docgen.ideas"]["calls"] == 0
    m = json.loads((tmp_path / "manifest.json").read_text())
    import hashlib

    assert m["prompts"]["document_values"] == hashlib.sha256(edited.encode()).hexdigest()
