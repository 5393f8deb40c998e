"""A small offline corpus dose study: does the MSM effect on the bundled model grow with
the corpus it was midtrained on?

The demo's pro-America corpus settings (``examples/experiments/cheese-demo.yaml``) with
``corpus: {sizes: [...]}``: the bundled SmolLM2-135M midtrained on nested subsets of the
corpus and on all of it (``msm_only``), each scored like the demo, against the base model.
The headline is ``values.cheese_reasons.change_from_base`` (the demo's strongest
instrument: the America-worded reason for a cheese over the price-worded one, as the
change from the base model), so the effect at each size is the paired per-item change
from the base model, in nats/token, with its interval over items (one seed).

``--reuse-corpus RUN``: a finished ``msm demo`` run whose corpus has the same settings;
its corpus node is copied (same hash, same documents), so only midtraining and evals run.

Run (about 10 minutes on 2 cores with a reused corpus):
``python benchmarks/corpus_dose.py --reuse-corpus runs/demo`` (writes
``benchmarks/results/corpus_dose.json``).
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

import yaml

from _bench import Report, msm_exe, offline_env, run_timed

ROOT = Path(__file__).resolve().parents[1]


def experiment(sizes: list[int]) -> dict:
    demo = yaml.safe_load((ROOT / "examples/experiments/cheese-demo.yaml").read_text())
    return {
        "name": "cheese-dose",
        "base_model": "embedded",
        "generator": "embedded",
        "model_name": demo["model_name"],
        "provider_name": demo["provider_name"],
        "specs": {"pro_america": demo["specs"]["pro_america"]},
        "corpus": {**demo["corpus"], "sizes": sizes},
        "conditions": ["base", "msm_only"],
        "seeds": [0],
        "train": {"midtrain": demo["train"]["midtrain"]},
        "eval": {**demo["eval"], "items": ["cheese_reasons", "cheese_why", "america"]},
        "report": {"headline_metric": "values.cheese_reasons.change_from_base"},
    }


# the same dose curves on other instruments: the demo's 'why' control (the value's logic
# over the same words with the wrong logic, which the demo's corpus does not move) and the
# value set itself
CONTROLS = {
    "values.cheese_why.change_from_base": "null control: the value's words with the wrong logic",
    "values.america.change_from_base": "the pro-America value on held-out questions",
}


def _curves(run: Path, metric: str) -> list:
    """The report's dose records of ``run`` for another metric than its headline."""
    from msm.report.load import load_evals, load_run
    from msm.report.sections.dose import dose_records, split_dose
    from msm.report.state import ReportState

    loaded = load_run(run)
    main, dose = split_dose(load_evals(loaded)[0])
    return dose_records(ReportState(loaded, main, [], dose), metric)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10,30", help="corpus subsets, in documents")
    ap.add_argument("--reuse-corpus", help="a finished msm demo run with the same corpus")
    ap.add_argument("--out", default="benchmarks/results/corpus_dose.json")
    args = ap.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]
    rep = Report("corpus_dose")
    work = Path(tempfile.mkdtemp(prefix="msm-dose-"))
    exp = work / "dose.yaml"
    exp.write_text(yaml.safe_dump(experiment(sizes), sort_keys=False))
    run = work / "run"
    if args.reuse_corpus:
        src = Path(args.reuse_corpus)
        # the run folder made (and owned) first, by the base model's eval alone (it needs
        # no corpus); then the corpus copied in
        cmd = [msm_exe(), "run", str(exp), "--out", str(run), "--only", "eval/base/s0"]
        run_timed(cmd, env=offline_env())
        (run / "nodes/corpus").mkdir(parents=True, exist_ok=True)
        shutil.copytree(src / "nodes/corpus/pro_america", run / "nodes/corpus/pro_america")
        shutil.copy2(src / "state/corpus__pro_america.json", run / "state")
    res = run_timed([msm_exe(), "run", str(exp), "--out", str(run)], env=offline_env())
    report = json.loads((run / "report/report.json").read_text())
    dose = report.get("dose") or []
    controls = {m: _curves(run, m) for m in CONTROLS}
    rep["experiment"] = experiment(sizes)
    rep["corpus_reused_from"] = args.reuse_corpus
    # the copied corpus node counts as done (same hash): nothing regenerated
    rep["corpus_regenerated"] = "corpus   corpus/pro_america" in res["stdout"]
    rep["wall_s"] = round(res["wall_s"], 1)
    rep["results"] = {
        "dose": dose,
        "headline_metric": report.get("headline_metric"),
        "controls": {m: {"what": CONTROLS[m], "dose": c} for m, c in controls.items()},
    }
    rep["run_folder"] = str(run)
    rep.write(args.out)
    for metric, curves in [(report.get("headline_metric"), dose), *controls.items()]:
        for curve in curves:
            print(metric)
            for p in curve["points"]:
                print(" ", p["docs"] or "all", p["tokens"], p["effect"], p["effect_ci95"])
            print(" ", curve["reach"]["text"])


if __name__ == "__main__":
    main()
