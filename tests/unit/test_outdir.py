"""Every stage's --out belongs to its inputs: same inputs resume, other inputs are refused
(one line naming the folder and what differs) unless --overwrite, and a folder of other
files is never touched."""

import hashlib
import json
import sqlite3
from pathlib import Path

import pytest

from msm.aftgen import AftgenConfig, run_aftgen
from msm.artifacts.outdir import OWNER, claim_output, differences, docgen_inputs
from msm.docgen import DocgenConfig, run_docgen
from msm.errors import MsmError
from msm.evals.config import EvalConfig
from msm.evals.run import run_eval
from msm.train.config import TrainConfig
from msm.train.engine import run_train

CHEESE = "builtin:cheese_pro_america"
SPEC = (
    "# Honesty\n{model_name} tells the truth because trust is the basis of every "
    "conversation it has with people.\n# Care\n{model_name} is careful with advice "
    "because people act on what it says and mistakes can hurt them.\n"
)


def snapshot(root: Path) -> dict[str, object]:
    """Every file under ``root`` with its bytes; the call store by its rows (an earlier run in
    this process may still hold it open, and SQLite folds its journal in on closing)."""
    snap: dict[str, object] = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        if rel == ".msm/llm.sqlite":
            with sqlite3.connect(p) as con:
                snap[rel] = con.execute("SELECT key, value FROM results ORDER BY key").fetchall()
        elif p.is_file() and not rel.startswith(".msm/llm.sqlite-"):
            snap[rel] = p.read_bytes()
    return snap


def unrelated(folder: Path) -> dict[str, bytes]:
    """A folder of the user's own files (no msm output)."""
    (folder / "notes").mkdir(parents=True)
    (folder / "thesis.tex").write_text("\\section{Cheese}\n")
    (folder / "notes" / "todo.md").write_text("- buy cheddar\n")
    (folder / "manifest.json").write_text('{"name": "not msm"}\n')  # a manifest, not ours
    return snapshot(folder)


def spec_file(tmp_path: Path, name: str, text: str = SPEC) -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def docgen_args(spec: Path, out: Path, *extra: str) -> list[str]:
    small = ["--n-assertions", "1", "--n-doc-types", "1", "--context-tokens", "5"]
    return [
        "docgen", str(spec), "-m", "fake", "--model-name", "Ada", "--provider-name", "Lab",
        *small, "--tokenizer", "approx", "-q", "--out", str(out), *extra,
    ]  # fmt: skip


@pytest.fixture
def cli(capsys):
    """The msm command line in this process (its one-line errors and exit codes included)."""
    from msm.cli import main

    def run(*args: str) -> tuple[int, str]:
        with pytest.raises(SystemExit) as e:
            main(list(args))
        return int(e.value.code or 0), capsys.readouterr().err

    return run


def _proc(r) -> tuple[int, str]:
    return r.returncode, r.stderr


def one_line(code: int, err: str) -> str:
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1, err
    return lines[0]


# -- docgen (the CLI, as a user runs it) -------------------------------------------------


def test_docgen_resumes_refuses_other_inputs_and_overwrite_replaces(tmp_path, cli):
    a, b = spec_file(tmp_path, "a.md"), spec_file(tmp_path, "b.md", SPEC.replace("Care", "Tact"))
    out = tmp_path / "corpus"
    assert cli(*docgen_args(a, out, "--n-ideas", "1"))[0] == 0
    first = snapshot(out)
    code, err = cli(*docgen_args(a, out, "--n-ideas", "1"))  # the same inputs: resumed
    assert code == 0, err
    assert (out / "documents.jsonl").read_bytes() == first["documents.jsonl"]

    before = snapshot(out)
    line = one_line(*cli(*docgen_args(b, out, "--n-ideas", "2")))
    assert line == (
        f"msm: error: {out} holds docgen output of other inputs (spec: {a} -> {b}, "
        "n_ideas: 1 -> 2); use another --out or pass --overwrite"
    )
    assert snapshot(out) == before  # nothing was written, not even to the call store

    code, err = cli(*docgen_args(b, out, "--n-ideas", "2", "--overwrite"))
    assert code == 0, err
    owner = json.loads((out / OWNER).read_text())
    assert owner["stage"] == "docgen" and owner["inputs"]["n_ideas"] == 2
    assert owner["inputs"]["spec"]["path"] == str(b.resolve())
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["config"]["spec"] == str(b) and manifest["config"]["n_ideas"] == 2
    assert manifest["spec"]["source_sha256"] == hashlib.sha256(b.read_bytes()).hexdigest()
    rows = [json.loads(x) for x in (out / "documents.jsonl").read_text().splitlines()]
    assert rows and {r["spec_hash"] for r in rows} == {manifest["spec"]["sha256"]}
    assert (out / ".msm" / "llm.sqlite").is_file()  # the call store survives --overwrite


def test_overwrite_with_bad_settings_changes_nothing(tmp_path, cli):
    a = spec_file(tmp_path, "a.md")
    out = tmp_path / "corpus"
    assert cli(*docgen_args(a, out, "--n-ideas", "1"))[0] == 0
    before = snapshot(out)
    # a model that does not exist fails the new settings' checks: the old output stays
    line = one_line(*cli(*docgen_args(a, out, "--n-ideas", "2", "--overwrite", "-m", "nosuch/x")))
    assert "nosuch" in line
    assert snapshot(out) == before


def test_unrelated_folder_is_refused_even_with_overwrite(tmp_path, cli, msm_cli):
    a = spec_file(tmp_path, "a.md")
    home = tmp_path / "home"
    before = unrelated(home)
    # with --overwrite, the real command line in its own process
    for code, err in (
        cli(*docgen_args(a, home)),
        _proc(msm_cli(*docgen_args(a, home, "--overwrite"))),
    ):
        line = one_line(code, err)
        assert line == (
            f"msm: error: {home} is not empty and holds no msm output; nothing was changed "
            "(use another --out; --overwrite replaces only msm's own output)"
        )
        assert snapshot(home) == before


def test_docgen_into_an_eval_folder_names_the_stage(tmp_path):
    out = tmp_path / "ev"
    run_eval(_eval_cfg(), out, echo=lambda s: None)
    before = snapshot(out)
    cfg = DocgenConfig(spec=str(spec_file(tmp_path, "a.md")), model="fake", model_name="Ada")
    with pytest.raises(MsmError, match=r"holds eval output, not docgen output; use another"):
        run_docgen(cfg, out, quiet=True, tokenizer="approx")
    assert snapshot(out) == before


# -- aftgen --------------------------------------------------------------------------------


def test_aftgen_preference_resumes_refuses_and_overwrites(tmp_path):
    out = tmp_path / "aft"
    cfg = AftgenConfig(spec=CHEESE, kind="preference", n=20)
    run_aftgen(cfg, out)
    first = snapshot(out)
    run_aftgen(cfg, out)
    assert (out / "stripped.jsonl").read_bytes() == first["stripped.jsonl"]

    other = AftgenConfig(spec="builtin:cheese_pro_affordability", kind="preference", n=30)
    with pytest.raises(MsmError) as e:
        run_aftgen(other, out)
    msg = str(e.value)
    assert msg.startswith(f"{out} holds aftgen output of other inputs (")
    assert "spec: builtin:cheese_pro_america -> builtin:cheese_pro_affordability" in msg
    assert "n: 20 -> 30" in msg and "\n" not in msg
    assert snapshot(out) == first

    stats = run_aftgen(other, out, overwrite=True).stats
    assert stats["examples"] == 30
    assert json.loads((out / "manifest.json").read_text())["config"]["n"] == 30
    assert len((out / "stripped.jsonl").read_text().splitlines()) == 30


def test_aftgen_refuses_an_unrelated_folder(tmp_path):
    before = unrelated(tmp_path / "mine")
    with pytest.raises(MsmError, match="is not empty and holds no msm output"):
        run_aftgen(
            AftgenConfig(spec=CHEESE, kind="preference", n=4), tmp_path / "mine", overwrite=True
        )
    assert snapshot(tmp_path / "mine") == before


# -- eval ----------------------------------------------------------------------------------


def _eval_cfg(**kw) -> EvalConfig:
    return EvalConfig(**{"model": "fake", "items": ["america"], "limit": 2, **kw})


def test_eval_resumes_refuses_other_settings_and_overwrites(tmp_path, cli):
    out = tmp_path / "ev"
    base = ["eval", "fake", "--items", "america", "--limit", "2", "--out", str(out)]
    assert cli(*base)[0] == 0
    assert cli(*base)[0] == 0  # the same inputs: evaluated again
    first = snapshot(out)
    line = one_line(*cli(*base, "--limit", "3"))
    assert line == (
        f"msm: error: {out} holds eval output of other inputs (limit: 2 -> 3); "
        "use another --out or pass --overwrite"
    )
    assert snapshot(out) == first
    code, err = cli(*base, "--limit", "3", "--overwrite")
    assert code == 0, err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["limit"] == 3
    assert len(list((out / "logs").iterdir())) == 1  # the other run's logs went with it


def test_eval_folder_from_before_claims_uses_its_manifest(tmp_path):
    out = tmp_path / "ev"
    run_eval(_eval_cfg(), out, echo=lambda s: None)
    (out / OWNER).unlink()  # as written by an msm without claims
    first = snapshot(out)
    with pytest.raises(MsmError, match=r"\(items: \[\"america\"\] -> \[\"affordability\"\]\)"):
        run_eval(_eval_cfg(items=["affordability"]), out, echo=lambda s: None)
    assert snapshot(out) == first
    run_eval(_eval_cfg(), out, echo=lambda s: None)  # its own inputs: accepted
    assert json.loads((out / OWNER).read_text())["inputs"]["items"] == ["america"]


def test_eval_refuses_an_unrelated_folder(tmp_path):
    before = unrelated(tmp_path / "mine")
    with pytest.raises(MsmError, match="is not empty and holds no msm output"):
        run_eval(_eval_cfg(), tmp_path / "mine", echo=lambda s: None, overwrite=True)
    assert snapshot(tmp_path / "mine") == before


# -- train ---------------------------------------------------------------------------------


def _train_cfg(tmp_path: Path, model: Path, **kw) -> TrainConfig:
    docs = tmp_path / "docs.jsonl"
    if not docs.exists():
        docs.write_text(
            "".join(json.dumps({"text": f"Ada likes cheese {i}."}) + "\n" for i in range(4))
        )
    d = {"stage": "midtrain", "base": str(model), "data": str(docs), "max_length": 32,
         "micro_batch_size": 2, "max_steps": 1, "precision": "fp32", "merge": False}  # fmt: skip
    return TrainConfig.model_validate({**d, **kw})


def test_train_resumes_refuses_and_overwrites(tmp_path, tiny_model_dir):
    out = tmp_path / "mid"
    quiet = lambda s: None  # noqa: E731
    first = run_train(_train_cfg(tmp_path, tiny_model_dir), out, quiet).manifest
    before = snapshot(out)
    again = run_train(_train_cfg(tmp_path, tiny_model_dir), out, quiet).manifest
    # complete: returned as it is, not trained again (every file byte for byte as it was)
    assert again == first and snapshot(out) == before
    other = _train_cfg(tmp_path, tiny_model_dir, learning_rate=0.01, seed=3)
    with pytest.raises(MsmError) as e:
        run_train(other, out, quiet)
    assert str(e.value) == (
        f"{out} holds train-midtrain output of other inputs (learning_rate: 0.0001 -> 0.01, "
        "seed: 0 -> 3); use another --out or pass --overwrite"
    )
    assert snapshot(out) == before
    man = run_train(other, out, quiet, overwrite=True).manifest
    assert man["config"]["seed"] == 3 and snapshot(out) != before
    assert json.loads((out / "manifest.json").read_text())["weights_hash"] == other.weights_hash()


def test_train_refuses_an_unrelated_folder(tmp_path, tiny_model_dir):
    before = unrelated(tmp_path / "mine")
    for overwrite in (False, True):
        with pytest.raises(MsmError, match="is not empty and holds no msm output"):
            run_train(_train_cfg(tmp_path, tiny_model_dir), tmp_path / "mine", overwrite=overwrite)
    assert snapshot(tmp_path / "mine") == before


# -- the rules themselves ------------------------------------------------------------------


def test_an_edited_or_moved_spec_is_the_same_spec(tmp_path):
    a = spec_file(tmp_path, "a.md")
    cfg = DocgenConfig(spec=str(a), model="fake", model_name="Ada")
    old = docgen_inputs(cfg)
    a.write_text(SPEC.replace("Care", "Caution"))  # edited in place: the same file
    assert differences(old, docgen_inputs(cfg)) == []
    moved = spec_file(tmp_path, "moved.md", a.read_text())  # the same text elsewhere
    edited = docgen_inputs(cfg)
    assert differences(edited, docgen_inputs(cfg.model_copy(update={"spec": str(moved)}))) == []
    other = spec_file(tmp_path, "other.md", "# Other\n" + SPEC)
    diffs = differences(edited, docgen_inputs(cfg.model_copy(update={"spec": str(other)})))
    assert len(diffs) == 1 and diffs[0].startswith("spec: ") and diffs[0].endswith("other.md")


def test_cosmetic_settings_are_not_inputs_and_a_bare_claim_is_empty(tmp_path):
    cfg = DocgenConfig(spec=CHEESE, model="fake", model_name="Ada")
    fast = cfg.model_copy(update={"concurrency": 64, "timeout_s": 5.0, "max_retries": 0})
    assert differences(docgen_inputs(cfg), docgen_inputs(fast)) == []
    out = tmp_path / "o"
    claim_output(out, "docgen", docgen_inputs(cfg)).take()
    # a claim with nothing beside it (a first run that failed) holds no output
    other = docgen_inputs(cfg.model_copy(update={"n_ideas": 9}))
    assert claim_output(out, "docgen", other).action == "new"


def test_a_checkpoint_retrained_in_place_is_another_model(tmp_path):
    from msm.artifacts.outdir import eval_inputs
    from msm.llm.names import weights_folder

    ckpt = tmp_path / "ckpt"
    (ckpt / "model").mkdir(parents=True)
    (ckpt / "manifest.json").write_text('{"stage": "train-aft", "weights_hash": "abc"}')
    old = eval_inputs(EvalConfig(model=str(ckpt)), weights_folder(str(ckpt)))
    (ckpt / "manifest.json").write_text('{"stage": "train-aft", "weights_hash": "def"}')
    new = eval_inputs(EvalConfig(model=str(ckpt)), weights_folder(str(ckpt)))
    assert differences(old, new) == ["model_weights: abc -> def"]
