"""The kill campaign's quick mode: kill -9 docgen and aftgen at seeded random moments."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


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
