"""``msm items``: the value item sets: list them, audit one for confounds."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from msm.cli._common import app
from msm.errors import MsmError
from msm.evals.belief.items import BUNDLED as BELIEF_SETS
from msm.evals.belief.items import load_belief_items
from msm.evals.belief.items import measures as belief_measures
from msm.evals.config import named_set
from msm.evals.values.audit import RULES, audit, control_clean, rules_for
from msm.evals.values.items import (
    CONTROL_SUFFIX,
    load_value_items,
    measures,
    select_split,
    value_set_names,
)

items_app = typer.Typer(
    help="Value item sets: list, show, audit for confounds.", no_args_is_help=True
)
app.add_typer(items_app, name="items")


@items_app.command("list")
def items_list() -> None:
    """The bundled value item sets, their sizes and what each measures."""

    for name in value_set_names():
        n = len(load_value_items(name))
        typer.echo(f"{name:<22} {n:>4} items  {measures(name) or ''}")


@items_app.command("show")
def items_show(
    items: Annotated[
        str,
        typer.Argument(
            help="A bundled set name or a JSONL item file (value items, or spec_belief items: "
            "statement against altered version)"
        ),
    ],
    split: Annotated[
        str, typer.Option("--split", help="Only this split's items: all | dev | confirm.")
    ] = "all",
    control: Annotated[
        bool, typer.Option("--control", help="Only the items of the set's control subset.")
    ] = False,
    model_name: Annotated[
        str | None, typer.Option("--model-name", help="The name in cheese questions.")
    ] = None,
) -> None:
    """Print a set's items as JSONL, each with its split and whether it is in the set's
    control subset (no value term of either cheese spec, no place they name): exactly
    what an eval of the set measures."""

    base = items.removesuffix(CONTROL_SUFFIX)
    has_control = rules_for(base).literal is not None
    if control and not has_control:
        raise MsmError(f"{items} has no control subset (only america and affordability do)")
    loaded = select_split(load_value_items(items, model_name), split, items)
    for it in loaded:
        in_control = has_control and control_clean(it)
        if control and not in_control:
            continue
        row = {
            "id": it.id,
            "domain": it.domain,
            "question": it.question,
            "aligned": it.aligned,
            "other": it.other,
            "split": it.split or None,
            "control": in_control,
        }
        typer.echo(json.dumps(row, ensure_ascii=False))


def _is_belief_file(source: str) -> bool:
    """A JSONL file whose first record is a belief item (it has a ``statement``)."""
    p = Path(source)
    if not p.is_file():
        return False
    with p.open(encoding="utf-8", errors="replace") as f:
        first = next((ln for ln in f if ln.strip()), "")
    try:
        rec = json.loads(first)
    except json.JSONDecodeError:
        return False
    return isinstance(rec, dict) and "statement" in rec


def _audited_items(items: str) -> list[Any]:
    """Value items as they are; belief items as forced choices (the statement is the
    value-consistent option, its altered version the other), audited alike."""
    source = named_set(items)[1]
    if source in BELIEF_SETS or _is_belief_file(source):
        return [it.as_value_item() for it in load_belief_items(items)]
    return load_value_items(items)


@items_app.command("audit")
def items_audit(
    items: Annotated[
        str,
        typer.Argument(
            help="A bundled set name or a JSONL item file (value items, or spec_belief items: "
            "statement against altered version)"
        ),
    ],
    value: Annotated[
        str | None,
        typer.Option(
            "--value",
            help="Audit rules to apply: america | affordability | generic "
            "(default: the bundled set's own, generic for a file).",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the audit as JSON.")] = False,
) -> None:
    """Count confound words (quality, price, nationality, luxury) on each side of a value
    item set and check them against the set's limits; exit 1 when a limit is broken."""

    if value is not None and value not in RULES:
        raise MsmError(f"unknown --value {value!r}: use one of {', '.join(RULES)}")
    rules = rules_for(value or items)
    loaded = _audited_items(items)
    res = audit(loaded, rules)
    if as_json:
        typer.echo(json.dumps(res, indent=1))
    else:
        what = belief_measures(named_set(items)[1]) or rules.value
        typer.echo(f"{items}: {res['items']} items; measures {what}")
        if rules.literal:
            typer.echo(
                "control subset (no value word of either cheese spec, no place they name, "
                "in either option): "
                f"{res['control_items']} items ({res['control_share']:.0%})"
            )
        typer.echo(f"{'category':<12} {'aligned':>8} {'other':>8}")
        for cat, s in res["shares"].items():
            typer.echo(f"{cat:<12} {s['aligned']:>8.1%} {s['other']:>8.1%}")
        for c in res["checks"]:
            typer.echo(f"  {'ok  ' if c['ok'] else 'FAIL'} {c['rule']} (worst {c['share']:.1%})")
    if not res["ok"]:
        raise MsmError(f"{items}: confound audit failed: {'; '.join(res['failures'])}")
