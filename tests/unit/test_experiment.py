"""``msm run`` / ``msm report``: config validation, plan sharing, dry run, a tiny
experiment end to end, skipping, resume after a kill, bad input."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from msm.errors import MsmError
from msm.experiment.load import load_experiment
from msm.experiment.plan import build_plan

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "experiments"


TWO_SPECS = "{pro_america: builtin:cheese_pro_america, b: builtin:cheese_pro_affordability}"


def tiny_yaml(base: Path, **over: str) -> str:
    cfg = {
        "name": "tiny",
        "base_model": str(base),
        "generator": "fake",
        "model_name": "Smol",
        "specs": "{pro_america: builtin:cheese_pro_america}",
        "corpus": "{n_assertions: 1, n_doc_types: 1, n_ideas: 1, docs_per_idea: 2, doc_words: 60}",
        "aft": "{kind: preference, spec: pro_america, n: 24, sizes: [8, 24]}",
        "conditions": "[base, aft_only, msm_aft]",
        "seeds": "[0]",
        # precision pinned: auto trains bf16 on AMX CPUs, where these tolerances were never checked
        "train": "{midtrain: {max_length: 128, lora_r: 8, lora_alpha: 16, epochs: 3, "
        "save_every: 1, precision: fp32}, aft: {max_length: 128, lora_r: 8, lora_alpha: 16, "
        "precision: fp32}}",
        "eval": "{suites: [values], items: [cheese_america], limit: 12}",
        **over,
    }
    return "".join(f"{k}: {v}\n" for k, v in cfg.items())


def _write(tmp_path: Path, text: str, name: str = "exp.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_plan_shares_artifacts_and_hashes_follow_inputs(tmp_path, tiny_model_dir):
    text = tiny_yaml(
        tiny_model_dir,
        specs="{a: builtin:cheese_pro_america, b: builtin:cheese_pro_affordability}",
        conditions="[base, msm_only, aft_only, msm_aft]",
        seeds="[0, 1]",
        aft="{kind: preference, spec: a, n: 24, sizes: [8, 24]}",
    )
    plan = build_plan(load_experiment(_write(tmp_path, text)))
    ids = [n.id for n in plan]
    kinds = [n.kind for n in plan]
    # one corpus per spec, one AFT set, one midtraining per (spec, seed)
    assert kinds.count("corpus") == 2 and kinds.count("aftdata") == 1
    assert kinds.count("midtrain") == 4
    # AFT: aft_only 2 sizes + msm_aft 2 specs x 2 sizes, per seed
    assert kinds.count("aft") == 2 * (2 + 4)
    assert kinds.count("eval") == 2 * (1 + 2 + 2 + 4)
    pos = {n.id: i for i, n in enumerate(plan)}
    assert all(pos[d] < pos[n.id] for n in plan for d in n.deps)  # dependencies first
    assert "aft/msm_aft/a/n8/s1" in ids and "eval/msm_only/b/s0" in ids
    by = {n.id: n for n in plan}
    assert by["aft/msm_aft/a/n8/s0"].deps == ["aftdata", "midtrain/a/s0"]
    # changing the midtraining settings changes midtrain, msm AFT and their evals only
    text2 = text.replace("epochs: 3", "epochs: 2")
    plan2 = {n.id: n.hash for n in build_plan(load_experiment(_write(tmp_path, text2, "b.yaml")))}
    changed = {i for i in ids if by[i].hash != plan2[i]}
    assert changed == {
        i for i in ids if i.startswith(("midtrain/", "aft/msm_aft", "eval/msm_", "eval/msm"))
    }
    assert "corpus/a" not in changed and "aft/aft_only/n8/s0" not in changed


def test_nodes_carry_their_stage_config_and_speed_settings_do_not_rerun(tmp_path, tiny_model_dir):
    from msm.aftgen.config import AftgenConfig
    from msm.docgen.config import DocgenConfig
    from msm.evals.config import EvalConfig
    from msm.train.config import TrainConfig

    text = tiny_yaml(tiny_model_dir)
    plan = build_plan(load_experiment(_write(tmp_path, text)))
    by = {n.id: n for n in plan}
    types = {"corpus": DocgenConfig, "aftdata": AftgenConfig, "midtrain": TrainConfig}
    types |= {"aft": TrainConfig, "eval": EvalConfig}
    assert all(isinstance(n.config, types[n.kind]) for n in plan)
    # the experiment's settings reached the typed config, defaults filled in
    mid = by["midtrain/pro_america/s0"].config
    assert (mid.lora_r, mid.epochs, mid.scheduler) == (8, 3.0, "cosine")
    # inputs are bound from the dependencies' folders by the stages' own helpers
    run = tmp_path / "run"
    aft = by["aft/msm_aft/pro_america/n8/s0"].bound(run, by)
    assert aft.data == str(run / "nodes/aftdata/subsets/n8/stripped.jsonl")
    assert aft.base == str(run / "nodes/midtrain/pro_america/s0")
    assert by["midtrain/pro_america/s0"].bound(run, by).data == str(
        run / "nodes/corpus/pro_america/documents.jsonl"
    )
    ev = by["eval/msm_aft/pro_america/n8/s0"].bound(run, by)
    assert ev.model == str((run / "nodes/aft/msm_aft/pro_america/n8/s0").resolve())
    assert (
        ev.baseline == str(tiny_model_dir.resolve()) and by["eval/base/s0"].config.baseline is None
    )
    # how fast a training runs or how often it logs does not make it a new node...
    fast = text.replace("save_every: 1,", "save_every: 1, threads: 2, log_every: 5,")
    assert fast != text
    again = {n.id: n.hash for n in build_plan(load_experiment(_write(tmp_path, fast, "f.yaml")))}
    assert again == {n.id: n.hash for n in plan}
    # ...but a setting left at its default and then written out explicitly is the same node,
    # and a changed default-valued setting is a new one
    same = text.replace("epochs: 3,", "epochs: 3, scheduler: cosine,")
    assert {
        n.id: n.hash for n in build_plan(load_experiment(_write(tmp_path, same, "s.yaml")))
    } == again
    other = text.replace("epochs: 3,", "epochs: 3, scheduler: linear,")
    moved = {n.id: n.hash for n in build_plan(load_experiment(_write(tmp_path, other, "o.yaml")))}
    assert moved["midtrain/pro_america/s0"] != again["midtrain/pro_america/s0"]
    assert moved["corpus/pro_america"] == again["corpus/pro_america"]


PER_SEED_CORPUS = "{n_assertions: 1, n_doc_types: 1, n_ideas: 1, docs_per_idea: 2, doc_words: 60"


def test_per_seed_draws_a_corpus_and_aft_data_per_seed_and_off_changes_nothing(
    tmp_path, tiny_model_dir
):
    from msm.experiment.stages import SEED_STRIDE

    def plan(name: str, corpus: str = "", aft: str = "") -> dict:
        text = tiny_yaml(
            tiny_model_dir,
            seeds="[0, 3]",
            corpus=PER_SEED_CORPUS + corpus + "}",
            aft="{kind: preference, spec: pro_america, n: 24, sizes: [8, 24]" + aft + "}",
        )
        exp = load_experiment(_write(tmp_path, text, name))
        return {n.id: n for n in build_plan(exp)}, exp

    shared, exp = plan("a.yaml")
    # per_seed written out as false is today's plan: the same nodes, hashes and folders
    off, exp_off = plan("b.yaml", ", per_seed: false", ", per_seed: false")
    assert {i: (n.hash, n.deps, n.path) for i, n in off.items()} == {
        i: (n.hash, n.deps, n.path) for i, n in shared.items()
    }
    assert "corpus/pro_america" in shared and "aftdata" in shared
    assert exp.aft is not None and not exp.aft_per_seed and not exp.corpus_per_seed
    assert "per_seed" not in json.dumps(shared["aftdata"].hashed())
    on, exp_on = plan("c.yaml", ", per_seed: true", ", per_seed: true")
    assert exp_on.corpus_per_seed and exp_on.aft_per_seed
    kinds = [n.kind for n in on.values()]
    assert kinds.count("corpus") == 2 and kinds.count("aftdata") == 2
    c0, c3 = on["corpus/pro_america/s0"], on["corpus/pro_america/s3"]
    assert c0.path == "nodes/corpus/pro_america/s0" and on["aftdata/s3"].path == "nodes/aftdata/s3"
    # each draw has its own generation seed, far apart (sample indices are added to it)
    assert (c0.config.seed, c3.config.seed) == (0, 3 * SEED_STRIDE)
    assert (on["aftdata/s0"].config.seed, on["aftdata/s3"].config.seed) == (0, 3 * SEED_STRIDE)
    assert on["aftdata/s3"].extra["subset_seed"] == 3 * SEED_STRIDE
    assert on["aftdata/s3"].extra["sizes"] == [8, 24]  # nested subsets within each seed
    assert len({c0.hash, c3.hash, shared["corpus/pro_america"].hash}) == 3
    # each seed trains on its own draws
    assert on["midtrain/pro_america/s3"].deps == ["corpus/pro_america/s3"]
    assert on["aft/msm_aft/pro_america/n8/s3"].deps == ["aftdata/s3", "midtrain/pro_america/s3"]
    assert on["aft/aft_only/n24/s0"].deps == ["aftdata/s0"]
    run = tmp_path / "run"
    by = dict(on)
    assert by["aft/aft_only/n8/s3"].bound(run, by).data == str(
        run / "nodes/aftdata/s3/subsets/n8/stripped.jsonl"
    )
    # seed 0's draw has the shared settings but is another draw: its training is not reused
    assert on["midtrain/pro_america/s0"].hash != shared["midtrain/pro_america/s0"].hash
    # only the corpus per seed: the AFT data stays shared
    mixed, _ = plan("d.yaml", ", per_seed: true")
    assert "aftdata" in mixed and "corpus/pro_america/s3" in mixed
    assert mixed["aft/msm_aft/pro_america/n8/s3"].deps == ["aftdata", "midtrain/pro_america/s3"]


@pytest.mark.parametrize(
    ("edited", "expected"),
    [
        # a corpus prompt: the corpora and everything trained or evaluated on them
        ("prompts/docgen/document_short.txt", ("corpus/", "midtrain/", "aft/msm_", "eval/msm_")),
        # an AFT-data prompt: the AFT data and every AFT run and its evaluation
        ("prompts/aftgen/judge.txt", ("aftdata", "aft/", "eval/aft_", "eval/msm_aft")),
        # an eval item set: every evaluation and nothing else
        ("evals/values/america.jsonl", ("eval/",)),
        # the fake model's scripts (the generator here): what it generated, and downstream
        ("fake/docgen.yaml", ("corpus/", "midtrain/", "aft/msm_", "eval/msm_")),
    ],
)
def test_editing_package_data_reruns_exactly_the_nodes_that_use_it(
    tmp_path, tiny_model_dir, monkeypatch, edited, expected
):
    import shutil

    from msm.artifacts import package_data
    from msm.experiment import plan as plan_mod

    text = tiny_yaml(
        tiny_model_dir,
        specs="{a: builtin:cheese_pro_america, b: builtin:cheese_pro_affordability}",
        conditions="[base, msm_only, aft_only, msm_aft]",
        aft="{kind: preference, spec: a, n: 24, sizes: [8, 24]}",
    )
    exp = load_experiment(_write(tmp_path, text))
    data = tmp_path / "data"
    shutil.copytree(Path(plan_mod.__file__).parents[1] / "data", data)
    monkeypatch.setattr(package_data, "_data_root", lambda: data)
    before = {n.id: n.hash for n in build_plan(exp)}
    assert before == {n.id: n.hash for n in build_plan(exp)}  # stable
    target = data / edited
    assert target.is_file(), edited
    target.write_text(target.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    after = {n.id: n.hash for n in build_plan(exp)}
    changed = {i for i in before if before[i] != after[i]}
    assert changed and changed == {i for i in before if i.startswith(expected)}, sorted(changed)


@pytest.mark.parametrize(
    "over, msg",
    [
        ({"conditions": "[base, magic]"}, "unknown condition 'magic'"),
        ({"eval": "{suites: [vibes]}"}, "unknown eval suite 'vibes'"),
        ({"eval": "{suites: [agentic]}"}, "need `grader: MODEL`"),
        ({"aft": "{kind: preference, spec: pro_america, n: 24, sizes: [8, 48]}"}, "aft.sizes"),
        ({"aft": "{kind: preference, spec: pro_america, n: 24, sizes: [24, 8]}"}, "increase"),
        ({"conditions": "[aft_cot]"}, "aft.kind chat"),
        ({"specs": "{a: /no/such/spec.md}"}, "spec file not found"),
        ({"specs": "{a: builtin:nope}"}, "unknown builtin spec"),
        ({"seeds": "[0, 0]"}, "distinct"),
        ({"corpus": "{n_ideas: 1, per_seed: maybe}"}, "corpus.per_seed: true or false"),
        ({"conditions": "[base, aft_stripped]"}, "'aft_stripped' is now 'aft_only'"),
        (
            {"grader": "fake", "eval": "{suites: [agentic], grid: paper, scenarios: [murder]}"},
            "sets the scenarios and goals itself",
        ),
        ({"grader": "fake", "eval": "{suites: [agentic], grid: huge}"}, "grid"),
        ({"name": "'../evil'"}, "name"),
        ({"bogus": "1"}, "bogus"),
        ({"aft": "{kind: preference, spec: other, n: 4}"}, "neither a key of specs"),
        ({"report": "{primary: {kind: magic, specs: [pro_america, b]}}"}, "unknown kind 'magic'"),
        (
            {"specs": TWO_SPECS, "report": "{primary: interaction pro_america nope}"},
            "report.primary: spec 'nope' is not a key of specs",
        ),
        (
            {"specs": TWO_SPECS, "report": "{primary: aft_generalization pro_america b}"},
            "aft_generalization needs msm_only",
        ),
        (
            {"specs": TWO_SPECS, "report": "{primary: interaction pro_america b n=7}"},
            "aft_size 7 is not in aft.sizes",
        ),
        (
            {
                "specs": "{pro_america: builtin:cheese_pro_america, b: /dev/null}",
                "report": "{primary: interaction pro_america b}",
            },
            "spec 'b' has no value item set",
        ),
    ],  # fmt: skip
)
def test_bad_experiment_files_give_one_line_errors(tmp_path, over, msg, msm_cli):
    p = _write(tmp_path, tiny_yaml(tmp_path, **over))
    with pytest.raises(MsmError, match=msg.replace("[", r"\[").replace("(", r"\(")):
        load_experiment(p)
    r = msm_cli("run", str(p), "--out", str(tmp_path / "run"))
    assert r.returncode == 2 and r.stderr.startswith("msm: error:") and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and not (tmp_path / "run").exists()


def test_the_declared_primary_is_recorded_in_full(tmp_path):
    """``report.primary`` as one line or a mapping: its defaults (msm_aft, the largest AFT
    size) are filled in at load, so the run records exactly which contrast was declared."""
    conditions = "[base, msm_only, aft_only, msm_aft]"
    line = tiny_yaml(tmp_path, specs=TWO_SPECS, conditions=conditions,
                     report="{primary: aft_generalization b pro_america control}")  # fmt: skip
    exp = load_experiment(_write(tmp_path, line))
    want = {"kind": "aft_generalization", "specs": ["b", "pro_america"], "items": "control",
            "aft_size": 24, "condition": "msm_aft"}  # fmt: skip
    assert exp.report.primary == want
    mapping = tiny_yaml(tmp_path, specs=TWO_SPECS, conditions=conditions,
                        report="{primary: {kind: direction, specs: [b, pro_america], "
                        "condition: msm_only}}")  # fmt: skip
    exp = load_experiment(_write(tmp_path, mapping, "m.yaml"))
    want = {"kind": "direction", "specs": ["b", "pro_america"], "items": "full",
            "aft_size": None, "condition": "msm_only"}  # fmt: skip
    assert exp.report.primary == want
    assert load_experiment(_write(tmp_path, tiny_yaml(tmp_path), "n.yaml")).report.primary is None


def test_unreadable_experiment_inputs(tmp_path, msm_cli):
    cases = {
        "missing": tmp_path / "none.yaml",
        "directory": tmp_path,
        "binary": _write(tmp_path, "", "bin.yaml"),
        "not yaml": _write(tmp_path, "name: [unclosed\n", "bad.yaml"),
        "list": _write(tmp_path, "- a\n- b\n", "list.yaml"),
    }
    cases["binary"].write_bytes(b"\xff\xfe\x00name")
    for what, p in cases.items():
        r = msm_cli("run", str(p), "--out", str(tmp_path / "run"))
        assert r.returncode == 2, what
        assert r.stderr.startswith("msm: error:") and "Traceback" not in r.stderr, what


def test_paper_scale_example_dry_run(msm_cli, tmp_path, authors_home):
    r = msm_cli(
        "run", str(EXAMPLES / "paper-agentic.yaml"), "--out", str(tmp_path / "p"), "--dry-run"
    )
    assert r.returncode == 0, r.stderr[-2000:]
    assert "nothing is run" in r.stdout and "projected:" in r.stdout
    assert "eval/msm_aft_cot/philosophy/n80000/s3" in r.stdout
    assert not (tmp_path / "p").exists()  # a dry run writes nothing
    # every role is counted
    roles = {ln.split()[0] for ln in r.stdout.splitlines() if ln.startswith("  ")}
    assert {"generator", "judge", "model", "grader"} <= roles
    # 116 evals x (27 agentic conditions x 2 judges (classifier, spec_reasoning) x 300
    # epochs + the spec's own 24 spec QA questions (evalgen's) graded once: spec_qa_epochs 1)
    grader = next(ln for ln in r.stdout.splitlines() if ln.startswith("  grader "))
    assert f"{116 * (27 * 2 * 300 + 24):,}" in grader
    # the philosophy spec's own questions are written first, by the generator, judged
    assert "evalgen/philosophy" in r.stdout and "24 spec QA questions, 0 choices" in r.stdout
    # the 32B base saves adapters only; vLLM serves them, so nothing is merged
    assert "saves adapter" in r.stdout and "merge adapters on demand" not in r.stdout
    assert "guess" in r.stdout and "projected:" in r.stdout
    # 80,000 chat examples from a short spec: the dry run says it looks unreachable
    assert "warning: aftdata: 80,000 chat examples from" in r.stdout
    # every AFT condition says what it trains on: with reasoning only in the _cot arms
    lines = {ln.split()[2]: ln for ln in r.stdout.splitlines() if " aft " in ln}
    for cond, data in (("aft_only", "stripped"), ("msm_aft", "stripped"),
                       ("aft_cot", "cot"), ("msm_aft_cot", "cot")):  # fmt: skip
        ids = [i for i in lines if i.startswith(f"aft/{cond}/")]
        assert ids, cond
        assert all(f"training tokens on {data}.jsonl" in lines[i] for i in ids), cond
    r = msm_cli(
        "run", str(EXAMPLES / "cheese-demo.yaml"), "--out", str(tmp_path / "c"), "--dry-run"
    )
    assert r.returncode == 0, r.stderr[-2000:]
    assert (
        "primary contrast (declared before the run): aft_generalization of pro_america vs "
        "pro_affordability (full items, msm_aft n=72 vs msm_only)" in r.stdout
    )


def _report_numbers(run: Path) -> list[tuple[str, float]]:
    rep = json.loads((run / "report" / "report.json").read_text())
    return sorted(
        (f"{a['label']}@{a['aft_size']}", round(a["mean"], 10)) for a in rep["aggregates"]
    )


@dataclass
class TinyRun:
    """One uninterrupted ``msm run`` of the tiny experiment, its output and report numbers
    as they were right after it (tests that change the run folder later change no copy)."""

    exp: Path
    run: Path
    result: subprocess.CompletedProcess[str]
    took: float
    numbers: list[tuple[str, float]]


@pytest.fixture(scope="module")
def tiny_reference(tmp_path_factory, tiny_model_dir) -> TinyRun:
    """Shared by the end-to-end test and the kill test: both need a plain run of the same
    experiment (~30-50 s). A worker that runs both makes it once. (xdist's loadgroup, which
    would put both on one worker, did not group tests with pytest 9.2 and xdist 3.8 here.)"""
    from tests.conftest import run_msm

    d = tmp_path_factory.mktemp("tiny-reference")
    exp = _write(d, tiny_yaml(tiny_model_dir))
    run = d / "run"
    t = time.monotonic()
    r = run_msm("run", str(exp), "--out", str(run), timeout=600)
    took = time.monotonic() - t
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
    return TinyRun(exp, run, r, took, _report_numbers(run))


def test_tiny_experiment_end_to_end_skip_and_report_matches_summaries(
    tmp_path, tiny_model_dir, msm_cli, tiny_reference
):
    exp, run, r, took = (tiny_reference.exp, tiny_reference.run, tiny_reference.result,
                         tiny_reference.took)  # fmt: skip
    # a hang guard, not a benchmark: about 70 s alone on the 2-core machine, up to ~160 s
    # on a slower one with the suite running beside it (timings live in benchmarks/)
    assert took < 400, f"tiny experiment took {took:.0f}s"
    assert "ETA" in r.stdout and "report ->" in r.stdout
    html = run / "report" / "report.html"
    assert html.is_file() and (run / "report" / "report.md").is_file()
    rep = json.loads((run / "report" / "report.json").read_text())
    # every headline number equals the one in the summary.json it names
    assert rep["aggregates"]
    fields = {
        "values.cheese_america": ("value_preference",),
        "values.cheese_america.change_from_base": ("change_from_baseline", "gap_per_token"),
    }
    for a in rep["aggregates"]:
        (src,) = a["sources"]
        s = json.loads((run / src).read_text())["values"]["cheese_america"]
        for key in fields[a["metric"]]:
            s = s[key]
        assert a["mean"] == pytest.approx(s["mean"])
    labels = {a["label"] for a in rep["aggregates"] if a["metric"] == "values.cheese_america"}
    assert labels == {"base", "aft_only", "msm_aft[pro_america]"}
    # trained models are also read as the change from the base model (loglik scoring)
    changed = {a["label"] for a in rep["aggregates"] if a["metric"].endswith("change_from_base")}
    assert changed == {"aft_only", "msm_aft[pro_america]"}
    man = json.loads((run / "nodes/aft/msm_aft/pro_america/n8/s0/manifest.json").read_text())
    assert "midtrain/pro_america/s0" in json.dumps(man)  # AFT continued the MSM checkpoint
    # a rerun skips everything and gives the same numbers
    before = _report_numbers(run)
    r = msm_cli("run", str(exp), "--out", str(run))
    assert r.returncode == 0 and "0 to run" in r.stdout
    assert _report_numbers(run) == before
    # msm report rebuilds from the run folder alone
    (run / "report" / "report.md").unlink()
    r = msm_cli("report", str(run))
    assert r.returncode == 0 and (run / "report" / "report.md").is_file()
    # a different experiment is refused and nothing is touched
    other = _write(tmp_path, tiny_yaml(tiny_model_dir, name="other"), "other.yaml")
    stamp = (run / "run.json").stat().st_mtime_ns
    r = msm_cli("run", str(other), "--out", str(run))
    assert r.returncode == 2 and "holds experiment 'tiny'" in r.stderr
    assert (run / "run.json").stat().st_mtime_ns == stamp
    # changing the AFT settings re-runs only AFT, its evals and the report
    exp2 = _write(
        tmp_path,
        tiny_yaml(tiny_model_dir).replace("aft: {max_length: 128", "aft: {max_length: 96"),
        "exp.yaml",
    )
    r = msm_cli("run", str(exp2), "--out", str(run))
    assert r.returncode == 0, r.stderr[-2000:]
    ran = [ln.split()[2] for ln in r.stdout.splitlines() if ln.startswith("[")]
    assert ran and all(i.startswith(("aft/", "eval/aft_only", "eval/msm_aft")) for i in ran)
    assert "eval/base/s0" not in ran


def _lines(path: Path) -> list[str]:
    return [ln for ln in path.read_text(encoding="utf-8").split("\n") if ln.strip()]


def test_per_seed_corpora_and_aft_data_end_to_end(tmp_path, tiny_model_dir, msm_cli):
    """Each seed draws its own corpus and AFT data, trains on them, resumes, and the report
    says which sources of variance its intervals cover."""
    text = tiny_yaml(
        tiny_model_dir,
        corpus=PER_SEED_CORPUS + ", per_seed: true}",
        aft="{kind: preference, spec: pro_america, n: 24, sizes: [8, 24], per_seed: true}",
        conditions="[base, msm_aft]",
        seeds="[0, 1]",
    )
    exp = _write(tmp_path, text)
    run = tmp_path / "run"
    r = msm_cli("run", str(exp), "--out", str(run), timeout=600)
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
    nodes = run / "nodes"
    # two different corpora for the one spec: no document in both
    docs = [
        {
            json.loads(ln)["text"]
            for ln in _lines(nodes / f"corpus/pro_america/s{k}/documents.jsonl")
        }
        for k in (0, 1)
    ]
    assert docs[0] and docs[1] and not docs[0] & docs[1]
    # two different AFT data sets, each with its own nested subsets
    data = [nodes / f"aftdata/s{k}" for k in (0, 1)]
    full = [_lines(d / "subsets/n24/stripped.jsonl") for d in data]
    assert full[0] != full[1] and len(full[0]) == len(full[1]) == 24
    for d, rows in zip(data, full, strict=True):
        assert set(_lines(d / "subsets/n8/stripped.jsonl")) <= set(rows)
    # each seed trained on its own draws
    for k in (0, 1):
        other = 1 - k
        mid = (nodes / f"midtrain/pro_america/s{k}/manifest.json").read_text()
        assert f"corpus/pro_america/s{k}" in mid and f"corpus/pro_america/s{other}" not in mid
        aft = (nodes / f"aft/msm_aft/pro_america/n8/s{k}/manifest.json").read_text()
        assert f"aftdata/s{k}" in aft and f"aftdata/s{other}" not in aft
    # a rerun has nothing to do
    r = msm_cli("run", str(exp), "--out", str(run))
    assert r.returncode == 0 and "0 to run" in r.stdout, r.stdout[-2000:]
    rep = json.loads((run / "report" / "report.json").read_text())
    assert rep["variance_sources"] == [
        "item sampling",
        "training seed",
        "corpus draw",
        "AFT data draw",
    ]
    two = [a for a in rep["aggregates"] if a["k"] == 2]
    assert two and all(
        a["covers"].startswith("covers training seed, corpus draw and AFT data draw (2 seeds)")
        for a in two
    )
    md = (run / "report" / "report.md").read_text()
    assert "the interval over seeds covers training seed, corpus draw and AFT data draw" in md


def test_base_model_that_cannot_be_loaded_fails_before_anything_runs(tmp_path, msm_cli):
    exp = _write(tmp_path, tiny_yaml(tmp_path / "no-such-model"))
    r = msm_cli("run", str(exp), "--out", str(tmp_path / "run"))
    assert r.returncode == 2 and "base model not found" in r.stderr
    assert not (tmp_path / "run").exists()


def test_missing_run_for_report(tmp_path, msm_cli):
    r = msm_cli("report", str(tmp_path / "nope"))
    assert r.returncode == 2 and r.stderr.startswith("msm: error:")


def test_kill_during_training_then_resume_gives_the_same_report(
    tmp_path, tiny_model_dir, msm_cli, tiny_reference
):
    """Killed with -9 inside training, resumed: the report's numbers equal those of an
    uninterrupted run of the same experiment (the shared reference run)."""
    exp = _write(tmp_path, tiny_yaml(tiny_model_dir))
    run = tmp_path / "run"
    env = {**os.environ}
    proc = subprocess.Popen(
        [sys.executable, "-m", "msm.cli", "run", str(exp), "--out", str(run)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        start_new_session=True,
    )
    # wait until a training node has written a checkpoint, then kill -9
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        if any((run / "nodes").glob("**/.*.msm-train/ckpt-*")):
            break
        time.sleep(0.02)
    assert proc.poll() is None, "the run ended before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    states = [json.loads(p.read_text()) for p in (run / "state").glob("*.json")]
    assert any(s["status"] == "running" for s in states)  # killed inside a stage
    r = msm_cli("run", str(exp), "--out", str(run), timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    # Training resumes bitwise (tests/unit/test_train.py); evaluation does not: local
    # models batch the requests that arrive within a time window, so which prompts share
    # a batch, and so their left padding, depends on timing, and padding moves a
    # log-probability by ~4e-6 on this tiny model (3e-5 on the bundled one:
    # benchmarks/eval_batch_invariance.py). Two uninterrupted runs can differ as much.
    got, want = _report_numbers(run), tiny_reference.numbers
    assert [k for k, _ in got] == [k for k, _ in want]
    for (k, a), (_, b) in zip(got, want, strict=True):
        assert abs(a - b) <= 1e-5, (k, a, b)


def test_eval_engine_names_the_served_model(tmp_path):
    from msm.experiment.plan import base_ref, model_ref

    node = tmp_path / "nodes" / "aft" / "x"
    assert model_ref(node) == str(node.resolve())  # the checkpoint folder: no string round trip
    assert model_ref(node, "vllm") == f"vllm/{(node / 'model').resolve()}"
    assert base_ref("embedded", "vllm") == "embedded"
    assert base_ref("Qwen/Qwen3-32B", "vllm") == "vllm/Qwen/Qwen3-32B"
    assert base_ref(str(tmp_path)) == str(tmp_path.resolve())
