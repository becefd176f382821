import numpy as np
import pytest

from cpath_repro.metrics.heatmaps import isolated_false_tumour_points, patch_chance, patch_scores

N, T, U = 0, 1, -1  # normal, tumour, nolabel


def test_patch_scores_ignore_nolabel_and_use_the_half_threshold():
    p = np.array([0.9, 0.6, 0.4, 0.1, 0.99])
    y = np.array([T, N, T, N, U])  # the nolabel patch would be a false positive if it counted
    scores = patch_scores(p, y)
    assert scores["accuracy"] == pytest.approx(50.0)
    # ranking: 0.9 (T), 0.6 (N), 0.4 (T), 0.1 (N): precision 1 at recall 0.5, 2/3 at recall 1
    assert scores["pr_auc"] == pytest.approx(100 * (0.5 * 1 + 0.5 * 2 / 3))


def test_patch_scores_without_labels_are_nan():
    scores = patch_scores(np.array([0.2, 0.8]), np.array([U, U]))
    assert np.isnan(scores["accuracy"]) and np.isnan(scores["pr_auc"])


def test_tumour_points_count_false_groups_inside_normal_tissue_only():
    y = np.full((6, 6), N)
    y[0:2, 0:2] = T  # a true tumour
    y[5, :] = U
    p = np.zeros((6, 6))
    p[0:2, 0:3] = 0.9  # the true tumour, predicted with one false neighbour: not an isolated point
    p[3, 4] = 0.8  # one isolated false point
    p[4, 0] = p[3, 1] = 0.7  # diagonal neighbours: one group (8-connected)
    p[5, 5] = 0.9  # on a nolabel patch only: not counted
    assert isolated_false_tumour_points(p, y) == 2


def test_tumour_points_need_matching_shapes():
    with pytest.raises(ValueError, match="shape"):
        isolated_false_tumour_points(np.zeros((2, 2)), np.zeros((3, 3)))


def test_a_heatmap_with_no_skill_scores_the_chance_levels():
    train = np.array([0, 0, 0, 1, -1, 255])  # normal is the majority; unlabelled patches do not count
    test = np.array([0, 0, 1, 1, 1, -1])
    levels = patch_chance(train, test)
    assert levels["accuracy"] == pytest.approx(50.0)  # "normal" for every test patch: 2 of 5 (floored at 1/2)
    assert levels["pr_auc"] == pytest.approx(60.0)  # the tumour share: a constant heatmap's average precision
    constant = patch_scores(np.full(len(test), 0.3), test)
    assert constant["pr_auc"] == pytest.approx(levels["pr_auc"])
