"""E-K5: uncertainty: Monte-Carlo dropout calibration and split conformal prediction with measured coverage."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from torch.utils.data import TensorDataset

from cpath_repro.chapters.paper_e.common import TEST_OFFSET, crops_dataset, train_classifier
from cpath_repro.concepts import uncertainty
from cpath_repro.models.small import SmallCNN

#: Hard crops (the classes overlap), so that a classifier has uncertainty worth calibrating.
UNCERTAIN_DIFFICULTY = 0.7
#: The conformal miscoverage levels measured (90 % and 95 % prediction sets).
ALPHAS = (0.10, 0.05)

Diagram = list[tuple[float, float, int]]


def run(n_train: int, epochs: int, seed: int, passes: int, repeats: int) -> tuple[pd.DataFrame, pd.DataFrame,
                                                                                     dict[str, Diagram]]:
    """A dropout CNN on hard crops: ``(calibration table, conformal table, reliability diagrams)``."""
    x, y = crops_dataset(n_train, seed, difficulty=UNCERTAIN_DIFFICULTY)
    xt, yt = crops_dataset(1000, seed + TEST_OFFSET, difficulty=UNCERTAIN_DIFFICULTY)
    torch.manual_seed(seed)
    model = SmallCNN(dropout=0.5, width=8)
    train_classifier(model, TensorDataset(x, y), (xt[:200], yt[:200]), epochs, seed, name="dropout CNN")
    model.eval()
    with torch.no_grad():
        single = torch.softmax(model(xt), 1).numpy()
    mc = uncertainty.mc_dropout_probabilities(model, xt, passes)
    labels = yt.numpy()
    ece_single, diagram_single = uncertainty.expected_calibration_error(single, labels)
    ece_mc, diagram_mc = uncertainty.expected_calibration_error(mc, labels)
    conformal = pd.DataFrame([{"alpha": a, **uncertainty.conformal_coverage(mc, labels, a, repeats, seed)}
                              for a in ALPHAS])
    calibration = pd.DataFrame([
        {"prediction": "single pass", "accuracy": float((single.argmax(1) == labels).mean()), "ECE": ece_single},
        {"prediction": f"MC dropout ({passes} passes)", "accuracy": float((mc.argmax(1) == labels).mean()),
         "ECE": ece_mc},
    ])
    return calibration, conformal, {"single pass": diagram_single, "MC dropout": diagram_mc}


def reliability_points(diagram: Diagram) -> np.ndarray:
    """``(bins, 2)``: mean confidence and accuracy of each non-empty bin."""
    return np.array([(c, a) for c, a, _ in diagram])
