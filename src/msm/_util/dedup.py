"""Near-duplicate removal shared by docgen and aftgen: MinHash-LSH over word shingles.

Items are processed in the given order; an item whose estimated Jaccard
similarity to an already kept item reaches ``threshold`` is dropped. Callers pass
items in a deterministic order (by id), so the survivors are deterministic.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_TOKEN = re.compile(r"\w+", re.UNICODE)


def shingles(text: str, k: int = 3) -> set[str]:
    """Lower-cased word k-grams (single words for very short texts)."""
    words = _TOKEN.findall(text.casefold())
    if len(words) < k:
        return set(words)
    return {" ".join(words[i : i + k]) for i in range(len(words) - k + 1)}


def near_duplicates(
    texts: Sequence[str], threshold: float = 0.8, num_perm: int = 64, seed: int = 1
) -> list[int | None]:
    """For each text, the index of the earlier kept text it duplicates, else None."""
    import zlib

    from datasketch import MinHash, MinHashLSH

    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    out: list[int | None] = []
    hashes: dict[int, MinHash] = {}
    # permutations are derived once (datasketch would redo it per object); crc32 is a
    # fast deterministic 32-bit hash, plenty for shingle sets of documents
    first = MinHash(num_perm=num_perm, seed=seed)
    perms, scheme = first.permutations, first.scheme
    for i, text in enumerate(texts):
        sh = shingles(text)
        m = MinHash(
            num_perm=num_perm, seed=seed, hashfunc=zlib.crc32, permutations=perms, scheme=scheme
        )
        if sh:
            m.update_batch([s.encode("utf-8") for s in sh])
        dup = None
        for cand in lsh.query(m):
            j = int(cand)
            # LSH gives candidates; confirm with the estimate so the threshold is honoured
            if m.jaccard(hashes[j]) >= threshold:
                dup = j if dup is None else min(dup, j)
        out.append(dup)
        if dup is None:
            lsh.insert(str(i), m)
            hashes[i] = m
    return out
