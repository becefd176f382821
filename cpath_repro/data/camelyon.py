"""Paper D's lymph-node data: the Camelyon16 and Camelyon17 layouts on disk and their loaders
(:mod:`cpath_repro.synth.slide_folders` lays synthetic slides out in exactly these layouts, so the loaders are
tested on what they will read).

Camelyon16 (``data_root/CAMELYON16``, as downloaded)::

    training/tumor/tumor_001.tif                 slides with metastases
    training/normal/normal_001.tif               slides without
    training/lesion_annotations/tumor_001.xml    ASAP XML of the tumour slides' lesions
    testing/images/test_001.tif
    testing/lesion_annotations/test_001.xml      (tumour test slides only)
    testing/reference.csv                        test_001,Tumor,Macro,... / test_002,Normal (no header)

Camelyon17 (``data_root/CAMELYON17``)::

    training/center_0..4/patient_000_node_0.tif  5 nodes per patient, one folder per medical centre
    training/lesion_annotations/patient_000_node_0.xml   (only some slides are annotated)
    training/stage_labels.csv                    patient,stage rows: patient_000.zip,pN1 and
                                                 patient_000_node_0.tif,negative|itc|micro|macro

Loaders return small frozen dataclasses (:class:`Camelyon16Slide`, :class:`Camelyon17Slide`,
:class:`Camelyon17Patient`); a folder without the layout raises :class:`~cpath_repro.errors.DataNotFoundError`
and a label file that does not match the slides on disk a one-sentence :class:`~cpath_repro.errors.UserError`.
Slides are listed, not opened (:func:`cpath_repro.wsi.open_slide` opens one).
"""

from __future__ import annotations

import csv
import logging
import re
from dataclasses import dataclass
from pathlib import Path

from cpath_repro.data.layout import locate
from cpath_repro.errors import DataNotFoundError, UserError
from cpath_repro.metrics.staging import SLIDE_CLASSES, STAGES

log = logging.getLogger(__name__)

CAMELYON16, CAMELYON17 = "CAMELYON16", "CAMELYON17"
#: Camelyon16's folders, relative to the dataset folder.
C16_TUMOUR = "training/tumor"
C16_NORMAL = "training/normal"
C16_TRAIN_ANNOTATIONS = "training/lesion_annotations"
C16_TEST_IMAGES = "testing/images"
C16_TEST_ANNOTATIONS = "testing/lesion_annotations"
C16_REFERENCE = "testing/reference.csv"
C16_LABELS = ("tumor", "normal")
#: Camelyon17's folders: five medical centres, one lesion-annotation folder, one label file.
C17_CENTERS = 5
C17_CENTER = "training/center_{}"
C17_ANNOTATIONS = "training/lesion_annotations"
C17_LABELS = "training/stage_labels.csv"
C17_HEADER = ("patient", "stage")
_C17_SLIDE = re.compile(r"^(patient_(\d+))_node_(\d+)$")


@dataclass(frozen=True)
class Camelyon16Slide:
    """One Camelyon16 slide: ``label`` is ``"tumor"`` / ``"normal"`` (None: a test slide without reference.csv)."""

    name: str  # file stem, e.g. "tumor_001"
    slide: Path
    annotation: Path | None
    label: str | None
    split: str  # "train" or "test"


@dataclass(frozen=True)
class Camelyon17Slide:
    """One Camelyon17 lymph-node slide; ``slide_class`` from stage_labels.csv (None when it has no row)."""

    name: str  # e.g. "patient_004_node_4"
    slide: Path
    annotation: Path | None
    slide_class: str | None
    patient: str  # e.g. "patient_004"
    node: int
    center: int
    split: str = "train"


@dataclass(frozen=True)
class Camelyon17Patient:
    """A patient's pN-stage (None when stage_labels.csv has no ``.zip`` row for them) and their slides by node."""

    patient: str
    stage: str | None
    slides: tuple[Camelyon17Slide, ...]


@dataclass(frozen=True)
class Camelyon17:
    """The Camelyon17 slides (sorted by name) and patients (sorted by id) found under one dataset folder."""

    folder: Path
    slides: tuple[Camelyon17Slide, ...]
    patients: tuple[Camelyon17Patient, ...]


# --- Camelyon16 ------------------------------------------------------------------------------------------

_C16_LAYOUT = (f"{C16_TUMOUR}/tumor_001.tif, {C16_NORMAL}/normal_001.tif, {C16_TRAIN_ANNOTATIONS}/tumor_001.xml, "
               f"{C16_TEST_IMAGES}/test_001.tif and {C16_REFERENCE}")


def _slides_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*.tif") if p.is_file()) if folder.is_dir() else []


def _annotation(folder: Path, name: str) -> Path | None:
    path = folder / f"{name}.xml"
    return path if path.is_file() else None


def read_reference(path: Path) -> dict[str, str]:
    """Camelyon16's ``reference.csv``: test slide name (lower case, no suffix) -> ``"tumor"`` / ``"normal"``."""
    labels: dict[str, str] = {}
    with path.open(newline="") as fh:
        for row in csv.reader(fh):
            if not row or not row[0].strip() or row[0].strip().lower() in ("name", "image", "slide"):
                continue
            name = row[0].strip().lower().removesuffix(".tif")
            given = row[1].strip() if len(row) > 1 else ""
            label = given.lower()
            if label not in C16_LABELS:
                raise UserError(
                    f"'{path}' gives test slide '{row[0]}' the label {given!r}, not Tumor or Normal; fix that row "
                    "or download reference.csv again."
                )
            labels[name] = label
    return labels


def load_camelyon16(root: str | Path) -> list[Camelyon16Slide]:
    """Every Camelyon16 slide under ``root`` (``data_root`` or the CAMELYON16 folder): training tumour, training
    normal, then test slides, each sorted by name."""
    folder = locate(root, CAMELYON16)
    if not any((folder / sub).is_dir() for sub in (C16_TUMOUR, C16_NORMAL, C16_TEST_IMAGES)):
        raise DataNotFoundError(
            f"Expected the Camelyon16 layout in '{folder}' ({_C16_LAYOUT}) and found none of its folders; point "
            "data_root at the folder holding CAMELYON16/."
        )
    slides = [Camelyon16Slide(p.stem, p, _annotation(folder / C16_TRAIN_ANNOTATIONS, p.stem), label, "train")
              for sub, label in ((C16_TUMOUR, "tumor"), (C16_NORMAL, "normal")) for p in _slides_in(folder / sub)]
    reference_path = folder / C16_REFERENCE
    reference = read_reference(reference_path) if reference_path.is_file() else {}
    tests = _slides_in(folder / C16_TEST_IMAGES)
    for name in sorted(set(reference) - {p.stem.lower() for p in tests}):
        log.warning("%s lists test slide %s, which is not in %s; it is skipped.", reference_path, name,
                    folder / C16_TEST_IMAGES)
    slides += [Camelyon16Slide(p.stem, p, _annotation(folder / C16_TEST_ANNOTATIONS, p.stem),
                               reference.get(p.stem.lower()), "test") for p in tests]
    return slides


# --- Camelyon17 ------------------------------------------------------------------------------------------


def read_stage_labels(path: Path) -> tuple[dict[str, str], dict[str, str]]:
    """``stage_labels.csv`` as ``({patient: stage}, {slide name: class})`` (names without ``.zip`` / ``.tif``)."""
    stages: dict[str, str] = {}
    classes: dict[str, str] = {}
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames is None or not set(C17_HEADER) <= {f.strip() for f in reader.fieldnames}:
            raise UserError(
                f"'{path}' does not start with the header 'patient,stage' of Camelyon17's stage_labels.csv; "
                "download it again."
            )
        for row in reader:
            row = {(k or "").strip(): (v or "").strip() for k, v in row.items()}
            name, value = row["patient"], row["stage"]
            if name.endswith(".zip"):
                if value not in STAGES:
                    raise UserError(f"'{path}' gives patient '{name}' the stage {value!r}, not one of "
                                    f"{', '.join(STAGES)}; fix that row or download the file again.")
                stages[name.removesuffix(".zip")] = value
            elif name.endswith(".tif"):
                if value not in SLIDE_CLASSES:
                    raise UserError(f"'{path}' gives slide '{name}' the class {value!r}, not one of "
                                    f"{', '.join(SLIDE_CLASSES)}; fix that row or download the file again.")
                classes[name.removesuffix(".tif")] = value
            elif name:
                raise UserError(f"'{path}' has a row for '{name}', which is neither a patient .zip nor a slide .tif; "
                                "fix that row or download the file again.")
    return stages, classes


def load_camelyon17(root: str | Path) -> Camelyon17:
    """The Camelyon17 training slides and patients under ``root`` (``data_root`` or the CAMELYON17 folder)."""
    folder = locate(root, CAMELYON17)
    labels = folder / C17_LABELS
    centers = [folder / C17_CENTER.format(k) for k in range(C17_CENTERS)]
    if not labels.is_file() or not any(c.is_dir() for c in centers):
        raise DataNotFoundError(
            f"Expected the Camelyon17 layout in '{folder}' ({C17_CENTER.format('0')}..{C17_CENTERS - 1}/"
            f"patient_000_node_0.tif, {C17_ANNOTATIONS}/ and {C17_LABELS}); point data_root at the folder holding "
            "CAMELYON17/."
        )
    stages, classes = read_stage_labels(labels)
    found: dict[str, tuple[Path, int]] = {}
    for center, path in ((k, p) for k, c in enumerate(centers) for p in _slides_in(c)):
        if _C17_SLIDE.match(path.stem):
            found[path.stem] = (path, center)
    for name in classes:
        if name not in found:
            raise UserError(
                f"stage_labels.csv names slide '{name}.tif', which is in none of the center folders of "
                f"'{folder / 'training'}'; download that slide or remove its row from '{labels}'."
            )
    slides = []
    for name in sorted(found):
        match = _C17_SLIDE.match(name)
        assert match is not None
        path, center = found[name]
        slides.append(Camelyon17Slide(name, path, _annotation(folder / C17_ANNOTATIONS, name), classes.get(name),
                                      match.group(1), int(match.group(3)), center))
    patients = tuple(
        Camelyon17Patient(p, stages.get(p), tuple(sorted((s for s in slides if s.patient == p), key=lambda s: s.node)))
        for p in sorted({s.patient for s in slides} | set(stages))
    )
    return Camelyon17(folder, tuple(slides), patients)
