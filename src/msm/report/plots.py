"""Report figures as PNG bytes (matplotlib's Agg canvas, no pyplot global state)."""

from __future__ import annotations

import io
import math
import textwrap
from collections.abc import Sequence
from typing import Any

Interval = tuple[float, float] | None

PALETTE = (
    "#4a7ab5",
    "#d9822b",
    "#3f9b5a",
    "#c44e52",
    "#8172b2",
    "#937860",
    "#da8bc3",
    "#8c8c8c",
    "#ccb974",
    "#64b5cd",
)
DPI = 110


def _figure(width: float, height: float) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=DPI)


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.tight_layout()
    # no "Software" text chunk: the bytes depend on the data only
    fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()


def _wrap(label: str, width: int = 16) -> str:
    """Break a long tick label before ``[`` and `` n=`` first, then at spaces."""
    if len(label) <= width:
        return label
    pieces = label.replace("[", "\n[").replace(" n=", "\nn=").split("\n")
    lines = [ln for p in pieces for ln in textwrap.wrap(p, width, break_on_hyphens=False) or [p]]
    return "\n".join(lines)


def _yerr(means: Sequence[float | None], intervals: Sequence[Interval]) -> list[list[float]]:
    lows, highs = [], []
    for m, ci in zip(means, intervals, strict=True):
        if m is None or ci is None:
            lows.append(0.0)
            highs.append(0.0)
        else:
            lows.append(max(0.0, m - ci[0]))
            highs.append(max(0.0, ci[1] - m))
    return [lows, highs]


def bar_chart(
    labels: Sequence[str],
    means: Sequence[float | None],
    intervals: Sequence[Interval],
    title: str,
    ylabel: str,
    reference: tuple[str, float] | None = None,
) -> bytes:
    """One bar per label with 95% error bars; a missing mean draws no bar."""
    fig = _figure(max(5.0, 1.2 * len(labels) + 2), 4.2)
    ax = fig.subplots()
    x = list(range(len(labels)))
    heights = [m if m is not None else 0.0 for m in means]
    colors = [PALETTE[i % len(PALETTE)] for i in x]
    ax.bar(x, heights, color=colors, alpha=0.85, yerr=_yerr(means, intervals), capsize=5)
    for i, (m, ci) in enumerate(zip(means, intervals, strict=True)):
        if m is not None:
            top = max(m, ci[1]) if ci is not None else m
            ax.annotate(f"{m:.3g}", (i, top), textcoords="offset points", xytext=(0, 4),
                        ha="center", fontsize=8)  # fmt: skip
    if reference is not None:
        ax.axhline(reference[1], color="#555555", ls=":", lw=1)
        ax.annotate(reference[0], (len(labels) - 0.5, reference[1]), fontsize=8, ha="right",
                    va="bottom", color="#555555")  # fmt: skip
    ax.set_xticks(x, [_wrap(lb) for lb in labels], fontsize=8)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    return _png(fig)


def grouped_bars(
    groups: Sequence[str],
    series: Sequence[str],
    means: Sequence[Sequence[float | None]],
    intervals: Sequence[Sequence[Interval]],
    title: str,
    ylabel: str,
) -> bytes:
    """Bars grouped by ``groups`` (x), one colour per series; ``means[s][g]``."""
    fig = _figure(max(6.0, 0.35 * len(groups) * len(series) + 2.5), 4.4)
    ax = fig.subplots()
    width = 0.8 / max(1, len(series))
    for si, name in enumerate(series):
        xs = [g + (si - (len(series) - 1) / 2) * width for g in range(len(groups))]
        hs = [m if m is not None else 0.0 for m in means[si]]
        ax.bar(xs, hs, width=width * 0.95, label=name, color=PALETTE[si % len(PALETTE)],
               yerr=_yerr(means[si], intervals[si]), capsize=3, alpha=0.85)  # fmt: skip
    ax.set_xticks(list(range(len(groups))), [_wrap(g, 18) for g in groups], fontsize=8)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    return _png(fig)


def forest(
    labels: Sequence[str],
    estimates: Sequence[float],
    intervals: Sequence[tuple[float, float]],
    highlight: int | None,
    title: str,
    xlabel: str,
) -> bytes:
    """One row per contrast: its estimate and 95% interval against a line at 0. The row
    ``highlight`` (the primary contrast) is drawn first, larger and in colour; the others
    (exploratory) in grey."""
    order = ([highlight] if highlight is not None else []) + [
        i for i in range(len(labels)) if i != highlight
    ]
    fig = _figure(7.2, 1.1 + 0.3 * len(labels))
    ax = fig.subplots()
    for y, i in enumerate(order):
        lo, hi = intervals[i]
        main = i == highlight
        color = PALETTE[0] if main else "#8c8c8c"
        ax.errorbar([estimates[i]], [y], xerr=[[estimates[i] - lo], [hi - estimates[i]]],
                    fmt="D" if main else "o", color=color, ms=7 if main else 4,
                    lw=2.2 if main else 1.2, capsize=3)  # fmt: skip
    ax.axvline(0.0, color="#555555", lw=1, ls=":")
    ax.set_yticks(list(range(len(order))), [labels[i] for i in order], fontsize=8)
    if highlight is not None:
        ax.get_yticklabels()[0].set_fontweight("bold")
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    ax.set_title(title, fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    return _png(fig)


def efficiency_plot(
    curves: Sequence[tuple[str, Sequence[tuple[float, float, Interval]]]],
    references: Sequence[tuple[str, float]],
    title: str,
    ylabel: str,
    xlabel: str = "AFT examples (log scale)",
) -> bytes:
    """Metric against AFT size (or another size, ``xlabel``; log x); each curve
    ``(name, [(size, mean, interval)])``."""
    fig = _figure(6.4, 4.2)
    ax = fig.subplots()
    for i, (name, pts) in enumerate(curves):
        pts = sorted(pts)
        xs = [p[0] for p in pts]
        ys = [p[1] for p in pts]
        ax.errorbar(xs, ys, yerr=_yerr(ys, [p[2] for p in pts]), marker="o", capsize=4,
                    label=name, color=PALETTE[i % len(PALETTE)], lw=1.5)  # fmt: skip
    for j, (name, value) in enumerate(references):
        ax.axhline(value, ls=":", lw=1, color=PALETTE[(len(curves) + j) % len(PALETTE)],
                   label=name)  # fmt: skip
    ax.set_xscale("log")
    sizes = sorted({p[0] for _, pts in curves for p in pts})
    if sizes:
        from matplotlib.ticker import NullFormatter

        ax.set_xticks(sizes, [f"{s:g}" for s in sizes])
        ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _png(fig)


def heatmap(
    rows: Sequence[str],
    cols: Sequence[str],
    values: Sequence[Sequence[float | None]],
    title: str,
    colorbar: str,
) -> bytes:
    """Rates in [0, 1], rows x columns, each cell annotated; missing cells grey."""
    import numpy as np

    grid = np.array([[math.nan if v is None else v for v in r] for r in values], dtype=float)
    fig = _figure(max(6.0, 1.1 * len(cols) + 3.5), max(2.6, 0.45 * len(rows) + 1.8))
    ax = fig.subplots()
    cmap = _cmap()
    im = ax.imshow(np.ma.masked_invalid(grid), cmap=cmap, vmin=0.0, vmax=1.0, aspect="auto")
    for i in range(len(rows)):
        for j in range(len(cols)):
            v = grid[i, j]
            text, colour = ("n/a", "#444444") if math.isnan(v) else (f"{v:.2f}", _ink(v))
            ax.text(j, i, text, ha="center", va="center", fontsize=8, color=colour)
    ax.set_xticks(list(range(len(cols))), [c.replace("/", "/\n", 1) for c in cols], fontsize=8)
    ax.set_yticks(list(range(len(rows))), list(rows), fontsize=8)
    ax.set_title(title, fontsize=10)
    cb = fig.colorbar(im, ax=ax, fraction=0.04, pad=0.02)
    cb.set_label(colorbar, fontsize=8)
    return _png(fig)


def _cmap() -> Any:
    from matplotlib import colormaps

    return colormaps["Reds"].with_extremes(bad="#dddddd")


def _ink(v: float) -> str:
    return "white" if v > 0.6 else "black"


def histogram(lengths: Sequence[int], unit: str, title: str) -> bytes:
    """Histogram of document lengths."""
    fig = _figure(6.0, 3.2)
    ax = fig.subplots()
    if lengths:
        bins = min(40, max(5, len(lengths) // 5))
        ax.hist(list(lengths), bins=bins, color=PALETTE[0])
    ax.set_xlabel(f"{unit} per document")
    ax.set_ylabel("documents")
    ax.set_title(title, fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    return _png(fig)


def loss_curves(
    panels: Sequence[tuple[str, Sequence[tuple[str, Sequence[tuple[float, float]]]]]],
) -> bytes:
    """One panel per training kind; each line ``(node id, [(tokens, loss)])``."""
    fig = _figure(6.4 * len(panels), 3.8)
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (title, lines) in zip(axes, panels, strict=True):
        for i, (name, pts) in enumerate(lines):
            ax.plot([p[0] for p in pts], [p[1] for p in pts], lw=1.1, label=name,
                    color=PALETTE[i % len(PALETTE)])  # fmt: skip
        ax.set_xlabel("tokens seen")
        ax.set_ylabel("training loss")
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3)
        if len(lines) <= 10:
            ax.legend(fontsize=7)
    return _png(fig)
