import numpy as np
import pytest
from skimage import io

from cpath_repro.data.images import read_rgb_tiles
from cpath_repro.errors import DataNotFoundError


def test_reads_rgb_and_skips_unusable_files_with_reasons(tmp_path):
    rgb = np.zeros((8, 8, 3), np.uint8)
    io.imsave(tmp_path / "a.png", rgb, check_contrast=False)
    io.imsave(tmp_path / "gray.png", np.zeros((8, 8), np.uint8), check_contrast=False)
    rgba = np.zeros((8, 8, 4), np.uint8)
    io.imsave(tmp_path / "rgba.png", rgba, check_contrast=False)
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    tiles = read_rgb_tiles(tmp_path)
    assert [p.name for p in tiles.files] == ["a.png"]
    reasons = dict((p.name, why) for p, why in tiles.skipped)
    assert reasons["gray.png"].startswith("not RGB")
    assert reasons["rgba.png"] == "RGBA with transparent pixels"
    assert reasons["broken.png"].startswith("unreadable")


def test_missing_folder_and_no_usable_tile_are_one_sentence(tmp_path):
    with pytest.raises(DataNotFoundError, match="does not exist"):
        read_rgb_tiles(tmp_path / "nope")
    (tmp_path / "x.png").write_bytes(b"not a png")
    with pytest.raises(DataNotFoundError, match="No usable 8-bit RGB tile"):
        read_rgb_tiles(tmp_path)
