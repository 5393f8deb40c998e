"""``run_aftgen``: AFT data as a function (the CLI is a thin wrapper)."""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from msm._util.fsutil import atomic_write_json, atomic_write_text
from msm._util.records import mix_in, read_mix
from msm.aftgen.config import AftgenConfig
from msm.aftgen.plan import ShortOfTarget, shortfall_message
from msm.aftgen.preference import preference_examples
from msm.aftgen.think import strip_think
from msm.artifacts.manifest import file_sha256, retract_manifest, write_manifest
from msm.artifacts.outdir import Claim, aftgen_inputs, claim_output
from msm.errors import MsmError
from msm.spec.builtin import resolve_spec_path
from msm.spec.core import Spec, approx_token_counts, check_placeholders, load_spec
from msm.spec.preferences import preference_lists


@dataclass(frozen=True, slots=True)
class AftgenResult:
    """What :func:`run_aftgen` made: the headline counts, the data files, and ``stats``
    exactly as ``out/stats.json`` holds it (drops, usage, balance... by kind)."""

    out: Path
    kind: str  # chat | preference
    examples: int  # rows written, mix-in included
    files: dict[str, Path]  # "stripped" (and "cot" for chat) -> its file in ``out``
    seconds: float  # this call's wall time (stats.json does not record it)
    stats: dict[str, Any]


def _jsonl(rows: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def _order_balance(rows: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    first: Counter[str] = Counter()
    second: Counter[str] = Counter()
    for r in rows:
        meta = r.get("meta", {})
        if "first" in meta:
            other = meta["other"] if meta["first"] == meta["preferred"] else meta["preferred"]
            first[meta["first"]] += 1
            second[other] += 1
    return {o: {"first": first[o], "second": second[o]} for o in sorted(set(first) | set(second))}


def _chat_rows(cfg: AftgenConfig, gen: Any) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    asyncio.run(gen.run())
    kept = gen.selected()
    rows = [
        {
            "messages": [
                {"role": "user", "content": e.query},
                {"role": "assistant", "content": f"<think>\n{e.think}\n</think>\n\n{e.answer}"},
            ],
            "meta": {
                "id": e.id,
                "domain": e.unit.domain,
                "subdomain": e.unit.subdomain,
                "rule_id": e.unit.rule_id,
                "situation": e.situation,
                "style": cfg.style,
                "round": e.round,
            },
        }
        for e in kept
    ]
    extra = {
        "counts": dict(gen.counts),
        "drops": dict(sorted(gen.drops.items())),
        "dedup_method": gen.dedup_method,
        "stopped": gen.stop,
        "spec_context": gen.context.stats(),
        "domain_balance": dict(Counter(e.unit.domain for e in kept)),
        "usage": gen.usage.as_dict(),
        "prompts": gen.prompt_hashes(),
        "spec_sha256": gen.spec.sha256,
    }
    return rows, extra


def run_aftgen(
    cfg: AftgenConfig,
    out: str | Path,
    *,
    model_args: dict[str, Any] | None = None,
    judge_model_args: dict[str, Any] | None = None,
    overwrite: bool = False,
) -> AftgenResult:
    """Build AFT data into ``out``: ``cot.jsonl`` + ``stripped.jsonl`` (chat) or
    ``stripped.jsonl`` (preference: there is no reasoning to keep), ``stats.json``,
    ``manifest.json``. ``out`` belongs to these settings: a rerun resumes, other
    settings are refused unless ``overwrite`` (see :mod:`msm.artifacts.outdir`).

    A chat run that ends with fewer than ``cfg.n`` examples (a round or budget limit, the
    model running dry) still writes what it kept, with ``status: short`` in stats.json,
    but no manifest (its presence means complete), and raises :class:`ShortOfTarget`
    (exit status 1) with the shortfall and the drop counts. Every call is in the store,
    so a rerun with higher limits or a lower ``n`` continues from there.

    Example::

        res = run_aftgen(
            AftgenConfig(spec="builtin:equanimity", kind="chat", model="fake", n=50), "runs/aft"
        )
        print(res.examples, res.files["stripped"])
    """
    t0 = time.monotonic()
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise MsmError(f"--out must be a directory, but {out} is a file")
    if cfg.mix_ratio > 0 and not cfg.mix:
        raise MsmError("--mix-ratio needs --mix FILE")
    spec = load_spec(
        resolve_spec_path(cfg.spec),
        cfg.model_name,
        cfg.provider_name,
        literal_name=cfg.literal_name,
    )
    check_placeholders(spec)  # a typo stops here, before anything is written
    mix = read_mix(cfg.mix) if cfg.mix else None  # read everything before writing anything
    # output of other inputs is refused here, before anything is written (msm.artifacts.outdir)
    claim = claim_output(out, "aftgen", aftgen_inputs(cfg), overwrite=overwrite)
    rows, extra = _examples(cfg, spec, out, claim, model_args, judge_model_args)
    n_main = len(rows)
    n_mix = 0
    if mix is not None:
        rows, n_mix = mix_in(rows, mix, cfg.mix_ratio, cfg.seed)
    random.Random(cfg.seed).shuffle(rows)
    stats = _stats(cfg, rows, n_main, n_mix, extra)
    files = _write_data(out, cfg, rows, stats)
    if stats["short_by"]:
        failed = sum(u.get("failed_calls", 0) for u in stats["usage"].values())
        msg = shortfall_message(n_main, cfg.n, stats.get("stopped"), stats["drops"], failed)
        raise ShortOfTarget(msg, stats)
    write_manifest(
        out,
        "aftgen",
        config=cfg.model_dump(),
        spec={"path": str(cfg.spec), "sha256": spec.sha256},
        spec_model_name=spec.model_name,  # the name in the examples (not the agent's)
        prompts=extra.get("prompts", {}),
        files=files,
        usage=stats["usage"],
        mix={
            "path": cfg.mix,
            "sha256": file_sha256(cfg.mix),
            "ratio": cfg.mix_ratio,
            "examples": n_mix,
        }
        if cfg.mix
        else None,
    )
    return AftgenResult(
        out=out,
        kind=cfg.kind,
        examples=int(stats["examples"]),
        files={name: out / f for name, f in files.items()},
        seconds=round(time.monotonic() - t0, 2),
        stats=stats,
    )


def _examples(
    cfg: AftgenConfig,
    spec: Spec,
    out: Path,
    claim: Claim,
    model_args: dict[str, Any] | None,
    judge_model_args: dict[str, Any] | None,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The examples of ``cfg.kind`` and what their generation reports (usage, counts,
    prompt hashes). ``claim`` on ``out`` is taken once the settings have passed every
    check, before the first call."""
    if cfg.kind == "preference":
        likes, dislikes = preference_lists(spec.metadata, str(cfg.spec))
        rows = preference_examples(likes, dislikes, cfg.n, cfg.seed)
        claim.take()
        return rows, {"usage": {}}
    from msm.aftgen.chat import ChatAftgen  # lazy: pulls Inspect

    gen = ChatAftgen(cfg, out, model_args, judge_model_args)  # checks spec and models
    claim.take()
    return _chat_rows(cfg, gen)


def _stats(
    cfg: AftgenConfig, rows: list[dict[str, Any]], n_main: int, n_mix: int, extra: dict[str, Any]
) -> dict[str, Any]:
    """stats.json: how many examples of which kind, tokens, and the generation's report."""
    tokens = approx_token_counts([" ".join(m["content"] for m in r["messages"]) for r in rows])
    short_by = max(0, cfg.n - n_main) if cfg.kind == "chat" else 0
    stats: dict[str, Any] = {
        "kind": cfg.kind,
        "status": "short" if short_by else "complete",
        "examples": len(rows),
        "main_examples": n_main,
        "requested": cfg.n,
        "short_by": short_by,
        "mix_examples": n_mix,
        "approx_tokens": sum(tokens),
        **{k: v for k, v in extra.items() if k not in ("prompts", "spec_sha256")},
    }
    if cfg.kind == "preference":
        balance = _order_balance(rows)
        stats["rounded_to_even"] = n_main != cfg.n
        stats["balance"] = balance
        stats["balanced"] = all(v["first"] == v["second"] for v in balance.values())
    return stats


def _write_data(
    out: Path, cfg: AftgenConfig, rows: list[dict[str, Any]], stats: dict[str, Any]
) -> dict[str, str]:
    """Write the examples (with and without their reasoning) and stats.json, with the
    manifest retracted first; returns the data files by name."""
    stripped = [
        {**r, "messages": [{**m, "content": strip_if_assistant(m)} for m in r["messages"]]}
        for r in rows
    ]
    files = {"stripped": "stripped.jsonl"}
    retract_manifest(out)  # until the new one is written, nothing vouches for the folder
    if cfg.kind == "chat":
        atomic_write_text(out / "cot.jsonl", _jsonl(rows))
        files["cot"] = "cot.jsonl"
    atomic_write_text(out / "stripped.jsonl", _jsonl(stripped))
    atomic_write_json(out / "stats.json", stats)
    return files


def strip_if_assistant(message: dict[str, str]) -> str:
    """An assistant message's text without its ``<think>`` block; other roles' as is."""
    return strip_think(message["content"]) if message["role"] == "assistant" else message["content"]
