"""Paper A's figures: validation F1 curves in the paper's class colours (A-F2, A-F4), the colours the first-layer
filters respond to (A-F6), the CD segment's outputs (A-F7), SmoothGrad's masked images (A-F9), and example tiles
with their label maps in the paper's colours (A-F1, A-F5).

Each function returns its Figure (matplotlib; nothing kept between calls). The generic ones a page also uses
(an image grid, ours beside the paper's) are in :mod:`cpath_repro.viz`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from cpath_repro.chapters.paper_a.analysis import TRUE_STAIN_VECTORS
from cpath_repro.chapters.paper_a.data import split_tiles
from cpath_repro.chapters.paper_a.training import predict
from cpath_repro.data.tiles import EXCLUDE
from cpath_repro.synth import stains
from cpath_repro.viz import COLUMN_INCHES, panel_grid

if TYPE_CHECKING:
    from torch import nn

    from cpath_repro.chapters.paper_a.settings import Settings
    from cpath_repro.explain.actmax import FilterColours

#: Paper A, Figs. 2 and 4: background black, tumour red, tissue green, necrosis yellow.
CLASS_COLOURS = {"background": "black", "tumour": "red", "tissue": "green", "necrosis": "gold"}


def f1_curves(curves: Mapping[str, object], styles: Sequence[str] = ("--", "-"), title: str = "") -> Figure:
    """Validation F1 per class over epochs, one line style per arm (the paper's colours)."""
    import pandas as pd

    fig, ax = plt.subplots(figsize=(COLUMN_INCHES, 4))
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


def swatches(rows: Mapping[str, tuple[np.ndarray, Sequence[str]]]) -> Figure:
    """Rows of colour swatches, each cell named (e.g. the colour maximizing each first-layer filter, with the stain
    it is nearest to)."""
    width = max(len(colours) for colours, _ in rows.values())
    fig, ax = plt.subplots(figsize=(COLUMN_INCHES, 0.42 * len(rows) + 0.6))
    image = np.ones((len(rows), width, 3))
    for i, (colours, names) in enumerate(rows.values()):
        image[i, : len(colours)] = colours
        for j, (rgb, name) in enumerate(zip(colours, names, strict=True)):
            dark = float(np.dot(rgb, (0.299, 0.587, 0.114))) < 0.5
            ax.text(j, i, name, ha="center", va="center", fontsize=7, color="white" if dark else "black")
    ax.imshow(image, aspect="auto")
    ax.set_yticks(range(len(rows)), list(rows), fontsize=8)
    ax.set_xticks(range(width), [f"filter {j + 1}" for j in range(width)], fontsize=8)
    ax.xaxis.tick_top()
    fig.tight_layout()
    return fig


def filter_swatches(found: Mapping[tuple[str, int], FilterColours], s: Settings
                    ) -> dict[str, tuple[np.ndarray, list[str]]]:
    """A-F6's rows for :func:`swatches`: the generator's true stain colours (synthetic data only), then each
    segment's filter colours by ``(trained or untrained, seed)``, as :func:`.analysis.stain_colour_table` found
    them, each filter named by the stain nearest its colour and the angle to it (glass: it prefers clear glass)."""
    names = [name.replace("_", " ") for name in stains.STAINS]
    rows: dict[str, tuple[np.ndarray, list[str]]] = {} if s.data_root is not None else {
        "true stains (the generator's)": (10 ** -TRUE_STAIN_VECTORS, names)}
    for (label, seed), colours in found.items():
        cells = []
        for od, glass in zip(colours.od, colours.glass, strict=True):
            angles = stains.angle_deg(od[None], TRUE_STAIN_VECTORS).ravel()
            cells.append("glass" if glass else f"{names[int(angles.argmin())]}\n{angles.min():.0f}°")
        rows[f"{label}, seed {seed}"] = (colours.rgb, cells)
    return rows


def cd_output_panels(image: np.ndarray, outputs: np.ndarray) -> dict[str, np.ndarray]:
    """A-F7's panels for :func:`cpath_repro.viz.image_grid`: the H&E image, then each of the CD segment's outputs."""
    return {"H&E image": image, **{f"CD output {i + 1}": o for i, o in enumerate(outputs)}}


def gradient_overlays(image: np.ndarray, panels: Mapping[str, tuple[np.ndarray, int, int]]) -> Figure:
    """Paper A Fig. 9: the image masked to the pixels whose (ReLU-gated) gradient passes the threshold,
    with the target pixel circled in green."""
    from cpath_repro.explain.attribution import relu_gate_mask

    some = next(iter(panels.values()))[0]
    fig, axes = panel_grid(len(panels), COLUMN_INCHES / min(3, len(panels)) * some.shape[0] / some.shape[1] + 0.4)
    for ax, (title, (grad, row, col)) in zip(axes, panels.items(), strict=True):
        _, keep = relu_gate_mask(grad)
        shown = image.copy()
        shown[~keep] = (shown[~keep] * 0.15).astype(shown.dtype)
        ax.imshow(shown)
        ax.add_patch(plt.Circle((col, row), 4, fill=False, color="lime", lw=2))
        ax.set_title(title, fontsize=9)
        ax.set_axis_off()
    fig.tight_layout()
    return fig


#: A pixel the ascent changed differs from the grey it starts toward (0.5) by more than this in some channel.
CHANGED = 0.02


def maximizing_panels(inputs: Mapping[str, np.ndarray], margin: int = 4) -> dict[str, np.ndarray]:
    """A-F8's panels for :func:`cpath_repro.viz.image_grid`: each class-maximizing input cropped to where the
    ascent changed it, its difference from grey stretched to the full range, titled with the share of the input
    it changed. Only pixels in the centre pixel's receptive field get a gradient; the rest stay at the grey the
    ascent starts toward, which is why the whole inputs look grey."""
    changed = {title: np.abs(image - 0.5).max(-1) > CHANGED for title, image in inputs.items()}
    rows, cols = np.nonzero(np.logical_or.reduce(list(changed.values())))
    if not len(rows):
        return {f"{title}: no pixel changed": image for title, image in inputs.items()}
    size = next(iter(inputs.values())).shape
    top, bottom = max(0, rows.min() - margin), min(size[0], rows.max() + margin + 1)
    left, right = max(0, cols.min() - margin), min(size[1], cols.max() + margin + 1)
    out = {}
    for title, image in inputs.items():
        crop = image[top:bottom, left:right] - 0.5
        spread = float(np.abs(crop).max()) or 1.0
        out[f"{title}\n({changed[title].mean():.1%} of the input changed)"] = np.clip(0.5 + crop / (2 * spread), 0, 1)
    return out


def pixel_panels(found: Mapping[str, tuple[np.ndarray, int, int]]) -> dict[str, tuple[np.ndarray, int, int]]:
    """A-F9's panels for :func:`gradient_overlays`: each class's SmoothGrad example (:func:`.analysis.erf_all`),
    titled "<class> pixel"."""
    return {f"{c} pixel": g for c, g in found.items()}


# -- example tiles (A-F1, A-F5) ---------------------------------------------------------------------------------------

#: The label colours of paper A, Figure 1: background black, tumour red, tissue green, necrosis yellow, exclude white.
LABEL_COLOURS = {0: (0, 0, 0), 1: (220, 30, 30), 2: (40, 170, 60), 3: (240, 210, 40), EXCLUDE: (255, 255, 255)}


def colour_labels(labels: np.ndarray) -> np.ndarray:
    """A label map in paper A's colours (:data:`LABEL_COLOURS`), as an RGB image."""
    out = np.zeros((*labels.shape, 3), np.uint8)
    for value, rgb in LABEL_COLOURS.items():
        out[labels == value] = rgb
    return out


def examples(s: Settings, seed: int, assays: tuple[str, ...], predicted: np.ndarray | None = None
             ) -> dict[str, np.ndarray]:
    """Multistain test tiles of the given assays with their coloured label maps, and ``predicted`` (a class map per
    test tile, e.g. :func:`cpath_repro.chapters.paper_a.training.predict`'s) coloured the same way when given."""
    tiles = split_tiles(s, seed, "multistain", "test")
    out: dict[str, np.ndarray] = {}
    for assay in assays:
        candidates = np.nonzero(tiles.assays == assay)[0] if (tiles.assays == assay).any() else np.arange(len(tiles))
        # the tile showing the most classes, then the most tissue: an all-glass tile shows nothing
        index = int(max(candidates, key=lambda i: (len(np.unique(tiles.labels[i])), (tiles.labels[i] != 0).mean())))
        out[f"{assay}: image"] = tiles.images[index]
        out[f"{assay}: ground truth"] = colour_labels(tiles.labels[index])
        if predicted is not None:
            out[f"{assay}: prediction"] = colour_labels(predicted[index])
    return out


def segmentations(s: Settings, seed: int, assays: tuple[str, ...], model: nn.Module) -> dict[str, np.ndarray]:
    """A-F5: test tiles of the given assays (:func:`examples`) with their ground truth and the model's
    prediction."""
    return examples(s, seed, assays, predict(model, split_tiles(s, seed, "multistain", "test")))
