"""Chat demonstrations: situations -> queries -> dedup -> responses with <think> -> judge.

Backfill: work proceeds in rounds sized by what is still missing (:mod:`msm.aftgen.plan`).
A round answers about ``missing / keep rate`` queued queries, picked so every spec unit
gets its share. When the queue is too short, each unit is asked for more situations
(lists of ``SITUATION_CHAIN``, each under its own sample index, so prompts stay short and
there is no ceiling), new situations become queries, and queries that near-duplicate
anything queued or answered are removed (embedding clusters). Rounds end when ``n`` are
kept, or with a recorded stop reason: ``max_rounds``, the response budget, no new
situations or queries, or nothing passing. Every decision is a function of the stored
answers, so a rerun replays the same calls for free.
"""

from __future__ import annotations

import asyncio
import heapq
import re
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from msm._util.embed import dedup_texts
from msm._util.progress import with_progress
from msm.aftgen import plan
from msm.aftgen.config import AftgenConfig
from msm.aftgen.think import strip_think
from msm.errors import LLMCallError, MsmError
from msm.gen.listgen import ListCollector, item_key
from msm.gen.prompts import prompt_hash
from msm.gen.stagellm import SpecPrompts
from msm.llm import JsonParser
from msm.spec.units import Unit, item_id, structure_units

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
    order: int  # when it was picked: the first n in this order are the balanced ones kept
    meta: dict[str, Any] = field(default_factory=dict)


class ChatAftgen(SpecPrompts):
    """One chat-demonstration run. Use :func:`msm.aftgen.run_aftgen`."""

    stage = STAGE
    prompt_folder = "aftgen"

    cfg: AftgenConfig

    def check_spec(self) -> None:
        self.units, _ = structure_units(self.spec, self.cfg.max_section_tokens)
        if not self.units:
            raise MsmError(f"spec {self.cfg.spec} yields no usable sections")

    def start(self) -> None:
        self.drops: Counter[str] = Counter()
        self.lists = ListCollector(self.llm, self._render, self.drops, STAGE, self.cfg.max_reasks)
        self.kept: list[Example] = []
        self.counts: Counter[str] = Counter()
        self.dedup_method = "none"
        self.stop: str | None = None  # why rounds ended short of n (plan.STOP_REASONS)
        self.dry: str | None = None  # what the last request for new queries ran out of
        # backfill state: situation lists per unit, queued queries, what was picked
        self.chains: dict[str, list[list[int]]] = {}
        self.used_situations: dict[str, set[str]] = {}
        self.queue: dict[str, deque[tuple[Unit, str, str]]] = {u.id: deque() for u in self.units}
        self.seen_queries: list[str] = []
        self.n_picked = 0
        self.kept_so_far = 0

    async def run(self) -> None:
        """The rounds, with their progress shown (a bar on a terminal, lines in a log)."""
        c = self.counts

        def read() -> tuple[int, int, str]:
            note = f"answered {c['responses']}, round {c['rounds'] + 1}"
            return min(self.kept_so_far, self.cfg.n), self.cfg.n, note

        await with_progress(STAGE, "examples kept", read, self.rounds())

    async def rounds(self) -> None:
        cfg = self.cfg
        budget = plan.response_budget(cfg.n, cfg.max_responses_factor)
        answered = 0
        for rnd in range(cfg.max_rounds):
            missing = cfg.n - len(self.kept)
            if missing <= 0:
                break
            if answered >= budget:
                self.stop = "response_budget"
                break
            if answered >= plan.STALL_ANSWERS and not self.kept:
                self.stop = "nothing_kept"
                break
            ask = min(plan.answers_to_ask(missing, answered, len(self.kept)), budget - answered)
            rate = len(self.kept) / answered if answered else 1.0
            short = {
                uid: k - len(self.queue[uid])
                for uid, k in self.shares(ask, rate).items()
                if k > len(self.queue[uid])
            }
            if short:
                await self.more_queries(short)
            batch = self.pick(ask, rate)
            if not batch:  # nothing queued, nothing new: the model ran dry
                self.stop = self.dry or "no_new_queries"
                break
            answered += len(batch)
            self.counts["responses_planned"] += len(batch)
            results = await asyncio.gather(
                *[self.respond(u, s, q, rnd, order) for order, (u, s, q) in batch]
            )
            self.kept += [r for r in results if r is not None]
            self.counts["responses_kept"] = len(self.kept)
            self.counts["rounds"] = rnd + 1
        if len(self.kept) < cfg.n:
            self.stop = self.stop or "max_rounds"
            self.drops[f"backfill:{self.stop}"] += 1
            self.drops["backfill:short_of_target"] += 1

    async def more_queries(self, wanted: dict[str, int]) -> None:
        """Queue about ``wanted[unit id]`` more deduplicated queries for those units (fewer,
        with a stop reason recorded, when the model runs dry)."""
        cfg = self.cfg
        self.dry = None
        units = [u for u in self.units if u.id in wanted]
        asks = [
            max(
                cfg.n_situations,
                plan.situations_to_ask(
                    wanted[u.id],
                    self.counts["situations"],
                    self.counts["queries_queued"],
                    cfg.n_queries,
                ),
            )
            for u in units
        ]
        found = await asyncio.gather(
            *[self.situations(u, k) for u, k in zip(units, asks, strict=True)]
        )
        fresh = [(u, s) for u, items in zip(units, found, strict=True) for s in items]
        if not fresh:
            self.dry = "no_new_situations"
            return
        self.counts["situations"] += len(fresh)
        qlists = await asyncio.gather(
            *[
                self.lists.collect("queries", "queries", cfg.n_queries, situation=s)
                for _, s in fresh
            ]
        )
        candidates = [(u, s, q) for (u, s), qs in zip(fresh, qlists, strict=True) for q in qs]
        self.counts["queries"] += len(candidates)
        candidates.sort(key=lambda c: item_id("q", c[0].id, c[1], c[2]))
        texts = self.seen_queries + [q for _, _, q in candidates]
        keep, self.dedup_method = dedup_texts(texts, cfg.dedup_threshold)
        keep_set = set(keep)
        added = 0
        for k, (u, s, q) in enumerate(candidates, start=len(self.seen_queries)):
            if k in keep_set:
                self.queue[u.id].append((u, s, q))
                self.seen_queries.append(q)  # later candidates are compared with it too
                added += 1
            else:
                self.drops["queries:near_duplicate"] += 1
        self.counts["queries_queued"] += added
        if not added:
            self.dry = "no_new_queries"

    async def situations(self, unit: Unit, more: int) -> list[str]:
        """Up to ``more`` situations for ``unit`` not used before.

        A unit's situations come from lists of at most ``SITUATION_CHAIN`` items, list k
        asked under sample index k, so no "don't repeat" prompt grows without bound and
        there is no ceiling. A list that came back shorter than asked has run dry; more
        come from the next list. A list only grows: its earlier calls replay from the store.
        """
        chains = self.chains.setdefault(unit.id, [])  # [asked, got] per list
        want: dict[int, int] = {}
        if chains and chains[-1][1] >= chains[-1][0] and chains[-1][0] < plan.SITUATION_CHAIN:
            add = min(more, plan.SITUATION_CHAIN - chains[-1][0])
            want[len(chains) - 1] = chains[-1][0] + add
            more -= add
        k = len(chains)
        while more > 0:
            want[k] = min(more, plan.SITUATION_CHAIN)
            more -= want[k]
            k += 1
        lists = await asyncio.gather(
            *[
                self.lists.collect("situations", "situations", n, sample=k, excerpt=unit.excerpt)
                for k, n in want.items()
            ]
        )
        used = self.used_situations.setdefault(unit.id, set())
        out = []
        for (k, n), items in zip(want.items(), lists, strict=True):
            if k == len(chains):
                chains.append([0, 0])
            chains[k] = [n, len(items)]
            for item in items:
                key = item_key(item)
                if key not in used:
                    used.add(key)
                    out.append(item)
        return out

    def shares(self, k: int, rate: float) -> Counter[str]:
        """How ``k`` answers split over the units so the kept spread evenly: each goes to
        the unit expected to have the fewest kept (kept so far + ``rate`` x its share so
        far; ties: spec order)."""
        have = Counter(e.unit.id for e in self.kept)
        heap = [(float(have[u.id]), u.position, u.id) for u in self.units]
        heapq.heapify(heap)
        out: Counter[str] = Counter()
        for _ in range(k):
            n, pos, uid = heapq.heappop(heap)
            out[uid] += 1
            heapq.heappush(heap, (n + rate, pos, uid))
        return out

    def pick(self, k: int, rate: float) -> list[tuple[int, tuple[Unit, str, str]]]:
        """Up to ``k`` queued queries, split as :meth:`shares` would (a unit whose queue ran
        short leaves its turns to the others), numbered in pick order."""
        have = Counter(e.unit.id for e in self.kept)
        heap = [(float(have[u.id]), u.position, u.id) for u in self.units if self.queue[u.id]]
        heapq.heapify(heap)
        out: list[tuple[int, tuple[Unit, str, str]]] = []
        while heap and len(out) < k:
            n, pos, uid = heapq.heappop(heap)
            out.append((self.n_picked, self.queue[uid].popleft()))
            self.n_picked += 1
            if self.queue[uid]:
                heapq.heappush(heap, (n + rate, pos, uid))
        return out

    def selected(self) -> list[Example]:
        """The ``n`` kept examples to write: spread as evenly over the units as the kept
        allow (a round's spare answers are what is left out), in pick order."""
        by_unit: dict[str, deque[Example]] = {}
        for e in sorted(self.kept, key=lambda e: e.order):
            by_unit.setdefault(e.unit.id, deque()).append(e)
        heap = [(0, q[0].unit.position, uid) for uid, q in by_unit.items()]
        heapq.heapify(heap)
        out: list[Example] = []
        while heap and len(out) < self.cfg.n:
            n, pos, uid = heapq.heappop(heap)
            out.append(by_unit[uid].popleft())
            if by_unit[uid]:
                heapq.heappush(heap, (n + 1, pos, uid))
        return sorted(out, key=lambda e: e.order)

    async def respond(
        self, unit: Unit, situation: str, query: str, rnd: int, order: int
    ) -> Example | None:
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
        self.kept_so_far += 1  # live progress only (stats.json counts the kept at round end)
        return Example(
            item_id("x", unit.id, situation, query),
            unit,
            situation,
            query,
            think,
            answer,
            rnd,
            order,
        )

    def prompt_hashes(self) -> dict[str, str]:
        return {n: prompt_hash("aftgen", n) for n in sorted(self.templates)}
