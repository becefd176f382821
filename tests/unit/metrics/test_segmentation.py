import numpy as np
import pytest
import torch
from sklearn.metrics import f1_score

from cpath_repro.metrics.segmentation import (
    confusion,
    epochs_to_fraction_of_final,
    epochs_to_level,
    f1_per_class,
    median_frequency_weights,
    roughness,
    total_variation,
)


def test_f1_matches_scikit_learn_and_ignores_exclude():
    rng = np.random.default_rng(0)
    target = rng.integers(0, 4, (3, 16, 16))
    target[0, :4] = 255
    pred = np.where(rng.random(target.shape) < 0.7, target % 255, rng.integers(0, 4, target.shape)) % 4
    ours = f1_per_class(confusion(torch.tensor(pred), torch.tensor(target), 4, 255))
    keep = target != 255
    np.testing.assert_allclose(ours, f1_score(target[keep], pred[keep], labels=range(4), average=None))


def test_median_frequency_weights_hand_computed():
    # image 1: 3 px of class 0, 1 px of class 1; image 2: 2 px class 0, 1 px class 2, 1 px exclude.
    labels = np.array([[[0, 0], [0, 1]], [[0, 0], [2, 255]]])
    # f0 = 5 / (4 + 3) ; f1 = 1 / 4 ; f2 = 1 / 3 ; f3 absent. median(f0, f1, f2) = 1/3.
    f = np.array([5 / 7, 1 / 4, 1 / 3])
    expected = np.append(np.median(f) / f, 0.0)
    np.testing.assert_allclose(median_frequency_weights(labels, 4, 255), expected)


def test_convergence_measures():
    epochs = np.arange(1, 6)
    assert epochs_to_fraction_of_final(epochs, np.array([0.1, 0.5, 0.85, 0.8, 0.9])) == 3
    assert total_variation(np.array([0.1, 0.5, 0.3])) == pytest.approx(0.6)
    assert epochs_to_level(epochs, np.array([0.1, 0.5, 0.85, 0.8, 0.9]), 0.6) == 3
    assert epochs_to_level(epochs, np.array([0.1, 0.2, 0.2, 0.2, 0.2]), 0.6) == 5  # never reached: the last epoch


def test_roughness_cannot_favour_the_curve_that_learns_less():
    learns = np.array([0.1, 0.5, 0.45, 0.8, 0.9])  # rises 0.8, dips once by 0.05
    flat = np.array([0.1, 0.12, 0.1, 0.12, 0.1])  # learns nothing, wiggles by 0.02
    assert total_variation(flat) < total_variation(learns)  # the old measure preferred the flat curve
    assert roughness(learns, 0.05) == pytest.approx(0.1 / 0.8)
    assert roughness(flat, 0.05) == pytest.approx(0.08 / 0.05)
    assert roughness(flat, 0.05) > roughness(learns, 0.05)
    assert roughness(np.array([0.2, 0.4, 0.6]), 0.05) == 0.0


def test_dice_and_iou_by_hand():
    from cpath_repro.metrics.segmentation import dice_iou

    pred = np.zeros((4, 4), bool)
    truth = np.zeros((4, 4), bool)
    pred[:2], truth[1:3] = True, True  # 8 and 8 pixels, 4 shared
    assert dice_iou(pred, truth) == (0.5, 4 / 12)
    assert dice_iou(np.zeros((2, 2), bool), np.zeros((2, 2), bool)) == (0.0, 0.0)


def test_a_curve_has_plateaued_when_its_last_quarter_brings_no_new_best():
    from cpath_repro.metrics.segmentation import plateaued

    assert plateaued(np.array([20, 40, 55, 60, 60.5, 60.2, 60.4, 60.1]), 0.25, 1.0)
    assert not plateaued(np.array([20, 30, 40, 50, 55, 58, 62, 66]), 0.25, 1.0)  # still climbing: best in the tail
    assert plateaued(np.array([20, 60, 61, 60, 59, 58, 50, 49]), 0.25, 1.0)  # fell back: the best epoch is kept
    assert not plateaued(np.array([20, 40, 50, 50, 52.5, 53]), 0.25, 2.5)  # 3 points: more than one crop of 2.5
    assert plateaued(np.array([20, 40, 50, 50, 52.5, 52.5]), 0.25, 2.5)  # one crop's step is within the rule
    assert not plateaued(np.array([50.0]), 0.25, 1.0)  # one epoch shows nothing
