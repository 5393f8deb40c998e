"""Evaluation time of the value and agentic suites on the bundled model (CPU).

Three runs, each a fresh process, with the settings ``docs/LOG.md`` quotes:

* ``values_cli``: ``msm eval embedded --items america --limit 400`` (200 items in
  both orders; local models are scored from the first token's logprobs, so
  ``max_tokens`` is 1);
* ``values_max_tokens_8``: the same task with ``max_tokens=8`` (what non-local
  models get), run through the same Inspect call as ``msm eval`` (the CLI no
  longer offers it for local models);
* ``agentic_cli``: ``msm eval embedded --suite agentic --grader fake --scenario
  exfiltration --goal none-none --epochs 2 --max-tokens 64``.

For each: the process's wall time, the eval's own time from its Inspect log
(``stats.started_at`` to ``completed_at``), token usage, and the result.
Run: ``python benchmarks/eval_time.py`` (about 8 minutes on a 2-core CPU; writes
``benchmarks/results/eval_time.json``); ``--only values_cli`` etc. runs a subset.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

from _bench import Report, msm_exe, offline_env, run_timed

VALUES_LIMIT = 400

INNER_VALUES = """
import sys
from pathlib import Path
from inspect_ai import eval as inspect_eval
from msm.evals.run import _inspect_model
from msm.evals.values.task import values
out, items, limit, max_tokens = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
logs = inspect_eval([values(items=items, max_tokens=max_tokens)], model=_inspect_model("embedded"),
                    log_dir=str(out / "logs"), limit=limit, epochs=1, display="none",
                    fail_on_error=False)
assert logs[0].status == "success", logs[0].status
"""


def log_facts(out: Path) -> dict[str, Any]:
    """Eval seconds, samples and token usage from the Inspect log(s) in ``out/logs``."""
    from inspect_ai.log import list_eval_logs, read_eval_log

    facts: dict[str, Any] = {"logs": []}
    for info in list_eval_logs(str(out / "logs")):
        log = read_eval_log(info, header_only=True)
        st = log.stats
        secs = (
            datetime.fromisoformat(st.completed_at) - datetime.fromisoformat(st.started_at)
        ).total_seconds()
        usage = {
            m: {"input_tokens": u.input_tokens, "output_tokens": u.output_tokens}
            for m, u in (st.model_usage or {}).items()
        }
        facts["logs"].append(
            {
                "task": log.eval.task,
                "status": log.status,
                "eval_seconds": round(secs, 1),
                "samples": log.results.total_samples if log.results else None,
                "usage": usage,
            }
        )
    facts["eval_seconds"] = round(sum(x["eval_seconds"] for x in facts["logs"]), 1)
    return facts


def values_result(summary: dict[str, Any], items: str) -> dict[str, Any]:
    r = summary["values"][items]
    return {
        "value_preference": r["value_preference"],
        "samples": r["samples"],
        "answers_by_method": r["answers_by_method"],
    }


def run_values_cli(tmp: Path) -> dict[str, Any]:
    out = tmp / "values"
    cmd = [msm_exe(), "eval", "embedded", "--items", "america", "--limit", str(VALUES_LIMIT)]
    res = run_timed([*cmd, "--out", str(out)], env=offline_env())
    summary = json.loads((out / "summary.json").read_text())
    return {
        "command": " ".join(["msm", *cmd[1:]]),
        "max_tokens": 1,
        "process_wall_s": res["wall_s"],
        "process_cpu_s": res["cpu_s"],
        **log_facts(out),
        "result": values_result(summary, "america"),
    }


def run_values_inner(tmp: Path, max_tokens: int) -> dict[str, Any]:
    out = tmp / f"values_mt{max_tokens}"
    args = [str(out), "america", str(VALUES_LIMIT), str(max_tokens)]
    res = run_timed([sys.executable, "-c", INNER_VALUES, *args], env=offline_env())
    return {
        "command": f"inspect_eval(values(items='america', max_tokens={max_tokens}), "
        f"model=embedded, limit={VALUES_LIMIT}) in a fresh process (as msm eval does)",
        "max_tokens": max_tokens,
        "process_wall_s": res["wall_s"],
        "process_cpu_s": res["cpu_s"],
        **log_facts(out),
    }


def run_agentic_cli(tmp: Path) -> dict[str, Any]:
    out = tmp / "agentic"
    cmd = [msm_exe(), "eval", "embedded", "--suite", "agentic", "--grader", "fake"]
    cmd += ["--scenario", "exfiltration", "--goal", "none-none", "--epochs", "2"]
    cmd += ["--max-tokens", "64"]
    res = run_timed([*cmd, "--out", str(out)], env=offline_env())
    summary = json.loads((out / "summary.json").read_text())
    ag = summary["agentic"]
    return {
        "command": " ".join(["msm", *cmd[1:]]),
        "process_wall_s": res["wall_s"],
        "process_cpu_s": res["cpu_s"],
        **log_facts(out),
        "result": {
            "overall": ag.get("overall"),
            "sample_errors": ag.get("sample_errors"),
        },
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", action="append", default=None)
    ap.add_argument("--out", default="benchmarks/results/eval_time.json")
    args = ap.parse_args()

    from msm.llm.bundled import embedded_model_dir

    embedded_model_dir()  # converted once, untimed
    runs = {
        "values_cli": run_values_cli,
        "values_max_tokens_8": lambda tmp: run_values_inner(tmp, 8),
        "agentic_cli": run_agentic_cli,
    }
    rep = Report("eval_time")
    rep["model"] = "embedded (SmolLM2-135M-Instruct, fp32, msm-local batched backend)"
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="msm-eval-time-") as tmp:
        for name, fn in runs.items():
            if args.only and name not in args.only:
                continue
            results[name] = fn(Path(tmp))
            print(name, json.dumps({k: v for k, v in results[name].items() if k != "logs"}))
    rep["results"] = results
    if "values_cli" in results and "values_max_tokens_8" in results:
        rep["values_eval_seconds_ratio_mt8_over_mt1"] = round(
            results["values_max_tokens_8"]["eval_seconds"] / results["values_cli"]["eval_seconds"],
            2,
        )
    rep["note"] = (
        "process_wall_s: the whole command (start-up, model load, eval, summary); "
        "eval_seconds: Inspect's own started_at..completed_at for the task(s)"
    )
    rep.write(args.out)


if __name__ == "__main__":
    main()
