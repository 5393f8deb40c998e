"""Runs aftgen --kind chat with the fake model and a per-call delay (for kill tests)."""

import sys

from msm.aftgen import AftgenConfig, run_aftgen
from msm.llm.fake import builtin_script

out = sys.argv[1]
script = builtin_script("aftgen")
for rule in script.rules:
    rule.delay_s = 0.05
cfg = AftgenConfig(
    spec="builtin:equanimity",
    kind="chat",
    model="fake",
    n=20,
    model_name="Ada",
    provider_name="Lab",
    concurrency=2,
)
stats = run_aftgen(cfg, out, model_args={"script": script}).stats
fresh = sum(v["calls"] for v in stats["usage"].values())
cached = sum(v["cached_calls"] for v in stats["usage"].values())
print(f"fresh={fresh} cached={cached} kept={stats['main_examples']}", flush=True)
