"""Chance levels: the best constant answer fixed from the training labels, scored on the test labels."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cpath_repro.metrics import chance


def test_accuracy_is_the_training_majoritys_share_never_below_a_uniform_guess():
    train = [0, 0, 0, 1, 2]  # class 0 is the majority
    assert chance.accuracy(train, [0, 0, 1, 2], 3) == pytest.approx(50.0)
    assert chance.accuracy(train, [1, 2, 2, 1, 1, 2], 3) == pytest.approx(100 / 3)  # the majority absent: 1/k
    assert chance.accuracy([1, 1, 0], [0, 0, 0, 1], 2) == pytest.approx(50.0)  # 1/4 hits, floored at 1/2


def test_multilabel_accuracy_counts_crops_whose_labels_include_the_commonest_class():
    train = np.array([[1, 0, 1], [1, 1, 0], [0, 0, 1], [1, 0, 0]], np.float32)  # class 0 in 3 of 4 crops
    test = np.array([[1, 0, 0], [0, 1, 1], [1, 1, 1], [0, 0, 1], [0, 1, 0]], np.float32)
    assert chance.accuracy(train, test, 3) == pytest.approx(40.0)


def test_cross_entropy_of_the_prior_is_the_entropy_when_frequencies_agree_and_worse_when_not():
    labels = [0, 0, 1, 2]
    entropy = -(0.5 * math.log(0.5) + 2 * 0.25 * math.log(0.25))
    assert chance.cross_entropy(labels, labels, 3) == pytest.approx(entropy)
    assert chance.cross_entropy([0, 1, 2], [0, 1, 2, 0], 3) == pytest.approx(math.log(3))
    assert chance.cross_entropy(labels, [2, 2, 2, 2], 3) > math.log(3)  # a prior that misleads on this split


def test_no_training_label_is_one_sentence():
    with pytest.raises(ValueError, match="at least one training label"):
        chance.cross_entropy([], [0, 1], 2)
