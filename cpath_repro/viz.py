"""Figures the notebooks show (matplotlib; nothing kept between calls; each function returns its Figure)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from cpath_repro.concepts.layers import ConvolutionDemo, PoolingDemo

PINK, GREEN = "#f4a6c8", "#7ccf7c"


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
            ax.text(c + 0.5, r + 0.5, str(values[r, c]), ha="center", va="center", fontsize=10)
    for i in range(n_r + 1):
        ax.axhline(i, color="grey", lw=0.6)
    for j in range(n_c + 1):
        ax.axvline(j, color="grey", lw=0.6)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=10)


def convolution_figure(demo: ConvolutionDemo) -> Figure:
    """Paper E Fig. 2: input with the receptive field (pink), kernel, output position (green)."""
    fig, axes = plt.subplots(1, 3, figsize=(10, 3.6), gridspec_kw={"width_ratios": [demo.image.shape[0], 3,
                                                                                     demo.output.shape[0]]})
    rs, cs = demo.receptive_field
    field = [(r, c) for r in range(rs.start, rs.stop) for c in range(cs.start, cs.stop)]
    _grid_numbers(axes[0], demo.image, field, PINK, "input I (receptive field in pink)")
    _grid_numbers(axes[1], demo.kernel, title="kernel k")
    _grid_numbers(axes[2], demo.output, [(demo.row, demo.col)], GREEN, "feature map I * k (output in green)")
    fig.tight_layout()
    return fig


def pooling_figure(demo: PoolingDemo) -> Figure:
    """Paper E Fig. 3: each window's kept maximum, and the pooled output."""
    palette = ["#f4a6c8", "#a6cef4", "#c8f4a6", "#f4e0a6", "#d4a6f4", "#a6f4e8", "#f4c0a6", "#b0b0f4"]
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.6), gridspec_kw={"width_ratios": [demo.image.shape[0],
                                                                                  demo.output.shape[0]]})
    ax = axes[0]
    w = demo.window
    n_out = demo.output.shape[0]
    _grid_numbers(ax, demo.image, title=f"input I ({w}x{w} windows, kept maxima outlined)")
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


#: Paper A, Figs. 2 and 4: background black, tumour red, tissue green, necrosis yellow.
CLASS_COLOURS = {"background": "black", "tumour": "red", "tissue": "green", "necrosis": "gold"}


def f1_curves(curves: Mapping[str, object], styles: Sequence[str] = ("--", "-"), title: str = "") -> Figure:
    """Validation F1 per class over epochs, one line style per arm (the paper's colours)."""
    import pandas as pd

    fig, ax = plt.subplots(figsize=(7, 4))
    for (label, frame), style in zip(curves.items(), styles, strict=False):
        assert isinstance(frame, pd.DataFrame)
        for cls, colour in CLASS_COLOURS.items():
            g = frame[frame["class"] == cls]
            ax.plot(g.epoch, g.f1, style, color=colour, label=f"{label}: {cls}")
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation F1 (mean over seeds)")
    ax.set_ylim(0, 1)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, ncol=2, loc="lower right")
    fig.tight_layout()
    return fig


def swatches(colours: Mapping[str, np.ndarray]) -> Figure:
    """Rows of colour swatches (e.g. the colour maximizing each first-layer filter)."""
    fig, ax = plt.subplots(figsize=(6, 0.6 * len(colours) + 0.4))
    rows = list(colours.values())
    width = max(len(r) for r in rows)
    image = np.ones((len(rows), width, 3))
    for i, r in enumerate(rows):
        image[i, : len(r)] = r
    ax.imshow(image, aspect="equal")
    ax.set_yticks(range(len(rows)), list(colours))
    ax.set_xticks(range(width), [f"filter {j + 1}" for j in range(width)], fontsize=8)
    fig.tight_layout()
    return fig


def gradient_overlays(image: np.ndarray, panels: Mapping[str, tuple[np.ndarray, int, int]]) -> Figure:
    """Paper A Fig. 9: the image masked to the pixels whose (ReLU-gated) gradient passes the threshold,
    with the target pixel circled in green."""
    from cpath_repro.explain.attribution import relu_gate_mask

    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3.4), squeeze=False)
    for ax, (title, (grad, row, col)) in zip(axes[0], panels.items(), strict=True):
        _, keep = relu_gate_mask(grad)
        shown = image.copy()
        shown[~keep] = (shown[~keep] * 0.15).astype(shown.dtype)
        ax.imshow(shown)
        ax.add_patch(plt.Circle((col, row), 4, fill=False, color="lime", lw=2))
        ax.set_title(title, fontsize=9)
        ax.set_axis_off()
    fig.tight_layout()
    return fig


def descent_figure(path: np.ndarray, surface: tuple[np.ndarray, np.ndarray, np.ndarray]) -> Figure:
    """Paper E Fig. 4: gradient descent drawn on the loss surface of two parameters."""
    w, b, loss = surface
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    contours = ax.contour(w, b, loss, levels=20, cmap="viridis")
    ax.clabel(contours, fontsize=6)
    ax.plot(path[:, 0], path[:, 1], "o-", color="crimson", ms=3, label="gradient descent")
    ax.set_xlabel("weight w")
    ax.set_ylabel("bias b")
    ax.legend()
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


def reliability_diagram(diagrams: Mapping[str, np.ndarray]) -> Figure:
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.plot([0, 1], [0, 1], "--", color="grey", label="perfect calibration")
    for label, points in diagrams.items():
        ax.plot(points[:, 0], points[:, 1], "o-", label=label)
    ax.set_xlabel("confidence")
    ax.set_ylabel("accuracy")
    ax.legend(fontsize=8)
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


def activation_figure(curves: object) -> Figure:
    """Each activation function and its derivative (E-K1)."""
    import pandas as pd

    assert isinstance(curves, pd.DataFrame)
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.2))
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


def maps_grid(rows: Mapping[str, tuple[np.ndarray, str]], titles: Sequence[str] = (), size: float = 1.8) -> Figure:
    """A grid of single-channel images: one row per entry, ``label: (images (n, H, W), colour map)``, one
    column per example."""
    n = max(len(images) for images, _ in rows.values())
    fig, axes = plt.subplots(len(rows), n, figsize=(size * n, size * len(rows)), squeeze=False)
    for r, (label, (images, cmap)) in enumerate(rows.items()):
        for c in range(n):
            ax = axes[r, c]
            if c < len(images):
                ax.imshow(images[c], cmap=cmap)
            ax.set_xticks([])
            ax.set_yticks([])
            if c == 0:
                ax.set_ylabel(label, fontsize=8)
            if r == 0 and c < len(titles):
                ax.set_title(titles[c], fontsize=8)
    fig.tight_layout()
    return fig


def scatter_by_class(frame: object, panels: Mapping[str, tuple[str, str]]) -> Figure:
    """2-D embeddings coloured by class, one panel per embedding (columns of ``frame``)."""
    import pandas as pd

    assert isinstance(frame, pd.DataFrame)
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.8), squeeze=False)
    for ax, (title, (cx, cy)) in zip(axes[0], panels.items(), strict=True):
        for name, g in frame.groupby("class", sort=False):
            ax.scatter(g[cx], g[cy], s=6, label=str(name))
        ax.set_title(title, fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0, 0].legend(fontsize=8, markerscale=2)
    fig.tight_layout()
    return fig


def tracks_figure(frames: np.ndarray, tracks: Mapping[str, np.ndarray]) -> Figure:
    """A time-lapse's first and last frames, and each tracker's path over the mean frame (E-K2's RNN)."""
    fig, axes = plt.subplots(1, 3, figsize=(10, 3.4))
    axes[0].imshow(frames[0], cmap="gray")
    axes[0].set_title("frame 1", fontsize=9)
    axes[1].imshow(frames[-1], cmap="gray")
    axes[1].set_title(f"frame {len(frames)}", fontsize=9)
    axes[2].imshow(frames.mean(0), cmap="gray")
    for label, path in tracks.items():
        style = "w-" if label == "truth" else "-"
        axes[2].plot(path[:, 1], path[:, 0], style, marker="o", ms=2, lw=1.5 if label == "truth" else 1, label=label)
    axes[2].set_title("paths over the mean of all frames", fontsize=9)
    axes[2].legend(fontsize=6, loc="lower left")
    for ax in axes:
        ax.set_axis_off()
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
