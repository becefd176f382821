"""The synthetic stand-ins for paper B's nine datasets: the paper's facts, the standardization's geometry, the
shared cell scale, the ground truth, sizes, determinism, and paper A's slides left as they were."""

import hashlib

import numpy as np
import pytest
from skimage import color, filters, measure

from cpath_repro.data import histokt as loaders
from cpath_repro.data.standardize import CODE_STRIDE, SIZE, TABLE_1, crop_mask, crops_per_image, rescale_to, standardize
from cpath_repro.errors import ParameterError
from cpath_repro.synth import histokt as synth
from cpath_repro.synth import stains, tissue

SCALE = synth.DEFAULT_SCALE
CROP = synth.crop_size(SCALE)
#: One dataset of each of the nine, two images each, made once for the module.
SMALL = {name: synth.make_dataset(name, 0, 2) for name in synth.NAMES}
LOADER_CLASSES = {"ADP": loaders.ADP_CLASSES, "MHIST": loaders.MHIST_CLASSES, "BACH": loaders.BACH_CLASSES,
                  "AJ-Lymph": loaders.AJ_LYMPH_CLASSES, "PCam": loaders.PCAM_CLASSES, "GlaS": loaders.GLAS_CLASSES,
                  "OS": loaders.OS_CLASSES, "BCSS": loaders.BCSS_CLASSES}


def _paper_crops(name):
    width, height = synth.paper_size(name)
    return crops_per_image(height, width, TABLE_1[name].mpp, size=SIZE, stride=CODE_STRIDE)


def test_same_seed_same_bytes_other_seed_other_bytes():
    for name in synth.NAMES:
        again = synth.make_dataset(name, 0, 2)
        other = synth.make_dataset(name, 1, 2)
        for a, b, c in zip(SMALL[name].images, again.images, other.images, strict=True):
            assert a.read().tobytes() == b.read().tobytes(), name
            assert a.mask().tobytes() == b.mask().tobytes(), name
            assert a.read().tobytes() != c.read().tobytes(), name


def test_an_image_depends_on_its_index_not_on_how_many_are_made():
    few, many = synth.make_dataset("BACH", 3, 2), synth.make_dataset("BACH", 3, 9)
    assert few.images[1].read().tobytes() == many.images[1].read().tobytes()
    assert few.images[1].labels == many.images[1].labels


def test_classes_mpp_and_labelling_are_table_1s_and_the_loaders():
    for name, ds in SMALL.items():
        assert ds.name == name
        assert len(ds.classes) == TABLE_1[name].classes, name
        assert ds.mpp * SCALE == pytest.approx(TABLE_1[name].mpp), name
        assert ds.multilabel == (name in ("ADP", "BCSS")), name
        assert ds.folder is None and ds.skipped == []
        for image in ds.images:
            pixels = image.read()
            assert pixels.dtype == np.uint8 and pixels.ndim == 3 and pixels.shape[-1] == 3
    for name, classes in LOADER_CLASSES.items():
        assert SMALL[name].classes == classes
    # CRC: the loader reads its class folders; NCT-CRC-HE-100K's nine less the loader's BACK and DEB, sorted
    assert SMALL["CRC"].classes == ("ADI", "LYM", "MUC", "MUS", "NORM", "STR", "TUM")
    assert not set(SMALL["CRC"].classes) & set(loaders.CRC_EXCLUDED)
    assert synth.make_dataset("OS", 0, 1, synth.scale_for(272)).mpp == TABLE_1["OS"].mpp  # scale 1: the paper's


def test_a_synthetic_bach_image_gives_six_crops_at_25_percent_overlap():
    ds = SMALL["BACH"]
    result = standardize(ds.images[0].read(), ds.mpp, size=CROP, overlap=0.25, target_mpp=synth.target_mpp(SCALE),
                         contrast=None)
    assert result.made == 6 == _paper_crops("BACH")
    assert result.crops.shape == (6, CROP, CROP, 3)
    assert result.shape[0] < ds.images[0].read().shape[0]  # the rescale did real work (3.57 -> 8.5 µm/px)


@pytest.mark.parametrize("name", [n for n in synth.NAMES if n != "BCSS"])
def test_crops_per_image_are_the_papers_for_every_fixed_size(name):
    ds = SMALL[name]
    made = standardize(ds.images[0].read(), ds.mpp, size=CROP, target_mpp=synth.target_mpp(SCALE), contrast=None).made
    h, w = ds.images[0].read().shape[:2]
    expected = crops_per_image(h, w, ds.mpp, size=CROP, stride=round(CROP * 0.75), target_mpp=synth.target_mpp(SCALE))
    assert made == expected == _paper_crops(name) == synth.expected_crops(name)
    for crop in (24, 64, 136):  # other profiles' crops keep the paper's counts too
        assert synth.expected_crops(name, synth.scale_for(crop)) == _paper_crops(name)


def _median_nucleus_area(rgb):
    haem = color.rgb2hed(rgb)[..., 0]
    labels = measure.label(haem > filters.threshold_otsu(haem))
    return float(np.median(np.bincount(labels.ravel())[1:]))


def test_nuclei_agree_in_size_after_standardization_and_differ_before():
    """Median area of the connected components of the thresholded haematoxylin channel (rgb2hed, Otsu) on a field of
    glial nuclei (sparse, round) 96 target px wide, at each dataset's native resolution and lab."""
    before, after = {}, {}
    for name in synth.NAMES:
        n = round(96 * synth.native_per_target(name))
        image = synth.motif_image(name, "glia", 0, shape=(n, n))
        before[name] = _median_nucleus_area(image)
        after[name] = _median_nucleus_area(rescale_to(image, synth.native_mpp(name, SCALE), synth.target_mpp(SCALE)))
    spread = max(after.values()) / min(after.values())
    assert spread < 1.5, after  # one cell scale after standardization
    assert max(before.values()) / min(before.values()) > 15, before  # 0.25 vs 1.25 µm/px natively
    for name in synth.NAMES:  # natively, areas go with (native px per target px)² = 1 / Table 1's µm/px²
        ratio = before[name] / after[name]
        assert ratio == pytest.approx(synth.native_per_target(name) ** 2, rel=0.3), name


def test_masks_are_class_maps_and_single_label_images_show_their_class():
    for name, ds in SMALL.items():
        for image in ds.images:
            mask, pixels = image.mask(), image.read()
            assert mask.shape == pixels.shape[:2] and mask.dtype == np.uint8
            values = set(np.unique(mask).tolist())
            assert values <= set(range(len(ds.classes))) | {loaders.MASK_NONE}, name
            if not ds.multilabel:
                assert len(image.labels) == 1 and image.labels[0] in values, name
    for name in ("BACH", "CRC", "AJ-Lymph", "OS"):  # every class of a dataset, not only the first two
        ds = synth.make_dataset(name, 2, len(ds_classes := synth.CLASSES[name]))
        for image in ds.images:
            assert image.labels[0] in np.unique(image.mask()), (name, ds_classes[image.labels[0]])


def test_adp_labels_are_the_closed_labels_of_its_mask():
    ds = synth.make_dataset("ADP", 0, 30)
    for image in ds.images:
        found = loaders.crop_labels(image.mask(), len(ds.classes))
        assert synth.adp_closure(found) == image.labels
        names = {ds.classes[i] for i in image.labels}
        assert all(".".join(n.split(".")[:-1]) in names for n in names if "." in n)  # every parent is a label too
    assert len({image.labels for image in ds.images}) > 10


def test_bcss_crops_get_their_labels_from_the_mask_cut_like_the_image():
    ds = SMALL["BCSS"]
    found = set()
    for image in ds.images:
        result = standardize(image.read(), ds.mpp, size=CROP, target_mpp=synth.target_mpp(SCALE))
        masks = crop_mask(image.mask(), result, CROP)
        assert masks.shape == (result.made, CROP, CROP)
        for crop in masks[result.kept]:
            labels = loaders.crop_labels(crop)
            assert labels, "a crop of a synthetic ROI is labelled"
            found.update(labels)
    assert {0, 1} <= found  # tumour and stroma are in every ROI


def test_relative_sizes_follow_table_1():
    crops = {n: synth.n_images(n) * synth.expected_crops(n) * synth.published_fractions(n)[0] for n in synth.NAMES}
    large, small = ("ADP", "CRC", "OS", "BCSS"), ("GlaS", "AJ-Lymph")
    assert sorted(crops, key=crops.get)[-4:] == sorted(large, key=crops.get)
    assert all(crops[s] < crops[o] for s in small for o in synth.NAMES if o not in small)
    assert all(300 <= crops[n] <= 400 for n in large), crops
    assert all(30 <= crops[n] <= 70 for n in small), crops
    assert synth.training_crops()["BCSS"] == synth.CROPS_PER_LARGE_DATASET
    assert synth.training_crops(1000)["GlaS"] > synth.training_crops()["GlaS"]


def test_published_splits_in_table_1s_proportions_others_later():
    for name in synth.NAMES:
        ds = synth.make_dataset(name, 0, 60)  # the datasets' images are listed lazily: no pixels made here
        splits = [image.split for image in ds.images]
        if name in ("ADP", "MHIST", "PCam", "CRC", "GlaS"):
            for split, fraction in zip(("train", "val", "test"), synth.published_fractions(name), strict=True):
                assert abs(splits.count(split) - 60 * fraction) <= 1, (name, split)
        else:
            assert splits == [None] * 60
    assert len(synth.make_dataset("GlaS", 0).images) == synth.n_images("GlaS")


def test_each_dataset_has_its_own_fixed_lab():
    nominal = stains.ASSAYS["H&E"].vectors
    labs = {n: synth.lab(n) for n in synth.NAMES}
    for lab in labs.values():
        assert np.all(stains.angle_deg(lab.vectors, nominal) <= synth.LAB_MAX_ANGLE_DEG + 1e-9)
    assert len({lab.vectors.tobytes() for lab in labs.values()}) == 9
    # the lab is fixed, not drawn per call: recomputed outside the cache it is the same
    assert synth.lab.__wrapped__("CRC").vectors.tobytes() == synth.lab("CRC").vectors.tobytes()
    # and every seed's images are stained around it: each image's vectors stay within the image jitter of its lab
    for name in ("CRC", "MHIST"):
        limit = synth.NORMALIZED.get(name, (synth.IMAGE_MAX_ANGLE_DEG,))[0]
        for seed in range(3):
            own = synth._image_stain(name, np.random.default_rng(seed))
            assert np.all(stains.angle_deg(own.vectors, synth.lab(name).vectors) <= limit + 1e-9)
    one = synth.motif_image("CRC", "stroma", 0, shape=(40, 40)).reshape(-1, 3).mean(0)
    other = synth.motif_image("MHIST", "stroma", 0, shape=(40, 40)).reshape(-1, 3).mean(0)
    assert np.abs(one - other).max() > 1  # the same tissue, stained by another lab


def test_difficulty_moves_nuclear_morphology_to_one_mean():
    easy, hard = synth._vocabulary_at(0.0), synth._vocabulary_at(1.0)
    assert easy["lymphocytes"].cells[0].morph == synth.MOTIFS["lymphocytes"].cells[0].morph
    radii = np.array([c.morph.radius for m in hard.values() for c in m.cells if not c.body])
    assert len(radii) > 30 and np.allclose(radii, radii[0])  # every nuclear population alike at difficulty 1
    eosin = np.array([m.eosin for m in hard.values()])
    assert np.allclose(eosin, eosin[0])
    assert synth.make_dataset("CRC", 0, 1, difficulty=1.0).images[0].read().tobytes() != \
        SMALL["CRC"].images[0].read().tobytes()
    with pytest.raises(ParameterError):
        synth.make_dataset("CRC", 0, 1, difficulty=1.5)


def test_bad_requests_stop_with_one_sentence():
    with pytest.raises(ParameterError, match="Unknown paper B dataset"):
        synth.make_dataset("Camelyon", 0, 1)
    with pytest.raises(ParameterError, match="scale"):
        synth.make_dataset("BACH", 0, 1, scale=0.01)
    with pytest.raises(ParameterError, match="seed"):
        synth.make_dataset("BACH", -1, 1)
    with pytest.raises(ParameterError, match="motif"):
        synth.motif_image("BACH", "kidney")


def test_paper_a_slides_are_unchanged_by_the_shared_cell_drawing():
    """Digest of paper A's slides taken before tissue.draw_nuclei was made public (numpy 2.4.6, scipy 1.17.1,
    scikit-image 0.26.0 as pinned in constraints.txt)."""
    cfg = tissue.TissueConfig(canvas=64, tile=32)
    digest = hashlib.sha256()
    for assay in ("H&E", "CD8/CD3"):
        slide = tissue.make_slide(np.random.SeedSequence([3, 0, 1, 0]), assay, cfg)
        digest.update(slide.rgb.tobytes())
        digest.update(slide.labels.tobytes())
    assert digest.hexdigest() == "6a8efe9b0aab3527c1da628e7cb327c552344b686398d74af4d5527b5db44400"
    assert tissue.morphology_at(0.4) == tissue.morphology_at(0.4, tissue.MORPHOLOGY)
