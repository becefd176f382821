"""Plots every chapter uses (matplotlib; each function returns its Figure), and the measure every figure is drawn to.

A plot only one chapter draws lives in that chapter's ``figures`` module. Every figure is drawn for the book's
column: at most :data:`COLUMN_INCHES` wide, no font under :data:`MIN_FONT_PT`, so that shown in the column at
1280 px no text is under :data:`MIN_FONT_PX` (the book's browser test measures it from each figure's record).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

#: The book's content column at 1280 px (CSS px), and the CSS px per inch a figure is shown at when it fits
#: (the inline figure's dpi; it is rendered at twice that, "retina", so zooming does not blur).
COLUMN_PX, SHOWN_PX_PER_INCH = 688, 100
COLUMN_INCHES = COLUMN_PX / SHOWN_PX_PER_INCH
#: The smallest text a reader can read in a figure, once shown in the column
MIN_FONT_PX = 8.0
MIN_FONT_PT = MIN_FONT_PX * 72 / SHOWN_PX_PER_INCH
#: The resolution of every figure's PNG, in the book and in the run's files
DPI = 2 * SHOWN_PX_PER_INCH


def measure(fig: Figure) -> dict[str, float]:
    """A drawn figure's width as saved (its tight bounding box, inches) and its smallest text (points): what the
    book's test turns into the smallest font a reader sees."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.text import Text

    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)  # a bare Figure() has none
    renderer = canvas.get_renderer()
    fig.draw(renderer)  # tick labels get their text when drawn
    texts = [t.get_fontsize() for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()
             and t.get_window_extent(renderer).width > 0]
    box = fig.get_tightbbox(renderer)
    return {"width_in": round(float(box.width), 3), "height_in": round(float(box.height), 3),
            "min_font_pt": float(min(texts)) if texts else 0.0, "dpi": DPI}


#: At most this many panels side by side: more are stacked in rows, so each stays readable in the column.
MAX_PANELS_PER_ROW = 3


def columns(n: int, most: int = MAX_PANELS_PER_ROW) -> int:
    """Panels per row for ``n`` panels: at most ``most``, in as few rows as that allows, and of those layouts the
    one with fewest empty places (4 make 2 x 2, 7 make 3 + 3 + 1)."""
    return min(range(max(1, min(most, n)), 0, -1), key=lambda c: (-(-n // c), -(-n // c) * c - n))


def panel_grid(n: int, height: float, most: int = MAX_PANELS_PER_ROW, sharey: bool = False) -> tuple[Figure, np.ndarray]:
    """A column-wide figure of ``n`` panels, :func:`columns` per row, each row ``height`` inches; the axes as a
    flat array (unused places switched off)."""
    ncols = columns(n, most)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(COLUMN_INCHES, height * nrows), squeeze=False, sharey=sharey)
    for ax in axes.flat[n:]:
        ax.set_axis_off()
    return fig, axes.flat[:n]


def uniform(image: np.ndarray) -> bool:
    """Whether an image shows nothing: every pixel the same value (within float rounding)."""
    values = np.asarray(image, dtype=float)
    return bool(values.size) and float(values.max() - values.min()) <= 1e-6 * max(1.0, float(np.abs(values).max()))


def image_grid(images: Mapping[str, np.ndarray], ncols: int = MAX_PANELS_PER_ROW, cmap: str | None = None) -> Figure:
    """Titled images in a column-wide grid (RGB, or single channel with ``cmap`` and a colour bar each; a mask needs
    none). An image that shows nothing says so in its title (the page says why)."""
    some = next(iter(images.values()))
    aspect = some.shape[0] / some.shape[1]
    n = len(images)
    per_row = columns(n, min(ncols, MAX_PANELS_PER_ROW))
    fig, axes = panel_grid(n, COLUMN_INCHES / per_row * aspect + 0.45, most=per_row)
    for ax, (title, img) in zip(axes, images.items(), strict=True):
        shown = ax.imshow(img, cmap=cmap)
        ax.set_title(title + (" (uniform: shows nothing)" if uniform(img) else ""), fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        if cmap is not None and np.ndim(img) == 2 and np.asarray(img).dtype != bool:
            bar = fig.colorbar(shown, ax=ax, fraction=0.046, pad=0.03)
            bar.ax.tick_params(labelsize=7)
    fig.tight_layout()
    return fig


def lines(frame: object, x: str, y: str, by: str, log: bool = False, title: str = "", ylabel: str = "") -> Figure:
    """One line per value of ``by`` (a long table)."""
    import pandas as pd

    assert isinstance(frame, pd.DataFrame)
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for key, g in frame.groupby(by):
        ax.plot(g[x], g[y], marker="o", ms=3, label=str(key))
    if log:
        ax.set_yscale("log")
    ax.set_xlabel(x.replace("_", " "))
    ax.set_ylabel(ylabel or y.replace("_", " "))
    ax.set_title(title, fontsize=10)
    ax.legend()
    fig.tight_layout()
    return fig


def mean_lines(frame: object, x: str, y: str, by: str, logx: bool = False, title: str = "", ylabel: str = "") -> Figure:
    """One line per value of ``by``: the mean of ``y`` over repeated rows (seeds) at each ``x``, ± one
    standard deviation shaded."""
    import pandas as pd

    assert isinstance(frame, pd.DataFrame)
    fig, ax = plt.subplots(figsize=(6, 3.8))
    for key, g in frame.groupby(by, sort=False):
        stats = g.groupby(x)[y].agg(["mean", "std"]).fillna(0.0)
        ax.plot(stats.index, stats["mean"], marker="o", ms=3, label=str(key))
        ax.fill_between(stats.index, stats["mean"] - stats["std"], stats["mean"] + stats["std"], alpha=0.2)
    if logx:  # a tick at each measured x, labelled plainly
        ax.set_xscale("log")
        ax.minorticks_off()
        ticks = sorted(frame[x].unique())
        ax.set_xticks(ticks, [str(t) for t in ticks])
    ax.set_xlabel(x.replace("_", " "))
    ax.set_ylabel(ylabel or y.replace("_", " "))
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def grouped_bars(frame: object, group: str, columns: Sequence[str], title: str = "", ylabel: str = "") -> Figure:
    """Bars of the mean over seeds of each of ``columns``, grouped by ``group``, with ± one standard deviation."""
    import pandas as pd

    assert isinstance(frame, pd.DataFrame)
    means = frame.groupby(group, sort=False)[list(columns)].mean()
    sds = frame.groupby(group, sort=False)[list(columns)].std().fillna(0.0)
    fig, ax = plt.subplots(figsize=(min(COLUMN_INCHES, max(5.0, 1.6 * len(means))), 3.8))
    width = 0.8 / len(columns)
    for j, column in enumerate(columns):
        ax.bar(np.arange(len(means)) + (j - (len(columns) - 1) / 2) * width, means[column], width, yerr=sds[column],
               capsize=3, label=column.replace("_", " "))
    ax.set_xticks(range(len(means)), [str(i) for i in means.index], fontsize=8)
    ax.set_ylabel(ylabel)
    ax.set_ylim(0, 1.05)
    ax.set_title(title, fontsize=10)
    if len(columns) > 1:
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def paired_seeds(frame: object, unit: str, arm: str, value: str, arms: Sequence[str], title: str = "",
                 ylabel: str = "") -> Figure:
    """One panel per ``unit``: each seed's ``value`` under each of ``arms``, joined by a line (paired seeds), one
    colour per seed named once in the legend."""
    import pandas as pd

    assert isinstance(frame, pd.DataFrame)
    units = list(dict.fromkeys(frame[unit]))
    fig, axes = panel_grid(len(units), 2.6, sharey=True)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, key in zip(axes, units, strict=True):
        wide = frame[frame[unit] == key].pivot_table(index="seed", columns=arm, values=value).reindex(columns=arms)
        for k, (seed, row) in enumerate(wide.iterrows()):
            ax.plot(range(len(arms)), row.to_numpy(), marker="o", color=colours[k % len(colours)], lw=1,
                    label=f"seed {seed}")
        ax.set_xticks(range(len(arms)), list(arms), fontsize=8)
        ax.set_xlim(-0.3, len(arms) - 0.7)
        ax.set_title(str(key), fontsize=9)
    axes[0].set_ylabel(ylabel or value.replace("_", " "))
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=8, frameon=False)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return fig


def paper_vs_ours(table: object, by: str, ylabel: str = "", title: str = "",
                  ylim: tuple[float, float] = (-0.02, 1.02)) -> Figure:
    """A :func:`cpath_repro.results.tables.paper_vs_ours` table drawn: per ``by`` value and arm, our mean ± sd
    over seeds (filled dot, bar) with the paper's value marked (open diamond, same colour)."""
    import pandas as pd

    from cpath_repro.results import tables

    assert isinstance(table, pd.DataFrame)
    names = tables.arms(table)
    fig, ax = plt.subplots(figsize=(min(COLUMN_INCHES, max(5.0, 1.5 * len(table))), 3.8))
    width = 0.7 / len(names)
    for j, (arm, colour) in enumerate(zip(names, plt.rcParams["axes.prop_cycle"].by_key()["color"], strict=False)):
        x = np.arange(len(table)) + (j - (len(names) - 1) / 2) * width
        column = f"{arm}{tables.GROUP}"
        ax.errorbar(x, table[column + tables.OURS + tables.MEAN], yerr=table[column + tables.OURS + tables.SD],
                    fmt="o", color=colour, capsize=3, label=f"{arm}: ours (mean ± sd)")
        ax.scatter(x, table[column + tables.PAPER], marker="D", s=46, facecolors="none", edgecolors=colour, lw=1.5,
                   label=f"{arm}: paper", zorder=3)
    ax.set_xticks(range(len(table)), [str(v) for v in table[by]])
    ax.set_ylim(*ylim)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    order = sorted(range(len(labels)), key=lambda i: (names.index(labels[i].split(":")[0]), "paper" in labels[i]))
    ax.legend([handles[i] for i in order], [labels[i] for i in order], fontsize=8, loc="upper center",
              bbox_to_anchor=(0.5, -0.12), ncol=len(names), frameon=False)
    fig.tight_layout()
    return fig
