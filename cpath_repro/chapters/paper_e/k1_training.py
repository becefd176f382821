"""E-K1, training: over- and underfitting, dropout and batch norm, data augmentation, transfer learning.

Each experiment learns the nucleus-shape task from a deliberately small training set (where these
concepts matter) with the shared engine, over paired seeds (seed s makes the data and the initial
weights of every arm): a fully connected network for capacity and dropout, the small CNN of the
other demos for batch norm, augmentation and transfer.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import torch
from torch import nn
from torch.utils.data import Dataset, TensorDataset

from cpath_repro.chapters.paper_e.common import TEST_OFFSET, crops_dataset, epochs_for, final_scores, train_classifier
from cpath_repro.data.transforms import Augmented, dihedral
from cpath_repro.metrics.segmentation import epochs_to_fraction_of_final
from cpath_repro.models.small import SmallCNN, mlp
from cpath_repro.synth.nuclei import count_crops
from cpath_repro.train.engine import History

#: Validation crops per seed for every experiment here.
N_VAL = 500
#: Hidden widths of the over/underfitting sweep; the dropout rates tried on a network of DROPOUT_WIDTH units
#: (one that fits its training crops perfectly, i.e. overfits, in the sweep).
WIDTHS = (1, 4, 16, 64, 256)
DROPOUT_RATES = (0.0, 0.5, 0.8)
DROPOUT_WIDTH = 256
#: Over/underfitting and dropout train the fully connected network with Adam (it reaches a perfect training fit).
MLP_LR = 1e-3
#: Validations along a batch-norm training curve.
CURVE_POINTS = 16


Split = tuple[torch.Tensor, torch.Tensor, tuple[torch.Tensor, torch.Tensor]]


def _shapes(n_train: int, seed: int) -> Split:
    """A seed's training crops and classes, and its validation crops."""
    x, y = crops_dataset(n_train, seed)
    return x, y, crops_dataset(N_VAL, seed + TEST_OFFSET)


def _scores(history: History) -> dict[str, float]:
    scores = final_scores(history)
    return {"train_accuracy": scores["train_accuracy"], "val_accuracy": scores["accuracy"],
            "gap": scores["train_accuracy"] - scores["accuracy"]}


def _fit_mlp(hidden: int, rate: float, x: torch.Tensor, y: torch.Tensor, val: tuple[torch.Tensor, torch.Tensor],
             epochs: int, seed: int) -> dict[str, float]:
    torch.manual_seed(seed)
    model = mlp(x[0].numel(), hidden, dropout=rate)
    history = train_classifier(model, TensorDataset(x, y), val, epochs, seed, lr=MLP_LR, optimizer="adam",
                               val_every=epochs, name=f"hidden {hidden}, dropout {rate}, seed {seed}")
    return {"parameters": sum(p.numel() for p in model.parameters()), **_scores(history)}


def fitting(widths: Sequence[int], n_train: int, epochs: int, n_seeds: int) -> pd.DataFrame:
    """Training and validation accuracy of a one-hidden-layer network on the pixels at each hidden width
    (its capacity), per seed."""
    rows = []
    for seed in range(n_seeds):
        x, y, val = _shapes(n_train, seed)
        rows += [{"width": width, "seed": seed, **_fit_mlp(width, 0.0, x, y, val, epochs, seed)} for width in widths]
    return pd.DataFrame(rows)


def dropout(hidden: int, rates: Sequence[float], n_train: int, epochs: int, n_seeds: int) -> pd.DataFrame:
    """A network of :func:`fitting` with dropout on its hidden units at each rate, per seed."""
    rows = []
    for seed in range(n_seeds):
        x, y, val = _shapes(n_train, seed)
        rows += [{"dropout": rate, "seed": seed, **_fit_mlp(hidden, rate, x, y, val, epochs, seed)} for rate in rates]
    return pd.DataFrame(rows)


def batch_norm(n_train: int, steps: int, n_seeds: int, width: int = 8) -> pd.DataFrame:
    """The CNN with and without batch norm after each convolution (same SGD, data and steps): training loss,
    training and validation accuracy per epoch and seed."""
    rows = []
    for seed in range(n_seeds):
        x, y, val = _shapes(n_train, seed)
        for arm, normalized in (("without batch norm", False), ("with batch norm", True)):
            torch.manual_seed(seed)
            model = SmallCNN(width=width, batch_norm=normalized)
            epochs = epochs_for(steps, n_train)
            history = train_classifier(model, TensorDataset(x, y), val, epochs, seed,
                                       val_every=-(-epochs // CURVE_POINTS), name=f"{arm}, seed {seed}")
            rows += [{"arm": arm, "seed": seed, "epoch": e["epoch"], "train_loss": e["train_loss"],
                      "train_accuracy": e["val"]["train_accuracy"], "val_accuracy": e["val"]["accuracy"]}
                     for e in history.validated()]
    return pd.DataFrame(rows)


def convergence(curves: pd.DataFrame) -> pd.DataFrame:
    """Per arm and seed: final accuracies, the train/validation gap, and convergence (the first epoch
    reaching 90 % of the final validation accuracy)."""
    rows = []
    for (arm, seed), g in curves.groupby(["arm", "seed"], sort=False):
        last = g.iloc[-1]
        rows.append({"arm": arm, "seed": seed, "train_accuracy": last.train_accuracy, "val_accuracy": last.val_accuracy,
                     "gap": last.train_accuracy - last.val_accuracy,
                     "epochs_to_90pct": epochs_to_fraction_of_final(g.epoch.to_numpy(), g.val_accuracy.to_numpy())})
    return pd.DataFrame(rows)


def augmentation(n_train: int, steps: int, n_seeds: int, width: int = 8) -> pd.DataFrame:
    """Training and validation accuracy without and with mirroring/rotation augmentation, per seed."""
    rows = []
    epochs = epochs_for(steps, n_train)
    for seed in range(n_seeds):
        x, y, val = _shapes(n_train, seed)
        arms: dict[str, Dataset] = {"no augmentation": TensorDataset(x, y),
                                    "mirroring + 90-degree rotations": Augmented(x, y, dihedral())}
        for arm, data in arms.items():
            torch.manual_seed(seed)
            model = SmallCNN(width=width)
            history = train_classifier(model, data, val, epochs, seed, val_every=epochs, name=f"{arm}, seed {seed}")
            rows.append({"arm": arm, "seed": seed, **_scores(history)})
    return pd.DataFrame(rows)


def _count_dataset(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    x, y = count_crops(n, seed)
    return torch.from_numpy(x)[:, None], torch.from_numpy(y)


def transfer(n_source: int, n_target: int, steps: int, n_seeds: int, width: int = 8) -> pd.DataFrame:
    """Counting nuclei (1-3) from few labelled crops: from scratch, vs starting from a CNN trained on the
    shape task (all layers fine-tuned), vs that CNN's features frozen and only a new classifier trained."""
    rows = []
    for seed in range(n_seeds):
        xs, ys, shapes_val = _shapes(n_source, seed)
        torch.manual_seed(seed)
        source = SmallCNN(width=width)
        epochs = epochs_for(steps, n_source)
        source_accuracy = final_scores(train_classifier(source, TensorDataset(xs, ys), shapes_val, epochs, seed,
                                                        val_every=epochs, name=f"source (shape), seed {seed}"))["accuracy"]
        x, y = _count_dataset(n_target, seed * 100_000 + 4)
        xv, yv = _count_dataset(N_VAL, seed * 100_000 + 4 + TEST_OFFSET)
        epochs = epochs_for(steps, n_target)
        for arm in ("from scratch", "fine-tuned from the shape CNN"):
            torch.manual_seed(seed + 1)
            model = SmallCNN(width=width)
            if arm != "from scratch":
                model.features.load_state_dict(source.features.state_dict())
            history = train_classifier(model, TensorDataset(x, y), (xv, yv), epochs, seed, val_every=epochs,
                                       name=f"target: {arm}, seed {seed}")
            rows.append({"arm": arm, "seed": seed, "val_accuracy": final_scores(history)["accuracy"],
                         "source_accuracy": source_accuracy})
        source.eval()
        with torch.no_grad():  # frozen: the features are computed once and never change
            f, fv = source.features(x), source.features(xv)
        torch.manual_seed(seed + 1)
        head = nn.Linear(f.shape[1], 3)
        history = train_classifier(head, TensorDataset(f, y), (fv, yv), epochs, seed, val_every=epochs,
                                   name=f"target: frozen features, seed {seed}")
        rows.append({"arm": "frozen shape features + new classifier", "seed": seed,
                     "val_accuracy": final_scores(history)["accuracy"], "source_accuracy": source_accuracy})
    return pd.DataFrame(rows)
