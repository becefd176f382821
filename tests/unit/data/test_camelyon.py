import pytest

from cpath_repro.data.camelyon import (
    C16_REFERENCE,
    C17_LABELS,
    load_camelyon16,
    load_camelyon17,
    read_stage_labels,
)
from cpath_repro.errors import DataNotFoundError, ParameterError, UserError
from cpath_repro.metrics.staging import NODES_PER_PATIENT, SLIDE_CLASSES, pn_stage
from cpath_repro.synth.slide_folders import draw_patients, write_camelyon16, write_camelyon17
from cpath_repro.synth.slides import MIN_MACRO_MAP_PATCHES, Geometry
from cpath_repro.wsi import open_slide
from cpath_repro.wsi.annotations import read_asap

TINY = Geometry(mpp=8.0, patch_px=8)  # 64 um patches: a 28-patch map is 224 px
PATIENTS = [["macro", "negative", "itc", "negative", "micro"], ["negative"] * 5]


def _one_sentence(error: BaseException) -> None:
    message = str(error)
    assert "\n" not in message and message.endswith(".")


@pytest.fixture(scope="module")
def c16(tmp_path_factory):
    root = tmp_path_factory.mktemp("data") / "CAMELYON16"
    return write_camelyon16(root, geometry=TINY, n_tumour=2, n_normal=1, n_test=2, map_patches=MIN_MACRO_MAP_PATCHES)


@pytest.fixture(scope="module")
def c17(tmp_path_factory):
    root = tmp_path_factory.mktemp("data") / "CAMELYON17"
    return write_camelyon17(root, PATIENTS, geometry=TINY, map_patches=MIN_MACRO_MAP_PATCHES, annotated=0.67)


def test_camelyon16_layout_is_written_and_loaded_back(c16):
    assert (c16 / "training/tumor/tumor_001.tif").is_file()
    assert (c16 / "training/lesion_annotations/tumor_002.xml").is_file()
    assert not (c16 / "training/lesion_annotations/normal_001.xml").exists()
    assert (c16 / C16_REFERENCE).read_text() == "test_001,Tumor,Macro\ntest_002,Normal\n"
    for root in (c16, c16.parent):  # the dataset folder or data_root holding it
        slides = load_camelyon16(root)
        assert [(s.name, s.label, s.split, s.annotation is not None) for s in slides] == [
            ("tumor_001", "tumor", "train", True),
            ("tumor_002", "tumor", "train", True),
            ("normal_001", "normal", "train", False),
            ("test_001", "tumor", "test", True),
            ("test_002", "normal", "test", False),
        ]
    first = slides[0]
    assert first.slide == c16 / "training/tumor/tumor_001.tif"
    assert {r.group for r in read_asap(first.annotation)} == {"Tumor"}
    with open_slide(first.slide) as slide:
        assert slide.vendor == "generic-tiff" and slide.mpp == pytest.approx((8.0, 8.0))
        assert slide.dimensions[0] == MIN_MACRO_MAP_PATCHES * TINY.patch_px


def test_camelyon17_layout_is_written_and_loaded_back(c17):
    data = load_camelyon17(c17.parent)
    assert data.folder == c17
    assert len(data.slides) == 10 and len(data.patients) == 2
    assert [s.slide_class for s in data.slides] == PATIENTS[0] + PATIENTS[1]
    assert [(p.patient, p.stage) for p in data.patients] == [("patient_000", "pN1"), ("patient_001", "pN0")]
    assert [s.node for s in data.patients[0].slides] == list(range(NODES_PER_PATIENT))
    assert {s.center for s in data.patients[0].slides} == {0} and {s.center for s in data.patients[1].slides} == {1}
    assert data.slides[0].slide == c17 / "training/center_0/patient_000_node_0.tif"
    # two thirds of the three lesion slides annotated, in name order; negatives never
    assert [s.name for s in data.slides if s.annotation] == ["patient_000_node_0", "patient_000_node_2"]
    stages, classes = read_stage_labels(c17 / C17_LABELS)
    assert stages == {"patient_000": "pN1", "patient_001": "pN0"}
    assert classes["patient_000_node_4"] == "micro"
    assert (c17 / C17_LABELS).read_text().splitlines()[:2] == ["patient,stage", "patient_000.zip,pN1"]


def test_stage_labels_naming_a_missing_slide_is_one_sentence(c17, tmp_path):
    import shutil

    copy = tmp_path / "CAMELYON17"
    shutil.copytree(c17, copy)
    (copy / "training/center_1/patient_001_node_3.tif").unlink()
    with pytest.raises(UserError, match="patient_001_node_3.tif") as info:
        load_camelyon17(copy)
    assert str(copy / "training") in str(info.value)
    _one_sentence(info.value)
    labels = copy / C17_LABELS
    labels.write_text(labels.read_text().replace("patient_000.zip,pN1", "patient_000.zip,pN9"))
    with pytest.raises(UserError, match="pN9") as info:
        load_camelyon17(copy)
    _one_sentence(info.value)


def test_a_folder_without_the_layout_is_data_not_found(tmp_path):
    with pytest.raises(DataNotFoundError):
        load_camelyon16(tmp_path)
    with pytest.raises(DataNotFoundError):
        load_camelyon17(tmp_path)
    stray = tmp_path / "CAMELYON16"
    stray.mkdir()
    (stray / "slide.tif").write_bytes(b"II*\x00")
    with pytest.raises(DataNotFoundError, match="training/tumor") as info:
        load_camelyon16(tmp_path)
    _one_sentence(info.value)
    (tmp_path / "CAMELYON17").mkdir()
    (tmp_path / "CAMELYON17/stage_labels.csv").write_text("patient,stage\n")
    with pytest.raises(DataNotFoundError, match="center_0") as info:
        load_camelyon17(tmp_path)
    _one_sentence(info.value)


def test_drawn_patients_are_deterministic_and_valid():
    drawn = draw_patients(6, seed=3)
    assert drawn == draw_patients(6, seed=3) and len(drawn) == 6
    assert all(len(p) == NODES_PER_PATIENT and set(p) <= set(SLIDE_CLASSES) for p in drawn)
    assert all(pn_stage(p) for p in drawn)
    with pytest.raises(ParameterError):
        write_camelyon17("unused", [["macro"]], geometry=TINY)


def test_reference_rows_for_absent_test_slides_are_skipped_with_a_warning(c16, tmp_path, caplog):
    import shutil

    copy = tmp_path / "CAMELYON16"
    shutil.copytree(c16, copy)
    (copy / C16_REFERENCE).write_text("test_001,Tumor,Macro\ntest_002,Normal\ntest_114,Normal\n")
    with caplog.at_level("WARNING"):
        slides = load_camelyon16(copy)
    assert [s.name for s in slides if s.split == "test"] == ["test_001", "test_002"]
    assert "test_114" in caplog.text
    (copy / C16_REFERENCE).write_text("test_001,Maybe\n")
    with pytest.raises(UserError, match="Maybe") as info:
        load_camelyon16(copy)
    _one_sentence(info.value)
