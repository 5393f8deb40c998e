"""Package names loaded on first use (PEP 562), the one pattern every msm package uses.

A package's ``__init__`` that imported its submodules eagerly would run them all whenever
any one of them is imported (a cycle waiting to happen), and would make ``import msm`` and
``msm --help`` pay for torch and Inspect. Instead it lists its names as imports that only
type checkers run, and :func:`lazy_package` reads that list back::

    from typing import TYPE_CHECKING

    if TYPE_CHECKING:
        from msm.train.engine import run_train as run_train

    __getattr__, __dir__, __all__ = lazy_package(__name__, __file__)

``from msm.train import run_train`` then imports ``msm.train.engine`` at that moment, once,
and type checkers see the real ``run_train``.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Callable
from importlib import import_module
from pathlib import Path
from typing import Any


def lazy_names(
    package: str, table: dict[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package``: each name in ``table`` comes from its
    module on first use and is kept in the package's namespace afterwards."""
    namespace = sys.modules[package].__dict__

    def getattr_(name: str) -> Any:
        module = table.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(module), name)
        namespace[name] = value
        return value

    def dir_() -> list[str]:
        return sorted(set(namespace) | set(table))

    return getattr_, dir_


def lazy_package(
    package: str, init_file: str
) -> tuple[Callable[[str], Any], Callable[[], list[str]], list[str]]:
    """``(__getattr__, __dir__, __all__)`` for ``package`` from the names its ``__init__``
    (``init_file``) imports under ``if TYPE_CHECKING:``."""
    table = typing_imports(Path(init_file).read_text(encoding="utf-8"), package)
    getattr_, dir_ = lazy_names(package, table)
    return getattr_, dir_, sorted(table)


def typing_imports(source: str, package: str) -> dict[str, str]:
    """Each name imported under a top-level ``if TYPE_CHECKING:`` in ``source``, with the
    module it comes from (relative imports resolved against ``package``)."""
    table: dict[str, str] = {}
    for node in ast.parse(source).body:
        if not (isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"):
            continue
        for stmt in node.body:
            if isinstance(stmt, ast.ImportFrom):
                base = package.rsplit(".", stmt.level - 1)[0] if stmt.level else ""
                module = ".".join(x for x in (base, stmt.module or "") if x)
                for alias in stmt.names:
                    table[alias.asname or alias.name] = module
    return table
