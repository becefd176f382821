"""Paper B's training recipe: baselines, fine- and deep-tuning, two-stage and distilled starts.

Every model is a torchvision ResNet18 and lives in the model store, keyed on its data, settings
and where its weights started (a tuned model's key includes its source model's key, so the chain
re-trains only what changed). Seeds stay paired through every transfer: trial ``s`` of a target
starts from trial ``s`` of its source, never from "the best of three".

- Baseline (section 2.2): random initialization, RMSGD (lr 0.03, momentum 0.9, weight decay 5e-4),
  cross entropy, or weighted one-vs-all cross entropy for the multi-label sets; the epoch with the
  highest validation accuracy is kept.
- Tuning (section 2.3): AdamP, weight decay 5e-4, learning rate halved every 20 epochs; *deep*
  trains every layer, *fine* only a new final layer (the encoder, batch-norm statistics included,
  stays as it came). With several learning rates, each is trained and the one with the best
  validation accuracy kept.
- Inputs are normalized with the training set's own per-channel statistics and flipped at random
  (the text names no augmentation; flips are label-preserving for tissue).

Accuracy is top-1 test accuracy in percent (:data:`cpath_repro.claims.metrics.paper_b.TOP1_ACCURACY`). For the
multi-label sets a crop counts as correct when its highest-scoring class is one of its labels.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import lru_cache, partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset

from cpath_repro.chapters.paper_b.data import Crops, Prepared, describe, prepare, standardization
from cpath_repro.claims.metrics import paper_b as metrics
from cpath_repro.metrics import chance
from cpath_repro.models import backbones
from cpath_repro.models.backbones import Normalization
from cpath_repro.train import store
from cpath_repro.train.engine import TrainConfig, Trainer
from cpath_repro.train.optimizers import RMSGD_LR, RMSGD_MOMENTUM, WEIGHT_DECAY, adamp, rmsgd

if TYPE_CHECKING:  # the recipe reads the settings; their declaration (words a reader sees) stays out of its key
    from cpath_repro.chapters.paper_b.settings import Settings

BACKBONE = "resnet18"
#: Paper B, section 2.3: the tuning learning rate is halved every 20 epochs.
LR_HALVING_EPOCHS = 20
TOP1 = metrics.TOP1_ACCURACY
#: AdamP's own default beta1 (section 2.3: "all other parameters left as default").
ADAMP_BETA1 = 0.9
#: A resumed training repeats at most 24 epochs (under a tenth of the paper's 250). A training no longer than that
#: writes no checkpoint at all: a kill repeats it whole, which costs less than the writes (a ResNet18 with AdamP's
#: state is 135 MB a write, written and fsynced; about 45 s for the default profile's 109 models of 12 epochs).
CHECKPOINT_EVERY = 25


# -- data and scores --------------------------------------------------------------------------------------------------

class CropDataset(Dataset[tuple[torch.Tensor, torch.Tensor]]):
    """Normalized crops with random horizontal and vertical flips (``augment``), and their labels."""

    def __init__(self, crops: Crops, normalization: Normalization, augment: bool) -> None:
        self.x = normalization(torch.from_numpy(crops.images).permute(0, 3, 1, 2).float() / 255.0)
        self.y = torch.from_numpy(crops.labels)
        self.augment = augment

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.x[i]
        if self.augment:
            flips = [d for d, flip in ((1, torch.rand(()) < 0.5), (2, torch.rand(()) < 0.5)) if flip]
            x = torch.flip(x, flips) if flips else x
        return x, self.y[i]


def top1_percent(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """Top-1 accuracy in percent: the top class is the label (single-label, ``labels`` (N,)) or one of the
    labels (multi-label, ``labels`` (N, C) of 0/1)."""
    top = logits.argmax(1)
    hit = labels.gather(1, top[:, None])[:, 0] > 0 if labels.ndim == 2 else top == labels
    return 100.0 * float(hit.float().mean()) if len(hit) else float("nan")


def logits_of(model: nn.Module, data: CropDataset, batch: int = 256) -> torch.Tensor:
    model.eval()
    with torch.no_grad():
        return torch.cat([model(data.x[i:i + batch]) for i in range(0, len(data), batch)])


def score(model: nn.Module, crops: Crops, normalization: Normalization) -> float:
    data = CropDataset(crops, normalization, augment=False)
    return top1_percent(logits_of(model, data), data.y)


def features(model: nn.Module, crops: Crops, normalization: Normalization) -> np.ndarray:
    """The encoder's output (what the final layer reads) for each crop: ``(N, 512)``."""
    net = encoder_of(model)
    head, net.fc = net.fc, nn.Identity()
    try:
        return logits_of(net, CropDataset(crops, normalization, augment=False)).numpy()
    finally:
        net.fc = head


def loss_for(prepared: Prepared) -> nn.Module:
    """Cross entropy; for the multi-label sets one-vs-all cross entropy, each class weighted by its
    negatives over positives in the training crops (section 2.2's "weighted one-vs-all")."""
    if not prepared.multilabel:
        return nn.CrossEntropyLoss()
    y = prepared.splits["train"].labels
    positives = y.sum(0)
    weight = (len(y) - positives) / np.maximum(positives, 1.0)
    return nn.BCEWithLogitsLoss(pos_weight=torch.from_numpy(weight.astype(np.float32)))


def _loss(fn: nn.Module, multilabel: bool):  # type: ignore[no-untyped-def]
    return (lambda out, y: fn(out, y.float())) if multilabel else fn


# -- models -----------------------------------------------------------------------------------------------------------

class FineTuned(nn.Module):
    """Fine-tuning: only the final layer trains; the encoder is frozen and stays in evaluation mode."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        for name, p in model.named_parameters():
            p.requires_grad_(name.startswith("fc."))

    def train(self, mode: bool = True) -> FineTuned:
        super().train(mode)
        self.model.eval()
        self.model.fc.train(mode)  # type: ignore[union-attr]
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)  # type: ignore[no-any-return]


def encoder_of(model: nn.Module) -> nn.Module:
    """The ResNet18 inside a stored model (a fine-tuned one wraps it)."""
    return model.model if isinstance(model, FineTuned) else model


@dataclass
class Trained:
    """A stored model with its scores (percent) and the input normalization it was trained with."""

    stored: store.StoredModel
    normalization: Normalization
    #: the store keys of the models its initial weights came from (a source, a first stage, distilled parts)
    lineage: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return self.stored.key

    @property
    def keys(self) -> tuple[str, ...]:
        """Its own key and its lineage's: what a page must keep in the store to load it again."""
        return (*self.lineage, self.key)

    @property
    def model(self) -> nn.Module:
        return self.stored.model

    @property
    def val(self) -> float:
        return float(self.stored.meta["val_top1"])

    @property
    def test(self) -> float:
        return float(self.stored.meta["test_top1"])

    @property
    def curve(self) -> list[float]:
        """Validation top-1 (%) after each validated epoch."""
        return [float(e["val"][TOP1]) for e in self.stored.meta["history"] if "val" in e]

    @property
    def val_crops(self) -> int:
        """Crops in the validation split: one of them is the smallest step of :attr:`curve`."""
        return int(self.stored.meta["val_crops"])

    @property
    def chance(self) -> float:
        """The test split's chance level (percent): the training set's most frequent class, always."""
        return float(self.stored.meta["test_chance"])


def _fit(model: nn.Module, prepared: Prepared, cfg: TrainConfig, optimizer: Any, scheduler: Any, name: str,
         checkpoints: Path, progress: bool) -> dict[str, Any]:
    """Train on the training crops, keep the best validation epoch, and score it (the store's ``train``)."""
    norm = Normalization.from_images(prepared.splits["train"].images, f"{prepared.name} training crops")
    val = prepared.splits["val"]
    trainer = Trainer(model, _loss(loss_for(prepared), prepared.multilabel),
                      CropDataset(prepared.splits["train"], norm, augment=True), cfg,
                      validate=lambda m: {TOP1: score(m, val, norm)},
                      checkpoint_dir=checkpoints if cfg.epochs > CHECKPOINT_EVERY else None,
                      progress=progress, name=name, optimizer=optimizer, scheduler=scheduler, best_metric=TOP1,
                      checkpoint_every=CHECKPOINT_EVERY)
    history = trainer.fit()
    best = trainer.load_best()
    return {"history": history.epochs, "best_epoch": best.epoch, "normalization": norm.as_dict(),
            "val_top1": score(model, val, norm), "test_top1": score(model, prepared.splits["test"], norm),
            "test_chance": chance.accuracy(prepared.splits["train"].labels, prepared.splits["test"].labels,
                                           prepared.n_classes),
            "train_crops": len(prepared.splits["train"]), "val_crops": len(val)}


def _trained(stored: store.StoredModel, lineage: tuple[str, ...] = ()) -> Trained:
    return Trained(stored, Normalization.from_dict(stored.meta["normalization"]), lineage)


def _base_config(s: Settings, name: str) -> dict[str, Any]:
    return {"chapter": "paper_b", "backbone": BACKBONE, "data": describe(s, name), "standardization": standardization(s)}


@lru_cache(maxsize=64)
def baseline(s: Settings, name: str, seed: int, progress: bool = True) -> Trained:
    """Trial ``seed`` of dataset ``name`` from random initialization (RMSGD); kept for the kernel's lifetime,
    since every transfer from ``name`` starts from it (callers must not train it further)."""
    prepared = prepare(s, name, seed)
    cfg = TrainConfig(epochs=s.epochs, batch_size=s.batch_size, lr=RMSGD_LR, momentum=RMSGD_MOMENTUM,
                      weight_decay=WEIGHT_DECAY, seed=seed)
    config = {**_base_config(s, name), "stage": "baseline", "seed": seed, "optimizer": "rmsgd", "train": asdict(cfg)}

    def initialized() -> nn.Module:
        return backbones.build(BACKBONE, "none", prepared.n_classes, seed=seed, head_seed=seed).model

    def train(model: nn.Module, checkpoints: Path) -> dict[str, Any]:
        return _fit(model, prepared, cfg, rmsgd, None, f"{name} baseline, trial {seed}", checkpoints, progress)

    return _trained(store.get_or_train(config, initialized, train, recipe=__name__))


@dataclass(frozen=True)
class Start:
    """Where a tuned model's weights start: ``kind`` "baseline" (of ``sources[0]``), "pretrained" (ImageNet or
    the stand-in), "two-stage" (pretrained, deep-tuned on ``sources[0]``) or "distilled" (of ``sources``)."""

    kind: str
    sources: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return {"baseline": "from {}", "pretrained": "pretrained", "two-stage": "pretrained, then {}",
                "distilled": "distilled {}"}[self.kind].format(" + ".join(self.sources))


def _start(s: Settings, start: Start, seed: int, n_classes: int, progress: bool
           ) -> tuple[nn.Module, dict[str, Any], tuple[str, ...]]:
    """The initial weights of a tuned model (with a new head of ``n_classes``), what keys them, and the store
    keys of the models they came from."""
    from cpath_repro.transfer import distill, pretraining

    def new_head(state_of: nn.Module) -> nn.Module:
        state = {k: v for k, v in encoder_of(state_of).state_dict().items() if not k.startswith("fc.")}
        model = backbones.build(BACKBONE, "none", n_classes, seed=seed, head_seed=seed).model
        model.load_state_dict(state, strict=False)
        return model

    if start.kind == "baseline":
        source = baseline(s, start.sources[0], seed, progress)
        return new_head(source.model), {"kind": "baseline", "source": start.sources[0], "key": source.key}, source.keys
    if start.kind == "pretrained":
        backbone = pretraining.pretrained(BACKBONE, "auto", n_classes, s.profile, head_seed=seed, progress=progress)
        return backbone.model, {"kind": "pretrained", "pretraining": backbone.pretraining, "weights": backbone.source}, ()
    if start.kind == "two-stage":
        first = tuned(s, start.sources[0], seed, Start("pretrained"), "deep", progress)
        return new_head(first.model), {"kind": "two-stage", "source": start.sources[0], "key": first.key}, first.keys
    if start.kind == "distilled":
        parts = {n: baseline(s, n, seed, progress) for n in start.sources}
        target = backbones.build(BACKBONE, "none", n_classes, seed=seed, head_seed=seed).model
        done = distill.distill({n: t.model for n, t in parts.items()}, target, head="fc")
        keys = [t.key for t in parts.values()]
        return done.model, {"kind": "distilled", "order": list(done.order), "keys": keys}, tuple(keys)
    raise ValueError(f"Unknown start {start.kind!r}.")


def tuned(s: Settings, target: str, seed: int, start: Start, mode: str, progress: bool = True) -> Trained:
    """Trial ``seed`` of ``target`` tuned (``mode`` "deep" or "fine") from ``start``; with several learning
    rates for the mode, the one whose model has the best validation accuracy (ties: the smaller rate)."""
    lrs = s.lr_deep if mode == "deep" else s.lr_fine
    candidates = [tuned_at(s, target, seed, start, mode, lr, progress) for lr in lrs]
    return max(candidates, key=lambda t: t.val)  # max keeps the first of equals: lrs are in the order given


def tuned_at(s: Settings, target: str, seed: int, start: Start, mode: str, lr: float, progress: bool) -> Trained:
    if mode not in ("deep", "fine"):
        raise ValueError(f"Tuning mode must be 'deep' or 'fine', got {mode!r}.")
    prepared = prepare(s, target, seed)
    cfg = TrainConfig(epochs=s.epochs, batch_size=s.batch_size, lr=lr, momentum=ADAMP_BETA1,
                      weight_decay=WEIGHT_DECAY, seed=seed)
    initial, origin, lineage = _start(s, start, seed, prepared.n_classes, progress)
    config = {**_base_config(s, target), "stage": "tune", "mode": mode, "seed": seed, "start": origin,
              "optimizer": "adamp", "lr_halving_epochs": LR_HALVING_EPOCHS, "train": asdict(cfg)}

    def initialized() -> nn.Module:
        return FineTuned(initial) if mode == "fine" else initial

    def train(model: nn.Module, checkpoints: Path) -> dict[str, Any]:
        scheduler = partial(torch.optim.lr_scheduler.StepLR, step_size=LR_HALVING_EPOCHS, gamma=0.5)
        return {**_fit(model, prepared, cfg, adamp, scheduler, f"{target} {mode}-tuned {start.label}, trial {seed}",
                       checkpoints, progress), "lr": lr}

    return _trained(store.get_or_train(config, initialized, train, recipe=__name__), lineage)
