"""``run_aftgen``: AFT data as a function (the CLI is a thin wrapper)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from msm.aftgen.mix import mix_in, read_mix
from msm.aftgen.preference import preference_examples, preference_lists
from msm.errors import MsmError
from msm.fsutil import atomic_write_json, atomic_write_text
from msm.manifest import file_sha256, write_manifest
from msm.spec import approx_token_counts, load_spec
from msm.specs_builtin import resolve_spec_path


class AftgenConfig(BaseModel):
    """Settings of one aftgen run; saved into the manifest."""

    model_config = ConfigDict(extra="forbid")

    spec: str
    kind: Literal["chat", "preference"] = "chat"
    n: int = Field(ge=1, le=10_000_000)
    seed: int = 0
    model_name: str = "the assistant"
    provider_name: str = "its developer"
    mix: str | None = None
    mix_ratio: float = Field(default=0.0, ge=0.0, le=100.0)


def _jsonl(rows: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def run_aftgen(cfg: AftgenConfig, out: str | Path) -> dict[str, Any]:
    """Build AFT data into ``out``. Only ``kind='preference'`` exists so far."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise MsmError(f"--out must be a directory, but {out} is a file")
    if cfg.kind == "chat":
        raise MsmError(
            "aftgen --kind chat is not built yet (only --kind preference); see the issue tracker"
        )
    if cfg.mix_ratio > 0 and not cfg.mix:
        raise MsmError("--mix-ratio needs --mix FILE")
    spec_path = resolve_spec_path(cfg.spec)
    spec = load_spec(spec_path, cfg.model_name, cfg.provider_name)
    likes, dislikes = preference_lists(spec.metadata, str(cfg.spec))
    mix = read_mix(cfg.mix) if cfg.mix else None  # read before writing anything
    rows = preference_examples(likes, dislikes, cfg.n, cfg.seed)
    n_pref = len(rows)
    n_mix = 0
    if mix is not None:
        rows, n_mix = mix_in(rows, mix, cfg.mix_ratio, cfg.seed)
    import random

    random.Random(cfg.seed).shuffle(rows)

    first: Counter[str] = Counter()
    second: Counter[str] = Counter()
    for r in rows:
        meta = r.get("meta", {})
        if "first" in meta:
            a, b = (
                meta["first"],
                (meta["other"] if meta["first"] == meta["preferred"] else meta["preferred"]),
            )
            first[a] += 1
            second[b] += 1
    options = sorted(set(first) | set(second))
    tokens = approx_token_counts([" ".join(m["content"] for m in r["messages"]) for r in rows])
    stats = {
        "kind": cfg.kind,
        "examples": len(rows),
        "preference_examples": n_pref,
        "requested": cfg.n,
        "rounded_to_even": n_pref != cfg.n,
        "mix_examples": n_mix,
        "balance": {o: {"first": first[o], "second": second[o]} for o in options},
        "balanced": all(first[o] == second[o] for o in options),
        "approx_tokens": sum(tokens),
        "usage": {},
        "cost_usd": 0.0,
    }
    atomic_write_text(out / "stripped.jsonl", _jsonl(rows))
    atomic_write_json(out / "stats.json", stats)
    write_manifest(
        out,
        "aftgen",
        config=cfg.model_dump(),
        spec={"path": str(cfg.spec), "sha256": spec.sha256},
        files={"stripped": "stripped.jsonl"},
        mix={
            "path": cfg.mix,
            "sha256": file_sha256(cfg.mix),
            "ratio": cfg.mix_ratio,
            "examples": n_mix,
        }
        if cfg.mix
        else None,
        notes=["preference data has no reasoning, so only the stripped variant exists"],
    )
    return stats
