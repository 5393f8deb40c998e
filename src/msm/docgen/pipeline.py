"""The docgen pipeline: spec -> units -> assertions -> doc types -> ideas -> documents.

Branches are pipelined: each unit's chain runs as its own task, so documents for
finished branches are written while other branches are still planning, and every
LLM call goes through one shared ``LLM`` (one global concurrency limit). Every
call is stored as it finishes (``.msm/llm.sqlite``), so a killed run resumes
without repeating finished calls, and the whole tree is rebuilt from the store
deterministically. Lists are generated in fixed-size rounds, each round told to
avoid what earlier rounds produced; raising a count adds rounds, so earlier items
(and everything below them) are reused and only the missing ones are generated.
"""

from __future__ import annotations

import asyncio
import random
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from msm._util.dedup import near_duplicates
from msm._util.progress import StageProgress, progress_mode, watch
from msm.docgen.catalogue import pick_genres
from msm.docgen.config import DocgenConfig
from msm.docgen.filters import check_document, extract_document, trim_to_sentence
from msm.docgen.projection import merge_sections
from msm.errors import LLMCallError, MsmError
from msm.gen.listgen import ListCollector, clean_item
from msm.gen.prompts import prompt_hash
from msm.gen.stagellm import SpecPrompts
from msm.llm import (
    JsonParser,
    Message,
)
from msm.llm.think import strip_reasoning
from msm.spec.context import reason_attributed, spec_statements, value_terms
from msm.spec.units import (
    MIN_UNIT_WORDS,
    Unit,
    assign_rule_ids,
    item_id,
    normalise_for_match,
    quote_in_spec,
    structure_units,
)

STAGE = "docgen"


@dataclass
class Assertion:
    id: str
    unit_id: str
    index: int
    text: str
    rule_id: str | None = None


@dataclass
class Idea:
    id: str
    assertion_id: str
    doc_type: str
    index: int
    text: str


@dataclass
class Generation:
    """One document attempt, kept or dropped (with the reason)."""

    id: str
    idea_id: str
    sample: int
    text: str
    drop: str | None
    output_tokens: int
    meta: dict[str, Any] = field(default_factory=dict)


class Verdict(BaseModel):
    faithful: bool
    reason: str = ""


@dataclass
class Progress:
    """Counts shown while running and saved in stats.json."""

    counts: Counter[str] = field(default_factory=Counter)
    drops: Counter[str] = field(default_factory=Counter)
    started: float = field(default_factory=time.monotonic)

    def line(self) -> str:
        c = self.counts
        planned = c["documents_planned"]
        done = c["documents_done"]
        elapsed = time.monotonic() - self.started
        eta = "?"
        if done and planned > done and c["units_planned"] == c["units_done"]:
            eta = f"{(planned - done) * elapsed / done:.0f}s"
        return (
            f"docgen: units {c['units_done']}/{c['units_planned']} | assertions "
            f"{c['assertions']} | ideas {c['ideas']} | documents {done}/{planned} "
            f"(kept {c['documents_kept']}) | {elapsed:.0f}s elapsed, ETA {eta}"
        )


IDEA_ANGLES = (
    "told through one concrete everyday situation",
    "from the point of view of someone who uses the assistant",
    "from the point of view of the people who build the assistant",
    "comparing this choice with the alternatives it turns down",
    "answering a sceptic's objection",
    "as a short history of how the practice came about",
)


def template_ideas(doc_type: str, n: int) -> list[str]:
    """``n`` fixed idea lines for ``doc_type`` (``ideas_from: template``)."""
    return [f"A {doc_type} {IDEA_ANGLES[k % len(IDEA_ANGLES)]}" for k in range(n)]


class Docgen(SpecPrompts):
    """One docgen run over one spec. Use :func:`run_docgen`."""

    stage = STAGE
    prompt_folder = "docgen"

    cfg: DocgenConfig

    def check_spec(self) -> None:
        if not structure_units(self.spec, self.cfg.max_section_tokens)[0]:
            raise MsmError(
                f"spec {self.cfg.spec} yields no usable sections to generate from (each needs "
                f"at least {MIN_UNIT_WORDS} words of its own)"
            )

    def start(self) -> None:
        self.spec_norm = normalise_for_match(self.spec.text)
        self.value_terms = value_terms(self.spec)
        self.progress = Progress()
        self.lists = ListCollector(
            self.llm, self._render, self.progress.drops, STAGE, self.cfg.max_reasks
        )
        self.units: list[Unit] = []
        self.assertions: list[Assertion] = []
        self.ideas: list[Idea] = []
        self.generations: list[Generation] = []
        self.timings: dict[str, float] = {}

    # -- helpers -----------------------------------------------------------
    def drop(self, reason: str) -> None:
        self.progress.drops[reason] += 1

    async def collect(self, stage: str, template: str, n: int, **values: object) -> list[str]:
        """n distinct list items (see :mod:`msm.gen.listgen`)."""
        return await self.lists.collect(stage, template, n, sample=0, **values)

    # -- stages ------------------------------------------------------------
    async def plan_units(self) -> list[Unit]:
        if self.cfg.planner == "structure":
            units, skipped = structure_units(self.spec, self.cfg.max_section_tokens)
            for reason, k in skipped.items():
                self.progress.counts[f"units:{reason}"] += k
            return units
        return await self._llm_units()

    async def _llm_units(self) -> list[Unit]:
        class Sub(BaseModel):
            name: str
            summary: str = ""
            quote: str

        class Subs(BaseModel):
            subdomains: list[Sub]

        # chunks of whole sections keep each planning prompt inside the context window
        sections = structure_units(self.spec, self.cfg.max_section_tokens)[0]
        merged = merge_sections([u.excerpt for u in sections], self.cfg.max_section_tokens)
        units: list[Unit] = []
        for ci, chunk in enumerate(merged or [self.spec.text]):
            domains = await self.collect("domains", "domains", self.cfg.n_domains, excerpt=chunk)
            for domain in domains:
                prompt = self._render(
                    "subdomains", excerpt=chunk, domain=domain, n=self.cfg.n_subdomains
                )
                try:
                    res = await self.llm.generate_structured(
                        prompt,
                        JsonParser(Subs),
                        stage=f"{STAGE}.subdomains",
                        max_reasks=self.cfg.max_reasks,
                        max_tokens=1500,
                    )
                except LLMCallError as e:
                    self.drop(f"subdomains:{e.reason}")
                    continue
                for sub in res.value.subdomains[: self.cfg.n_subdomains]:
                    if not quote_in_spec(sub.quote, self.spec_norm):
                        self.drop("subdomains:quote_not_in_spec")
                        continue
                    name = clean_item(sub.name, 200) or "(unnamed)"
                    units.append(
                        Unit(
                            id=item_id("u", ci, domain, name, sub.quote),
                            domain=clean_item(domain, 200),
                            subdomain=name,
                            summary=clean_item(sub.summary, 600),
                            excerpt=sub.quote.strip(),
                            section_ids=(),
                            position=len(units),
                        )
                    )
        return assign_rule_ids(units, self.spec)

    async def run_unit(self, unit: Unit) -> None:
        template = "assertions_values" if self.cfg.mode == "values" else "assertions_rules"
        if self.cfg.assertions_from == "spec":
            # in values mode, only sentences that state the value (when the spec names its
            # value terms): a section that never states it gives no assertion
            texts = spec_statements(
                unit.excerpt,
                self.spec.model_name,
                self.value_terms,
                self.cfg.n_assertions,
                fallback=self.cfg.mode != "values",
            )
            if not texts:
                self.drop("assertions:no_statement_in_section")
        else:
            texts = await self.collect(
                "assertions",
                template,
                self.cfg.n_assertions,
                excerpt=unit.excerpt,
                section_title=unit.subdomain,
            )
        tasks = []
        # every assertion of a unit cites the unit's ID, the one AFT responses cite too
        rule_id = (unit.rule_id or None) if self.cfg.mode == "rules" else None
        for k, text in enumerate(texts):
            a = Assertion(item_id("a", unit.id, k, text), unit.id, k, text, rule_id)
            self.assertions.append(a)
            self.progress.counts["assertions"] += 1
            tasks.append(self.run_assertion(unit, a))
        await asyncio.gather(*tasks)
        self.progress.counts["units_done"] += 1

    async def run_assertion(self, unit: Unit, a: Assertion) -> None:
        if self.cfg.doc_types_from == "catalogue":
            types = pick_genres(a.id, self.cfg.n_doc_types)
        else:
            types = await self.collect(
                "doc_types", "doctypes", self.cfg.n_doc_types, assertion=a.text
            )
        await asyncio.gather(*[self.run_doc_type(unit, a, t) for t in types])

    async def run_doc_type(self, unit: Unit, a: Assertion, doc_type: str) -> None:
        if self.cfg.ideas_from == "template":
            texts = template_ideas(doc_type, self.cfg.n_ideas)
        else:
            texts = await self.collect(
                "ideas", "ideas", self.cfg.n_ideas, assertion=a.text, doc_type=doc_type
            )
        jobs = []
        for k, text in enumerate(texts):
            idea = Idea(item_id("i", a.id, doc_type, k, text), a.id, doc_type, k, text)
            self.ideas.append(idea)
            self.progress.counts["ideas"] += 1
            self.progress.counts["documents_planned"] += self.cfg.docs_per_idea
            jobs += [self.run_document(unit, a, idea, s) for s in range(self.cfg.docs_per_idea)]
        await asyncio.gather(*jobs)

    async def run_document(self, unit: Unit, a: Assertion, idea: Idea, sample: int) -> None:
        cfg = self.cfg
        if cfg.mode == "rules":
            template = "document_rules"
        else:
            template = "document_values" if cfg.plan_first else "document_short"
        values: dict[str, object] = dict(
            assertion=a.text,
            excerpt=unit.excerpt,
            doc_type=idea.doc_type,
            idea=idea.text,
            length=cfg.doc_words,
        )
        if cfg.mode == "rules":
            values["rule_id"] = a.rule_id or ""
        prompt = self._render(template, **values)
        gid = item_id("d", idea.id, sample)
        meta = {
            "domain": unit.domain,
            "subdomain": unit.subdomain,
            "unit_id": unit.id,
            "assertion": a.text,
            "assertion_id": a.id,
            "rule_id": a.rule_id,
            "doc_type": idea.doc_type,
            "idea": idea.text,
        }
        text, drop, n_out = "", None, 0
        opening = a.text if cfg.document_start == "statement" else ""
        messages = list(prompt)
        if opening:  # the answer starts with the assertion; the generator continues it
            messages.append(Message(role="assistant", content=opening))
        try:
            comp = await self.llm.generate(
                messages,
                sample=sample,
                stage=f"{STAGE}.documents",
                allow_truncated=True,
                # the short prompt has no plan to make room for
                max_tokens=cfg.max_tokens_doc + (cfg.max_tokens_plan if cfg.plan_first else 0),
            )
            n_out = comp.output_tokens
            # a reasoning model's <think> block is kept in the store, never in a document
            text = strip_reasoning(comp.text)
            if opening:
                text = opening + ("" if text[:1].isspace() else " ") + text
            raw: str | None = text
            if comp.truncated:
                # cut back to the last whole sentence, or drop (cfg.truncated)
                raw = trim_to_sentence(text) if cfg.truncated == "trim" else None
                if raw is not None:
                    self.progress.counts["documents_trimmed"] += 1
            if raw is None:
                drop = "truncated"
            else:
                doc, drop = extract_document(raw)
                text = doc or ""
                if drop is None:
                    drop = check_document(text, self.spec.model_name, cfg.min_words, a.rule_id)
                if drop is None and self.value_terms:
                    drop = self._reason_check(text, opening)
        except LLMCallError as e:
            drop = f"call_{e.reason}"
        if drop is None and self.judge is not None:
            drop = await self._judge(unit, text)
        self.generations.append(Generation(gid, idea.id, sample, text, drop, n_out, meta))
        self.progress.counts["documents_done"] += 1
        if drop is None:
            self.progress.counts["documents_kept"] += 1
        else:
            self.drop(f"documents:{drop}")

    def _reason_check(self, text: str, opening: str) -> str | None:
        """The cheap reason check: one sentence names the model and the value.

        In ``document_start: statement`` mode the opening is a spec sentence chosen because
        it names the model and a value term, so a check over the whole text could never
        fail: it reads only the generated continuation (the document keeps its opening).
        How many continuations carry a reason of their own is counted either way;
        ``own_reason: count`` keeps those without one (counted, not dropped)."""
        cfg = self.cfg
        own = text
        if opening:
            # the extracted document starts with the opening unless the generator
            # wrapped its continuation in <document> tags (then all of it is its own)
            own = text[len(opening) :] if text.startswith(opening) else text
        has_reason = reason_attributed(own, self.spec.model_name, self.value_terms)
        if opening:
            self.progress.counts["continuations_checked"] += 1
            self.progress.counts["continuation_reasons"] += int(has_reason)
        if opening and cfg.own_reason == "count":
            return None  # counted above, kept: the reason is the opening's
        if self.judge is None and cfg.mode == "values" and not has_reason:
            return "no_reason"  # rule-mode documents cite the rule instead
        return None

    async def _judge(self, unit: Unit, text: str) -> str | None:
        assert self.judge is not None
        extra = (
            f"Also check this criterion: {self.cfg.judge_criterion}"
            if self.cfg.judge_criterion
            else ""
        )
        prompt = self._render("judge", excerpt=unit.excerpt, document=text, extra=extra)
        try:
            res = await self.judge.generate_structured(
                prompt, JsonParser(Verdict), max_reasks=self.cfg.max_reasks
            )
        except LLMCallError as e:
            return f"judge_{e.reason}"  # fails closed: no verdict, no document
        return None if res.value.faithful else "judge_rejected"

    # -- driver --------------------------------------------------------------
    async def run(self, quiet: bool) -> None:
        self.units = await self.plan_units()
        if not self.units:
            raise MsmError(f"spec {self.cfg.spec} yields no usable sections to generate from")
        self.progress.counts["units_planned"] = len(self.units)
        tasks = [self.run_unit(u) for u in self.units]
        reporter = asyncio.create_task(self._report(quiet))
        t = time.monotonic()
        try:
            await asyncio.gather(*tasks)
        finally:
            reporter.cancel()
        self.timings["generation_s"] = round(time.monotonic() - t, 3)
        if not quiet:
            print(self.progress.line(), file=sys.stderr)
        t = time.monotonic()
        self._dedup()
        self.timings["dedup_s"] = round(time.monotonic() - t, 3)

    async def _report(self, quiet: bool) -> None:
        """A live bar on a terminal; in a log, the progress line every 15 seconds."""
        if quiet:
            return
        if progress_mode() != "bar":
            while True:
                await asyncio.sleep(15.0)
                print(self.progress.line(), file=sys.stderr, flush=True)
        c = self.progress.counts

        def read() -> tuple[int, int, str]:
            note = (
                f"units {c['units_done']}/{c['units_planned']}, ideas {c['ideas']}, "
                f"kept {c['documents_kept']}"
            )
            return c["documents_done"], c["documents_planned"], note

        with StageProgress("docgen", "documents") as bar:
            await watch(bar, read)

    def _dedup(self) -> None:
        kept = sorted((g for g in self.generations if g.drop is None), key=lambda g: g.id)
        dups = near_duplicates([g.text for g in kept], threshold=self.cfg.dedup_threshold)
        for g, dup in zip(kept, dups, strict=True):
            if dup is not None:
                g.drop = "near_duplicate"
                g.meta["duplicate_of"] = kept[dup].id
                self.drop("documents:near_duplicate")
                self.progress.counts["documents_kept"] -= 1

    def prompt_hashes(self) -> dict[str, str]:
        return {name: prompt_hash("docgen", name) for name in sorted(self.templates)}

    def kept_documents(self) -> list[dict[str, Any]]:
        spec_hash = self.spec.sha256
        rows = [
            {
                "id": g.id,
                "text": g.text,
                **g.meta,
                "sample": g.sample,
                "spec_hash": spec_hash,
                "mode": self.cfg.mode,
                "generator": self.cfg.model,
                "model_name": self.spec.model_name,
            }
            for g in sorted(self.generations, key=lambda g: g.id)
            if g.drop is None
        ]
        random.Random(self.cfg.seed).shuffle(rows)
        return rows

    def stage_rows(self) -> dict[str, list[dict[str, Any]]]:
        # shallow copies: these rows are only serialised (asdict's deep copy was slow)
        return {
            "units": [u.as_dict() for u in sorted(self.units, key=lambda u: u.position)],
            "assertions": [dict(vars(a)) for a in sorted(self.assertions, key=lambda a: a.id)],
            "ideas": [dict(vars(i)) for i in sorted(self.ideas, key=lambda i: i.id)],
            "generations": [dict(vars(g)) for g in sorted(self.generations, key=lambda g: g.id)],
        }
