"""The kill campaign: its quick mode (kill -9 docgen and aftgen at seeded random moments),
and the comparison its ``msm run`` trials rely on, shown to catch what it must."""

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _campaign_module():
    spec = importlib.util.spec_from_file_location(
        "kill_campaign", ROOT / "benchmarks/kill_campaign.py"
    )
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_quick_kill_campaign_loses_and_repeats_nothing(tmp_path):
    out = tmp_path / "kill.json"
    r = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks/kill_campaign.py"), "--quick", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=ROOT,
    )
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
    res = json.loads(out.read_text())
    assert res["passed"] is True
    for target in ("docgen", "aftgen"):
        t = res[target]
        assert t["kills"] >= 3 and t["all_identical"], t
        assert t["lost_items"] == t["repeated_finished_calls"] == t["unexpected_calls"] == 0
        assert t["reference_calls"] > 100


def test_quick_mode_never_writes_the_kept_results():
    kc = _campaign_module()
    assert not kc._default_out(True, 0, ["docgen", "aftgen"]).is_relative_to(ROOT)
    results = ROOT / "benchmarks" / "results"
    assert kc._default_out(False, 1, list(kc.ALL_TARGETS)) == results / "kill_campaign_seed1.json"
    assert kc._default_out(False, 0, ["run"]) == results / "kill_campaign_run_seed0.json"


def _tensors(path: Path, bump: float = 0.0) -> None:
    import torch
    from safetensors.torch import save_file

    g = torch.Generator().manual_seed(0)
    w = torch.randn(8, 4, generator=g)
    w[0, 0] += bump
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({"lora_A.weight": w, "lora_B.weight": torch.ones(4, 8)}, str(path))


def _run_dir(d: Path) -> Path:
    """A minimal ``msm run`` folder: every kind of output the comparison reads."""
    files = {
        "nodes/corpus/pro_america/documents.jsonl": '{"text": "cheese"}\n',
        "nodes/corpus/pro_america/manifest.json": json.dumps({"n": 1, "written_at": "t0"}),
        "nodes/corpus/pro_america/.msm/llm.sqlite": "store t0",
        "nodes/aftdata/stripped.jsonl": '{"prompt": "p"}\n',
        "nodes/eval/base/s0/summary.json": json.dumps(
            {"values": {"x": {"mean": 0.47950674, "ci95": [0.42, 0.53], "log": "logs/t0.eval"}}}
        ),
        "report/report.json": json.dumps(
            {
                "aggregates": [{"mean": 0.47950674}],
                "efficiency": [{"needed": 10.2343, "multiplier": 0.4264}],
                "training": [{"final_loss": 11.4, "wall_seconds": 60}],
            }
        ),
        "state/eval__base__s0.json": json.dumps({"status": "done", "seconds": 3.0}),
        "state/midtrain__pro_america__s0.json": json.dumps({"status": "done", "seconds": 60.0}),
    }
    for rel, text in files.items():
        (d / rel).parent.mkdir(parents=True, exist_ok=True)
        (d / rel).write_text(text)
    _tensors(d / "nodes/midtrain/pro_america/s0/adapter/adapter_model.safetensors")
    return d


def _edit_json(path: Path, fn) -> None:
    data = json.loads(path.read_text())
    fn(data)
    path.write_text(json.dumps(data))


ADAPTER = "nodes/midtrain/pro_america/s0/adapter/adapter_model.safetensors"
SUMMARY = "nodes/eval/base/s0/summary.json"


def _mean(bump):
    return lambda d: d["values"]["x"].__setitem__("mean", d["values"]["x"]["mean"] + bump)


# (name, change to the killed run's folder, differing paths expected, exact numbers, bit-identical)
CASES = [
    ("same", lambda d: None, [], True, True),
    (
        "clock fields and store only",
        lambda d: (
            (d / "nodes/corpus/pro_america/.msm/llm.sqlite").write_text("store t1"),
            _edit_json(
                d / "nodes/corpus/pro_america/manifest.json", lambda m: m.update(written_at="t1")
            ),
            _edit_json(d / SUMMARY, lambda s: s["values"]["x"].update(log="logs/t1.eval")),
            _edit_json(
                d / "report/report.json", lambda r: r["training"][0].update(wall_seconds=99)
            ),
        ),
        [],
        True,
        True,
    ),
    ("tensor within tolerance", lambda d: _tensors(d / ADAPTER, 5e-6), [], True, False),
    ("tensor beyond tolerance", lambda d: _tensors(d / ADAPTER, 1e-3), [ADAPTER], True, False),
    ("eval number by 1e-8", lambda d: _edit_json(d / SUMMARY, _mean(1e-8)), [], False, True),
    ("eval number by 1e-4", lambda d: _edit_json(d / SUMMARY, _mean(1e-4)), [SUMMARY], False, True),
    (
        "report number",
        lambda d: _edit_json(
            d / "report/report.json", lambda r: r["training"][0].update(final_loss=11.5)
        ),
        ["report/report.json"],
        False,
        True,
    ),
    (
        "efficiency number by 1e-4 relative",
        lambda d: _edit_json(
            d / "report/report.json", lambda r: r["efficiency"][0].update(needed=10.2353)
        ),
        [],
        False,
        True,
    ),
    (
        "efficiency number by 5%",
        lambda d: _edit_json(
            d / "report/report.json", lambda r: r["efficiency"][0].update(needed=10.75)
        ),
        ["report/report.json"],
        False,
        True,
    ),
    (
        "corpus byte",
        lambda d: (d / "nodes/corpus/pro_america/documents.jsonl").write_text(
            '{"text": "cheesE"}\n'
        ),
        ["nodes/corpus/pro_america/documents.jsonl"],
        True,
        True,
    ),
    (
        "node left running",
        lambda d: _edit_json(d / "state/eval__base__s0.json", lambda s: s.update(status="running")),
        ["state (not every node done)"],
        True,
        True,
    ),
    ("summary missing", lambda d: (d / SUMMARY).unlink(), [f"{SUMMARY} (missing)"], True, True),
]


@pytest.mark.parametrize(
    "change,expected,exact,bitwise", [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_run_comparison_catches_each_kind_of_difference(tmp_path, change, expected, exact, bitwise):
    kc = _campaign_module()
    ref = _run_dir(tmp_path / "ref")
    out = tmp_path / "out"
    shutil.copytree(ref, out)
    change(out)
    res = kc._compare_run(ref, out)
    assert res["differences"] == expected
    assert res["numbers_exact"] is exact
    tensor = res["tensors"][ADAPTER]
    assert tensor["bit_identical"] is bitwise
    assert tensor["within_tolerance"] is (ADAPTER not in expected)
    if not bitwise:
        assert tensor["max_abs_diff"] == pytest.approx(5e-6 if not expected else 1e-3, rel=0.1)
