"""The README's Python example runs as written (in a scratch folder)."""

import os
import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def _block(heading: str) -> str:
    text = README.read_text(encoding="utf-8")
    section = text.split(f"## {heading}", 1)[1].split("\n## ", 1)[0]
    (code,) = re.findall(r"```python\n(.*?)```", section, re.S)
    return code


def test_running_stages_from_python_example(tmp_path):
    code = _block("Running stages from Python")
    env = {**os.environ, "INSPECT_LOG_DIR": str(tmp_path / "logs")}
    r = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    kept = int(r.stdout.split(" documents kept")[0].split()[-1])
    assert kept > 0
    assert (tmp_path / "runs/py-corpus/documents.jsonl").read_text().count("\n") == kept
    for folder in ("runs/py-corpus", "runs/py-eval"):
        assert (tmp_path / folder / "manifest.json").is_file()
    assert "'mean'" in r.stdout  # the value-preference summary was printed
