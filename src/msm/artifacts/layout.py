"""Folder layouts declared as tables of paths (:class:`Child`), for the objects that own
a folder's layout (:class:`msm.artifacts.run_folder.RunFolder`,
:class:`msm.artifacts.checkpoint.Checkpoint`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, overload


class Child:
    """A path attribute: the path in attribute ``base`` (``root`` unless named) joined
    with ``name``. ``run_json = Child("run.json")`` reads ``folder.root / "run.json"``."""

    def __init__(self, name: str, base: str = "root") -> None:
        self.name = name
        self.base = base

    @overload
    def __get__(self, obj: None, owner: type[Any]) -> Child: ...

    @overload
    def __get__(self, obj: object, owner: type[Any]) -> Path: ...

    def __get__(self, obj: object | None, owner: type[Any]) -> Child | Path:
        if obj is None:
            return self
        base = getattr(obj, self.base)
        assert isinstance(base, Path)
        return base / self.name
