"""E-K3: class imbalance: doing nothing vs resampling (under- or oversampling) vs a class-weighted loss.

Paper E (section on data considerations): normal cells are abundant and abnormal ones rare; a
balanced distribution can be obtained by excluding majority examples or oversampling the
minority, or the loss can weight classes. Here the training crops are deliberately imbalanced
and the test crops balanced, so balanced accuracy (the mean of per-class recalls) is what a
user who cares about every class sees. Every arm gets the same number of optimizer steps.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import balanced_accuracy_score, recall_score
from sklearn.utils.class_weight import compute_class_weight
from torch import nn
from torch.utils.data import TensorDataset

from cpath_repro.chapters.paper_e.common import TEST_OFFSET, crops_dataset, epochs_for, predict, train_classifier
from cpath_repro.errors import ParameterError
from cpath_repro.models.small import SmallCNN
from cpath_repro.synth.nuclei import CROP_CLASSES

#: Training-set class frequencies (round, elongated, fragmented): a common class and two rare ones.
IMBALANCE = (0.90, 0.08, 0.02)
ARMS = ("nothing", "undersampling", "oversampling", "class-weighted loss")


def _undersample(y: torch.Tensor, seed: int) -> torch.Tensor:
    """Indices keeping every example of the rarest class and as many, drawn at random, of each other class."""
    rng = np.random.default_rng(seed)
    labels = y.numpy()
    keep = min(np.bincount(labels, minlength=len(CROP_CLASSES))[np.unique(labels)])
    chosen = [rng.choice(np.flatnonzero(labels == c), keep, replace=False) for c in np.unique(labels)]
    return torch.from_numpy(np.sort(np.concatenate(chosen)))


def run(n_train: int, steps: int, n_seeds: int, n_test: int = 900, width: int = 8) -> pd.DataFrame:
    """Per arm and seed: recall of each class and balanced accuracy on balanced test crops."""
    rows = []
    classes = np.arange(len(CROP_CLASSES))
    for seed in range(n_seeds):
        x, y = crops_dataset(n_train, seed, weights=IMBALANCE)
        xt, yt = crops_dataset(n_test, seed + TEST_OFFSET)
        counts = np.bincount(y.numpy(), minlength=len(classes))
        if (counts == 0).any():
            missing = ", ".join(CROP_CLASSES[c] for c in np.flatnonzero(counts == 0))
            raise ParameterError(f"{n_train} training crops at frequencies {IMBALANCE} hold no '{missing}' crop for "
                                 f"seed {seed}; use more training crops (-p n_train ...).")
        for arm in ARMS:
            data, loss, weights = TensorDataset(x, y), nn.CrossEntropyLoss(), None
            if arm == "undersampling":
                keep = _undersample(y, seed)
                data = TensorDataset(x[keep], y[keep])
            elif arm == "oversampling":  # each class drawn equally often, with replacement
                weights = torch.from_numpy(1.0 / counts[y.numpy()]).double()
            elif arm == "class-weighted loss":  # scikit-learn's "balanced" weights: n / (k * count)
                balanced = compute_class_weight("balanced", classes=classes, y=y.numpy())
                loss = nn.CrossEntropyLoss(weight=torch.tensor(balanced, dtype=torch.float32))
            torch.manual_seed(seed)
            model = SmallCNN(width=width)
            epochs = epochs_for(steps, len(data))
            train_classifier(model, data, (xt, yt), epochs, seed, loss_fn=loss, sample_weights=weights,
                             val_every=epochs, name=f"{arm}, seed {seed}")
            pred = predict(model, xt)
            recalls = recall_score(yt.numpy(), pred, labels=classes, average=None, zero_division=0.0)
            rows.append({"arm": arm, "seed": seed, "training_crops": len(data),
                         **{f"recall_{name}": float(r) for name, r in zip(CROP_CLASSES, recalls, strict=True)},
                         "balanced_accuracy": float(balanced_accuracy_score(yt.numpy(), pred))})
    return pd.DataFrame(rows)
