"""Runs embedded_model_dir() with a fake, optionally slow, converter (for kill tests)."""

import os
import sys
import time
from pathlib import Path

import msm.llm.bundled as models


def fake_convert(gguf: Path, out: Path) -> None:
    (out / "config.json").write_text("{}")
    with open(os.environ["COUNT_FILE"], "a") as fh:
        fh.write(f"{os.getpid()}\n")
    time.sleep(float(os.environ.get("SLOW", "0")))
    (out / "model.safetensors").write_bytes(b"w" * 4096)
    (out / "msm-conversion.json").write_text("{}")


models.convert_gguf = fake_convert
models.gguf_path = lambda: Path("fake.gguf")
print(models.embedded_model_dir(), flush=True)
sys.exit(0)
