import importlib.util

import numpy as np
import pytest

from cpath_repro.errors import ParameterError, UserError
from cpath_repro.wsi import open_slide
from cpath_repro.wsi.writer import pyramid_levels, reduce2, write_heatmap_tiff, write_pyramid

HAS_IMAGECODECS = importlib.util.find_spec("imagecodecs") is not None


@pytest.fixture(scope="module")
def image():
    """A 601 x 803 smooth RGB image (odd sizes: the reductions must repeat the last row and column)."""
    yy, xx = np.mgrid[0:601, 0:803]
    return np.stack([xx * 255 // 802, yy * 255 // 600, (xx + 2 * yy) % 256], axis=-1).astype(np.uint8)


def test_reduce2_is_a_rounded_box_filter_repeating_the_odd_edge():
    a = np.array([[[0], [1], [10]], [[2], [3], [20]], [[100], [101], [200]]], np.uint8).repeat(3, axis=2)
    out = reduce2(a)
    assert out.shape == (2, 2, 3)
    assert out[..., 0].tolist() == [[2, 15], [101, 200]]  # (0+1+2+3+2)//4, (10+10+20+20+2)//4, ...


def test_openslide_reads_the_pyramid_with_levels_mpp_and_exact_pixels(tmp_path, image):
    path = write_pyramid(tmp_path / "slide.tif", image, 2.0, min_size=128, description="synthetic test slide")
    levels = pyramid_levels(image, 128)
    assert [lv.shape[:2] for lv in levels] == [(601, 803), (301, 402), (151, 201), (76, 101)]
    with open_slide(path) as slide:
        assert slide.vendor == "generic-tiff"
        assert slide.level_count == 4 >= 3
        assert [lv.dimensions for lv in slide.levels] == [(803, 601), (402, 301), (201, 151), (101, 76)]
        assert slide.mpp == pytest.approx((2.0, 2.0))
        assert slide.levels[1].mpp[0] == pytest.approx(2.0 * 803 / 402, rel=1e-3)
        assert slide.properties["openslide.comment"] == "synthetic test slide"
        np.testing.assert_array_equal(slide.read_region((0, 0), 0, (803, 601)), image)  # deflate is lossless
        np.testing.assert_array_equal(slide.read_region((0, 0), 2, (201, 151)), levels[2])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["slide.tif"]


def test_the_same_image_gives_the_same_bytes(tmp_path, image):
    a = write_pyramid(tmp_path / "a.tif", image, 0.5).read_bytes()
    assert a == write_pyramid(tmp_path / "b.tif", image, 0.5).read_bytes()


def test_an_interrupted_write_leaves_the_old_file_or_none(tmp_path, image, monkeypatch):
    import tifffile

    real_write = tifffile.TiffWriter.write
    calls = []

    def failing(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt  # interrupted after level 0 was written
        return real_write(self, *args, **kwargs)

    monkeypatch.setattr(tifffile.TiffWriter, "write", failing)
    with pytest.raises(KeyboardInterrupt):
        write_pyramid(tmp_path / "new.tif", image, 1.0, min_size=128)
    assert list(tmp_path.iterdir()) == []
    old = tmp_path / "old.tif"
    old.write_bytes(b"previous slide")
    calls.clear()
    with pytest.raises(KeyboardInterrupt):
        write_pyramid(old, image, 1.0, min_size=128)
    assert old.read_bytes() == b"previous slide" and list(tmp_path.iterdir()) == [old]


def test_bad_images_and_options_are_parameter_errors(tmp_path, image):
    for bad in (image.astype(np.float32), image[..., 0], image[..., :2], np.zeros((0, 5, 3), np.uint8)):
        with pytest.raises(ParameterError):
            write_pyramid(tmp_path / "x.tif", bad, 1.0)
    for kwargs in ({"tile": 100}, {"min_size": 0}, {"compression": "lzw"}):
        with pytest.raises(ParameterError):
            write_pyramid(tmp_path / "x.tif", image, 1.0, **kwargs)
    with pytest.raises(ParameterError):
        write_pyramid(tmp_path / "x.tif", image, 0.0)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(HAS_IMAGECODECS, reason="imagecodecs is installed: JPEG tiles are written")
def test_jpeg_without_imagecodecs_says_how_to_get_it(tmp_path, image):
    with pytest.raises(UserError, match="imagecodecs.*deflate") as info:
        write_pyramid(tmp_path / "x.tif", image, 1.0, compression="jpeg")
    assert str(info.value).endswith(".") and "\n" not in str(info.value)


@pytest.mark.skipif(not HAS_IMAGECODECS, reason="JPEG tiles need imagecodecs")
def test_jpeg_tiles_read_back_within_tolerance(tmp_path, image):
    path = write_pyramid(tmp_path / "j.tif", image, 1.0, compression="jpeg", min_size=128)
    with open_slide(path) as slide:
        back = slide.read_region((0, 0), 0, (803, 601)).astype(int)
    assert np.abs(back - image).mean() < 3.0


def test_heatmap_tiff_is_a_small_lossless_slide(tmp_path):
    rgb = np.zeros((40, 60, 3), np.uint8)
    rgb[10:20, 5:50] = (255, 0, 0)
    path = write_heatmap_tiff(tmp_path / "heatmap.tif", rgb, 72.0)
    with open_slide(path) as slide:
        assert slide.vendor == "generic-tiff" and slide.dimensions == (60, 40)
        assert slide.mpp == pytest.approx((72.0, 72.0))
        np.testing.assert_array_equal(slide.read_region((0, 0), 0, (60, 40)), rgb)
