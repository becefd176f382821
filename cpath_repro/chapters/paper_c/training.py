"""Paper C's training recipe: one :class:`Arm` (what the sweeps vary) trained for one seed, through the store.

- Inputs (section 5.1): the vanilla CNN and the extractor-less head subtract their own training
  set's mean image; a pretrained extractor gets the normalization its weights were trained with
  (ImageNet's, or the formula-driven stand-in's when ImageNet's file is absent).
- Centre crop (section 8): the central ``crop`` % of each side, resized back to the input size.
- Augmentation (section 5.2): flips, translations, shears and zooms (torchvision.transforms.v2);
  C-T2's baselines train "on the raw training data", without it and without the additional data.
- Loss (sections 4.2 and 9): categorical cross entropy, each image's term times its class weight,
  averaged over images (the paper's ``-1/N Σ α_j y ln ŷ``; torch's weighted mean would divide by
  the weights' sum instead).
- Optimizer (section 7): Adam, learning rate decayed as ``lr / (1 + 0.01 · epoch)`` (Keras's
  ``decay=0.01``, applied per epoch as the text says), L2 5e-4 (Keras adds ``5e-4 · Σw²`` to the
  loss, whose gradient is ``1e-3 · w``: torch's ``weight_decay`` 1e-3), dropout 0.4 in the heads.
  The epoch with the lowest validation loss is kept (section 10: "we checkpoint our model at our
  best possible validation score").
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import Dataset
from torchvision.transforms import v2

from cpath_repro.chapters.paper_c import models
from cpath_repro.chapters.paper_c.data import Images, Prepared, describe, prepare
from cpath_repro.claims.metrics import paper_c as metrics
from cpath_repro.models.backbones import channels_last
from cpath_repro.train import store
from cpath_repro.train.engine import TrainConfig, Trainer

if TYPE_CHECKING:  # the recipe reads the settings; their declaration (words a reader sees) stays out of its key
    from cpath_repro.chapters.paper_c.settings import Settings

VAL_LOSS = metrics.VAL_LOSS
#: Validation accuracy in percent, as the paper's tables print it (the claims judge the loss only).
VAL_ACCURACY = "val_accuracy"
#: Section 7: "L2 regularization of 5e-4" (Keras's ``l2(5e-4)``: a gradient of 2 · 5e-4 · w).
L2 = 5e-4
#: Section 7: "a learning rate decay of 0.01 each epoch".
LR_DECAY = 0.01
#: Section 5.2's augmentations; their ranges are ours (the text gives none).
TRANSLATE, SHEAR_DEG, ZOOM = 0.1, 10.0, (0.9, 1.1)
#: Widths of the head's stages (ours; Figure 3 did not survive).
HEAD_WIDTHS = (32, 64)
#: C-T2's "naive" transfer: the whole pretrained network, frozen, and two affine layers on its pooled features.
NAIVE_HIDDEN = 128
CHECKPOINT_EVERY = 10
EXTRACTORS = ("vanilla", "none", "resnet50", "inception_v3")


@dataclass(frozen=True)
class Arm:
    """One configuration of the sweeps. The default is the sweeps' base model: ResNet-50's first 3 layers,
    frozen, the head on top, the whole image, unweighted, initial data only, augmented."""

    extractor: str = "resnet50"
    layers: int | None = 3  # the first N Keras layers; None: the whole network with the naive head (C-T2)
    frozen: bool = True
    crop: int = 100  # percent of each side kept
    weights: tuple[float, float, float] | None = None
    additional: bool = False
    augment: bool = True

    def __post_init__(self) -> None:
        if self.extractor not in EXTRACTORS:
            raise ValueError(f"An arm's extractor must be one of {', '.join(EXTRACTORS)}; got {self.extractor!r}.")

    @property
    def pretrained(self) -> bool:
        return self.extractor in ("resnet50", "inception_v3")


# -- data ------------------------------------------------------------------------------------------------------------

def centre_crop(images: torch.Tensor, percent: int) -> torch.Tensor:
    """The central ``percent`` % of each side of ``(N, 3, H, W)`` images, resized back to H×W (antialiased)."""
    if percent == 100:
        return images
    h, w = images.shape[-2:]
    ch, cw = max(round(h * percent / 100), 1), max(round(w * percent / 100), 1)
    top, left = (h - ch) // 2, (w - cw) // 2
    return F.interpolate(images[..., top:top + ch, left:left + cw], size=(h, w), mode="bilinear", antialias=True,
                         align_corners=False)


def to_tensor(images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255.0


class MeanImage:
    """Section 5.1's vanilla input: each image minus the training set's mean image (values in [0, 1] units)."""

    def __init__(self, mean: torch.Tensor) -> None:
        self.mean = mean

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        return images - self.mean


class ImageSet(Dataset[tuple[torch.Tensor, torch.Tensor]]):
    """Cropped, normalized images and their types; ``augment`` applies section 5.2's augmentations per image."""

    def __init__(self, images: Images, crop: int, normalize: Any, augment: bool) -> None:
        self.x = normalize(centre_crop(to_tensor(images.images), crop))
        self.y = torch.from_numpy(images.labels)
        self.transform = v2.Compose([
            v2.RandomHorizontalFlip(), v2.RandomVerticalFlip(),
            v2.RandomAffine(degrees=0.0, translate=(TRANSLATE, TRANSLATE), shear=SHEAR_DEG, scale=ZOOM),
        ]) if augment else None

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.x[i]
        return (self.transform(x) if self.transform is not None else x), self.y[i]


# -- models ----------------------------------------------------------------------------------------------------------

def _network(s: Settings, arm: Arm, seed: int) -> tuple[nn.Module, Any]:
    """The untrained network of ``arm`` and its input normalization."""
    from cpath_repro.transfer import pretraining

    torch.manual_seed(seed)
    if not arm.pretrained:
        train_images = prepare(s, seed).splits["train"].images
        mean = centre_crop(to_tensor(train_images), arm.crop).mean(0, keepdim=True)
        net: nn.Module = (models.VanillaCNN() if arm.extractor == "vanilla"
                          else models.InceptionResidualHead(3, widths=HEAD_WIDTHS))
        return net, MeanImage(mean)
    backbone = pretraining.pretrained(arm.extractor, "auto", 0, s.profile, progress=False)
    torch.manual_seed(seed)  # the head's initial weights depend on the seed alone, as in every other arm
    if arm.layers is None:
        naive = nn.Sequential(nn.Linear(backbone.feature_dim, NAIVE_HIDDEN), nn.ReLU(inplace=True),
                              nn.Dropout(models.DROPOUT), nn.Linear(NAIVE_HIDDEN, 3))
        return models.ExtractorWithHead(backbone.model, naive, frozen=True), backbone.normalization
    extractor = models.first_layers(backbone.model, arm.extractor, arm.layers)
    head = models.InceptionResidualHead(models.out_channels(extractor, s.size), widths=HEAD_WIDTHS)
    return models.ExtractorWithHead(extractor, head, arm.frozen), backbone.normalization


def weighted_cross_entropy(weights: tuple[float, float, float] | None):  # type: ignore[no-untyped-def]
    """Sections 4.2 and 9's loss: the mean over images of ``α_y · (−ln ŷ_y)``."""
    alpha = None if weights is None else torch.tensor(weights, dtype=torch.float32)

    def loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        each = F.cross_entropy(logits, labels, reduction="none")
        return (each * alpha[labels]).mean() if alpha is not None else each.mean()

    return loss


def probabilities(model: nn.Module, data: ImageSet | _FeatureSet, batch: int = 128) -> np.ndarray:
    model.eval()
    with torch.no_grad():
        out = [F.softmax(model(data.x[i:i + batch]), 1) for i in range(0, len(data), batch)]
    return torch.cat(out).numpy() if out else np.zeros((0, 3), np.float32)


def scores(p: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Validation loss (categorical cross entropy, unweighted) and accuracy in percent."""
    from cpath_repro.data.cervix import log_loss

    return {VAL_LOSS: log_loss(labels, p), VAL_ACCURACY: 100.0 * float((p.argmax(1) == labels).mean())}


@dataclass
class Trained:
    """A stored model of an arm and seed, with what scoring it needs."""

    arm: Arm
    seed: int
    stored: store.StoredModel
    normalize: Any

    @property
    def key(self) -> str:
        return self.stored.key

    @property
    def model(self) -> nn.Module:
        return self.stored.model

    @property
    def val_loss(self) -> float:
        return float(self.stored.meta["val"][VAL_LOSS])

    def predict(self, images: Images) -> np.ndarray:
        """Type probabilities ``(N, 3)`` for ``images``."""
        return probabilities(self.model, ImageSet(images, self.arm.crop, self.normalize, augment=False))

    def score(self, images: Images) -> dict[str, float]:
        return scores(self.predict(images), images.labels)


def training_images(prepared: Prepared, arm: Arm) -> Images:
    """The initial training split, and with ``arm.additional`` the twice-filtered additional images."""
    train = prepared.splits["train"]
    if not arm.additional:
        return train
    extra = prepared.additional_kept
    return Images(np.concatenate([train.images, extra.images]), np.concatenate([train.labels, extra.labels]),
                  train.names + extra.names)


def recipe(s: Settings, arm: Arm, seed: int, progress: bool = True) -> store.Recipe:
    """How trial ``seed`` of ``arm`` is made (declared, not trained)."""
    from cpath_repro.transfer import pretraining

    origin, needs = (pretraining.declared(arm.extractor, "auto", s.profile) if arm.pretrained
                     else ({"pretraining": "none"}, ()))
    cfg = TrainConfig(epochs=s.epochs, batch_size=s.batch_size, lr=s.lr, momentum=0.9, weight_decay=2 * L2,
                      seed=seed, optimizer="adam")
    config = {"chapter": "paper_c", "data": describe(s), "arm": asdict(arm), "seed": seed, "start": origin,
              "lr_decay": LR_DECAY, "augmentation": [TRANSLATE, SHEAR_DEG, list(ZOOM)], "head": list(HEAD_WIDTHS),
              "train": asdict(cfg)}

    def train_fn(model: nn.Module, checkpoints: Path) -> dict[str, Any]:
        prepared = prepare(s, seed)
        train = training_images(prepared, arm)
        normalize = _network(s, arm, seed)[1]
        val = ImageSet(prepared.splits["val"], arm.crop, normalize, augment=False)
        learner = model
        images = ImageSet(train, arm.crop, normalize, arm.augment)
        train_set: ImageSet | _FeatureSet = images
        val_set: ImageSet | _FeatureSet = val
        if isinstance(model, models.ExtractorWithHead) and features_once(model, arm):
            learner = model.head
            train_set, val_set = _FeatureSet(model.extractor, images), _FeatureSet(model.extractor, val)
        trainer = Trainer(learner, weighted_cross_entropy(arm.weights), train_set,
                          cfg, validate=lambda m: scores(probabilities(m, val_set), val_set.y.numpy()),
                          checkpoint_dir=checkpoints, progress=progress, name=f"{_label(arm)}, trial {seed}",
                          scheduler=partial(torch.optim.lr_scheduler.LambdaLR, lr_lambda=_decay),
                          best_metric=VAL_LOSS, best_mode="min", checkpoint_every=CHECKPOINT_EVERY)
        history = trainer.fit()
        best = trainer.load_best()
        return {"history": history.epochs, "best_epoch": best.epoch, "val": scores(probabilities(model, val),
                                                                                    val.y.numpy()),
                "train_images": len(train)}

    return store.Recipe(config, lambda: _network(s, arm, seed)[0], train_fn, __name__, needs)


def trained(s: Settings, arm: Arm, seed: int, progress: bool = True) -> Trained:
    """Trial ``seed`` of ``arm``: loaded from the model store, or trained (once) and stored."""
    stored = store.get(recipe(s, arm, seed, progress))
    return Trained(arm, seed, stored, _network(s, arm, seed)[1])


def ensure(s: Settings, arms: Iterable[Arm], seeds: Iterable[int], progress: bool = True) -> None:
    """Every (arm, seed) model in the store, the missing ones trained as one batch."""
    store.ensure([recipe(s, arm, seed, progress) for seed in seeds for arm in arms])


def features_once(model: models.ExtractorWithHead, arm: Arm) -> bool:
    """Whether to compute the extractor's features once: a frozen extractor (evaluation mode) on un-augmented
    images gives the same features every epoch, so training the head on them is the same training, without the
    extractor's forward pass each epoch (C-T2's whole ResNet-50 and Inception-v3)."""
    return model.frozen and not arm.augment


class _FeatureSet(Dataset[tuple[torch.Tensor, torch.Tensor]]):
    """A frozen extractor's features of an :class:`ImageSet` (computed once, in evaluation mode), and its types."""

    def __init__(self, extractor: nn.Module, images: ImageSet, batch: int = 64) -> None:
        extractor.eval()
        with torch.no_grad():
            self.x = torch.cat([extractor(channels_last(images.x[i:i + batch])) for i in range(0, len(images), batch)])
        self.y = images.y

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.x[i], self.y[i]


def _decay(epoch: int) -> float:
    return 1.0 / (1.0 + LR_DECAY * epoch)


def _label(arm: Arm) -> str:
    parts = [arm.extractor if arm.layers is None or not arm.pretrained else f"{arm.extractor}[:{arm.layers}]",
             "frozen" if arm.frozen and arm.pretrained else "", f"crop {arm.crop} %" if arm.crop != 100 else "",
             f"weights {arm.weights}" if arm.weights else "", "+ additional" if arm.additional else "",
             "" if arm.augment else "no augmentation"]
    return " ".join(p for p in parts if p)
