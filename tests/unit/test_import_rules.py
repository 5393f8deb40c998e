"""The house rules of docs/architecture.md that an import graph can check: no stage imports
another stage, and the report never imports the experiment runner. Known exceptions are listed
by name and may only shrink (issue 28 moves each shared piece down to an owner); a new one
fails here, and so does an exception that no longer exists (delete it from the list)."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.helpers.imports import runtime_nodes

SRC = Path(__file__).resolve().parents[2] / "src"
STAGES = {"docgen", "aftgen", "evalgen", "train", "evals"}

# (importer, imported) pairs that break a rule today, each waiting for its owner
KNOWN: set[tuple[str, str]] = set()


def _module(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(root: Path) -> set[tuple[str, str]]:
    """(importer, imported) for every absolute import of ``msm`` modules under ``root``,
    inside functions too."""
    out = set()
    for path in root.rglob("*.py"):
        me = _module(path, root)
        for node in runtime_nodes(path):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            out |= {(me, n) for n in names if n == "msm" or n.startswith("msm.")}
    return out


def _part(name: str) -> str:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else ""


def broken(edges: set[tuple[str, str]]) -> set[tuple[str, str]]:
    """The edges that break a rule: stage -> other stage, report -> experiment."""
    bad = set()
    for a, b in edges:
        pa, pb = _part(a), _part(b)
        if pa in STAGES and pb in STAGES and pa != pb:
            bad.add((a, b))
        if pa == "report" and pb == "experiment":
            bad.add((a, b))
    return bad


def test_no_stage_imports_another_and_the_report_not_the_runner() -> None:
    bad = broken(imports(SRC))
    assert not bad - KNOWN, f"new imports that break the house rules: {sorted(bad - KNOWN)}"
    assert not KNOWN - bad, f"fixed: remove from KNOWN: {sorted(KNOWN - bad)}"


def test_the_rule_check_sees_a_stage_import_inside_a_function(tmp_path: Path) -> None:
    """Negative control: an import placed inside a function is still an import."""
    pkg = tmp_path / "msm" / "docgen"
    pkg.mkdir(parents=True)
    (pkg / "run.py").write_text("def f():\n    from msm.train.config import TrainConfig\n")
    (tmp_path / "msm" / "report").mkdir()
    (tmp_path / "msm" / "report" / "x.py").write_text("import msm.experiment.plan\n")
    assert broken(imports(tmp_path)) == {
        ("msm.docgen.run", "msm.train.config"),
        ("msm.report.x", "msm.experiment.plan"),
    }


# docs/architecture.md's layers, bottom first: a module may import its own layer and below
LAYERS = [
    {"", "errors", "_util"},
    {"spec", "study"},
    {"artifacts"},
    {"llm"},
    {"gen"},
    {"docgen", "aftgen", "evalgen"},
    {"train", "evals"},
    {"report"},
    {"experiment"},
    {"demo"},
    {"cli", "_registry"},
]


def upward(edges: set[tuple[str, str]]) -> set[tuple[str, str]]:
    """The imports that point up the layers (or into a part no layer names)."""
    level = {part: i for i, parts in enumerate(LAYERS) for part in parts}
    return {
        (a, b)
        for a, b in edges
        if _part(a) != _part(b) and level.get(_part(b), 99) > level.get(_part(a), -1)
    }


def test_every_import_points_down_the_layers() -> None:
    up = upward(imports(SRC))
    assert not up, f"imports pointing up the layers of docs/architecture.md: {sorted(up)}"


def test_the_layer_check_sees_an_import_pointing_up() -> None:
    """Negative control: llm importing a stage, and a part no layer names."""
    edges = {("msm.llm.client", "msm.docgen.run"), ("msm.newpart.x", "msm.llm.names")}
    assert upward(edges) == {
        ("msm.llm.client", "msm.docgen.run"),
        ("msm.newpart.x", "msm.llm.names"),
    }
