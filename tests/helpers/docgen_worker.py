"""Runs `msm docgen` with the fake model and a per-call delay (so a test can kill it)."""

import sys

from msm.docgen import DocgenConfig, run_docgen
from msm.llm.fake import builtin_script

spec, out = sys.argv[1], sys.argv[2]
n_ideas = int(sys.argv[3]) if len(sys.argv) > 3 else 2
script = builtin_script("docgen")
for rule in script.rules:
    rule.delay_s = 0.01
cfg = DocgenConfig(
    spec=spec, model="fake", model_name="Ada", provider_name="Lab", n_ideas=n_ideas, concurrency=4
)
res = run_docgen(cfg, out, quiet=True, tokenizer="approx", model_args={"script": script})
calls = res.stats["usage"]
fresh = sum(v["calls"] for v in calls.values())
cached = sum(v["cached_calls"] for v in calls.values())
print(f"fresh={fresh} cached={cached} kept={res.documents_kept}", flush=True)
