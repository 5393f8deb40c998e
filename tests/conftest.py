import os
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parents[1]
REAL_SPEC = ROOT.parent / "shared" / "specs" / "openai_model_spec_2025-12-18.md"


@pytest.fixture
def real_spec() -> Path:
    if not REAL_SPEC.is_file():
        pytest.skip(f"real-world spec not present at {REAL_SPEC}")
    return REAL_SPEC


def run_msm(*args: str, env: dict[str, str] | None = None, timeout: float = 300):
    """Run the CLI in a subprocess, as a user would."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "msm.cli", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
    )


@pytest.fixture
def msm_cli():
    return run_msm
