"""Hashes of the package data (under ``msm/data/``) that shapes a stage's output.

Prompt templates, eval item sets and the fake model's scripts change what a
stage produces as surely as its settings do. The experiment plan puts these
hashes into node hashes (so editing a template re-runs exactly the nodes that
use it) and the eval stage records them in its manifest.
"""

from __future__ import annotations

import hashlib
from typing import Any

# package data that each node kind's output depends on
_DATA_USED = {
    "corpus": ("prompts/docgen",),
    "aftdata": ("prompts/aftgen",),
    "evalgen": ("prompts/evalgen",),
    "eval": ("evals", "prompts/evals"),
}
# package data read only by a part a node opts into (a suite, an item kind): left out of
# its folder's hash and hashed under its own path when the part is used, so adding one
# never changes the hashes (and reruns) of nodes that do not read it
_OPT_IN: dict[str, dict[str, tuple[str, ...]]] = {
    "eval": {
        "robustness": ("evals/agentic/pressure.yaml", "evals/agentic/sabotage.yaml"),
        "spec_belief": ("evals/spec_belief",),
    },
    "evalgen": {
        "beliefs": ("prompts/evalgen/belief.txt", "prompts/evalgen/judge_belief.txt"),
        "fields": tuple(
            f"prompts/evalgen/field_{f}.txt" for f in ("situation", "follows", "breaks")
        ),  # fmt: skip
    },
}
# what the fake model answers from, when a node's LLM is the fake model
_FAKE_SCRIPTS = {
    "corpus": "fake/docgen.yaml",
    "aftdata": "fake/aftgen.yaml",
    "evalgen": "fake/evalgen.yaml",
    "eval": "fake",
}


def _data_sha(folder: str, exclude: frozenset[str] = frozenset()) -> str:
    """sha256 over the names and bytes of a package-data file, or of every file under a
    package-data folder (``msm/data/<folder>``) but the paths in ``exclude``."""
    from importlib.abc import Traversable

    h = hashlib.sha256()

    def walk(node: Traversable, rel: str) -> None:
        for child in sorted(node.iterdir(), key=lambda c: c.name):
            name = f"{rel}/{child.name}"
            if name in exclude:
                continue
            if child.is_dir():
                walk(child, name)
            elif child.is_file() and not child.name.endswith((".pyc", ".pyo")):
                h.update(name.encode("utf-8") + b"\0" + child.read_bytes() + b"\0")

    root = _data_root().joinpath(folder)
    if root.is_file():
        h.update(root.read_bytes())
    else:
        walk(root, folder)
    return h.hexdigest()


def _data_root() -> Any:
    from importlib import resources

    return resources.files("msm").joinpath("data")


def data_hashes(
    kind: str, models: list[str | None], parts: list[str] | tuple[str, ...] = ()
) -> dict[str, str]:
    """Hashes of the package data a node of ``kind`` reads; ``models``: the LLMs it calls;
    ``parts``: the opt-in parts it uses (eval suites such as ``robustness``; evalgen item
    kinds such as ``beliefs``), whose own files are hashed only then."""
    opt_in = _OPT_IN.get(kind, {})
    excluded = frozenset(p for paths in opt_in.values() for p in paths)
    folders = list(_DATA_USED.get(kind, ()))
    if kind in _FAKE_SCRIPTS and any(
        m and m.split(":", 1)[0].split("/", 1)[0] == "fake" for m in models
    ):
        folders.append(_FAKE_SCRIPTS[kind])
    out = {f: _data_sha(f, excluded) for f in folders}
    for part in parts:
        for path in opt_in.get(part, ()):
            out[path] = _data_sha(path)
    return out
