"""Synthetic whole slides laid out on disk exactly as the real datasets are (Camelyon16, Camelyon17, paper D's
stomach biopsies), so that the loaders of :mod:`cpath_repro.data` read them as they would read the downloads.

The writers live here, with the generator (:mod:`cpath_repro.synth.slides`), and import the layouts' names from
the loaders: ``data`` never imports ``synth``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from cpath_repro import atomic, seeds
from cpath_repro.data import camelyon, stomach
from cpath_repro.errors import ParameterError
from cpath_repro.metrics.staging import NODES_PER_PATIENT, SLIDE_CLASSES, pn_stage
from cpath_repro.synth import slides as synth
from cpath_repro.synth.slides import Geometry, SyntheticSlide
from cpath_repro.wsi.annotations import write_asap
from cpath_repro.wsi.writer import write_pyramid

#: Node classes drawn for synthetic Camelyon17 patients: most nodes negative, as in a sentinel-node series
#: (a choice for the synthetic data, not the dataset's counts).
NODE_CLASS_WEIGHTS = {"negative": 0.6, "itc": 0.1, "micro": 0.12, "macro": 0.18}


def _synthetic(geometry: Geometry, index: int, seed: int, slide_class: str, map_patches: int | None,
               difficulty: float | None, lowres_contrast: float) -> SyntheticSlide:
    return synth.make_slide(
        "camelyon-like", index, seed, geometry, slide_class=slide_class,
        difficulty=synth.DEFAULT_DIFFICULTY if difficulty is None else difficulty, lowres_contrast=lowres_contrast,
        map_patches=synth.DEFAULT_MAP_PATCHES if map_patches is None else map_patches,
    )


def write_camelyon16(root: str | Path, *, geometry: Geometry, seed: int = 0, n_tumour: int = 2, n_normal: int = 2,
                     n_test: int = 2, tumour_classes: Sequence[str] = ("macro", "micro"),
                     map_patches: int | None = None, difficulty: float | None = None,
                     lowres_contrast: float = synth.LOWRES_CONTRAST) -> Path:
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
        slide = _synthetic(geometry, index, seed, slide_class, map_patches, difficulty, lowres_contrast)
        index += 1
        write_pyramid(folder / f"{name}.tif", slide.image, slide.mpp, description=f"synthetic {slide_class} slide")
        if slide_class != "negative":
            write_asap(annotations / f"{name}.xml", slide.regions)

    for i in range(n_tumour):
        put(root / camelyon.C16_TUMOUR, root / camelyon.C16_TRAIN_ANNOTATIONS, f"tumor_{i + 1:03d}",
            tumour_classes[i % len(tumour_classes)])
    for i in range(n_normal):
        put(root / camelyon.C16_NORMAL, root / camelyon.C16_TRAIN_ANNOTATIONS, f"normal_{i + 1:03d}", "negative")
    rows = []
    for i in range(n_test):
        cls = tumour_classes[(i // 2) % len(tumour_classes)] if i % 2 == 0 else "negative"
        name = f"test_{i + 1:03d}"
        put(root / camelyon.C16_TEST_IMAGES, root / camelyon.C16_TEST_ANNOTATIONS, name, cls)
        rows.append(f"{name},Normal" if cls == "negative" else f"{name},Tumor,{'ITC' if cls == 'itc' else cls.title()}")
    if n_test:
        atomic.write_text(root / camelyon.C16_REFERENCE, "\n".join(rows) + "\n")
    return root


def draw_patients(n: int, seed: int) -> list[list[str]]:
    """``n`` synthetic patients' node classes (5 each), drawn with :data:`NODE_CLASS_WEIGHTS`."""
    rng = seeds.rng(int(seed), "patients")
    names = list(NODE_CLASS_WEIGHTS)
    p = np.array(list(NODE_CLASS_WEIGHTS.values()))
    return [[names[k] for k in rng.choice(len(names), NODES_PER_PATIENT, p=p / p.sum())] for _ in range(n)]


def write_camelyon17(root: str | Path, patients: int | Sequence[Sequence[str]], *, geometry: Geometry, seed: int = 0,
                     annotated: float = 1.0, map_patches: int | None = None, difficulty: float | None = None,
                     lowres_contrast: float = synth.LOWRES_CONTRAST) -> Path:
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
            slide = _synthetic(geometry, p * NODES_PER_PATIENT + k, seed, cls, map_patches, difficulty,
                               lowres_contrast)
            folder = root / camelyon.C17_CENTER.format(p % camelyon.C17_CENTERS)
            write_pyramid(folder / f"{name}.tif", slide.image, slide.mpp, description=f"synthetic {cls} slide")
            if (p, k) in to_annotate:
                write_asap(root / camelyon.C17_ANNOTATIONS / f"{name}.xml", slide.regions)
            rows.append(f"{name}.tif,{cls}")
    atomic.write_text(root / camelyon.C17_LABELS, "\n".join(rows) + "\n")
    return root


def write_stomach(root: str | Path, n: int, *, geometry: Geometry, seed: int, n_val: int, n_test: int,
                    difficulty: float, lowres_contrast: float = synth.LOWRES_CONTRAST) -> Path:
    """Lay out ``n`` synthetic stomach-like slides in ``root`` (the dataset folder): the last ``n_test`` are test
    slides, the ``n_val`` before them validation slides."""
    root = Path(root)
    rows = [",".join(stomach.HEADER)]
    for i in range(n):
        slide = synth.make_slide("stomach-like", i, seed, geometry, difficulty=difficulty,
                                 lowres_contrast=lowres_contrast)
        name = f"biopsy_{i + 1:04d}"
        write_pyramid(root / stomach.IMAGES / f"{name}.tif", slide.image, slide.mpp,
                      description="synthetic stomach-like slide")
        write_asap(root / stomach.ANNOTATIONS / f"{name}.xml", slide.regions)
        split = "test" if i >= n - n_test else "val" if i >= n - n_test - n_val else "train"
        rows.append(f"{name}.tif,{split}")
    atomic.write_text(root / stomach.SPLITS, "\n".join(rows) + "\n")
    return root
