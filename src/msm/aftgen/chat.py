"""Chat demonstrations: situations -> queries -> dedup -> responses with <think> -> judge.

Backfill: work proceeds in rounds. Round r asks each spec unit for its next
batch of situations (the list machinery makes earlier rounds free to replay),
turns new situations into queries, removes queries that near-duplicate anything
already kept or queued (embedding clusters), answers, judges, and keeps what
passes. Rounds continue until ``n`` examples are kept or ``max_rounds`` is hit.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from msm.aftgen.config import AftgenConfig
from msm.aftgen.think import strip_think
from msm.embed import dedup_texts
from msm.errors import LLMCallError, MsmError
from msm.listgen import ListCollector
from msm.llm import JsonParser, UsageMeter
from msm.prompts import prompt_hash
from msm.spec import Spec
from msm.spec_context import spec_context
from msm.spec_units import Unit, item_id, structure_units
from msm.stagellm import SpecPrompts, load_stage_spec, stage_llms

STAGE = "aftgen"
_THINK = re.compile(r"<think>(.*?)</think>(.*)", re.S | re.I)

# the judge's style criterion for each response style
STYLE_CHECKS = {
    "value": "the reasoning presents the guidelines' values as the assistant's own reasons.",
    "rule": "the reasoning justifies the reply by what the guidelines require (compliance with "
    "the rule), not by the assistant's own preferences.",
    "deliberative": "the reasoning quotes the relevant guideline text and applies it to the "
    "message.",
}


class Verdict(BaseModel):
    faithful: bool
    reason: str = ""


@dataclass
class Example:
    id: str
    unit: Unit
    situation: str
    query: str
    think: str
    answer: str
    round: int
    meta: dict[str, Any] = field(default_factory=dict)


class ChatAftgen(SpecPrompts):
    """One chat-demonstration run. Use :func:`msm.aftgen.run_aftgen`."""

    prompt_folder = "aftgen"

    def __init__(
        self,
        cfg: AftgenConfig,
        out: Path,
        model_args: dict[str, Any] | None = None,
        judge_model_args: dict[str, Any] | None = None,
    ) -> None:
        self.cfg = cfg
        self.spec: Spec = load_stage_spec(cfg)
        self.context = spec_context(self.spec, cfg.context_tokens)
        self.units, _ = structure_units(self.spec, cfg.max_section_tokens)
        if not self.units:
            raise MsmError(f"spec {cfg.spec} yields no usable sections")
        self.usage = UsageMeter()
        self.drops: Counter[str] = Counter()
        self.templates: set[str] = set()
        _, self.llm, self.judge = stage_llms(
            cfg, out, STAGE, self.usage, model_args, judge_model_args
        )
        self.lists = ListCollector(self.llm, self._render, self.drops, STAGE, cfg.max_reasks)
        self.kept: list[Example] = []
        self.counts: Counter[str] = Counter()
        self.dedup_method = "none"

    async def run(self) -> None:
        seen_queries: list[str] = []
        done_situations: dict[str, int] = {}
        for rnd in range(self.cfg.max_rounds):
            want = self.cfg.n_situations * (rnd + 1)
            sits = await asyncio.gather(
                *[
                    self.lists.collect("situations", "situations", want, excerpt=u.excerpt)
                    for u in self.units
                ]
            )
            fresh: list[tuple[Unit, str]] = []
            for u, items in zip(self.units, sits, strict=True):
                start = done_situations.get(u.id, 0)
                fresh += [(u, s) for s in items[start:]]
                done_situations[u.id] = len(items)
            if not fresh:
                self.drops["backfill:no_new_situations"] += 1
                break
            self.counts["situations"] += len(fresh)
            qlists = await asyncio.gather(
                *[
                    self.lists.collect("queries", "queries", self.cfg.n_queries, situation=s)
                    for _, s in fresh
                ]
            )
            candidates = [(u, s, q) for (u, s), qs in zip(fresh, qlists, strict=True) for q in qs]
            self.counts["queries"] += len(candidates)
            candidates.sort(key=lambda c: item_id("q", c[0].id, c[1], c[2]))
            texts = seen_queries + [q for _, _, q in candidates]
            keep, self.dedup_method = dedup_texts(texts, self.cfg.dedup_threshold)
            keep_set = set(keep)
            survivors = []
            for k, cand in enumerate(candidates):
                if len(seen_queries) + k in keep_set:
                    survivors.append(cand)
                else:
                    self.drops["queries:near_duplicate"] += 1
            seen_queries += [q for _, _, q in survivors]
            self.counts["responses_planned"] += len(survivors)
            results = await asyncio.gather(*[self.respond(u, s, q, rnd) for u, s, q in survivors])
            self.kept += [r for r in results if r is not None]
            self.counts["responses_kept"] = len(self.kept)
            self.counts["rounds"] = rnd + 1
            if len(self.kept) >= self.cfg.n:
                break
        if len(self.kept) < self.cfg.n:
            self.drops["backfill:short_of_target"] += 1

    async def respond(self, unit: Unit, situation: str, query: str, rnd: int) -> Example | None:
        cfg = self.cfg
        values: dict[str, object] = {"excerpt": unit.excerpt, "query": query}
        if cfg.style == "rule":
            # the unit's rule ID: a document grounded on the same section cites the same one
            values["rule_ref"] = unit.rule_id
        prompt = self._render(f"response_{cfg.style}", **values)
        try:
            comp = await self.llm.generate(
                prompt,
                stage=f"{STAGE}.responses",
                allow_truncated=True,
                max_tokens=cfg.max_tokens_response,
            )
        except LLMCallError as e:
            self.drops[f"responses:call_{e.reason}"] += 1
            return None
        self.counts["responses"] += 1
        if comp.truncated:
            self.drops["responses:truncated"] += 1
            return None
        m = _THINK.search(comp.text)
        if m is None:
            self.drops["responses:no_think"] += 1
            return None
        think, answer = m.group(1).strip(), strip_think(m.group(2))
        if not think or not answer:
            self.drops["responses:empty_think_or_answer"] += 1
            return None
        if self.judge is not None:
            reply = f"<think>{think}</think>\n\n{answer}"
            extra = f"\n5. Also: {cfg.extra_criterion}" if cfg.extra_criterion else ""
            jp = self._render(
                "judge",
                excerpt=unit.excerpt,
                query=query,
                reply=reply,
                extra=extra,
                style_check=STYLE_CHECKS[cfg.style],
            )
            try:
                res = await self.judge.generate_structured(
                    jp, JsonParser(Verdict), max_reasks=cfg.max_reasks
                )
            except LLMCallError as e:
                self.drops[f"responses:judge_{e.reason}"] += 1  # fails closed
                return None
            if not res.value.faithful:
                self.drops["responses:judge_rejected"] += 1
                return None
        return Example(
            item_id("x", unit.id, situation, query), unit, situation, query, think, answer, rnd
        )

    def prompt_hashes(self) -> dict[str, str]:
        return {n: prompt_hash("aftgen", n) for n in sorted(self.templates)}
