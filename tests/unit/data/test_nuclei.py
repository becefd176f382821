import numpy as np
import pytest

from cpath_repro.data.nuclei import DSB_DIR, read_dsb_sample
from cpath_repro.errors import DataNotFoundError
from cpath_repro.synth.nuclei import CROP_CLASSES, nuclei_image, nucleus_crops


def test_missing_real_nuclei_names_the_files_and_the_way_out(tmp_path):
    with pytest.raises(DataNotFoundError, match=r"img2d.tif, mask2d.tif.*make data"):
        read_dsb_sample(tmp_path)


def test_real_nuclei_sample_has_its_125_nuclei():
    if not (DSB_DIR / "img2d.tif").is_file():
        pytest.skip("run `make data` (make test does) to extract the stardist sample")
    image, labels = read_dsb_sample()
    assert image.shape == labels.shape == (512, 512)
    assert 0 <= image.min() and image.max() <= 1
    assert len(np.unique(labels)) - 1 == 125


def test_synthetic_nuclei_are_deterministic_with_ground_truth():
    a, b = nuclei_image(128, 3), nuclei_image(128, 3)
    assert a.image.tobytes() == b.image.tobytes() and a.count > 3
    assert a.image[a.labels > 0].mean() > a.image[a.labels == 0].mean() + 0.2
    crops, classes = nucleus_crops(90, 0)
    assert crops.shape == (90, 32, 32) and set(classes) == set(range(len(CROP_CLASSES)))
