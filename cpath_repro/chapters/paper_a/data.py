"""Paper A's data for one seed: synthetic multistain slides cut into tiles, or the real tile folder.

Synthetic data (:mod:`cpath_repro.synth.tissue`): per seed, ``train_slides`` training and ``test_slides``
test slides of each of the nine assays (H&E and eight IHC), one validation slide each; the H&E-only arm
sees as many H&E slides. Real data: a tile folder (``data_root/multistain-tiles``) with its train and test
splits, 10 % of the training slides held out for validation (section 3). The recipe (:mod:`.training`)
reads its tiles from here, so this module is part of every trained model's store key.
"""

from __future__ import annotations

from dataclasses import asdict
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np

from cpath_repro import seeds
from cpath_repro.data.tiles import Tiles, read_tile_folder
from cpath_repro.errors import DataNotFoundError, ParameterError
from cpath_repro.project import data_fingerprint
from cpath_repro.synth import stains, tissue

if TYPE_CHECKING:
    from cpath_repro.chapters.paper_a.settings import Settings  # read, never imported: reader text



def he_only_slide(s: Settings, seed: int, split: str, k: int) -> tissue.Slide:
    """Slide ``k`` of a seed's H&E-only set (the H&E-only arm and the H&E tests): its own stream, apart from
    the multi-assay set's H&E slides."""
    return tissue.make_slide(seeds.sequence(seed, split, "H&E only", k), "H&E", s.tissue())


@lru_cache(maxsize=32)
def split_tiles(s: Settings, seed: int, stains_used: str, split: str) -> Tiles:
    """Tiles of one split. Synthetic: multistain = ``train_slides`` slides of each of the nine
    assays; H&E-only = as many H&E slides. Real data: the tile folder, H&E-only = its H&E tiles."""
    if s.data_root is not None:
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
        slides = [he_only_slide(s, seed, split, k) for k in range(per_assay * len(assays))]
    else:
        slides = tissue.make_slides(seed, split, assays, per_assay, s.tissue())
    return tissue.cut_tiles(slides, s.tile)


def data_description(s: Settings) -> dict[str, Any]:
    """What a trained model's store key says about its data: the real folder and its fingerprint, or the generator's
    settings."""
    if s.data_root is not None:
        return {"kind": "real", "root": str(s.tile_folder), "fingerprint": data_fingerprint(str(s.tile_folder))}
    return {"kind": "synthetic", "generator": "cpath_repro.synth.tissue", **asdict(s.tissue())}


def record_data(run: Any, s: Settings) -> None:
    """Tell the run what data its numbers rest on."""
    if s.data_root is not None:
        root = s.tile_folder
        run.use_files(root, sorted(p for sub in ("tiles", "labels") for p in (root / sub).glob("*.png"))
                      + [root / "tiles.csv"])
    else:
        run.use_synthetic("cpath_repro.synth.tissue (Beer-Lambert, paper A's nine assays)", s.seeds,
                          **asdict(s.tissue()), train_slides_per_assay=s.train_slides, test_slides_per_assay=s.test_slides)
