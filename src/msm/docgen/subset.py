"""Nested corpus subsets for a dose study (``corpus: {sizes: [...]}`` in an experiment).

Subset ``n`` is the first ``n`` documents of one seeded order, so every smaller subset lies
inside every larger one, and that order takes the spec's hierarchy in turn (one document
from each (domain, subdomain) before a second from any), so a small subset covers the
spec as evenly as its size allows instead of the first sections only.
"""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path
from typing import Any

from msm._util.fsutil import atomic_write_json, atomic_write_text, staging_dir
from msm.errors import MsmError
from msm.spec.core import approx_token_counts


def corpus_subset_file(folder: str | Path, size: int) -> Path:
    """The documents of the ``size``-document subset of the corpus in ``folder``."""
    return Path(folder) / "subsets" / f"d{size}" / "documents.jsonl"


def check_sizes(sizes: list[int], total: int | None = None) -> None:
    """Increasing positive document counts, each smaller than the corpus (``total``, when
    known): the full corpus is the curve's last point already."""
    if not sizes or any(not isinstance(n, int) or isinstance(n, bool) or n < 1 for n in sizes):
        raise MsmError(f"corpus.sizes must list positive document counts, got {sizes}")
    if sorted(set(sizes)) != sizes:
        raise MsmError(f"corpus.sizes must increase without repeats, got {sizes}")
    if total is not None and sizes[-1] >= total:
        raise MsmError(
            f"corpus.sizes: {sizes[-1]} documents is not smaller than the corpus ({total} "
            "documents): the full corpus is the dose curve's last point already"
        )


def hierarchy_order(rows: list[dict[str, Any]], seed: int) -> list[int]:
    """Indices of ``rows`` in the order subsets take them: groups by (domain, subdomain),
    each shuffled, taken in turn (the groups' order shuffled too)."""
    rng = random.Random(seed)
    groups: dict[tuple[str, str], list[int]] = {}
    for i, r in enumerate(rows):
        groups.setdefault((str(r.get("domain")), str(r.get("subdomain"))), []).append(i)
    queues = list(groups.values())
    for q in queues:
        rng.shuffle(q)
    rng.shuffle(queues)
    order: list[int] = []
    depth = 0
    while len(order) < len(rows):
        order += [q[depth] for q in queues if depth < len(q)]
        depth += 1
    return order


def ensure_corpus_subset(folder: Path, docs: int, seed: int) -> dict[str, Any]:
    """The ``docs``-document subset of the corpus in ``folder``: written unless one of the
    same draw is there (several seeds' midtrainings share it, maybe at once); its stats."""
    stats_file = corpus_subset_file(folder, docs).parent / "stats.json"

    def existing() -> dict[str, Any] | None:
        try:
            st = json.loads(stats_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        ok = isinstance(st, dict) and st.get("seed") == seed and st.get("documents") == docs
        return st if ok else None

    found = existing()
    if found is not None:
        return found
    try:
        return make_corpus_subsets(folder, [docs], seed)[docs]
    except MsmError:
        found = existing()  # another process wrote it in the meantime
        if found is not None:
            return found
        raise


def make_corpus_subsets(folder: Path, sizes: list[int], seed: int) -> dict[int, dict[str, Any]]:
    """Write ``folder/subsets/d<n>/documents.jsonl`` (and its ``stats.json``) for each size;
    returns the stats by size. Sizes not smaller than the corpus are refused first, with
    nothing written."""
    path = folder / "documents.jsonl"
    lines = [x for x in path.read_text(encoding="utf-8").split("\n") if x.strip()]
    rows = [json.loads(x) for x in lines]
    check_sizes(sizes, len(rows))
    order = hierarchy_order(rows, seed)
    out = {}
    for n in sizes:
        take = sorted(order[:n])  # the corpus's own order within a subset
        texts = [str(rows[i].get("text", "")) for i in take]
        stats = {
            "documents": n,
            "of": len(rows),
            "seed": seed,
            "sections": len({(rows[i].get("domain"), rows[i].get("subdomain")) for i in take}),
            "approx_tokens": sum(approx_token_counts(texts)),
        }
        final = corpus_subset_file(folder, n).parent
        if final.exists():  # a resumed node writes its subsets again, from the same order
            shutil.rmtree(final)
        with staging_dir(final) as tmp:
            atomic_write_text(tmp / "documents.jsonl", "".join(lines[i] + "\n" for i in take))
            atomic_write_json(tmp / "stats.json", stats)
        out[n] = stats
    return out
