"""Paper D's figures: patch extraction (D-F4), scores beside the paper's (D-T1, D-T2, D-T3), heatmaps with their
tumour points (D-F5, D-F6) and memory against the number of patches (D-M1)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure

from cpath_repro.chapters.paper_d import paper
from cpath_repro.chapters.paper_d.analysis import NO_PATCH, Results, examples, heatmap, label_grid, thumbnail
from cpath_repro.chapters.paper_d.data import SlideData
from cpath_repro.metrics.heatmaps import isolated_false_tumour_regions
from cpath_repro.viz import COLUMN_INCHES, panel_grid

OURS, PAPER = "#1f77b4", "#d62728"
#: Figure 5's colours: red tumour, grey normal, purple nolabel, white background.
LABEL_COLOURS = ListedColormap(["white", "#9467bd", "#bdbdbd", "#d62728"])


def _label_image(grid: np.ndarray) -> np.ndarray:
    """Label grid (-2 none, -1 nolabel, 0 normal, 1 tumour) as indices 0-3 of :data:`LABEL_COLOURS`."""
    return np.asarray(grid, dtype=np.int64) + 2


def extraction(thumb: np.ndarray, tissue: np.ndarray, labels: np.ndarray, sd: SlideData) -> Figure:
    """Figure 4: (a) the slide, (b) its Otsu tissue mask, (c) the annotation (tumour red, normal grey, unannotated
    tissue purple), (d) the patch labels."""
    fig, axes = panel_grid(4, COLUMN_INCHES / 2 * thumb.shape[0] / thumb.shape[1] + 0.4)
    panels: list[tuple[np.ndarray, Any, str]] = [(thumb, None, "(a) slide"), (tissue, "gray", "(b) Otsu tissue mask")]
    annotated = np.where(labels == 2, 3, np.where(labels == 1, 2, np.where(tissue, 1, 0)))
    panels += [(annotated, LABEL_COLOURS, "(c) annotation mask"), (_label_image(label_grid(sd)), LABEL_COLOURS,
                                                                    "(d) patch labels")]
    for ax, (image, cmap, title) in zip(axes, panels, strict=True):
        ax.imshow(image, cmap=cmap, vmin=0 if cmap is LABEL_COLOURS else None, vmax=3 if cmap is LABEL_COLOURS else None,
                  interpolation="nearest")
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    handles = [plt.Rectangle((0, 0), 1, 1, color=LABEL_COLOURS(i)) for i in (3, 2, 1)]
    fig.legend(handles, ["tumour", "normal", "nolabel / unannotated"], loc="lower center", ncol=3, fontsize=8,
               frameon=False)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    return fig


def scores(table: pd.DataFrame, label: str) -> Figure:
    """Accuracy and PR-AUC per method: ours mean ± sd over seeds (dot and bar) beside the paper's (open diamond)."""
    fig, axes = plt.subplots(2, 1, figsize=(COLUMN_INCHES, 6.0), sharex=True)
    x = np.arange(len(table))
    for ax, metric in zip(axes, ("accuracy (%)", "PR-AUC (%)"), strict=True):
        ax.errorbar(x - 0.08, table[f"{metric}: ours_mean"], yerr=table[f"{metric}: ours_sd"], fmt="o", color=OURS,
                    capsize=3, label=label)
        ax.errorbar(x + 0.08, table[f"{metric}: paper_mean"], yerr=table[f"{metric}: paper_sd"], fmt="D", mfc="none",
                    color=PAPER, capsize=3, label="paper D")
        ax.set_xticks(x, [_two_lines(m) for m in table["method"]], fontsize=8)
        ax.set_ylabel(metric)
        ax.grid(axis="y", alpha=0.3)
    axes[0].legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    return fig


def _two_lines(label: str) -> str:
    """A method's name on two lines, split at its middle space."""
    words = label.split(" ")
    cut = max(1, (len(words) + 1) // 2)
    return " ".join(words[:cut]) + "\n" + " ".join(words[cut:]) if len(words) > 1 else label


def _tissue_box(labels: np.ndarray, margin: int = 1) -> tuple[slice, slice]:
    """The rows and columns of a label grid that hold tissue patches, with ``margin`` patches around them."""
    r, c = np.nonzero(labels != NO_PATCH)
    if not len(r):
        return slice(0, labels.shape[0]), slice(0, labels.shape[1])
    return (slice(max(r.min() - margin, 0), min(r.max() + 1 + margin, labels.shape[0])),
            slice(max(c.min() - margin, 0), min(c.max() + 1 + margin, labels.shape[1])))


def tumour_point_boxes(probability: np.ndarray, labels: np.ndarray) -> list[tuple[float, float, float]]:
    """Centre (row, col) and radius of every isolated false tumour point of a heatmap (for marking it)."""
    marks = []
    for region in isolated_false_tumour_regions(probability, labels):
        r, c = region.centroid
        marks.append((r, c, 1.0 + 0.5 * max(region.bbox[2] - region.bbox[0], region.bbox[3] - region.bbox[1])))
    return marks


def heatmaps(sd: SlideData, thumb: np.ndarray, probabilities: Mapping[str, np.ndarray]) -> Figure:
    """Figures 5 and 6: the slide, its patch labels, then each method's tumour probability with its isolated false
    tumour points circled (and counted in the title); all cut to the tissue's bounding box."""
    full = label_grid(sd)
    rows, cols = _tissue_box(full)
    labels = full[rows, cols]
    fy, fx = thumb.shape[0] / full.shape[0], thumb.shape[1] / full.shape[1]  # thumbnail pixels per patch
    thumb = thumb[round(rows.start * fy):round(rows.stop * fy), round(cols.start * fx):round(cols.stop * fx)]
    n = 2 + len(probabilities)
    aspect = labels.shape[1] / max(labels.shape[0], 1)  # width / height of the tissue's box
    per_row = min(n, 2 if aspect > 1.5 else 3)
    width = (COLUMN_INCHES - 0.6) / per_row
    fig, panels = panel_grid(n, min(width / aspect, 3.2) + 0.55, most=per_row)
    axes = list(panels)
    axes[0].imshow(thumb)
    axes[0].set_title("slide", fontsize=9)
    axes[1].imshow(_label_image(labels), cmap=LABEL_COLOURS, vmin=0, vmax=3, interpolation="nearest")
    axes[1].set_title("ground truth (red tumour, grey normal)", fontsize=8)
    image = None
    for ax, (method, p) in zip(axes[2:], probabilities.items(), strict=False):
        grid_p = heatmap(sd, p)[rows, cols]
        shown = np.ma.masked_where(labels == NO_PATCH, grid_p)
        image = ax.imshow(shown, cmap="magma", vmin=0, vmax=1, interpolation="nearest")
        marks = tumour_point_boxes(grid_p, labels)
        for r, c, radius in marks:
            ax.add_patch(plt.Circle((c, r), radius, fill=False, color="cyan", lw=1.2))
        ax.set_title(f"{paper.LABELS.get(method, method)}\n{len(marks)} tumour point(s) (circled)", fontsize=8)
    for ax in axes:
        ax.axis("off")
    if image is not None:
        bar = fig.colorbar(image, ax=axes, fraction=0.03, pad=0.02)
        bar.set_label("tumour probability", fontsize=8)
        bar.ax.tick_params(labelsize=7)
    return fig


def kappas(table: pd.DataFrame, label: str) -> Figure:
    """Table 3: the patient-level kappa of each method, ours (mean ± sd) beside the paper's."""
    fig, ax = plt.subplots(figsize=(5.0, 3.0))
    x = np.arange(len(table))
    ax.errorbar(x - 0.08, table["kappa: ours_mean"], yerr=table["kappa: ours_sd"], fmt="o", color=OURS,
                capsize=3, label=label)
    ax.scatter(x + 0.08, table["kappa: paper"], marker="D", facecolors="none", edgecolors=PAPER, label="paper D")
    ax.set_xticks(x, list(table["method"]), fontsize=8)
    ax.set_ylabel("quadratic-weighted kappa")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def memory(table: pd.DataFrame, methods: Sequence[str] = ("end-to-end", "backprop")) -> Figure:
    """Peak memory growth against the number of patches N (log-log), mean over seeds, per method."""
    fig, ax = plt.subplots(figsize=(5.6, 3.6))
    names = {"end-to-end": "end-to-end learning", "backprop": "plain back-propagation"}
    for method, colour in zip(methods, (OURS, PAPER), strict=False):
        sub = table[(table.method == method) & table["peak growth (MiB)"].notna()]
        mean = sub.groupby("patches")["peak growth (MiB)"].mean()
        ax.plot(mean.index, mean.values, "o-", color=colour, label=names.get(method, method))
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("patches in one slide (N)")
    ax.set_ylabel("peak memory growth (MiB)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def example_heatmaps(results: Results, methods: Iterable[str], name: str) -> dict[str, Figure]:
    """:func:`heatmaps` of trial 0's example slides (:func:`~.analysis.examples`), by figure name ``NAME_SLIDE``."""
    chosen = list(methods)
    out = {}
    for i in examples(results):
        sd = results.slides[0][i]
        out[f"{name}_{sd.name}"] = heatmaps(sd, thumbnail(sd), {m: results.probabilities[(0, m)][i] for m in chosen})
    return out
