import numpy as np
import pytest

from cpath_repro.errors import ParameterError
from cpath_repro.metrics.staging import SLIDE_CLASSES, slide_class
from cpath_repro.synth.slides import (
    CAMELYON_MORPHOLOGY,
    MIN_MACRO_MAP_PATCHES,
    PAPER_GEOMETRY,
    STOMACH_LUMP_PATCHES,
    STOMACH_MAP_PATCHES,
    STOMACH_MORPHOLOGY,
    Geometry,
    lumens_at,
    make_slide,
    morphology_at,
    write_slide,
)
from cpath_repro.wsi import open_slide
from cpath_repro.wsi.annotations import NORMAL, TUMOUR, UNLABELLED, label_mask, read_asap

#: Tiny slides: 8 px patches at 4 um/px (32 um patches, scale 0.25); a camelyon map of 28 patches is 224 px.
TINY = Geometry(mpp=4.0, patch_px=8)
MAP = MIN_MACRO_MAP_PATCHES


def test_geometry_scale_is_patch_microns_over_the_papers():
    assert PAPER_GEOMETRY == Geometry(0.5, 256) and PAPER_GEOMETRY.scale == 1.0
    assert Geometry(2.0, 36).scale == pytest.approx(72 / 128)
    assert TINY.patch_um == 32.0 and TINY.scale == 0.25
    with pytest.raises(ParameterError):
        Geometry(0.0, 36)


@pytest.mark.parametrize(("preset", "cls"), [("stomach-like", None), ("camelyon-like", "micro")])
def test_same_arguments_give_the_same_bytes(preset, cls):
    a = make_slide(preset, 3, 7, TINY, slide_class=cls, map_patches=MAP)
    b = make_slide(preset, 3, 7, TINY, slide_class=cls, map_patches=MAP)
    assert a.image.tobytes() == b.image.tobytes()
    np.testing.assert_array_equal(a.tumour, b.tumour)
    assert [r.points.tobytes() for r in a.regions] == [r.points.tobytes() for r in b.regions]
    assert a.lesion_diameters_um == b.lesion_diameters_um
    other = make_slide(preset, 4, 7, TINY, slide_class=cls, map_patches=MAP)
    assert other.image.tobytes() != a.image.tobytes()


def test_stomach_tumour_is_about_a_fifth_of_the_tissue():
    slides = [make_slide("stomach-like", i, 0, TINY) for i in range(4)]
    tumour = sum(int(s.tumour.sum()) for s in slides)
    tissue = sum(int(s.tissue.sum()) for s in slides)
    # paper D: normal:tumour ~ 4:1 -> tumour share 0.2; band 0.15-0.25 (normal:tumour 3:1 to 5.7:1)
    assert 0.15 <= tumour / tissue <= 0.25
    for s in slides:
        assert 0.1 <= s.tumour_share <= 0.33
        assert not (s.tumour & ~s.tissue).any()


def test_stomach_lumps_fit_the_papers_map_and_are_mostly_annotated():
    for i in range(3):
        s = make_slide("stomach-like", i, 1, TINY)
        assert 2 <= len(s.lumps) <= 5 and s.slide_class is None and s.lesion_diameters_um == ()
        for _, _, w, h in s.lumps:
            assert max(w, h) <= STOMACH_LUMP_PATCHES[1] * TINY.patch_px + 2 <= STOMACH_MAP_PATCHES * TINY.patch_px
        groups = {r.group for r in s.regions}
        assert groups == {"Tumor", "Normal"}
        mask = label_mask(s.regions, s.tissue.shape, 1.0)
        np.testing.assert_array_equal((mask == TUMOUR) & s.tissue, s.tumour)  # the annotation is the ground truth
        unlabelled = float(((mask == UNLABELLED) & s.tissue).sum() / s.tissue.sum())
        assert 0.0 < unlabelled < 0.5  # most, not all, of the tissue annotated
        assert ((mask == NORMAL) & s.tissue).sum() > s.tumour.sum()


@pytest.mark.parametrize("cls", SLIDE_CLASSES)
def test_camelyon_lesions_classify_as_the_requested_class(cls):
    for index in range(2):
        s = make_slide("camelyon-like", index, 5, TINY, slide_class=cls, map_patches=MAP)
        assert s.slide_class == cls and s.image.shape[1] == MAP * TINY.patch_px
        assert slide_class(max(s.lesion_diameters_um, default=0.0), TINY.scale) == cls
        assert {r.group for r in s.regions} <= {"Tumor"} and len(s.regions) == len(s.lesion_diameters_um)
        assert not (s.tumour & ~s.tissue).any()
        assert s.tumour.any() == (cls != "negative")
        mask = label_mask(s.regions, s.tissue.shape, 1.0, s.tissue)
        np.testing.assert_array_equal(mask == TUMOUR, s.tumour)  # lesions lie wholly inside the tissue
        np.testing.assert_array_equal(mask == NORMAL, s.tissue & ~s.tumour)


def test_wrong_arguments_are_parameter_errors():
    with pytest.raises(ParameterError, match="at least 28"):
        make_slide("camelyon-like", 0, 0, TINY, slide_class="macro", map_patches=20)
    with pytest.raises(ParameterError):
        make_slide("camelyon-like", 0, 0, TINY)
    with pytest.raises(ParameterError):
        make_slide("stomach-like", 0, 0, TINY, slide_class="itc")
    with pytest.raises(ParameterError):
        make_slide("kidney", 0, 0, TINY)
    with pytest.raises(ParameterError):
        make_slide("stomach-like", 0, 0, TINY, difficulty=1.5)


def test_difficulty_moves_tumour_and_normal_morphology_together():
    for table in (STOMACH_MORPHOLOGY, CAMELYON_MORPHOLOGY):
        assert morphology_at(0.0, table) == table
        same = morphology_at(1.0, table)
        assert same[1] == same[2]  # normal and tumour identical at difficulty 1
    half = morphology_at(0.5, STOMACH_MORPHOLOGY)
    assert STOMACH_MORPHOLOGY[1].density < half[1].density < half[2].density < STOMACH_MORPHOLOGY[2].density


def test_tumour_is_darker_and_stroma_pink():
    s = make_slide("camelyon-like", 1, 2, Geometry(2.0, 8), slide_class="macro", map_patches=MAP)
    grey = s.image.astype(float).mean(axis=2)
    normal = s.tissue & ~s.tumour
    assert grey[s.tumour].mean() < grey[normal].mean() - 10  # denser, hyperchromatic nuclei
    glass = ~s.tissue
    assert grey[glass].mean() > 230  # bright glass
    r, g, b = (s.image[..., k][normal].astype(float).mean() for k in range(3))
    assert r > g and b > g  # haematoxylin and eosin both absorb green most: pink-purple tissue


def test_written_slide_round_trips_through_openslide_and_read_asap(tmp_path):
    s = make_slide("stomach-like", 0, 3, TINY)
    tif, xml = write_slide(tmp_path, "stomach_000", s)
    assert (tif.name, xml.name) == ("stomach_000.tif", "stomach_000.xml")
    with open_slide(tif) as slide:
        assert slide.vendor == "generic-tiff" and slide.mpp == pytest.approx((TINY.mpp, TINY.mpp))
        h, w = s.image.shape[:2]
        assert slide.dimensions == (w, h)
        np.testing.assert_array_equal(slide.read_region((0, 0), 0, (w, h)), s.image)
    back = read_asap(xml)
    assert [(r.name, r.group) for r in back] == [(r.name, r.group) for r in s.regions]
    for got, want in zip(back, s.regions, strict=True):
        np.testing.assert_array_equal(got.points, want.points)
    empty = make_slide("camelyon-like", 0, 3, TINY, slide_class="negative", map_patches=MAP)
    assert read_asap(write_slide(tmp_path, "negative", empty)[1]) == []


def _low_resolution_patches(contrast: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Whole tumour and whole normal patches of three stomach-like slides, each seen at 1/8 resolution (36 px
    patches at 2 µm/px, cropped to 32 px and averaged over 8×8 blocks: 4×4 pixels of 16 µm)."""
    g, features, labels = Geometry(2.0, 36), [], []
    for index in range(3):
        s = make_slide("stomach-like", index, seed, g, lowres_contrast=contrast)
        rows, cols = s.patch_grid
        for r in range(rows):
            for c in range(cols):
                at = np.s_[r * 36:(r + 1) * 36, c * 36:(c + 1) * 36]
                tumour = s.tumour[at].mean()
                if s.tissue[at].mean() < 0.9 or 0 < tumour < 0.8:
                    continue
                view = s.image[at][2:34, 2:34].astype(float).reshape(4, 8, 4, 8, 3).mean((1, 3)) / 255
                features.append(view.ravel())
                labels.append(tumour >= 0.8)
    return np.array(features), np.array(labels)


def test_lowres_contrast_decides_what_a_one_eighth_view_sees():
    """A classifier on 1/8-resolution patches, trained on one seed's slides and scored on another's: near chance
    when the classes are matched at low resolution (contrast 0), far above it at contrast 1."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import balanced_accuracy_score

    scores = {}
    for contrast in (0.0, 1.0):
        (xa, ya), (xb, yb) = _low_resolution_patches(contrast, 0), _low_resolution_patches(contrast, 1)
        model = LogisticRegression(max_iter=2000, class_weight="balanced").fit(xa, ya)
        scores[contrast] = balanced_accuracy_score(yb, model.predict(xb))
    assert scores[0.0] < 0.65
    assert scores[1.0] > 0.85


def test_lowres_contrast_keeps_the_morphology_and_matches_lumens():
    matched = lumens_at(0.0, STOMACH_MORPHOLOGY)
    assert matched[1].lumen_fraction == pytest.approx(matched[2].lumen_fraction)
    assert matched[1].radius_um == STOMACH_MORPHOLOGY[1].radius_um and matched[2].density == STOMACH_MORPHOLOGY[2].density
    assert lumens_at(1.0, STOMACH_MORPHOLOGY) == STOMACH_MORPHOLOGY
    with pytest.raises(ParameterError):
        make_slide("stomach-like", 0, 0, Geometry(2.0, 36), lowres_contrast=1.5)
