"""Patch-level scores of a tumour heatmap (paper D section 4.1, "Evaluation"), and its isolated false
"tumour points" (section 4.2.1, Figures 5 and 6).

Patches are scored at their labels only: "nolabel" patches (:data:`cpath_repro.wsi.patches.NOLABEL`) are
"not used for evaluation". Probabilities are of the tumour class, 0-1; scores are in percent, as the
paper prints them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from skimage import measure
from sklearn.metrics import average_precision_score

from cpath_repro.metrics import chance

#: Section 4.1: "We set the tumor/normal threshold of accuracy evaluation as 0.5."
THRESHOLD = 0.5
#: Label codes of a patch (as in :mod:`cpath_repro.wsi.patches`): tumour 1, normal 0, anything else unlabelled.
TUMOUR, NORMAL = 1, 0


def patch_scores(probability: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Accuracy at :data:`THRESHOLD` and PR-AUC, both in percent, over the patches labelled tumour or normal.

    PR-AUC is scikit-learn's average precision (the area under the step-wise precision-recall curve; the
    trapezoidal area over-rates a curve with few points). NaN when no patch is labelled, or PR-AUC when
    no labelled patch is tumour.
    """
    p = np.asarray(probability, dtype=np.float64).ravel()
    y = np.asarray(labels).ravel()
    keep = (y == TUMOUR) | (y == NORMAL)
    if not keep.any():
        return {"accuracy": float("nan"), "pr_auc": float("nan")}
    p, truth = p[keep], y[keep] == TUMOUR
    accuracy = 100.0 * float(np.mean((p > THRESHOLD) == truth))
    pr_auc = 100.0 * float(average_precision_score(truth, p)) if truth.any() else float("nan")
    return {"accuracy": accuracy, "pr_auc": pr_auc}


def patch_chance(train_labels: np.ndarray, test_labels: np.ndarray) -> dict[str, float]:
    """The chance levels of :func:`patch_scores` (percent): the training patches' majority class answered for
    every test patch, and the PR-AUC of a heatmap with no skill (the test patches' tumour share)."""
    train, test = (np.asarray(y).ravel() for y in (train_labels, test_labels))
    train, test = train[(train == TUMOUR) | (train == NORMAL)], test[(test == TUMOUR) | (test == NORMAL)]
    if not len(train) or not len(test):
        return {"accuracy": float("nan"), "pr_auc": float("nan")}
    tumour_share = float(np.mean(test == TUMOUR))
    return {"accuracy": chance.accuracy(train, test, 2), "pr_auc": 100.0 * tumour_share if tumour_share else float("nan")}


def isolated_false_tumour_regions(probability: np.ndarray, labels: np.ndarray) -> list[Any]:
    """The "tumour points" of a heatmap: connected groups (8-neighbourhood) of patches predicted tumour
    (p > :data:`THRESHOLD`) that lie wholly inside true normal tissue — no patch of the group is labelled
    tumour and at least one is labelled normal — as scikit-image region properties. ``probability`` and
    ``labels`` are patch grids of one slide (NaN / any code for patches without tissue)."""
    p = np.nan_to_num(np.asarray(probability, dtype=np.float64), nan=0.0)
    y = np.asarray(labels)
    if p.shape != y.shape:
        raise ValueError(f"A heatmap of shape {p.shape} cannot be scored against labels of shape {y.shape}.")
    regions = measure.regionprops(measure.label(p > THRESHOLD, connectivity=2))
    inside = [y[r.coords[:, 0], r.coords[:, 1]] for r in regions]
    return [r for r, v in zip(regions, inside, strict=True) if not (v == TUMOUR).any() and (v == NORMAL).any()]


def isolated_false_tumour_points(probability: np.ndarray, labels: np.ndarray) -> int:
    """How many tumour points (:func:`isolated_false_tumour_regions`) a heatmap has."""
    return len(isolated_false_tumour_regions(probability, labels))
