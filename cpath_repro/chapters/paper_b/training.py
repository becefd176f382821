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

from collections.abc import Iterable
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


def baseline_recipe(s: Settings, name: str, seed: int, progress: bool = True) -> store.Recipe:
    """How trial ``seed`` of dataset ``name`` from random initialization (RMSGD) is made (declared, not trained)."""
    cfg = TrainConfig(epochs=s.epochs, batch_size=s.batch_size, lr=RMSGD_LR, momentum=RMSGD_MOMENTUM,
                      weight_decay=WEIGHT_DECAY, seed=seed)
    config = {**_base_config(s, name), "stage": "baseline", "seed": seed, "optimizer": "rmsgd", "train": asdict(cfg)}

    def initialized() -> nn.Module:
        return backbones.build(BACKBONE, "none", prepare(s, name, seed).n_classes, seed=seed, head_seed=seed).model

    def train(model: nn.Module, checkpoints: Path) -> dict[str, Any]:
        return _fit(model, prepare(s, name, seed), cfg, rmsgd, None, f"{name} baseline, trial {seed}", checkpoints,
                    progress)

    return store.Recipe(config, initialized, train, __name__)


@lru_cache(maxsize=64)
def baseline(s: Settings, name: str, seed: int, progress: bool = True) -> Trained:
    """Trial ``seed`` of dataset ``name`` from random initialization; kept for the kernel's lifetime, since every
    transfer from ``name`` starts from it (callers must not train it further)."""
    return _trained(store.get(baseline_recipe(s, name, seed, progress)))


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


#: A two-stage model's first stage: the source deep-tuned from pretraining
FIRST_STAGE = Start("pretrained")


def _origin(s: Settings, start: Start, seed: int, progress: bool
            ) -> tuple[dict[str, Any], tuple[str, ...], tuple[store.Recipe, ...]]:
    """What keys a tuned model's start, the store keys of the models it comes from, and their recipes (trained
    first). A two-stage start is the best of its first stage's learning rates, so it reads (and, if missing, trains)
    that stage's models: :func:`ensure_tuned` trains every first stage before it declares the second."""
    from cpath_repro.transfer import pretraining

    if start.kind == "baseline":
        source = baseline_recipe(s, start.sources[0], seed, progress)
        return {"kind": "baseline", "source": start.sources[0], "key": source.key}, (source.key,), (source,)
    if start.kind == "pretrained":
        origin, needs = pretraining.declared(BACKBONE, "auto", s.profile)
        return {"kind": "pretrained", **origin}, (), needs
    if start.kind == "two-stage":
        first = tuned(s, start.sources[0], seed, FIRST_STAGE, "deep", progress)  # stored once this returns
        return {"kind": "two-stage", "source": start.sources[0], "key": first.key}, first.keys, ()
    if start.kind == "distilled":
        parts = [baseline_recipe(s, n, seed, progress) for n in start.sources]
        keys = [r.key for r in parts]
        return {"kind": "distilled", "order": list(start.sources), "keys": keys}, tuple(keys), tuple(parts)
    raise ValueError(f"Unknown start {start.kind!r}.")


def _initial(s: Settings, start: Start, seed: int, n_classes: int, progress: bool) -> nn.Module:
    """The initial weights of a tuned model from ``start`` (its sources stored), with a new head of ``n_classes``."""
    from cpath_repro.transfer import distill, pretraining

    def new_head(state_of: nn.Module) -> nn.Module:
        state = {k: v for k, v in encoder_of(state_of).state_dict().items() if not k.startswith("fc.")}
        model = backbones.build(BACKBONE, "none", n_classes, seed=seed, head_seed=seed).model
        model.load_state_dict(state, strict=False)
        return model

    if start.kind == "baseline":
        return new_head(baseline(s, start.sources[0], seed, progress).model)
    if start.kind == "pretrained":
        return pretraining.pretrained(BACKBONE, "auto", n_classes, s.profile, head_seed=seed, progress=progress).model
    if start.kind == "two-stage":
        return new_head(tuned(s, start.sources[0], seed, FIRST_STAGE, "deep", progress).model)
    if start.kind == "distilled":
        parts = {n: baseline(s, n, seed, progress) for n in start.sources}
        target = backbones.build(BACKBONE, "none", n_classes, seed=seed, head_seed=seed).model
        return distill.distill({n: t.model for n, t in parts.items()}, target, head="fc").model
    raise ValueError(f"Unknown start {start.kind!r}.")


def tuned(s: Settings, target: str, seed: int, start: Start, mode: str, progress: bool = True) -> Trained:
    """Trial ``seed`` of ``target`` tuned (``mode`` "deep" or "fine") from ``start``; with several learning
    rates for the mode, the one whose model has the best validation accuracy (ties: the smaller rate)."""
    lrs = s.lr_deep if mode == "deep" else s.lr_fine
    ensure_tuned(s, [(target, seed, start, mode)], progress)
    candidates = [tuned_at(s, target, seed, start, mode, lr, progress) for lr in lrs]
    return max(candidates, key=lambda t: t.val)  # max keeps the first of equals: lrs are in the order given


def ensure_tuned(s: Settings, cells: Iterable[tuple[str, int, Start, str]], progress: bool = True) -> None:
    """Every learning rate's model of each cell ``(target, seed, start, mode)`` in the store, the missing ones
    trained as one batch with the baselines they start from; two-stage cells' first stages as a batch before."""
    cells = list(cells)
    firsts = {(st.sources[0], seed, FIRST_STAGE, "deep") for _, seed, st, _ in cells if st.kind == "two-stage"}
    if firsts:
        ensure_tuned(s, sorted(firsts, key=str), progress)
    store.ensure([tuned_recipe(s, target, seed, start, mode, lr, progress)[0] for target, seed, start, mode in cells
                  for lr in (s.lr_deep if mode == "deep" else s.lr_fine)])


def tuned_recipe(s: Settings, target: str, seed: int, start: Start, mode: str, lr: float, progress: bool = True
                 ) -> tuple[store.Recipe, tuple[str, ...]]:
    """How trial ``seed`` of ``target`` tuned from ``start`` at ``lr`` is made (declared, not trained), and the
    store keys of the models it comes from."""
    if mode not in ("deep", "fine"):
        raise ValueError(f"Tuning mode must be 'deep' or 'fine', got {mode!r}.")
    cfg = TrainConfig(epochs=s.epochs, batch_size=s.batch_size, lr=lr, momentum=ADAMP_BETA1,
                      weight_decay=WEIGHT_DECAY, seed=seed)
    origin, lineage, needs = _origin(s, start, seed, progress)
    config = {**_base_config(s, target), "stage": "tune", "mode": mode, "seed": seed, "start": origin,
              "optimizer": "adamp", "lr_halving_epochs": LR_HALVING_EPOCHS, "train": asdict(cfg)}

    def initialized() -> nn.Module:
        initial = _initial(s, start, seed, prepare(s, target, seed).n_classes, progress)
        return FineTuned(initial) if mode == "fine" else initial

    def train(model: nn.Module, checkpoints: Path) -> dict[str, Any]:
        scheduler = partial(torch.optim.lr_scheduler.StepLR, step_size=LR_HALVING_EPOCHS, gamma=0.5)
        return {**_fit(model, prepare(s, target, seed), cfg, adamp, scheduler,
                       f"{target} {mode}-tuned {start.label}, trial {seed}", checkpoints, progress), "lr": lr}

    return store.Recipe(config, initialized, train, __name__, needs), lineage


def tuned_at(s: Settings, target: str, seed: int, start: Start, mode: str, lr: float, progress: bool) -> Trained:
    """Trial ``seed`` of ``target`` tuned from ``start`` at ``lr``, from the store (trained if missing)."""
    recipe, lineage = tuned_recipe(s, target, seed, start, mode, lr, progress)
    return _trained(store.get(recipe), lineage)


def ensure_baselines(s: Settings, names: Iterable[str], seeds: Iterable[int], progress: bool = True) -> None:
    """Every (dataset, trial) baseline in the store, the missing ones trained as one batch."""
    store.ensure([baseline_recipe(s, name, seed, progress) for seed in seeds for name in names])
