"""Paper A's explanation notebooks (A-F6 ... A-F9): what the trained models learned, measured.

Kept apart from the training recipe so that a change here re-executes these notebooks and
retrains nothing (a model's store key follows the import closure of :mod:`.training`).
"""

from __future__ import annotations

from typing import cast

import numpy as np
import pandas as pd
import torch
from torch import nn

from cpath_repro.chapters.paper_a.training import Settings
from cpath_repro.claims import metrics
from cpath_repro.data.tiles import CLASSES
from cpath_repro.models.unet import build
from cpath_repro.synth import stains, tissue
from cpath_repro.train import store

#: The stain vectors of the training set (every slide jitters around these by at most max_angle_deg).
TRUE_STAIN_VECTORS = np.stack(list(stains.STAINS.values()))


def stain_colour_table(models: dict[tuple[str, int], store.StoredModel], s: Settings):  # type: ignore[no-untyped-def]
    """A-F6 / A-C5: colours maximizing the first-layer filters, trained vs untrained CD-UNET, and
    their mean angle to the nearest true stain vector (glass filters left out)."""
    from cpath_repro.explain.actmax import first_layer_colours

    rows, swatches = [], {}
    for (arm, seed), stored in models.items():
        if arm != "cdunet-multistain":
            continue
        torch.manual_seed(seed)
        untrained = build("cd-unet", s.base, s.depth)
        for label, net in (("trained", stored.model), ("untrained", untrained)):
            segment = cast(nn.Sequential, net.cd)
            colours = first_layer_colours(cast(nn.Conv2d, segment[0]), cast(nn.BatchNorm2d, segment[1]), seed=seed)
            swatches[(label, seed)] = colours
            angles = colours.stain_angles(TRUE_STAIN_VECTORS)
            if len(angles):
                rows.append({"seed": seed, "arm": label, "metric": metrics.STAIN_OD_ANGLE_DEG,
                             "value": float(angles.mean())})
    return pd.DataFrame(rows), swatches


def he_slide(s: Settings, seed: int) -> tissue.Slide:
    """The first H&E test slide of a seed (with its true concentrations and glass mask)."""
    return tissue.make_slide((seed, tissue.SPLITS["test"], 100, 0), "H&E", s.tissue())


def _as_input(rgb: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(rgb).permute(2, 0, 1).float()[None] / 255.0


def cd_outputs(model: nn.Module, slide: tissue.Slide) -> np.ndarray:
    """The three outputs of the CD segment on a slide, ``(3, H, W)``."""
    with torch.no_grad():
        return model.cd.eval()(_as_input(slide.rgb))[0].numpy()  # type: ignore[union-attr,operator]


def stain_separation(outputs: np.ndarray, slide: tissue.Slide) -> tuple[pd.DataFrame, float]:
    """|Pearson r| of each CD output with the true haematoxylin, eosin and glass maps, and the
    mean |r| of the best one-to-one matching (A-C6's number)."""
    import itertools

    truth = {"haematoxylin": slide.concentrations[..., 0], "eosin": slide.concentrations[..., 1],
             "glass": slide.glass.astype(float)}
    r = np.zeros((3, 3))
    for i in range(3):
        for j, t in enumerate(truth.values()):
            a, b = outputs[i].ravel(), t.ravel()
            r[i, j] = 0.0 if a.std() == 0 or b.std() == 0 else abs(np.corrcoef(a, b)[0, 1])
    best = max(np.mean([r[i, p[i]] for i in range(3)]) for p in itertools.permutations(range(3)))
    table = pd.DataFrame(r, index=[f"CD output {i + 1}" for i in range(3)], columns=list(truth))
    return table, float(best)


#: A-C7: pixels sampled per class and seed, at least this far (pixels) from the slide's edge.
ERF_PIXELS_PER_CLASS = 6
ERF_MARGIN = 24


def erf_table(stored: store.StoredModel, s: Settings, seed: int, samples: int = 12):  # type: ignore[no-untyped-def]
    """A-F9 / A-C7: SmoothGrad of tumour, tissue and necrosis pixels (by ground truth, away from the edge)
    on the seed's H&E test slides, and the radius holding 90 % of each gradient's mass (the effective
    receptive field). Pixels are drawn from successive slides until each class has its sample."""
    from cpath_repro.explain.attribution import mass_radius, smoothgrad_pixel

    rng = np.random.default_rng(seed)
    radii: dict[int, list[float]] = {1: [], 2: [], 3: []}
    examples: dict[str, tuple[np.ndarray, int, int]] = {}
    first = he_slide(s, seed)
    for k in range(len(stains.ASSAYS) * s.test_slides):
        slide = first if k == 0 else tissue.make_slide((seed, tissue.SPLITS["test"], 100, k), "H&E", s.tissue())
        image = _as_input(slide.rgb)[0]
        size = slide.labels.shape[0]
        inner = np.zeros_like(slide.labels, dtype=bool)
        inner[ERF_MARGIN:size - ERF_MARGIN, ERF_MARGIN:size - ERF_MARGIN] = True
        for cls, found in radii.items():
            ys, xs = np.nonzero((slide.labels == cls) & inner)
            want = ERF_PIXELS_PER_CLASS - len(found)
            for i in rng.choice(len(ys), min(want, len(ys)), replace=False) if want > 0 and len(ys) else []:
                grad = smoothgrad_pixel(stored.model, image, cls, int(ys[i]), int(xs[i]), samples=samples, seed=seed)
                found.append(mass_radius(grad, int(ys[i]), int(xs[i])))
                if k == 0 and CLASSES[cls] not in examples:
                    examples[CLASSES[cls]] = (grad, int(ys[i]), int(xs[i]))
        if all(len(v) >= ERF_PIXELS_PER_CLASS for v in radii.values()):
            break
    rows = [{"seed": seed, "arm": CLASSES[c], "metric": metrics.ERF_RADIUS_90PCT_PX, "value": float(np.mean(v))}
            for c, v in radii.items() if v]
    return pd.DataFrame(rows), examples, first


def separation_table(models: dict[tuple[str, int], store.StoredModel], s: Settings):  # type: ignore[no-untyped-def]
    """A-C6 over seeds, plus seed 0's correlation table, CD outputs and slide for Fig. 7."""
    rows, first = [], None
    for (arm, seed), stored in models.items():
        if arm != "cdunet-multistain":
            continue
        slide = he_slide(s, seed)
        outputs = cd_outputs(stored.model, slide)
        table, best = stain_separation(outputs, slide)
        rows.append({"seed": seed, "arm": "cd-unet", "metric": metrics.BEST_STAIN_MAP_CORRELATION, "value": best})
        if first is None:
            first = (table, outputs, slide)
    return pd.DataFrame(rows), first


def erf_all(models: dict[tuple[str, int], store.StoredModel], s: Settings):  # type: ignore[no-untyped-def]
    """A-C7 over seeds, plus seed 0's SmoothGrad examples and slide for Fig. 9."""
    frames, first = [], None
    for (arm, seed), stored in models.items():
        if arm != "cdunet-multistain":
            continue
        table, found, slide = erf_table(stored, s, seed)
        frames.append(table)
        if first is None:
            first = (found, slide)
    return pd.concat(frames, ignore_index=True), first


def class_maximizing_inputs(model: nn.Module, s: Settings, seed: int = 0) -> dict[str, np.ndarray]:
    """A-F8: for tumour, tissue and necrosis, an input maximizing that class at the centre pixel."""
    from cpath_repro.explain.actmax import maximize_output_pixel

    return {f"maximizes {CLASSES[c]}": maximize_output_pixel(model, c, 2 * s.tile, seed=seed) for c in (1, 2, 3)}
