"""Paper E's figures: its own drawings of the concepts (convolution, pooling, descent, activations), the
grids and scatters of its demos, and the figure of each page section that reshapes a table first.

The generic plots (``image_grid``, ``lines``, ``mean_lines``, ``grouped_bars``) come from
:mod:`cpath_repro.viz`; matplotlib, nothing kept between calls, each function returns its Figure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from cpath_repro import viz
from cpath_repro.concepts.layers import ConvolutionDemo, PoolingDemo

if TYPE_CHECKING:  # a figure of E-F2 is not keyed on E's measurements
    from cpath_repro.chapters.paper_e.analysis import Diagram

PINK, GREEN = "#f4a6c8", "#7ccf7c"


def _grid_numbers(ax: plt.Axes, values: np.ndarray, highlight: Sequence[tuple[int, int]] = (), colour: str = PINK,
                  title: str = "") -> None:
    n_r, n_c = values.shape
    ax.set_xlim(0, n_c)
    ax.set_ylim(n_r, 0)
    ax.set_aspect("equal")
    for r, c in highlight:
        ax.add_patch(Rectangle((c, r), 1, 1, color=colour))
    for r in range(n_r):
        for c in range(n_c):
            ax.text(c + 0.5, r + 0.5, str(values[r, c]), ha="center", va="center", fontsize=8)
    for i in range(n_r + 1):
        ax.axhline(i, color="grey", lw=0.6)
    for j in range(n_c + 1):
        ax.axvline(j, color="grey", lw=0.6)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=9)


def convolution_figure(demo: ConvolutionDemo) -> Figure:
    """Paper E Fig. 2: input with the receptive field (pink), kernel, output position (green)."""
    fig, axes = plt.subplots(1, 3, figsize=(viz.COLUMN_INCHES, 2.9),
                             gridspec_kw={"width_ratios": [demo.image.shape[0], 3, demo.output.shape[0]]})
    rs, cs = demo.receptive_field
    field = [(r, c) for r in range(rs.start, rs.stop) for c in range(cs.start, cs.stop)]
    _grid_numbers(axes[0], demo.image, field, PINK, "input I\n(receptive field in pink)")
    _grid_numbers(axes[1], demo.kernel, title="kernel k")
    _grid_numbers(axes[2], demo.output, [(demo.row, demo.col)], GREEN, "feature map I * k\n(output in green)")
    fig.tight_layout()
    return fig


def pooling_figure(demo: PoolingDemo) -> Figure:
    """Paper E Fig. 3: each window's kept maximum, and the pooled output."""
    palette = ["#f4a6c8", "#a6cef4", "#c8f4a6", "#f4e0a6", "#d4a6f4", "#a6f4e8", "#f4c0a6", "#b0b0f4"]
    fig, axes = plt.subplots(1, 2, figsize=(viz.COLUMN_INCHES, 3.4),
                             gridspec_kw={"width_ratios": [demo.image.shape[0], demo.output.shape[0]]})
    ax = axes[0]
    w = demo.window
    n_out = demo.output.shape[0]
    _grid_numbers(ax, demo.image, title=f"input I ({w}x{w} windows,\nkept maxima outlined)")
    for i in range(n_out):
        for j in range(n_out):
            colour = palette[(i * n_out + j) % len(palette)]
            ax.add_patch(Rectangle((j * w, i * w), w, w, color=colour, alpha=0.5, zorder=0))
            r, c = demo.kept[i, j]
            ax.add_patch(Rectangle((c, r), 1, 1, fill=False, ec="black", lw=2))
    _grid_numbers(axes[1], demo.output, title=f"max pooling, stride {w}")
    for i in range(n_out):
        for j in range(n_out):
            axes[1].add_patch(Rectangle((j, i), 1, 1, color=palette[(i * n_out + j) % len(palette)], alpha=0.5,
                                        zorder=0))
    fig.tight_layout()
    return fig


def descent_figure(path: np.ndarray, surface: tuple[np.ndarray, np.ndarray, np.ndarray]) -> Figure:
    """Paper E Fig. 4: gradient descent drawn on the loss surface of two parameters."""
    w, b, loss = surface
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    contours = ax.contour(w, b, loss, levels=20, cmap="viridis")
    ax.clabel(contours, fontsize=7)
    ax.plot(path[:, 0], path[:, 1], "o-", color="crimson", ms=3, label="gradient descent")
    ax.set_xlabel("weight w")
    ax.set_ylabel("bias b")
    ax.legend()
    fig.tight_layout()
    return fig


def activation_figure(curves: pd.DataFrame) -> Figure:
    """Each activation function and its derivative (E-K1, :func:`~.analysis.activation_curves`)."""
    fig, axes = plt.subplots(1, 2, figsize=(viz.COLUMN_INCHES, 3.0))
    for name, g in curves.groupby("activation", sort=False):
        axes[0].plot(g.x, g.value, label=str(name))
        axes[1].plot(g.x, g.derivative, label=str(name))
    axes[0].set_title("activation f(x)", fontsize=10)
    axes[1].set_title("derivative f'(x) (autograd)", fontsize=10)
    for ax in axes:
        ax.set_xlabel("x")
        ax.axhline(0, color="grey", lw=0.5)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def reliability_diagram(diagrams: Mapping[str, np.ndarray]) -> Figure:
    """Accuracy against confidence, one line per ``(bins, 2)`` array of points, beside perfect calibration (E-K5)."""
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.plot([0, 1], [0, 1], "--", color="grey", label="perfect calibration")
    for label, points in diagrams.items():
        ax.plot(points[:, 0], points[:, 1], "o-", label=label)
    ax.set_xlabel("confidence")
    ax.set_ylabel("accuracy")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def maps_grid(rows: Mapping[str, tuple[np.ndarray | Sequence[np.ndarray], str]], titles: Sequence[str] = (),
              size: float = 1.8) -> Figure:
    """A grid of single-channel images: one row per entry, ``label: (images (n, H, W), colour map)``, one
    column per example, at most the column's width; a row of maps (any colour map but grey) gets a colour bar."""
    n = max(len(images) for images, _ in rows.values())
    side = min(size, (viz.COLUMN_INCHES - 1.3) / n)
    fig, axes = plt.subplots(len(rows), n, figsize=(side * n + 1.3, (side + 0.1) * len(rows) + 0.4 * bool(titles)),
                             squeeze=False)
    for r, (label, (images, cmap)) in enumerate(rows.items()):
        shown = None
        for c in range(n):
            ax = axes[r, c]
            if c < len(images):
                shown = ax.imshow(images[c], cmap=cmap)
            ax.set_xticks([])
            ax.set_yticks([])
            if c == 0:
                ax.set_ylabel(label, fontsize=8)
            if r == 0 and c < len(titles):
                ax.set_title(titles[c], fontsize=8)
        if shown is not None and cmap != "gray":
            bar = fig.colorbar(shown, ax=list(axes[r]), fraction=0.03, pad=0.02)
            bar.ax.tick_params(labelsize=7)
    return fig


def scatter_by_class(frame: pd.DataFrame, panels: Mapping[str, tuple[str, str]]) -> Figure:
    """2-D embeddings coloured by class, one panel per embedding (columns of ``frame``)."""
    fig, axes = viz.panel_grid(len(panels), 3.0, most=2)
    for ax, (title, (cx, cy)) in zip(axes, panels.items(), strict=True):
        for name, g in frame.groupby("class", sort=False):
            ax.scatter(g[cx], g[cy], s=6, label=str(name))
        ax.set_title(title, fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0].legend(fontsize=8, markerscale=2)
    fig.tight_layout()
    return fig


def tracks_figure(frames: np.ndarray, tracks: Mapping[str, np.ndarray]) -> Figure:
    """A time-lapse's first and last frames, and each tracker's path over the mean frame (E-K2's RNN)."""
    fig, axes = plt.subplots(1, 3, figsize=(viz.COLUMN_INCHES, 2.7))
    axes[0].imshow(frames[0], cmap="gray")
    axes[0].set_title("frame 1", fontsize=9)
    axes[1].imshow(frames[-1], cmap="gray")
    axes[1].set_title(f"frame {len(frames)}", fontsize=9)
    axes[2].imshow(frames.mean(0), cmap="gray")
    for label, path in tracks.items():
        style = "w-" if label == "truth" else "-"
        axes[2].plot(path[:, 1], path[:, 0], style, marker="o", ms=2, lw=1.5 if label == "truth" else 1, label=label)
    axes[2].set_title("paths over the mean of all frames", fontsize=9)
    axes[2].legend(fontsize=7, loc="lower left")
    for ax in axes:
        ax.set_axis_off()
    fig.tight_layout()
    return fig



# -- the figures of page sections -----------------------------------------------------------------------------------

def fitting_curves(fit: pd.DataFrame, title: str = "") -> Figure:
    """E-K1's over/underfitting: training and validation accuracy against the hidden width (mean ± sd over seeds)
    of :func:`~.training.fitting`'s table."""
    long = fit.melt(id_vars=["width", "seed"], value_vars=["train_accuracy", "val_accuracy"], var_name="measured on",
                    value_name="accuracy")
    return viz.mean_lines(long, "width", "accuracy", "measured on", logx=True, ylabel="accuracy (%, synthetic data)",
                          title=title)


def attribution_maps(examples: Mapping[str, np.ndarray]) -> Figure:
    """E-K4: a few test crops, their true objects, saliency and occlusion maps; each column titled with the crop's
    class and the CNN's prediction (``examples`` of :class:`~.analysis.Interpretation`)."""
    rows = {"crop": (examples["crops"], "gray"), "true object": (examples["objects"], "gray"),
            "saliency": (examples["saliency"], "magma"), "occlusion": (examples["occlusion"], "magma")}
    titles = [f"{c}\n(predicted {q})" for c, q in zip(examples["classes"], examples["predicted"], strict=True)]
    return maps_grid(rows, titles=titles)


def maximizing_inputs(maximizing: Mapping[str, np.ndarray]) -> Figure:
    """E-K4: the input maximizing each class's logit, titled with the class."""
    return maps_grid({"maximizing input": (list(maximizing.values()), "gray")}, titles=list(maximizing), size=2.2)


def embedding_scatter(embedding: pd.DataFrame) -> Figure:
    """E-K4: the last-layer embedding of the test crops by PCA and by t-SNE, coloured by class."""
    return scatter_by_class(embedding, {"PCA of the last layer": ("pca_1", "pca_2"),
                                        "t-SNE of the last layer": ("tsne_1", "tsne_2")})


def reliability_points(diagram: Diagram) -> np.ndarray:
    """``(bins, 2)``: mean confidence and accuracy of each non-empty bin of a reliability diagram."""
    return np.array([(c, a) for c, a, _ in diagram])


def reliability(diagrams: Mapping[str, Diagram]) -> Figure:
    """E-K5: the reliability diagram of each prediction (``diagrams`` of :class:`~.analysis.Calibration`)."""
    return reliability_diagram({k: reliability_points(v) for k, v in diagrams.items()})
