"""Paper B's standardization on hand-made images: crop grid, padding, both contrast rules, Table 1's counts."""

import numpy as np
import pytest

from cpath_repro.data import standardize as st
from cpath_repro.errors import ParameterError

N = st.SIZE * st.SIZE


def two_level(low: int, span: int, *, rgb: bool = True) -> np.ndarray:
    """A 272×272 grey crop: top half ``low``, bottom half ``low + span``, so P5 = low and P99 = low + span."""
    crop = np.full((st.SIZE, st.SIZE), low, dtype=np.uint8)
    crop[st.SIZE // 2:] = low + span
    return np.stack([crop] * 3, axis=-1) if rgb else crop


def noise(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


# --- crop grid -------------------------------------------------------------------------------------


def test_strides_of_the_two_overlaps():
    assert st.stride_for(st.CODE_OVERLAP) == 204
    assert st.stride_for(st.PAPER_OVERLAP) == 136
    assert st.stride_for(0.0) == 272
    for bad in (1.0, -0.1):
        with pytest.raises(ParameterError, match="overlap"):
            st.stride_for(bad)


@pytest.mark.parametrize(
    ("height", "width", "stride", "expected"),
    [
        (272, 272, 204, [(0, 0)]),
        (475, 272, 204, [(0, 0)]),  # a second crop would end at 476
        (476, 272, 204, [(0, 0), (204, 0)]),
        (272, 476, 136, [(0, 0), (0, 136)]),  # 136 + 272 = 408 fits, 272 + 272 = 544 does not
        (544, 544, 204, [(0, 0), (0, 204), (204, 0), (204, 204)]),
        (544, 544, 136, [(y, x) for y in (0, 136, 272) for x in (0, 136, 272)]),
        (271, 500, 204, []),  # shorter than a crop: pad first
    ],
)
def test_crop_positions(height, width, stride, expected):
    assert st.crop_positions(height, width, stride=stride) == expected


def test_positions_leave_the_strip_past_the_last_whole_crop_uncovered():
    # 500 px at stride 204: crops at 0 and 204 (ending at 476); no extra crop flush at 228
    assert st.crop_positions(272, 500, stride=204) == [(0, 0), (0, 204)]


def test_bach_gives_6_crops_at_stride_204_and_15_at_stride_136():
    height, width = st.rescaled_shape(1536, 2048, 0.42)
    assert (height, width) == (645, 860)
    at_204 = st.crop_positions(height, width, stride=204)
    assert at_204 == [(y, x) for y in (0, 204) for x in (0, 204, 408)]
    assert len(st.crop_positions(height, width, stride=136)) == 15


def test_bad_stride_or_size():
    with pytest.raises(ParameterError, match="stride"):
        st.crop_positions(300, 300, stride=0)
    with pytest.raises(ParameterError, match="size"):
        st.crop_positions(300, 300, size=0)


# --- padding ---------------------------------------------------------------------------------------


def test_pad_reflect_centres_the_image_and_mirrors_without_repeating_the_edge():
    image = noise((200, 100, 3))
    padded = st.pad_reflect(image)
    assert padded.shape == (272, 272, 3) and padded.dtype == np.uint8
    top, left = 36, 86  # (272 - 200) / 2, (272 - 100) / 2
    assert np.array_equal(padded[top:top + 200, left:left + 100], image)
    assert np.array_equal(padded[top - 1, left:left + 100], image[1])  # reflect: c b | a b c
    assert np.array_equal(padded[top + 200, left:left + 100], image[198])
    assert np.array_equal(padded[top:top + 200, left - 1], image[:, 1])


def test_pad_reflect_repeats_the_reflection_for_an_image_under_half_the_size():
    ramp = np.tile(np.arange(50, dtype=np.uint8), (50, 1))  # value = column index
    padded = st.pad_reflect(ramp)
    assert padded.shape == (272, 272)
    before = (272 - 50) // 2
    k = (np.arange(272) - before) % 98  # a reflection of 50 samples repeats every 2 * (50 - 1)
    expected = np.where(k < 50, k, 98 - k)
    assert np.array_equal(padded[0], expected)
    assert (padded == padded[before]).all()  # rows (all the same ramp) are reflected the same way


def test_pad_reflect_pads_only_the_short_side_and_leaves_large_images_alone():
    assert st.pad_reflect(noise((260, 347, 3))).shape == (272, 347, 3)  # AJ-Lymph at 1 µm/px
    large = noise((300, 400, 3))
    assert st.pad_reflect(large) is large


# --- rescaling -------------------------------------------------------------------------------------


def test_rescale_from_half_a_micron_halves_the_side_and_stays_8_bit():
    image = noise((100, 80, 3))
    out = st.rescale_to(image, 0.5)
    assert out.shape == (50, 40, 3) and out.dtype == np.uint8
    assert st.rescale_to(image, 2.0).shape == (200, 160, 3)
    flat = np.full((64, 64, 3), 173, dtype=np.uint8)
    assert (st.rescale_to(flat, 0.42) == 173).all()
    assert np.array_equal(st.rescale_to(image, 1.0), image)


@pytest.mark.parametrize("mpp", [0.25, 0.42, 0.62, 0.972, 1.25])
def test_rescaled_shape_is_the_shape_rescale_gives(mpp):
    image = noise((97, 61, 3))
    assert st.rescale_to(image, mpp).shape[:2] == st.rescaled_shape(97, 61, mpp)


def test_rescale_rejects_a_bad_pixel_size_or_array():
    with pytest.raises(ParameterError, match="µm per pixel"):
        st.rescale_to(noise((10, 10, 3)), 0)
    with pytest.raises(ParameterError, match="shape"):
        st.rescale_to(np.zeros(10, dtype=np.uint8), 1.0)


# --- contrast rules --------------------------------------------------------------------------------


def test_two_level_crop_has_the_span_it_claims():
    low, high = np.percentile(two_level(100, 12, rgb=False), [st.LOWER_PERCENTILE, st.UPPER_PERCENTILE])
    assert (low, high) == (100, 112)


def test_paper_rule_threshold_is_12_75_of_255_on_the_8_bit_grey_crop():
    assert st.low_contrast_paper(two_level(100, 12))
    assert not st.low_contrast_paper(two_level(100, 13))
    assert st.low_contrast_paper(two_level(100, 12, rgb=False))
    assert not st.low_contrast_paper(two_level(100, 13, rgb=False))


def test_code_rule_threshold_is_0_1_of_the_float_range_on_an_rgb_crop():
    assert st.low_contrast_code(two_level(100, 25))  # 25 / 255 = 0.098 < 0.1
    assert not st.low_contrast_code(two_level(100, 26))  # 26 / 255 = 0.102
    as_float = two_level(100, 26).astype(float) / 255
    assert not st.low_contrast_code(as_float) and st.low_contrast_code(two_level(100, 25).astype(float) / 255)


def test_the_rules_disagree_on_a_uint8_rgb_crop_with_a_span_between_their_thresholds():
    crop = two_level(100, 20)
    assert not st.low_contrast_paper(crop)  # 20 >= 12.75
    assert st.low_contrast_code(crop)  # 20 / 255 / 2 < 0.05
    assert {name: rule(crop) for name, rule in st.RULES.items()} == {"paper": False, "code": True}


def test_code_rule_on_a_2d_uint8_grey_crop_divides_by_255_instead():
    # documented dtype dependence: the same pixels as grey uint8 are not low contrast for skimage
    assert not st.low_contrast_code(two_level(100, 20, rgb=False))


def test_both_rules_ignore_pixels_outside_the_5th_to_99th_percentile():
    crop = np.full(N, 100, dtype=np.uint8)
    crop[: int(0.03 * N)] = 0  # 3 % dark, below the 5th percentile
    crop[-int(0.005 * N):] = 255  # 0.5 % bright, above the 99th
    crop = np.stack([crop.reshape(st.SIZE, st.SIZE)] * 3, axis=-1)
    assert st.low_contrast_paper(crop) and st.low_contrast_code(crop)


def test_paper_rule_reads_luminance_not_the_channels():
    crop = np.full((st.SIZE, st.SIZE, 3), 100, dtype=np.uint8)
    crop[st.SIZE // 2:, :, 0] = 150  # red moves by 50: grey by 0.2125 * 50 = 10.6
    assert st.low_contrast_paper(crop)
    crop[st.SIZE // 2:, :, 1] = 120  # green by 20 more: grey by 10.6 + 14.3 = 24.9
    assert not st.low_contrast_paper(crop)


# --- the pipeline ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bach_image():
    return noise((1536, 2048, 3), seed=3)


@pytest.mark.parametrize(("overlap", "made"), [(st.CODE_OVERLAP, 6), (st.PAPER_OVERLAP, 15)])
def test_a_bach_size_image_gives_6_or_15_crops(bach_image, overlap, made):
    out = st.standardize(bach_image, 0.42, overlap=overlap)
    assert out.shape == (645, 860, 3)
    assert out.made == made and out.crops.shape == (made, 272, 272, 3) and out.crops.dtype == np.uint8
    assert out.counts() == {"made": made, "low_contrast_paper": 0, "low_contrast_code": 0, "kept": made}


def test_each_rule_drops_its_own_crops_and_both_are_counted():
    image = np.concatenate([two_level(100, 20), noise((272, 272, 3))], axis=1)  # 272 x 544 at 1 µm/px
    by_code = st.standardize(image, 1.0, overlap=0.0)
    assert by_code.positions.tolist() == [[0, 0], [0, 272]]
    assert by_code.counts() == {"made": 2, "low_contrast_paper": 0, "low_contrast_code": 1, "kept": 1}
    assert np.array_equal(by_code.crops[0], image[:, 272:])
    assert by_code.kept.tolist() == [False, True]
    by_paper = st.standardize(image, 1.0, overlap=0.0, contrast="paper")
    assert by_paper.counts()["kept"] == 2
    assert st.standardize(image, 1.0, overlap=0.0, contrast=None).counts()["kept"] == 2


def test_a_small_image_is_padded_to_one_crop():
    out = st.standardize(noise((96, 96, 3)), 0.972)  # PCam: 93 px at 1 µm/px
    assert out.shape == (93, 93, 3)
    assert out.positions.tolist() == [[0, 0]] and out.crops.shape == (1, 272, 272, 3)


def test_a_flat_image_keeps_nothing_and_still_returns_an_empty_stack():
    out = st.standardize(np.full((300, 300, 3), 200, dtype=np.uint8), 1.0)
    assert out.made == 1 and out.crops.shape == (0, 272, 272, 3)


def test_standardize_rejects_an_unknown_rule():
    with pytest.raises(ParameterError, match="contrast"):
        st.standardize(noise((272, 272, 3)), 1.0, contrast="otsu")


# --- Table 1 ---------------------------------------------------------------------------------------


def test_table_1_holds_the_nine_datasets_as_printed():
    assert list(st.TABLE_1) == ["ADP", "MHIST", "BACH", "AJ-Lymph", "PCam", "CRC", "GlaS", "OS", "BCSS"]
    bach = st.TABLE_1["BACH"]
    assert (bach.images, bach.image_size, bach.mpp, bach.patches) == (400, (2048, 1536), 0.42, (958, 240, 1199))
    assert bach.published_patches == 2397
    assert st.TABLE_1["GlaS"].image_size is None and st.TABLE_1["BCSS"].image_size is None


def test_count_table_shows_the_published_counts_follow_stride_204():
    rows = {r.dataset: r for r in st.count_table()}
    assert rows["BACH"].expected == {204: 2400, 136: 6000} and rows["BACH"].matching == (204,)
    assert rows["OS"].expected == {204: 18304, 136: 41184} and rows["OS"].matching == (204,)
    for name in ("ADP", "MHIST", "AJ-Lymph"):  # one crop per image at either stride, exactly as published
        assert rows[name].per_image == {204: 1, 136: 1}
        assert rows[name].expected == {204: rows[name].published, 136: rows[name].published}
        assert rows[name].matching == (204, 136)
    for name in ("PCam", "CRC"):  # one crop per image, but Table 1 counts a subset: neither stride matches
        assert rows[name].expected[204] > 2 * rows[name].published and rows[name].matching == ()
    assert rows["GlaS"].expected is None and rows["GlaS"].matching == ()
