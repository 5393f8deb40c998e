"""Wall time of ``msm spec sections`` and ``msm spec lint`` through the CLI.

Each command runs as a fresh process (``msm spec sections SPEC --json`` with the
bundled SmolLM2 tokenizer, ``msm spec lint SPEC --json``), once untimed to warm
the file cache, then ``--repeats`` times; the median wall time is reported with
what the commands found (sections, tokens, lint score, warnings) and the unknown
``{placeholders}`` that ``msm spec show --json`` reports.

The default spec is inside the repo; the LOG's figures are for the real 270 KB
spec: ``python benchmarks/spec_tools.py --spec
../shared/specs/openai_model_spec_2025-12-18.md --out
benchmarks/results/spec_tools_openai.json``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
from pathlib import Path

from _bench import Report, msm_exe, offline_env, run_timed

DEFAULT_SPEC = "src/msm/data/specs/equanimity.md"


def timed(cmd: list[str], repeats: int) -> tuple[list[float], list[float], str]:
    env = offline_env()
    out = run_timed(cmd, env=env)["stdout"]  # warm-up, untimed
    runs = [run_timed(cmd, env=env) for _ in range(repeats)]
    return [r["wall_s"] for r in runs], [r["cpu_s"] for r in runs], out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spec", default=DEFAULT_SPEC)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--out", default="benchmarks/results/spec_tools.json")
    args = ap.parse_args()

    from msm.llm.bundled import embedded_model_dir

    embedded_model_dir()  # the sections command's tokenizer; converted once, untimed
    rep = Report("spec_tools")
    msm = msm_exe()
    spec_path = Path(args.spec)
    rep["spec"] = args.spec
    if spec_path.is_file():
        data = spec_path.read_bytes()
        rep["spec_bytes"] = len(data)
        rep["spec_sha256"] = hashlib.sha256(data).hexdigest()

    sec_walls, sec_cpu, sec_out = timed(
        [msm, "spec", "sections", args.spec, "--json"], args.repeats
    )
    sections = json.loads(sec_out)
    lint_cmd = [msm, "spec", "lint", args.spec, "--json"]
    lint_walls, lint_cpu, lint_out = timed(lint_cmd, args.repeats)
    lint = json.loads(lint_out)
    show = json.loads(
        run_timed([msm, "spec", "show", args.spec, "--json"], env=offline_env())["stdout"]
    )

    rep["sections"] = {
        "command": f"msm spec sections {args.spec} --json (tokenizer: embedded SmolLM2)",
        "wall_s_median": round(statistics.median(sec_walls), 3),
        "wall_s_runs": sec_walls,
        "cpu_s_median": round(statistics.median(sec_cpu), 3),
        "sections": len(sections),
        "tokens": sum(int(s["tokens"]) for s in sections),
    }
    rep["lint"] = {
        "command": f"msm spec lint {args.spec} --json",
        "wall_s_median": round(statistics.median(lint_walls), 3),
        "wall_s_runs": lint_walls,
        "cpu_s_median": round(statistics.median(lint_cpu), 3),
        "score": lint.get("score"),
        "directives": lint.get("directives"),
        "explained": lint.get("explained"),
        "warnings": len(lint.get("warnings", [])),
    }
    rep["unknown_placeholders"] = show.get("unknown_placeholders", [])
    rep["note"] = "wall time of a fresh CLI process each (Python start-up and imports included)"
    print(json.dumps({k: rep.data[k] for k in ("sections", "lint")}, indent=2))
    rep.write(args.out)


if __name__ == "__main__":
    main()
