"""Fault injection: the ``fake`` model fails 30% of attempts in six ways; runs still finish
and every fault is either retried or counted with its reason, and the counts add up."""

import asyncio
import json
from collections import Counter
from pathlib import Path

import pytest

from msm.aftgen import AftgenConfig, run_aftgen
from msm.errors import LLMCallError, MsmError
from msm.llm import LLM, AccessConfig
from msm.llm.fake import FAULT_KINDS, MALFORMED, injected_faults
from msm.llm.names import resolve_model

FAULTY = "fake:faults=0.3"
# the fake's fault kinds -> the reason msm records for them
TRANSIENT = {"rate_limit": "rate_limit", "timeout": "timeout", "server": "server_error"}


def _sum(usage, field, key=None):
    return sum(
        (stage[field].get(key, 0) if key is not None else stage[field]) for stage in usage.values()
    )


def check_usage_adds_up(usage, injected):
    """Every attempt is a finished call, a retry or a final failure; each injected fault
    shows up under its own reason (malformed output is counted by the caller)."""
    for name, stage in usage.items():
        assert sum(stage["errors"].values()) == stage["retries"] + stage["failed_calls"], name
    attempts = sum(s["calls"] + s["retries"] + s["failed_calls"] for s in usage.values())
    assert attempts == injected["attempts"]
    for kind, reason in TRANSIENT.items():
        assert _sum(usage, "errors", reason) == injected.get(kind, 0), kind
    assert _sum(usage, "problems", "refused") == injected.get("refusal", 0)
    assert _sum(usage, "problems", "truncated") == injected.get("truncated", 0)


def test_fault_mix_is_about_the_requested_rate_and_reproducible():
    def outcomes():
        injected_faults(reset=True)
        llm = LLM(FAULTY, access=AccessConfig(max_retries=0))
        seen: Counter[str] = Counter()

        async def one(i):
            try:
                c = await llm.generate(
                    f"question {i}", allow_truncated=True, allow_refused=True, max_tokens=50
                )
            except LLMCallError as e:
                seen[e.reason] += 1
                return
            if c.refused:
                seen["refused"] += 1
            elif c.truncated:
                seen["truncated"] += 1
            elif c.text == MALFORMED:
                seen["malformed"] += 1
            else:
                seen["ok"] += 1

        async def main():
            await asyncio.gather(*[one(i) for i in range(2000)])

        asyncio.run(main())
        return seen, injected_faults(reset=True), llm.usage.as_dict()["default"]

    seen, injected, usage = outcomes()
    faults = 2000 - seen["ok"]
    assert 0.27 * 2000 <= faults <= 0.33 * 2000, seen  # 0.3 +- 3 sigma
    assert set(injected) == {*FAULT_KINDS, "attempts"}
    assert injected["attempts"] == 2000 and sum(injected.values()) - 2000 == faults
    for kind in FAULT_KINDS:
        assert 60 <= injected[kind] <= 140, injected  # about 100 each (1/6 of 600)
    assert seen["malformed"] == injected["malformed"]
    assert seen["server_error"] == injected["server"] and seen["timeout"] == injected["timeout"]
    assert usage["failed_calls"] == sum(injected[k] for k in TRANSIENT)  # no retries allowed
    assert outcomes()[0] == seen  # a pure function of the prompts: the same faults again


@pytest.mark.parametrize(
    "name,needle",
    [
        ("fake:faults=1.5", "less than or equal to 1"),
        ("fake:faults=x", "valid number"),
        ("fake:kinds=timeout", "need faults="),
        ("fake:faults=0.3,kinds=meteor", "kinds"),
        ("fake:faults=0.3,colour=red", "unknown option 'colour'"),
        ("fake:faults", "unknown model name"),
        ("fakeish", "unknown model name"),
    ],
)
def test_bad_fault_options_are_one_line_errors(name, needle):
    with pytest.raises(MsmError) as e:
        resolve_model(name)
    assert needle in str(e.value) and "\n" not in str(e.value)


def test_fault_options_combine_with_a_script_file(tmp_path):
    script = tmp_path / "s.yaml"
    script.write_text("rules:\n  - response: scripted\n")
    r = resolve_model(f"fake/{script}:faults=0.2,kinds=refusal,fault_seed=3")
    assert r.model_args["faults"] == {"rate": 0.2, "kinds": ["refusal"], "seed": 3}
    assert r.model_args["script"].rules[0].response == "scripted"


def test_docgen_at_30_percent_faults_completes_and_its_stats_add_up(tmp_path, capsys):
    from msm.cli import main

    out = tmp_path / "corpus"
    args = [
        "docgen",
        "builtin:cheese_pro_america",
        "--out",
        str(out),
        "--model",
        FAULTY,
        "--judge",
        FAULTY,
        "--doc-types-from",
        "llm",
        "--model-name",
        "Ada",
        "--tokenizer",
        "approx",
        "--quiet",
    ]
    injected_faults(reset=True)
    with pytest.raises(SystemExit) as e:
        main(args)
    assert e.value.code == 0, capsys.readouterr().err
    injected = injected_faults(reset=True)
    stats = json.loads((out / "stats.json").read_text())
    usage, drops, counts = stats["usage"], stats["drops"], stats["counts"]
    # faults of every kind happened, at about the requested rate
    assert set(injected) == {*FAULT_KINDS, "attempts"}
    assert 0.2 <= (sum(injected.values()) - injected["attempts"]) / injected["attempts"] <= 0.4
    check_usage_adds_up(usage, injected)
    # malformed answers: a parse error (re-asked) or, for a document, too short to keep
    assert _sum(usage, "problems", "parse_error") + drops.get(
        "documents:too_short", 0
    ) == injected.get("malformed", 0)
    # every planned document is kept or dropped with a reason
    doc_drops = sum(v for k, v in drops.items() if k.startswith("documents:"))
    # 14 units of the cheese spec (title, core, one per cheese) x 4 x 3 x 2 = 336 at most;
    # a faulty idea or document-type list may come back a few items short
    planned = counts["documents_planned"]
    assert counts["documents_done"] == planned and 0.95 * 336 <= planned <= 336
    assert counts["documents_kept"] + doc_drops == planned
    assert stats["documents_kept"] == counts["documents_kept"] >= 2 / 3 * planned
    lines = (out / "documents.jsonl").read_text().splitlines()
    assert len(lines) == stats["documents_kept"]
    assert all(MALFORMED not in json.loads(x)["text"] for x in lines)

    # a rerun replays every answer (faulty ones included) and writes the same corpus
    before = (out / "documents.jsonl").read_bytes()
    with pytest.raises(SystemExit) as e:
        main(args)
    assert e.value.code == 0
    assert injected_faults(reset=True).get("attempts", 0) == 0  # nothing paid for twice
    assert (out / "documents.jsonl").read_bytes() == before
    again = json.loads((out / "stats.json").read_text())
    assert again["drops"] == drops
    assert all(s["calls"] == 0 and s["cached_calls"] > 0 for s in again["usage"].values())


def test_aftgen_at_30_percent_faults_reaches_n_and_its_stats_add_up(tmp_path):
    injected_faults(reset=True)
    cfg = AftgenConfig(
        spec="builtin:equanimity", kind="chat", model=FAULTY, judge=FAULTY, n=20, model_name="Ada"
    )
    stats = run_aftgen(cfg, tmp_path).stats
    injected = injected_faults(reset=True)
    assert stats["examples"] == 20  # backfill made up for what the faults cost
    assert len(Path(tmp_path, "cot.jsonl").read_text().splitlines()) == 20
    usage, drops, counts = stats["usage"], stats["drops"], stats["counts"]
    check_usage_adds_up(usage, injected)
    assert _sum(usage, "problems", "parse_error") + drops.get(
        "responses:no_think", 0
    ) == injected.get("malformed", 0)
    resp_drops = sum(v for k, v in drops.items() if k.startswith("responses:"))
    assert counts["responses_planned"] == counts["responses_kept"] + resp_drops
    assert resp_drops > 0 and injected["attempts"] > sum(
        s["calls"] for s in usage.values()
    )  # faults really happened and were retried
