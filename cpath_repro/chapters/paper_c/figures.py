"""Paper C's figures: sweeps beside the paper's values, example and rejected images, the filters' precision-recall
curves, the confusion matrix, saliency and Grad-CAM."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from skimage.segmentation import find_boundaries

from cpath_repro.chapters.paper_c import paper
from cpath_repro.chapters.paper_c.data import TYPES
from cpath_repro.results import tables
from cpath_repro.viz import COLUMN_INCHES, MAX_PANELS_PER_ROW, panel_grid

OURS, PAPER = "#1f77b4", "#d62728"


def sweep(table: pd.DataFrame, xlabel: str, label: str) -> Figure:
    """Loss and accuracy per arm: our mean ± sd over seeds (dot and bar), the paper's value (open diamond); the
    loss panel marks section 4.2's references, a uniform guess (1.099) and the class prior (0.999)."""
    fig, axes = plt.subplots(2, 1, figsize=(COLUMN_INCHES, 5.8), sharex=True)
    x = np.arange(len(table))
    for ax, metric in zip(axes, tables.arms(table), strict=False):
        column = f"{metric}{tables.GROUP}"
        ax.errorbar(x, table[column + tables.OURS + tables.MEAN], yerr=table[column + tables.OURS + tables.SD],
                    fmt="o", color=OURS, capsize=3, label=label)
        ax.scatter(x, table[column + tables.PAPER], marker="D", s=46, facecolors="none", edgecolors=PAPER, lw=1.5,
                   label="paper C", zorder=3)
        if "loss" in metric:
            ax.axhline(paper.UNIFORM_LOSS, color="grey", ls="--", lw=1, label="uniform guess (1.099)")
            ax.axhline(paper.PRIOR_LOSS, color="grey", ls=":", lw=1, label="class prior (0.999)")
        ax.set_xticks(x, [str(v) for v in table["model"]], fontsize=8, rotation=15 if len(table) > 4 else 0)
        ax.set_ylabel(metric)
        ax.grid(axis="y", alpha=0.3)
    axes[-1].set_xlabel(xlabel)
    axes[0].legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    fig.tight_layout()
    return fig


def _show(ax: plt.Axes, image: np.ndarray, zone: np.ndarray | None, title: str) -> None:
    shown = image.copy()
    if zone is not None and zone.any():
        shown[find_boundaries(zone, mode="outer")] = (40, 220, 90)
    ax.imshow(shown)
    ax.set_title(title, fontsize=8)
    ax.axis("off")


def examples(found: tuple[np.ndarray, np.ndarray, list[str]], ncols: int = MAX_PANELS_PER_ROW) -> Figure:
    """Images with their true transformation zone outlined (green), captioned with their type or defect."""
    images, zones, captions = found
    fig, axes = panel_grid(len(images), COLUMN_INCHES / min(ncols, len(images)) * 0.85 + 0.3, most=ncols)
    for ax, image, zone, caption in zip(axes, images, zones, captions, strict=False):
        _show(ax, image, zone, caption)
    fig.tight_layout()
    return fig


def rejected(images: np.ndarray, truth: Sequence[str], title: str) -> Figure:
    """C-F5 / C-F6: rejected additional images, captioned with what they truly are."""
    n = max(len(images), 1)
    fig, axes = panel_grid(n, COLUMN_INCHES / min(n, MAX_PANELS_PER_ROW) * 0.85 + 0.3)
    for ax in axes:
        ax.axis("off")
    for ax, image, what in zip(axes, images, truth, strict=False):
        _show(ax, image, None, what)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def rejection_curves(curves: Mapping[str, pd.DataFrame], keep_fraction: float) -> Figure:
    """Precision and recall of each filter's rejections against the kept share of the additional images."""
    fig, axes = plt.subplots(1, 2, figsize=(COLUMN_INCHES, 3.0), sharey=True)
    if not curves:
        for ax in axes:
            ax.axis("off")
        axes[0].text(0, 0.5, "Needs to know which additional images are bad: synthetic data only.", fontsize=9)
    for ax, (name, curve) in zip(axes, curves.items(), strict=False):
        ax.plot(curve.kept_fraction, curve.precision, label="precision")
        ax.plot(curve.kept_fraction, curve.recall, label="recall")
        if name == "distribution":
            ax.axvline(keep_fraction, color="grey", ls="--", lw=1, label=f"kept here ({keep_fraction:.0%})")
        ax.set_title(f"{name} filter", fontsize=9)
        ax.set_xlabel("share of additional images kept")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("of the rejected images / of the bad ones")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    return fig


def confusion(matrix: np.ndarray) -> Figure:
    """C-F4: validation confusion matrix (counts summed over trials), rows the true type."""
    fig, ax = plt.subplots(figsize=(3.8, 3.4))
    ax.imshow(matrix, cmap="Blues")
    for (i, j), v in np.ndenumerate(matrix):
        ax.text(j, i, str(v), ha="center", va="center", color="white" if v > matrix.max() / 2 else "black")
    ax.set_xticks(range(3), TYPES, fontsize=8)
    ax.set_yticks(range(3), TYPES, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    fig.tight_layout()
    return fig


def attributions(images: np.ndarray, zones: np.ndarray, maps: Mapping[str, np.ndarray]) -> Figure:
    """C-F7 / C-F8: images (zone outlined) with their saliency and Grad-CAM maps, in the order given: blocks of
    three images, each block an image row then a row per map, with the maps' colour bar."""
    shown = [m for m in maps if m != "uniform-map"]
    n = min(len(images), 6)
    per_row = min(n, MAX_PANELS_PER_ROW)
    blocks = -(-n // per_row)
    rows = blocks * (len(shown) + 1)
    side = (COLUMN_INCHES - 0.8) / per_row
    fig, axes = plt.subplots(rows, per_row, figsize=(COLUMN_INCHES, (side * 0.8 + 0.25) * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    mappable = None
    for k in range(n):
        top, col = (k // per_row) * (len(shown) + 1), k % per_row
        _show(axes[top, col], images[k], zones[k], f"{TYPES[k // 2]}, true zone" if n == 6 else "image, true zone")
        for r, name in enumerate(shown, start=1):
            ax = axes[top + r, col]
            ax.imshow(images[k])
            mappable = ax.imshow(maps[name][k], cmap="jet", alpha=0.5, vmin=0, vmax=float(np.max(maps[name][k])) or 1)
            ax.contour(zones[k], levels=[0.5], colors="white", linewidths=0.6)
            ax.set_title(name, fontsize=8)
    if mappable is not None:
        bar = fig.colorbar(mappable, ax=axes.ravel().tolist(), fraction=0.03, pad=0.02)
        bar.set_ticks([0, mappable.norm.vmax], labels=["0", "the map's\nlargest"])
        bar.ax.tick_params(labelsize=7)
        bar.set_label("map value", fontsize=8)
    return fig
