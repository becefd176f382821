"""Does the fractal stand-in *pretrain*? The probe, and its rule fixed before any run.

Kept apart from :mod:`cpath_repro.transfer.pretraining` so that a change to the probe (or to the
claims' rules it uses) re-runs the probe and retrains no stand-in: a stored model is keyed on its
recipe module's import closure.

On a small histology-like task built from the project's own generator (synthetic H&E tiles of
tumour, tissue and necrosis labelled by their majority class; never a real evaluation image),
each backbone is measured from its stand-in and from random initialization, paired seeds, the way
the claims use it (:data:`cpath_repro.claims.pretraining.USES`): *fine-tuned* (every layer trained on
the tiles) or *frozen* (its features read as they are, a logistic regression on top). The stand-in
pretrains that backbone for that use if its paired gain's 95 % interval lies above 0 (:data:`RULE`).
The claims comparing pretrained with unpretrained models read this result
(:mod:`cpath_repro.claims.pretraining`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.utils.data import TensorDataset

from cpath_repro import seeds
from cpath_repro.claims.metrics import Metric
from cpath_repro.claims.pretraining import USES
from cpath_repro.claims.rules import Dominates, Status
from cpath_repro.models import backbones
from cpath_repro.models.backbones import Backbone, Normalization
from cpath_repro.synth import tissue
from cpath_repro.train.engine import TrainConfig, Trainer
from cpath_repro.transfer.pretraining import (
    FINETUNE_LR,
    MOMENTUM,
    WEIGHT_DECAY,
    FractalSettings,
    accuracy,
    as_input,
    for_profile,
    fractal_settings,
    stand_in,
)


@dataclass(frozen=True)
class ProbeSettings:
    """The probe task: H&E tiles of ``tile`` px labelled by their majority class (tumour, tissue, necrosis),
    ``train_per_class`` and ``val_per_class`` of each; fine-tuned ``epochs`` epochs per arm and seed."""

    seeds: int = 5
    train_per_class: int = 24
    val_per_class: int = 32
    epochs: int = 3
    batch_size: int = 16
    lr: float = FINETUNE_LR
    momentum: float = MOMENTUM
    weight_decay: float = WEIGHT_DECAY
    tile: int = 32


PROBE_PROFILES: dict[str, ProbeSettings] = {
    "ci": ProbeSettings(seeds=1, train_per_class=4, val_per_class=4, epochs=1, batch_size=8),  # too few to judge
    "default": ProbeSettings(),
    "paper": ProbeSettings(seeds=5, train_per_class=100, val_per_class=100, epochs=10, tile=64),
}


def probe_settings(profile: str | ProbeSettings) -> ProbeSettings:
    """The probe's settings of a profile name (or the settings themselves)."""
    return for_profile(PROBE_PROFILES, profile, "The pretraining probe")




#: The probe's classes: tissue.TUMOUR, TISSUE, NECROSIS (background is glass, too easy to tell anything apart).
PROBE_CLASSES = (tissue.TUMOUR, tissue.TISSUE, tissue.NECROSIS)
#: The most slides one probe split may draw while filling its classes.
MAX_PROBE_SLIDES = 2000
#: The rule, fixed before any run: the stand-in pretrains a backbone if fine-tuning from it reaches a higher probe
#: validation accuracy than fine-tuning from random initialization, by the paired interval (at least 3 seeds).
PROBE_ACCURACY = Metric("probe_accuracy", "probe validation accuracy", "%", 1)
RULE = Dominates("fractal", "random", PROBE_ACCURACY)
#: The probe's verdict in words; only "pretrains" lets a claim rest on the stand-in.
VERDICTS = {Status.SUPPORTED: "pretrains", Status.CONTRADICTED: "does not pretrain (random init is better)",
            Status.INCONCLUSIVE: "is not shown to pretrain (inconclusive at this budget)"}
ARMS = ("fractal", "random")


@lru_cache(maxsize=16)
def probe_tiles(seed: int, split: str, per_class: int, tile: int) -> tuple[np.ndarray, np.ndarray]:
    """``per_class`` H&E tiles of each probe class, ``(N, tile, tile, 3)`` uint8, and labels 0-2 (class-major).

    A tile's label is its majority class among background, tumour, tissue and necrosis (fold pixels not
    counted); tiles whose majority is background are skipped. Slides are drawn in order until each class
    has its tiles, so the same arguments give the same tiles.
    """
    cfg = tissue.TissueConfig(canvas=4 * tile, tile=tile)
    found: dict[int, list[np.ndarray]] = {c: [] for c in PROBE_CLASSES}
    for k in range(MAX_PROBE_SLIDES):
        slide = tissue.make_slide(seeds.sequence(seed, split, "probe", k), "H&E", cfg)
        tiles = tissue.cut_tiles([slide], tile)
        for image, labels in zip(tiles.images, tiles.labels, strict=True):
            majority = int(np.bincount(labels.ravel(), minlength=256)[:4].argmax())
            if majority in found and len(found[majority]) < per_class:
                found[majority].append(image)
        if all(len(v) == per_class for v in found.values()):
            break
    else:
        msg = f"The probe's {split} split found too few tiles of some class in {MAX_PROBE_SLIDES} slides (seed {seed})."
        raise RuntimeError(msg)
    images = np.stack([img for c in PROBE_CLASSES for img in found[c]])
    return images, np.repeat(np.arange(len(PROBE_CLASSES), dtype=np.int64), per_class)


def fine_tune(backbone: Backbone, normalization: Normalization, train: tuple[torch.Tensor, torch.Tensor],
              val: tuple[torch.Tensor, torch.Tensor], p: ProbeSettings, seed: int, name: str,
              progress: bool = False) -> float:
    """Fine-tune every layer on the probe's training tiles; the validation accuracy after the last epoch
    (batch-norm statistics recomputed over the training tiles first, in both arms)."""
    train_set = TensorDataset(normalization(train[0]), train[1])
    val_set = TensorDataset(normalization(val[0]), val[1])
    cfg = TrainConfig(epochs=p.epochs, batch_size=p.batch_size, lr=p.lr, momentum=p.momentum,
                      weight_decay=p.weight_decay, val_every=p.epochs, seed=seed)
    trainer = Trainer(backbone.model, nn.CrossEntropyLoss(), train_set, cfg,
                      validate=lambda m: {"accuracy": accuracy(m, val_set)}, progress=progress, name=name,
                      recalibrate_bn=train_set)
    return float(trainer.fit().validated()[-1]["val"]["accuracy"])


def frozen_accuracy(backbone: Backbone, normalization: Normalization, train: tuple[torch.Tensor, torch.Tensor],
                    val: tuple[torch.Tensor, torch.Tensor]) -> float:
    """Validation accuracy of a logistic regression on the backbone's frozen features (eval mode, its own
    batch-norm statistics, standardized), as C-C1, C-C5 and D-C1 read a pretrained extractor."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = backbone.model.eval()
    with torch.no_grad():
        x_train, x_val = (torch.cat([model(normalization(x)) for x in part[0].split(64)]).numpy() for part in (train, val))
    classifier = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(x_train, train[1].numpy())
    return float(np.mean(classifier.predict(x_val) == val[1].numpy()))


def measure(name: str, settings: str | FractalSettings = "default", task: str | ProbeSettings = "default",
            progress: bool = False, use: str = "fine-tuned") -> pd.DataFrame:
    """Per-seed probe accuracy of ``name`` from the fractal stand-in vs from random initialization, ``use``d
    "fine-tuned" (:func:`fine_tune`) or "frozen" (:func:`frozen_accuracy`).

    Seed ``s`` pairs the arms: the same tiles, the same initial head (``head_seed=s``), the same batches
    (engine seed ``s``); the random arm's backbone is drawn with seed ``s``. Inputs are normalized as the
    weights ask: the stand-in's fractal statistics, and for random initialization the probe's own training
    tiles' statistics. Returns the long table ``seed, arm, metric, value`` (arms "fractal" and "random",
    metric :data:`PROBE_ACCURACY`, in %).
    """
    if use not in USES:
        raise ValueError(f"The probe measures a backbone {' or '.join(USES)}, not {use!r}.")
    s, p = fractal_settings(settings), probe_settings(task)
    standin = stand_in(name, s, progress)
    outputs = len(PROBE_CLASSES) if use == "fine-tuned" else 0  # 0: the backbone returns its features
    size = s.input_size(name)
    rows = []
    for seed in range(p.seeds):
        train = probe_tiles(seed, "train", p.train_per_class, p.tile)
        val = probe_tiles(seed, "val", p.val_per_class, p.tile)
        x_train, x_val = as_input(train[0], size), as_input(val[0], size)
        y_train, y_val = torch.from_numpy(train[1]), torch.from_numpy(val[1])
        for arm in ARMS:
            if arm == "fractal":
                bb = backbones.build(name, "fractal", outputs, state=standin.state,
                                     normalization=standin.normalization, source=standin.source, head_seed=seed)
                norm = bb.normalization
            else:
                bb = backbones.build(name, "none", outputs, seed=seed, head_seed=seed)
                norm = Normalization.from_images(train[0], "the probe's training tiles", input_size=size)
            if use == "frozen":
                accuracy = frozen_accuracy(bb, norm, (x_train, y_train), (x_val, y_val))
            else:
                accuracy = fine_tune(bb, norm, (x_train, y_train), (x_val, y_val), p, seed,
                                     f"probe {name} {arm} seed {seed}", progress)
            rows.append({"seed": seed, "arm": arm, "metric": PROBE_ACCURACY, "value": 100.0 * accuracy})
    return pd.DataFrame(rows, columns=["seed", "arm", "metric", "value"])


def pretrains(table: pd.DataFrame) -> bool:
    """:data:`RULE` on a probe table: True when the stand-in's paired interval over random init lies above 0."""
    return RULE.evaluate(table).status is Status.SUPPORTED


def evidence(table: pd.DataFrame) -> str:
    """One sentence: the rule's verdict and the numbers it came from (the rule itself is on the pretraining page)."""
    outcome = RULE.evaluate(table)
    verdict = VERDICTS.get(outcome.status, "cannot be judged")
    return f"the fractal stand-in {verdict}: {outcome.evidence}"
