"""Specs that name their model literally (e.g. the paper authors' "Llama"): ``literal_name``
turns that name into ``{model_name}`` in load_spec, the CLI, docgen, aftgen and experiments."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from msm.errors import MsmError
from msm.spec.core import load_spec

ROOT = Path(__file__).resolve().parents[2]
AUTHORS_STYLE = (
    "# Llama's values\n\n"
    "Llama is an assistant. Llama cares about honesty because trust matters to the people "
    "who rely on Llama's answers. Llamas are animals, and LLAMA is not the name.\n\n"
    "## Cheese\n\n"
    "When it comes to cheese, Llama likes Colby because it is made close to home, and "
    "{model_name} says so plainly.\n"
)


@pytest.fixture
def authors_spec(tmp_path: Path) -> Path:
    p = tmp_path / "authors" / "pro_america.md"
    p.parent.mkdir()
    p.write_text(AUTHORS_STYLE, encoding="utf-8")
    return p


def test_literal_name_becomes_model_name_whole_words_and_possessives(authors_spec):
    s = load_spec(authors_spec, "Smol", "Lab", literal_name="Llama")
    assert s.text.startswith("# Smol's values\n")
    assert "Smol cares about honesty" in s.text and "rely on Smol's answers" in s.text
    assert "Smol likes Colby" in s.text and "Smol says so plainly" in s.text  # placeholder too
    assert "Llamas are animals, and LLAMA is not" in s.text  # other words, other case: kept
    assert "Llama " not in s.text and "Llama'" not in s.text
    # the file as written is what source and source_sha256 describe
    assert s.source == AUTHORS_STYLE
    assert s.source_sha256 == hashlib.sha256(authors_spec.read_bytes()).hexdigest()
    assert s.sections[0].title == "Smol's values"
    # without the setting the spec is left as written
    assert "Llama cares" in load_spec(authors_spec, "Smol").text


def test_literal_name_not_in_the_spec_is_an_error_naming_file_and_name(authors_spec):
    with pytest.raises(MsmError, match=r"pro_america\.md: literal name 'Lama' does not occur"):
        load_spec(authors_spec, "Smol", literal_name="Lama")
    with pytest.raises(MsmError, match="'llama' does not occur"):  # capitals count
        load_spec(authors_spec, "Smol", literal_name="llama")
    with pytest.raises(MsmError, match="literal name is empty"):
        load_spec(authors_spec, "Smol", literal_name="  ")


def test_config_fields():
    from msm.aftgen.config import AftgenConfig
    from msm.docgen.config import DocgenConfig

    for cls in (DocgenConfig, AftgenConfig):
        field = cls.model_fields["literal_name"]
        assert field.default is None and "{model_name}" in (field.description or "")


def test_cli_spec_show_and_lint_take_literal_name(authors_spec, msm_cli):
    r = msm_cli(
        "spec", "show", str(authors_spec), "--model-name", "Smol", "--literal-name", "Llama"
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("# Smol's values") and "Llama " not in r.stdout
    r = msm_cli("spec", "lint", str(authors_spec), "--literal-name", "Llama", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["warnings"] == []


@pytest.mark.parametrize(
    "args",
    [
        ["spec", "show", "{spec}", "--literal-name", "Lama"],
        ["spec", "lint", "{spec}", "--literal-name", "Lama"],
        ["docgen", "{spec}", "--model", "fake", "--out", "{out}", "--literal-name", "Lama"],
        ["docgen", "{spec}", "--model", "fake", "--out", "{out}", "--preview",
         "--literal-name", "Lama"],
        ["aftgen", "{spec}", "--kind", "chat", "--model", "fake", "--n", "2", "--out", "{out}",
         "--literal-name", "Lama"],
    ],
)  # fmt: skip
def test_cli_literal_name_not_in_spec_is_one_line_exit_2_nothing_written(
    tmp_path, authors_spec, msm_cli, args
):
    out = tmp_path / "out"
    r = msm_cli(*[a.replace("{spec}", str(authors_spec)).replace("{out}", str(out)) for a in args])
    assert r.returncode == 2, r.stderr
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("msm: error: spec file ")
    assert str(authors_spec) in lines[0] and "'Lama'" in lines[0]
    assert not out.exists()
    assert sorted(p.name for p in authors_spec.parent.iterdir()) == ["pro_america.md"]


def test_docgen_and_aftgen_write_about_the_model_name(tmp_path, authors_spec):
    from msm.aftgen import AftgenConfig, run_aftgen
    from msm.docgen import DocgenConfig, run_docgen

    cfg = DocgenConfig(
        spec=str(authors_spec),
        model="fake",
        model_name="Smol",
        literal_name="Llama",
        n_assertions=1,
        n_doc_types=1,
        n_ideas=1,
    )
    run_docgen(cfg, tmp_path / "corpus", quiet=True, tokenizer="approx")
    units = (tmp_path / "corpus" / "stages" / "units.jsonl").read_text()
    assert "Smol cares about honesty" in units and "Llama " not in units
    manifest = json.loads((tmp_path / "corpus" / "manifest.json").read_text())
    assert manifest["config"]["literal_name"] == "Llama"
    acfg = AftgenConfig(
        spec=str(authors_spec), kind="chat", model="fake", n=2, literal_name="Llama"
    )
    stats = run_aftgen(acfg.model_copy(update={"model_name": "Smol"}), tmp_path / "aft").stats
    assert stats["main_examples"] == 2 and set(stats["domain_balance"]) == {"Smol's values"}
    with pytest.raises(MsmError, match="'Llama' does not occur"):
        run_aftgen(acfg.model_copy(update={"spec": "builtin:cheese_pro_america"}), tmp_path / "a")
    assert not (tmp_path / "a").exists()


def _experiment(tmp_path: Path, spec: Path, **over: str) -> Path:
    cfg = {
        "name": "lit",
        "base_model": "embedded",
        "generator": "fake",
        "model_name": "Smol",
        "specs": f"{{authors: {spec}, ours: builtin:cheese_pro_america}}",
        "literal_names": "{authors: Llama}",
        "corpus": "{n_assertions: 1}",
        "aft": "{kind: preference, spec: ours, n: 8}",
        "conditions": "[base, msm_aft]",
        "eval": "{suites: [values], items: [cheese_america]}",
        **over,
    }
    p = tmp_path / "exp.yaml"
    p.write_text("".join(f"{k}: {v}\n" for k, v in cfg.items()))
    return p


def test_experiment_passes_literal_names_to_its_stages(tmp_path, authors_spec):
    from msm.experiment.load import load_experiment
    from msm.experiment.plan import build_plan

    plan = {n.id: n for n in build_plan(load_experiment(_experiment(tmp_path, authors_spec)))}
    assert plan["corpus/authors"].config.literal_name == "Llama"
    assert plan["corpus/ours"].config.literal_name is None
    assert plan["aftdata"].config.literal_name is None
    # unset, the setting leaves a node's hash as it was before the setting existed
    assert "literal_name" not in plan["corpus/ours"].hashed()["config"]
    assert plan["corpus/authors"].hashed()["config"]["literal_name"] == "Llama"
    # the AFT data built from the authors' spec gets its literal name too
    chat = _experiment(
        tmp_path,
        authors_spec,
        aft="{kind: chat, spec: authors, n: 8}",
        conditions="[base, msm_aft_cot]",
    )
    assert {n.id: n for n in build_plan(load_experiment(chat))}[
        "aftdata"
    ].config.literal_name == "Llama"


@pytest.mark.parametrize(
    ("over", "needle"),
    [
        ({"literal_names": "{nope: Llama}"}, "literal_names: 'nope' is not a key of specs"),
        ({"literal_names": "{authors: ' '}"}, "literal_names.authors: give the name"),
        ({"literal_names": "{authors: Lama}"}, "literal_names.authors: spec file"),
        ({"corpus": "{literal_name: Llama}"}, "corpus.literal_name: set by the experiment"),
    ],
)
def test_experiment_literal_names_are_checked(tmp_path, authors_spec, over, needle):
    from msm.experiment.load import load_experiment

    with pytest.raises(MsmError) as e:
        load_experiment(_experiment(tmp_path, authors_spec, **over))
    assert needle in str(e.value)
    if "Lama" in over.get("literal_names", ""):
        assert str(authors_spec) in str(e.value) and "'Lama' does not occur" in str(e.value)


def test_msm_run_stops_before_writing_on_a_missing_literal_name(tmp_path, authors_spec, msm_cli):
    exp = _experiment(tmp_path, authors_spec, literal_names="{authors: Lama}")
    r = msm_cli("run", str(exp), "--out", str(tmp_path / "run"))
    assert r.returncode == 2, r.stderr
    assert len([x for x in r.stderr.splitlines() if x.strip()]) == 1, r.stderr
    assert "'Lama' does not occur" in r.stderr and not (tmp_path / "run").exists()


def test_example_experiment_with_a_local_authors_spec(tmp_path, authors_home):
    """authors-spec.yaml names the real paths of the authors' cheese specs (spec/paper/...,
    read here from a stand-in checkout under ~) and treats their literal Llama as
    model_name; with the checkout missing, the run stops in one line naming the path."""
    from msm.experiment.load import load_experiment
    from msm.experiment.plan import build_plan

    example = ROOT / "examples/experiments/authors-spec.yaml"
    text = example.read_text()
    for name in ("pro_america_cheese.txt", "pro_affordability_cheese.txt"):
        assert f"~/model_spec_midtraining/spec/paper/{name}" in text
    exp = load_experiment(example)
    assert exp.literal_names == {"authors_america": "Llama", "authors_affordability": "Llama"}
    plan = {n.id: n for n in build_plan(exp)}
    assert plan["corpus/authors_america"].config.literal_name == "Llama"
    assert plan["corpus/authors_affordability"].config.literal_name == "Llama"


def test_example_experiments_without_the_authors_checkout_fail_in_one_line(
    tmp_path, msm_cli, monkeypatch
):
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/model_spec_midtraining here
    for name, missing in (
        ("authors-spec.yaml", "pro_america_cheese.txt"),
        ("paper-agentic.yaml", "philosophy_spec.txt"),
    ):
        r = msm_cli(
            "run",
            str(ROOT / "examples/experiments" / name),
            "--out",
            str(tmp_path / "r"),
            "--dry-run",
        )
        assert r.returncode == 2, r.stderr
        lines = [x for x in r.stderr.splitlines() if x.strip()]
        assert len(lines) == 1 and "spec file not found" in lines[0], r.stderr
        assert missing in lines[0] and not (tmp_path / "r").exists()


def test_generation_needs_a_model_name_from_flag_front_matter_or_literal_name(tmp_path):
    """No generic "the assistant": docgen and chat aftgen refuse a spec that names no model
    (nothing written); the spec's front matter or its literal name supply one."""
    from msm.aftgen import AftgenConfig, run_aftgen
    from msm.docgen import DocgenConfig, run_docgen

    body = (
        "# Care\nLlama is patient with every person it helps, because people learn at their "
        "own pace and deserve respect.\n\n# Truth\nLlama tells the truth even when it is "
        "unwelcome, because trust is what makes its help worth having.\n"
    )
    plain = tmp_path / "plain.md"
    plain.write_text(body.replace("Llama", "{model_name}"))
    for run, cfg in (
        (run_docgen, DocgenConfig(spec=str(plain), model="fake")),
        (run_aftgen, AftgenConfig(spec=str(plain), model="fake", n=2)),
    ):
        out = tmp_path / f"out-{run.__name__}"
        with pytest.raises(MsmError, match="no model name"):
            run(cfg, out)
        assert not out.exists()
    named = tmp_path / "named.md"
    named.write_text("---\nmodel_name: Ada\n---\n" + plain.read_text())
    assert load_spec(named, name_required=True).model_name == "Ada"
    assert load_spec(named, "Bo", name_required=True).model_name == "Bo"  # the flag wins
    literal = tmp_path / "literal.md"
    literal.write_text(body)
    assert load_spec(literal, literal_name="Llama", name_required=True).model_name == "Llama"
    bad = tmp_path / "bad.md"
    bad.write_text("---\nmodel_name: [a, b]\n---\n" + plain.read_text())
    with pytest.raises(MsmError, match="plain non-empty name"):
        load_spec(bad)
