"""The one layout of real data: ``data_root/<dataset>/...``, one folder per published dataset.

The ``paper`` profile reads real data from ``-p data_root D``. ``D`` holds one folder per
dataset, under the name the dataset is published with (``D/BACH``, ``D/CAMELYON16``, ...),
each in its published layout. A notebook run on its own may also be given the dataset's own
folder (``-p data_root D/BACH``). :func:`locate` is the single place that decides which,
and it runs before any kernel starts (``cpath_repro.profiles.resolve``), so a wrong folder
stops a run with one sentence instead of failing mid-notebook.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cpath_repro.errors import DataNotFoundError


@dataclass(frozen=True)
class Dataset:
    """A published dataset: its folder name under ``data_root`` and how to recognise its own folder."""

    name: str
    what: str
    layout: str
    #: glob patterns relative to the dataset's folder; any match marks the folder as this dataset's
    markers: tuple[str, ...]
    paper: str

    def recognises(self, folder: Path) -> bool:
        return folder.is_dir() and any(next(folder.glob(pattern), None) is not None for pattern in self.markers)


DATASETS: dict[str, Dataset] = {
    d.name: d
    for d in (
        Dataset("stain-tiles", "your own stained RGB tiles to deconvolve", "*.png, *.jpg or *.tif (RGB, 8-bit)",
                ("*.png", "*.jpg", "*.jpeg", "*.tif", "*.tiff"), "stains"),
        Dataset("multistain-tiles", "paper A's tile folder",
                "tiles/<id>.png, labels/<id>.png (0-3, 255 = exclude) and tiles.csv (tile_id, stain, slide, split)",
                ("tiles.csv",), "A"),
        # Paper B (HistoKT): the nine datasets, each in the layout its authors publish
        Dataset("ADP", "ADP (Atlas of Digital Pathology)",
                "[ADP V1.0 Release/] img_res_1um_bicubic/, ADP_EncodedLabels_Release1_Flat.csv, "
                "splits/{train,valid,test}.npy", ("img_res_1um_bicubic", "*/img_res_1um_bicubic"), "B"),
        Dataset("MHIST", "MHIST", "annotations.csv and images/", ("annotations.csv",), "B"),
        Dataset("BACH", "BACH (ICIAR 2018)",
                "[ICIAR2018_BACH_Challenge/Photos/] one folder per class (Benign, InSitu, Invasive, Normal)",
                ("Benign", "*/Benign", "*/*/Benign"), "B"),
        Dataset("AJ-Lymph", "AJ-Lymph", "one folder per class (CLL, FL, MCL)", ("CLL", "*/CLL"), "B"),
        Dataset("PCam", "PatchCamelyon", "camelyonpatch_level_2_split_{train,valid,test}_{x,y}.h5 (gunzipped)",
                ("camelyonpatch_level_2_split_*",), "B"),
        Dataset("CRC", "NCT-CRC-HE-100K and CRC-VAL-HE-7K",
                "NCT-CRC-HE-100K/<class>/ (or NCT-CRC-HE-100K-NONORM/) and CRC-VAL-HE-7K/<class>/",
                ("NCT-CRC-HE-100K*",), "B"),
        Dataset("GlaS", "GlaS (MICCAI 2015)",
                "[Warwick QU Dataset (Released 2016_07_08)/] Grade.csv and the .bmp images with their annotation images",
                ("Grade.csv", "*/Grade.csv", "*/*/Grade.csv"), "B"),
        Dataset("OS", "Osteosarcoma (UT Southwestern / UT Dallas)",
                "[Osteosarcoma-UT/] ML_Features_1144.csv naming the .jpg images, in any sub-folder",
                ("ML_Features*.csv", "*/ML_Features*.csv"), "B"),
        Dataset("BCSS", "BCSS (Breast Cancer Semantic Segmentation)",
                "[0_Public-data-Amgad2019_0.25MPP/] rgbs_colorNormalized/, masks/, meta/gtruth_codes.tsv",
                ("gtruth_codes.tsv", "meta/gtruth_codes.tsv", "*/meta/gtruth_codes.tsv"), "B"),
        # Paper C: the Kaggle competition's own layout
        Dataset("intel-mobileodt-cervical-cancer-screening", "the Kaggle Intel & MobileODT cervix images",
                "train/Type_1..3/*.jpg, additional/Type_1..3/*.jpg, test/*.jpg", ("train/Type_1",), "C"),
        # Paper D: whole slides with ASAP XML annotations. The paper's stomach biopsies are private: a user's own
        # annotated biopsies go in this layout (the synthetic stomach-like slides are written in it too).
        Dataset("stomach-biopsies", "annotated stomach biopsies (paper D's set is private: your own)",
                "images/<slide>.{tif,svs,ndpi,mrxs}, annotations/<slide>.xml (ASAP: Tumor and Normal groups) and "
                "splits.csv (slide, split: train/val/test)", ("splits.csv",), "D"),
        # Paper D: whole slides with ASAP XML annotations
        Dataset("CAMELYON16", "Camelyon16", "whole-slide TIFFs with their ASAP XML lesion annotations",
                ("**/*.tif",), "D"),
        Dataset("CAMELYON17", "Camelyon17", "whole-slide TIFFs, ASAP XML annotations and stage_labels.csv",
                ("**/stage_labels.csv",), "D"),
    )
}


def of_paper(paper: str) -> tuple[str, ...]:
    """The datasets of one paper, in the order declared above (paper B's: Table 1's order)."""
    return tuple(name for name, dataset in DATASETS.items() if dataset.paper == paper)


def locate(root: str | Path, name: str) -> Path:
    """The folder of dataset ``name``: ``root/<name>`` when ``root`` is the data root, or ``root`` itself
    when it is the dataset's own folder; otherwise one sentence saying what was expected where."""
    dataset = DATASETS[name]
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DataNotFoundError(f"data_root '{root}' is not a folder; expected {dataset.what} in '{root / name}' "
                                f"({dataset.layout}).")
    for folder in (root / name, root):
        if dataset.recognises(folder):
            return folder
    raise DataNotFoundError(
        f"Expected {dataset.what} in '{root / name}' (or data_root itself being that folder), laid out as "
        f"{dataset.layout}; found neither."
    )


def available(root: str | Path, names: tuple[str, ...]) -> dict[str, Path]:
    """The datasets among ``names`` present under ``root`` (the others are skipped and listed by the page)."""
    found = {}
    for name in names:
        try:
            found[name] = locate(root, name)
        except DataNotFoundError:
            continue
    return found
