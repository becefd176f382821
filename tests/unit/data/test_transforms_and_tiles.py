
import numpy as np
import pytest
import torch
from torchvision import tv_tensors

from cpath_repro.data.tiles import read_tile_folder, write_tile_folder
from cpath_repro.data.transforms import augmentation
from cpath_repro.errors import DataNotFoundError
from cpath_repro.synth import tissue


def test_augmentation_keeps_image_and_label_aligned():
    torch.manual_seed(0)
    labels = torch.randint(0, 4, (32, 32), dtype=torch.uint8)
    labels = labels.repeat_interleave(4, 0).repeat_interleave(4, 1)  # 128 x 128 blocks
    image = (labels.float() / 3).expand(3, -1, -1).clone()  # the image encodes its label
    for _ in range(20):
        out_image, out_label = augmentation(colour=False)(tv_tensors.Image(image), tv_tensors.Mask(labels))
        inside = out_label != 255
        decoded = torch.round(out_image[0] * 3).to(torch.uint8)
        agree = (decoded[inside] == out_label[inside]).float().mean()
        assert agree > 0.97  # only interpolated pixels on block edges may differ
        assert inside.float().mean() > 0.5


def test_colour_augmentation_changes_the_image_not_the_label():
    torch.manual_seed(1)
    labels = torch.randint(0, 4, (16, 16), dtype=torch.uint8)
    image = torch.rand(3, 16, 16)
    out_image, out_label = augmentation()(tv_tensors.Image(image), tv_tensors.Mask(labels))
    assert out_image.min() >= 0 and out_image.max() <= 1
    assert set(out_label.unique().tolist()) <= {0, 1, 2, 3, 255}


@pytest.fixture
def folder(tmp_path):
    cfg = tissue.TissueConfig(canvas=64, tile=32)
    slides = tissue.make_slides(0, "train", ["H&E", "CEA"], 1, cfg)
    write_tile_folder(tissue.cut_tiles(slides, 32), tmp_path, "train")
    return tmp_path


def test_tile_folder_round_trip(folder):
    tiles = read_tile_folder(folder, "train")
    assert tiles.images.shape == (8, 32, 32, 3) and set(tiles.assays) == {"H&E", "CEA"}
    assert len(set(tiles.slides)) == 2


def test_tile_folder_errors_are_one_sentence(folder, tmp_path):
    with pytest.raises(DataNotFoundError, match="does not exist"):
        read_tile_folder(tmp_path / "nope", "train")
    with pytest.raises(DataNotFoundError, match="no tile with split 'test'"):
        read_tile_folder(folder, "test")
    from skimage import io

    label = folder / "labels" / "train-00000.png"
    io.imsave(label, np.full((16, 16), 1, np.uint8), check_contrast=False)
    with pytest.raises(DataNotFoundError, match="is 16x16 but its tile is 32x32"):
        read_tile_folder(folder, "train")
    io.imsave(label, np.full((32, 32), 7, np.uint8), check_contrast=False)
    with pytest.raises(DataNotFoundError, match=r"unknown class value\(s\) \[7\]"):
        read_tile_folder(folder, "train")
    (folder / "tiles" / "train-00001.png").unlink()
    io.imsave(label, np.zeros((32, 32), np.uint8), check_contrast=False)
    with pytest.raises(DataNotFoundError, match="is missing"):
        read_tile_folder(folder, "train")


def test_synthetic_slides_are_deterministic_and_near_the_paper_balance():
    cfg = tissue.TissueConfig()
    a = tissue.make_slide(np.random.SeedSequence([3, 0, 1, 0]), "CEA", cfg)
    b = tissue.make_slide(np.random.SeedSequence([3, 0, 1, 0]), "CEA", cfg)
    assert a.rgb.tobytes() == b.rgb.tobytes()
    slides = [tissue.make_slide(np.random.SeedSequence([s, 0, 0, 0]), "H&E", cfg) for s in range(12)]
    labels = np.concatenate([slide.labels.ravel() for slide in slides])
    share = [(labels == c).mean() for c in range(4)]
    np.testing.assert_allclose(share, tissue.CLASS_BALANCE, atol=0.08)
    assert (labels == 255).any()


def test_dihedral_augmentation_only_mirrors_and_rotates():
    from cpath_repro.data.transforms import Augmented, dihedral

    image = torch.rand(1, 8, 8)
    group = [torch.rot90(f, k, (-2, -1)) for f in (image, image.flip(-1)) for k in range(4)]
    data = Augmented(image[None].repeat(40, 1, 1, 1), torch.arange(40), dihedral())
    torch.manual_seed(0)
    seen = set()
    for i in range(40):
        out, label = data[i]
        assert int(label) == i
        matches = [j for j, g in enumerate(group) if torch.equal(out, g)]
        assert matches, "a pixel was interpolated or moved outside the dihedral group"
        seen.add(matches[0])
    assert len(seen) >= 6  # and the group is explored
    assert torch.equal(data.tensors[0][0], image)  # the stored data is never changed
