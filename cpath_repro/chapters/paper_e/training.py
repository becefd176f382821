"""Paper E's small trainings: classifiers of the nucleus-shape task trained with the shared engine.

The experiments that learn from training crops live here, each returning its per-seed (long)
table; over paired seeds, seed s makes the data and the initial weights of every arm:

- E-F1: hand-engineered features + a random forest vs a CNN, as the training set shrinks (:func:`workflows`);
- E-F5: a deep fully connected network, plain vs residual (:func:`residual_training`);
- E-K1 (training): capacity (:func:`fitting`), :func:`dropout`, :func:`batch_norm`, :func:`augmentation`,
  :func:`transfer` learning, on a deliberately small training set;
- E-K3: class imbalance, nothing done vs resampling vs a class-weighted loss (:func:`imbalance`);
- E-K4 and E-K5: the CNNs their measurements (:mod:`.analysis`) explain and calibrate.

E-K2's method families (U-Net, autoencoder, GAN, tracker) are trained in :mod:`.families`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import balanced_accuracy_score, recall_score
from sklearn.utils.class_weight import compute_class_weight
from torch import nn
from torch.utils.data import Dataset, TensorDataset

from cpath_repro import seeds
from cpath_repro.chapters.paper_e.data import count_dataset, crops_dataset, crops_with_masks, flat_crops, test_seed
from cpath_repro.concepts import features, networks
from cpath_repro.data.transforms import Augmented, dihedral
from cpath_repro.errors import ParameterError
from cpath_repro.models.small import SmallCNN, mlp
from cpath_repro.synth.nuclei import CROP_CLASSES
from cpath_repro.train.engine import History, TrainConfig, Trainer

#: Mini-batch size of every paper E classifier.
BATCH = 32


# -- the shared engine ----------------------------------------------------------------------------------------------

def predict(model: nn.Module, x: torch.Tensor) -> np.ndarray:
    """Predicted classes of ``x`` in evaluation mode."""
    model.eval()
    with torch.no_grad():
        return model(x).argmax(1).numpy()


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Fraction of ``x`` whose predicted class is ``y``."""
    return float((predict(model, x) == y.numpy()).mean())


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


# -- E-F1: conventional vs deep-learning workflow --------------------------------------------------------------------

#: Width of the CNN (filters in its first block) and its optimizer steps at every training-set size.
CNN_WIDTH = 8
CNN_STEPS = 200
#: E-F1's two workflows, as its tables name them.
CNN_WORKFLOW = "CNN (deep learning)"
FEATURES_WORKFLOW = "hand-engineered features + random forest"


def workflows(sizes: Sequence[int], n_seeds: int, n_test: int, steps: int = CNN_STEPS) -> pd.DataFrame:
    """Test accuracy and fitting time of both workflows, per training-set size and seed (a long table).

    Both learn the nucleus-shape task (round / elongated / fragmented) from the same training crops,
    nested so that each smaller training set is a part of the larger ones, and are scored on the
    same test crops. The CNN gets the same number of optimizer steps at every training-set size.
    """
    rows = []
    for seed in range(n_seeds):
        x, y = crops_dataset(max(sizes), seed)
        xt, yt = crops_dataset(n_test, test_seed(seed))
        t0 = time.perf_counter()
        f_train, f_test = features.feature_table(x[:, 0].numpy()), features.feature_table(xt[:, 0].numpy())
        feature_seconds_per_crop = (time.perf_counter() - t0) / (len(x) + len(xt))
        for n in sorted(sizes):
            t0 = time.perf_counter()
            forest = features.feature_classifier(seed).fit(f_train[:n], y[:n].numpy())
            rows.append({"workflow": FEATURES_WORKFLOW, "n_train": n, "seed": seed,
                         "accuracy": float((forest.predict(f_test) == yt.numpy()).mean()),
                         "fit_seconds": time.perf_counter() - t0 + feature_seconds_per_crop * n})
            torch.manual_seed(seed)
            cnn = SmallCNN(width=CNN_WIDTH)
            epochs = epochs_for(steps, n)
            t0 = time.perf_counter()
            history = train_classifier(cnn, TensorDataset(x[:n], y[:n]), (xt, yt), epochs, seed, val_every=epochs,
                                       name=f"CNN, {n} crops, seed {seed}")
            rows.append({"workflow": CNN_WORKFLOW, "n_train": n, "seed": seed,
                         "accuracy": final_scores(history)["accuracy"], "fit_seconds": time.perf_counter() - t0})
    return pd.DataFrame(rows)


# -- E-F5: skip connections -----------------------------------------------------------------------------------------

def residual_training(depth: int, width: int, n_train: int, epochs: int, seed: int) -> pd.DataFrame:
    """Validation accuracy per epoch of the same deep network, plain vs residual."""
    x, y = crops_dataset(n_train, seed)
    xv, yv = crops_dataset(400, test_seed(seed))
    rows = []
    for residual in (False, True):
        torch.manual_seed(seed)
        net = networks.deep_net(depth, width, nn.ReLU, residual, n_in=64)
        label = "residual" if residual else "plain"
        history = train_classifier(net, TensorDataset(flat_crops(x), y), (flat_crops(xv), yv), epochs, seed, lr=0.01,
                                   name=f"{label} depth {depth}")
        rows += [{"network": label, "epoch": e["epoch"], "train_loss": e["train_loss"],
                  "val_accuracy": e["val"]["accuracy"]} for e in history.epochs]
    return pd.DataFrame(rows)


# -- E-K1, training: fitting, dropout, batch norm, augmentation, transfer -------------------------------------------

#: Validation crops per seed for every E-K1 training experiment.
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
    return x, y, crops_dataset(N_VAL, test_seed(seed))


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
        x, y = count_dataset(n_target, seeds.derive(seed, "count crops"))
        xv, yv = count_dataset(N_VAL, seeds.derive(seed, "count validation crops"))
        epochs = epochs_for(steps, n_target)
        for arm in ("from scratch", "fine-tuned from the shape CNN"):
            torch.manual_seed(seeds.derive(seed, "target initial weights"))
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
        torch.manual_seed(seeds.derive(seed, "target initial weights"))
        head = nn.Linear(f.shape[1], 3)
        history = train_classifier(head, TensorDataset(f, y), (fv, yv), epochs, seed, val_every=epochs,
                                   name=f"target: frozen features, seed {seed}")
        rows.append({"arm": "frozen shape features + new classifier", "seed": seed,
                     "val_accuracy": final_scores(history)["accuracy"], "source_accuracy": source_accuracy})
    return pd.DataFrame(rows)


# -- E-K3: class imbalance ------------------------------------------------------------------------------------------
# Paper E (section on data considerations): normal cells are abundant and abnormal ones rare; a balanced
# distribution can be obtained by excluding majority examples or oversampling the minority, or the loss can
# weight classes. Here the training crops are deliberately imbalanced and the test crops balanced, so balanced
# accuracy (the mean of per-class recalls) is what a user who cares about every class sees. Every arm gets the
# same number of optimizer steps.

#: Training-set class frequencies (round, elongated, fragmented): a common class and two rare ones.
IMBALANCE = (0.90, 0.08, 0.02)
ARMS = ("nothing", "undersampling", "oversampling", "class-weighted loss")


def undersample(y: torch.Tensor, seed: int) -> torch.Tensor:
    """Indices keeping every example of the rarest class and as many, drawn at random, of each other class."""
    rng = np.random.default_rng(seed)
    labels = y.numpy()
    keep = min(np.bincount(labels, minlength=len(CROP_CLASSES))[np.unique(labels)])
    chosen = [rng.choice(np.flatnonzero(labels == c), keep, replace=False) for c in np.unique(labels)]
    return torch.from_numpy(np.sort(np.concatenate(chosen)))


def imbalance(n_train: int, steps: int, n_seeds: int, n_test: int = 900, width: int = 8) -> pd.DataFrame:
    """Per arm and seed: recall of each class and balanced accuracy on balanced test crops."""
    rows = []
    classes = np.arange(len(CROP_CLASSES))
    for seed in range(n_seeds):
        x, y = crops_dataset(n_train, seed, weights=IMBALANCE)
        xt, yt = crops_dataset(n_test, test_seed(seed))
        counts = np.bincount(y.numpy(), minlength=len(classes))
        if (counts == 0).any():
            missing = ", ".join(CROP_CLASSES[c] for c in np.flatnonzero(counts == 0))
            raise ParameterError(f"{n_train} training crops at frequencies {IMBALANCE} hold no '{missing}' crop for "
                                 f"seed {seed}; use more training crops (-p n_train ...).")
        for arm in ARMS:
            data, loss, weights = TensorDataset(x, y), nn.CrossEntropyLoss(), None
            if arm == "undersampling":
                keep = undersample(y, seed)
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


# -- E-K4 and E-K5: the CNNs explained and calibrated ---------------------------------------------------------------

@dataclass(frozen=True)
class Trained:
    """A CNN trained on crops ``x, y``; its test crops ``xt, yt`` (with their object masks when the demo scores
    attributions against them) and its accuracy on the crops it was validated on."""

    model: SmallCNN
    x: torch.Tensor
    y: torch.Tensor
    xt: torch.Tensor
    yt: torch.Tensor
    val_accuracy: float
    masks: np.ndarray | None = None


def cnn_to_explain(n_train: int, epochs: int, seed: int, n_explain: int) -> Trained:
    """E-K4's CNN: trained on crops with known object masks and validated on all its test crops (at least 200,
    and ``n_explain`` to explain); the test crops' masks are kept."""
    x, y, _ = crops_with_masks(n_train, seed)
    xt, yt, masks = crops_with_masks(max(n_explain, 200), test_seed(seed))
    torch.manual_seed(seed)
    model = SmallCNN(width=8)
    history = train_classifier(model, TensorDataset(x, y), (xt, yt), epochs, seed, val_every=epochs,
                               name="CNN to explain")
    model.eval()
    return Trained(model, x, y, xt, yt, final_scores(history)["accuracy"], masks)


#: Hard crops (the classes overlap), so that a classifier has uncertainty worth calibrating.
UNCERTAIN_DIFFICULTY = 0.7


def dropout_cnn(n_train: int, epochs: int, seed: int, n_test: int = 1000) -> Trained:
    """E-K5's CNN: dropout 0.5 before its classifier, trained on hard crops and validated on the first 200 of its
    ``n_test`` test crops."""
    x, y = crops_dataset(n_train, seed, difficulty=UNCERTAIN_DIFFICULTY)
    xt, yt = crops_dataset(n_test, test_seed(seed), difficulty=UNCERTAIN_DIFFICULTY)
    torch.manual_seed(seed)
    model = SmallCNN(dropout=0.5, width=8)
    history = train_classifier(model, TensorDataset(x, y), (xt[:200], yt[:200]), epochs, seed, name="dropout CNN")
    return Trained(model, x, y, xt, yt, final_scores(history)["accuracy"])
