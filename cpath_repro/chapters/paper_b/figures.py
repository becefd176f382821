"""Paper B's figures: transfer matrices beside the paper's, tuning modes, t-SNE maps, Grad-CAM, distillation."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure

from cpath_repro.viz import COLUMN_INCHES, panel_grid

#: The paper's colours: green better than the target's diagonal, red worse; grey the diagonal itself.
BETTER, WORSE, DIAGONAL, MISSING = "#a5d6a7", "#ef9a9a", "#e0e0e0", "#ffffff"
AGREE, DISAGREE = "#81c784", "#e57373"


DIAGONAL_ROW = "target's own (diagonal)"


def _grid(cells: pd.DataFrame) -> tuple[list[str], list[str]]:
    """Rows: the targets' own diagonal first, then the sources; columns: the datasets some source transfers to."""
    targets = list(dict.fromkeys(cells[cells.source != cells.target].target))
    sources = [DIAGONAL_ROW, *dict.fromkeys(cells[cells.source != cells.target].source)]
    return sources, targets


def _place(r: Any, sources: list[str], targets: list[str]) -> tuple[int, int] | None:
    if r.target not in targets:
        return None
    row = DIAGONAL_ROW if r.source == r.target else r.source
    return sources.index(row), targets.index(r.target)


def _axes(ax: plt.Axes, sources: list[str], targets: list[str], title: str) -> None:
    ax.set_xticks(range(len(targets)), targets, fontsize=8)
    ax.set_yticks(range(len(sources)), sources, fontsize=8)
    ax.set_ylabel("source")
    ax.set_title(title, fontsize=10, loc="left")


def _panel(ax: plt.Axes, cells: pd.DataFrame, value: str, better: str, sources: list[str], targets: list[str],
           title: str) -> None:
    colours = {True: 0, False: 1, "diagonal": 2, None: 3}
    grid = np.full((len(sources), len(targets)), 3)
    for r in cells.itertuples():
        at, v = _place(r, sources, targets), getattr(r, value)
        if at is None or (isinstance(v, float) and np.isnan(v)):
            continue
        grid[at] = colours["diagonal" if r.source == r.target else getattr(r, better)]
        ax.text(at[1], at[0], f"{v:.1f}", ha="center", va="center", fontsize=8)
    ax.imshow(grid, cmap=ListedColormap([BETTER, WORSE, DIAGONAL, MISSING]), vmin=0, vmax=3, aspect="auto")
    _axes(ax, sources, targets, title)


def matrices(cells: pd.DataFrame, ours: str, theirs: str) -> Figure:
    """Our matrix, the paper's (same cells, layout and colours) and where the two agree in sign, stacked so that
    each is as wide as the column."""
    sources, targets = _grid(cells)
    fig, axes = plt.subplots(3, 1, figsize=(COLUMN_INCHES, 3 * (0.9 + 0.3 * len(sources))), sharex=True)
    _panel(axes[0], cells, "ours_mean", "ours_better", sources, targets, ours)
    _panel(axes[1], cells, "paper_mean", "paper_better", sources, targets, theirs)
    ax = axes[2]
    grid = np.full((len(sources), len(targets)), 2)
    for r in cells.itertuples():
        at = _place(r, sources, targets)
        if at is not None and r.source != r.target and r.agree is not None:
            grid[at] = 0 if r.agree else 1
            ax.text(at[1], at[0], "agree" if r.agree else "differ", ha="center", va="center", fontsize=8)
    ax.imshow(grid, cmap=ListedColormap([AGREE, DISAGREE, DIAGONAL]), vmin=0, vmax=2, aspect="auto")
    _axes(ax, sources, targets, "better or worse than the target's own: do ours and the paper's agree?")
    ax.set_xlabel("target")
    fig.tight_layout()
    return fig


def tuning(table: pd.DataFrame) -> Figure:
    """Deep vs fine per target: our means (bars, sd as error bars) with the paper's values marked."""
    fig, ax = plt.subplots(figsize=(min(COLUMN_INCHES, 1.6 + 1.3 * len(table)), 3.4))
    x = np.arange(len(table))
    for k, (arm, colour) in enumerate((("deep-tuning", "#1565c0"), ("fine-tuning", "#ef6c00"))):
        ax.bar(x + (k - 0.5) * 0.38, table[f"{arm}: ours_mean"], 0.36, yerr=table[f"{arm}: ours_sd"], color=colour,
               alpha=0.75, label=f"{arm} (ours)")
        ax.scatter(x + (k - 0.5) * 0.38, table[f"{arm}: paper_mean"], marker="D", color="black", zorder=3, s=18,
                   label="paper" if k == 0 else None)
    ax.set_xticks(x, table.target)
    ax.set_ylabel("top-1 test accuracy (%)")
    ax.set_ylim(0, 100)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


def tsne_maps(maps: Mapping[str, tuple[np.ndarray, np.ndarray]], classes: Sequence[str]) -> Figure:
    """One t-SNE panel per model: test crops coloured by their true class."""
    fig, axes = panel_grid(len(maps), 2.5)
    for ax, (title, (xy, labels)) in zip(axes, maps.items(), strict=True):
        y = labels.argmax(1) if labels.ndim == 2 else labels
        for c, name in enumerate(classes):
            ax.scatter(*xy[y == c].T, s=8, label=name)
        ax.set_title(title, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 4), fontsize=8, frameon=False,
               title="true class", title_fontsize=8)
    fig.tight_layout(rect=(0, 0.04 + 0.04 * (len(labels) > 4), 1, 1))
    return fig


def grad_cams(images: np.ndarray, maps: Mapping[str, np.ndarray]) -> Figure:
    """Crops (top row) and each model's Grad-CAM laid over them, with the maps' colour bar."""
    n = len(images)
    side = (COLUMN_INCHES - 1.4) / n
    fig, axes = plt.subplots(1 + len(maps), n, figsize=(COLUMN_INCHES, side * (1 + len(maps)) + 0.3), squeeze=False)
    shown = None
    for j in range(n):
        axes[0, j].imshow(images[j])
        for i, (name, cams) in enumerate(maps.items(), start=1):
            axes[i, j].imshow(images[j])
            shown = axes[i, j].imshow(cams[j], cmap="jet", alpha=0.45, vmin=0, vmax=1)
            if j == 0:
                axes[i, j].set_ylabel(name, fontsize=8)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0, 0].set_ylabel("crop", fontsize=8)
    if shown is not None:
        bar = fig.colorbar(shown, ax=axes.ravel().tolist(), fraction=0.03, pad=0.02)
        bar.set_label("Grad-CAM (0-1)", fontsize=8)
        bar.ax.tick_params(labelsize=7)
    return fig


def accuracies(table: pd.DataFrame, label: str, value: str = "ours_mean", sd: str = "ours_sd") -> Figure:
    """Horizontal bars of mean accuracy ± sd, one per model (B-F4)."""
    fig, ax = plt.subplots(figsize=(6, 0.5 + 0.45 * len(table)))
    y = np.arange(len(table))[::-1]
    ax.barh(y, table[value], xerr=table[sd], color="#5c6bc0", alpha=0.8)
    ax.set_yticks(y, table[label], fontsize=8)
    ax.set_xlabel("top-1 test accuracy (%)")
    ax.set_xlim(0, 100)
    fig.tight_layout()
    return fig


def crops_per_dataset(examples: Mapping[str, np.ndarray]) -> Figure:
    """A few standardized crops of each dataset, one row per dataset (all at one µm/px)."""
    n = max(len(v) for v in examples.values())
    side = min(1.1, (COLUMN_INCHES - 1.2) / n)
    fig, axes = plt.subplots(len(examples), n, figsize=(1.2 + side * n, (side + 0.05) * len(examples)), squeeze=False)
    for i, (name, crops) in enumerate(examples.items()):
        for j in range(n):
            ax = axes[i, j]
            if j < len(crops):
                ax.imshow(crops[j])
            ax.set_xticks([])
            ax.set_yticks([])
            ax.axis("on" if j < len(crops) else "off")
        axes[i, 0].set_ylabel(name, fontsize=8, rotation=0, ha="right", va="center")
    fig.tight_layout()
    return fig


def validation_curves(curves: pd.DataFrame, chance: Mapping[str, float] | None = None) -> Figure:
    """One panel per target: validation top-1 (%) per epoch of its baseline and of each deep-tuned source (mean
    over trials, the trials' range shaded), with the target's chance level dashed: whether the baselines levelled
    off before the comparison is made."""
    targets = list(dict.fromkeys(curves.target))
    fig, axes = panel_grid(len(targets), 2.8, most=2, sharey=True)
    for ax, target in zip(axes, targets, strict=True):
        mine = curves[curves.target == target]
        for (arm, source), g in mine.groupby(["arm", "source"], sort=False):
            stats = g.groupby("epoch").value.agg(["mean", "min", "max"])
            label = "baseline" if arm == "baseline" else f"{arm} from {source}"
            line, = ax.plot(stats.index, stats["mean"], lw=1.6 if arm == "baseline" else 1.0, label=label)
            ax.fill_between(stats.index, stats["min"], stats["max"], color=line.get_color(), alpha=0.15, lw=0)
        if chance and target in chance:
            ax.axhline(chance[target], color="#555555", ls="--", lw=0.8, label="chance")
        ax.set_title(target, fontsize=10)
        ax.set_xlabel("epoch")
        ax.legend(fontsize=7)
    axes[0].set_ylabel("validation top-1 accuracy (%)")
    fig.tight_layout()
    return fig
