import math
import subprocess
import sys

import numpy as np
import pytest

from cpath_repro.errors import DataNotFoundError, ParameterError, UserError
from cpath_repro.wsi import CMU_SMALL_REGION, UnsupportedSlideError, cmu_small_region, open_slide, tile_grid
from cpath_repro.wsi.reader import ARGB_BYTES, argb_to_rgb

PYRAMID_MPP = 0.5


def _one_sentence(error: BaseException) -> None:
    message = str(error)
    assert "\n" not in message and message.endswith(".") and "Traceback" not in message
    assert error.__cause__ is None and (error.__context__ is None or error.__suppress_context__)  # no OpenSlide traceback


@pytest.fixture(scope="module")
def cmu():
    if not CMU_SMALL_REGION.is_file():
        pytest.skip("run `make data` (make test does) to extract the CMU-1-Small-Region slide")
    with open_slide(cmu_small_region()) as slide:
        yield slide


@pytest.fixture(scope="module")
def pyramid(tmp_path_factory):
    """A tiled two-level pyramidal TIFF (768x512 and 384x256, 0.5 and 1.0 um/px) and its two levels."""
    import tifffile

    yy, xx = np.mgrid[0:512, 0:768]
    base = np.stack([xx % 256, yy % 256, (xx // 3 + yy // 5) % 256], axis=-1).astype(np.uint8)
    half = np.ascontiguousarray(base[::2, ::2])
    path = tmp_path_factory.mktemp("pyramid") / "pyramid.tif"
    with tifffile.TiffWriter(path) as tif:
        for page, (image, mpp) in enumerate(((base, PYRAMID_MPP), (half, 2 * PYRAMID_MPP))):
            tif.write(
                image,
                tile=(128, 128),
                photometric="rgb",
                subfiletype=1 if page else 0,
                resolution=(1e4 / mpp, 1e4 / mpp),
                resolutionunit="CENTIMETER",
            )
    return path, base, half


def test_importing_the_package_does_not_import_openslide():
    code = "import sys, cpath_repro.wsi; sys.exit(any(m in sys.modules for m in ('openslide', 'PIL', 'cv2')))"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_missing_cmu_slide_says_run_make_data(tmp_path):
    with pytest.raises(DataNotFoundError, match=r"CMU-1-Small-Region.*make data"):
        cmu_small_region(tmp_path / "cmu_small_region.svs")


def test_missing_path_and_directory_are_data_not_found(tmp_path):
    for path in (tmp_path / "absent.svs", tmp_path):
        with pytest.raises(DataNotFoundError, match="Expected a whole-slide image file") as info:
            open_slide(path)
        _one_sentence(info.value)


def test_files_openslide_cannot_open_are_one_sentence_errors(tmp_path):
    import tifffile

    text = tmp_path / "notes.svs"
    text.write_text("not a slide\n")
    untiled = tmp_path / "strips.tif"  # a plain (stripped) TIFF is not a slide for OpenSlide
    tifffile.imwrite(untiled, np.zeros((64, 64, 3), np.uint8), photometric="rgb")
    for path in (text, untiled):
        with pytest.raises(UnsupportedSlideError, match="OpenSlide cannot open") as info:
            open_slide(path)
        assert isinstance(info.value, UserError) and not isinstance(info.value, DataNotFoundError)
        _one_sentence(info.value)


def test_real_aperio_slide_is_described(cmu):
    assert cmu.vendor == "aperio"
    assert cmu.dimensions == (2220, 2967) and cmu.level_count == 1
    assert cmu.levels[0].downsample == 1.0
    assert cmu.mpp == pytest.approx((0.499, 0.499), abs=1e-6)
    assert cmu.properties["aperio.AppMag"] == "20"


def test_real_aperio_regions_are_rgb_uint8_and_white_outside_the_slide(cmu):
    region = cmu.read_region((1000, 1500), 0, (300, 200))
    assert region.shape == (200, 300, 3) and region.dtype == np.uint8
    assert region.std() > 5  # tissue, not a blank fill
    corner = cmu.read_region((2200, 2950), 0, (40, 30))  # 20x17 px of slide, the rest outside it
    assert corner.shape == (30, 40, 3)
    assert (corner[17:] == 255).all() and (corner[:, 20:] == 255).all()


def test_real_aperio_level_choice(cmu):
    assert [cmu.level_for_mpp(mpp) for mpp in (0.25, 0.499, 0.5, 2.0, 8.0)] == [0] * 5


def test_real_aperio_tiles_cover_the_level_once(cmu):
    tiles = list(cmu.iter_tiles(0, 512))
    assert len(tiles) == math.ceil(2220 / 512) * math.ceil(2967 / 512) == 30
    assert [(t.x, t.y) for t in tiles[:6]] == [(0, 0), (512, 0), (1024, 0), (1536, 0), (2048, 0), (0, 512)]
    assert (tiles[-1].x, tiles[-1].y, tiles[-1].width, tiles[-1].height) == (2048, 2560, 172, 407)
    hits = np.zeros((2967, 2220), np.uint8)
    for tile in tiles:
        assert tile.image.shape == (tile.height, tile.width, 3) and tile.location == (tile.x, tile.y)
        hits[tile.y : tile.y + tile.height, tile.x : tile.x + tile.width] += 1
    assert (hits == 1).all()


def test_real_aperio_thumbnail_fits_the_bound(cmu):
    thumb = cmu.thumbnail(256)
    assert thumb.shape == (256, round(256 * 2220 / 2967), 3) == (256, 192, 3) and thumb.dtype == np.uint8
    assert 150 < thumb.mean() < 250  # mostly pale H&E background with tissue


def test_tifffile_pyramid_opens_as_generic_tiff_with_levels_and_mpp(pyramid):
    path, base, half = pyramid
    with open_slide(path, cache_bytes=2**20) as slide:
        assert slide.vendor == "generic-tiff"
        assert [(lv.dimensions, lv.downsample) for lv in slide.levels] == [((768, 512), 1.0), ((384, 256), 2.0)]
        assert slide.mpp == pytest.approx((0.5, 0.5))
        assert slide.levels[1].mpp == pytest.approx((1.0, 1.0))
        assert slide.properties["tiff.ResolutionUnit"] == "centimeter"
        np.testing.assert_array_equal(slide.read_region((100, 60), 0, (50, 40)), base[60:100, 100:150])
        np.testing.assert_array_equal(slide.read_region((200, 120), 1, (50, 40)), half[60:100, 100:150])
        edge = slide.read_region((740, 500), 0, (40, 20))
        np.testing.assert_array_equal(edge[:12, :28], base[500:, 740:])
        assert (edge[12:] == 255).all() and (edge[:, 28:] == 255).all()


def test_level_for_mpp_takes_the_coarsest_level_not_coarser_than_asked(pyramid):
    with open_slide(pyramid[0]) as slide:
        chosen = {mpp: slide.level_for_mpp(mpp) for mpp in (0.1, 0.5, 0.9, 0.97, 1.0, 4.0)}
        assert chosen == {0.1: 0, 0.5: 0, 0.9: 0, 0.97: 1, 1.0: 1, 4.0: 1}  # 0.97: within the 5% tolerance
        assert slide.level_for_mpp(0.97, tolerance=0.0) == 0
        with pytest.raises(ParameterError):
            slide.level_for_mpp(0)


def test_pyramid_tiles_stitch_back_to_the_level(pyramid):
    path, base, half = pyramid
    with open_slide(path) as slide:
        for level, expected in ((0, base), (1, half)):
            tiles = list(slide.iter_tiles(level, 100))
            h, w = expected.shape[:2]
            assert len(tiles) == math.ceil(w / 100) * math.ceil(h / 100)
            stitched = np.zeros_like(expected)
            for tile in tiles:
                assert tile.location == (tile.x * 2**level, tile.y * 2**level)
                stitched[tile.y : tile.y + tile.height, tile.x : tile.x + tile.width] = tile.image
            np.testing.assert_array_equal(stitched, expected)


def test_pyramid_thumbnail_is_bounded_and_never_upscaled(pyramid):
    with open_slide(pyramid[0]) as slide:
        assert slide.thumbnail(100).shape == (67, 100, 3)
        assert slide.thumbnail(10_000).shape == (512, 768, 3)


def test_tile_grid_partitions_exactly():
    assert tile_grid((5, 3), 2) == [(0, 0, 2, 2), (2, 0, 2, 2), (4, 0, 1, 2), (0, 2, 2, 1), (2, 2, 2, 1), (4, 2, 1, 1)]
    assert tile_grid((4, 4), 4) == [(0, 0, 4, 4)]
    with pytest.raises(ParameterError):
        tile_grid((4, 4), 0)


def test_transparent_pixels_are_composited_onto_white():
    argb = np.array([[0x00000000, 0xFF0A141E, 0x80000000, 0x33281400]], np.uint32)  # premultiplied, as OpenSlide's
    expected = [[[255, 255, 255], [10, 20, 30], [127, 127, 127], [244, 224, 204]]]
    assert argb_to_rgb(argb).tolist() == expected
    out = np.zeros((2, 1, 4, 3), np.uint8)
    second = out[1]
    assert argb_to_rgb(argb, second) is second and out[1].tolist() == expected and not out[0].any()
    assert ARGB_BYTES[3] == (3 if sys.byteorder == "little" else 0)


def test_a_patch_of_a_band_converts_into_its_slot_of_a_batch_byte_for_byte():
    rng = np.random.default_rng(0)
    band = (rng.integers(0, 2**24, (8, 12), dtype=np.uint32) | np.uint32(0xFF000000))  # opaque, three patches wide
    batch = np.zeros((3, 8, 4, 3), np.uint8)
    argb_to_rgb(band[:, 4:8], batch[1])  # a view, not contiguous, into a slot of a batch
    channels = band[..., None].view(np.uint8)
    expected = np.stack([channels[:, 4:8, byte] for byte in ARGB_BYTES[:3]], axis=-1)
    assert np.array_equal(batch[1], expected) and not batch[0].any() and not batch[2].any()


def test_slide_without_mpp_and_closed_slide_explain_themselves(tmp_path):
    import tifffile

    path = tmp_path / "nores.tif"
    tifffile.imwrite(path, np.zeros((256, 256, 3), np.uint8), tile=(128, 128), photometric="rgb")
    slide = open_slide(path)
    assert slide.mpp is None and slide.levels[0].mpp is None
    with pytest.raises(UserError, match="no microns per pixel"):
        slide.level_for_mpp(0.5)
    with pytest.raises(ParameterError, match="Level 3 does not exist"):
        slide.read_region((0, 0), 3, (8, 8))
    slide.close()
    slide.close()
    with pytest.raises(UserError, match="is closed"):
        slide.read_region((0, 0), 0, (8, 8))


def test_read_region_holds_openslide_pythons_pixels_composited_on_white(pyramid):
    """``read_region`` reads through OpenSlide's C call into its own array (``read_argb``); its pixels are
    those of openslide-python's public ``read_region``, an edge outside the slide included, on the
    generic TIFF and the real Aperio slide."""
    import openslide

    for path, location in ((pyramid[0], (100, 60)), (pyramid[0], (740, 500)), (CMU_SMALL_REGION, (2200, 2950))):
        if not path.is_file():
            pytest.skip("the real Aperio slide is missing; run `make data`")
        with open_slide(path, cache_bytes=2**20) as slide, openslide.OpenSlide(str(path)) as reference:
            own = slide.read_region(location, 0, (40, 20))
            rgba = np.asarray(reference.read_region(location, 0, (40, 20))).astype(int)
            white = (rgba[..., :3] * rgba[..., 3:] + 255 * (255 - rgba[..., 3:]) + 127) // 255
            assert own.flags.writeable and own.shape == (20, 40, 3) and own.dtype == np.uint8
            assert np.abs(own.astype(int) - white).max() <= 1  # straight alpha rounds; opaque pixels are equal
            opaque = rgba[..., 3] == 255
            np.testing.assert_array_equal(own[opaque], rgba[..., :3][opaque])
            assert (~opaque).any() == (location != (100, 60))
