"""Paper A's measurements as the notebooks call them: the test tables (A-T1, A-T2), the validation curves and
their convergence (A-F2, A-F4), the claims' tables, and what the trained models learned (A-F6 ... A-F9).

Kept apart from the training recipe so that a change here re-executes the chapter's notebooks and
retrains nothing (a model's store key follows the import closure of :mod:`.training`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pandas as pd
import torch
from torch import nn

from cpath_repro import notebook
from cpath_repro.chapters.paper_a import paper
from cpath_repro.chapters.paper_a.data import he_only_slide, split_tiles
from cpath_repro.chapters.paper_a.training import F1_NAMES, f1_scores
from cpath_repro.claims.metrics import paper_a as metrics
from cpath_repro.claims.registry import Claim
from cpath_repro.claims.rules import Dominates
from cpath_repro.claims.scorecard import VerdictBox
from cpath_repro.data.tiles import CLASSES
from cpath_repro.metrics.segmentation import epochs_to_level, roughness
from cpath_repro.models.unet import build, parameter_count
from cpath_repro.synth import stains, tissue
from cpath_repro.train import store

if TYPE_CHECKING:
    from cpath_repro.chapters.paper_a.settings import Settings

Models = dict[tuple[str, int], store.StoredModel]

#: Fraction of the lower final F1 that defines "converged" (A-C1, A-C4), fixed before any run.
CONVERGED_FRACTION = 0.9
#: The smallest rise (F1) a curve's roughness is divided by: a curve that rises less counts as rising this much.
MIN_RISE = 0.05


def model_keys(models: Models) -> list[str]:
    """The store keys of the models, in order: what a run records that its numbers rest on (``run.use_models``)."""
    return [m.key for m in models.values()]


def parameter_counts(s: Settings) -> dict[str, int]:
    """Trainable parameters of UNET and CD-UNET at these settings."""
    return {arch: parameter_count(build(arch, len(CLASSES), s.base, s.depth)) for arch in ("unet", "cd-unet")}


# -- the test tables (A-T1, A-T2) and the validation curves (A-F2, A-F4) -----------------------------------------------

#: The paper's test F1 per (arm label, class metric), Tables 1 and 2: A-C2's and A-C3's paper effects.
PAPER_F1: dict[tuple[str, str], float] = {
    (arm, metric): value for table in (paper.PAPER_T1, paper.PAPER_T2) for arm, row in table.items()
    for metric, value in zip(metrics.F1, row, strict=True)}


def test_table(models: Models, s: Settings, test_stains: str, arms: dict[str, str]) -> pd.DataFrame:
    """Per-seed test F1: one row per (seed, arm label, class), with the paper's F1 where it printed one."""
    rows = []
    for (arm, seed), stored in models.items():
        if arm not in arms:
            continue
        scores = f1_scores(stored.model, split_tiles(s, seed, test_stains, "test"))
        rows += [{"seed": seed, "arm": arms[arm], "metric": name, "value": v,
                  "paper": PAPER_F1.get((arms[arm], name), np.nan)} for name, v in scores.items()]
    return pd.DataFrame(rows)


def curves(stored: store.StoredModel) -> pd.DataFrame:
    """Validation F1 per class over epochs (long format)."""
    rows = [{"epoch": e["epoch"], "class": name.removeprefix("f1_"), "f1": e["val"][name]}
            for e in stored.meta["history"] if "val" in e for name in F1_NAMES]
    return pd.DataFrame(rows)


def convergence_table(models: Models, arms: dict[str, str]) -> pd.DataFrame:
    """A-C1/A-C4's claim table, per seed and arm label; the measures were fixed (2026-12-03) so that neither can
    favour the arm that learns less. Speed: epochs until each class's validation F1 reaches
    :data:`CONVERGED_FRACTION` of the *lower* of the arms' final values in that seed (a level both reach), mean
    over classes. Smoothness: each class curve's :func:`roughness` (movement beyond its net rise, per unit of
    rise, the rise floored at :data:`MIN_RISE`), mean over classes."""
    rows = []
    for seed in sorted({seed for arm, seed in models if arm in arms}):
        by_arm = {arm: curves(models[(arm, seed)]) for arm in arms if (arm, seed) in models}
        finals = {name: min(float(c[c["class"] == name].f1.iloc[-1]) for c in by_arm.values())
                  for name in next(iter(by_arm.values()))["class"].unique()}
        for arm, c in by_arm.items():
            speed, rough = [], []
            for name, g in c.groupby("class"):
                f1 = g.f1.to_numpy()
                speed.append(epochs_to_level(g.epoch.to_numpy(), f1, CONVERGED_FRACTION * finals[name]))
                rough.append(roughness(f1, MIN_RISE))
            rows += [{"seed": seed, "arm": arms[arm], "metric": metrics.EPOCHS_TO_SHARED_LEVEL,
                      "value": float(np.mean(speed))},
                     {"seed": seed, "arm": arms[arm], "metric": metrics.F1_CURVE_ROUGHNESS, "value": float(np.mean(rough))}]
    return pd.DataFrame(rows, columns=["seed", "arm", "metric", "value"])


def mean_curves(models: Models, arms: dict[str, str]) -> dict[str, pd.DataFrame]:
    """Validation F1 curves per arm label, averaged over seeds."""
    out = {}
    for arm, label in arms.items():
        frames = [curves(m) for (a, _), m in models.items() if a == arm]
        out[label] = pd.concat(frames).groupby(["epoch", "class"], as_index=False).f1.mean()
    return out


# -- what the models learned (A-F6 ... A-F9) ------------------------------------------------------------------------

#: The stain vectors of the training set (every slide jitters around these by at most max_angle_deg).
TRUE_STAIN_VECTORS = np.stack(list(stains.STAINS.values()))
#: Why a run on real tiles cannot judge the claims measured against the generator's ground truth.
NEEDS_GROUND_TRUTH = {
    "A-C5": "needs the true stain vectors, which real slides do not have",
    "A-C6": "needs the true stain concentration maps, which real slides do not have",
}


def untrained_cd_unet(s: Settings, seed: int) -> nn.Module:
    """The CD-UNET of ``seed`` at its initial weights (training.train_arm seeds them the same way): the
    comparator of A-C5, A-C6 and the real-H&E check, since a colour-deconvolution layer on optical density
    correlates with the stains before any training."""
    torch.manual_seed(seed)
    return build("cd-unet", len(CLASSES), s.base, s.depth)


def stain_colour_table(models: Models, s: Settings):  # type: ignore[no-untyped-def]
    """A-F6 / A-C5: colours maximizing the first-layer filters, trained vs untrained CD-UNET, and
    their mean angle to the nearest true stain vector (glass filters left out; no angles on real tiles)."""
    from cpath_repro.explain.actmax import first_layer_colours

    rows, swatches = [], {}
    for (arm, seed), stored in models.items():
        if arm != "cdunet-multistain":
            continue
        for label, net in (("trained", stored.model), ("untrained", untrained_cd_unet(s, seed))):
            segment = cast(nn.Sequential, net.cd)
            colours = first_layer_colours(cast(nn.Conv2d, segment[0]), cast(nn.BatchNorm2d, segment[1]), seed=seed)
            swatches[(label, seed)] = colours
            if s.data_root is not None:  # real tiles: no true stain vectors to measure against
                continue
            angles = colours.stain_angles(TRUE_STAIN_VECTORS)
            if len(angles):
                rows.append({"seed": seed, "arm": label, "metric": metrics.STAIN_OD_ANGLE_DEG,
                             "value": float(angles.mean())})
    return pd.DataFrame(rows), swatches


def report_claim(run: Any, claim_id: str, table: pd.DataFrame, s: Settings) -> VerdictBox:
    """Save a claim's per-seed table and return its verdict box. On real tiles a claim measured against
    the generator's ground truth is not testable, and the run says why (:data:`NEEDS_GROUND_TRUTH`)."""
    return notebook.report_claim(run, claim_id, table, s.data,
                                 NEEDS_GROUND_TRUTH.get(claim_id) if s.data_root is not None else None)


def he_slide(s: Settings, seed: int) -> tissue.Slide:
    """The first synthetic H&E test slide of a seed (with its true concentrations and glass mask)."""
    return he_only_slide(s, seed, "test", 0)


def _as_input(rgb: np.ndarray) -> torch.Tensor:
    """``(H, W, 3)`` or ``(N, H, W, 3)`` uint8 to the network's ``(N, 3, H, W)`` float input in [0, 1]."""
    x = torch.from_numpy(np.ascontiguousarray(rgb)).float() / 255.0
    return (x[None] if x.ndim == 3 else x).permute(0, 3, 1, 2)


def cd_outputs(model: nn.Module, rgb: np.ndarray) -> np.ndarray:
    """The three outputs of the CD segment on an image ``(3, H, W)``, or on a stack of them ``(N, 3, H, W)``."""
    with torch.no_grad():
        out = model.cd.eval()(_as_input(rgb)).numpy()  # type: ignore[union-attr,operator]
    return out[0] if rgb.ndim == 3 else out


def abs_correlations(outputs: np.ndarray, references: dict[str, np.ndarray]) -> pd.DataFrame:
    """|Pearson r| of each CD output (axis -3 of ``outputs``) with each reference map, over all pixels."""
    flat = np.moveaxis(outputs, -3, 0).reshape(outputs.shape[-3], -1)
    r = np.zeros((len(flat), len(references)))
    for j, ref in enumerate(references.values()):
        b = np.asarray(ref, dtype=float).ravel()
        for i, a in enumerate(flat):
            r[i, j] = 0.0 if a.std() == 0 or b.std() == 0 else abs(np.corrcoef(a, b)[0, 1])
    return pd.DataFrame(r, index=[f"CD output {i + 1}" for i in range(len(flat))], columns=list(references))


def best_matching(r: pd.DataFrame) -> float:
    """Mean |r| of the best one-to-one matching of references (columns) to outputs (rows): A-C6's number."""
    import itertools

    values = r.to_numpy()
    return float(max(np.mean([values[i, j] for j, i in enumerate(rows)])
                     for rows in itertools.permutations(range(values.shape[0]), values.shape[1])))


def true_stain_maps(slide: tissue.Slide) -> dict[str, np.ndarray]:
    """What A-C6 compares with: the generator's haematoxylin and eosin concentrations and the glass mask."""
    return {"haematoxylin": slide.concentrations[..., 0], "eosin": slide.concentrations[..., 1],
            "glass": slide.glass.astype(float)}


def textbook_stain_maps(rgb: np.ndarray) -> dict[str, np.ndarray]:
    """scikit-image's colour deconvolution (Ruifrok & Johnston's H&E-DAB vectors) of real H&E:
    an estimate, not ground truth, but one that needs none."""
    from skimage.color import rgb2hed

    hed = rgb2hed(rgb)
    return {"haematoxylin": hed[..., 0], "eosin": hed[..., 1]}


def separation_table(models: Models, s: Settings):  # type: ignore[no-untyped-def]
    """A-C6 over seeds (synthetic slides), plus seed 0's correlation table, CD outputs and image for Fig. 7.

    On real tiles there is no true stain map: Fig. 7 shows the outputs on the first H&E test tile and the
    table correlates them with the textbook deconvolution instead; A-C6 is then not testable (no rows).
    """
    rows, first = [], None
    for (arm, seed), stored in models.items():
        if arm != "cdunet-multistain":
            continue
        if s.data_root is not None:
            rgb = split_tiles(s, seed, "he", "test").images[0]
            references = textbook_stain_maps(rgb)
        else:
            slide = he_slide(s, seed)
            rgb, references = slide.rgb, true_stain_maps(slide)
        outputs = cd_outputs(stored.model, rgb)
        table = abs_correlations(outputs, references)
        if s.data_root is None:
            untrained = abs_correlations(cd_outputs(untrained_cd_unet(s, seed), rgb), references)
            rows += [{"seed": seed, "arm": arm, "metric": metrics.BEST_STAIN_MAP_CORRELATION, "value": best_matching(r)}
                     for arm, r in (("trained", table), ("untrained", untrained))]
        if first is None:
            first = (table, outputs, rgb)
    return pd.DataFrame(rows, columns=["seed", "arm", "metric", "value"]), first



# -- beyond the paper: does training make the CD segment a stain deconvolution on real H&E? ---------------------------

#: Tiles of the real CMU-1-Small-Region H&E slide the check reads: the first (row by row) full
#: REAL_HE_TILE-pixel tiles of level 0 whose mean RGB is darker than REAL_HE_MAX_BRIGHTNESS (glass is ~240).
REAL_HE_TILE = 256
REAL_HE_TILES = 16
REAL_HE_MAX_BRIGHTNESS = 200
REAL_HE_METRICS = {"haematoxylin": metrics.RGB2HED_BEST_R_HAEMATOXYLIN, "eosin": metrics.RGB2HED_BEST_R_EOSIN}
#: The rule, fixed before any run: on real H&E, the trained segment's best output correlates with
#: rgb2hed's haematoxylin, and its best output with rgb2hed's eosin, more than the untrained segment of
#: the same seed does (its initial weights), by the paired interval over seeds.
REAL_HE_RULE = Dominates("trained", "untrained", tuple(REAL_HE_METRICS.values()))
REAL_HE_CHECK = Claim("A-C6, real H&E", "A", "Beyond the paper: on real H&E (CMU-1-Small-Region), training makes the "
                      "CD segment's outputs follow the textbook haematoxylin and eosin maps (rgb2hed) more closely "
                      "than its initial weights do.", REAL_HE_RULE)


def real_he_tiles() -> tuple[np.ndarray, Path]:
    """The check's tissue tiles ``(N, T, T, 3)`` of the CMU-1-Small-Region slide, and the slide's path."""
    from cpath_repro.wsi.reader import cmu_small_region, open_slide

    path = cmu_small_region()
    with open_slide(path) as slide:
        tiles = [t.image for t in slide.iter_tiles(0, REAL_HE_TILE)
                 if t.width == t.height == REAL_HE_TILE and t.image.mean() < REAL_HE_MAX_BRIGHTNESS]
    return np.stack(tiles[:REAL_HE_TILES]), path


def real_he_check(models: Models, s: Settings, tiles: np.ndarray) -> pd.DataFrame:
    """Per seed, trained and untrained: the best |r| of any CD output with rgb2hed's haematoxylin and eosin."""
    references = textbook_stain_maps(tiles)
    rows = []
    for (arm, seed), stored in models.items():
        if arm != "cdunet-multistain":
            continue
        for label, net in (("trained", stored.model), ("untrained", untrained_cd_unet(s, seed))):
            r = abs_correlations(cd_outputs(net, tiles), references)
            rows += [{"seed": seed, "arm": label, "metric": REAL_HE_METRICS[stain], "value": float(r[stain].max())}
                     for stain in REAL_HE_METRICS]
    return pd.DataFrame(rows)


#: A-C7: pixels sampled per class and seed, at least this far (pixels) from the image's edge
#: (a quarter of the side on real tiles smaller than 4 x ERF_MARGIN).
ERF_PIXELS_PER_CLASS = 6
ERF_MARGIN = 24


def labelled_he_images(s: Settings, seed: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """``(rgb, labels)`` of the seed's H&E test images: synthetic slides, or the real H&E test tiles."""
    if s.data_root is not None:
        tiles = split_tiles(s, seed, "he", "test")
        yield from zip(tiles.images, tiles.labels, strict=True)
        return
    for k in range(len(stains.ASSAYS) * s.test_slides):
        slide = he_only_slide(s, seed, "test", k)
        yield slide.rgb, slide.labels


def erf_table(stored: store.StoredModel, s: Settings, seed: int, samples: int = 12):  # type: ignore[no-untyped-def]
    """A-F9 / A-C7: SmoothGrad of tumour, tissue and necrosis pixels (by ground truth, away from the edge)
    on the seed's H&E test images, and the radius holding 90 % of each gradient's mass (the effective
    receptive field). Pixels are drawn from successive images until each class has its sample. It needs
    labels, not stain ground truth, so it is measured on real tiles as on synthetic slides."""
    from cpath_repro.explain.attribution import mass_radius, smoothgrad_pixel

    rng = np.random.default_rng(seed)
    radii: dict[int, list[float]] = {1: [], 2: [], 3: []}
    examples: dict[str, tuple[np.ndarray, int, int]] = {}
    first: np.ndarray | None = None
    for k, (rgb, labels) in enumerate(labelled_he_images(s, seed)):
        first = rgb if first is None else first
        image = _as_input(rgb)[0]
        size = labels.shape[0]
        margin = min(ERF_MARGIN, size // 4)
        inner = np.zeros_like(labels, dtype=bool)
        inner[margin:size - margin, margin:size - margin] = True
        for cls, found in radii.items():
            ys, xs = np.nonzero((labels == cls) & inner)
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


def erf_all(models: Models, s: Settings):  # type: ignore[no-untyped-def]
    """A-C7 over seeds, plus seed 0's SmoothGrad examples and image for Fig. 9."""
    frames, first = [], None
    for (arm, seed), stored in models.items():
        if arm != "cdunet-multistain":
            continue
        table, found, image = erf_table(stored, s, seed)
        frames.append(table)
        if first is None:
            first = (found, image)
    return pd.concat(frames, ignore_index=True), first


def class_maximizing_inputs(model: nn.Module, s: Settings, seed: int = 0) -> dict[str, np.ndarray]:
    """A-F8: for tumour, tissue and necrosis, an input maximizing that class at the centre pixel."""
    from cpath_repro.explain.actmax import maximize_output_pixel

    return {f"maximizes {CLASSES[c]}": maximize_output_pixel(model, c, 2 * s.tile, seed=seed) for c in (1, 2, 3)}
