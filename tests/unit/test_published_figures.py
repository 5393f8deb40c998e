"""Every cited figure in README.md and docs/*.md equals the value in the file it cites.

The convention (docs/architecture.md, "Published figures"): a measured figure is followed
by its source, ``FIGURE (benchmarks/results/FILE.json: key.path)``, where ``key.path``
walks the JSON's keys with dots (a list index is a number; a key may hold ``/``, as node
ids do). The figure is compared with the value
rounded as printed (as many decimals as the figure shows; thousands commas allowed).
A few counts the docs quote are recomputed from the package here, so a file that went
stale fails too.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
CITE = re.compile(
    r"(?P<num>[-+]?\d[\d,]*(?:\.\d+)?)(?:\s?[A-Za-z%/]+)?\s*"
    r"\((?P<file>benchmarks/results/[\w.-]+\.json): (?P<key>[\w./-]+)\)"
)


def citations(text: str) -> list[tuple[str, str, str]]:
    """(figure as printed, cited file, key path) for every citation in ``text``."""
    return [(m["num"], m["file"], m["key"]) for m in CITE.finditer(text)]


def lookup(data: Any, key: str) -> Any:
    for part in key.split("."):
        data = data[int(part)] if isinstance(data, list) else data[part]
    return data


def mismatch(figure: str, value: Any) -> str | None:
    """Why ``figure`` is not ``value`` rounded as printed (None when it is)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"cites {value!r}, not a number"
    from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal

    printed = Decimal(figure.replace(",", ""))
    step = Decimal(1).scaleb(printed.as_tuple().exponent)  # 1, 0.1, 0.01... as printed
    exact = Decimal(repr(float(value)))
    if printed not in {exact.quantize(step, rounding=r) for r in (ROUND_HALF_UP, ROUND_HALF_EVEN)}:
        return f"the file holds {value}"
    return None


def check(text: str, where: str) -> list[str]:
    """One line per cited figure that does not match its file."""
    bad = []
    for figure, file, key in citations(text):
        path = ROOT / file
        if not path.is_file():
            bad.append(f"{where}: {figure} cites {file}, which does not exist")
            continue
        try:
            value = lookup(json.loads(path.read_text(encoding="utf-8")), key)
        except (KeyError, IndexError, ValueError):
            bad.append(f"{where}: {figure} cites {file}: {key}, which it does not hold")
            continue
        why = mismatch(figure, value)
        if why:
            bad.append(f"{where}: {figure} ({file}: {key}): {why}")
    return bad


DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def test_every_cited_figure_equals_its_file():
    bad: list[str] = []
    n = 0
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        n += len(citations(text))
        bad += check(text, doc.relative_to(ROOT).as_posix())
    assert not bad, "\n".join(bad)
    assert n >= 5, n  # the docs do cite figures this way (a parser that finds none fails)


def test_the_checker_catches_a_wrong_or_missing_figure():
    """Negative controls: the same citations with a wrong figure, key or file fail."""
    facts = json.loads((ROOT / "benchmarks/results/doc_facts.json").read_text())
    n = facts["spec_qa_equanimity"]["questions"]
    good = f"{n} questions (benchmarks/results/doc_facts.json: spec_qa_equanimity.questions)"
    assert citations(good) and check(good, "x") == []
    assert check(good.replace(f"{n} ", f"{n + 1} "), "x")
    assert check(good.replace("questions)", "answers)"), "x")
    assert check(good.replace("doc_facts", "no_such_file"), "x")
    nested = {"nodes": {"corpus/pro_america": {"seconds": 12.5}}}
    assert lookup(nested, "nodes.corpus/pro_america.seconds") == 12.5
    assert citations("12.5 s (benchmarks/results/x.json: nodes.corpus/a.seconds)")[0][2] == (
        "nodes.corpus/a.seconds"
    )
    # rounded as printed: 53.5 is "54" or "53.5", never "53"
    assert mismatch("54", 53.5) is None and mismatch("53.5", 53.5) is None
    assert mismatch("53", 53.5) and mismatch("53.4", 53.5)
    assert mismatch("1,234", 1234) is None and mismatch("7", "7")


def test_the_counts_the_docs_quote_are_current():
    """doc_facts.json against the package and the tests as they are now: the value item
    counts and the bad-input table the docs quote (a stale file fails here)."""
    from msm.evals.values.items import load_value_items

    facts = json.loads((ROOT / "benchmarks/results/doc_facts.json").read_text())
    for name, row in facts["value_item_sets"].items():
        items = load_value_items(name)
        assert row == {"items": len(items), "domains": len({i.domain for i in items})}, name
    bad_inputs = pytest.importorskip("tests.unit.test_bad_inputs")
    kinds = Counter(p.values[0].kind for p in bad_inputs.ALL_CASES)
    assert facts["bad_input_cases"] == {
        "in_process": sum(kinds.values()),
        "by_kind": dict(sorted(kinds.items())),
        "through_the_entry_point": len(bad_inputs.SUBPROCESS_CASES),
    }


def test_demo_results_keys_are_stable_names_from_the_report():
    """benchmarks/demo_results.py keys each contrast by the report's own fields, so the
    README's citations of demo.json keep pointing at the same figures."""
    import importlib
    import sys

    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        mod = importlib.import_module("demo_results")
        demo_results = mod.demo_results
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))

    def row(**kw: Any) -> dict[str, Any]:
        return {"estimate": 0.84, "ci95": [0.77, 0.92], "excludes_zero": True, **kw}

    report = {
        "contrasts": {
            "interactions": [
                row(kind="reasons", condition="msm_only", spec_a="pro_america",
                    spec_b="pro_affordability", items_a="cheese_reasons", subset=None),
                row(kind="direction", condition="msm_aft", aft_size=72, spec_a="pro_america",
                    spec_b="pro_affordability", items_a="america", subset="full"),
                row(kind="interaction", condition="msm_aft", aft_size=72, items_a="america",
                    items_b="affordability", subset="full"),
                row(kind="interaction", condition="msm_only", items_a="america_control",
                    items_b="affordability_control", subset="control"),
                row(kind="aft_generalization", condition="msm_aft", aft_size=72,
                    items_a="america", items_b="affordability", subset="full", p=0.4),
            ],
            "changes": [
                row(item_set="cheese_aft", condition="aft_only", label="aft_only"),
                row(item_set="cheese_fit", condition="msm_aft", label="msm_aft[pro_america]"),
            ],
        },
        "primary": {"declared": {"kind": "aft_generalization"}, "verdict": "a null",
                    "result": row(p=0.4), "covers": "covers item sampling only"},
    }  # fmt: skip
    got = demo_results(report)
    assert got["reasons"]["msm_only"]["full"]["estimate"] == 0.84
    assert set(got["interaction"]) == {"msm_aft_n72", "msm_only"}
    assert set(got["interaction"]["msm_only"]) == {"control"}
    assert got["direction_pro_america"]["msm_aft_n72"]["full"]["ci95"] == [0.77, 0.92]
    assert got["aft_generalization"]["msm_aft_n72"]["full"]["p"] == 0.4
    assert got["change"]["cheese_aft"]["aft_only"]["ci95"] == [0.77, 0.92]
    assert set(got["change"]["cheese_fit"]) == {"msm_aft-pro_america"}  # no dots or brackets
    prim = mod.primary(report)
    assert prim["p"] == 0.4 and prim["verdict"] == "a null" and prim["covers"].startswith("covers")
    for group in got.values():
        for key, sub in group.items():
            assert re.fullmatch(r"[\w-]+", key), key
            for inner in sub:
                assert re.fullmatch(r"[\w-]+", inner), inner
