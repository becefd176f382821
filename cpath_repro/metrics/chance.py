"""Chance levels: what a classifier that learned nothing but the class frequencies would score.

The sanity gate of the claims (``claims.rules``, the ``chance`` column of a claim table) reads these: an arm
whose interval over seeds does not clear its chance level learned nothing a comparison could use, and the
claims that compare it are *not testable at this budget*. Each level is the best a constant answer fixed
from the training labels can do on the evaluation labels, so that "always the majority class" and "the class
frequencies, whatever the image" are both at chance.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

#: The claim-table column holding an arm's chance level on its row's metric (empty: no level).
COLUMN = "chance"


def _frequencies(labels: Sequence[int] | np.ndarray, classes: int) -> np.ndarray:
    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=classes)[:classes].astype(float)
    if counts.sum() == 0:
        raise ValueError("A chance level needs at least one training label.")
    return counts / counts.sum()


def accuracy(train: Sequence[int] | np.ndarray, test: Sequence[int] | np.ndarray, classes: int) -> float:
    """Accuracy in percent of always answering the training set's most frequent class, and never below
    ``100 / classes`` (a uniform guess). Multi-label sets (``(N, classes)`` of 0/1) count a hit when the test
    crop's labels include that class, as top-1 accuracy does."""
    train, test = np.asarray(train), np.asarray(test)
    if train.ndim == 2:  # multi-label: the class present in most training crops
        majority = int(np.argmax(train.sum(axis=0)))
        hits = test[:, majority] > 0 if len(test) else np.zeros(0, bool)
    else:
        majority = int(np.argmax(_frequencies(train, classes)))
        hits = test == majority
    return 100.0 * max(float(np.mean(hits)) if len(hits) else 0.0, 1.0 / classes)


def cross_entropy(train: Sequence[int] | np.ndarray, test: Sequence[int] | np.ndarray, classes: int,
                  eps: float = 1e-15) -> float:
    """Cross entropy (natural log) on ``test`` of answering the training set's class frequencies for every image:
    the class-prior guess. At most ln(classes) when train and test share their frequencies."""
    prior = np.clip(_frequencies(train, classes), eps, 1.0)
    prior = prior / prior.sum()
    test = np.asarray(test, dtype=np.int64)
    return float(-np.mean(np.log(prior[test]))) if len(test) else float("nan")
