"""Walking a module's syntax the way it runs: the public-name list a package's
``__init__`` writes as imports under ``if TYPE_CHECKING:`` (``msm._util.lazy``) never runs,
so the import rules do not count it; every other import, inside functions too, counts."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path


def runtime_nodes(path: Path, tree: ast.Module | None = None) -> Iterator[ast.AST]:
    """Every node of ``path``'s syntax but a package ``__init__``'s type-only imports."""
    tree = tree if tree is not None else ast.parse(path.read_text(encoding="utf-8"))
    skip: set[int] = set()
    if path.name == "__init__.py":
        for node in tree.body:
            if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
                skip |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
    return (n for n in ast.walk(tree) if id(n) not in skip)
