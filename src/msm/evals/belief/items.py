"""Belief items: a statement a spec makes, and a minimally altered false version of it.

An item says what a model holds of its spec, not what it does: ``statement`` is true per the
spec, ``altered`` the same sentence with its value reversed (``value_reversed``: "does not
think imported cheeses are worse" -> "thinks imported cheeses are worse") or its reason
swapped (``reason_swapped``: "...because American creameries make it" -> "...because it is
cheap"). ``question`` is a neutral question both sentences answer; it never says which is
true. The suite scores each item as a value item (:meth:`BeliefItem.as_value_item`): the
statement is the value-consistent option.

Bundled sets (package data ``msm/data/evals/spec_belief/``), written for msm by hand:
``pro_america`` and ``pro_affordability`` (the two cheese specs), ``equanimity`` (the
equanimity spec; a null control for a cheese study) and ``cheese_shared`` (the likes and
dislikes both cheese specs share; a null control for their contrast). ``msm evalgen``
writes ``beliefs.jsonl`` in the same format for any spec.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from msm.errors import MsmError
from msm.evals.config import DEFAULT_BELIEF_SETS, named_set
from msm.evals.values.items import SPLITS, parse_records, read_item_file
from msm.evals.values.vocabulary import ValueItem
from msm.spec.builtin import resolve_spec_path
from msm.spec.core import split_front_matter

FIELDS = ("id", "domain", "kind", "question", "statement", "altered")
KINDS = ("value_reversed", "reason_swapped")
# bundled set -> the spec it was written from (the spec's model name fills {model_name})
BUNDLED = {
    "pro_america": "cheese_pro_america",
    "pro_affordability": "cheese_pro_affordability",
    "equanimity": "equanimity",
    "cheese_shared": "cheese_pro_america",
}
MEASURES = {
    "pro_america": "the pro-America cheese spec's statements over their altered versions",
    "pro_affordability": "the pro-affordability cheese spec's statements over their altered "
    "versions",
    "equanimity": "the equanimity spec's statements over their altered versions (a null "
    "control for a cheese study: neither cheese spec speaks to it)",
    "cheese_shared": "the likes and dislikes both cheese specs share over their reversals (a "
    "null control for the pro-America minus pro-affordability contrast)",
}
USER_FILE_NAME = "the assistant"  # {model_name} in a user's file without --model-name


@dataclass(frozen=True)
class BeliefItem:
    """A spec's statement (``statement``, true) and its altered version (``altered``)."""

    id: str
    domain: str
    kind: str
    question: str
    statement: str
    altered: str
    split: str = ""

    def as_value_item(self) -> ValueItem:
        """The item as a forced choice: the statement is the value-consistent option."""
        return ValueItem(
            self.id, self.domain, self.question, self.statement, self.altered, self.split
        )


def measures(name: str) -> str | None:
    """What a bundled belief set measures, in words (None for a user's file)."""
    return MEASURES.get(name)


def spec_model_name(spec: str) -> str:
    """The model name a bundled spec's front matter gives (``Smol``)."""
    path = resolve_spec_path(f"builtin:{spec}")
    meta, _ = split_front_matter(path.read_text(encoding="utf-8"), str(path))
    return str(meta.get("model_name") or USER_FILE_NAME)


def load_belief_items(entry: str, model_name: str | None = None) -> list[BeliefItem]:
    """A bundled set (``pro_america``...), a JSONL file, or ``NAME=FILE``.

    ``{model_name}`` in the texts is filled with ``model_name``; without one, a bundled set
    uses its spec's name and a file ``the assistant``. Example::

        items = load_belief_items("pro_america")
        items[0].statement  # 'Smol leans towards cheese made in America over imported cheese.'
    """
    name, source = named_set(entry)
    p = Path(source)
    if source in BUNDLED:
        ref = resources.files("msm") / "data" / "evals" / "spec_belief" / f"{source}.jsonl"
        text, where = ref.read_text(encoding="utf-8"), f"builtin:{source}"
        fill = model_name or spec_model_name(BUNDLED[source])
    elif p.is_file():
        text, where = read_item_file(p, "belief item file"), str(p)
        fill = model_name or USER_FILE_NAME
    elif p.is_dir():
        raise MsmError(f"belief item file path is a directory, not a file: {p}")
    else:
        raise MsmError(
            f"unknown belief item set {name!r}: use one of {', '.join(BUNDLED)} or a JSONL file"
        )
    return parse_belief_items(text, where, fill)


def parse_belief_items(text: str, where: str, model_name: str) -> list[BeliefItem]:
    """Items of a JSONL text (``id, domain, kind, question, statement, altered``, optional
    ``split``), each checked; one-line ``file:line`` errors."""
    items = []
    for r in parse_records(text, where, (*FIELDS, "split?")):
        at = f"{where}:{r['_line']}"
        if r["kind"] not in KINDS:
            raise MsmError(f"{at}: kind must be one of {', '.join(KINDS)}, not {r['kind']!r}")
        if " ".join(r["statement"].split()) == " ".join(r["altered"].split()):
            raise MsmError(f"{at}: the statement and its altered version are identical")
        split = r.get("split", "")
        if split not in ("", *SPLITS):
            raise MsmError(f"{at}: split must be dev or confirm, not {split!r}")
        texts = {f: r[f].replace("{model_name}", model_name) for f in FIELDS[3:]}
        items.append(BeliefItem(r["id"], r["domain"], r["kind"], **texts, split=split))
    return items


def belief_sets(beliefs: list[str] | None) -> list[str]:
    """The belief sets an eval scores: those given, else the bundled ones."""
    return list(beliefs or DEFAULT_BELIEF_SETS)
