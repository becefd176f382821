"""Paper A (Lahiani et al.): UNET vs CD-UNET, single-stain vs multistain.

Three arms are trained per paired seed: UNET on multistain slides, UNET on H&E-only slides
(as many training tiles), CD-UNET on the same multistain slides. Tables A-T1/A-T2 are test
F1 per class; A-F2/A-F4 are the validation-F1 curves. Models come from the model store, so
the explanation notebooks reuse the models the tables trained.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd
import torch
from torch import nn

from cpath_repro.data.segmentation import SegmentationTiles
from cpath_repro.data.tiles import read_tile_folder
from cpath_repro.data.transforms import augmentation
from cpath_repro.metrics.segmentation import (
    confusion,
    epochs_to_fraction_of_final,
    f1_per_class,
    median_frequency_weights,
    total_variation,
)
from cpath_repro.models.unet import CLASSES, EXCLUDE, build, parameter_count
from cpath_repro.project import data_fingerprint
from cpath_repro.synth import stains, tissue
from cpath_repro.train import distributed, store
from cpath_repro.train.engine import TrainConfig, Trainer

#: Paper A's test F1 (background, tumour, tissue, necrosis), Tables 1 and 2.
PAPER_T1 = {"multistain": (0.63, 0.20, 0.78, 0.44), "he-only": (0.99, 0.85, 0.71, 0.88)}
PAPER_T2 = {"unet": (0.92, 0.52, 0.89, 0.60), "cd-unet": (0.99, 0.88, 0.90, 0.80)}
#: The label colours of paper A, Figure 1: background black, tumour red, tissue green, necrosis yellow, exclude white.
LABEL_COLOURS = {0: (0, 0, 0), 1: (220, 30, 30), 2: (40, 170, 60), 3: (240, 210, 40), EXCLUDE: (255, 255, 255)}
#: Fraction of final F1 that defines "converged" (A-C1, A-C4), fixed before any run.
CONVERGED_FRACTION = 0.9

ARMS: dict[str, tuple[str, str]] = {  # arm -> (architecture, training stains)
    "unet-multistain": ("unet", "multistain"),
    "unet-he": ("unet", "he"),
    "cdunet-multistain": ("cd-unet", "multistain"),
}
F1_NAMES = tuple(f"f1_{c}" for c in CLASSES)


@dataclass(frozen=True)
class Settings:
    """A notebook's resolved parameters for this chapter."""

    n_seeds: int
    tile: int
    base: int
    depth: int
    epochs: int
    val_every: int
    batch_size: int
    lr: float
    difficulty: float
    train_slides: int
    test_slides: int
    data_root: str | None = None

    @classmethod
    def from_params(cls, values: dict[str, Any]) -> Settings:
        return cls(**{k: values[k] for k in cls.__dataclass_fields__})

    @property
    def seeds(self) -> list[int]:
        return list(range(self.n_seeds))

    def tissue(self) -> tissue.TissueConfig:
        return tissue.TissueConfig(canvas=4 * self.tile, tile=self.tile, difficulty=self.difficulty)


@lru_cache(maxsize=32)
def split_tiles(s: Settings, seed: int, stains_used: str, split: str) -> tissue.Tiles:
    """Tiles of one split. Synthetic: multistain = ``train_slides`` slides of each of the nine
    assays; H&E-only = as many H&E slides. Real data: the tile folder, H&E-only = its H&E tiles."""
    if s.data_root:
        part = read_tile_folder(Path(s.data_root), "test" if split == "test" else "train")
        if split != "test":  # paper A: 10 % of the training data held out for validation, by slide
            val_slides = np.unique(part.slides)[:: 10]
            keep = np.isin(part.slides, val_slides) == (split == "val")
            part = tissue.Tiles(part.images[keep], part.labels[keep], part.assays[keep], part.slides[keep])
        if stains_used == "he":
            keep = part.assays == "H&E"
            part = tissue.Tiles(part.images[keep], part.labels[keep], part.assays[keep], part.slides[keep])
        return part
    per_assay = {"train": s.train_slides, "val": 1, "test": s.test_slides}[split]
    assays = list(stains.ASSAYS)
    if stains_used == "he":
        slides = [tissue.make_slide((seed, tissue.SPLITS[split], 100, k), "H&E", s.tissue())
                  for k in range(per_assay * len(assays))]
    else:
        slides = tissue.make_slides(seed, split, assays, per_assay, s.tissue())
    return tissue.cut_tiles(slides, s.tile)


def data_description(s: Settings) -> dict[str, Any]:
    if s.data_root:
        return {"kind": "real", "root": s.data_root, "fingerprint": data_fingerprint(s.data_root)}
    return {"kind": "synthetic", "generator": "cpath_repro.synth.tissue", **asdict(s.tissue())}


def predict(model: nn.Module, tiles: tissue.Tiles, batch: int = 64) -> np.ndarray:
    """Class map for each tile."""
    model.eval()
    images = SegmentationTiles(tiles).images
    out = []
    with torch.no_grad():
        for i in range(0, len(images), batch):
            out.append(model(images[i:i + batch].float() / 255.0).argmax(1))
    return torch.cat(out).numpy().astype(np.uint8)


def f1_scores(model: nn.Module, tiles: tissue.Tiles) -> dict[str, float]:
    pred = torch.from_numpy(predict(model, tiles))
    matrix = confusion(pred, torch.from_numpy(tiles.labels), len(CLASSES), EXCLUDE)
    return dict(zip(F1_NAMES, f1_per_class(matrix).tolist(), strict=True))


def train_arm(arm: str, seed: int, s: Settings, progress: bool = True) -> store.StoredModel:
    """The stored model of one arm and seed, trained if missing."""
    arch, stains_used = ARMS[arm]
    world = distributed.init().world_size
    train_cfg = TrainConfig(epochs=s.epochs, batch_size=s.batch_size, lr=distributed.scaled_lr(s.lr, world),
                            val_every=s.val_every, seed=seed)
    config = {"chapter": "paper_a", "arch": arch, "base": s.base, "depth": s.depth, "stains": stains_used,
              "seed": seed, "data": data_description(s), "slides": [s.train_slides, s.test_slides],
              "train": asdict(train_cfg)}

    def train(model: nn.Module, checkpoints: Any) -> dict[str, Any]:
        train_tiles = split_tiles(s, seed, stains_used, "train")
        val_tiles = split_tiles(s, seed, stains_used, "val")
        weights = torch.tensor(median_frequency_weights(train_tiles.labels, len(CLASSES), EXCLUDE), dtype=torch.float32)
        loss = nn.CrossEntropyLoss(weight=weights, ignore_index=EXCLUDE)
        trainer = Trainer(model, loss, SegmentationTiles(train_tiles, augmentation()), train_cfg,
                          validate=lambda m: f1_scores(m, val_tiles), checkpoint_dir=checkpoints,
                          progress=progress, name=f"{arm} seed {seed}",
                          recalibrate_bn=SegmentationTiles(train_tiles))
        history = trainer.fit()
        return {"history": history.epochs, "class_weights": weights.tolist(), "train_tiles": len(train_tiles)}

    def initialized() -> nn.Module:
        torch.manual_seed(seed)  # the initial weights depend on the seed only, not on what ran before
        return build(arch, s.base, s.depth)

    return store.get_or_train(config, initialized, train)


def test_table(models: dict[tuple[str, int], store.StoredModel], s: Settings, test_stains: str,
               arms: dict[str, str]) -> pd.DataFrame:
    """Per-seed test F1: one row per (seed, arm label, class)."""
    rows = []
    for (arm, seed), stored in models.items():
        if arm not in arms:
            continue
        scores = f1_scores(stored.model, split_tiles(s, seed, test_stains, "test"))
        rows += [{"seed": seed, "arm": arms[arm], "metric": name, "value": v} for name, v in scores.items()]
    return pd.DataFrame(rows)


def side_by_side(per_seed: pd.DataFrame, paper: dict[str, tuple[float, ...]], data_label: str) -> pd.DataFrame:
    """Mean ± std over seeds next to the paper's value, per arm and class."""
    stats = per_seed.groupby(["arm", "metric"]).value.agg(["mean", "std", "count"]).reset_index()
    rows = []
    for arm, values in paper.items():
        for name, paper_value in zip(F1_NAMES, values, strict=True):
            ours = stats[(stats.arm == arm) & (stats.metric == name)]
            mean, std, n = (ours.iloc[0][["mean", "std", "count"]] if len(ours) else (np.nan, np.nan, 0))
            rows.append({"model": arm, "class": name.removeprefix("f1_"), "paper F1": paper_value,
                         f"ours F1 ({data_label}, {int(n)} seeds)": f"{mean:.2f} ± {0 if np.isnan(std) else std:.2f}"})
    return pd.DataFrame(rows)


def curves(stored: store.StoredModel) -> pd.DataFrame:
    """Validation F1 per class over epochs (long format)."""
    rows = [{"epoch": e["epoch"], "class": name.removeprefix("f1_"), "f1": e["val"][name]}
            for e in stored.meta["history"] if "val" in e for name in F1_NAMES]
    return pd.DataFrame(rows)


def convergence(stored: store.StoredModel) -> dict[str, float]:
    """A-C1/A-C4 measures, fixed before any run: mean over classes of the first epoch reaching 90 %
    of the final validation F1 (speed), and the summed total variation of the four curves (smoothness)."""
    c = curves(stored)
    speed, tv = [], 0.0
    for _, g in c.groupby("class"):
        speed.append(epochs_to_fraction_of_final(g.epoch.to_numpy(), g.f1.to_numpy(), CONVERGED_FRACTION))
        tv += total_variation(g.f1.to_numpy())
    return {"epochs_to_90pct_final_f1": float(np.mean(speed)), "f1_curve_total_variation": tv}


def convergence_table(models: dict[tuple[str, int], store.StoredModel], arms: dict[str, str]) -> pd.DataFrame:
    return pd.DataFrame([{"seed": seed, "arm": arms[arm], "metric": k, "value": v}
                         for (arm, seed), stored in models.items() if arm in arms
                         for k, v in convergence(stored).items()])


def colour_labels(labels: np.ndarray) -> np.ndarray:
    out = np.zeros((*labels.shape, 3), np.uint8)
    for value, rgb in LABEL_COLOURS.items():
        out[labels == value] = rgb
    return out


def parameter_counts(s: Settings) -> dict[str, int]:
    return {arch: parameter_count(build(arch, s.base, s.depth)) for arch in ("unet", "cd-unet")}


# -- explanation notebooks (A-F6 ... A-F9) -------------------------------------------------------------------------

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
                rows.append({"seed": seed, "arm": label, "metric": "stain_od_angle_deg", "value": float(angles.mean())})
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
    rows = [{"seed": seed, "arm": CLASSES[c], "metric": "erf_radius_90pct_px", "value": float(np.mean(v))}
            for c, v in radii.items() if v]
    return pd.DataFrame(rows), examples, first


# -- notebook helpers ---------------------------------------------------------------------------------------------


def data_label(s: Settings) -> str:
    return "real data" if s.data_root else "synthetic data"


def record_data(run: Any, s: Settings) -> None:
    """Tell the run what data its numbers rest on."""
    if s.data_root:
        root = Path(s.data_root)
        run.use_files(root, sorted(p for sub in ("tiles", "labels") for p in (root / sub).glob("*.png"))
                      + [root / "tiles.csv"])
    else:
        run.use_synthetic("cpath_repro.synth.tissue (Beer-Lambert, paper A's nine assays)", s.seeds,
                          **asdict(s.tissue()), train_slides_per_assay=s.train_slides, test_slides_per_assay=s.test_slides)


def train_all(arms: list[str], s: Settings, progress: bool = True) -> dict[tuple[str, int], store.StoredModel]:
    """Every (arm, seed) model, from the store or trained now (seeds are paired across arms)."""
    return {(arm, seed): train_arm(arm, seed, s, progress) for seed in s.seeds for arm in arms}


def mean_curves(models: dict[tuple[str, int], store.StoredModel], arms: dict[str, str]) -> dict[str, pd.DataFrame]:
    """Validation F1 curves per arm label, averaged over seeds."""
    out = {}
    for arm, label in arms.items():
        frames = [curves(m) for (a, _), m in models.items() if a == arm]
        out[label] = pd.concat(frames).groupby(["epoch", "class"], as_index=False).f1.mean()
    return out


def examples(s: Settings, seed: int, assays: tuple[str, ...], model: nn.Module | None = None) -> dict[str, np.ndarray]:
    """Test tiles of the given assays with their coloured label maps (and the model's prediction)."""
    tiles = split_tiles(s, seed, "multistain", "test")
    pred = predict(model, tiles) if model is not None else None
    out: dict[str, np.ndarray] = {}
    for assay in assays:
        candidates = np.nonzero(tiles.assays == assay)[0] if (tiles.assays == assay).any() else np.arange(len(tiles))
        # the tile showing the most classes, then the most tissue: an all-glass tile shows nothing
        index = int(max(candidates, key=lambda i: (len(np.unique(tiles.labels[i])), (tiles.labels[i] != 0).mean())))
        out[f"{assay}: image"] = tiles.images[index]
        out[f"{assay}: ground truth"] = colour_labels(tiles.labels[index])
        if pred is not None:
            out[f"{assay}: prediction"] = colour_labels(pred[index])
    return out


def separation_table(models: dict[tuple[str, int], store.StoredModel], s: Settings):  # type: ignore[no-untyped-def]
    """A-C6 over seeds, plus seed 0's correlation table, CD outputs and slide for Fig. 7."""
    rows, first = [], None
    for (arm, seed), stored in models.items():
        if arm != "cdunet-multistain":
            continue
        slide = he_slide(s, seed)
        outputs = cd_outputs(stored.model, slide)
        table, best = stain_separation(outputs, slide)
        rows.append({"seed": seed, "arm": "cd-unet", "metric": "best_stain_map_correlation", "value": best})
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
