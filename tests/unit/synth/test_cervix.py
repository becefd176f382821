"""Synthetic cervix photographs for paper C: determinism, sizes, the paper's class balance, the TZ's geometry by
type, the additional set's bad images and the distractors' rates."""

import functools

import numpy as np
import pytest
from scipy import ndimage

from cpath_repro.errors import ParameterError
from cpath_repro.synth import cervix

SMALL = (60, 80)
MEDIUM = (120, 160)


@functools.cache
def _initial(n: int = 400, seed: int = 0) -> list[cervix.CervixImage]:
    return list(cervix.make_set("initial", n, seed, SMALL))


def _gray(image: np.ndarray) -> np.ndarray:
    return image.astype(float).mean(-1)


def _first(reason: str, count: int, seed: int = 0) -> list[int]:
    return [i for i, r in enumerate(cervix.bad_reasons(400, seed)) if r == reason][:count]


# --- determinism and sizes --------------------------------------------------------------------


@pytest.mark.parametrize("kind", cervix.KINDS)
def test_same_arguments_same_bytes_other_seed_other_bytes(kind):
    for index in range(3):
        one, two = cervix.make_image(kind, index, 5, SMALL), cervix.make_image(kind, index, 5, SMALL)
        other = cervix.make_image(kind, index, 6, SMALL)
        assert one.image.tobytes() == two.image.tobytes()
        assert one.tz_mask.tobytes() == two.tz_mask.tobytes() and one.distractors == two.distractors
        assert one.image.tobytes() != other.image.tobytes()


def test_kinds_are_different_images():
    a, b, c = (cervix.make_image(kind, 4, 0, SMALL).image for kind in cervix.KINDS)
    assert a.tobytes() != b.tobytes() and a.tobytes() != c.tobytes() and b.tobytes() != c.tobytes()


def test_an_image_does_not_depend_on_how_many_are_made():
    small, large = cervix.make_set("additional", 30, 2, SMALL), cervix.make_set("additional", 300, 2, SMALL)
    for i in (0, 7, 29):
        assert small[i].image.tobytes() == large[i].image.tobytes()
    np.testing.assert_array_equal(large.labels[:30], small.labels)
    assert large.bad[:30] == small.bad


@pytest.mark.parametrize("size", [cervix.DEFAULT_SIZE, SMALL, (61, 97)])
def test_image_and_masks_have_the_requested_shape_and_dtype(size):
    im = cervix.make_image("initial", 3, 0, size)
    assert im.image.shape == (*size, 3) and im.image.dtype == np.uint8
    for mask in (im.tz_mask, im.cervix_mask, im.os_mask):
        assert mask.shape == size and mask.dtype == bool
    assert cervix.DEFAULT_SIZE == (240, 320)  # paper C, section 5.1: 320×240


def test_bad_arguments_are_refused_with_a_way_out():
    with pytest.raises(ParameterError, match="kind"):
        cervix.make_image("train", 0, 0)
    with pytest.raises(ParameterError, match="size"):
        cervix.make_image("initial", 0, 0, (8, 80))
    with pytest.raises(ParameterError, match="difficulty"):
        cervix.make_image("initial", 0, 0, SMALL, difficulty=1.5)
    with pytest.raises(ParameterError, match="n_total"):
        cervix.class_counts("initial", 2)
    with pytest.raises(ParameterError, match="seed"):
        cervix.bad_reasons(10, -1)
    with pytest.raises(ParameterError, match="label"):
        cervix.make_image("initial", 0, 0, SMALL, label=3)


# --- the paper's class balance ----------------------------------------------------------------


def test_paper_counts_are_section_4_1s_and_full_sizes_give_them_exactly():
    assert cervix.INITIAL_COUNTS == (250, 781, 450)
    assert cervix.ADDITIONAL_COUNTS == (1191, 3567, 1976)
    assert cervix.class_counts("initial", 1481) == (250, 781, 450)
    assert cervix.class_counts("additional", 6734) == (1191, 3567, 1976)
    assert cervix.class_counts("test", 1481) == (250, 781, 450)
    assert cervix.class_counts("initial", 2 * 1481) == (500, 1562, 900)


@pytest.mark.parametrize("kind", cervix.KINDS)
@pytest.mark.parametrize("n_total", [3, 4, 10, 37, 300, 1000, 4321])
def test_scaled_counts_keep_the_proportions_and_sum_to_the_total(kind, n_total):
    counts = np.array(cervix.class_counts(kind, n_total))
    assert counts.sum() == n_total and counts.min() >= 1
    assert np.abs(counts - n_total * cervix.proportions(kind)).max() < 1.0 + (n_total < 10)


def test_labels_of_a_smaller_set_are_a_prefix_and_match_the_counts():
    big = cervix.labels("additional", 2000)
    for n in (3, 50, 777):
        np.testing.assert_array_equal(cervix.labels("additional", n), big[:n])
        assert tuple(np.bincount(big[:n], minlength=3)) == cervix.class_counts("additional", n)
    assert [cervix.label_of("additional", i) for i in range(20)] == big[:20].tolist()


def test_images_carry_the_labels_of_their_set():
    assert [im.label for im in _initial()] == cervix.labels("initial", 400).tolist()
    assert {im.type_name for im in _initial()} == set(cervix.TYPES)


# --- anatomy ----------------------------------------------------------------------------------


def test_tz_mask_is_never_empty_and_lies_inside_the_cervix():
    images = _initial()[:150] + [cervix.make_image("test", i, 1, cervix.DEFAULT_SIZE) for i in range(6)]
    for im in images:
        assert im.tz_mask.sum() > 0, im.index
        assert not (im.tz_mask & ~im.cervix_mask).any(), im.index
        assert im.os_mask.sum() > 0 and not (im.os_mask & ~im.cervix_mask).any(), im.index


def _geometry(difficulty, n=30):
    """Per scene and type: TZ area outside the os and inside it, each in os areas (the same scene as each type)."""
    ecto, endo = np.zeros((n, 3)), np.zeros((n, 3))
    for j in range(n):
        for t in range(3):
            im = cervix.make_image("initial", j, 0, MEDIUM, difficulty=difficulty, label=t)
            area = im.os_mask.sum()
            ecto[j, t] = (im.tz_mask & ~im.os_mask).sum() / area
            endo[j, t] = (im.tz_mask & im.os_mask).sum() / area
    return ecto, endo


def test_tz_outside_the_os_is_ordered_type_1_over_2_over_3_and_only_type_2_reaches_inside():
    ecto, endo = _geometry(cervix.DIFFICULTY)
    mean = ecto.mean(0)
    assert mean[0] > 1.5 * mean[1] > 1.5 * 1.5 * mean[2]
    assert ((ecto[:, 0] > ecto[:, 1]) & (ecto[:, 1] > ecto[:, 2])).mean() >= 0.95
    assert endo[:, 1].min() > 0.3 and endo[:, [0, 2]].max() < 0.25
    ecto0, endo0 = _geometry(0.0, n=15)
    assert endo0[:, [0, 2]].max() == 0  # types 1 and 3 as designed: the os dark to its margin
    assert endo0[:, 1].min() > 0.4


def test_type_3_rim_covers_only_part_of_the_os_margin_and_types_1_2_all_of_it():
    coverage = np.zeros((12, 3))
    for j in range(12):
        for t in range(3):
            im = cervix.make_image("initial", j, 1, MEDIUM, label=t)
            margin = ndimage.binary_dilation(im.os_mask) & ~im.os_mask  # the pixels just outside the os
            coverage[j, t] = (im.tz_mask & margin).sum() / margin.sum()
    assert coverage[:, :2].min() > 0.95
    assert coverage[:, 2].max() < 0.95 and 0.4 < coverage[:, 2].mean() < 0.8
    assert [g.arc for g in cervix.geometry_at(0.7)] == [g.arc for g in cervix.TYPE_GEOMETRY]


def test_difficulty_one_draws_the_types_alike_but_for_the_arc():
    g = cervix.geometry_at(1.0)
    assert g[0].ecto == pytest.approx(g[1].ecto) and g[1].ecto == pytest.approx(g[2].ecto)
    assert g[0].endo == pytest.approx(g[2].endo)
    assert cervix.geometry_at(0.0) == cervix.TYPE_GEOMETRY


def test_the_same_scene_as_another_type_differs_only_around_the_os():
    for j in range(10):
        ims = [cervix.make_image("initial", j, 3, MEDIUM, label=t) for t in range(3)]
        region = ndimage.binary_dilation(np.logical_or.reduce([im.tz_mask | im.os_mask for im in ims]), iterations=3)
        for other in ims[1:]:
            changed = np.any(other.image != ims[0].image, axis=-1)
            assert changed.any() and not (changed & ~region).any(), j
            assert other.distractors == ims[0].distractors


def _colour_share(images: list[cervix.CervixImage]) -> list[float]:
    """Between-type share of the variance of each channel's image mean (η²)."""
    labels = np.array([im.label for im in images])
    means = np.array([im.image.reshape(-1, 3).mean(0) for im in images])
    return [sum((labels == k).mean() * (means[labels == k, c].mean() - means[:, c].mean()) ** 2 for k in range(3))
            / means[:, c].var() for c in range(3)]


def test_the_type_explains_little_of_the_global_colour():
    """The type lives in the anatomy: with zones sized by the os, under 5 % of the mean colour's variance; sized by
    the cervix (the default), a type 1 zone covers about a sixth of the image, and its area shows, under 10 %."""
    by_os = [cervix.make_image("initial", i, 0, SMALL, zone_reach=0.0) for i in range(400)]
    assert max(_colour_share(by_os)) < 0.05
    assert max(_colour_share(_initial())) < 0.10


def test_zone_reach_sizes_types_1_and_2_by_the_cervix_and_leaves_type_3_a_rim():
    for i in range(12):
        label = cervix.label_of("initial", i)
        small, large = (cervix.make_image("initial", i, 2, MEDIUM, zone_reach=r) for r in (0.0, 1.0))
        if label == 2:
            assert np.array_equal(small.tz_mask, large.tz_mask)
        else:
            assert large.tz_mask.sum() > 1.5 * small.tz_mask.sum(), i


def test_a_centre_crop_cuts_a_zone_sized_by_the_cervix_not_one_sized_by_the_os():
    """The crop's share of the zone's outline (the SCJ, whose place is the type's extent): a 40 % centre crop keeps
    all of an os-sized type 1 zone's outline and loses much of a cervix-sized one's (so zooming in cannot keep
    adding type signal)."""
    h, w = MEDIUM
    crop = np.s_[int(h * 0.3):int(h * 0.7), int(w * 0.3):int(w * 0.7)]
    kept = {r: [] for r in (0.0, 1.0)}
    for i in [i for i in range(40) if cervix.label_of("initial", i) == 0][:6]:
        for r in kept:
            tz = cervix.make_image("initial", i, 0, MEDIUM, zone_reach=r).tz_mask
            outline = tz & ~ndimage.binary_erosion(tz)
            kept[r].append(outline[crop].sum() / outline.sum())
    assert np.mean(kept[0.0]) > 0.95
    assert np.mean(kept[1.0]) < 0.6


def test_the_mucus_plug_is_drawn_whatever_the_type_and_outside_the_zone_mask():
    for i in range(8):
        plain = cervix.make_image("initial", i, 1, MEDIUM, os_mucus=0.0)
        plugged = [cervix.make_image("initial", i, 1, MEDIUM, os_mucus=1.0, label=t) for t in range(3)]
        changed = [np.abs(p.image.astype(int) - cervix.make_image("initial", i, 1, MEDIUM, os_mucus=0.0,
                                                                      label=p.label).image).max(-1) > 8
                   for p in plugged]
        assert all(c.sum() > 20 for c in changed)
        for c in changed[1:]:  # the same place and size whatever the type (translucent, so not the same pixels)
            assert (c & changed[0]).sum() / (c | changed[0]).sum() > 0.8, i
        assert np.array_equal(plugged[plain.label].tz_mask, plain.tz_mask)  # the truth is the anatomy's


# --- distractors ------------------------------------------------------------------------------


def test_distractors_appear_at_their_stated_rates_whatever_the_type():
    images = _initial()
    labels = np.array([im.label for im in images])
    for name, rate in cervix.DISTRACTOR_RATES.items():
        present = np.array([name in im.distractors for im in images])
        assert abs(present.mean() - rate) < 4 * np.sqrt(rate * (1 - rate) / len(images)), name
        for k in range(3):
            n_k = (labels == k).sum()
            assert abs(present[labels == k].mean() - rate) < 4 * np.sqrt(rate * (1 - rate) / n_k), (name, k)


def test_distractors_are_what_their_names_say():
    images = _initial()
    has = {name: np.array([name in im.distractors for im in images]) for name in cervix.DISTRACTORS}
    dark = np.array([(im.image.max(-1) < 15).mean() for im in images])  # near-black pixels
    assert np.median(dark[has["black-border"]]) > 4 * np.median(dark[~has["black-border"]])
    saturated = np.array([(im.image.min(-1) >= 250).any() for im in images])  # white, every channel
    plain = ~has["speculum"] & ~has["glove"]
    assert (saturated[plain] == has["glare"][plain]).all()  # glare saturates; so may bright metal or a white glove
    grey = np.array([((np.ptp(im.image.astype(int), -1) < 25) & (im.image.min(-1) > 90)).mean() for im in images])
    assert np.median(grey[has["speculum"]]) > 0.05 > np.median(grey[~has["speculum"] & ~has["glove"]])
    red = np.array([((im.image[..., 0] > 60) & (im.image[..., 0] < 130) & (im.image[..., 1] < 20)).mean()
                    for im in images])  # dark red, as blood
    assert np.median(red[has["blood"]]) > 4 * max(np.median(red[~has["blood"]]), 1e-4)


# --- the additional set's bad images ----------------------------------------------------------


def test_bad_fraction_and_reasons_are_as_documented():
    from cpath_repro.chapters.paper_c.settings import Settings

    kept = Settings.of_profile("default").keep_fraction
    assert cervix.BAD_FRACTION == 0.1 and 1 - cervix.BAD_FRACTION != kept  # the filter cannot keep exactly the good
    assert cervix.BAD_REASONS == ("blurred", "off-colour", "not-cervix",
                                                                   "near-duplicate")
    reasons = cervix.bad_reasons(400, 0)
    for r in cervix.BAD_REASONS:
        assert reasons.count(r) == 400 * cervix.BAD_FRACTION / 4
    assert reasons.count(None) == 400 * (1 - cervix.BAD_FRACTION)
    for block in range(0, 400, cervix.BAD_BLOCK):  # one of each in every block
        assert sorted(r for r in reasons[block:block + cervix.BAD_BLOCK] if r) == sorted(cervix.BAD_REASONS)
    assert cervix.bad_reasons(400, 1) != reasons


def test_bad_images_are_spread_over_the_types_like_the_set():
    reasons, labels = cervix.bad_reasons(2000, 3), cervix.labels("additional", 2000)
    bad = np.array([r is not None for r in reasons])
    shares = np.bincount(labels[bad], minlength=3) / bad.sum()
    assert np.abs(shares - cervix.proportions("additional")).max() < 0.07


def test_initial_and_test_sets_have_no_bad_images():
    for kind in ("initial", "test"):
        made = cervix.make_set(kind, 60, 0, SMALL)
        assert made.bad == [None] * 60
        assert all(im.bad is None and im.duplicate_of is None for im in made)


def test_images_carry_their_bad_reason():
    reasons = cervix.bad_reasons(40, 0)
    assert [cervix.make_image("additional", i, 0, SMALL).bad for i in range(40)] == reasons


def test_a_blurred_image_has_lower_laplacian_variance_than_its_good_version():
    for i in _first("blurred", 4):
        bad = cervix.make_image("additional", i, 0, MEDIUM)
        good = cervix.make_image("additional", i, 0, MEDIUM, clean=True)
        assert good.bad is None and bad.label == good.label
        assert ndimage.laplace(_gray(bad.image)).var() < 0.5 * ndimage.laplace(_gray(good.image)).var()
        np.testing.assert_array_equal(bad.tz_mask, good.tz_mask)


def test_a_near_duplicate_is_close_to_its_original_of_the_same_type():
    blur = (MEDIUM[0] * 0.02, MEDIUM[0] * 0.02, 0)
    for i in _first("near-duplicate", 4):
        dup = cervix.make_image("additional", i, 0, MEDIUM)
        assert dup.duplicate_of is not None and dup.duplicate_of != i
        assert cervix.bad_reason(dup.duplicate_of, 0) is None
        original = cervix.make_image("additional", dup.duplicate_of, 0, MEDIUM)
        assert dup.label == original.label and dup.distractors == original.distractors
        near = np.abs(ndimage.gaussian_filter(dup.image.astype(float) - original.image, blur)).mean()
        others = [np.abs(ndimage.gaussian_filter(dup.image.astype(float) - cervix.make_image(
            "additional", k, 0, MEDIUM).image, blur)).mean() for k in range(100, 110) if k != dup.duplicate_of]
        assert near < 0.4 * np.median(others), (i, near, np.median(others))
        assert dup.tz_mask.sum() > 0 and dup.image.tobytes() != original.image.tobytes()


def test_an_off_colour_image_has_a_colour_far_from_its_good_version():
    for i in _first("off-colour", 8):
        bad = cervix.make_image("additional", i, 0, SMALL).image.astype(float)
        good = cervix.make_image("additional", i, 0, SMALL, clean=True).image.astype(float)
        shift = np.abs(bad.reshape(-1, 3).mean(0) - good.reshape(-1, 3).mean(0)).max()  # grey levels
        chroma = np.ptp(bad, -1).mean() / np.ptp(good, -1).mean()
        ratio = (bad[..., 1].mean() + 1) / (bad[..., 0].mean() + 1) / ((good[..., 1].mean() + 1) /
                                                                      (good[..., 0].mean() + 1))
        assert shift > 25 or chroma < 0.3 or ratio > 1.4, (i, shift, chroma, ratio)


def test_a_not_cervix_image_has_no_anatomy_and_other_pixels():
    for i in _first("not-cervix", 4):
        bad = cervix.make_image("additional", i, 0, SMALL)
        good = cervix.make_image("additional", i, 0, SMALL, clean=True)
        assert not bad.tz_mask.any() and not bad.cervix_mask.any() and bad.distractors == ()
        assert good.tz_mask.any() and np.abs(bad.image.astype(float) - good.image).mean() > 30


def test_a_set_is_a_lazy_sequence():
    made = cervix.make_set("test", 12, 4, SMALL)
    assert len(made) == 12 and made.labels.tolist() == cervix.labels("test", 12).tolist()
    assert made[-1].index == 11 and [im.index for im in made[2:5]] == [2, 3, 4]
    assert sum(1 for _ in made) == 12
    with pytest.raises(IndexError):
        made[12]
