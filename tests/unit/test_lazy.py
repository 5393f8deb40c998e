"""Package names loaded on first use (``msm._util.lazy``): the names a package's
``__init__`` lists as type-only imports are its public names, each resolves to the object
its module defines, and nothing is imported before a name is used."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from msm._util.lazy import typing_imports

SRC = Path(__file__).resolve().parents[2] / "src"
PACKAGES = sorted(
    ".".join(p.parent.relative_to(SRC).parts)
    for p in SRC.rglob("__init__.py")
    if "lazy_package(__name__, __file__)" in p.read_text(encoding="utf-8")
)


def test_the_packages_that_load_names_lazily() -> None:
    assert {"msm", "msm.llm", "msm.docgen", "msm.train", "msm.report.sections"} <= set(PACKAGES)


@pytest.mark.parametrize("package", PACKAGES)
def test_every_listed_name_is_its_modules_object(package: str) -> None:
    pkg = importlib.import_module(package)
    table = typing_imports(Path(pkg.__file__ or "").read_text(encoding="utf-8"), package)
    assert table and set(table) <= set(pkg.__all__)
    for name, module in table.items():
        assert getattr(pkg, name) is getattr(importlib.import_module(module), name)
        assert name in dir(pkg)
    with pytest.raises(AttributeError, match="no attribute 'not_a_name'"):
        pkg.not_a_name  # noqa: B018


def test_relative_imports_and_other_blocks() -> None:
    src = (
        "from typing import TYPE_CHECKING\n"
        "import os\n"
        "if TYPE_CHECKING:\n"
        "    from .run import go as go, Result\n"
        "    from ..sibling import helper as h\n"
        "    from msm.errors import MsmError as MsmError\n"
        "if os.name:\n"
        "    from msm.x import not_listed\n"
    )
    assert typing_imports(src, "msm.stage") == {
        "go": "msm.stage.run",
        "Result": "msm.stage.run",
        "h": "msm.sibling",
        "MsmError": "msm.errors",
    }


def test_nothing_is_imported_before_a_name_is_used() -> None:
    code = (
        "import sys, msm.evals, msm.train\n"
        "before = [m for m in ('msm.evals.run', 'msm.train.engine') if m in sys.modules]\n"
        "msm.evals.EvalConfig\n"
        "print(before, 'msm.evals.config' in sys.modules, 'msm.evals.run' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["[]", "True", "False"]
