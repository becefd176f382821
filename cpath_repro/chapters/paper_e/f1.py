"""E-F1: the conventional workflow (hand-engineered features + a classifier) vs deep learning, on one task.

Both learn the nucleus-shape task (round / elongated / fragmented) from the same training crops,
nested so that each smaller training set is a part of the larger ones, and are scored on the
same test crops. The CNN gets the same number of optimizer steps at every training-set size.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import pandas as pd
import torch
from torch.utils.data import TensorDataset

from cpath_repro.chapters.paper_e.common import TEST_OFFSET, crops_dataset, epochs_for, final_scores, train_classifier
from cpath_repro.concepts import features
from cpath_repro.models.small import SmallCNN

#: Width of the CNN (filters in its first block) and its optimizer steps at every training-set size.
CNN_WIDTH = 8
CNN_STEPS = 200


def run(sizes: Sequence[int], n_seeds: int, n_test: int, steps: int = CNN_STEPS) -> pd.DataFrame:
    """Test accuracy and fitting time of both workflows, per training-set size and seed (a long table)."""
    rows = []
    for seed in range(n_seeds):
        x, y = crops_dataset(max(sizes), seed)
        xt, yt = crops_dataset(n_test, seed + TEST_OFFSET)
        t0 = time.perf_counter()
        f_train, f_test = features.feature_table(x[:, 0].numpy()), features.feature_table(xt[:, 0].numpy())
        feature_seconds_per_crop = (time.perf_counter() - t0) / (len(x) + len(xt))
        for n in sorted(sizes):
            t0 = time.perf_counter()
            forest = features.feature_classifier(seed).fit(f_train[:n], y[:n].numpy())
            rows.append({"workflow": "hand-engineered features + random forest", "n_train": n, "seed": seed,
                         "accuracy": float((forest.predict(f_test) == yt.numpy()).mean()),
                         "fit_seconds": time.perf_counter() - t0 + feature_seconds_per_crop * n})
            torch.manual_seed(seed)
            cnn = SmallCNN(width=CNN_WIDTH)
            epochs = epochs_for(steps, n)
            t0 = time.perf_counter()
            history = train_classifier(cnn, TensorDataset(x[:n], y[:n]), (xt, yt), epochs, seed, val_every=epochs,
                                       name=f"CNN, {n} crops, seed {seed}")
            rows.append({"workflow": "CNN (deep learning)", "n_train": n, "seed": seed,
                         "accuracy": final_scores(history)["accuracy"], "fit_seconds": time.perf_counter() - t0})
    return pd.DataFrame(rows)


def degradation(results: pd.DataFrame) -> pd.DataFrame:
    """Per workflow: mean accuracy with the most and the fewest training crops, and the accuracy lost between them."""
    mean = results.groupby(["workflow", "n_train"], sort=False).accuracy.mean().unstack()
    smallest, largest = mean.columns.min(), mean.columns.max()
    return pd.DataFrame({
        "workflow": mean.index,
        f"accuracy_{largest}_crops": mean[largest].to_numpy(),
        f"accuracy_{smallest}_crops": mean[smallest].to_numpy(),
        "accuracy_lost": (mean[largest] - mean[smallest]).to_numpy(),
    })
