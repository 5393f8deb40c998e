"""A corpus dose study (``corpus: {sizes: [...]}``): nested subsets balanced across the
spec's hierarchy, one midtraining per size, the dose curve in the report; bad sizes met
with one line."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from msm.docgen.subset import check_sizes, hierarchy_order, make_corpus_subsets
from msm.errors import MsmError
from msm.experiment.load import load_experiment
from msm.experiment.plan import build_plan


def _rows(groups: dict[str, int]) -> list[dict]:
    return [
        {"id": f"{g}-{i}", "domain": g, "subdomain": "s", "text": f"doc {g} {i}"}
        for g, n in groups.items()
        for i in range(n)
    ]


def test_subsets_are_nested_and_take_the_hierarchy_in_turn(tmp_path):
    rows = _rows({"a": 6, "b": 3, "c": 1})
    order = hierarchy_order(rows, seed=0)
    assert sorted(order) == list(range(len(rows)))
    # every section before a second document of any: the first 3 cover a, b and c
    assert {rows[i]["domain"] for i in order[:3]} == {"a", "b", "c"}
    assert {rows[i]["domain"] for i in order[3:5]} == {"a", "b"}
    assert hierarchy_order(rows, seed=0) == order and hierarchy_order(rows, seed=1) != order
    (tmp_path / "documents.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    stats = make_corpus_subsets(tmp_path, [2, 5, 9], seed=0)
    ids = {n: [json.loads(x)["id"] for x in (tmp_path / f"subsets/d{n}/documents.jsonl")
               .read_text().splitlines()] for n in (2, 5, 9)}  # fmt: skip
    assert set(ids[2]) < set(ids[5]) < set(ids[9])
    assert [len(v) for v in ids.values()] == [2, 5, 9]
    assert stats[5]["sections"] == 3 and stats[2]["of"] == 10


@pytest.mark.parametrize(
    ("sizes", "total", "msg"),
    [
        ([20, 10], None, "must increase"),
        ([0, 10], None, "positive"),
        ([5, 10], 10, "not smaller than the corpus (10 documents)"),
    ],
)
def test_bad_sizes_are_one_line_errors(sizes, total, msg):
    with pytest.raises(MsmError, match=re.escape(msg)):
        check_sizes(sizes, total)


def _yaml(tmp_path: Path, base: Path, **over: str) -> Path:
    cfg = {
        "name": "dose",
        "base_model": str(base),
        "generator": "fake",
        "model_name": "Smol",
        "specs": "{pa: builtin:cheese_pro_america}",
        "corpus": "{n_assertions: 1, n_doc_types: 1, n_ideas: 1, docs_per_idea: 2, "
        "doc_words: 60, sizes: [7]}",
        "conditions": "[base, msm_only]",
        "seeds": "[0]",
        "train": "{midtrain: {max_length: 128, lora_r: 8, lora_alpha: 16, precision: fp32}}",
        "eval": "{suites: [values], items: [cheese_america], limit: 4}",
        **over,
    }
    p = tmp_path / "exp.yaml"
    p.write_text("".join(f"{k}: {v}\n" for k, v in cfg.items()))
    return p


def test_adding_a_dose_study_only_adds_nodes(tmp_path, tiny_model_dir):
    plain = {n.id: n.hash for n in build_plan(load_experiment(_yaml(
        tmp_path, tiny_model_dir,
        corpus="{n_assertions: 1, n_doc_types: 1, n_ideas: 1, docs_per_idea: 2, doc_words: 60}",
    )))}  # fmt: skip
    dose = {n.id: n for n in build_plan(load_experiment(_yaml(tmp_path, tiny_model_dir)))}
    assert all(dose[k].hash == h for k, h in plain.items())  # nothing done is redone
    assert set(dose) - set(plain) == {"midtrain/pa/d7/s0", "eval/msm_only/pa/d7/s0"}
    assert dose["eval/msm_only/pa/d7/s0"].deps == ["midtrain/pa/d7/s0"]


def test_sizes_that_need_no_msm_or_are_not_increasing_stop_the_run(tmp_path, msm_cli):
    for over, msg in (
        ({"conditions": "[base]"}, "corpus.sizes needs an MSM condition"),
        ({"corpus": "{sizes: [9, 3]}"}, "corpus.sizes must increase"),
    ):
        exp = _yaml(tmp_path, tmp_path, **over)
        r = msm_cli("run", str(exp), "--out", str(tmp_path / "r"), "--dry-run")
        assert r.returncode != 0 and msg in r.stderr, r.stderr
        assert not (tmp_path / "r").exists()


def test_a_dose_curve_end_to_end(tmp_path, tiny_model_dir, msm_cli):
    exp = _yaml(tmp_path, tiny_model_dir)
    run = tmp_path / "run"
    r = msm_cli("run", str(exp), "--out", str(run), timeout=600)
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
    corpus = run / "nodes/corpus/pa"
    subset = corpus / "subsets/d7/documents.jsonl"
    assert len(subset.read_text().splitlines()) == 7
    man = json.loads((run / "nodes/midtrain/pa/d7/s0/manifest.json").read_text())
    assert man["data"]["path"] == str(subset) and man["data_stats"]["examples"] == 7
    full = json.loads((run / "nodes/midtrain/pa/s0/manifest.json").read_text())
    rep = json.loads((run / "report/report.json").read_text())
    (curve,) = rep["dose"]
    assert curve["condition"] == "msm_only" and curve["against"] == "base"
    pts = curve["points"]
    assert [p["docs"] for p in pts] == [7, None]
    assert pts[0]["tokens"] == man["data_stats"]["label_tokens"]
    assert pts[1]["tokens"] == full["data_stats"]["label_tokens"] > pts[0]["tokens"]
    assert all(p["effect"] is not None and p["effect_ci95"] is not None for p in pts)
    md = (run / "report/report.md").read_text()
    assert "## Corpus dose" in md and "msm_only[pa] @ 7 docs" not in md.split("## Corpus")[0]
    # a size the corpus cannot give: one line from the corpus node, no midtraining on it
    big = "{n_assertions: 1, n_doc_types: 1, n_ideas: 1, docs_per_idea: 2, sizes: [500]}"
    exp2 = _yaml(tmp_path, tiny_model_dir, name="dose2", corpus=big)
    r = msm_cli("run", str(exp2), "--out", str(tmp_path / "run2"), timeout=600)
    assert r.returncode != 0 and "not smaller than the corpus (28 documents)" in r.stderr
    assert not (tmp_path / "run2/nodes/midtrain").exists()
