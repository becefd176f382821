"""Stomach biopsies in the layout of ``data_root/stomach-biopsies`` (paper D's own set is private).

::

    images/<slide>.tif           any OpenSlide-readable whole-slide image (.tif, .svs, .ndpi, .mrxs, ...)
    annotations/<slide>.xml      ASAP XML: Tumor polygons and Normal polygons (the paper's annotations cover
                                 "whole or a certain part of the tissue area"; unannotated tissue is nolabel)
    splits.csv                   slide,split rows (train / val / test), with that header

The synthetic stomach-like slides are written in the same layout
(:func:`cpath_repro.synth.slide_folders.write_stomach`), so the loader is tested on what it reads.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from cpath_repro.data.layout import locate
from cpath_repro.errors import DataNotFoundError, UserError

NAME = "stomach-biopsies"
IMAGES, ANNOTATIONS, SPLITS = "images", "annotations", "splits.csv"
SPLIT_NAMES = ("train", "val", "test")
HEADER = ("slide", "split")


@dataclass(frozen=True)
class BiopsySlide:
    name: str
    slide: Path
    annotation: Path | None
    split: str


def load(root: str | Path) -> list[BiopsySlide]:
    """Every slide listed in ``splits.csv``, in its order; a listed slide missing from ``images/`` (or a bad row)
    is one sentence naming it."""
    folder = locate(root, NAME)
    table = folder / SPLITS
    with table.open(newline="") as fh:
        rows = list(csv.reader(fh))
    if not rows or tuple(c.strip() for c in rows[0]) != HEADER:
        raise UserError(f"'{table}' must start with the header 'slide,split'; found {rows[0] if rows else 'nothing'}.")
    images = {p.stem: p for p in sorted((folder / IMAGES).glob("*")) if p.is_file()}
    slides = []
    for number, row in enumerate(rows[1:], start=2):
        if len(row) != 2 or row[1].strip() not in SPLIT_NAMES:
            raise UserError(f"Row {number} of '{table}' must be 'slide,split' with split one of "
                            f"{', '.join(SPLIT_NAMES)}; got {','.join(row)!r}.")
        name, split = row[0].strip(), row[1].strip()
        stem = Path(name).stem
        if stem not in images:
            raise UserError(f"'{table}' names slide {name!r}, which is not in '{folder / IMAGES}'; add the slide or "
                            "remove its row.")
        xml = folder / ANNOTATIONS / f"{stem}.xml"
        slides.append(BiopsySlide(stem, images[stem], xml if xml.is_file() else None, split))
    if not slides:
        raise DataNotFoundError(f"'{table}' lists no slides; expected one 'slide,split' row per slide in "
                                f"'{folder / IMAGES}'.")
    return slides
