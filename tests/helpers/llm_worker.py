"""Makes N fake calls against a store, slowly, so a test can kill it midway."""

import asyncio
import sys

from msm.llm import LLM, AccessConfig
from msm.llm.fake import FakeRule, FakeScript

store, n = sys.argv[1], int(sys.argv[2])
llm = LLM(
    "fake",
    store=store,
    access=AccessConfig(max_concurrency=4),
    model_args={"script": FakeScript(rules=[FakeRule(match=".", delay_s=0.02)])},
)


async def main() -> None:
    outs = await asyncio.gather(*[llm.generate(f"item {i}", sample=i % 3) for i in range(n)])
    calls = llm.inspect_model().api.calls
    print(f"calls={calls} cached={sum(o.cached for o in outs)} done={len(outs)}", flush=True)


asyncio.run(main())
