"""What paper E's demos share: the nucleus-shape task, accuracy, and training a classifier with the shared engine."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.utils.data import Dataset, TensorDataset

from cpath_repro.synth.nuclei import nucleus_crops
from cpath_repro.train.engine import History, TrainConfig, Trainer

#: The shape task's difficulty (0 = obvious, 1 = hard) for every demo that does not study difficulty itself.
SHAPE_DIFFICULTY = 0.5
#: Seed offset of a seed's test crops, so that train and test crops never share a generator seed.
TEST_OFFSET = 10_000
#: Mini-batch size of every paper E classifier.
BATCH = 32


def crops_dataset(n: int, seed: int, difficulty: float = SHAPE_DIFFICULTY,
                  weights: tuple[float, ...] = (1 / 3, 1 / 3, 1 / 3)) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` synthetic nucleus crops ``(n, 1, 32, 32)`` in [0, 1] and their shape classes."""
    x, y = nucleus_crops(n, seed, difficulty=difficulty, weights=weights)
    return torch.from_numpy(x)[:, None], torch.from_numpy(y)


def predict(model: nn.Module, x: torch.Tensor) -> np.ndarray:
    """Predicted classes of ``x`` in evaluation mode."""
    model.eval()
    with torch.no_grad():
        return model(x).argmax(1).numpy()


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    return float((predict(model, x) == y.numpy()).mean())


def flat_crops(x: torch.Tensor) -> torch.Tensor:
    """Crops as 64 numbers each (4 x 4 average pooling): the input of the fully connected demos."""
    return nn.functional.avg_pool2d(x, 4).flatten(1)


def epochs_for(steps: int, n_train: int) -> int:
    """Epochs giving about ``steps`` optimizer steps: small training sets get more epochs, so that a
    comparison across training-set sizes is not a comparison of training lengths."""
    batches_per_epoch = -(-n_train // BATCH)
    return max(1, round(steps / batches_per_epoch))


def train_classifier(model: nn.Module, train: Dataset, val: tuple[torch.Tensor, torch.Tensor], epochs: int, seed: int,
                     lr: float = 0.05, name: str = "classifier", loss_fn: Callable[..., torch.Tensor] | None = None,
                     sample_weights: torch.Tensor | None = None, val_every: int = 1,
                     weight_decay: float = 0.0, optimizer: str = "sgd") -> History:
    """Train with the shared engine; validation accuracy (and training accuracy) when validating.

    ``train`` is a dataset of ``(crop, class)`` pairs with its un-augmented tensors in ``.tensors``
    (a ``TensorDataset`` or :class:`~cpath_repro.data.transforms.Augmented`). Batch-norm statistics
    are recomputed on those tensors before each validation (the engine's PreciseBN): with a few
    hundred steps the running averages lag the weights, and validation accuracy would swing from
    one epoch to the next for that reason alone.
    """
    plain = TensorDataset(*train.tensors)  # type: ignore[attr-defined]

    def validate(m: nn.Module) -> dict[str, float]:
        return {"accuracy": accuracy(m, *val), "train_accuracy": accuracy(m, *plain.tensors)}

    config = TrainConfig(epochs, BATCH, lr, seed=seed, val_every=val_every, weight_decay=weight_decay,
                         optimizer=optimizer)
    trainer = Trainer(model, loss_fn or nn.CrossEntropyLoss(), train, config, validate=validate, name=name,
                      sample_weights=sample_weights, recalibrate_bn=plain)
    return trainer.fit()


def final_scores(history: History) -> dict[str, float]:
    """Validation and training accuracy after training (the engine always validates the last epoch)."""
    scores: dict[str, float] = history.validated()[-1]["val"]
    return scores


def mean_sd(frame: pd.DataFrame, by: str | list[str], columns: Sequence[str]) -> pd.DataFrame:
    """Mean and standard deviation over seeds of ``columns``, per group (the numbers a page quotes)."""
    grouped = frame.groupby(by, sort=False)[list(columns)]
    out = grouped.mean().add_suffix("_mean").join(grouped.std().fillna(0.0).add_suffix("_sd")).reset_index()
    keys = [by] if isinstance(by, str) else by
    return out[keys + [f"{c}_{s}" for c in columns for s in ("mean", "sd")]]
