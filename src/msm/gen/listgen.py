"""Lists from an LLM in fixed rounds: the machinery docgen and aftgen share.

Each round asks for ``ROUND`` items and lists every earlier item as "don't
repeat"; a list of n items is the first n of as many rounds as needed. Because
round k never depends on n, raising n on a rerun reuses all earlier rounds from
the store and only adds new ones. Items are untrusted: control characters are
stripped, length is capped, case/whitespace duplicates are dropped and counted.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Callable

from msm.errors import LLMCallError
from msm.llm import LLM, LineListParser, Message

ROUND = 5
MAX_EXTRA_ROUNDS = 2
# C0 and C1 controls (tab and newline too: a name is one line), DEL, line and paragraph
# separators, and the bidi embedding/override/isolate marks, which make text display in
# another order than it is stored ("Trojan Source")
_CTRL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_WS = re.compile(r"\s+")


def clean_item(text: str, max_chars: int = 600) -> str:
    """LLM-chosen names and list items are metadata: control, line-separator and bidi
    characters become spaces, and the length is capped."""
    text = _CTRL.sub(" ", unicodedata.normalize("NFC", text)).strip()
    return text[:max_chars]


def item_key(text: str) -> str:
    """Case- and whitespace-insensitive identity of a list item."""
    return _WS.sub(" ", text).strip().casefold()


class ListCollector:
    """Collects distinct list items from one ``LLM``, counting every drop by reason."""

    def __init__(
        self,
        llm: LLM,
        render: Callable[..., str | list[Message]],
        drops: Counter[str],
        stage_prefix: str,
        max_reasks: int = 2,
    ) -> None:
        self.llm = llm
        self.render = render
        self.drops = drops
        self.stage_prefix = stage_prefix
        self.max_reasks = max_reasks

    async def collect(
        self, stage: str, template: str, n: int, *, sample: int = 0, **values: object
    ) -> list[str]:
        """n distinct items (fewer, counted, if the model runs dry or fails). Another
        ``sample`` index asks the same prompts afresh (another seed): a separate list."""
        items: list[str] = []
        seen: set[str] = set()
        rounds = -(-n // ROUND) + MAX_EXTRA_ROUNDS
        for _ in range(rounds):
            if len(items) >= n:
                break
            avoid = ""
            if items:
                listed = "\n".join(f"- {x}" for x in items)
                avoid = f"\nWe already have these; do not repeat them or near-copies:\n{listed}\n"
            prompt = self.render(template, n=ROUND, avoid=avoid, **values)
            parser = LineListParser(min_items=1, max_items=ROUND * 2, max_chars=600)
            try:
                res = await self.llm.generate_structured(
                    prompt,
                    parser,
                    sample=sample,
                    stage=f"{self.stage_prefix}.{stage}",
                    max_reasks=self.max_reasks,
                    drop_cut_line=True,
                )
            except LLMCallError as e:
                self.drops[f"{stage}:{e.reason}"] += 1
                break
            if res.completion.truncated:
                self.drops[f"{stage}:cut_line_dropped"] += 1
            overlong = parser.parse_counting(res.completion.text)[1]
            if overlong:
                self.drops[f"{stage}:overlong_item"] += overlong
            new = 0
            for raw in res.value:
                item = clean_item(raw)
                key = item_key(item)
                if not item or key in seen:
                    self.drops[f"{stage}:duplicate"] += 1
                    continue
                seen.add(key)
                items.append(item)
                new += 1
            if new == 0:
                break
        if len(items) < n:
            self.drops[f"{stage}:fewer_than_asked"] += 1
        return items[:n]
