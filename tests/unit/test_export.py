"""``msm export``: a run's corpora, AFT data and evalgen sets as dataset folders that
``datasets`` loads offline, its checkpoints as model folders that ``transformers`` and
``peft`` load, each with its card; bad targets refused with nothing written; uploads."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from msm.report.export import export_run, push_export
from msm.spec.builtin import resolve_spec_path


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, tiny_model_dir) -> Path:
    """A finished run of a spec of one's own: corpus, AFT data, evalgen, midtraining, AFT."""
    from tests.conftest import run_msm

    d = tmp_path_factory.mktemp("export-run")
    spec = d / "myspec.md"
    spec.write_text(Path(resolve_spec_path("builtin:cheese_pro_america")).read_text())
    exp = d / "exp.yaml"
    exp.write_text(
        f"name: mine\nbase_model: {tiny_model_dir}\ngenerator: fake\ngrader: fake\n"
        f"model_name: Smol\nspecs: {{ada: {spec}}}\n"
        "corpus: {n_assertions: 1, n_doc_types: 1, n_ideas: 1, docs_per_idea: 2, doc_words: 60}\n"
        "aft: {kind: preference, spec: ada, n: 8, sizes: [4, 8]}\n"
        "conditions: [msm_only, msm_aft]\nseeds: [0]\n"
        "train: {midtrain: {max_length: 128, lora_r: 8, lora_alpha: 16, precision: fp32}, "
        "aft: {max_length: 128, lora_r: 8, lora_alpha: 16, precision: fp32}}\n"
        "evalgen: {n_choices: 4}\neval: {suites: [values], limit: 2}\n"
    )
    r = run_msm("run", str(exp), "--out", str(d / "run"), timeout=600)
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
    return d / "run"


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(ln) for ln in path.read_text().splitlines() if ln.strip()]


def test_datasets_load_offline_with_their_provenance(run_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    import datasets

    out = tmp_path / "export"
    res = export_run(run_dir, out)
    names = {i.name for i in res.items}
    assert {"corpus-ada", "aftdata", "evalgen-ada", "midtrain-ada-s0"} <= names
    assert "aft-msm_aft-ada-n8-s0" in names
    corpus = datasets.load_dataset(str(out / "datasets/corpus-ada"), split="train")
    docs = _jsonl(run_dir / "nodes/corpus/ada/documents.jsonl")
    assert corpus.num_rows == len(docs) > 0
    assert corpus["text"] == [d["text"] for d in docs]
    for f in ("domain", "subdomain", "unit_id", "assertion", "doc_type", "idea"):
        assert f in corpus.column_names  # per-document hierarchy
    # each nested AFT subset is a config of its own, the one the size trained on
    n4 = datasets.load_dataset(str(out / "datasets/aftdata"), "stripped_n4", split="train")
    assert n4.num_rows == 4
    choices = datasets.load_dataset(str(out / "datasets/evalgen-ada"), "choices", split="train")
    assert choices.num_rows == 4 and set(choices["split"]) <= {"dev", "confirm"}
    card = (out / "datasets/corpus-ada/README.md").read_text()
    manifest = json.loads((run_dir / "nodes/corpus/ada/manifest.json").read_text())
    assert manifest["spec"]["sha256"] in card and "| generator | fake |" in card
    assert "dropped, by reason" in card
    prov = json.loads((out / "datasets/corpus-ada/msm_provenance.json").read_text())
    assert prov["prompts"] == manifest["prompts"] and prov["settings"]["n_ideas"] == 1


def test_models_load_with_transformers_and_peft(run_dir, tmp_path, tiny_model_dir):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    out = tmp_path / "export"
    export_run(run_dir, out)
    folder = out / "models/aft-msm_aft-ada-n8-s0"
    exported = AutoModelForCausalLM.from_pretrained(folder)
    original = AutoModelForCausalLM.from_pretrained(run_dir / "nodes/aft/msm_aft/ada/n8/s0/model")
    ids = torch.tensor([[1, 2, 3, 4]])
    with torch.no_grad():
        assert torch.equal(exported(ids).logits, original(ids).logits)
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    assert isinstance(PeftModel.from_pretrained(base, folder / "adapter"), PeftModel)
    card = (folder / "README.md").read_text()
    assert "training data sha256" in card and "values.ada" in card  # its own eval summary


def test_a_target_with_other_content_is_refused_and_nothing_written(run_dir, tmp_path, msm_cli):
    out = tmp_path / "taken"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    r = msm_cli("export", str(run_dir), "--out", str(out))
    assert r.returncode == 2 and r.stderr.count("\n") == 1, r.stderr
    assert "exists with other content" in r.stderr
    assert sorted(os.listdir(out)) == ["notes.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]  # no temp folder left
    # an earlier export is replaced whole; --dry-run writes nothing
    again = tmp_path / "again"
    assert msm_cli("export", str(run_dir), "--out", str(again)).returncode == 0
    (again / "datasets/corpus-ada/stale.txt").write_text("x")
    assert msm_cli("export", str(run_dir), "--out", str(again)).returncode == 0
    assert not (again / "datasets/corpus-ada/stale.txt").exists()
    dry = msm_cli("export", str(run_dir), "--out", str(tmp_path / "dry"), "--dry-run")
    assert dry.returncode == 0 and "would write" in dry.stdout
    assert not (tmp_path / "dry").exists()
    r = msm_cli("export", str(tmp_path / "no-run"), "--out", str(tmp_path / "x"))
    assert r.returncode == 2 and "run directory not found" in r.stderr


def test_push_needs_a_token_unless_dry_run(run_dir, tmp_path, msm_cli, monkeypatch):
    env = {"HF_TOKEN": "", "HF_HOME": str(tmp_path / "hf")}  # no token anywhere
    out = tmp_path / "export"
    r = msm_cli("export", str(run_dir), "--out", str(out), "--push", "org", env=env)
    assert r.returncode == 2 and "no Hugging Face token" in r.stderr and "--dry-run" in r.stderr
    assert not out.exists()
    r = msm_cli("export", str(run_dir), "--out", str(out), "--push", "org", "--dry-run", env=env)
    assert r.returncode == 0 and "would upload to org/mine-corpus-ada" in r.stdout
    assert not out.exists()
    # with a token: every folder to its own private repo, datasets as dataset repos
    calls: list[tuple] = []

    class Api:
        def __init__(self, token: str) -> None:
            calls.append(("token", token))

        def create_repo(self, repo, repo_type, exist_ok, private):
            calls.append(("create", repo, repo_type, private))

        def upload_folder(self, repo_id, repo_type, folder_path):
            calls.append(("upload", repo_id, repo_type, Path(folder_path).name))

    res = export_run(run_dir, out)
    lines: list[str] = []
    repos = push_export(res, "org", token="hf_secret", api_factory=Api, echo=lines.append)
    assert calls[0] == ("token", "hf_secret") and "org/mine-corpus-ada" in repos
    assert ("create", "org/mine-corpus-ada", "dataset", True) in calls
    assert ("upload", "org/mine-midtrain-ada-s0", "model", "midtrain-ada-s0") in calls
    assert not any("hf_secret" in ln for ln in lines)
