"""Kill -9 at awkward moments must leave nothing half-written and lose no paid work."""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from msm.llm import ResultStore

HELPERS = Path(__file__).resolve().parents[1] / "helpers"


def spawn(script, *args, env=None):
    return subprocess.Popen(
        [sys.executable, str(HELPERS / script), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )


def test_concurrent_conversions_do_one_conversion(tmp_path):
    env = {"MSM_CACHE": str(tmp_path / "cache"), "COUNT_FILE": str(tmp_path / "count"), "SLOW": "1"}
    procs = [spawn("convert_worker.py", env=env) for _ in range(3)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    paths = {o[0].strip() for o in outs}
    assert len(paths) == 1
    final = Path(paths.pop())
    assert (final / "model.safetensors").stat().st_size == 4096
    assert len((tmp_path / "count").read_text().split()) == 1
    # a later load skips the conversion
    p = spawn("convert_worker.py", env=env)
    p.communicate(timeout=60)
    assert len((tmp_path / "count").read_text().split()) == 1


def test_killed_conversion_leaves_nothing_and_rerun_completes(tmp_path):
    cache = tmp_path / "cache"
    env = {"MSM_CACHE": str(cache), "COUNT_FILE": str(tmp_path / "count"), "SLOW": "30"}
    p = spawn("convert_worker.py", env=env)
    models_dir = cache / "models"
    deadline = time.time() + 60
    while time.time() < deadline and not (tmp_path / "count").exists():
        time.sleep(0.05)
    assert (tmp_path / "count").exists(), "conversion never started"
    p.send_signal(signal.SIGKILL)
    p.wait()
    visible = [x.name for x in models_dir.iterdir() if not x.name.startswith(".")]
    assert all(name.endswith(".lock") for name in visible), visible  # no half-written model
    env["SLOW"] = "0"
    p2 = spawn("convert_worker.py", env=env)
    out, err = p2.communicate(timeout=60)
    assert p2.returncode == 0, err
    final = Path(out.strip())
    assert (final / "model.safetensors").stat().st_size == 4096
    assert not list(models_dir.glob(".staging-*"))  # the stale staging folder was swept


def test_kill_during_calls_loses_nothing_and_repeats_nothing(tmp_path):
    store = tmp_path / "store.sqlite"
    n = 200
    p = spawn("llm_worker.py", str(store), str(n))
    deadline = time.time() + 120
    while time.time() < deadline:
        if store.exists() and len(ResultStore(store)) >= 20:
            break
        time.sleep(0.05)
    p.send_signal(signal.SIGKILL)
    p.wait()
    done_before = len(ResultStore(store))
    assert 0 < done_before < n
    p2 = spawn("llm_worker.py", str(store), str(n))
    out, err = p2.communicate(timeout=300)
    assert p2.returncode == 0, err
    m = re.search(r"calls=(\d+) cached=(\d+) done=(\d+)", out)
    assert m, out
    calls, cached, done = map(int, m.groups())
    assert done == n
    # every call finished before the kill is reused; only the rest is paid for
    assert cached >= done_before and calls == n - cached
    assert len(ResultStore(store)) == n
