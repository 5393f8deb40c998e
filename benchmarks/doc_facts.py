"""Counts the docs quote about msm's bundled data and test suites (nothing timed).

The README and ``docs/`` describe the bundled material with numbers: genres in
the document-type catalogue, value items and their domains, cheese preferences,
spec-QA questions, the capability text's length, how many tests some
reliability suites hold, and what the fault-injection docgen run keeps. This
script recomputes each from the installed package, ``pytest --collect-only`` and
that (deterministic, fake-model) docgen run, so a stale number is caught by
rerunning it.

Run: ``python benchmarks/doc_facts.py`` (seconds; writes
``benchmarks/results/doc_facts.json``).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

from _bench import REPO, Report, msm_exe, offline_env, run_timed

FAULTY = "fake:faults=0.3"

TEST_FILES = [
    "tests/unit/test_hostile_strings.py",
    "tests/unit/test_atomic_writes.py",
    "tests/unit/test_experiment.py",
    "tests/unit/test_faults.py",
    "tests/unit/test_secrets.py",
    "tests/unit/test_fuzz.py",
]


def collected(path: str, select: str | None = None) -> int | None:
    cmd = [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", path]
    proc = subprocess.run(
        cmd + (["-k", select] if select else []),
        cwd=REPO,
        capture_output=True,
        text=True,
        env=offline_env(),
    )
    m = re.search(r"(\d+)(?:/\d+)? tests? collected", proc.stdout)
    return int(m.group(1)) if m else None


def test_constants() -> dict[str, object]:
    """Sizes the reliability docs quote, read from the test modules themselves."""
    sys.path.insert(0, str(REPO))
    from tests.unit import test_atomic_writes as aw
    from tests.unit import test_secrets as sec

    return {
        "atomic_write_steps": {
            "docgen": 3 * len(aw.DOCGEN_FILES),
            "aftgen": 3 * len(aw.AFTGEN_FILES),
            "report": 3 * len(aw.REPORT_FILES),
        },
        "atomic_write_fault_cases": len(aw.CASES),
        "secret_variables": len(sec.SECRETS),
    }


def bad_input_cases() -> dict[str, object]:
    """The bad-input table of ``tests/unit/test_bad_inputs.py``: rows run in process, by
    kind of input, and those run through the real entry point (docs/reliability.md)."""
    sys.path.insert(0, str(REPO))
    from tests.unit import test_bad_inputs as bi

    kinds = Counter(p.values[0].kind for p in bi.ALL_CASES)
    return {
        "in_process": sum(kinds.values()),
        "by_kind": dict(sorted(kinds.items())),
        "through_the_entry_point": len(bi.SUBPROCESS_CASES),
    }


def faulty_docgen() -> dict[str, object]:
    """The fault-injection docgen run of ``tests/unit/test_faults.py`` (deterministic)."""
    cmd = ["docgen", "builtin:cheese_pro_america", "--model", FAULTY, "--judge", FAULTY]
    cmd += ["--doc-types-from", "llm", "--model-name", "Ada", "--tokenizer", "approx"]
    with tempfile.TemporaryDirectory(prefix="msm-facts-") as tmp:
        out = Path(tmp) / "corpus"
        run_timed([msm_exe(), *cmd, "--out", str(out), "--quiet"], env=offline_env())
        stats = json.loads((out / "stats.json").read_text())
    return {
        "command": "msm " + " ".join(cmd) + " --out DIR --quiet",
        "documents_planned": stats["counts"].get("documents_planned"),
        "documents_kept": stats["documents_kept"],
        "drops": stats["drops"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="benchmarks/results/doc_facts.json")
    args = ap.parse_args()

    from msm.docgen.catalogue import GENRES
    from msm.evals.capability import heldout_text
    from msm.evals.spec_qa import load_questions
    from msm.evals.values.items import load_value_items
    from msm.spec.builtin import resolve_spec_path
    from msm.spec.core import load_spec

    rep = Report("doc_facts")
    rep["catalogue_genres"] = len(GENRES)
    values = {}
    for name in ("america", "affordability", "cheese_america", "cheese_affordability"):
        items = load_value_items(name)
        values[name] = {"items": len(items), "domains": len({i.domain for i in items})}
    rep["value_item_sets"] = values
    prefs = {}
    for name in ("cheese_pro_america", "cheese_pro_affordability"):
        meta = load_spec(resolve_spec_path(f"builtin:{name}")).metadata or {}
        p = meta.get("preferences") or {}
        prefs[name] = {"likes": len(p.get("likes") or []), "dislikes": len(p.get("dislikes") or [])}
    rep["cheese_preferences"] = prefs
    qs = load_questions("equanimity")
    rep["spec_qa_equanimity"] = {
        "questions": len(qs),
        "principles": dict(Counter(q["principle"] for q in qs)),
    }
    rep["capability_heldout_words"] = len(heldout_text().split())
    rep["fault_injection_docgen"] = faulty_docgen()
    rep["tests_collected"] = {f: collected(f) for f in TEST_FILES}
    rep["fault_option_cases"] = collected(
        "tests/unit/test_faults.py", "test_bad_fault_options_are_one_line_errors"
    )
    rep["test_constants"] = test_constants()
    rep["bad_input_cases"] = bad_input_cases()
    print(json.dumps({k: v for k, v in rep.data.items() if k != "machine"}, indent=2))
    rep.write(args.out)


if __name__ == "__main__":
    main()
