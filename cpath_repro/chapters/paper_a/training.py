"""Paper A's training recipe: the arms, and their models in the store, trained if missing.

Three arms are trained per paired seed: UNET on multistain slides, UNET on H&E-only slides
(as many training tiles), CD-UNET on the same multistain slides. Models come from the model
store, so every notebook of the chapter reuses the models the tables trained. A model's store
key follows this module's import closure: it reads the chapter's settings without importing
them, and nothing here says how a number is shown or measured.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from cpath_repro.chapters.paper_a.data import data_description, split_tiles
from cpath_repro.claims.metrics import paper_a as metrics
from cpath_repro.data.segmentation import SegmentationTiles
from cpath_repro.data.tiles import CLASSES, EXCLUDE, Tiles
from cpath_repro.data.transforms import augmentation
from cpath_repro.metrics.segmentation import confusion, f1_per_class, median_frequency_weights
from cpath_repro.models.unet import build
from cpath_repro.train import distributed, store
from cpath_repro.train.engine import TrainConfig, Trainer

if TYPE_CHECKING:
    from cpath_repro.chapters.paper_a.settings import Settings  # read, never imported: reader text

ARMS: dict[str, tuple[str, str]] = {  # arm -> (architecture, training stains)
    "unet-multistain": ("unet", "multistain"),
    "unet-he": ("unet", "he"),
    "cdunet-multistain": ("cd-unet", "multistain"),
}
F1_NAMES = metrics.F1


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
    """F1 per class of a model's prediction of the tiles (exclude pixels left out)."""
    pred = torch.from_numpy(predict(model, tiles))
    matrix = confusion(pred, torch.from_numpy(tiles.labels), len(CLASSES), EXCLUDE)
    return dict(zip(F1_NAMES, f1_per_class(matrix).tolist(), strict=True))


def arm_recipe(arm: str, seed: int, s: Settings, progress: bool = True) -> store.Recipe:
    """How the model of one arm and seed is made (declared, not trained)."""
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
        return build(arch, len(CLASSES), s.base, s.depth)

    return store.Recipe(config, initialized, train, __name__)


def train_arm(arm: str, seed: int, s: Settings, progress: bool = True) -> store.StoredModel:
    """The stored model of one arm and seed, trained if missing."""
    return store.get(arm_recipe(arm, seed, s, progress))


def train_all(arms: list[str], s: Settings, progress: bool = True) -> dict[tuple[str, int], store.StoredModel]:
    """Every (arm, seed) model (seeds paired across arms): the missing ones trained as one batch, then read."""
    recipes = {(arm, seed): arm_recipe(arm, seed, s, progress) for seed in s.seeds for arm in arms}
    store.ensure(recipes.values())
    return {which: store.get(recipe) for which, recipe in recipes.items()}
