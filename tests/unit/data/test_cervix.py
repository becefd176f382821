"""Paper C's Kaggle layout loads from a tiny fixture written in that layout; unreadable photographs are skipped,
counted and named; bad layouts and bad submission rows stop with one sentence naming the file."""

from __future__ import annotations

import csv
import logging
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile, JpegImagePlugin

from cpath_repro.data import cervix
from cpath_repro.data.cervix import (
    NAME,
    PAPER_SIZE,
    SUBMISSION_HEADER,
    TYPES,
    UnreadableImageError,
    load,
    log_loss,
    read_image,
    read_submission,
    write_submission,
)
from cpath_repro.errors import DataNotFoundError, ParameterError, UserError

INITIAL = (2, 3, 1)
ADDITIONAL = (1, 2, 1)
TEST = ("7.jpg", "11.jpg", "30.jpg")


def _jpeg(path: Path, size: tuple[int, int] = (16, 12), value: int = 100, mode: str = "RGB",
          noise: bool = False, orientation: int | None = None) -> Path:
    """A JPEG of ``size`` = (width, height) pixels."""
    path.parent.mkdir(parents=True, exist_ok=True)
    width, height = size
    shape = (height, width) if mode == "L" else (height, width, 3)
    pixels = (np.random.default_rng(0).integers(0, 256, shape) if noise else np.full(shape, value)).astype(np.uint8)
    extra = {}
    if orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = orientation
        extra["exif"] = exif
    Image.fromarray(pixels).save(path, "JPEG", quality=95, **extra)
    return path


def _kaggle(root: Path, additional: str | None = "additional/{t}", test: bool = True) -> Path:
    """``root/<NAME>/`` with INITIAL, ADDITIONAL and TEST images; file names repeat across sets, as Kaggle's do."""
    folder = root / NAME
    for label, t in enumerate(TYPES):
        for i in range(INITIAL[label]):
            _jpeg(folder / "train" / t / f"{label * 10 + i}.jpg", value=40 * label)
        if additional is not None:
            for i in range(ADDITIONAL[label]):
                _jpeg(folder / additional.format(t=t) / f"{i}.jpg", value=40 * label + 10)
    if test:
        for name in TEST:
            _jpeg(folder / "test" / name)
    return folder


def _one_sentence(err: pytest.ExceptionInfo[BaseException]) -> str:
    message = str(err.value)
    assert message.endswith(".") and ". " not in message and "\n" not in message, message
    return message


# --- listing -----------------------------------------------------------------------------------


def test_load_lists_each_set_with_its_types_labels_and_test_names(tmp_path: Path):
    folder = _kaggle(tmp_path)
    data = load(tmp_path)
    assert data.folder == folder and data.absent == () and data.skipped == []
    assert data.counts("initial") == INITIAL and data.counts("additional") == ADDITIONAL
    assert len(data.images) == sum(INITIAL) + sum(ADDITIONAL) + len(TEST)
    assert [i.label for i in data.initial] == [0, 0, 1, 1, 1, 2]
    assert data.labels(data.initial).tolist() == [0, 0, 1, 1, 1, 2]
    assert {i.id for i in data.initial if i.label == 1} == {"train/Type_2/10.jpg", "train/Type_2/11.jpg",
                                                             "train/Type_2/12.jpg"}
    # "0.jpg" is in each additional Type folder: the ids tell them apart, the names repeat
    assert [i.id for i in data.additional if i.name == "0.jpg"] == [f"additional/{t}/0.jpg" for t in TYPES]
    assert sorted(i.name for i in data.test) == sorted(TEST) and all(i.label is None for i in data.test)
    assert len({i.id for i in data.images}) == len(data.images)
    assert load(folder).images == data.images  # data_root may be the set's own folder


def test_listing_reads_names_not_pixels(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    _kaggle(tmp_path)
    (tmp_path / NAME / "train" / "Type_1" / "broken.jpg").write_bytes(b"not a jpeg")
    (tmp_path / NAME / "train" / "Type_1" / "notes.txt").write_text("not an image name")

    def no_decoding(*args: object, **kwargs: object) -> None:
        raise AssertionError("load() opened an image")

    monkeypatch.setattr(Image, "open", no_decoding)
    data = load(tmp_path)
    assert data.counts("initial") == (INITIAL[0] + 1, *INITIAL[1:])  # broken.jpg listed, notes.txt not
    assert data.skipped == []


def test_optional_sets_that_are_absent_are_listed_and_can_be_required(tmp_path: Path):
    _kaggle(tmp_path, additional=None, test=False)
    data = load(tmp_path)
    assert data.absent == ("additional", "test") and data.additional == [] and data.test == []
    with pytest.raises(DataNotFoundError) as err:
        load(tmp_path, require=("initial", "test"))
    assert "test/*.jpg" in _one_sentence(err) and str(tmp_path / NAME) in str(err.value)


@pytest.mark.parametrize("spelling", ["additional_{t}_v2/{t}", "additional_{t}_v2"])
def test_kaggles_additional_archive_folders_are_read_too(tmp_path: Path, spelling: str):
    _kaggle(tmp_path, additional=spelling)
    data = load(tmp_path)
    assert data.counts("additional") == ADDITIONAL and data.absent == ()


def test_additional_unpacked_twice_is_read_once_from_additional(tmp_path: Path):
    folder = _kaggle(tmp_path)
    _jpeg(folder / "additional_Type_1_v2" / "Type_1" / "99.jpg")
    data = load(tmp_path)
    assert data.counts("additional") == ADDITIONAL
    assert all(i.id.startswith("additional/") for i in data.additional)


# --- bad layouts -------------------------------------------------------------------------------


def test_a_missing_data_root_names_the_path(tmp_path: Path):
    with pytest.raises(UserError) as err:
        load(tmp_path / "nowhere")
    assert isinstance(err.value, DataNotFoundError) and str(tmp_path / "nowhere") in _one_sentence(err)


def test_a_folder_without_the_train_folder_names_what_was_expected_where(tmp_path: Path):
    (tmp_path / NAME / "test").mkdir(parents=True)
    with pytest.raises(DataNotFoundError) as err:
        load(tmp_path)
    message = _one_sentence(err)
    assert str(tmp_path / NAME) in message and "train/Type_1..3/*.jpg" in message


def test_a_missing_type_folder_is_named(tmp_path: Path):
    folder = _kaggle(tmp_path)
    for file in (folder / "train" / "Type_2").iterdir():
        file.unlink()
    (folder / "train" / "Type_2").rmdir()
    with pytest.raises(DataNotFoundError) as err:
        load(tmp_path)
    assert "Type_2 is missing" in _one_sentence(err) and str(folder / "train") in str(err.value)


@pytest.mark.parametrize("where", ["train/Type_3", "additional/Type_1", "test"])
def test_an_empty_class_or_test_folder_is_refused_and_named(tmp_path: Path, where: str):
    folder = _kaggle(tmp_path)
    for file in (folder / where).iterdir():
        file.unlink()
    (folder / where / "Thumbs.db").write_bytes(b"")  # not a .jpg
    with pytest.raises(DataNotFoundError) as err:
        load(tmp_path)
    assert f"'{folder / where}' holds no .jpg image" in _one_sentence(err)


def test_an_additional_set_missing_a_type_is_refused(tmp_path: Path):
    folder = _kaggle(tmp_path, additional="additional_{t}_v2")
    for file in (folder / "additional_Type_3_v2").iterdir():
        file.unlink()
    (folder / "additional_Type_3_v2").rmdir()
    with pytest.raises(DataNotFoundError) as err:
        load(tmp_path)
    assert "no Type_3 folder" in _one_sentence(err) and "additional_Type_3_v2.7z" in str(err.value)


def test_an_additional_folder_without_type_folders_is_refused(tmp_path: Path):
    folder = _kaggle(tmp_path, additional=None)
    (folder / "additional" / "stray").mkdir(parents=True)
    with pytest.raises(DataNotFoundError) as err:
        load(tmp_path)
    assert str(folder / "additional") in _one_sentence(err)


# --- reading pixels ----------------------------------------------------------------------------


def test_read_gives_the_papers_320_by_240_as_rgb_uint8(tmp_path: Path):
    assert PAPER_SIZE == (240, 320)  # (height, width): "320 by 240" from 4096 by 3072
    colour = _jpeg(tmp_path / "c.jpg", size=(64, 48), value=120)
    grey = _jpeg(tmp_path / "g.jpg", size=(30, 50), value=200, mode="L")
    pixels = read_image(colour)
    assert pixels.shape == (240, 320, 3) and pixels.dtype == np.uint8
    assert abs(float(pixels.mean()) - 120) < 3
    small = read_image(grey, (12, 20))
    assert small.shape == (12, 20, 3) and small.dtype == np.uint8 and abs(float(small.mean()) - 200) < 3
    assert read_image(grey, None).shape == (50, 30, 3)


def test_read_applies_the_exif_orientation(tmp_path: Path):
    pixels = np.zeros((20, 40, 3), np.uint8)  # stored 40 wide, 20 tall: left half red, right half blue
    pixels[:, :20, 0] = 255
    pixels[:, 20:, 2] = 255
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display": the stored left edge goes to the top
    Image.fromarray(pixels).save(tmp_path / "side.jpg", "JPEG", quality=95, exif=exif)
    upright = read_image(tmp_path / "side.jpg", None)
    assert upright.shape == (40, 20, 3)
    assert upright[:15, :, 0].mean() > 200 and upright[25:, :, 2].mean() > 200
    assert read_image(tmp_path / "side.jpg", (8, 4))[:3, :, 0].mean() > 200


def test_read_decodes_large_jpegs_scaled_down_by_draft(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    decoded: list[tuple[int, int]] = []
    draft = JpegImagePlugin.JpegImageFile.draft

    def spy(self: JpegImagePlugin.JpegImageFile, mode: str | None, size: tuple[int, int] | None) -> object:
        result = draft(self, mode, size)
        decoded.append(self.size)
        return result

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", spy)
    assert read_image(_jpeg(tmp_path / "big.jpg", size=(1280, 960)), PAPER_SIZE).shape == (240, 320, 3)
    # stored 1280×640 and shown rotated (640 wide, 1280 tall): draft must ask for the stored orientation
    sideways = _jpeg(tmp_path / "sideways.jpg", size=(1280, 640), orientation=6)
    assert read_image(sideways, (320, 160)).shape == (320, 160, 3)
    assert decoded == [(320, 240), (320, 160)]  # 1/4 scale each, never smaller than the target


@pytest.mark.parametrize("size", [(240,), (0, 320), (240.5, 320), "24", (True, 3)])
def test_a_bad_size_is_refused(tmp_path: Path, size: object):
    with pytest.raises(ParameterError) as err:
        read_image(_jpeg(tmp_path / "a.jpg"), size)  # type: ignore[arg-type]
    assert "(height, width)" in _one_sentence(err)


def test_truncated_and_non_image_jpegs_are_skipped_counted_and_named(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    folder = _kaggle(tmp_path)
    whole = _jpeg(folder / "train" / "Type_2" / "cut.jpg", size=(64, 64), noise=True).read_bytes()
    (folder / "train" / "Type_2" / "cut.jpg").write_bytes(whole[: len(whole) // 2])
    (folder / "test" / "html.jpg").write_bytes(b"<html>Kaggle download interrupted</html>")
    data = load(tmp_path)
    assert data.counts("initial") == (INITIAL[0], INITIAL[1] + 1, INITIAL[2])  # listed: not decoded yet
    cut = next(i for i in data.images if i.name == "cut.jpg")
    with pytest.raises(UnreadableImageError, match="truncated") as err:
        cut.read()
    assert "cut.jpg" in _one_sentence(err)
    with caplog.at_level(logging.WARNING, logger="cpath_repro.data.cervix"):
        read = [image.id for image, pixels in data.readable(size=(12, 16))]
    assert len(read) == len(data.images) - 2
    assert [file for file, _ in data.skipped] == ["train/Type_2/cut.jpg", "test/html.jpg"]
    assert "truncated" in data.skipped[0][1] and "cannot identify" in data.skipped[1][1]
    assert "cut.jpg" in caplog.text and "html.jpg" in caplog.text
    list(data.readable(data.test, size=(12, 16)))  # read again: counted once
    assert len(data.skipped) == 2


def test_reading_refuses_to_run_when_pil_accepts_truncated_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    with pytest.raises(UserError) as err:
        read_image(_jpeg(tmp_path / "a.jpg"))
    assert "LOAD_TRUNCATED_IMAGES" in _one_sentence(err)


# --- the submission ----------------------------------------------------------------------------


def test_submission_is_kaggles_csv_with_rows_summing_to_one(tmp_path: Path):
    names = ["7.jpg", "11.jpg", "30.jpg"]
    probabilities = np.array([[0.2, 0.5, 0.3], [1 / 3, 1 / 3, 1 / 3], [0.0, 0.0, 1.0]])
    path = write_submission(tmp_path / "out" / "submission.csv", names, probabilities, expected_names=TEST)
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["image_name", "Type_1", "Type_2", "Type_3"] == list(SUBMISSION_HEADER)
    assert [r[0] for r in rows[1:]] == names
    assert all(abs(sum(float(v) for v in r[1:]) - 1) < 1e-9 for r in rows[1:])
    read_names, read_probabilities = read_submission(path)
    assert read_names == names and np.array_equal(read_probabilities, probabilities)
    assert [p.name for p in path.parent.iterdir()] == ["submission.csv"]  # no temporary file left


@pytest.mark.parametrize(("probabilities", "says"), [
    ([[0.2, 0.5, 0.3], [0.3, 0.3, 0.3]], "summing to 0.9"),
    ([[0.2, 0.5, 0.3], [1.1, -0.1, 0.0]], "≥ 0"),
    ([[0.2, 0.5, 0.3], [math.nan, 0.5, 0.5]], "finite"),
    ([[0.2, 0.5, 0.3]], "shape (1, 3)"),
    ([[0.5, 0.5], [0.5, 0.5]], "shape (2, 2)"),
])
def test_a_bad_probability_row_is_refused_and_leaves_no_file(tmp_path: Path, probabilities: list[list[float]],
                                                             says: str):
    path = tmp_path / "submission.csv"
    with pytest.raises(ParameterError) as err:
        write_submission(path, ["7.jpg", "11.jpg"], probabilities)
    message = _one_sentence(err)
    assert says in message and str(path) in message
    assert list(tmp_path.iterdir()) == []  # nothing written, not even a temporary file


def test_a_refused_submission_keeps_the_previous_file(tmp_path: Path):
    path = write_submission(tmp_path / "submission.csv", ["7.jpg"], [[0.2, 0.5, 0.3]])
    before = path.read_bytes()
    with pytest.raises(ParameterError, match="row 1 \\(7.jpg\\)"):
        write_submission(path, ["7.jpg"], [[0.2, 0.5, 0.31]])
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["submission.csv"]


@pytest.mark.parametrize(("names", "expected", "says"), [
    (["7.jpg", "7.jpg"], None, "appears twice"),
    (["7.jpg", "a,b.jpg"], None, "without commas"),
    (["7.jpg", "11.jpg"], ["7.jpg", "11.jpg", "30.jpg"], "no row for the test image '30.jpg'"),
    (["7.jpg", "12.jpg"], ["7.jpg"], "'12.jpg', which is not a test image"),
])
def test_submission_names_must_be_one_row_per_test_image(tmp_path: Path, names: list[str], expected: list[str] | None,
                                                        says: str):
    with pytest.raises(ParameterError) as err:
        write_submission(tmp_path / "s.csv", names, [[1, 0, 0], [0, 1, 0]], expected_names=expected)
    assert says in _one_sentence(err) and not (tmp_path / "s.csv").exists()


@pytest.mark.parametrize(("text", "says"), [
    ("image_name,Type_1,Type_2\n7.jpg,0.5,0.5\n", "not Kaggle's header"),
    ("image_name,Type_1,Type_2,Type_3\n7.jpg,0.5,half,0\n", "Line 2"),
    ("image_name,Type_1,Type_2,Type_3\n7.jpg,0.5,0.6,0\n", "summing to 1.1"),
])
def test_reading_a_malformed_submission_names_the_file(tmp_path: Path, text: str, says: str):
    path = tmp_path / "s.csv"
    path.write_text(text)
    with pytest.raises(UserError) as err:
        read_submission(path)
    assert says in _one_sentence(err) and str(path) in str(err.value)
    with pytest.raises(DataNotFoundError):
        read_submission(tmp_path / "missing.csv")


def test_log_loss_is_the_mean_negative_log_probability_of_the_true_type():
    probabilities = [[0.7, 0.2, 0.1], [0.25, 0.5, 0.25]]
    assert log_loss([0, 1], probabilities) == pytest.approx(-(math.log(0.7) + math.log(0.5)) / 2)
    assert log_loss([2, 2], [[1 / 3] * 3] * 2) == pytest.approx(math.log(3))  # uniform reference, Type_3 only
    assert cervix.TYPES == ("Type_1", "Type_2", "Type_3")
