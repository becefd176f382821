"""Paper D's patches on generated pyramidal TIFFs: the grid, the labels, balancing, reading, and the dataset."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from cpath_repro.errors import ParameterError, UserError
from cpath_repro.wsi import (
    CMU_SMALL_REGION,
    CROP_SIZE,
    PATCH_SIZE,
    Patch,
    PatchDataset,
    TissueMask,
    balanced,
    mask_downsample,
    open_slide,
    patch_grid,
    read_patches,
    require_tissue,
    tissue_mask,
)
from cpath_repro.wsi.patches import MASK_NORMAL, MASK_TUMOUR, NOLABEL, NORMAL, TUMOUR, box_fractions
from tests.unit.wsi.tiny import write_pyramid

WIDTH, HEIGHT = 1024, 768  # 4 x 3 patches of 256 px at level 0; 4 x 3 patches of 128 px at level 1
D = 25.6  # label and tissue masks below: one 256 px patch = 10 x 10 mask pixels


@pytest.fixture(scope="module")
def slide_file(tmp_path_factory):
    """Glass with a textured pink tissue disc (left) and every pixel distinct enough to check reads exactly."""
    rng = np.random.default_rng(0)
    base = np.clip(240 + rng.integers(-3, 4, (HEIGHT, WIDTH, 3)), 0, 255).astype(np.uint8)
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH]
    disc = (xx - 420) ** 2 + (yy - 384) ** 2 < 400**2
    base[disc] = np.clip(np.array([200, 110, 170]) + rng.integers(-25, 26, (int(disc.sum()), 3)), 0, 255)
    path = tmp_path_factory.mktemp("patches") / "slide.tif"
    write_pyramid(path, base)
    return path, base


@pytest.fixture()
def slide(slide_file):
    with open_slide(slide_file[0]) as s:
        yield s


def _layout() -> tuple[TissueMask, np.ndarray, dict[tuple[int, int], int]]:
    """Tissue and label masks at downsample 25.6 (patch (r, c) = mask rows 10r:10r+10, cols 10c:10c+10)."""
    tissue = np.ones((30, 40), bool)
    labels = np.zeros((30, 40), np.uint8)

    def box(r, c):
        return np.s_[10 * r : 10 * r + 10, 10 * c : 10 * c + 10]

    labels[box(0, 0)] = MASK_NORMAL
    labels[0:10, 0:5] = MASK_TUMOUR  # (0,0): 50 % tumour -> tumour
    labels[box(0, 1)] = MASK_NORMAL
    labels[0, 10:20] = MASK_TUMOUR  # (0,1): 10 % tumour, 90 % normal -> normal
    labels[0, 20:30] = MASK_TUMOUR
    labels[1:6, 20:30] = MASK_NORMAL  # (0,2): 10 % tumour, 50 % normal -> nolabel
    # (0,3): unannotated -> nolabel
    labels[box(1, 0)] = MASK_NORMAL  # (1,0): all normal -> normal
    labels[10:13, 10:20] = MASK_TUMOUR  # (1,1): 30 % tumour, the rest unannotated -> tumour
    labels[10:17, 20:30] = MASK_NORMAL  # (1,2): 70 % normal -> nolabel
    labels[10:19, 30:40] = MASK_NORMAL  # (1,3): 90 % normal -> normal
    labels[box(2, 0)] = MASK_NORMAL
    tissue[20:23, 0:10] = False  # (2,0): 70 % tissue -> dropped
    labels[box(2, 1)] = MASK_TUMOUR
    tissue[20, 10:20] = False  # (2,1): 90 % tissue -> kept, tumour
    tissue[box(2, 2)] = False  # (2,2): glass -> dropped
    labels[box(2, 3)] = MASK_NORMAL  # (2,3): normal
    expected = {(0, 0): TUMOUR, (0, 1): NORMAL, (0, 2): NOLABEL, (0, 3): NOLABEL, (1, 0): NORMAL, (1, 1): TUMOUR,
                (1, 2): NOLABEL, (1, 3): NORMAL, (2, 1): TUMOUR, (2, 3): NORMAL}
    return TissueMask(tissue, D), labels, expected


def test_labels_and_tissue_rule_on_a_known_layout(slide):
    tissue, labels, expected = _layout()
    patches = patch_grid(slide, 0, PATCH_SIZE, tissue, labels, D)
    assert {(p.row, p.col): p.label for p in patches} == expected  # row by row, dropped (2,0) and (2,2)
    assert [(p.row, p.col) for p in patches] == sorted(expected)
    by_pos = {(p.row, p.col): p for p in patches}
    assert by_pos[(0, 0)].tumour == pytest.approx(0.5) and by_pos[(0, 0)].normal == pytest.approx(0.5)
    assert by_pos[(0, 1)].tumour == pytest.approx(0.1) and by_pos[(0, 1)].normal == pytest.approx(0.9)
    assert by_pos[(0, 2)].tumour == pytest.approx(0.1) and by_pos[(0, 2)].normal == pytest.approx(0.5)
    assert by_pos[(2, 1)].tissue == pytest.approx(0.9) and by_pos[(1, 1)].tissue == pytest.approx(1.0)
    p = by_pos[(1, 2)]
    assert (p.location, p.level, p.size) == ((512, 256), 0, 256)


def test_the_same_grid_at_level_1_has_the_same_fractions_and_locations(slide):
    tissue, labels, expected = _layout()
    level0 = patch_grid(slide, 0, 256, tissue, labels, D)
    level1 = patch_grid(slide, 1, 128, tissue, labels, D)
    assert [(p.location, p.label, round(p.tumour, 9)) for p in level1] == [
        (p.location, p.label, round(p.tumour, 9)) for p in level0
    ]
    assert {p.level for p in level1} == {1} and {p.size for p in level1} == {128}


def test_thresholds_are_parameters_and_an_unannotated_slide_is_all_nolabel(slide):
    tissue, labels, _ = _layout()
    assert len(patch_grid(slide, 0, 256, tissue, labels, D, min_tissue=0.6)) == 11  # (2,0) at 70 % kept too
    loose = patch_grid(slide, 0, 256, tissue, labels, D, normal_over=0.6)
    assert {(p.row, p.col): p.label for p in loose}[(1, 2)] == NORMAL
    unlabelled = patch_grid(slide, 0, 256, tissue, None, None)
    assert len(unlabelled) == 10 and {p.label for p in unlabelled} == {NOLABEL}
    assert all(p.tumour == 0 and p.normal == 0 for p in unlabelled)


def test_fractions_are_area_weighted_over_partly_covered_mask_pixels():
    rng = np.random.default_rng(3)
    mask = rng.random((48, 64)) < 0.6  # at downsample 16 over 1024 x 768 level-0 pixels
    x0 = np.arange(5) * 200.0  # 200 px boxes: 12.5 mask pixels a side, edges inside mask pixels
    y0 = np.arange(3) * 200.0 + 7.0
    got = box_fractions(mask, 16.0, x0, x0 + 200, y0, y0 + 200)
    full = np.repeat(np.repeat(mask, 16, axis=0), 16, axis=1)  # the mask at level-0 resolution
    want = np.array([[full[int(y) : int(y) + 200, int(x) : int(x) + 200].mean() for x in x0] for y in y0])
    np.testing.assert_allclose(got, want, atol=1e-12)
    outside = box_fractions(mask, 16.0, np.array([960.0]), np.array([1160.0]), np.array([0.0]), np.array([200.0]))
    assert outside[0, 0] == pytest.approx(full[:200, 960:].sum() / 200**2)  # beyond the mask counts as no tissue


def test_masks_that_do_not_fit_the_slide_and_bad_thresholds_are_refused(slide):
    tissue, labels, _ = _layout()
    with pytest.raises(ParameterError, match="does not cover level 0") as info:
        patch_grid(slide, 0, 256, TissueMask(np.ones((30, 40), bool), 16.0), None, None)
    assert str(info.value).endswith(".") and "\n" not in str(info.value)
    with pytest.raises(ParameterError, match="does not cover level 0"):
        patch_grid(slide, 0, 256, tissue, labels[:, :20], D)
    with pytest.raises(ParameterError, match="labels_downsample"):
        patch_grid(slide, 0, 256, tissue, labels, None)
    with pytest.raises(ParameterError, match="fraction between 0 and 1"):
        patch_grid(slide, 0, 256, tissue, labels, D, tumour_over=20)
    with pytest.raises(ParameterError, match="Level 2 does not exist"):
        patch_grid(slide, 2, 256, tissue, labels, D)


def test_user_path_on_the_disc_slide(slide_file, slide):
    path, _ = slide_file
    down = mask_downsample(slide, 0, PATCH_SIZE)
    tissue = require_tissue(tissue_mask(slide, down), path)
    labels = np.where(tissue.mask, MASK_NORMAL, 0).astype(np.uint8)  # Camelyon16: tissue minus tumour is normal
    labels[16:32, 16:32] = MASK_TUMOUR  # a tumour square: all of patch (1, 1)
    labels[16:32, 32:40] = MASK_TUMOUR  # and the left half of patch (1, 2)
    patches = patch_grid(slide, 0, PATCH_SIZE, tissue, labels, tissue.downsample)
    # the disc (centre 420, 384, radius 400) covers 99, 89, 100, 100 and 99 % of these five patches and
    # at most 76 % of any other
    kept = {(p.row, p.col): p.label for p in patches}
    assert kept == {(0, 1): NORMAL, (1, 0): NORMAL, (1, 1): TUMOUR, (1, 2): TUMOUR, (2, 1): NORMAL}
    by_pos = {(p.row, p.col): p for p in patches}
    assert by_pos[(1, 2)].tumour == pytest.approx(0.5) and by_pos[(1, 0)].tissue == pytest.approx(0.89, abs=0.03)
    assert len(balanced(patches, np.random.default_rng(0))) == 4


def test_user_path_with_an_asap_tumour_polygon(slide_file, slide):
    from cpath_repro.wsi.annotations import Region, label_mask

    path, _ = slide_file
    tissue = require_tissue(tissue_mask(slide, mask_downsample(slide, 0, PATCH_SIZE)), path)
    square = Region("Annotation 0", "Tumor", np.array([[256, 256], [512, 256], [512, 512], [256, 512]], float))
    labels = label_mask([square], tissue.mask.shape, tissue.downsample, tissue.mask)  # no Normal group: tissue
    patches = patch_grid(slide, 0, PATCH_SIZE, tissue, labels, tissue.downsample)
    kept = {(p.row, p.col): p for p in patches}
    assert {pos: p.label for pos, p in kept.items()} == {
        (0, 1): NORMAL, (1, 0): NORMAL, (1, 1): TUMOUR, (1, 2): NORMAL, (2, 1): NORMAL
    }
    assert kept[(1, 1)].tumour == pytest.approx(1.0)
    # label_mask fills the mask pixels whose top-left corner lies in the polygon, edges included, so the
    # square reaches one mask pixel (1/16 of a patch side) into the patches right of and below it
    assert kept[(1, 2)].tumour <= 1 / 16 + 1e-9 and kept[(1, 0)].tumour == 0


def test_balanced_gives_equal_shuffled_classes_deterministically():
    def patch(i: int, label: int) -> Patch:
        return Patch(0, i, (256 * i, 0), 0, 256, 1.0, float(label == TUMOUR), float(label == NORMAL), label)

    patches = [patch(i, TUMOUR) for i in range(7)] + [patch(10 + i, NORMAL) for i in range(3)]
    patches += [patch(20, NOLABEL), patch(21, NOLABEL)]
    first = balanced(patches, np.random.default_rng(5))
    assert sorted(p.label for p in first) == [NORMAL] * 3 + [TUMOUR] * 3
    assert len({p.col for p in first}) == 6 and {p.col for p in first if p.label == NORMAL} == {10, 11, 12}
    assert first == balanced(patches, np.random.default_rng(5))
    assert balanced(patches[:7], np.random.default_rng(0)) == []


def test_read_patches_returns_exactly_the_written_pixels(slide_file, slide):
    _, base = slide_file
    tissue, labels, _ = _layout()
    patches = patch_grid(slide, 0, 256, tissue, labels, D)
    pixels = read_patches(slide, patches)
    assert pixels.shape == (10, 256, 256, 3) and pixels.dtype == np.uint8
    for p, image in zip(patches, pixels, strict=True):
        x, y = p.location
        np.testing.assert_array_equal(image, base[y : y + 256, x : x + 256])
    half = read_patches(slide, patch_grid(slide, 1, 128, tissue, labels, D)[:2])
    np.testing.assert_array_equal(half[1], base[::2, ::2][0:128, 128:256])
    assert read_patches(slide, []).shape == (0, 0, 0, 3)


def test_read_patches_writes_into_the_array_it_is_given_and_refuses_a_wrong_one(slide_file, slide):
    tissue, labels, _ = _layout()
    patches = patch_grid(slide, 0, 256, tissue, labels, D)
    batch = np.zeros((4, 256, 256, 3), np.uint8)
    first = batch[:3]
    assert read_patches(slide, patches[2:5], out=first) is first
    np.testing.assert_array_equal(batch[:3], read_patches(slide, patches[2:5]))
    assert not batch[3].any()
    for wrong in (batch, batch.astype(np.float32)[:3]):
        with pytest.raises(ParameterError, match="out must be a uint8 array of shape"):
            read_patches(slide, patches[2:5], out=wrong)


def _dataset(slide_file, slide, **kwargs) -> PatchDataset:
    tissue, labels, _ = _layout()
    return PatchDataset(slide_file[0], patch_grid(slide, 0, 256, tissue, labels, D), **kwargs)


def test_dataset_without_augmentation_is_the_centre_crop_of_the_written_pixels(slide_file, slide):
    _, base = slide_file
    data = _dataset(slide_file, slide, crop=CROP_SIZE, augment=False)
    image, label = data[2]
    p = data.patches[2]
    x, y = p.location
    assert image.shape == (3, 224, 224) and image.dtype == torch.float32 and image.is_contiguous()
    assert label.dtype == torch.int64 and int(label) == p.label == NOLABEL
    written = torch.from_numpy(base[y + 16 : y + 240, x + 16 : x + 240]).permute(2, 0, 1)
    assert torch.equal((image * 255).round().to(torch.uint8), written)
    whole, _ = _dataset(slide_file, slide, crop=None, augment=False)[-1]
    assert whole.shape == (3, 256, 256)
    data.close()
    data.close()


def test_augmentation_is_a_pure_function_of_seed_epoch_and_index(slide_file, slide):
    data = _dataset(slide_file, slide, crop=CROP_SIZE, augment=True, seed=7)
    first = data[3][0]
    assert first.shape == (3, 224, 224) and 0 <= float(first.min()) and float(first.max()) <= 1
    assert torch.equal(data[3][0], first)  # re-forwarding sees identical pixels
    assert torch.equal(_dataset(slide_file, slide, crop=CROP_SIZE, augment=True, seed=7)[3][0], first)
    data.set_epoch(1)
    assert not torch.equal(data[3][0], first)
    data.set_epoch(0)
    assert torch.equal(data[3][0], first)
    assert not torch.equal(_dataset(slide_file, slide, crop=CROP_SIZE, augment=True, seed=8)[3][0], first)
    with pytest.raises(ParameterError):
        data.set_epoch(-1)
    data.close()


def test_a_pickled_dataset_carries_no_handle_and_reads_the_same(slide_file, slide):
    data = _dataset(slide_file, slide, crop=CROP_SIZE, augment=True)
    image = data[0][0]
    assert data._slide is not None
    copy = pickle.loads(pickle.dumps(data))
    assert copy._slide is None and data._slide is not None
    assert torch.equal(copy[0][0], image)
    copy.close()
    data.close()


def test_two_workers_yield_the_same_batches_as_none(slide_file, slide):
    data = _dataset(slide_file, slide, crop=64, augment=True, seed=3)
    data[0]  # a handle opened here is inherited by forked workers, which must open their own
    batches = {}
    for workers in (0, 2):
        loader = DataLoader(data, batch_size=4, num_workers=workers)
        batches[workers] = [(x.clone(), y.clone()) for x, y in loader]
    assert len(batches[0]) == 3
    for (x0, y0), (x2, y2) in zip(batches[0], batches[2], strict=True):
        assert torch.equal(x0, x2) and torch.equal(y0, y2)
    assert batches[0][0][0].shape == (4, 3, 64, 64) and batches[0][0][1].dtype == torch.int64
    data.close()


def test_dataset_arguments_are_checked(slide_file, slide, tmp_path):
    with pytest.raises(ParameterError, match="crop"):
        _dataset(slide_file, slide, crop=300, augment=False)
    with pytest.raises(UserError, match="Expected a whole-slide image file"):
        PatchDataset(tmp_path / "absent.tif", [], crop=None, augment=False)


def test_mpp_override_supplies_a_missing_resolution(tmp_path, slide_file):
    path = tmp_path / "nores.tif"
    write_pyramid(path, np.full((512, 512, 3), 240, np.uint8), mpp=None)
    with open_slide(path) as bare:
        assert bare.mpp is None
        with pytest.raises(UserError, match=r"records no microns per pixel.*pass mpp=") as info:
            bare.require_mpp()
        assert str(info.value).endswith(".") and "\n" not in str(info.value) and str(path) in str(info.value)
    with open_slide(path, mpp=0.25) as given:
        assert given.require_mpp() == (0.25, 0.25) and given.levels[1].mpp == (0.5, 0.5)
        assert given.level_for_mpp(0.5) == 1
    with open_slide(slide_file[0], mpp=0.25) as recorded:  # the file's own resolution wins
        assert recorded.mpp == pytest.approx((0.5, 0.5))
    with pytest.raises(ParameterError, match="mpp must be a positive number"):
        open_slide(path, mpp=-1.0)


def test_real_aperio_slide_patch_count():
    if not CMU_SMALL_REGION.is_file():
        pytest.skip("run `make data` (make test does) to extract the CMU-1-Small-Region slide")
    from skimage import filters

    from cpath_repro.wsi.tissue import saturation

    with open_slide(CMU_SMALL_REGION) as slide:
        tissue = require_tissue(tissue_mask(slide, mask_downsample(slide, 0, 256)), CMU_SMALL_REGION)
        patches = patch_grid(slide, 0, 256, tissue, None, None)
        # 8 x 11 = 88 full patches; the cleaned Otsu mask keeps the 21 that lie inside the tissue band
        # (the same 21 at 16, 4 and 1.45 level-0 px per mask pixel).
        assert len(patches) == 21 and all(p.label == NOLABEL for p in patches)
        # The often-quoted 9 comes from an uncleaned Otsu mask at near level-0 resolution, which counts
        # the pale gaps between collagen fibres as glass and so drops loose stroma.
        sat = saturation(slide.thumbnail(2048))
        raw = TissueMask(sat > filters.threshold_otsu(sat), max(slide.dimensions) / 2048)
        assert len(patch_grid(slide, 0, 256, raw, None, None)) == 9


def test_band_reads_and_preloading_give_the_pixels_of_one_read_per_patch(tmp_path):
    import tifffile

    from cpath_repro.wsi import open_slide
    from cpath_repro.wsi.patches import Patch, PatchDataset, read_patches

    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (96, 160, 3), dtype=np.uint8)
    path = tmp_path / "noise.tif"
    tifffile.imwrite(path, image, tile=(32, 32), photometric="rgb", resolution=(1e4 / 0.5, 1e4 / 0.5),
                     resolutionunit="CENTIMETER")
    cells = [(0, 0), (0, 1), (0, 3), (1, 4), (2, 2), (2, 3), (1, 0)]  # runs, gaps and rows out of order
    patches = [Patch(r, c, (16 * c * 2, 16 * r * 2), 0, 32, 1.0, 0.0, 1.0, 0) for r, c in cells]
    with open_slide(path) as slide:
        banded = read_patches(slide, patches)
    for (r, c), pixels in zip(cells, banded, strict=True):
        np.testing.assert_array_equal(pixels, image[32 * r:32 * r + 32, 32 * c:32 * c + 32])
    streamed = PatchDataset(path, patches, crop=None, augment=False)
    preloaded = PatchDataset(path, patches, crop=None, augment=False, preload=True)
    for i in range(len(patches)):
        assert torch.equal(streamed[i][0], preloaded[i][0])
