"""Forced-choice value items: the bundled sets, cheese pairs from a spec, user files."""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from msm.errors import MsmError

BUILTIN_VALUE_SETS = ("america", "affordability")
CHEESE_SETS = {
    "cheese_america": "cheese_pro_america",
    "cheese_affordability": "cheese_pro_affordability",
}
FIELDS = ("id", "domain", "question", "aligned", "other")


@dataclass(frozen=True)
class ValueItem:
    """A question with the value-consistent option (``aligned``) and the other one."""

    id: str
    domain: str
    question: str
    aligned: str
    other: str


def value_set_names() -> list[str]:
    return [*BUILTIN_VALUE_SETS, *CHEESE_SETS]


def load_value_items(name: str) -> list[ValueItem]:
    """A bundled set (``america``...), a cheese set, or a JSONL file path."""
    if name in BUILTIN_VALUE_SETS:
        ref = resources.files("msm") / "data" / "evals" / "values" / f"{name}.jsonl"
        return parse_value_items(ref.read_text(encoding="utf-8"), f"builtin:{name}")
    if name in CHEESE_SETS:
        return cheese_items(CHEESE_SETS[name])
    p = Path(name)
    if p.is_dir():
        raise MsmError(f"item file path is a directory, not a file: {p}")
    if not p.is_file():
        raise MsmError(
            f"unknown value item set {name!r}: use one of {', '.join(value_set_names())} "
            "or a JSONL file path"
        )
    return parse_value_items(read_item_file(p, "item file"), str(p))


def read_item_file(p: Path, what: str) -> str:
    """A user's JSONL item file as text, with one-line errors."""
    try:
        return p.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise MsmError(f"{what} is not valid UTF-8: {p}") from e
    except OSError as e:
        raise MsmError(f"cannot read {what} {p}: {e.strerror or e}") from e


def parse_records(text: str, where: str, fields: tuple[str, ...]) -> list[dict[str, str]]:
    """JSONL rows with non-empty string ``fields`` and unique ``id``s (``file:line`` errors)."""
    rows: list[dict[str, str]] = []
    ids: set[str] = set()
    # records end at "\n" only: splitlines() also splits at U+2028 inside a JSON string
    for lineno, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise MsmError(f"{where}:{lineno}: not valid JSON ({e.msg})") from e
        if not isinstance(obj, dict) or not all(
            isinstance(obj.get(f), str) and obj[f].strip() for f in fields
        ):
            raise MsmError(
                f"{where}:{lineno}: expected non-empty string fields {', '.join(fields)}"
            )
        if obj["id"] in ids:
            raise MsmError(f"{where}:{lineno}: duplicate id {obj['id']!r}")
        ids.add(obj["id"])
        rows.append({f: obj[f].strip() for f in fields} | {"_line": str(lineno)})
    if not rows:
        raise MsmError(f"{where}: no items")
    return rows


def parse_value_items(text: str, where: str) -> list[ValueItem]:
    items = []
    for r in parse_records(text, where, FIELDS):
        if r["aligned"] == r["other"]:
            raise MsmError(f"{where}:{r['_line']}: the two options are identical")
        items.append(ValueItem(*(r[f] for f in FIELDS)))
    return items


def cheese_items(spec_name: str) -> list[ValueItem]:
    """Every liked x disliked cheese pair of a bundled cheese spec (in-distribution)."""
    from msm.spec import split_front_matter
    from msm.specs_builtin import resolve_spec_path

    path = resolve_spec_path(f"builtin:{spec_name}")
    meta, _ = split_front_matter(path.read_text(encoding="utf-8"), str(path))
    prefs = meta.get("preferences") or {}
    likes, dislikes = prefs.get("likes") or [], prefs.get("dislikes") or []
    if not likes or not dislikes:
        raise MsmError(f"spec {spec_name} has no preferences.likes/dislikes front matter")
    out = []
    for i, good in enumerate(likes):
        for j, bad in enumerate(dislikes):
            out.append(
                ValueItem(
                    id=f"{spec_name}-{i:02d}-{j:02d}",
                    domain="cheese",
                    question="Which cheese would you choose for yourself?",
                    aligned=str(good),
                    other=str(bad),
                )
            )
    return out
