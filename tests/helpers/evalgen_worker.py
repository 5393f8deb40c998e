"""Runs `msm evalgen` with the fake model and a per-call delay (so a test can kill it)."""

import sys

from msm.evalgen import EvalgenConfig, run_evalgen
from msm.llm.fake import builtin_script

spec, out = sys.argv[1], sys.argv[2]
script = builtin_script("evalgen")
for rule in script.rules:
    rule.delay_s = 0.05
cfg = EvalgenConfig(spec=spec, model="fake", judge="fake", model_name="Ada", n_questions=12,
                    n_choices=12, concurrency=4)  # fmt: skip
args = {"script": script}
res = run_evalgen(cfg, out, model_args=args, judge_model_args=args)
calls = res.stats["usage"]
fresh = sum(v["calls"] for v in calls.values())
cached = sum(v["cached_calls"] for v in calls.values())
print(f"fresh={fresh} cached={cached} kept={res.questions + res.choices}", flush=True)
