import numpy as np

from cpath_repro.concepts import layers


def test_convolution_matches_hand_sum_and_autograd_field_everywhere():
    for row in range(5):
        for col in range(5):
            demo = layers.convolution_demo(7, "101010101", row, col, seed=row * 5 + col)
            assert demo.matches_torch
            assert demo.gradient_is_kernel_in_field
            assert demo.output.shape == (5, 5)


def test_convolution_kernel_parsing_row_by_row():
    np.testing.assert_array_equal(layers.parse_kernel("100000001"), [[1, 0, 0], [0, 0, 0], [0, 0, 1]])


def test_hand_sum_detects_a_wrong_output():
    demo = layers.convolution_demo(7, "111111111", 0, 0, seed=1)
    assert demo.by_hand == demo.image[:3, :3].sum()


def test_pooling_keeps_window_maxima_and_their_positions():
    demo = layers.pooling_demo(6, 2, seed=4)
    assert demo.matches_by_hand and demo.size_formula == 3 == demo.output.shape[0]
    for i in range(3):
        for j in range(3):
            r, c = demo.kept[i, j]
            assert demo.image[r, c] == demo.output[i, j]
            assert r // 2 == i and c // 2 == j


def test_pooling_absorbs_one_pixel_shifts_at_the_expected_rate():
    for window in (2, 4):
        shift = layers.shift_invariance(window, trials=4000, seed=0)
        assert abs(shift["pooled_unchanged_share"] - (window - 1) / window) < 0.03
        assert shift["raw_unchanged_share"] == 0.0
