"""Loss curve as CSV and PNG."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from msm._util.fsutil import atomic_write_bytes, atomic_write_text

COLUMNS = ("step", "tokens", "loss", "lr", "elapsed_s")


def write_curves(folder: Path, history: list[dict[str, Any]]) -> None:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    w.writeheader()
    for row in history:
        w.writerow({k: row[k] for k in COLUMNS})
    atomic_write_text(folder / "loss.csv", buf.getvalue())
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=120)
    ax.plot([r["tokens"] for r in history], [r["loss"] for r in history], lw=1.2)
    ax.set_xlabel("tokens seen")
    ax.set_ylabel("training loss (per label token)")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    png = io.BytesIO()
    fig.savefig(png, format="png")
    plt.close(fig)
    atomic_write_bytes(folder / "loss.png", png.getvalue())
