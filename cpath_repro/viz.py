"""Plots every chapter uses (matplotlib; each function returns its Figure).

A plot only one chapter draws lives in that chapter's ``figures`` module.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure


def image_grid(images: Mapping[str, np.ndarray], ncols: int = 3, size: float = 2.6, cmap: str | None = None) -> Figure:
    """Titled images in a grid (RGB, or single channel with ``cmap``)."""
    n = len(images)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows), squeeze=False)
    for ax, (title, img) in zip(axes.flat, images.items(), strict=False):
        ax.imshow(img, cmap=cmap)
        ax.set_title(title, fontsize=9)
    for ax in axes.flat:
        ax.set_axis_off()
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
    fig, ax = plt.subplots(figsize=(max(5.0, 1.6 * len(means)), 3.8))
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
    """One panel per ``unit``: each seed's ``value`` under each of ``arms``, joined by a line (paired seeds)."""
    import pandas as pd

    assert isinstance(frame, pd.DataFrame)
    units = list(dict.fromkeys(frame[unit]))
    fig, axes = plt.subplots(1, len(units), figsize=(2.4 * len(units) + 0.6, 3.2), sharey=True, squeeze=False)
    for ax, key in zip(axes.flat, units, strict=True):
        wide = frame[frame[unit] == key].pivot_table(index="seed", columns=arm, values=value).reindex(columns=arms)
        for seed, row in wide.iterrows():
            ax.plot(range(len(arms)), row.to_numpy(), marker="o", color="0.45", lw=1)
            ax.annotate(f"seed {seed}", (len(arms) - 1, row.iloc[-1]), xytext=(4, 0), textcoords="offset points",
                        fontsize=7, va="center")
        ax.set_xticks(range(len(arms)), list(arms), fontsize=8)
        ax.set_xlim(-0.3, len(arms) - 0.4)
        ax.set_title(str(key), fontsize=9)
    axes[0, 0].set_ylabel(ylabel or value.replace("_", " "))
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def paper_vs_ours(table: object, by: str, ylabel: str = "", title: str = "",
                  ylim: tuple[float, float] = (-0.02, 1.02)) -> Figure:
    """A :func:`cpath_repro.results.tables.paper_vs_ours` table drawn: per ``by`` value and arm, our mean ± sd
    over seeds (filled dot, bar) with the paper's value marked (open diamond, same colour)."""
    import pandas as pd

    from cpath_repro.results import tables

    assert isinstance(table, pd.DataFrame)
    names = tables.arms(table)
    fig, ax = plt.subplots(figsize=(max(5.0, 1.5 * len(table)), 3.6))
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
    ax.legend([handles[i] for i in order], [labels[i] for i in order], fontsize=7, loc="center left",
              bbox_to_anchor=(1.01, 0.5), frameon=False)
    fig.tight_layout()
    return fig
