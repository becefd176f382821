"""Paper D's lymph-node data: the Camelyon16 and Camelyon17 layouts on disk, their loaders, and writers that lay
synthetic slides out in exactly these layouts (so the loaders are tested on what they will read).

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
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from cpath_repro import atomic
from cpath_repro.data.layout import locate
from cpath_repro.errors import DataNotFoundError, ParameterError, UserError
from cpath_repro.metrics.staging import NODES_PER_PATIENT, SLIDE_CLASSES, STAGES, pn_stage
from cpath_repro.wsi.annotations import write_asap
from cpath_repro.wsi.writer import write_pyramid

if TYPE_CHECKING:
    from cpath_repro.synth.slides import Geometry, SyntheticSlide

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
#: Node classes drawn for synthetic Camelyon17 patients: most nodes negative, as in a sentinel-node series
#: (a choice for the synthetic data, not the dataset's counts).
NODE_CLASS_WEIGHTS = {"negative": 0.6, "itc": 0.1, "micro": 0.12, "macro": 0.18}


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


# --- synthetic layouts -----------------------------------------------------------------------------------


def _synthetic(geometry: Geometry, index: int, seed: int, slide_class: str, map_patches: int | None,
               difficulty: float | None) -> SyntheticSlide:
    from cpath_repro.synth import slides as synth

    return synth.make_slide(
        "camelyon-like", index, seed, geometry, slide_class=slide_class,
        difficulty=synth.DEFAULT_DIFFICULTY if difficulty is None else difficulty,
        map_patches=synth.DEFAULT_MAP_PATCHES if map_patches is None else map_patches,
    )


def write_camelyon16(root: str | Path, *, geometry: Geometry, seed: int = 0, n_tumour: int = 2, n_normal: int = 2,
                     n_test: int = 2, tumour_classes: Sequence[str] = ("macro", "micro"),
                     map_patches: int | None = None, difficulty: float | None = None) -> Path:
    """Lay out synthetic camelyon-like slides as Camelyon16 in ``root`` (the dataset folder itself) and return it.

    Training tumour slides take their classes from ``tumour_classes`` in turn, normal slides are negative;
    test slides alternate tumour and normal, starting with tumour. Tumour slides get an XML, normal ones none
    (as in the download); ``reference.csv`` says Tumor (with Macro / Micro / ITC) or Normal.
    """
    root = Path(root)
    if not tumour_classes or any(c not in SLIDE_CLASSES[1:] for c in tumour_classes):
        raise ParameterError(f"tumour_classes must be among {', '.join(SLIDE_CLASSES[1:])}, got {list(tumour_classes)}.")
    index = 0

    def put(folder: Path, annotations: Path, name: str, slide_class: str) -> None:
        nonlocal index
        slide = _synthetic(geometry, index, seed, slide_class, map_patches, difficulty)
        index += 1
        write_pyramid(folder / f"{name}.tif", slide.image, slide.mpp, description=f"synthetic {slide_class} slide")
        if slide_class != "negative":
            write_asap(annotations / f"{name}.xml", slide.regions)

    for i in range(n_tumour):
        put(root / C16_TUMOUR, root / C16_TRAIN_ANNOTATIONS, f"tumor_{i + 1:03d}", tumour_classes[i % len(tumour_classes)])
    for i in range(n_normal):
        put(root / C16_NORMAL, root / C16_TRAIN_ANNOTATIONS, f"normal_{i + 1:03d}", "negative")
    rows = []
    for i in range(n_test):
        cls = tumour_classes[(i // 2) % len(tumour_classes)] if i % 2 == 0 else "negative"
        name = f"test_{i + 1:03d}"
        put(root / C16_TEST_IMAGES, root / C16_TEST_ANNOTATIONS, name, cls)
        rows.append(f"{name},Normal" if cls == "negative" else f"{name},Tumor,{'ITC' if cls == 'itc' else cls.title()}")
    if n_test:
        atomic.write_text(root / C16_REFERENCE, "\n".join(rows) + "\n")
    return root


def draw_patients(n: int, seed: int) -> list[list[str]]:
    """``n`` synthetic patients' node classes (5 each), drawn with :data:`NODE_CLASS_WEIGHTS`."""
    rng = np.random.default_rng([int(seed), 17])
    names = list(NODE_CLASS_WEIGHTS)
    p = np.array(list(NODE_CLASS_WEIGHTS.values()))
    return [[names[k] for k in rng.choice(len(names), NODES_PER_PATIENT, p=p / p.sum())] for _ in range(n)]


def write_camelyon17(root: str | Path, patients: int | Sequence[Sequence[str]], *, geometry: Geometry, seed: int = 0,
                     annotated: float = 1.0, map_patches: int | None = None, difficulty: float | None = None) -> Path:
    """Lay out synthetic patients as Camelyon17 in ``root`` (the dataset folder itself) and return it.

    ``patients`` is a number (node classes drawn by :func:`draw_patients`) or each patient's five node classes.
    Patient ``p`` is in ``center_{p % 5}``; ``stage_labels.csv`` gives each patient's :func:`pn_stage` and each
    slide's class; the first ``annotated`` share (0-1) of the slides with lesions, in name order, get an XML.
    """
    root = Path(root)
    nodes = draw_patients(patients, seed) if isinstance(patients, int) else [list(p) for p in patients]
    for classes in nodes:
        if len(classes) != NODES_PER_PATIENT or any(c not in SLIDE_CLASSES for c in classes):
            raise ParameterError(
                f"Each patient needs {NODES_PER_PATIENT} node classes among {', '.join(SLIDE_CLASSES)}, got {classes}."
            )
    if not 0.0 <= annotated <= 1.0:
        raise ParameterError(f"annotated must be a share between 0 and 1, got {annotated}.")
    lesion_slides = [(p, k) for p, classes in enumerate(nodes) for k, c in enumerate(classes) if c != "negative"]
    to_annotate = set(lesion_slides[: int(round(annotated * len(lesion_slides)))])
    rows = ["patient,stage"]
    for p, classes in enumerate(nodes):
        rows.append(f"patient_{p:03d}.zip,{pn_stage(classes)}")
        for k, cls in enumerate(classes):
            name = f"patient_{p:03d}_node_{k}"
            slide = _synthetic(geometry, p * NODES_PER_PATIENT + k, seed, cls, map_patches, difficulty)
            write_pyramid(root / C17_CENTER.format(p % C17_CENTERS) / f"{name}.tif", slide.image, slide.mpp,
                          description=f"synthetic {cls} slide")
            if (p, k) in to_annotate:
                write_asap(root / C17_ANNOTATIONS / f"{name}.xml", slide.regions)
            rows.append(f"{name}.tif,{cls}")
    atomic.write_text(root / C17_LABELS, "\n".join(rows) + "\n")
    return root
