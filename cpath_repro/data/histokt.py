"""Paper B's (HistoKT) nine datasets, read from the layouts their authors publish.

Why a module: paper B standardizes nine public datasets (:mod:`cpath_repro.data.standardize`)
and transfers between them, and each is distributed in its own layout - a flat label CSV with
``.npy`` splits (ADP), HDF5 files (PCam), class folders (BACH, AJ-Lymph, CRC), images named by
a CSV (MHIST, GlaS, Osteosarcoma), segmentation masks (BCSS). Every loader here turns its layout
into one :class:`SourceDataset`: class names, the native µm/px (Table 1, which the
standardization needs), and one :class:`SourceImage` per source image whose pixels are read
lazily, so loading PCam's 327,680 patches or CRC's 107,180 tiles reads labels, not pixels.

Where the layouts and the paper disagree, the authors' code (github.com/mahdihosseini/HistoKT,
``src/adas/datasets/*.py``, ``dataset_processing/``) decides, and the constant that carries the
choice says so: ADP's 33 classes are the L3 columns of its flat CSV; CRC's 7 classes are the 9
folders of NCT-CRC-HE-100K less BACK and DEB; OS's 3 classes leave out the CSV's mixed
"viable: non-viable" rows; GlaS's test A is the validation split, test B the test split;
BCSS's 10 classes are the authors' ``class_list``.

Checks: a missing or malformed file, or a CSV naming an image that is not there, stops loading
with one sentence naming it. An image that does not decode is found only when read (checking
every image at load would decode all of them): :meth:`SourceImage.read` raises
:class:`UnreadableImageError`, and :meth:`SourceDataset.readable` - the way to iterate - skips
it, logs it and adds it to :attr:`SourceDataset.skipped`, so the page can count and name it.
Grey and RGBA images are returned as RGB (``skimage.color.gray2rgb``; ``rgba2rgb``, alpha
blended over white); every read gives H×W×3 uint8.
"""

from __future__ import annotations

import csv
import functools
import logging
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, overload

import numpy as np

from cpath_repro.data.layout import DATASETS, available, locate, of_paper
from cpath_repro.data.standardize import TABLE_1
from cpath_repro.errors import DataNotFoundError, ParameterError, UserError

log = logging.getLogger(__name__)
T = TypeVar("T")

#: The nine datasets, in Table 1's order, by their folder name under ``data_root``.
NAMES = of_paper("B")
#: Split names used here (the authors' "valid" is "val").
SPLITS = ("train", "val", "test")
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp"})


class UnreadableImageError(DataNotFoundError):
    """An image file that is there but does not decode to an image."""

    def __init__(self, file: str, why: str) -> None:
        super().__init__(f"Image '{file}' cannot be decoded ({why}).")
        self.file, self.why = file, why


@dataclass(frozen=True)
class SourceImage:
    """One source image: its labels, its published split, and its pixels on demand."""

    id: str  # path relative to the dataset's folder (PCam: "<split>-<row>")
    labels: tuple[int, ...]  # class indices; one for single-label datasets; () for BCSS (labels are per crop)
    split: str | None  # "train", "val" or "test" where the dataset publishes one, else None (drawn later)
    read: Callable[[], np.ndarray]  # H×W×3 uint8; raises UnreadableImageError
    mask: Callable[[], np.ndarray] | None = None  # BCSS: H×W uint8 class indices, MASK_NONE elsewhere


@dataclass(frozen=True)
class SourceDataset:
    """A dataset as published: classes, native µm/px, its images, and what was left out (file, why)."""

    name: str
    classes: tuple[str, ...]
    mpp: float
    multilabel: bool
    images: Sequence[SourceImage]
    folder: Path | None = None  # None: generated, not read (cpath_repro.synth.histokt)
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def readable(self, images: Iterable[SourceImage] | None = None) -> Iterator[tuple[SourceImage, np.ndarray]]:
        """Each image (of ``images``, default all) with its pixels; those that do not decode are logged,
        added to :attr:`skipped` and left out."""
        for image in self.images if images is None else images:
            try:
                pixels = image.read()
            except UnreadableImageError as err:
                log.warning("%s: skipped %s (%s)", self.name, err.file, err.why)
                if (err.file, err.why) not in self.skipped:
                    self.skipped.append((err.file, err.why))
                continue
            yield image, pixels


# --- reading pixels -------------------------------------------------------------------------


def _decode(path: Path) -> np.ndarray:
    from PIL import Image

    if not path.is_file():
        raise DataNotFoundError(f"Image '{path}' was there when the dataset was loaded but is missing now.")
    try:
        with Image.open(path) as opened:
            opened.load()
            # palette, 16-bit grey, CMYK, ... to RGB; grey and RGBA are converted by _as_rgb
            im = opened if opened.mode in ("RGB", "RGBA", "L") else opened.convert("RGB")
            return np.asarray(im)
    except Exception as exc:  # PIL raises OSError, ValueError, SyntaxError... on a broken file
        raise UnreadableImageError(str(path), f"{type(exc).__name__}: {exc}") from None


def _as_rgb(pixels: np.ndarray, file: str) -> np.ndarray:
    from skimage.color import gray2rgb, rgba2rgb
    from skimage.util import img_as_ubyte

    if pixels.ndim == 2:
        pixels = gray2rgb(pixels)
    elif pixels.ndim == 3 and pixels.shape[-1] == 4:
        pixels = rgba2rgb(pixels)  # float in [0, 1], blended over white
    if pixels.ndim != 3 or pixels.shape[-1] != 3:
        raise UnreadableImageError(file, f"shape {pixels.shape} is not an image")
    return pixels if pixels.dtype == np.uint8 else img_as_ubyte(pixels)


def read_rgb(path: str | Path) -> np.ndarray:
    """The image at ``path`` as H×W×3 uint8, or :class:`UnreadableImageError` naming it."""
    path = Path(path)
    return _as_rgb(_decode(path), str(path))


def _reader(path: Path) -> Callable[[], np.ndarray]:
    return functools.partial(read_rgb, path)


# --- small helpers shared by the loaders ------------------------------------------------------


def _nested(folder: Path, relative: str, depth: int = 2) -> Path | None:
    """``folder/relative``, or the first ``folder/*/relative``, ``folder/*/*/relative`` (releases unpack
    into a folder of their own, e.g. ``ADP V1.0 Release/``)."""
    for level in range(depth + 1):
        hits = sorted(folder.glob("/".join(["*"] * level + [relative])))
        if hits:
            return hits[0]
    return None


def _need(folder: Path, relative: str, name: str, depth: int = 2) -> Path:
    found = _nested(folder, relative, depth)
    if found is None:
        raise DataNotFoundError(f"Expected '{relative}' in '{folder}' (or a folder inside it) for {name}, laid out as "
                                f"{DATASETS[name].layout}.")
    return found


def _read_table(path: Path, required: Sequence[str], delimiter: str = ",") -> list[dict[str, str]]:
    """The rows of a CSV/TSV with every name and value stripped (GlaS writes ``" grade (GlaS)"``)."""
    if not path.is_file():
        raise DataNotFoundError(f"Expected the label file '{path}'; it is missing.")
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh, delimiter=delimiter)
            header = [h.strip() for h in next(reader, [])]
            rows = [dict(zip(header, (v.strip() for v in row), strict=False)) for row in reader if any(row)]
    except (UnicodeDecodeError, csv.Error) as exc:
        raise DataNotFoundError(f"'{path}' is not a readable table ({type(exc).__name__}: {exc}).") from None
    missing = [c for c in required if c not in header]
    if missing:
        raise DataNotFoundError(f"'{path}' has no column {', '.join(repr(c) for c in missing)} "
                                f"(its columns: {', '.join(header) or 'none'}).")
    if not rows:
        raise DataNotFoundError(f"'{path}' lists no image.")
    return rows


def _check_listed(paths: Sequence[Path], index: Path) -> None:
    """Every file a label file names is there, or one sentence naming the first missing one."""
    missing = [p for p in paths if not p.is_file()]
    if missing:
        more = f" (and {len(missing) - 1} more listed images)" if len(missing) > 1 else ""
        raise DataNotFoundError(f"'{index}' lists '{missing[0].name}' but '{missing[0]}' is missing{more}.")


def _lookup(value: str, allowed: Mapping[str, T], where: str) -> T:
    try:
        return allowed[value]
    except KeyError:
        raise DataNotFoundError(f"{where} has the value {value!r}, which is none of {', '.join(allowed)}.") from None


def _dataset(name: str, classes: Sequence[str], images: Sequence[SourceImage], folder: Path,
             skipped: list[tuple[str, str]] | None = None, multilabel: bool = False,
             check_classes: bool = True) -> SourceDataset:
    """The loaded dataset, after checking it has images of at least two classes."""
    if len(images) == 0:
        raise DataNotFoundError(f"{name} in '{folder}' has no image (expected {DATASETS[name].layout}).")
    if check_classes:
        present = sorted({i for image in images for i in image.labels})
        if len(present) < 2:
            which = f"only '{classes[present[0]]}'" if present else "no labelled image"
            raise UserError(f"{name} in '{folder}' has {which} left after filtering, and a classifier needs "
                            f"at least two of its classes ({', '.join(classes)}).")
    for file, why in skipped or []:
        log.info("%s: left out %s (%s)", name, file, why)
    return SourceDataset(name, tuple(classes), TABLE_1[name].mpp, multilabel, images, folder, list(skipped or []))


def _relative(path: Path, folder: Path) -> str:
    return path.relative_to(folder).as_posix()


def _images_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


# --- class folders: BACH, AJ-Lymph, CRC -------------------------------------------------------


def _class_folders(root: Path, expected: Sequence[str] | None = None, exclude: Sequence[str] = ()
                   ) -> tuple[tuple[str, ...], list[tuple[Path, int]], list[tuple[str, str]]]:
    """Classes, (image, class index) and what was left out, for ``root/<class>/**/<image>``.

    Classes are the sub-folders holding images, sorted (torchvision's ``ImageFolder`` order, which
    the authors use); ``expected`` classes must all be there; ``exclude`` names are left out.
    """
    folders = {p.name: p for p in sorted(root.iterdir()) if p.is_dir() and not p.name.startswith(".")}
    skipped: list[tuple[str, str]] = []
    for name in expected or ():
        if name not in folders:
            raise DataNotFoundError(f"Expected the class folder '{root / name}' (classes {', '.join(expected or ())}); "
                                    f"it is missing.")
    files: dict[str, list[Path]] = {}
    for name, path in folders.items():
        found = _images_under(path)
        if name in exclude:
            skipped.append((path.name, f"class {name} left out ({len(found)} images)"))
        elif expected is not None and name not in expected:
            skipped.append((path.name, f"not one of the classes {', '.join(expected)}"))
        elif not found:
            if expected is not None:
                raise DataNotFoundError(f"The class folder '{path}' holds no image.")
            skipped.append((path.name, "folder holds no image"))
        else:
            files[name] = found
    classes = tuple(sorted(files))
    return classes, [(f, i) for i, c in enumerate(classes) for f in files[c]], skipped


def _from_class_folders(name: str, folder: Path, root: Path, split: str | None = None,
                        expected: Sequence[str] | None = None) -> SourceDataset:
    classes, found, skipped = _class_folders(root, expected)
    images = [SourceImage(_relative(f, folder), (label,), split, _reader(f)) for f, label in found]
    return _dataset(name, classes, images, folder, skipped)


#: BACH's four classes (ICIAR 2018 ``Photos/``); the unlabelled test set is not read.
BACH_CLASSES = ("Benign", "InSitu", "Invasive", "Normal")
#: AJ-Lymph's three lymphoma sub-types.
AJ_LYMPH_CLASSES = ("CLL", "FL", "MCL")


def load_bach(folder: str | Path) -> SourceDataset:
    """BACH: ``[ICIAR2018_BACH_Challenge/]Photos/{Benign,InSitu,Invasive,Normal}/*.tif``, no published split."""
    folder = Path(folder)
    root = _need(folder, "Benign", "BACH", depth=3).parent
    return _from_class_folders("BACH", folder, root, expected=BACH_CLASSES)


def load_aj_lymph(folder: str | Path) -> SourceDataset:
    """AJ-Lymph: ``{CLL,FL,MCL}/*.tif``, no published split."""
    folder = Path(folder)
    root = _need(folder, "CLL", "AJ-Lymph").parent
    return _from_class_folders("AJ-Lymph", folder, root, expected=AJ_LYMPH_CLASSES)


#: CRC's training folders, preferred first: the authors' code trains on the unnormalized release
#: (``NCT-CRC-HE-100K-NONORM``); the Macenko-normalized ``NCT-CRC-HE-100K`` is used when it is absent.
CRC_TRAIN = ("NCT-CRC-HE-100K-NONORM", "NCT-CRC-HE-100K")
CRC_TEST = "CRC-VAL-HE-7K"
#: Table 1 gives CRC 7 classes but NCT-CRC-HE-100K has 9 tissue-class folders. The authors' code
#: (``src/adas/datasets/CRC.py``, ``classes_``) keeps 7 and leaves out background (BACK) and debris
#: (DEB); classes are read from the folders on disk, less these. Table 1's 107,000 images count all 9.
CRC_EXCLUDED = ("BACK", "DEB")


def load_crc(folder: str | Path, exclude: Sequence[str] = CRC_EXCLUDED) -> SourceDataset:
    """CRC: ``NCT-CRC-HE-100K[-NONORM]/<class>/*.tif`` (train) and ``CRC-VAL-HE-7K/<class>/*.tif`` (test)."""
    folder = Path(folder)
    train_root = next((folder / n for n in CRC_TRAIN if (folder / n).is_dir()), None)
    if train_root is None:
        raise DataNotFoundError(f"Expected the training folder '{folder / CRC_TRAIN[1]}' "
                                f"(or '{CRC_TRAIN[0]}') with one folder per tissue class; it is missing.")
    test_root = folder / CRC_TEST
    if not test_root.is_dir():
        raise DataNotFoundError(f"Expected the test folder '{test_root}' with one folder per tissue class; it is missing.")
    classes, train, skipped = _class_folders(train_root, exclude=exclude)
    test_classes, test, test_skipped = _class_folders(test_root, exclude=exclude)
    if test_classes != classes:
        raise DataNotFoundError(f"'{test_root}' has the classes {', '.join(test_classes)} but '{train_root}' has "
                                f"{', '.join(classes)}; both must hold the same class folders.")
    images = [SourceImage(_relative(f, folder), (label,), split, _reader(f))
              for split, found in (("train", train), ("test", test)) for f, label in found]
    prefixed = [(f"{root.name}/{file}", why) for root, part in ((train_root, skipped), (test_root, test_skipped))
                for file, why in part]
    return _dataset("CRC", classes, images, folder, prefixed)


# --- images named by a CSV: ADP, MHIST, GlaS, OS ------------------------------------------------

ADP_IMAGES = "img_res_1um_bicubic"
ADP_CSV = "ADP_EncodedLabels_Release1_Flat.csv"
ADP_NAME_COLUMN = "Patch Names"
#: The splits ADP publishes (``splits/<file>.npy``: row indices into the CSV, as the authors'
#: ``ADP_dataset`` reads them with ``DataFrame.loc``; arrays of patch names are accepted too).
ADP_SPLIT_FILES = {"train": "train.npy", "val": "valid.npy", "test": "test.npy"}
#: Table 1's 33 ADP classes: the L3 level of the hierarchical taxonomy, i.e. these columns of the
#: flat CSV (the authors' ``classesADP["L3"]``); the CSV's other columns are not read.
ADP_CLASSES = (
    "E", "E.M", "E.M.S", "E.M.C", "E.T", "E.T.S", "E.T.C",
    "C", "C.D", "C.D.I", "C.D.R", "C.L",
    "H", "H.E", "H.K", "H.Y",
    "S", "S.M", "S.C", "S.R",
    "A", "A.W", "A.M",
    "M",
    "N", "N.P", "N.R", "N.G", "N.G.M",
    "G", "G.O", "G.N",
    "T",
)


def _adp_splits(release: Path, names: Sequence[str]) -> list[str | None]:
    by_name = {n: i for i, n in enumerate(names)}
    splits: list[str | None] = [None] * len(names)
    for split, file in ADP_SPLIT_FILES.items():
        path = release / "splits" / file
        if not path.is_file():
            raise DataNotFoundError(f"Expected ADP's split file '{path}' (splits/train.npy, valid.npy, test.npy); "
                                    f"it is missing.")
        try:
            rows = np.load(path, allow_pickle=False).ravel()
        except (ValueError, OSError, EOFError) as exc:
            raise DataNotFoundError(f"ADP's split file '{path}' is not a readable .npy array ({exc}).") from None
        if rows.dtype.kind in "iu":
            bad = [int(r) for r in rows if not 0 <= r < len(names)]
            if bad:
                raise DataNotFoundError(f"ADP's split file '{path}' names row {bad[0]}, but '{ADP_CSV}' has "
                                        f"{len(names)} rows.")
            indices = [int(r) for r in rows]
        elif rows.dtype.kind == "U":
            unknown = [str(r) for r in rows if str(r) not in by_name]
            if unknown:
                raise DataNotFoundError(f"ADP's split file '{path}' names '{unknown[0]}', which '{ADP_CSV}' does not list.")
            indices = [by_name[str(r)] for r in rows]
        else:
            raise DataNotFoundError(f"ADP's split file '{path}' holds {rows.dtype} values, not row indices or patch names.")
        for i in indices:
            if splits[i] not in (None, split):
                raise DataNotFoundError(f"ADP's patch '{names[i]}' is in both the {splits[i]} and the {split} split files.")
            splits[i] = split
    return splits


def load_adp(folder: str | Path) -> SourceDataset:
    """ADP: ``[ADP V1.0 Release/]img_res_1um_bicubic/*.png``, the flat encoded-labels CSV and ``splits/*.npy``."""
    folder = Path(folder)
    release = _need(folder, ADP_IMAGES, "ADP").parent
    index = release / ADP_CSV
    rows = _read_table(index, (ADP_NAME_COLUMN, *ADP_CLASSES))
    names = [r[ADP_NAME_COLUMN] for r in rows]
    labels = []
    for row in rows:
        values = [row[c] for c in ADP_CLASSES]
        bad = [c for c, v in zip(ADP_CLASSES, values, strict=True) if v not in ("0", "1")]
        if bad:
            raise DataNotFoundError(f"'{index}' gives patch '{row[ADP_NAME_COLUMN]}' the label {row[bad[0]]!r} in column "
                                    f"{bad[0]}, not 0 or 1.")
        labels.append(tuple(i for i, v in enumerate(values) if v == "1"))
    paths = [release / ADP_IMAGES / n for n in names]
    _check_listed(paths, index)
    splits = _adp_splits(release, names)
    images = [SourceImage(_relative(p, folder), lab, s, _reader(p)) for p, lab, s in zip(paths, labels, splits, strict=True)]
    return _dataset("ADP", ADP_CLASSES, images, folder, multilabel=True)


MHIST_CSV = "annotations.csv"
MHIST_COLUMNS = ("Image Name", "Majority Vote Label", "Partition")
MHIST_CLASSES = ("HP", "SSA")


def load_mhist(folder: str | Path) -> SourceDataset:
    """MHIST: ``annotations.csv`` (image name, majority-vote label HP/SSA, partition train/test) and ``images/``."""
    folder = Path(folder)
    index = folder / MHIST_CSV
    rows = _read_table(index, MHIST_COLUMNS)
    classes = {c: i for i, c in enumerate(MHIST_CLASSES)}
    paths = [folder / "images" / r["Image Name"] for r in rows]
    _check_listed(paths, index)
    images = []
    for row, path in zip(rows, paths, strict=True):
        where = f"'{index}' (image {row['Image Name']})"
        label = _lookup(row["Majority Vote Label"], classes, where)
        split = _lookup(row["Partition"], {"train": "train", "test": "test"}, where)
        images.append(SourceImage(_relative(path, folder), (label,), split, _reader(path)))
    return _dataset("MHIST", MHIST_CLASSES, images, folder)


GLAS_CSV = "Grade.csv"
GLAS_GRADE = "grade (GlaS)"
GLAS_CLASSES = ("benign", "malignant")
#: GlaS's published parts, by image-name prefix, as the authors split them (``GlaS.py``: the rows
#: of test A are "valid", of test B "test", of train "train").
GLAS_SPLITS = {"train_": "train", "testA_": "val", "testB_": "test"}


def load_glas(folder: str | Path) -> SourceDataset:
    """GlaS (Warwick QU): ``Grade.csv`` and ``<name>.bmp``; benign/malignant from the "grade (GlaS)" column.

    The annotation images (``<name>_anno.bmp``, gland segmentations) are not read: paper B
    classifies whole images.
    """
    folder = Path(folder)
    index = _need(folder, GLAS_CSV, "GlaS")
    rows = _read_table(index, ("name", GLAS_GRADE))
    classes = {c: i for i, c in enumerate(GLAS_CLASSES)}
    paths = [index.parent / f"{r['name']}.bmp" for r in rows]
    _check_listed(paths, index)
    images = []
    for row, path in zip(rows, paths, strict=True):
        where = f"'{index}' (image {row['name']})"
        split = next((s for prefix, s in GLAS_SPLITS.items() if row["name"].startswith(prefix)), None)
        if split is None:
            raise DataNotFoundError(f"{where} is named neither train_*, testA_* nor testB_*, so its split is unknown.")
        label = _lookup(row[GLAS_GRADE], classes, where)
        images.append(SourceImage(_relative(path, folder), (label,), split, _reader(path)))
    return _dataset("GlaS", GLAS_CLASSES, images, folder)


#: The features CSV (``ML_Features_1144.csv`` in the TCIA release).
OS_CSV = "ML_Features*.csv"
OS_COLUMNS = ("image.name", "classification")
#: Table 1's 3 classes, under the CSV's own names (Non-Viable-Tumor is necrotic tumour).
OS_CLASSES = ("Non-Tumor", "Viable", "Non-Viable-Tumor")
#: The CSV's fourth label, 53 images holding both viable and necrotic tumour: not one of the
#: paper's 3 classes, so these rows are left out and listed in ``skipped``.
OS_MIXED = "viable: non-viable"


def _os_file_names(name: str) -> tuple[str, ...]:
    # the CSV writes "Case 3 A1 - 12" where the file is "Case-3-A1-12.jpg" (the authors' OSDataset)
    hyphenated = name.replace(" ", "-").replace("---", "-")
    return name, f"{name}.jpg", f"{hyphenated}.jpg"


def load_os(folder: str | Path) -> SourceDataset:
    """Osteosarcoma (TCIA): ``ML_Features_1144.csv`` (``image.name``, ``classification``) and the ``.jpg``
    images it names, in any sub-folder."""
    folder = Path(folder)
    index = _need(folder, OS_CSV, "OS")
    rows = _read_table(index, OS_COLUMNS)
    files = {p.name: p for p in reversed(_images_under(folder))}  # first one wins on a repeated name
    classes = {c: i for i, c in enumerate(OS_CLASSES)}
    images, skipped = [], []
    for row in rows:
        name = row["image.name"]
        path = next((files[n] for n in _os_file_names(name) if n in files), None)
        if path is None:
            raise DataNotFoundError(f"'{index}' lists the image {name!r} but no file "
                                    f"{' or '.join(repr(n) for n in dict.fromkeys(_os_file_names(name)))} "
                                    f"is under '{folder}'.")
        if row["classification"] == OS_MIXED:
            skipped.append((_relative(path, folder), f"label {OS_MIXED!r} is none of {', '.join(OS_CLASSES)}"))
            continue
        label = _lookup(row["classification"], classes, f"'{index}' (image {name})")
        images.append(SourceImage(_relative(path, folder), (label,), None, _reader(path)))
    return _dataset("OS", OS_CLASSES, images, folder, skipped)


# --- PCam: HDF5, read lazily ------------------------------------------------------------------

PCAM_PREFIX = "camelyonpatch_level_2_split_"
PCAM_SPLITS = {"train": "train", "val": "valid", "test": "test"}
PCAM_CLASSES = ("non_tumor", "tumor")


def _pcam_file(folder: Path, split: str, part: str) -> Path:
    path = folder / f"{PCAM_PREFIX}{split}_{part}.h5"
    gz = path.with_name(path.name + ".gz")
    if not path.is_file() and gz.is_file():
        raise DataNotFoundError(f"'{gz}' is compressed, and PCam is read lazily from the .h5 file: gunzip it first "
                                f"(gunzip -k '{gz}').")
    if not path.is_file():
        raise DataNotFoundError(f"Expected PCam's split file '{path}'; it is missing.")
    with open(path, "rb") as fh:
        if fh.read(2) == b"\x1f\x8b":
            raise DataNotFoundError(f"'{path}' is gzip-compressed though named .h5: gunzip it first "
                                    f"(mv it to '{gz.name}', then gunzip -k it).")
    return path


def _h5_shape(path: Path, key: str) -> tuple[tuple[int, ...], str]:
    import h5py

    try:
        with h5py.File(path, "r") as f:
            data = f[key]
            return tuple(data.shape), str(data.dtype)
    except KeyError:
        raise DataNotFoundError(f"'{path}' holds no dataset '{key}'.") from None
    except OSError as exc:
        raise DataNotFoundError(f"'{path}' is not a readable HDF5 file, likely truncated or corrupt ({exc}).") from None


def _h5_all(path: Path, key: str) -> np.ndarray:
    import h5py

    try:
        with h5py.File(path, "r") as f:
            return np.asarray(f[key][()])
    except (OSError, KeyError) as exc:
        raise DataNotFoundError(f"'{path}' is not a readable HDF5 file with a dataset '{key}' ({exc}).") from None


class _H5Rows:
    """Rows of one HDF5 dataset, read one at a time from a handle opened on first use (and reopened in a
    new process, so that data-loader workers each have their own)."""

    def __init__(self, path: Path, key: str) -> None:
        self.path, self.key = path, key
        self._file: Any = None
        self._pid = -1

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.path, "key": self.key, "_file": None, "_pid": -1}

    def read(self, row: int) -> np.ndarray:
        import h5py

        file = f"{self.path.name}[{row}]"
        try:
            if self._file is None or self._pid != os.getpid():
                self._file, self._pid = h5py.File(self.path, "r"), os.getpid()
            return _as_rgb(np.asarray(self._file[self.key][row]), file)
        except (OSError, KeyError, ValueError) as exc:
            raise UnreadableImageError(file, f"{type(exc).__name__}: {exc}") from None


class _PCamImages(Sequence[SourceImage]):
    """PCam's 327,680 images, made on access from the label arrays (no per-image object held)."""

    def __init__(self, parts: list[tuple[str, _H5Rows, np.ndarray]]) -> None:
        self._parts = parts
        self._ends = np.cumsum([len(labels) for _, _, labels in parts])

    def __len__(self) -> int:
        return int(self._ends[-1]) if len(self._ends) else 0

    @overload
    def __getitem__(self, index: int) -> SourceImage: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[SourceImage]: ...

    def __getitem__(self, index: int | slice) -> SourceImage | Sequence[SourceImage]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        part = int(np.searchsorted(self._ends, index, side="right"))
        split, rows, labels = self._parts[part]
        row = index - (int(self._ends[part - 1]) if part else 0)
        return SourceImage(f"{split}-{row}", (int(labels[row]),), split, functools.partial(rows.read, row))


def load_pcam(folder: str | Path) -> SourceDataset:
    """PCam: ``camelyonpatch_level_2_split_{train,valid,test}_{x,y}.h5``; labels read, patches read lazily."""
    folder = Path(folder)
    parts = []
    for split, published in PCAM_SPLITS.items():
        x_path, y_path = _pcam_file(folder, published, "x"), _pcam_file(folder, published, "y")
        x_shape, x_dtype = _h5_shape(x_path, "x")
        if len(x_shape) != 4 or x_shape[-1] != 3 or x_dtype != "uint8":
            raise DataNotFoundError(f"'{x_path}' holds 'x' of shape {x_shape} ({x_dtype}), not N×96×96×3 uint8 patches.")
        y = _h5_all(y_path, "y")  # N bytes of labels; the patches stay on disk
        if y.shape[:1] != x_shape[:1] or int(np.prod(y.shape[1:])) != 1:
            raise DataNotFoundError(f"'{y_path}' holds 'y' of shape {y.shape}, not one label for each of the "
                                    f"{x_shape[0]} patches of '{x_path.name}'.")
        labels = y.reshape(-1).astype(np.uint8)
        if labels.size and labels.max() > 1:
            raise DataNotFoundError(f"'{y_path}' has the label {int(labels.max())}; PCam's labels are 0 and 1.")
        parts.append((split, _H5Rows(x_path, "x"), labels))
    return _dataset("PCam", PCAM_CLASSES, _PCamImages(parts), folder)


# --- BCSS: segmentation masks, labels per crop ------------------------------------------------

BCSS_IMAGES = "rgbs_colorNormalized"
BCSS_MASKS = "masks"
BCSS_CODES = "gtruth_codes.tsv"
#: The authors' 10 BCSS classes (``dataset_processing/preprocessing/BCSSProcessing.py``, ``class_list``),
#: by their ``label`` in ``gtruth_codes.tsv``; every other code (outside_roi, exclude, ...) is no class.
BCSS_CLASSES = ("tumor", "stroma", "lymphocytic_infiltrate", "necrosis_or_debris", "glandular_secretions", "blood",
                "metaplasia_NOS", "fat", "plasma_cells", "blood_vessel")
#: Value of a mask pixel in none of :data:`BCSS_CLASSES`.
MASK_NONE = 255
#: A class is a label of a crop when it covers at least this fraction of the crop's pixels. The
#: authors keep each crop's class-fraction vector and publish no threshold; 5 % of a 272×272 crop at
#: 1 µm/px is ~3,700 µm² (a 61 µm square): a structure, not the fringe of a neighbouring annotation.
MIN_CLASS_FRACTION = 0.05
#: A crop whose pixels are less than this fraction in the 10 classes has no label and is dropped
#: (the authors' ``label_threshold=0.2``).
MIN_LABELLED_FRACTION = 0.2


def _bcss_lut(codes_file: Path) -> np.ndarray:
    rows = _read_table(codes_file, ("label", "GT_code"), delimiter="\t")
    try:
        codes = {r["label"]: int(r["GT_code"]) for r in rows}
    except ValueError:
        raise DataNotFoundError(f"'{codes_file}' has a GT_code that is not an integer.") from None
    missing = [c for c in BCSS_CLASSES if c not in codes]
    if missing:
        raise DataNotFoundError(f"'{codes_file}' has no code for the class {', '.join(missing)}.")
    lut = np.full(256, MASK_NONE, dtype=np.uint8)
    for index, name in enumerate(BCSS_CLASSES):
        if not 0 <= codes[name] < MASK_NONE:
            raise DataNotFoundError(f"'{codes_file}' gives {name} the code {codes[name]}, outside 0-254.")
        lut[codes[name]] = index
    return lut


def read_mask(path: str | Path, lut: np.ndarray) -> np.ndarray:
    """A BCSS mask (GT codes; an RGB copy's first channel) as class indices, :data:`MASK_NONE` elsewhere."""
    path = Path(path)
    codes = _decode(path)
    if codes.ndim == 3:
        codes = codes[..., 0]
    if codes.dtype != np.uint8:
        raise UnreadableImageError(str(path), f"{codes.dtype} values, not 8-bit GT codes")
    return lut[codes]


def load_bcss(folder: str | Path) -> SourceDataset:
    """BCSS: ``[0_Public-data-Amgad2019_0.25MPP/]rgbs_colorNormalized/<roi>.png``, ``masks/<roi>.png`` and
    ``[meta/]gtruth_codes.tsv``. Labels are per crop: :func:`crop_labels` of the mask's crop."""
    folder = Path(folder)
    codes_file = _nested(folder, f"meta/{BCSS_CODES}") or _need(folder, BCSS_CODES, "BCSS")
    base = codes_file.parent.parent if codes_file.parent.name == "meta" else codes_file.parent
    lut = _bcss_lut(codes_file)
    image_dir, mask_dir = base / BCSS_IMAGES, base / BCSS_MASKS
    for path in (image_dir, mask_dir):
        if not path.is_dir():
            raise DataNotFoundError(f"Expected BCSS's folder '{path}' beside '{codes_file.name}'; it is missing.")
    rois = _images_under(image_dir)
    masks = [mask_dir / p.relative_to(image_dir) for p in rois]
    missing = [m for m in masks if not m.is_file()]
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise DataNotFoundError(f"The BCSS region '{missing[0].name}' has no mask: '{missing[0]}' is missing{more}.")
    images = [SourceImage(_relative(p, folder), (), None, _reader(p), functools.partial(read_mask, m, lut))
              for p, m in zip(rois, masks, strict=True)]
    return _dataset("BCSS", BCSS_CLASSES, images, folder, multilabel=True, check_classes=False)


def crop_labels(mask_crop: np.ndarray, n_classes: int = len(BCSS_CLASSES), *,
                min_fraction: float = MIN_CLASS_FRACTION,
                min_labelled: float = MIN_LABELLED_FRACTION) -> tuple[int, ...]:
    """The classes covering at least ``min_fraction`` of a crop of a class-index mask; () (drop the crop)
    when less than ``min_labelled`` of its pixels are in any class."""
    crop = np.asarray(mask_crop)
    if crop.size == 0 or crop.dtype.kind not in "iu":
        raise ParameterError(f"Expected a non-empty integer mask crop, got shape {crop.shape} ({crop.dtype}).")
    counts = np.bincount(crop.ravel().astype(np.int64), minlength=n_classes)[:n_classes]
    fractions = counts / crop.size
    if fractions.sum() < min_labelled:
        return ()
    return tuple(int(i) for i in np.flatnonzero(fractions >= min_fraction))


# --- entry points -----------------------------------------------------------------------------

LOADERS: dict[str, Callable[[Path], SourceDataset]] = {
    "ADP": load_adp, "MHIST": load_mhist, "BACH": load_bach, "AJ-Lymph": load_aj_lymph, "PCam": load_pcam,
    "CRC": load_crc, "GlaS": load_glas, "OS": load_os, "BCSS": load_bcss,
}


def load(name: str, data_root: str | Path) -> SourceDataset:
    """Dataset ``name`` from ``data_root/<name>/`` (or ``data_root`` being its folder), in its published layout."""
    if name not in LOADERS:
        raise ParameterError(f"Unknown paper B dataset {name!r}; expected one of {', '.join(NAMES)}.")
    return LOADERS[name](locate(data_root, name))


def load_available(data_root: str | Path, names: Sequence[str] = NAMES) -> tuple[dict[str, SourceDataset], list[str]]:
    """The datasets among ``names`` present under ``data_root``, loaded, and the names of those absent (to
    list on the page); a dataset that is present but broken stops with its one sentence."""
    found = available(data_root, tuple(names))
    return {n: LOADERS[n](path) for n, path in found.items()}, [n for n in names if n not in found]
