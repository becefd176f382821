"""Paper B's data: a dataset (synthetic, or real under ``data_root``) turned into standardized crops.

Every source image goes through :func:`cpath_repro.data.standardize.standardize` (rescale to the
target µm/px, reflection-pad, crop, drop low-contrast crops). Splits are drawn by *source image*
before cropping, so overlapping crops of one image never sit in two splits (the authors' code
splits after cropping); a dataset that publishes a split keeps it. Crop labels: the image's
class for single-label sets; for the multi-label sets the classes present in the crop's mask
(:func:`cpath_repro.data.histokt.crop_labels`, BCSS and every synthetic set) or the image's labels
(real ADP, whose images are already one crop each).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from cpath_repro import atomic, seeds
from cpath_repro.data import histokt, standardize
from cpath_repro.data.layout import locate
from cpath_repro.errors import DataNotFoundError
from cpath_repro.project import PROJECT_ROOT, data_fingerprint, modules_hash
from cpath_repro.synth import histokt as synthetic
from cpath_repro.synth.cache import in_parallel, written_once

if TYPE_CHECKING:
    from cpath_repro.chapters.paper_b.settings import Settings

SPLITS = histokt.SPLITS


@dataclass(frozen=True)
class Crops:
    """One split's crops: pixels, labels, the true class regions (synthetic data) and their source images."""

    images: np.ndarray  # (N, S, S, 3) uint8
    labels: np.ndarray  # (N,) int64 class; multi-label sets: (N, C) float32 0/1
    sources: np.ndarray  # (N,) index of the source image each crop was cut from
    regions: np.ndarray | None = None  # (N, S, S) uint8 class index per pixel, 255 outside every class

    def __len__(self) -> int:
        return len(self.images)


@dataclass(frozen=True)
class Prepared:
    """A dataset standardized for one seed: its splits, and what the pipeline made and dropped (B-T1)."""

    name: str
    classes: tuple[str, ...]
    multilabel: bool
    kind: str  # "synthetic" or "real"
    mpp: float  # native µm/px
    splits: dict[str, Crops]
    counts: dict[str, int] = field(default_factory=dict)  # images, made, low_contrast_<rule>, unlabelled, kept
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, why) of unreadable images

    @property
    def n_classes(self) -> int:
        return len(self.classes)


def source_dataset(s: Settings, name: str, seed: int) -> histokt.SourceDataset:
    """The published dataset under ``data_root``, or its synthetic mimic for this seed."""
    if s.data_root is not None:
        return histokt.load(name, s.data_root)
    return synthetic.make_dataset(name, seed, synthetic.n_images(name, s.large_crops, s.scale), s.scale,
                                  difficulty=s.difficulty)


def assign_splits(dataset: histokt.SourceDataset, seed: int) -> list[str]:
    """Each source image's split, drawn by image: a published split is kept; where a dataset publishes
    train and test only (MHIST, CRC), validation is drawn from its training images; where it publishes
    none, all three are drawn. Shares follow Table 1's patch columns; validation and test get at least
    one image each while training keeps one."""
    fractions = np.array(standardize.TABLE_1[dataset.name].patches, dtype=float)
    rng = seeds.rng(seed, "splits", dataset.name)
    splits: list[str] = [image.split or "" for image in dataset.images]
    unsplit = [i for i, s in enumerate(splits) if not s]
    if unsplit:
        _draw(splits, rng.permutation(unsplit), fractions / fractions.sum(), SPLITS)
    if "val" not in splits:
        train = [i for i, s in enumerate(splits) if s == "train"]
        _draw(splits, rng.permutation(train), fractions[:2] / fractions[:2].sum(), ("train", "val"))
    return splits


def _draw(splits: list[str], order: np.ndarray, fractions: np.ndarray, names: tuple[str, ...]) -> None:
    """Give ``order``'s images the split ``names`` in ``fractions`` (the later ones at least one image each)."""
    n = len(order)
    later = [max(1, round(f * n)) if n >= len(names) else 0 for f in fractions[1:]]
    while later and sum(later) > n - 1 and max(later) > 1:  # the first split keeps at least one image
        later[later.index(max(later))] -= 1
    bounds = np.cumsum([n - sum(later), *later])[:-1]
    for part, name in zip(np.split(order, bounds), names, strict=True):
        for i in part:
            splits[int(i)] = name


#: Synthetic data: a test split holds at most this many times the dataset's training crops (PCam's Table 1
#: shares put 93 % of its patches in test; scoring thousands of crops per model would take most of the budget).
SYNTHETIC_TEST_CAP = 2


def _cap(s: Settings, name: str, kind: str) -> dict[str, int]:
    """Real data: at most as many crops per split as Table 1 lists (PCam's 327,680 patches: 2,000/400/32,322);
    synthetic data: at most :data:`SYNTHETIC_TEST_CAP` times the training crops in test."""
    if kind == "real":
        return dict(zip(SPLITS, standardize.TABLE_1[name].patches, strict=True))
    train = synthetic.training_crops(s.large_crops)[name]
    return {"train": 10**9, "val": 10**9, "test": SYNTHETIC_TEST_CAP * train}


#: Where synthetic datasets, once standardized, are kept for every notebook (default ``runs/crops``).
CROPS_ENV = "CPATH_REPRO_CROPS"
#: The modules whose code draws and standardizes the synthetic crops: a change to any of them draws them again.
GENERATORS = ("cpath_repro.synth.histokt", "cpath_repro.data.histokt", "cpath_repro.data.standardize", __name__)


def crops_root() -> Path:
    return Path(os.environ.get(CROPS_ENV) or PROJECT_ROOT / "runs" / "crops")


@lru_cache(maxsize=32)
def prepare(s: Settings, name: str, seed: int) -> Prepared:
    """Dataset ``name`` for seed ``seed``, standardized and split (cached for the kernel's lifetime; a synthetic
    one is drawn once for all notebooks, :mod:`cpath_repro.synth.cache`)."""
    if s.data_root is not None:
        return _prepared(s, name, seed)
    config = {"data": describe(s, name), "standardization": standardization(s), "seed": seed,
              "code": modules_hash(GENERATORS)}
    return _load(written_once(crops_root(), config, lambda folder: _save(_prepared(s, name, seed), folder)))


def draw(s: Settings, names: Iterable[str]) -> None:
    """Draw the synthetic datasets ``names`` of every trial of ``s`` onto disk at once (one process per CPU), so
    that :func:`prepare` reads them back; real data is read where it is needed."""
    if s.data_root is None:
        in_parallel(_draw_to_disk, [(s, name, seed) for seed in s.seeds for name in names])


def _draw_to_disk(s: Settings, name: str, seed: int) -> None:
    prepare(s, name, seed)


def _save(prepared: Prepared, folder: Path) -> None:
    arrays = {f"{split}.{part}": value for split, crops in prepared.splits.items()
              for part, value in vars(crops).items() if value is not None}
    with open(folder / "crops.npz", "wb") as fh:  # the folder is renamed into place only once complete
        np.savez(fh, **arrays)
    atomic.write_json(folder / "prepared.json", {k: v for k, v in vars(prepared).items() if k != "splits"})


def _load(folder: Path) -> Prepared:
    meta = json.loads((folder / "prepared.json").read_text())
    with np.load(folder / "crops.npz", allow_pickle=False) as arrays:
        splits = {split: Crops(**{part: arrays[f"{split}.{part}"] for part in ("images", "labels", "sources")},
                               regions=arrays[f"{split}.regions"] if f"{split}.regions" in arrays else None)
                  for split in SPLITS}
    return Prepared(**{**meta, "classes": tuple(meta["classes"]),
                       "skipped": [tuple(item) for item in meta["skipped"]]}, splits=splits)


def _prepared(s: Settings, name: str, seed: int) -> Prepared:
    """Dataset ``name`` for ``seed`` read (real) or drawn (synthetic), standardized and split."""
    dataset = source_dataset(s, name, seed)
    kind = "real" if s.data_root is not None else "synthetic"
    splits = assign_splits(dataset, seed)
    order = seeds.rng(seed, "reading order").permutation(len(dataset.images)) if kind == "real" else range(
        len(dataset.images))
    collected: dict[str, dict[str, list[Any]]] = {k: {"images": [], "labels": [], "sources": [], "regions": []}
                                                  for k in SPLITS}
    counts = {"images": 0, "made": 0, **{f"low_contrast_{r}": 0 for r in standardize.RULES}, "unlabelled": 0}
    index = {id(image): i for i, image in enumerate(dataset.images)}
    cap = _cap(s, name, kind)
    # images of a split already full are passed over before their pixels are read (or generated)
    chosen = (dataset.images[i] for i in order if len(collected[splits[i]]["images"]) < cap[splits[i]])
    for image, pixels in dataset.readable(chosen):
        i = index[id(image)]
        part = collected[splits[i]]
        done = standardize.standardize(pixels, dataset.mpp, size=s.crop, overlap=s.overlap, contrast=s.contrast,
                                       target_mpp=s.target_mpp)
        counts["images"] += 1
        for key, value in done.counts().items():
            if key != "kept":
                counts[key] += value
        regions = standardize.crop_mask(image.mask(), done, s.crop)[done.kept] if image.mask is not None else None
        for k, crop in enumerate(done.crops):
            # an image's own labels, or (BCSS: none per image) the classes its crop's mask shows
            labels = image.labels or (histokt.crop_labels(regions[k], len(dataset.classes)) if regions is not None
                                      else ())
            if not labels:  # a multi-label crop with too little labelled tissue (the authors' rule)
                counts["unlabelled"] += 1
                continue
            part["images"].append(crop)
            part["labels"].append(labels)
            part["sources"].append(i)
            part["regions"].append(regions[k] if regions is not None else None)
    out = {split: _crops(v, len(dataset.classes), dataset.multilabel) for split, v in collected.items()}
    for split, crops in out.items():
        if not len(crops):
            raise DataNotFoundError(f"Dataset {name} has no {split} crop after standardization "
                                    f"({counts['images']} images read); it cannot be trained or scored.")
    counts["kept"] = sum(len(c) for c in out.values())
    return Prepared(name, tuple(dataset.classes), dataset.multilabel, kind, dataset.mpp, out, counts,
                    list(dataset.skipped))


def _crops(part: dict[str, list[Any]], n_classes: int, multilabel: bool) -> Crops:
    size = part["images"][0].shape[0] if part["images"] else 1
    images = np.stack(part["images"]) if part["images"] else np.zeros((0, size, size, 3), np.uint8)
    if multilabel:
        labels = np.zeros((len(images), n_classes), np.float32)
        for row, present in enumerate(part["labels"]):
            labels[row, list(present)] = 1.0
    else:
        labels = np.array([present[0] for present in part["labels"]], dtype=np.int64)
    regions = (np.stack(part["regions"]) if part["regions"] and part["regions"][0] is not None else None)
    return Crops(images, labels, np.array(part["sources"], dtype=np.int64), regions)


def describe(s: Settings, name: str) -> dict[str, Any]:
    """What a model trained on ``name`` rests on: part of its store key and the page's provenance."""
    if s.data_root is not None:
        folder = locate(s.data_root, name)
        return {"kind": "real", "dataset": name, "root": str(folder), "fingerprint": data_fingerprint(str(folder))}
    return {"kind": "synthetic", "dataset": name, "generator": synthetic.__name__, "scale": s.scale,
            "large_crops": s.large_crops, "difficulty": s.difficulty}


def standardization(s: Settings) -> dict[str, Any]:
    """The standardization settings every crop went through (part of each model's store key)."""
    return {"crop": s.crop, "target_mpp": s.target_mpp, "overlap": s.overlap, "contrast": s.contrast,
            "pipeline": standardize.__name__}


def counts_row(prepared: Prepared) -> dict[str, Any]:
    """One B-T1 row of what the pipeline did to a dataset."""
    sizes = {f"{split} crops": len(c) for split, c in prepared.splits.items()}
    return {"dataset": prepared.name, "classes": prepared.n_classes, "native um/px": prepared.mpp, **prepared.counts,
            **sizes, "unreadable": len(prepared.skipped)}

