"""Writing a docgen run: documents, stage tree, stats, histogram, manifest."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from msm._util.fsutil import atomic_write_bytes, atomic_write_json, atomic_write_text
from msm.errors import MsmError
from msm.llm.bundled import EMBEDDED_NAME, tokenizer_file
from msm.spec.core import approx_token_counts, tokenizer_counter


def documents_file(folder: str | Path) -> Path:
    """The corpus a docgen run wrote into ``folder`` (what midtraining reads)."""
    return Path(folder) / "documents.jsonl"


def jsonl(rows: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in rows)


def token_counter(tokenizer: str) -> tuple[Any, str]:
    """A batch token counter and its label: the target model's tokenizer or the approximation."""
    if tokenizer == "approx":
        return approx_token_counts, "approx"
    label = tokenizer if tokenizer == EMBEDDED_NAME else str(Path(tokenizer))
    return tokenizer_counter(tokenizer_file(tokenizer)), label


def histogram_png(path: Path, lengths: list[int], label: str) -> None:
    """Token-length histogram of the kept documents."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=110)
    if lengths:
        ax.hist(lengths, bins=min(40, max(5, len(lengths) // 5)), color="#4a7ab5")
    ax.set_xlabel(f"tokens per document ({label} tokenizer)")
    ax.set_ylabel("documents")
    ax.set_title(f"{len(lengths)} documents")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())


def write_outputs(
    out: Path,
    docs: list[dict[str, Any]],
    stages: dict[str, list[dict[str, Any]]],
    stats: dict[str, Any],
) -> None:
    """Everything except the histogram and the manifest (written last by the caller).

    With no ``docs`` (a run whose filters dropped them all) only the stage tree and the
    stats are written, to show why; no corpus, and one left by an earlier run is removed.
    """
    for name, rows in stages.items():
        atomic_write_text(out / "stages" / f"{name}.jsonl", jsonl(rows))
    if docs:
        atomic_write_text(documents_file(out), jsonl(docs))
    else:
        for stale in (documents_file(out), out / "token_hist.png"):
            try:
                stale.unlink(missing_ok=True)
            except OSError as e:
                raise MsmError(f"cannot remove {stale}: {e.strerror or e}") from e
    atomic_write_json(out / "stats.json", stats)
