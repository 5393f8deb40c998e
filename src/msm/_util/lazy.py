"""Package names loaded on first use (PEP 562), the one pattern every msm package uses.

A package's ``__init__`` that imported its submodules eagerly would run them all whenever
any one of them is imported (a cycle waiting to happen), and would make ``import msm`` and
``msm --help`` pay for torch and Inspect. Instead::

    __getattr__, __dir__ = lazy_names(__name__, {"run_train": "msm.train.engine"})

``from msm.train import run_train`` then imports ``msm.train.engine`` at that moment, once.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from importlib import import_module
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
