"""Paper B's nine datasets load from tiny fixtures written in their published layouts, and bad input
stops with one sentence naming the file (or, for an image that does not decode, is skipped and named)."""

from __future__ import annotations

import csv
import gzip
import logging
from pathlib import Path

import h5py
import numpy as np
import pytest
from PIL import Image

from cpath_repro.data import histokt
from cpath_repro.data.histokt import (
    ADP_CLASSES,
    BCSS_CLASSES,
    MASK_NONE,
    UnreadableImageError,
    crop_labels,
    load,
    load_available,
)
from cpath_repro.errors import DataNotFoundError, UserError


def _image(path: Path, value: int = 100, size: int = 16, mode: str = "RGB") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    channels = {"RGB": 3, "RGBA": 4, "L": 1}[mode]
    pixels = np.full((size, size, channels), value, dtype=np.uint8).squeeze()
    Image.fromarray(pixels).save(path)
    return path


def _table(path: Path, header: list[str], rows: list[list[object]], delimiter: str = ",") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, delimiter=delimiter)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _one_sentence(err: pytest.ExceptionInfo[BaseException]) -> str:
    message = str(err.value)
    assert message.endswith(".") and ". " not in message and "\n" not in message, message
    return message


def _labels(dataset: histokt.SourceDataset) -> dict[str, tuple[int, ...]]:
    return {Path(image.id).name: image.labels for image in dataset.images}


# --- ADP ----------------------------------------------------------------------------------------


def _adp(root: Path) -> Path:
    release = root / "ADP" / "ADP V1.0 Release"
    patches = {"001.png_crop_1.png": ("E", "E.M"), "002.png_crop_2.png": ("H",), "003.png_crop_3.png": ("T",),
               "004.png_crop_4.png": ("C", "C.D")}
    header = ["Patch Names", *ADP_CLASSES, "E.M.U", "X"]  # the flat CSV has columns beyond L3's 33
    rows = []
    for i, (name, positive) in enumerate(patches.items()):
        _image(release / "img_res_1um_bicubic" / name, value=10 * i)
        rows.append([name, *(int(c in positive) for c in ADP_CLASSES), 1, 1])
    _table(release / "ADP_EncodedLabels_Release1_Flat.csv", header, rows)
    (release / "splits").mkdir()
    for file, indices in (("train.npy", [0, 1]), ("valid.npy", [2]), ("test.npy", [3])):
        np.save(release / "splits" / file, np.array(indices))
    return release


def test_adp_reads_the_33_l3_columns_the_npy_splits_and_its_1um_pixels(tmp_path: Path):
    _adp(tmp_path)
    adp = load("ADP", tmp_path)
    assert adp.classes == ADP_CLASSES and len(adp.classes) == 33
    assert adp.multilabel and adp.mpp == 1.0
    index = {c: i for i, c in enumerate(ADP_CLASSES)}
    assert _labels(adp) == {"001.png_crop_1.png": (index["E"], index["E.M"]), "002.png_crop_2.png": (index["H"],),
                            "003.png_crop_3.png": (index["T"],), "004.png_crop_4.png": (index["C"], index["C.D"])}
    assert [i.split for i in adp.images] == ["train", "train", "val", "test"]
    pixels = adp.images[2].read()
    assert pixels.shape == (16, 16, 3) and pixels.dtype == np.uint8 and pixels[0, 0, 0] == 20


def test_a_missing_split_file_is_named(tmp_path: Path):
    release = _adp(tmp_path)
    (release / "splits" / "valid.npy").unlink()
    with pytest.raises(DataNotFoundError, match=r"valid\.npy") as err:
        load("ADP", tmp_path)
    _one_sentence(err)


# --- MHIST --------------------------------------------------------------------------------------

MHIST_HEADER = ["Image Name", "Majority Vote Label", "Number of Annotators who Selected SSA (Out of 7)", "Partition"]


def _mhist(root: Path, rows: list[list[object]]) -> Path:
    folder = root / "MHIST"
    for row in rows:
        _image(folder / "images" / str(row[0]))
    _table(folder / "annotations.csv", MHIST_HEADER, rows)
    return folder


def test_mhist_reads_labels_and_partition_from_annotations_csv(tmp_path: Path):
    _mhist(tmp_path, [["MHIST_aaa.png", "HP", 0, "train"], ["MHIST_aab.png", "SSA", 6, "train"],
                      ["MHIST_aac.png", "SSA", 5, "test"]])
    mhist = load("MHIST", tmp_path)
    assert mhist.classes == ("HP", "SSA") and mhist.mpp == 1.25 and not mhist.multilabel
    assert _labels(mhist) == {"MHIST_aaa.png": (0,), "MHIST_aab.png": (1,), "MHIST_aac.png": (1,)}
    assert [i.split for i in mhist.images] == ["train", "train", "test"]
    assert mhist.images[0].id == "images/MHIST_aaa.png"


def test_a_label_csv_naming_a_missing_image_names_it(tmp_path: Path):
    folder = _mhist(tmp_path, [["MHIST_aaa.png", "HP", 0, "train"], ["MHIST_aab.png", "SSA", 6, "test"]])
    _table(folder / "annotations.csv", MHIST_HEADER,
           [["MHIST_aaa.png", "HP", 0, "train"], ["MHIST_aab.png", "SSA", 6, "test"], ["MHIST_zzz.png", "SSA", 7, "test"]])
    with pytest.raises(DataNotFoundError, match=r"lists 'MHIST_zzz\.png' but .*images/MHIST_zzz\.png' is missing") as err:
        load("MHIST", tmp_path)
    _one_sentence(err)


# --- class folders: BACH, AJ-Lymph, CRC ----------------------------------------------------------


def test_bach_finds_its_class_folders_inside_the_release_folders(tmp_path: Path):
    photos = tmp_path / "BACH" / "ICIAR2018_BACH_Challenge" / "Photos"
    for i, name in enumerate(("Benign", "InSitu", "Invasive", "Normal")):
        _image(photos / name / f"{name[0].lower()}001.tif", value=i)
    (photos / "microscopy_ground_truth.csv").write_text("b001.tif,Benign\n")
    bach = load("BACH", tmp_path)
    assert bach.classes == ("Benign", "InSitu", "Invasive", "Normal") and bach.mpp == 0.42
    assert [i.labels for i in bach.images] == [(0,), (1,), (2,), (3,)]
    assert {i.split for i in bach.images} == {None}
    assert bach.images[1].id == "ICIAR2018_BACH_Challenge/Photos/InSitu/i001.tif"
    (photos / "Normal" / "n001.tif").unlink()
    (photos / "Normal").rmdir()
    with pytest.raises(DataNotFoundError, match=r"class folder '.*Photos/Normal'") as err:
        load("BACH", tmp_path)
    _one_sentence(err)


def _aj_lymph(root: Path) -> Path:
    folder = root / "AJ-Lymph"
    _image(folder / "CLL" / "sj-03-2810_001.tif", value=1)
    _image(folder / "FL" / "sj-05-1881-R1_001.tif", mode="L", value=80)  # grey
    _image(folder / "MCL" / "sj-04-3077-R2_001.png", mode="RGBA", value=200)
    return folder


def test_aj_lymph_reads_class_folders_and_gives_grey_and_rgba_images_as_rgb(tmp_path: Path):
    _aj_lymph(tmp_path)
    lymph = load("AJ-Lymph", tmp_path)
    assert lymph.classes == ("CLL", "FL", "MCL") and lymph.mpp == 0.25
    assert [i.labels for i in lymph.images] == [(0,), (1,), (2,)]
    grey, rgba = lymph.images[1].read(), lymph.images[2].read()
    assert grey.shape == rgba.shape == (16, 16, 3) and grey.dtype == rgba.dtype == np.uint8
    assert (grey == 80).all()
    assert abs(int(rgba[0, 0, 0]) - round(200 * 200 / 255 + 255 * (1 - 200 / 255))) <= 1  # alpha over white


def test_an_image_that_does_not_decode_is_skipped_counted_and_named_when_read(tmp_path: Path, caplog):
    folder = _aj_lymph(tmp_path)
    (folder / "CLL" / "broken.tif").write_bytes(b"not an image at all")
    lymph = load("AJ-Lymph", tmp_path)
    assert len(lymph.images) == 4 and lymph.skipped == []  # found at read time, not at load
    broken = next(i for i in lymph.images if i.id.endswith("broken.tif"))
    with pytest.raises(UnreadableImageError, match="broken.tif"):
        broken.read()
    with caplog.at_level(logging.WARNING, logger="cpath_repro.data.histokt"):
        read = [image.id for image, _ in lymph.readable()]
    assert len(read) == 3 and broken.id not in read
    assert len(lymph.skipped) == 1 and lymph.skipped[0][0].endswith("CLL/broken.tif")
    assert "broken.tif" in caplog.text


def _crc(root: Path, classes: tuple[str, ...], train: str = "NCT-CRC-HE-100K") -> Path:
    folder = root / "CRC"
    for part in (train, "CRC-VAL-HE-7K"):
        for name in classes:
            _image(folder / part / name / f"{name}-AAAA.tif")
    return folder


def test_crc_reads_train_and_test_folders_and_leaves_out_background_and_debris(tmp_path: Path):
    _crc(tmp_path, ("ADI", "BACK", "DEB", "TUM"))
    crc = load("CRC", tmp_path)
    assert crc.classes == ("ADI", "TUM") and crc.mpp == 0.5
    assert [(i.id, i.labels, i.split) for i in crc.images] == [
        ("NCT-CRC-HE-100K/ADI/ADI-AAAA.tif", (0,), "train"), ("NCT-CRC-HE-100K/TUM/TUM-AAAA.tif", (1,), "train"),
        ("CRC-VAL-HE-7K/ADI/ADI-AAAA.tif", (0,), "test"), ("CRC-VAL-HE-7K/TUM/TUM-AAAA.tif", (1,), "test")]
    assert sorted(f for f, _ in crc.skipped) == ["CRC-VAL-HE-7K/BACK", "CRC-VAL-HE-7K/DEB", "NCT-CRC-HE-100K/BACK",
                                                 "NCT-CRC-HE-100K/DEB"]
    assert histokt.load_crc(tmp_path / "CRC", exclude=()).classes == ("ADI", "BACK", "DEB", "TUM")


def test_crc_prefers_the_unnormalized_training_release_the_authors_used(tmp_path: Path):
    folder = _crc(tmp_path, ("ADI", "TUM"), train="NCT-CRC-HE-100K-NONORM")
    _image(folder / "NCT-CRC-HE-100K" / "ADI" / "other.tif")
    assert {i.id.split("/")[0] for i in load("CRC", tmp_path).images} == {"NCT-CRC-HE-100K-NONORM", "CRC-VAL-HE-7K"}


def test_a_single_class_left_after_filtering_stops_with_one_sentence(tmp_path: Path):
    _crc(tmp_path, ("BACK", "TUM"))
    with pytest.raises(UserError, match="only 'TUM' left after filtering") as err:
        load("CRC", tmp_path)
    _one_sentence(err)


# --- PCam ---------------------------------------------------------------------------------------


def _pcam(root: Path, n: int = 3) -> tuple[Path, dict[str, np.ndarray]]:
    folder = root / "PCam"
    folder.mkdir()
    patches = {}
    for k, split in enumerate(("train", "valid", "test")):
        x = np.arange(n * 8 * 8 * 3, dtype=np.uint8).reshape(n, 8, 8, 3) + 50 * k
        patches[split] = x
        with h5py.File(folder / f"camelyonpatch_level_2_split_{split}_x.h5", "w") as f:
            f.create_dataset("x", data=x, chunks=(1, 8, 8, 3))
        with h5py.File(folder / f"camelyonpatch_level_2_split_{split}_y.h5", "w") as f:
            f.create_dataset("y", data=np.array([0, 1, 1][:n], dtype=np.uint8).reshape(n, 1, 1, 1))
    return folder, patches


def test_pcam_reads_labels_and_the_three_splits_and_each_patch_only_when_asked(tmp_path: Path, monkeypatch):
    _, patches = _pcam(tmp_path)
    reads: list[tuple[str, object]] = []
    original = h5py.Dataset.__getitem__

    def spy(self, args, *rest):
        reads.append((self.name, args))
        return original(self, args, *rest)

    monkeypatch.setattr(h5py.Dataset, "__getitem__", spy)
    pcam = load("PCam", tmp_path)
    assert [name for name, _ in reads if name == "/x"] == []  # loading reads labels only
    assert pcam.classes == ("non_tumor", "tumor") and pcam.mpp == 0.972 and len(pcam.images) == 9
    assert [i.split for i in pcam.images] == ["train"] * 3 + ["val"] * 3 + ["test"] * 3
    assert [i.labels for i in pcam.images[:3]] == [(0,), (1,), (1,)]
    image = pcam.images[4]
    assert image.id == "val-1"
    np.testing.assert_array_equal(image.read(), patches["valid"][1])
    assert [args for name, args in reads if name == "/x"] == [1]  # one row, never the whole array
    assert pcam.images[-1].id == "test-2" and len(pcam.images[1:3]) == 2


def test_a_truncated_hdf5_file_is_named(tmp_path: Path):
    folder, _ = _pcam(tmp_path)
    path = folder / "camelyonpatch_level_2_split_test_x.h5"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataNotFoundError, match=r"split_test_x\.h5' is not a readable HDF5 file") as err:
        load("PCam", tmp_path)
    _one_sentence(err)


def test_a_gzipped_pcam_file_is_refused_with_the_gunzip_to_run(tmp_path: Path):
    folder, _ = _pcam(tmp_path)
    path = folder / "camelyonpatch_level_2_split_valid_y.h5"
    with gzip.open(path.with_name(path.name + ".gz"), "wb") as fh:
        fh.write(path.read_bytes())
    path.unlink()
    with pytest.raises(DataNotFoundError, match=r"split_valid_y\.h5\.gz' is compressed.*gunzip it first") as err:
        load("PCam", tmp_path)
    _one_sentence(err)
    (path.with_name(path.name + ".gz")).unlink()
    with pytest.raises(DataNotFoundError, match=r"split file '.*split_valid_y\.h5'; it is missing"):
        load("PCam", tmp_path)


# --- GlaS, OS -----------------------------------------------------------------------------------


def test_glas_reads_grade_csv_and_takes_test_a_as_validation_and_test_b_as_test(tmp_path: Path):
    release = tmp_path / "GlaS" / "warwick_qu_dataset_released_2016_07_08" / "Warwick QU Dataset (Released 2016_07_08)"
    rows = [["testA_1", " 4", " benign", " adenomatous"], ["testB_1", " 2", " malignant", " poorly differentiated"],
            ["train_1", " 1", " malignant", " moderately differentiated"], ["train_2", " 3", " benign", " healthy"]]
    for row in rows:
        _image(release / f"{row[0]}.bmp")
        _image(release / f"{row[0]}_anno.bmp", mode="L", value=1)
    _table(release / "Grade.csv", ["name", " patient ID", " grade (GlaS)", " grade (Sirinukunwattana et al. 2015)"], rows)
    glas = load("GlaS", tmp_path)
    assert glas.classes == ("benign", "malignant") and glas.mpp == 0.62
    assert _labels(glas) == {"testA_1.bmp": (0,), "testB_1.bmp": (1,), "train_1.bmp": (1,), "train_2.bmp": (0,)}
    assert [i.split for i in glas.images] == ["val", "test", "train", "train"]
    assert glas.images[0].read().shape == (16, 16, 3)


def test_osteosarcoma_finds_the_images_the_features_csv_names_and_leaves_out_mixed_ones(tmp_path: Path):
    release = tmp_path / "OS" / "Osteosarcoma-UT"
    rows = [["Case 3 A1 - 12", "Non-Tumor"], ["Case 4 B - 40044", "Viable"], ["Case 47 - 5", "Non-Viable-Tumor"],
            ["Case 50 - 9", "viable: non-viable"]]
    for i, (name, _) in enumerate(rows):
        _image(release / f"Training-Set-{1 + i % 2}" / "set" / (name.replace(" ", "-").replace("---", "-") + ".jpg"))
    _table(release / "ML_Features_1144.csv", ["image.name", "area", "classification"],
           [[n, 0.5, c] for n, c in rows])
    osteo = load("OS", tmp_path)
    assert osteo.classes == ("Non-Tumor", "Viable", "Non-Viable-Tumor") and osteo.mpp == 1.0
    assert _labels(osteo) == {"Case-3-A1-12.jpg": (0,), "Case-4-B-40044.jpg": (1,), "Case-47-5.jpg": (2,)}
    assert [f for f, _ in osteo.skipped] == ["Osteosarcoma-UT/Training-Set-2/set/Case-50-9.jpg"]
    _table(release / "ML_Features_1144.csv", ["image.name", "classification"], [*rows, ["Case 9 - 1", "Viable"]])
    with pytest.raises(DataNotFoundError, match=r"lists the image 'Case 9 - 1' but no file") as err:
        load("OS", tmp_path)
    _one_sentence(err)


# --- BCSS ---------------------------------------------------------------------------------------

BCSS_CODES = [("outside_roi", 0), ("tumor", 1), ("stroma", 2), ("lymphocytic_infiltrate", 3),
              ("necrosis_or_debris", 4), ("glandular_secretions", 5), ("blood", 6), ("exclude", 7),
              ("metaplasia_NOS", 8), ("fat", 9), ("plasma_cells", 10), ("blood_vessel", 18), ("dcis", 20)]


def test_bcss_reads_images_masks_and_gt_codes_and_masks_become_class_indices(tmp_path: Path):
    base = tmp_path / "BCSS" / "0_Public-data-Amgad2019_0.25MPP"
    roi = "TCGA-A1-A0SK-DX1_xmin45749_ymin25055_MPP-0.2500.png"
    _image(base / "rgbs_colorNormalized" / roi)
    codes = np.zeros((16, 16), dtype=np.uint8)  # outside_roi
    codes[:, :8] = 1  # tumor, half
    codes[:4, 8:] = 18  # blood_vessel, an eighth
    codes[4:, 8:10] = 20  # dcis: not one of the 10 classes
    (base / "masks").mkdir(parents=True)
    Image.fromarray(codes).save(base / "masks" / roi)
    _table(base / "meta" / "gtruth_codes.tsv", ["label", "GT_code"], BCSS_CODES, delimiter="\t")
    bcss = load("BCSS", tmp_path)
    assert bcss.classes == BCSS_CLASSES and len(bcss.classes) == 10 and bcss.multilabel and bcss.mpp == 0.25
    (image,) = bcss.images
    assert image.id == f"0_Public-data-Amgad2019_0.25MPP/rgbs_colorNormalized/{roi}" and image.labels == ()
    assert image.mask is not None
    mask = image.mask()
    assert mask.shape == (16, 16) and mask[0, 0] == 0 and mask[0, 8] == BCSS_CLASSES.index("blood_vessel")
    assert mask[8, 8] == MASK_NONE and mask[15, 15] == MASK_NONE
    assert crop_labels(mask) == (0, BCSS_CLASSES.index("blood_vessel"))
    (base / "masks" / roi).unlink()
    with pytest.raises(DataNotFoundError, match=r"has no mask: '.*masks/TCGA-A1-A0SK") as err:
        load("BCSS", tmp_path)
    _one_sentence(err)


def test_crop_labels_keep_classes_above_the_minimum_fraction_and_drop_unlabelled_crops():
    crop = np.full((20, 20), MASK_NONE, dtype=np.uint8)
    crop[:10] = 2  # 50 %
    crop[10, :16] = 5  # 4 %: below MIN_CLASS_FRACTION
    crop[11:13] = 7  # 10 %
    assert crop_labels(crop) == (2, 7)
    assert crop_labels(crop, min_fraction=0.01) == (2, 5, 7)
    sparse = np.full((20, 20), MASK_NONE, dtype=np.uint8)
    sparse[:3] = 1  # 15 % labelled: below MIN_LABELLED_FRACTION
    assert crop_labels(sparse) == ()


# --- the entry points ---------------------------------------------------------------------------


def test_absent_datasets_are_listed_and_present_ones_loaded(tmp_path: Path):
    _mhist(tmp_path, [["a.png", "HP", 0, "train"], ["b.png", "SSA", 7, "test"]])
    _aj_lymph(tmp_path)
    loaded, absent = load_available(tmp_path)
    assert sorted(loaded) == ["AJ-Lymph", "MHIST"]
    assert absent == ["ADP", "BACH", "PCam", "CRC", "GlaS", "OS", "BCSS"]
    assert load("MHIST", tmp_path / "MHIST").folder == tmp_path / "MHIST"  # the dataset's own folder works too
    with pytest.raises(DataNotFoundError, match="Expected ADP"):
        load("ADP", tmp_path)
