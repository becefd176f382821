"""Paper A's training recipe: the arms, their data, the models in the store, the tables A-T1/A-T2.

Three arms are trained per paired seed: UNET on multistain slides, UNET on H&E-only slides
(as many training tiles), CD-UNET on the same multistain slides. Tables A-T1/A-T2 are test
F1 per class; A-F2/A-F4 are the validation-F1 curves. Models come from the model store, so
the explanation notebooks reuse the models the tables trained.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from cpath_repro.claims import metrics
from cpath_repro.data.layout import locate
from cpath_repro.data.segmentation import SegmentationTiles
from cpath_repro.data.tiles import CLASSES, EXCLUDE, Tiles, read_tile_folder
from cpath_repro.data.transforms import augmentation
from cpath_repro.errors import DataNotFoundError, ParameterError
from cpath_repro.metrics.segmentation import (
    confusion,
    epochs_to_fraction_of_final,
    f1_per_class,
    median_frequency_weights,
    total_variation,
)
from cpath_repro.models.unet import build, parameter_count
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
F1_NAMES = metrics.F1


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

    @property
    def tile_folder(self) -> Path:
        """The real tile folder (``data_root/multistain-tiles``, or data_root itself)."""
        assert self.data_root is not None
        return locate(self.data_root, "multistain-tiles")

    def tissue(self) -> tissue.TissueConfig:
        return tissue.TissueConfig(canvas=4 * self.tile, tile=self.tile, difficulty=self.difficulty)


@lru_cache(maxsize=32)
def split_tiles(s: Settings, seed: int, stains_used: str, split: str) -> Tiles:
    """Tiles of one split. Synthetic: multistain = ``train_slides`` slides of each of the nine
    assays; H&E-only = as many H&E slides. Real data: the tile folder, H&E-only = its H&E tiles."""
    if s.data_root:
        folder = s.tile_folder
        part = read_tile_folder(folder, "test" if split == "test" else "train")
        side = part.images.shape[1]
        if side % 2 ** s.depth:
            raise ParameterError(f"The tiles in '{folder}' are {side} px, which a UNET of depth {s.depth} cannot pool "
                                 f"{s.depth} times; use tiles whose side is a multiple of {2 ** s.depth} or a smaller "
                                 "-p depth.")
        if split != "test":  # paper A: 10 % of the training data held out for validation, by slide
            slide_ids = np.unique(part.slides)
            if len(slide_ids) < 2:
                raise DataNotFoundError(f"'{folder}' has one training slide; validation is held out by slide, so "
                                        "the training split needs tiles of at least two slides.")
            keep = np.isin(part.slides, slide_ids[:: 10]) == (split == "val")
            part = part.subset(keep)
        if stains_used == "he":
            part = part.subset(part.assays == "H&E")
            if not len(part):
                raise DataNotFoundError(f"'{folder}' has no H&E tile in its {split} split (stain 'H&E' in tiles.csv), "
                                        "which the H&E-only model and the H&E test need.")
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
        return {"kind": "real", "root": str(s.tile_folder), "fingerprint": data_fingerprint(str(s.tile_folder))}
    return {"kind": "synthetic", "generator": "cpath_repro.synth.tissue", **asdict(s.tissue())}


def predict(model: nn.Module, tiles: Tiles, batch: int = 64) -> np.ndarray:
    """Class map for each tile."""
    model.eval()
    images = SegmentationTiles(tiles).images
    out = []
    with torch.no_grad():
        for i in range(0, len(images), batch):
            out.append(model(images[i:i + batch].float() / 255.0).argmax(1))
    return torch.cat(out).numpy().astype(np.uint8)


def f1_scores(model: nn.Module, tiles: Tiles) -> dict[str, float]:
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

    return store.get_or_train(config, initialized, train, recipe=__name__)


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
    return {metrics.EPOCHS_TO_90PCT_FINAL_F1: float(np.mean(speed)), metrics.F1_CURVE_TOTAL_VARIATION: tv}


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


def data_label(s: Settings) -> str:
    return "real data" if s.data_root else "synthetic data"


def record_data(run: Any, s: Settings) -> None:
    """Tell the run what data its numbers rest on."""
    if s.data_root:
        root = s.tile_folder
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
