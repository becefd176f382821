"""Paper C's additional-data cleaning (section 10): histogram vectors, the Gaussian and sharpness filters, and
their precision and recall against known bad images, on small generated images."""

import warnings

import numpy as np
import pytest
from skimage.filters import gaussian

from cpath_repro.chapters.paper_c import cleaning
from cpath_repro.chapters.paper_c.cleaning import (
    DistributionFilter,
    SharpnessFilter,
    clean_additional,
    filter_quality,
    histogram_vector,
    histogram_vectors,
    keep_top,
    rejection_curve,
    sharpness,
)
from cpath_repro.errors import UserError

WHOLE = cleaning.CHANNELS * cleaning.WHOLE_IMAGE_BINS  # 51 numbers before the grid cells


def natural_image(seed: int, h: int = 30, w: int = 40) -> np.ndarray:
    """A pinkish, textured photograph-like image with a darker central disc (a stand-in cervix and os)."""
    rng = np.random.default_rng(seed)
    base = np.array([190.0, 110.0, 115.0]) + rng.normal(0, 8, 3)
    image = base + rng.normal(0, 12, (h, w, 3))
    yy, xx = np.mgrid[:h, :w]
    disc = (yy - h / 2) ** 2 + (xx - w / 2) ** 2 < rng.uniform(0.1, 0.2) * h * w
    image[disc] -= 40
    return np.clip(image, 0, 255).round().astype(np.uint8)


def green_cast(image: np.ndarray) -> np.ndarray:
    return np.clip(image.astype(float) + [-90, 90, 0], 0, 255).astype(np.uint8)


def blurred(image: np.ndarray, sigma: float = 2.0) -> np.ndarray:
    return gaussian(image, sigma=sigma, channel_axis=-1, preserve_range=True).round().astype(np.uint8)


def half_black_half_white(h: int = 6, w: int = 6) -> np.ndarray:
    image = np.zeros((h, w, 3), np.uint8)
    image[h // 2:] = 255
    return image


def test_histogram_vector_has_456_numbers_and_each_histogram_sums_to_one():
    vector = histogram_vector(natural_image(0, 60, 80))
    assert cleaning.VECTOR_LENGTH == 3 * 17 + 9 * 3 * 15 == 456
    assert vector.shape == (456,)
    np.testing.assert_allclose(vector[:WHOLE].reshape(3, 17).sum(axis=1), 1.0)
    np.testing.assert_allclose(vector[WHOLE:].reshape(27, 15).sum(axis=1), 1.0)


def test_whole_image_histograms_are_numpys_equal_width_bins_over_0_to_255():
    image = np.random.default_rng(1).integers(0, 256, (50, 70, 3), dtype=np.uint8)
    vector = histogram_vector(image)
    for c in range(3):
        expected, _ = np.histogram(image[..., c], bins=17, range=(0, 256))
        np.testing.assert_allclose(vector[17 * c:17 * (c + 1)], expected / image[..., c].size)
    top_left, _ = np.histogram(image[:17, :24, 0], bins=15, range=(0, 256))  # cell edges ceil(k*50/3), ceil(k*70/3)
    np.testing.assert_allclose(vector[WHOLE:WHOLE + 15], top_left / top_left.sum())


def test_half_black_half_white_image_puts_its_mass_in_the_end_bins_of_the_right_cells():
    vector = histogram_vector(half_black_half_white())
    whole = vector[:WHOLE].reshape(3, 17)
    cells = vector[WHOLE:].reshape(3, 3, 3, 15)  # grid row, grid column, channel, bin
    expected_whole = np.zeros((3, 17))
    expected_whole[:, [0, 16]] = 0.5
    np.testing.assert_array_equal(whole, expected_whole)
    # grid rows are pixel rows 0-1 (black), 2-3 (one black, one white), 4-5 (white)
    np.testing.assert_array_equal(cells[0, :, :, 0], 1.0)
    np.testing.assert_array_equal(cells[1, :, :, 0], 0.5)
    np.testing.assert_array_equal(cells[1, :, :, 14], 0.5)
    np.testing.assert_array_equal(cells[2, :, :, 14], 1.0)
    assert cells.sum() == 27 and whole.sum() == 3  # nothing anywhere else


def test_histogram_vector_orders_channels_rgb_and_does_not_depend_on_image_size():
    red = np.zeros((9, 9, 3), np.uint8)
    red[..., 0] = 255
    whole = histogram_vector(red)[:WHOLE].reshape(3, 17)
    assert whole[0, 16] == 1 and whole[1, 0] == 1 and whole[2, 0] == 1
    small = half_black_half_white(6, 6)
    np.testing.assert_array_equal(histogram_vector(small), histogram_vector(small.repeat(2, 0).repeat(2, 1)))


def test_gaussian_filter_ranks_a_green_cast_image_last_and_drops_only_it():
    initial = [natural_image(seed) for seed in range(40)]
    additional = [natural_image(seed) for seed in range(100, 110)]
    additional.insert(4, green_cast(natural_image(200)))
    distribution = DistributionFilter().fit(histogram_vectors(initial))
    scores = distribution.score(histogram_vectors(additional))
    assert scores.shape == (11,) and int(np.argmin(scores)) == 4
    assert 0 < distribution.shrinkage_ < 1
    assert distribution.covariance_ is not None and np.linalg.eigvalsh(distribution.covariance_).min() > 0
    kept = distribution.keep(histogram_vectors(additional), fraction=10 / 11)
    assert kept.tolist() == [i != 4 for i in range(11)]


def test_keep_top_keeps_the_rounded_share_of_highest_scores():
    assert keep_top(np.array([3.0, 1.0, 2.0, 0.0]), 0.5).tolist() == [True, False, True, False]
    assert keep_top(np.array([3.0, 1.0, 2.0]), 0.0).sum() == 0 and keep_top(np.array([3.0, 1.0]), 1.0).all()


def test_laplacian_sharpness_of_a_single_dark_pixel_in_the_centre_cell_is_four_times_its_depth():
    image = np.full((9, 9, 3), 100, np.uint8)
    assert sharpness(image) == 0.0
    image[4, 4, 1] = 0  # centre cell is rows 3-5, columns 3-5; Laplacian there = 4 neighbours x 100 - 4 x 0
    assert sharpness(image) == 400.0
    outside = np.full((9, 9, 3), 100, np.uint8)
    outside[0, 0] = 0  # outside the centre sub-rectangle: not seen
    assert sharpness(outside) == 0.0
    assert cleaning.centre_subrectangle(np.zeros((60, 80, 3), np.uint8)).shape == (20, 27, 3)


def test_laplacian_sharpness_orders_a_blurred_copy_below_its_original():
    original = natural_image(3, 60, 80)
    values = [sharpness(original), sharpness(blurred(original, 1.0)), sharpness(blurred(original, 3.0))]
    assert values[0] > values[1] > values[2]


def test_sharpness_filter_keeps_the_least_sharp_initial_image_and_rejects_a_blurrier_one():
    initial = [natural_image(seed) for seed in range(5)]
    sharp = SharpnessFilter().fit(initial)
    scores = sharp.score(initial)
    assert sharp.threshold_ == scores.min()
    assert sharp.keep(initial).all()  # inclusive threshold: the least sharp initial image itself is kept
    least_sharp = initial[int(np.argmin(scores))]
    assert sharp.keep([blurred(least_sharp), least_sharp]).tolist() == [False, True]


def test_filter_quality_is_precision_and_recall_of_rejection_on_a_hand_example():
    kept = np.array([1, 1, 0, 0, 0, 1, 1, 0], bool)  # rejects images 2, 3, 4, 7
    bad = np.array([0, 1, 1, 0, 1, 0, 0, 0], bool)  # bad: 1, 2, 4; of them 2 and 4 are rejected
    quality = filter_quality(kept, bad)
    assert quality.precision == pytest.approx(2 / 4) and quality.recall == pytest.approx(2 / 3)
    assert (quality.n_rejected, quality.n_bad, quality.n_bad_rejected) == (4, 3, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        none_rejected = filter_quality(np.ones(8, bool), bad)
    assert np.isnan(none_rejected.precision) and none_rejected.recall == 0


def test_rejection_curve_runs_from_reject_all_to_reject_none_and_agrees_with_filter_quality():
    scores = np.array([5.0, 4.0, 3.0, 2.0, 1.0, 0.0])
    bad = np.array([0, 0, 1, 0, 1, 1], bool)
    curve = rejection_curve(scores, bad)
    first, last = curve.iloc[0], curve.iloc[-1]
    assert (first.kept_fraction, first.recall, first.precision) == (0.0, 1.0, 0.5)
    assert (last.kept_fraction, last.recall, last.precision) == (1.0, 0.0, 1.0)
    assert curve.kept_fraction.is_monotonic_increasing and len(curve) == 7
    half = curve[curve.kept_fraction == 0.5].iloc[0]
    quality = filter_quality(keep_top(scores, 0.5), bad)
    assert (half.precision, half.recall) == pytest.approx((quality.precision, quality.recall)) == (2 / 3, 2 / 3)


def test_clean_additional_drops_the_off_colour_image_by_distribution_and_the_blurred_one_by_sharpness():
    initial = [natural_image(seed) for seed in range(30)]
    additional = [natural_image(seed) for seed in range(100, 106)] + [green_cast(natural_image(7)),
                                                                      blurred(natural_image(8), 3.0)]
    result = clean_additional(initial, additional, fraction=7 / 8)
    assert not result.distribution_kept[6] and result.distribution_kept.sum() == 7
    assert not result.sharpness_kept[7] and result.sharpness[7] < result.sharpness_threshold
    assert not result.kept[6:].any()
    bad = np.array([False] * 6 + [True, True])
    assert filter_quality(result.kept, bad).recall == 1.0


@pytest.mark.parametrize("call, words", [
    (lambda: histogram_vector(np.zeros((8, 8, 3))), "uint8"),
    (lambda: histogram_vector(np.zeros((8, 8), np.uint8)), "H x W x 3"),
    (lambda: histogram_vector(np.zeros((2, 8, 3), np.uint8)), "too small"),
    (lambda: histogram_vectors([]), "none"),
    (lambda: DistributionFilter().score(np.zeros((2, 456))), "not fitted"),
    (lambda: DistributionFilter().fit(np.zeros((1, 456))), "N >= 2"),
    (lambda: DistributionFilter().fit(np.full((3, 456), 0.5)), "do not vary"),
    (lambda: DistributionFilter().fit(np.random.default_rng(0).random((5, 4))).score(np.zeros((2, 5))), "fitted on 4"),
    (lambda: keep_top(np.zeros(3), 1.5), r"\[0, 1\]"),
    (lambda: SharpnessFilter().keep([np.zeros((8, 8, 3), np.uint8)]), "not fitted"),
    (lambda: SharpnessFilter().fit([]), "none"),
    (lambda: filter_quality(np.ones(3, bool), np.ones(4, bool)), "1-D arrays"),
    (lambda: filter_quality(np.ones(3), np.ones(3, bool)), "boolean"),
    (lambda: rejection_curve(np.zeros(3), np.zeros(3, bool)), "at least one known bad"),
])
def test_bad_input_is_refused_with_one_sentence(call, words):
    with pytest.raises(UserError, match=words) as caught:
        call()
    message = str(caught.value)
    assert message.endswith(".") and message.replace("e.g.", "eg").count(". ") == 0
