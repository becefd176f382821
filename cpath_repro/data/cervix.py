"""Paper C's data: the Kaggle Intel & MobileODT cervix photographs, read from the competition's layout.

Why a module: paper C trains on the competition's "initial" images, cleans and adds its "additional"
images, and is scored on its unlabelled test images as a Kaggle submission. :func:`load` reads the
layout from ``data_root`` (through :func:`cpath_repro.data.layout.locate`, so ``data_root`` is either
the folder holding ``intel-mobileodt-cervical-cancer-screening/`` or that folder itself)::

    train/Type_1..3/*.jpg        the initial set (required)
    additional/Type_1..3/*.jpg   the additional set (optional)
    test/*.jpg                   the test set, unlabelled (optional); file names are Kaggle's image_name

Kaggle also shipped the additional set as three archives, ``additional_Type_k_v2.7z``; unpacked where
they are, they are accepted too: for each type the first of ``additional/Type_k``,
``additional_Type_k_v2/Type_k`` and ``additional_Type_k_v2`` that exists is read and the others are not
(so a set unpacked twice is not counted twice). Only ``*.jpg`` / ``*.jpeg`` files (any case) count as
images; other files in these folders are not read. Kaggle's second-stage ``test_stg2/`` is not read.
File names repeat across sets (``10.jpg`` is in several), so an image's id is its path relative to the
dataset folder (``train/Type_1/10.jpg``).

Listing reads names, not pixels: an image that does not decode is found when it is read. The real set
is known to hold truncated and unreadable JPEGs, so :meth:`CervixData.readable` - the way to iterate -
skips each, logs it (``logging.warning``, naming the file) and adds ``(id, why)`` to
:attr:`CervixData.skipped` for the page to count and name. What stops loading instead, with one
sentence naming what was expected where (:class:`~cpath_repro.errors.DataNotFoundError`): no dataset
folder; a set with none of its Type folders or only some of them; a Type folder, or ``test/``, that
holds no ``.jpg``. An empty class folder is refused rather than skipped because a three-class
classifier trained without one class, or an additional set missing one, would change the experiment
silently; the way out is to unpack that archive again (or remove the optional set).

Reading (:func:`read_image`): RGB uint8, upright by the photograph's EXIF orientation
(``PIL.ImageOps.exif_transpose``; phone photographs are often stored sideways), resized to
``(height, width)``: paper C's 320×240 (Sec. 5.1, "we resize these images to 320 by 240 pixels",
from 4096 by 3072) is width 320, height 240, :data:`PAPER_SIZE` = ``(240, 320)``. A truncated JPEG is
not an image: PIL's ``ImageFile.LOAD_TRUNCATED_IMAGES`` is left False (a read refuses to run when
something in the process has set it True) and every read forces a full ``load()``, so a file whose
scan data stops early raises instead of returning grey rows.

Submission: :func:`write_submission` writes Kaggle's CSV (``image_name,Type_1,Type_2,Type_3``, one row
per test image), atomically, and refuses - it does not clip or renormalise - a row with a negative or
non-finite probability or one whose probabilities do not sum to one within 1e-6; :func:`read_submission`
reads one back with the same checks. :func:`log_loss` is the competition's metric.
"""

from __future__ import annotations

import csv
import io
import logging
import numbers
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cpath_repro.atomic import write_text
from cpath_repro.data.histokt import UnreadableImageError
from cpath_repro.data.layout import locate
from cpath_repro.errors import DataNotFoundError, ParameterError, UserError

log = logging.getLogger(__name__)

#: The dataset's folder name under ``data_root`` (cpath_repro.data.layout.DATASETS).
NAME = "intel-mobileodt-cervical-cancer-screening"
#: The three cervix types, in label order: label ``k`` is ``TYPES[k]`` (Kaggle's column order).
TYPES = ("Type_1", "Type_2", "Type_3")
#: The sets, by paper C's names ("initial" is Kaggle's ``train/``).
SETS = ("initial", "additional", "test")
#: Paper C's image size as (height, width) in pixels: "320 by 240" (Sec. 5.1) is width 320, height 240.
PAPER_SIZE = (240, 320)
#: Kaggle's submission header.
SUBMISSION_HEADER = ("image_name", *TYPES)
#: How far a submission row's probabilities may sum from one.
SUM_TOLERANCE = 1e-6
JPEG_SUFFIXES = frozenset({".jpg", ".jpeg"})

_INITIAL = "train"
_TEST = "test"
#: Where each type's additional images may be, first found wins (``{t}`` is the type's folder name).
_ADDITIONAL = ("additional/{t}", "additional_{t}_v2/{t}", "additional_{t}_v2")
#: EXIF orientations that swap width and height (rotations by 90° and the transposes).
_SWAPS_AXES = frozenset({5, 6, 7, 8})
_EXIF_ORIENTATION = 0x0112


# --- reading pixels -------------------------------------------------------------------------


def _check_size(size: Sequence[int]) -> tuple[int, int]:
    ok = (not isinstance(size, str) and len(size) == 2
          and all(isinstance(s, numbers.Integral) and not isinstance(s, bool) and s > 0 for s in size))
    if not ok:
        raise ParameterError(f"Expected size as (height, width) in pixels, such as {PAPER_SIZE} for paper C's 320×240, "
                             f"got {size!r}.")
    return int(size[0]), int(size[1])


def read_image(path: str | Path, size: Sequence[int] | None = PAPER_SIZE) -> np.ndarray:
    """The photograph at ``path`` as H×W×3 uint8 RGB, upright by its EXIF orientation, resized to ``size`` =
    (height, width) pixels (``None``: full resolution), or :class:`UnreadableImageError` naming it.

    Speed: ``Image.draft`` asks the JPEG decoder to scale by 1/2, 1/4 or 1/8 while decoding (in the DCT,
    an area average), to the smallest size still at least ``size``; a 4096×3072 photograph then decodes at
    512×384 - measured here 0.03 s instead of 0.14 s per image. PIL's resize (Lanczos, its support widened
    by the reduction factor, so it anti-aliases as ``skimage.transform.resize(anti_aliasing=True)`` does)
    takes the rest of the way. Aspect ratio is not kept: every image becomes ``size``, as in the paper.
    """
    from PIL import Image, ImageFile, ImageOps

    path = Path(path)
    target = None if size is None else _check_size(size)
    if ImageFile.LOAD_TRUNCATED_IMAGES:
        raise UserError("PIL.ImageFile.LOAD_TRUNCATED_IMAGES is True in this process, which would let truncated JPEGs "
                        "through as images; set it back to False before reading the cervix photographs.")
    if not path.is_file():
        raise DataNotFoundError(f"Image '{path}' was there when the dataset was loaded but is missing now.")
    try:
        with Image.open(path) as opened:
            if target is not None:
                height, width = target
                # draft works on the stored pixels: ask for the target as the image is stored (turned back by
                # the EXIF rotation), or a sideways photograph could decode smaller than the target
                swap = opened.getexif().get(_EXIF_ORIENTATION, 1) in _SWAPS_AXES
                opened.draft("RGB", (height, width) if swap else (width, height))
            opened.load()  # decode everything now: a truncated file raises here
            image = ImageOps.exif_transpose(opened).convert("RGB")
        if target is not None and image.size != (target[1], target[0]):
            image = image.resize((target[1], target[0]), Image.Resampling.LANCZOS)
        pixels = np.asarray(image, dtype=np.uint8)
    except Exception as exc:  # PIL raises OSError, ValueError, SyntaxError... on a broken file
        raise UnreadableImageError(str(path), f"{type(exc).__name__}: {exc}") from None
    return pixels


# --- the dataset ----------------------------------------------------------------------------


@dataclass(frozen=True)
class CervixImage:
    """One photograph: where it is, its set and type; its pixels on demand (:meth:`read`)."""

    id: str  # path relative to the dataset folder, e.g. "train/Type_1/10.jpg" (file names repeat across sets)
    name: str  # the file name, Kaggle's image_name for test images ("10.jpg")
    subset: str  # "initial", "additional" or "test"
    label: int | None  # index into TYPES; None for test images
    path: Path

    def read(self, size: Sequence[int] | None = PAPER_SIZE) -> np.ndarray:
        """H×W×3 uint8 at ``size`` = (height, width); raises :class:`UnreadableImageError`."""
        return read_image(self.path, size)


@dataclass(frozen=True)
class CervixData:
    """The Kaggle set as found: its images (initial, then additional, then test), the optional sets that
    are not there, and the images left out when read (id, why)."""

    folder: Path
    images: tuple[CervixImage, ...]
    absent: tuple[str, ...] = ()  # among "additional", "test"
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def of(self, subset: str) -> list[CervixImage]:
        """The images of one set, in load order (by type, then file name)."""
        if subset not in SETS:
            raise ParameterError(f"Unknown set {subset!r}; expected one of {', '.join(SETS)}.")
        return [image for image in self.images if image.subset == subset]

    @property
    def initial(self) -> list[CervixImage]:
        return self.of("initial")

    @property
    def additional(self) -> list[CervixImage]:
        return self.of("additional")

    @property
    def test(self) -> list[CervixImage]:
        return self.of("test")

    def counts(self, subset: str) -> tuple[int, ...]:
        """Images per type of a labelled set, in :data:`TYPES` order (before any is found unreadable)."""
        if subset == "test":
            raise ParameterError("The test set is unlabelled; count it with len(data.test).")
        labels = [image.label for image in self.of(subset)]
        return tuple(labels.count(k) for k in range(len(TYPES)))

    @staticmethod
    def labels(images: Iterable[CervixImage]) -> np.ndarray:
        """The labels of labelled ``images`` as an int64 array."""
        return np.array([_labelled(image) for image in images], dtype=np.int64)

    def readable(self, images: Iterable[CervixImage] | None = None, size: Sequence[int] | None = PAPER_SIZE
                 ) -> Iterator[tuple[CervixImage, np.ndarray]]:
        """Each image (of ``images``, default all) with its pixels at ``size``; those that do not decode are
        logged, added to :attr:`skipped` and left out."""
        for image in self.images if images is None else images:
            try:
                pixels = image.read(size)
            except UnreadableImageError as err:
                log.warning("%s: skipped %s (%s)", NAME, err.file, err.why)
                if all(file != image.id for file, _ in self.skipped):
                    self.skipped.append((image.id, err.why))
                continue
            yield image, pixels


def _labelled(image: CervixImage) -> int:
    if image.label is None:
        raise ParameterError(f"'{image.id}' is a test image and has no label.")
    return image.label


def _jpegs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in JPEG_SUFFIXES and p.is_file())


def _class_images(folder: Path, subset: str, folders: Sequence[Path]) -> list[CervixImage]:
    images = []
    for label, class_folder in enumerate(folders):
        files = _jpegs(class_folder)
        if not files:
            raise DataNotFoundError(f"The class folder '{class_folder}' holds no .jpg image; expected Kaggle's "
                                    f"{TYPES[label]} photographs of the {subset} set there, so unpack them into it again.")
        images += [CervixImage(p.relative_to(folder).as_posix(), p.name, subset, label, p) for p in files]
    return images


def _initial(folder: Path) -> list[CervixImage]:
    root = folder / _INITIAL
    missing = [t for t in TYPES if not (root / t).is_dir()]
    if missing:
        raise DataNotFoundError(f"Expected the initial set's class folders {', '.join(TYPES)} in '{root}' but "
                                f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} missing; unpack Kaggle's "
                                f"train.7z there so that it holds train/Type_1..3/*.jpg.")
    return _class_images(folder, "initial", [root / t for t in TYPES])


def _additional(folder: Path) -> list[CervixImage] | None:
    found = {t: next((folder / p.format(t=t) for p in _ADDITIONAL if (folder / p.format(t=t)).is_dir()), None)
             for t in TYPES}
    if all(path is None for path in found.values()):
        if (folder / "additional").is_dir():
            raise DataNotFoundError(f"'{folder / 'additional'}' holds none of the class folders {', '.join(TYPES)}; "
                                    f"expected additional/Type_1..3/*.jpg, or remove it to train on the initial set only.")
        return None
    missing = [t for t, path in found.items() if path is None]
    if missing:
        raise DataNotFoundError(f"The additional set in '{folder}' has no {', '.join(missing)} folder (expected "
                                f"{' or '.join(p.format(t=missing[0]) for p in _ADDITIONAL)}); unpack "
                                f"additional_{missing[0]}_v2.7z there or remove the additional folders.")
    return _class_images(folder, "additional", [p for p in found.values() if p is not None])


def _test(folder: Path) -> list[CervixImage] | None:
    root = folder / _TEST
    if not root.is_dir():
        return None
    files = _jpegs(root)
    if not files:
        raise DataNotFoundError(f"The test folder '{root}' holds no .jpg image; unpack Kaggle's test.7z into it "
                                f"or remove it.")
    return [CervixImage(p.relative_to(folder).as_posix(), p.name, "test", None, p) for p in files]


def load(data_root: str | Path, require: Sequence[str] = ("initial",)) -> CervixData:
    """The Kaggle set under ``data_root`` (its parent folder or the set's own folder); names, not pixels.

    ``require`` names the sets that must be there ("initial" always is); an optional set that is absent
    is listed in :attr:`CervixData.absent` for the page to say so.
    """
    unknown = [s for s in require if s not in SETS]
    if unknown:
        raise ParameterError(f"Unknown set {unknown[0]!r} in require; expected some of {', '.join(SETS)}.")
    folder = locate(data_root, NAME)
    images = _initial(folder)
    absent = []
    for subset, listed, expected in (("additional", _additional(folder), "additional/Type_1..3/*.jpg"),
                                     ("test", _test(folder), "test/*.jpg")):
        if listed is None:
            if subset in require:
                raise DataNotFoundError(f"Expected the {subset} set in '{folder}' as {expected}; it is missing, so "
                                        f"unpack it there or run without it.")
            absent.append(subset)
        else:
            images += listed
    return CervixData(folder, tuple(images), tuple(absent))


# --- the Kaggle submission ------------------------------------------------------------------


def _check_rows(names: Sequence[str], probabilities: np.ndarray, where: str) -> None:
    """One sentence for the first thing wrong with a submission's names and probabilities."""
    n_types = len(TYPES)
    if probabilities.ndim != 2 or probabilities.shape[1] != n_types or probabilities.shape[0] != len(names):
        raise ParameterError(f"{where}: expected one row of {n_types} probabilities per image name ({len(names)} "
                             f"names), got an array of shape {probabilities.shape}.")
    if not names:
        raise ParameterError(f"{where}: there is no image to write; pass the test images' names and probabilities.")
    seen: set[str] = set()
    for row, name in enumerate(names):
        if not name or name != name.strip() or any(c in name for c in ',"\r\n'):
            raise ParameterError(f"{where}: row {row + 1} has the image name {name!r}; expected a file name such as "
                                 f"'10.jpg' without commas, quotes or surrounding spaces.")
        if name in seen:
            raise ParameterError(f"{where}: the image name {name!r} appears twice; Kaggle expects one row per test image.")
        seen.add(name)
    invalid = np.asarray(~np.isfinite(probabilities).all(axis=1) | (probabilities < 0).any(axis=1))
    sums = np.asarray(probabilities.sum(axis=1))
    off = np.asarray(~invalid & (np.abs(sums - 1.0) > SUM_TOLERANCE))
    bad = np.flatnonzero(invalid | off)
    if bad.size:
        row = int(bad[0])
        values = ", ".join(f"{p:.6g}" for p in probabilities[row])
        more = f" ({bad.size - 1} more such rows)" if bad.size > 1 else ""
        if invalid[row]:
            raise ParameterError(f"{where}: row {row + 1} ({names[row]}) has the probabilities ({values}){more}; each "
                                 f"must be a finite number ≥ 0, so pass softmax outputs.")
        raise ParameterError(f"{where}: row {row + 1} ({names[row]}) has probabilities ({values}) summing to "
                             f"{sums[row]:.9g}, not 1 within {SUM_TOLERANCE:g}{more}; pass softmax outputs (nothing is "
                             f"renormalised here).")


def check_submission(image_names: Sequence[str], probabilities: np.ndarray) -> None:
    """Refuse, in one sentence, names and probabilities that are not a valid submission (see :func:`write_submission`)."""
    _check_rows([str(n) for n in image_names], np.asarray(probabilities, dtype=np.float64), "Refusing the submission")


def write_submission(path: str | Path, image_names: Sequence[str], probabilities: np.ndarray | Sequence[Sequence[float]],
                     expected_names: Iterable[str] | None = None) -> Path:
    """Write Kaggle's submission CSV: ``image_name,Type_1,Type_2,Type_3``, one row per image, in the given order.

    ``probabilities`` is N×3, rows in :data:`TYPES` order, each ≥ 0 and summing to one within
    :data:`SUM_TOLERANCE`; a row that is not is refused with one sentence (nothing is clipped or
    renormalised). ``expected_names`` (e.g. ``[i.name for i in data.test]``) checks every test image
    has exactly one row. The file is written atomically: a refused or interrupted write leaves no file,
    or the previous one, at ``path``. Values are written in full (``repr``), so they read back exactly.
    """
    path = Path(path)
    names = [str(n) for n in image_names]
    where = f"Refusing to write the submission '{path}'"
    try:
        array = np.asarray(probabilities, dtype=np.float64)
    except (TypeError, ValueError):
        raise ParameterError(f"{where}: the probabilities are not a numeric N×{len(TYPES)} array.") from None
    _check_rows(names, array, where)
    if expected_names is not None:
        expected = set(expected_names)
        missing, extra = sorted(expected - set(names)), sorted(set(names) - expected)
        if missing or extra:
            which = (f"has no row for the test image '{missing[0]}' ({len(missing)} missing)" if missing
                     else f"has a row for '{extra[0]}', which is not a test image ({len(extra)} such rows)")
            raise ParameterError(f"{where}: it {which}; Kaggle expects exactly one row per test image.")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(SUBMISSION_HEADER)
    writer.writerows([name, *(repr(float(p)) for p in row)] for name, row in zip(names, array, strict=True))
    write_text(path, buffer.getvalue())
    return path


def read_submission(path: str | Path) -> tuple[list[str], np.ndarray]:
    """A submission CSV's image names and N×3 probabilities, checked as :func:`write_submission` checks them."""
    path = Path(path)
    if not path.is_file():
        raise DataNotFoundError(f"Expected the submission file '{path}'; it is missing.")
    with open(path, newline="", encoding="utf-8-sig") as fh:
        rows = [row for row in csv.reader(fh) if row]
    if not rows or tuple(h.strip() for h in rows[0]) != SUBMISSION_HEADER:
        found = ",".join(rows[0]) if rows else "nothing"
        raise UserError(f"'{path}' starts with {found!r}, not Kaggle's header '{','.join(SUBMISSION_HEADER)}'.")
    names, values = [], []
    for number, row in enumerate(rows[1:], start=2):
        try:
            if len(row) != len(SUBMISSION_HEADER):
                raise ValueError
            values.append([float(v) for v in row[1:]])
        except ValueError:
            raise UserError(f"Line {number} of '{path}' is {','.join(row)!r}, not an image name and "
                            f"{len(TYPES)} numbers.") from None
        names.append(row[0].strip())
    probabilities = np.array(values, dtype=np.float64).reshape(-1, len(TYPES))
    _check_rows(names, probabilities, f"'{path}' is not a valid submission")
    return names, probabilities


# --- the competition's metric ---------------------------------------------------------------


def log_loss(labels: Sequence[int] | np.ndarray, probabilities: np.ndarray | Sequence[Sequence[float]]) -> float:
    """Kaggle's multi-class log loss (categorical cross entropy, natural log) of N×3 ``probabilities``.

    scikit-learn's ``log_loss`` with ``labels=[0, 1, 2]`` pinned, so a validation set in which a type is
    absent is still scored over three classes. For reference, guessing uniformly scores ln 3 ≈ 1.0986.
    """
    from sklearn.metrics import log_loss as sklearn_log_loss

    return float(sklearn_log_loss(np.asarray(labels), np.asarray(probabilities, dtype=np.float64),
                                  labels=list(range(len(TYPES)))))
