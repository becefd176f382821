"""Synthetic stand-ins for paper B's (HistoKT) nine datasets, with ground truth.

Why a module: paper B transfers between nine public datasets that differ in organ, magnification,
image size, size and labelling (Table 1). The ``default`` profile cannot download them, so each is
mimicked here with what matters for the paper's claims: its classes (the loaders' own names), its
native µm/px and image size (so that :func:`cpath_repro.data.standardize.standardize` has a real
rescale to do and cuts the paper's number of crops per image), its tissue, its relative size
(GlaS and AJ-Lymph small; ADP, CRC, OS and BCSS large), its split, and its labelling (ADP and
BCSS multi-label). :func:`make_dataset` returns the loaders' :class:`SourceDataset` and
:class:`SourceImage`, so the chapter treats real and synthetic data alike.

Geometry. ``scale`` shrinks the paper's geometry: the paper's 272-px crops at 1 µm/px become
``crop = 272 · scale`` px at ``1 / scale`` µm/px, and a dataset's images are Table 1's size × scale at
Table 1's µm/px / scale. Standardizing then cuts as many crops per image as the paper's geometry
(BACH: 6 at 25 % overlap), by a rescale of the same factor. Cell sizes are set in pixels of the
standardized (target) image, ``radius`` 1.5-4 px, and drawn at the native resolution scaled by
``target µm/px / native µm/px`` (= 1 / Table 1's µm/px, whatever the scale), so nuclei differ in
size between datasets before standardization and agree after it. Structures (glands, fat cells,
follicles, tissue regions) are set in µm at the paper's scale and shrink with ``scale`` down to a
floor in target pixels where they would no longer be drawable around the nuclei they hold.

Vocabulary. Every dataset is drawn from one set of tissue motifs (:data:`MOTIFS`): paper A's
tumour, normal tissue and necrosis (:data:`cpath_repro.synth.tissue.MORPHOLOGY`) and stroma,
lymphocytes, fat, glands, crypts, mucus, muscle, bone, blood, vessels and the healthy tissues of
ADP's taxonomy. A class is a mixture of motifs (:data:`RECIPES`), so related datasets share motifs:
BACH and BCSS breast (tumour, stroma, fat, ducts), CRC, MHIST and GlaS colorectal (crypts,
malignant glands, lamina propria), AJ-Lymph and PCam lymph node (lymphocytes), OS bone. Classes
differ in structure (nuclear size, density, shape and arrangement; rings, vacuoles, fibres), not
only in colour. ``difficulty`` (paper A's meaning, default :data:`DIFFICULTY`) moves every nuclear
population's morphology and every motif's eosin toward the vocabulary's mean; the arrangement stays.

Stain. Haematoxylin and eosin by Beer-Lambert with the Ruifrok-Johnston OD vectors
(:mod:`cpath_repro.synth.stains`). Each dataset has its own lab: a fixed turn of the two vectors and
stain strengths (:func:`stains.jitter_slide` with a seed of the dataset's, the same for every
experiment seed), and each image its own smaller jitter around the lab's (less for BCSS, whose
published images are colour-normalized). Glass is white where real images show some.

Ground truth. Every image has a ``mask``: H×W uint8 class indices of the regions that show its
class, :data:`MASK_NONE` on glass and on context tissue (the stroma every class of the dataset has).
Single-label images' own class is always in it; a crop's labels in ADP and BCSS are
:func:`cpath_repro.data.histokt.crop_labels` of its mask (``cpath_repro.data.standardize.crop_mask`` cuts
the mask as the image is cut; ADP's taxonomy closed by :func:`adp_closure`: ADP's image labels are exactly
that). :func:`layout` also gives the motif map.

Sizes. :func:`n_images` gives each dataset enough images for its training crops, Table 1's training patches
compressed as ``** 0.5`` (:func:`training_crops`), once split in Table 1's train/validation/test proportions;
the five datasets with a published split have it marked on their images, the others are split later.

Determinism. Image ``i`` of a dataset depends only on (dataset, seed, i, scale, difficulty) and is
made when read; labels, splits and sizes are known without making pixels.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from scipy import ndimage, spatial

from cpath_repro import seeds
from cpath_repro.data import histokt as loaders
from cpath_repro.data.histokt import MASK_NONE, SourceDataset, SourceImage
from cpath_repro.data.standardize import (
    CODE_OVERLAP,
    SIZE,
    TABLE_1,
    TARGET_MPP,
    crops_per_image,
    stride_for,
)
from cpath_repro.errors import ParameterError
from cpath_repro.synth import stains
from cpath_repro.synth.tissue import MORPHOLOGY, NECROSIS, TISSUE, TUMOUR, Morphology, draw_nuclei, morphology_at

# --- geometry ---------------------------------------------------------------------------------

NAMES = loaders.NAMES
#: The ``default`` profile's crop side: 32 px, i.e. scale 32/272 and 8.5 µm per target pixel.
DEFAULT_CROP = 32
DEFAULT_SCALE = DEFAULT_CROP / SIZE
#: The smallest crop side a scale may give (PCam's 96-px patches become 6 px at 16).
MIN_CROP = 16
#: Image sizes Table 1 prints as "Various", in pixels at the dataset's µm/px (W, H). GlaS: the Warwick QU
#: release's usual 775×522 at 0.62 µm/px (2 crops). BCSS: each side uniform in this range at 0.25 µm/px
#: (625-1125 µm, 2-5 crops a side), a few thousand pixels as its ROIs are, kept small so that crop counts
#: stay modest and a dataset of BCSS's size holds dozens of ROIs to split by.
GLAS_SIZE = (775, 522)
BCSS_SIDES = (2500, 4500)


def scale_for(crop: int) -> float:
    """The scale at which paper B's 272-px crops become ``crop`` px."""
    return crop / SIZE


def _check_scale(scale: float) -> None:
    if not (isinstance(scale, (int, float)) and math.isfinite(scale) and MIN_CROP / SIZE <= scale <= 1.0):
        raise ParameterError(f"scale must be between {MIN_CROP}/{SIZE} (crops of {MIN_CROP} px) and 1 (paper B's "
                             f"272-px crops at 1 µm/px), got {scale!r}.")


def crop_size(scale: float) -> int:
    """Side of the standardized crops at ``scale``: 272 · scale px."""
    _check_scale(scale)
    return round(SIZE * scale)


def target_mpp(scale: float) -> float:
    """µm per pixel of the standardized images at ``scale`` (paper B's 1 µm/px / scale)."""
    _check_scale(scale)
    return TARGET_MPP / scale


def native_mpp(name: str, scale: float) -> float:
    """µm per pixel of dataset ``name``'s synthetic images: Table 1's / scale."""
    _check_scale(scale)
    return TABLE_1[_known(name)].mpp / scale


def native_per_target(name: str) -> float:
    """Native pixels per target pixel (target µm/px / native µm/px = 1 / Table 1's µm/px, at every scale)."""
    return TARGET_MPP / TABLE_1[_known(name)].mpp


def _known(name: str) -> str:
    if name not in TABLE_1:
        raise ParameterError(f"Unknown paper B dataset {name!r}; expected one of {', '.join(NAMES)}.")
    return name


def paper_size(name: str) -> tuple[int, int]:
    """(W, H) of a dataset's images at Table 1's µm/px: Table 1's, or this module's choice where it prints
    "Various" (GlaS; BCSS: the middle of :data:`BCSS_SIDES`)."""
    size = TABLE_1[_known(name)].image_size
    if size is not None:
        return size
    return GLAS_SIZE if name == "GlaS" else (sum(BCSS_SIDES) // 2, sum(BCSS_SIDES) // 2)


def native_shape(name: str, scale: float, paper: tuple[int, int] | None = None) -> tuple[int, int]:
    """(H, W) of a synthetic image: the paper's (W, H) (default :func:`paper_size`) × scale."""
    _check_scale(scale)
    w, h = paper if paper is not None else paper_size(name)
    return max(1, round(h * scale)), max(1, round(w * scale))


def expected_crops(name: str, scale: float = DEFAULT_SCALE, overlap: float = CODE_OVERLAP) -> float:
    """Crops standardization cuts from one image (before contrast drops); BCSS: the mean over its sizes."""
    crop = crop_size(scale)
    stride = stride_for(overlap, crop)
    mpp, tmpp = native_mpp(name, scale), target_mpp(scale)
    if name != "BCSS":
        h, w = native_shape(name, scale)
        return float(crops_per_image(h, w, mpp, size=crop, stride=stride, target_mpp=tmpp))
    sides = np.linspace(*BCSS_SIDES, 11)
    counts = [crops_per_image(*native_shape(name, scale, (int(a), int(b))), mpp, size=crop, stride=stride,
                              target_mpp=tmpp) for a in sides for b in sides]
    return float(np.mean(counts))


# --- sizes and splits -------------------------------------------------------------------------

#: Training crops of the largest dataset in the ``default`` profile.
CROPS_PER_LARGE_DATASET = 350
#: How sizes are compressed: training crops ∝ Table 1's training patches ** SIZE_EXPONENT.
SIZE_EXPONENT = 0.5
#: Datasets whose authors publish a split (the loaders mark it); the others are split later by source image.
PUBLISHED_SPLITS = ("ADP", "MHIST", "PCam", "CRC", "GlaS")


def training_crops(crops_per_large_dataset: int = CROPS_PER_LARGE_DATASET,
                   exponent: float = SIZE_EXPONENT) -> dict[str, int]:
    """Each dataset's training crops: Table 1's training patches, compressed as ``(n / largest) ** exponent`` and
    scaled so that the largest (BCSS, ADP, CRC, OS: ~14,000 each) has ``crops_per_large_dataset``.

    Table 1's training column decides, not its total: PCam's total is the largest (32,322 test patches) but its
    training set is 2,000 patches, and the paper's "large source" datasets are the ones with large training sets.
    """
    if crops_per_large_dataset < 1 or not 0 < exponent <= 1:
        raise ParameterError(f"crops_per_large_dataset must be at least 1 and exponent in (0, 1], got "
                             f"{crops_per_large_dataset} and {exponent}.")
    largest = max(row.patches[0] for row in TABLE_1.values())
    return {n: max(1, round(crops_per_large_dataset * (TABLE_1[n].patches[0] / largest) ** exponent)) for n in NAMES}


def published_fractions(name: str) -> tuple[float, float, float]:
    """Train, validation and test shares of Table 1's patch columns."""
    train, val, test = TABLE_1[_known(name)].patches
    total = train + val + test
    return train / total, val / total, test / total


def n_images(name: str, crops_per_large_dataset: int = CROPS_PER_LARGE_DATASET, scale: float = DEFAULT_SCALE,
             exponent: float = SIZE_EXPONENT) -> int:
    """Source images of dataset ``name`` for a budget: enough for its :func:`training_crops` once split in Table 1's
    proportions (all three splits are made; datasets without a published split are split later the same way)."""
    train = training_crops(crops_per_large_dataset, exponent)[_known(name)]
    total = train / published_fractions(name)[0]
    return max(len(RECIPES.get(name, ())) or 2, math.ceil(total / expected_crops(name, scale)))


def _splits(name: str, n: int) -> list[str | None]:
    if name not in PUBLISHED_SPLITS:
        return [None] * n
    fractions = published_fractions(name)
    counts = [math.floor(n * f) for f in fractions]
    for i in np.argsort([-(n * f - c) for f, c in zip(fractions, counts, strict=True)])[: n - sum(counts)]:
        counts[int(i)] += 1  # largest remainder
    for i in range(len(counts)) if n >= len(counts) else ():  # every split gets an image: move one from the largest
        if counts[i] == 0:
            counts[i], counts[int(np.argmax(counts))] = 1, max(counts) - 1
    return [s for s, c in zip(loaders.SPLITS, counts, strict=True) for _ in range(c)]


# --- classes ----------------------------------------------------------------------------------

#: NCT-CRC-HE-100K's nine tissue-class folders; CRC's classes are these less the loader's CRC_EXCLUDED, sorted as
#: the loader reads them. (Move beside CRC_EXCLUDED in data/histokt.py if the loader ever needs it.)
CRC_FOLDERS = ("ADI", "BACK", "DEB", "LYM", "MUC", "MUS", "NORM", "STR", "TUM")
CRC_CLASSES = tuple(sorted(c for c in CRC_FOLDERS if c not in loaders.CRC_EXCLUDED))

CLASSES: dict[str, tuple[str, ...]] = {
    "ADP": loaders.ADP_CLASSES, "MHIST": loaders.MHIST_CLASSES, "BACH": loaders.BACH_CLASSES,
    "AJ-Lymph": loaders.AJ_LYMPH_CLASSES, "PCam": loaders.PCAM_CLASSES, "CRC": CRC_CLASSES,
    "GlaS": loaders.GLAS_CLASSES, "OS": loaders.OS_CLASSES, "BCSS": loaders.BCSS_CLASSES,
}
MULTILABEL = ("ADP", "BCSS")


def adp_closure(labels: Sequence[int]) -> tuple[int, ...]:
    """ADP class indices with every ancestor in the taxonomy added ("E.M.S" brings "E.M" and "E")."""
    index = {c: i for i, c in enumerate(loaders.ADP_CLASSES)}
    out: set[int] = set()
    for i in labels:
        parts = loaders.ADP_CLASSES[i].split(".")
        out.update(index[".".join(parts[:k])] for k in range(1, len(parts) + 1) if ".".join(parts[:k]) in index)
    return tuple(sorted(out))


# --- the motif vocabulary ---------------------------------------------------------------------


@dataclass(frozen=True)
class Cells:
    """A cell population of a motif: its nuclei (or, ``body``, cell bodies drawn in eosin: red cells, neurons)."""

    morph: Morphology  # lengths in target pixels, density per target pixel²
    where: str = "main"  # compartment: main, rim, lumen, core, wall, filled, bodies (inside this motif's bodies)
    orient: str = "random"  # long axis: random, along (the motif's fibres), radial or tangential (in a ring)
    body: bool = False


@dataclass(frozen=True)
class Rings:
    """Ring-shaped objects (glands, crypts, ducts, vessels, follicles): a lumen in a rim of cells, in a filler."""

    radius_um: tuple[float, float]  # outer radius at the paper's scale
    floor_px: float  # smallest outer radius in target pixels
    lumen: float  # lumen radius / outer radius
    fill: str = "white"  # the lumen: white, mucus, secretion, blood, cells
    rim_eosin: float = 0.22
    rim_haem: float = 0.05
    serration: float = 0.0  # amplitude of a star-shaped lumen (serrated crypts)
    irregular: float = 0.0  # amplitude of the outline's low-order wobble (malignant glands)
    spacing: float = 1.2  # centre spacing / outer diameter
    core: float = 0.0  # central necrosis radius / lumen radius (comedo)
    band: tuple[float, ...] = ()  # radii (/ outer) of the layers rim nuclei sit on; () anywhere in the rim


@dataclass(frozen=True)
class Vacuoles:
    """Packed empty cells (fat) with thin walls; ``filled`` of them full of cells instead (marrow)."""

    spacing_um: float
    floor_px: float
    wall: float = 0.12  # wall thickness / spacing
    filled: float = 0.0


@dataclass(frozen=True)
class Motif:
    """One tissue pattern of the shared vocabulary."""

    name: str
    where: str  # where it is found (documentation)
    eosin: float  # OD of the main compartment (sheet, filler between rings, walls)
    haem: float = 0.0  # diffuse haematoxylin there (basophilic cytoplasm, mucin)
    texture: str = "plain"  # plain, fibres, aligned, striated, fibrillary, cement, wisps
    cells: tuple[Cells, ...] = ()
    holes: float = 0.0  # fraction of the main compartment left empty (clefts, loose spaces)
    rings: Rings | None = None
    vacuoles: Vacuoles | None = None


def _m(radius: tuple[float, float], density: float, od: tuple[float, float], elongation: float) -> Morphology:
    return Morphology(radius, density, od, elongation, 0.0, 0.0)  # stroma_od: a motif's eosin is Motif.eosin


# Nuclear populations (target px). Paper A's three are used as they are.
LYMPHOCYTE = _m((1.5, 1.9), 0.045, (1.2, 1.6), 1.15)  # small, round, dark, packed
FIBROBLAST = _m((1.5, 2.0), 0.004, (0.7, 1.0), 3.0)
PLASMA_CELL = _m((1.7, 2.1), 0.020, (1.0, 1.3), 1.3)
GLANDULAR = _m((1.7, 2.3), 0.050, (0.8, 1.1), 1.6)  # cuboidal/columnar epithelium of a rim
CRYPT_CELL = _m((1.6, 2.1), 0.050, (0.8, 1.1), 2.0)
FLAT = _m((1.5, 1.8), 0.030, (0.8, 1.1), 3.0)  # endothelium, simple squamous lining, myoepithelium
SMOOTH_MUSCLE = _m((1.5, 2.0), 0.006, (0.7, 1.0), 3.5)
ADIPOCYTE = _m((1.5, 1.8), 0.010, (0.8, 1.0), 3.0)
KERATINOCYTE = _m((1.8, 2.4), 0.012, (0.8, 1.1), 1.7)
OSTEOCYTE = _m((1.5, 1.8), 0.002, (0.8, 1.0), 2.0)
CENTROCYTE = _m((1.7, 2.3), 0.030, (1.0, 1.3), 1.8)  # cleaved germinal-centre cells
CENTROBLAST = _m((2.8, 3.4), 0.008, (0.55, 0.8), 1.3)  # large, vesicular
PROLYMPHOCYTE = _m((2.2, 2.8), 0.004, (0.7, 0.9), 1.2)
MANTLE_CELL = _m((1.8, 2.3), 0.035, (1.0, 1.3), 1.6)  # medium, irregular, monotonous
MYELOID = _m((1.8, 2.6), 0.020, (0.9, 1.2), 1.8)
GLIAL = _m((1.5, 1.9), 0.006, (1.0, 1.3), 1.15)
MICROGLIAL = _m((1.5, 1.8), 0.005, (1.0, 1.3), 3.0)  # rod-shaped
LEUKOCYTE = _m((1.5, 2.0), 0.010, (1.1, 1.4), 2.4)  # band and lobed nuclei
CARDIOMYOCYTE = _m((1.8, 2.4), 0.003, (0.7, 0.9), 1.8)
SKELETAL_FIBRE = _m((1.5, 1.9), 0.003, (0.8, 1.0), 3.0)
TENOCYTE = _m((1.5, 1.8), 0.003, (0.8, 1.1), 4.0)
ACINAR = _m((1.7, 2.1), 0.050, (0.8, 1.1), 1.3)
ENDOCRINE_CELL = _m((1.8, 2.2), 0.015, (0.8, 1.0), 1.15)
METAPLASTIC = _m((2.0, 2.6), 0.008, (0.7, 0.95), 1.2)  # large cells, abundant pink cytoplasm
NEURON_NUCLEUS = _m((2.2, 2.8), 0.015, (0.5, 0.7), 1.1)  # about one in each neuron body
# Bodies (drawn in eosin, not moved by ``difficulty``): red cells, neuron bodies, histiocytes.
RED_CELL = _m((1.5, 1.9), 0.080, (0.45, 0.7), 1.2)
NEURON_BODY = _m((3.5, 5.0), 0.004, (0.30, 0.40), 1.3)
HISTIOCYTE = _m((2.5, 3.5), 0.002, (0.25, 0.35), 1.4)

_FILLER_STROMA = (Cells(FIBROBLAST),)
_LAMINA_PROPRIA = (Cells(replace(LYMPHOCYTE, density=0.012)), Cells(replace(PLASMA_CELL, density=0.008)))


def _crypt(name: str, where: str, radius: tuple[float, float], floor: float, lumen: float, serration: float = 0.0,
           irregular: float = 0.0) -> Motif:
    return Motif(name, where, 0.20, 0.02, "plain", (Cells(CRYPT_CELL, "rim", "radial"), *_LAMINA_PROPRIA),
                 rings=Rings(radius, floor, lumen, "mucus", 0.18, 0.06, serration, irregular, band=(0.8,)))


#: The vocabulary. Radii in µm are at the paper's scale (1 µm/px); densities per target pixel².
MOTIFS: dict[str, Motif] = {m.name: m for m in (
    # paper A's classes (cpath_repro.synth.tissue.MORPHOLOGY)
    Motif("tumour", "carcinoma or sarcoma sheets (paper A's tumour)", MORPHOLOGY[TUMOUR].stroma_od, 0.03, "plain",
          (Cells(MORPHOLOGY[TUMOUR]),)),
    Motif("normal", "non-neoplastic tissue (paper A's tissue)", MORPHOLOGY[TISSUE].stroma_od, 0.0, "fibres",
          (Cells(MORPHOLOGY[TISSUE]),)),
    Motif("necrosis", "necrotic debris (paper A's necrosis)", MORPHOLOGY[NECROSIS].stroma_od + 0.06, 0.05, "wisps",
          (Cells(MORPHOLOGY[NECROSIS]),)),
    # connective tissue
    Motif("stroma", "dense irregular collagen, fibroblasts", 0.34, 0.0, "fibres", _FILLER_STROMA, holes=0.03),
    Motif("tendon", "dense regular collagen, aligned tenocytes", 0.45, 0.0, "aligned", (Cells(TENOCYTE, orient="along"),)),
    Motif("loose", "loose connective tissue", 0.15, 0.0, "fibres", (Cells(replace(FIBROBLAST, density=0.003)),),
          holes=0.25),
    Motif("fat", "white adipose tissue", 0.30, 0.0, "plain", (Cells(ADIPOCYTE, "wall", "tangential"),),
          vacuoles=Vacuoles(60.0, 6.0)),
    Motif("marrow", "marrow fat with haematopoietic cells", 0.30, 0.0, "plain",
          (Cells(ADIPOCYTE, "wall", "tangential"), Cells(replace(LYMPHOCYTE, density=0.02), "filled"),
           Cells(MYELOID, "filled")),
          vacuoles=Vacuoles(60.0, 6.0, filled=0.5)),
    Motif("bone", "bone matrix with osteocytes and cement lines", 0.62, 0.0, "cement", (Cells(OSTEOCYTE),), holes=0.04),
    # blood and immune cells
    Motif("blood", "red cells in plasma", 0.12, 0.0, "plain",
          (Cells(RED_CELL, body=True), Cells(replace(LEUKOCYTE, density=0.001)))),
    Motif("leukocytes", "granulocytes among red cells", 0.10, 0.0, "plain",
          (Cells(LEUKOCYTE), Cells(replace(RED_CELL, density=0.03), body=True))),
    Motif("lymphocytes", "sheets of small lymphocytes", 0.06, 0.0, "plain", (Cells(LYMPHOCYTE),)),
    Motif("plasma", "plasma cells", 0.25, 0.0, "plain", (Cells(PLASMA_CELL),)),
    Motif("cll", "small lymphocytes with scattered prolymphocytes", 0.06, 0.0, "plain",
          (Cells(LYMPHOCYTE), Cells(PROLYMPHOCYTE))),
    Motif("follicle", "follicles: germinal-centre cells in a mantle of small lymphocytes", 0.06, 0.0, "plain",
          (Cells(CENTROCYTE, "lumen"), Cells(CENTROBLAST, "lumen"), Cells(LYMPHOCYTE, "rim"), Cells(LYMPHOCYTE)),
          rings=Rings((120.0, 180.0), 14.0, 0.75, "cells", 0.06, 0.0, spacing=1.1)),
    Motif("mantle", "monotonous medium irregular cells, pink histiocytes", 0.07, 0.0, "plain",
          (Cells(MANTLE_CELL), Cells(HISTIOCYTE, body=True))),
    # glands and epithelia
    Motif("gland", "simple cuboidal/columnar glands", 0.25, 0.0, "fibres",
          (Cells(GLANDULAR, "rim", "radial"), *_FILLER_STROMA), rings=Rings((30.0, 45.0), 11.0, 0.45, band=(0.78,))),
    _crypt("crypt", "colonic crypts in lamina propria", (25.0, 35.0), 10.0, 0.4),
    _crypt("crypt_serrated", "crypts with star-shaped (serrated) lumens", (25.0, 35.0), 10.0, 0.42, serration=0.35),
    _crypt("crypt_dilated", "dilated, irregular serrated crypts", (40.0, 55.0), 13.0, 0.6, serration=0.25,
           irregular=0.2),
    Motif("gland_malignant", "irregular glands of crowded atypical cells, dirty necrosis", 0.30, 0.0, "fibres",
          (Cells(MORPHOLOGY[TUMOUR], "rim"), Cells(MORPHOLOGY[NECROSIS], "core"), *_FILLER_STROMA),
          rings=Rings((40.0, 70.0), 12.0, 0.3, "white", 0.10, 0.04, irregular=0.35, core=0.7)),
    Motif("duct", "ducts lined by two or more cell layers", 0.30, 0.0, "fibres",
          (Cells(GLANDULAR, "rim", "radial"), *_FILLER_STROMA), rings=Rings((35.0, 50.0), 12.0, 0.3, band=(0.55, 0.85))),
    Motif("duct_in_situ", "ducts filled by atypical cells behind an intact rim (in situ)", 0.30, 0.0, "fibres",
          (Cells(FLAT, "rim", "tangential"), Cells(MORPHOLOGY[TUMOUR], "lumen"), Cells(MORPHOLOGY[NECROSIS], "core"),
           *_FILLER_STROMA), rings=Rings((60.0, 90.0), 14.0, 0.85, "cells", 0.25, 0.0, core=0.3, band=(0.92,))),
    Motif("lining", "simple squamous lining of spaces", 0.15, 0.0, "fibres", (Cells(FLAT, "rim", "tangential"),),
          rings=Rings((40.0, 60.0), 10.0, 0.85, "white", 0.25, 0.0, band=(0.92,))),
    Motif("squamous", "stratified squamous epithelium", 0.40, 0.02, "plain", (Cells(KERATINOCYTE, orient="along"),)),
    Motif("acini", "exocrine acini", 0.20, 0.0, "plain", (Cells(ACINAR, "rim", "radial"),),
          rings=Rings((15.0, 22.0), 6.0, 0.15, "white", 0.28, 0.12, spacing=1.05, band=(0.7,))),
    Motif("endocrine", "nests of uniform endocrine cells among capillaries", 0.22, 0.04, "plain",
          (Cells(ENDOCRINE_CELL), Cells(replace(RED_CELL, density=0.005), body=True))),
    Motif("vessel", "vessels: red cells in a lumen, endothelium and muscular wall", 0.30, 0.0, "fibres",
          (Cells(SMOOTH_MUSCLE, "rim", "tangential"), Cells(RED_CELL, "lumen", body=True), *_FILLER_STROMA),
          rings=Rings((20.0, 35.0), 8.0, 0.55, "blood", 0.40, 0.0)),
    Motif("mucus", "mucin pools with few floating cells", 0.05, 0.13, "wisps", (Cells(replace(LYMPHOCYTE, density=0.002)),)),
    Motif("secretion", "eosinophilic glandular secretion", 0.28, 0.06, "wisps"),
    Motif("metaplasia", "large cells with abundant pink cytoplasm", 0.50, 0.0, "plain", (Cells(METAPLASTIC),)),
    # muscle
    Motif("muscle", "smooth muscle", 0.45, 0.0, "aligned", (Cells(SMOOTH_MUSCLE, orient="along"),)),
    Motif("cardiac", "cardiac muscle", 0.48, 0.0, "striated", (Cells(CARDIOMYOCYTE, orient="along"),)),
    Motif("skeletal", "skeletal muscle", 0.50, 0.0, "striated", (Cells(SKELETAL_FIBRE, orient="along"),)),
    # nervous tissue
    Motif("neuropil", "neuropil", 0.22, 0.0, "fibrillary", (Cells(replace(GLIAL, density=0.001)),)),
    Motif("neurons", "neuron bodies in neuropil", 0.22, 0.0, "fibrillary",
          (Cells(NEURON_BODY, body=True), Cells(NEURON_NUCLEUS, "bodies"), Cells(replace(GLIAL, density=0.001)))),
    Motif("glia", "glial nuclei in neuropil", 0.20, 0.0, "fibrillary", (Cells(GLIAL),)),
    Motif("microglia", "rod-shaped microglial nuclei in neuropil", 0.20, 0.0, "fibrillary", (Cells(MICROGLIAL),)),
)}
MOTIF_NAMES = tuple(MOTIFS)
#: Value of a motif-map pixel on glass.
GLASS = 255

#: Per-class recipes of the single-label datasets, in the loaders' class order: (motif, share, shows the class).
#: A part that does not show the class is context: tissue every class of the dataset has (MASK_NONE in the mask).
#: Classes defined by an absence (PCam non-tumour, OS non-tumour, CRC's pure-tissue tiles) show their class on
#: all their tissue.
Part = tuple[str, float, bool]
RECIPES: dict[str, tuple[tuple[Part, ...], ...]] = {
    "MHIST": (  # HP, SSA: serrated crypts; SSA's dilated and irregular
        (("crypt_serrated", 0.8, True), ("stroma", 0.2, False)),
        (("crypt_dilated", 0.8, True), ("stroma", 0.2, False)),
    ),
    "BACH": (  # Benign, InSitu, Invasive, Normal
        (("duct", 0.55, True), ("stroma", 0.45, False)),
        (("duct_in_situ", 0.55, True), ("stroma", 0.45, False)),
        (("tumour", 0.6, True), ("stroma", 0.4, False)),
        (("gland", 0.35, True), ("fat", 0.3, False), ("stroma", 0.35, False)),
    ),
    "AJ-Lymph": (  # CLL, FL, MCL
        (("cll", 1.0, True),),
        (("follicle", 1.0, True),),
        (("mantle", 1.0, True),),
    ),
    "PCam": (  # non_tumor, tumor (tumour in the patch's centre, as PCam's label is defined)
        (("lymphocytes", 0.75, True), ("fat", 0.1, True), ("stroma", 0.15, True)),
        (("tumour", 0.45, True), ("lymphocytes", 0.4, False), ("stroma", 0.15, False)),
    ),
    "CRC": (  # ADI, LYM, MUC, MUS, NORM, STR, TUM: tiles of one tissue
        (("fat", 0.9, True), ("stroma", 0.1, False)),
        (("lymphocytes", 0.9, True), ("stroma", 0.1, False)),
        (("mucus", 0.85, True), ("stroma", 0.15, False)),
        (("muscle", 0.9, True), ("stroma", 0.1, False)),
        (("crypt", 0.85, True), ("stroma", 0.15, False)),
        (("stroma", 0.9, True), ("muscle", 0.1, False)),
        (("gland_malignant", 0.85, True), ("stroma", 0.15, False)),
    ),
    "GlaS": (  # benign, malignant
        (("crypt", 0.75, True), ("stroma", 0.25, False)),
        (("gland_malignant", 0.7, True), ("stroma", 0.3, False)),
    ),
    "OS": (  # Non-Tumor, Viable, Non-Viable-Tumor
        (("bone", 0.5, True), ("marrow", 0.5, True)),
        (("tumour", 0.65, True), ("bone", 0.35, False)),
        (("necrosis", 0.6, True), ("bone", 0.4, False)),
    ),
}
#: Share of glass in an image (× U(0.5, 1.5) per image); none in CRC (its BACK class is left out) or PCam.
GLASS_SHARE = {"ADP": 0.05, "MHIST": 0.05, "BACH": 0.05, "AJ-Lymph": 0.03, "PCam": 0.0, "CRC": 0.0, "GlaS": 0.08,
               "OS": 0.1, "BCSS": 0.03}
#: ADP's leaf classes (the authors' "L3Only" plus N.G, glia other than microglia) as motifs of healthy tissue.
#: Their ancestors (E for E.M.S, ...) are labels too (:func:`adp_closure`); the mask holds the leaf.
ADP_MOTIFS = {
    "E.M.S": "lining", "E.M.C": "gland", "E.T.S": "squamous", "E.T.C": "duct",
    "C.D.I": "stroma", "C.D.R": "tendon", "C.L": "loose",
    "H.E": "blood", "H.K": "leukocytes", "H.Y": "lymphocytes",
    "S.M": "muscle", "S.C": "cardiac", "S.R": "skeletal",
    "A.W": "fat", "A.M": "marrow", "M": "bone",
    "N.P": "neuropil", "N.R": "neurons", "N.G": "glia", "N.G.M": "microglia",
    "G.O": "acini", "G.N": "endocrine", "T": "vessel",
}
#: Tissue types per ADP image: 1, 2 or 3 leaves with these probabilities; each at least ADP_MIN_SHARE of the image.
ADP_LEAVES = (0.3, 0.45, 0.25)
ADP_MIN_SHARE = 0.2
#: BCSS's classes as motifs, each ROI's presence probability and relative pixel share. Tumour and stroma are in
#: every ROI and, with lymphocytic infiltrate and necrosis, hold most pixels (Amgad et al. 2019); the six rare
#: classes are in some ROIs, a few percent each.
BCSS_PARTS = {
    "tumor": ("tumour", 1.0, 0.34), "stroma": ("stroma", 1.0, 0.30), "lymphocytic_infiltrate": ("lymphocytes", 0.7, 0.12),
    "necrosis_or_debris": ("necrosis", 0.4, 0.10), "glandular_secretions": ("secretion", 0.25, 0.04),
    "blood": ("blood", 0.3, 0.04), "metaplasia_NOS": ("metaplasia", 0.15, 0.04), "fat": ("fat", 0.3, 0.05),
    "plasma_cells": ("plasma", 0.25, 0.04), "blood_vessel": ("vessel", 0.3, 0.04),
}

# --- generator settings -----------------------------------------------------------------------

#: Paper A's default (TissueConfig.difficulty): populations 40 % of the way to the vocabulary's mean.
DIFFICULTY = 0.4
#: Tissue regions: correlation length in µm at the paper's scale, floor in target pixels.
REGION_UM = 120.0
REGION_FLOOR_PX = 24.0
#: Lab: the dataset's turn of the H&E vectors (at most, degrees) and stain strengths; image: its own jitter.
LAB_MAX_ANGLE_DEG = 8.0
LAB_SCALE_RANGE = (0.75, 1.25)
IMAGE_MAX_ANGLE_DEG = 3.0
IMAGE_SCALE_RANGE = (0.9, 1.1)
IMAGE_I0_RANGE = (0.97, 1.0)  # paper A's: scanners white-balance on glass
#: BCSS's published ROIs are colour-normalized (``rgbs_colorNormalized``): little jitter between its images.
NORMALIZED = {"BCSS": (1.0, (0.97, 1.03))}
LAB_SEED = 2021
#: Blur of nuclei and compartments (target px; paper A's 0.6) and concentration noise (paper A's 0.015 OD).
BLUR_PX = 0.6
NOISE_OD = 0.015

_HE = stains.ASSAYS["H&E"]


# --- plans: what an image holds, known without making it ---------------------------------------


@dataclass(frozen=True)
class _Part:
    motif: str | None  # None: glass
    share: float
    cls: int  # mask value (MASK_NONE: context or glass)
    centre: bool = False


@dataclass(frozen=True)
class _Plan:
    labels: tuple[int, ...]
    shape: tuple[int, int]  # native (H, W)
    parts: tuple[_Part, ...]


def _rng(name: str, seed: int, index: int, stream: int) -> np.random.Generator:
    return seeds.rng(seed, name, index, stream)


def _glass(name: str, rng: np.random.Generator) -> list[_Part]:
    share = GLASS_SHARE[name] * rng.uniform(0.5, 1.5)
    return [_Part(None, share, MASK_NONE)] if share > 0 else []


def _normalise(parts: list[_Part]) -> tuple[_Part, ...]:
    total = sum(p.share for p in parts)
    return tuple(replace(p, share=p.share / total) for p in parts)


def _plan(name: str, seed: int, index: int, scale: float) -> _Plan:
    rng = _rng(name, seed, index, 0)
    shape = (native_shape(name, scale, (int(rng.integers(BCSS_SIDES[0], BCSS_SIDES[1] + 1)),
                                        int(rng.integers(BCSS_SIDES[0], BCSS_SIDES[1] + 1))))
             if name == "BCSS" else native_shape(name, scale))
    glass = _glass(name, rng)
    rest = 1.0 - sum(p.share for p in glass)
    if name == "ADP":
        leaves = list(ADP_MOTIFS)
        k = int(rng.choice(len(ADP_LEAVES), p=ADP_LEAVES)) + 1
        chosen = sorted(int(i) for i in rng.choice(len(leaves), size=k, replace=False))
        shares = ADP_MIN_SHARE + (1 - k * ADP_MIN_SHARE) * rng.dirichlet(np.full(k, 2.0))
        index_of = {c: i for i, c in enumerate(loaders.ADP_CLASSES)}
        parts = [_Part(ADP_MOTIFS[leaves[i]], rest * s, index_of[leaves[i]]) for i, s in zip(chosen, shares, strict=True)]
        labels = adp_closure([p.cls for p in parts])
        return _Plan(labels, shape, _normalise(glass + parts))
    if name == "BCSS":
        parts = []
        for cls, (motif, presence, weight) in enumerate(BCSS_PARTS.values()):
            if rng.random() < presence:
                parts.append(_Part(motif, weight * rng.gamma(4.0) / 4.0, cls))
        total = sum(p.share for p in parts)
        return _Plan((), shape, _normalise(glass + [replace(p, share=p.share * rest / total) for p in parts]))
    recipes = RECIPES[name]
    label = index % len(recipes)
    parts = []
    for motif, share, shows in recipes[label]:
        jittered = share * rng.gamma(20.0) / 20.0
        parts.append(_Part(motif, jittered, label if shows else MASK_NONE,
                           centre=name == "PCam" and motif == "tumour"))
    total = sum(p.share for p in parts)
    return _Plan((label,), shape, _normalise(glass + [replace(p, share=p.share * rest / total) for p in parts]))


# --- layout: which part is where ----------------------------------------------------------------


def _bilinear(coarse: np.ndarray, y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``(n, hc, wc)`` fields sampled bilinearly at coarse coordinates ``y``, ``x`` (arrays that broadcast)."""
    y0, x0 = np.floor(y).astype(int), np.floor(x).astype(int)
    wy, wx = y - y0, x - x0
    return (coarse[:, y0, x0] * ((1 - wy) * (1 - wx)) + coarse[:, y0 + 1, x0] * (wy * (1 - wx))
            + coarse[:, y0, x0 + 1] * ((1 - wy) * wx) + coarse[:, y0 + 1, x0 + 1] * (wy * wx))


def _fields(rng: np.random.Generator, shape: tuple[int, int], length: float, n: int,
            at: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """``n`` smooth Gaussian random fields (zero mean, unit variance) of correlation length ~``length`` native px,
    over the whole image ``(n, H, W)`` or at the pixels ``at`` = (ys, xs) ``(n, len(ys))``. White noise on a grid
    ``length / 4`` apart, Gaussian-filtered, interpolated bilinearly."""
    cell = max(length / 4.0, 1.0)
    coarse_shape = (n, math.ceil(shape[0] / cell) + 3, math.ceil(shape[1] / cell) + 3)
    sigma = length / 2.5 / cell
    coarse = ndimage.gaussian_filter(rng.normal(size=coarse_shape), sigma=(0, sigma, sigma), mode="wrap")
    coarse /= coarse.std(axis=(1, 2), keepdims=True) + 1e-12
    if at is not None:
        return _bilinear(coarse, at[0] / cell + 1.0, at[1] / cell + 1.0)
    for axis, n_out in ((1, shape[0]), (2, shape[1])):  # separable on the whole grid
        pos = np.arange(n_out) / cell + 1.0
        lo = np.floor(pos).astype(int)
        weight = (pos - lo).reshape((-1, 1) if axis == 1 else (1, -1))
        coarse = np.take(coarse, lo, axis=axis) * (1 - weight) + np.take(coarse, lo + 1, axis=axis) * weight
    return coarse


def _region_length(name: str, scale: float) -> float:
    return max(REGION_UM * scale, REGION_FLOOR_PX) * native_per_target(name)


def _assign(plan: _Plan, rng: np.random.Generator, length: float) -> np.ndarray:
    """Each native pixel's part: parts in order take their share of the still free pixels where their field is highest.

    Glass leans on one edge (a tissue border); a ``centre`` part on the image's centre."""
    h, w = plan.shape
    yy = (np.arange(h)[:, None] - (h - 1) / 2) / max(h, w)
    xx = (np.arange(w)[None, :] - (w - 1) / 2) / max(h, w)
    part_map = np.full((h, w), len(plan.parts) - 1, dtype=np.uint8)
    free = np.ones((h, w), dtype=bool)
    remaining = 1.0
    for j, part in enumerate(plan.parts):
        if j == len(plan.parts) - 1:
            break  # the last part takes what is left
        field = _fields(rng, (h, w), length, 1)[0]  # one at a time: a paper-scale ROI has 12 Mpx
        if part.motif is None:
            angle = rng.uniform(0, 2 * np.pi)
            field = field + 6.0 * (yy * np.sin(angle) + xx * np.cos(angle))
        if part.centre:
            field = field + 4.0 * np.exp(-(yy**2 + xx**2) / (2 * 0.2**2))
        values = field[free]
        take_n = min(values.size, max(1, round(part.share / max(remaining, 1e-12) * values.size)))
        if take_n >= values.size:
            take = free.copy()
        else:
            threshold = np.partition(values, values.size - take_n)[values.size - take_n]
            take = free & (field >= threshold)
        part_map[take] = j
        free &= ~take
        remaining -= part.share
    return part_map


@dataclass(frozen=True)
class Layout:
    """Where things are in one synthetic image (native pixels)."""

    motifs: np.ndarray  # H×W uint8 index into MOTIF_NAMES, GLASS on glass
    mask: np.ndarray  # H×W uint8 class index, MASK_NONE on glass and context


def _layout_of(plan: _Plan, name: str, seed: int, index: int, scale: float) -> tuple[np.ndarray, Layout]:
    part_map = _assign(plan, _rng(name, seed, index, 1), _region_length(name, scale))
    motif_lut = np.array([GLASS if p.motif is None else MOTIF_NAMES.index(p.motif) for p in plan.parts], np.uint8)
    mask_lut = np.array([p.cls for p in plan.parts], np.uint8)
    return part_map, Layout(motif_lut[part_map], mask_lut[part_map])


# --- rendering --------------------------------------------------------------------------------

_MAIN, _WHITE, _RIM, _LUMEN, _CORE, _WALL, _FILLED, _BAND = range(8)
#: Width of a layer of rim nuclei (target px) and the spacing of its nuclei (mean nuclear radii, centre to centre).
BAND_PX = 1.0
BAND_SPACING = 2.4
_COMPARTMENT = {"main": _MAIN, "rim": _RIM, "lumen": _LUMEN, "core": _CORE, "wall": _WALL, "filled": _FILLED}
_LUMEN_FILL = {"white": (0.0, 0.0), "mucus": (0.04, 0.12), "secretion": (0.26, 0.05), "blood": (0.12, 0.0),
               "cells": (0.10, 0.03)}


def _lengths(um: tuple[float, float], floor: float, scale: float, f: float) -> tuple[float, float]:
    lo = max(um[0] * scale, floor)
    hi = max(um[1] * scale, floor * um[1] / um[0])
    return lo * f, hi * f


def _centres(rng: np.random.Generator, ys: np.ndarray, xs: np.ndarray, spacing: float) -> np.ndarray:
    """Jittered hexagonal grid of points ``spacing`` apart over the bounding box of the pixels (with margin)."""
    y0, y1 = ys.min() - spacing, ys.max() + spacing
    x0, x1 = xs.min() - spacing, xs.max() + spacing
    rows = np.arange(y0, y1 + 1e-9, spacing * 0.866)
    points = [np.column_stack([np.full(len(cols), r), cols])
              for i, r in enumerate(rows) for cols in [np.arange(x0 + (spacing / 2) * (i % 2), x1 + 1e-9, spacing)]]
    grid = np.concatenate(points) if points else np.zeros((1, 2))
    return grid + rng.uniform(-0.3, 0.3, grid.shape) * spacing


def _direction(dy: np.ndarray, dx: np.ndarray) -> np.ndarray:
    """Angle of the direction (dy, dx) in :func:`draw_nuclei`'s convention (from the row axis toward the column axis)."""
    return np.arctan2(dx, dy)


def _ring_compartments(rng: np.random.Generator, ys: np.ndarray, xs: np.ndarray, spec: Rings, scale: float,
                       f: float) -> tuple[np.ndarray, np.ndarray]:
    """Each pixel's compartment in a field of ring objects, and the radial direction from its object's centre."""
    r_lo, r_hi = _lengths(spec.radius_um, spec.floor_px, scale, f)
    centres = _centres(rng, ys, xs, (r_lo + r_hi) * spec.spacing)
    n = len(centres)
    radius = rng.uniform(r_lo, r_hi, n)
    phases = rng.uniform(0, 2 * np.pi, (n, 3))
    amps = rng.uniform(0.5, 1.0, (n, 2))
    dist, idx = spatial.cKDTree(centres).query(np.column_stack([ys, xs]))
    dy, dx = ys - centres[idx, 0], xs - centres[idx, 1]
    theta = np.arctan2(dy, dx)
    outline = radius[idx] * (1 + spec.irregular * (amps[idx, 0] * np.cos(2 * theta + phases[idx, 0])
                                                   + amps[idx, 1] * np.cos(3 * theta + phases[idx, 1])) / 2)
    rho = dist / outline
    lumen = spec.lumen * (1 + spec.serration * np.cos(5 * theta + phases[idx, 2]))
    comp = np.full(len(ys), _MAIN, np.uint8)
    comp[rho < 1] = _RIM
    for layer in spec.band:
        comp[(comp == _RIM) & (np.abs(rho - layer) * outline < BAND_PX * f / 2)] = _BAND
    comp[rho < lumen] = _LUMEN
    if spec.core:
        comp[rho < lumen * spec.core] = _CORE
    return comp, _direction(dy, dx)


def _vacuole_compartments(rng: np.random.Generator, ys: np.ndarray, xs: np.ndarray, spec: Vacuoles, scale: float,
                          f: float) -> tuple[np.ndarray, np.ndarray]:
    """Each pixel's compartment in packed vacuoles (nearest-centre cells, walls where two are nearly as near), and
    the direction across its wall."""
    spacing = max(spec.spacing_um * scale, spec.floor_px) * f
    centres = _centres(rng, ys, xs, spacing)
    filled = rng.random(len(centres)) < spec.filled
    dist, idx = spatial.cKDTree(centres).query(np.column_stack([ys, xs]), k=2)
    comp = np.where(filled[idx[:, 0]], _FILLED, _WHITE).astype(np.uint8)
    comp[(dist[:, 1] - dist[:, 0]) < spec.wall * spacing] = _WALL
    across = centres[idx[:, 1]] - centres[idx[:, 0]]
    return comp, _direction(across[:, 0], across[:, 1])


def _texture(kind: str, rng: np.random.Generator, ys: np.ndarray, xs: np.ndarray, shape: tuple[int, int], f: float,
             scale: float, angle: float) -> tuple[np.ndarray, np.ndarray | None]:
    """At the pixels (ys, xs): a multiplier of the main compartment's eosin, and haematoxylin lines (bone's cement
    lines) or None. Fibres run along ``angle``; lengths are in target px."""
    ty, tx = ys / f, xs / f
    across = -ty * np.sin(angle) + tx * np.cos(angle)
    along = ty * np.cos(angle) + tx * np.sin(angle)
    period = max(10.0 * scale, 4.0)

    def field(length: float) -> np.ndarray:
        return _fields(rng, shape, length * f, 1, (ys, xs))[0]

    if kind in ("fibres", "aligned", "striated"):
        wobble = field(3 * period) * (2.5 if kind == "fibres" else 0.6)
        out = 0.75 + 0.25 * (0.5 + 0.5 * np.sin(2 * np.pi * across / period + wobble))
        if kind == "striated":
            out *= 0.85 + 0.15 * np.sin(2 * np.pi * along / max(2.5 * scale, 3.0))
        return out, None
    if kind == "fibrillary":
        return 0.7 + 0.3 * np.clip(0.5 + 0.25 * field(1.5), 0, 1), None
    if kind == "wisps":
        return np.clip(0.5 + 0.3 * field(4.0), 0.1, 1.2), None
    grain = 0.85 + 0.15 * np.clip(0.5 + 0.25 * field(2.0), 0, 1)
    if kind == "cement":
        return grain, 0.3 * np.exp(-(field(max(30.0 * scale, 6.0)) / 0.08) ** 2)
    return grain, None


def _scaled(m: Morphology, f: float) -> Morphology:
    return replace(m, radius=(m.radius[0] * f, m.radius[1] * f), density=m.density / f**2, marked_fraction=0.0)


@functools.lru_cache(maxsize=8)
def _vocabulary_at(difficulty: float) -> dict[str, Motif]:
    """Every motif with its nuclear populations and eosin moved ``difficulty`` toward the vocabulary's mean."""
    nuclear = {(name, i): c.morph for name, m in MOTIFS.items() for i, c in enumerate(m.cells) if not c.body}
    moved = morphology_at(difficulty, nuclear)
    mean_eosin = float(np.mean([m.eosin for m in MOTIFS.values()]))
    out = {}
    for name, m in MOTIFS.items():
        cells = tuple(replace(c, morph=moved[(name, i)]) if not c.body else c for i, c in enumerate(m.cells))
        out[name] = replace(m, cells=cells, eosin=m.eosin + difficulty * (mean_eosin - m.eosin))
    return out


@dataclass(frozen=True)
class _LabAssay(stains.Assay):
    """H&E with a lab's own OD vectors, so :func:`stains.jitter_slide` jitters around them."""

    turned: tuple[tuple[float, ...], ...] = ()

    @property
    def vectors(self) -> np.ndarray:
        return np.asarray(self.turned, dtype=np.float64)


@functools.cache
def lab(name: str) -> stains.SlideStain:
    """Dataset ``name``'s lab: H&E vectors turned by up to LAB_MAX_ANGLE_DEG and stain strengths, fixed per dataset."""
    return stains.jitter_slide(_HE, seeds.rng(LAB_SEED, "lab stain", _known(name)), LAB_MAX_ANGLE_DEG,
                               LAB_SCALE_RANGE, (1.0, 1.0))


def _image_stain(name: str, rng: np.random.Generator) -> stains.SlideStain:
    base = lab(name)
    angle, scales = NORMALIZED.get(name, (IMAGE_MAX_ANGLE_DEG, IMAGE_SCALE_RANGE))
    assay = _LabAssay(_HE.name, _HE.binds, tuple(tuple(float(x) for x in v) for v in base.vectors))
    own = stains.jitter_slide(assay, rng, angle, scales, IMAGE_I0_RANGE)
    return stains.SlideStain(own.vectors, base.scales * own.scales, own.i0)


def _render(name: str, plan: _Plan, part_map: np.ndarray, rng: np.random.Generator, scale: float,
            difficulty: float) -> np.ndarray:
    """The RGB image of a plan whose parts are where ``part_map`` says."""
    vocabulary = _vocabulary_at(float(difficulty))
    f = native_per_target(name)
    shape = plan.shape
    comp = np.full(shape, _WHITE, np.uint8)
    radial = np.zeros(shape)
    eosin = np.zeros(shape)
    haem = np.zeros(shape)
    body_labels = np.zeros(shape, np.int32)
    body_morph: dict[int, Morphology] = {}
    regions: list[tuple[Motif, np.ndarray, np.ndarray, float]] = []  # motif, its pixels, fibre angle
    for j, part in enumerate(plan.parts):
        if part.motif is None:
            continue
        ys, xs = np.nonzero(part_map == j)
        if not len(ys):
            continue
        motif = vocabulary[part.motif]
        if motif.rings is not None:
            c, direction = _ring_compartments(rng, ys, xs, motif.rings, scale, f)
            radial[ys, xs] = direction
        elif motif.vacuoles is not None:
            c, direction = _vacuole_compartments(rng, ys, xs, motif.vacuoles, scale, f)
            radial[ys, xs] = direction
        else:
            c = np.full(len(ys), _MAIN, np.uint8)
        if motif.holes:
            noise = _fields(rng, shape, 3.0 * f, 1, (ys, xs))[0]
            c[(c == _MAIN) & (noise > np.quantile(noise, 1 - motif.holes))] = _WHITE
        comp[ys, xs] = c
        angle = float(rng.uniform(0, np.pi))
        texture, lines = _texture(motif.texture, rng, ys, xs, shape, f, scale, angle)
        e, hx = np.zeros(len(ys)), np.zeros(len(ys))
        main = c == _MAIN
        e[main], hx[main] = motif.eosin * texture[main], motif.haem
        e[c == _WALL] = motif.eosin
        e[c == _FILLED], hx[c == _FILLED] = 0.18, 0.03
        if motif.rings is not None:
            rim = (c == _RIM) | (c == _BAND)
            e[rim], hx[rim] = motif.rings.rim_eosin, motif.rings.rim_haem
            e[c == _LUMEN], hx[c == _LUMEN] = _LUMEN_FILL[motif.rings.fill]
            e[c == _CORE], hx[c == _CORE] = 0.12, 0.06
        if lines is not None:
            hx[main] += lines[main]
        eosin[ys, xs], haem[ys, xs] = e, hx
        for cells in motif.cells:
            if cells.body:  # one body population per compartment
                body_morph[len(body_morph) + 1] = _scaled(cells.morph, f)
                where = c == _COMPARTMENT[cells.where]
                body_labels[ys[where], xs[where]] = len(body_morph)
        regions.append((motif, ys, xs, angle))
    bodies = draw_nuclei(rng, body_labels, body_morph, blur=0)["nuclei"] if body_morph else np.zeros(shape)
    nuclear_labels = np.zeros(shape, np.int32)
    nuclear_morph: dict[int, Morphology] = {}
    orientation: dict[int, float | np.ndarray] = {}
    turned = {"radial": radial, "tangential": radial + np.pi / 2}
    partition = rng.random(shape)
    for motif, ys, xs, angle in regions:
        c = comp[ys, xs]
        inside_bodies = bodies[ys, xs] > 0
        groups: dict[str, list[Cells]] = {}
        for cells in motif.cells:
            if cells.body:
                continue
            if cells.where == "rim" and motif.rings is not None and motif.rings.band:
                # a layer of nuclei, one every BAND_SPACING nuclear footprints along it
                m = cells.morph
                footprint = float(np.mean(m.radius)) * (1 + m.elongation) / 2
                cells = replace(cells, where="band", morph=replace(m, density=1 / (BAND_SPACING * footprint * BAND_PX)))
            groups.setdefault(cells.where, []).append(cells)
        for where, members in groups.items():
            here = inside_bodies if where == "bodies" else c == (_BAND if where == "band" else _COMPARTMENT[where])
            if not here.any():
                continue
            # the populations of a compartment split its pixels in proportion to their densities, each drawn at
            # their total density on its share: every population keeps its own count per area
            total = sum(m.morph.density for m in members)
            edges = np.cumsum([m.morph.density / total for m in members])
            which = np.minimum(np.searchsorted(edges, partition[ys[here], xs[here]], side="right"), len(members) - 1)
            for i, cells in enumerate(members):
                ident = len(nuclear_morph) + 1
                nuclear_morph[ident] = _scaled(replace(cells.morph, density=total), f)
                nuclear_labels[ys[here][which == i], xs[here][which == i]] = ident
                if cells.orient == "along":
                    orientation[ident] = angle
                elif cells.orient in turned:
                    orientation[ident] = turned[cells.orient]
    nuclei = draw_nuclei(rng, nuclear_labels, nuclear_morph, blur=0, orientation=orientation)["nuclei"]
    sigma = BLUR_PX * f
    conc = np.stack([ndimage.gaussian_filter(haem + nuclei, sigma), ndimage.gaussian_filter(eosin + bodies, sigma)],
                    axis=-1)
    tissue = np.array([p.motif is not None for p in plan.parts])[part_map]
    conc += rng.normal(0, NOISE_OD, conc.shape) * tissue[..., None]
    return stains.to_uint8(_image_stain(name, rng).render(np.clip(conc, 0, None)))


# --- public entry points ----------------------------------------------------------------------


_default_n_images = n_images


@dataclass(frozen=True)
class _Key:
    name: str
    seed: int
    index: int
    scale: float
    difficulty: float


def _plan_of(key: _Key) -> _Plan:
    return _plan(key.name, key.seed, key.index, key.scale)


@functools.lru_cache(maxsize=4)
def _laid_out(name: str, seed: int, index: int, scale: float) -> tuple[_Plan, np.ndarray, Layout]:
    """Plan and layout of one image, kept for the few images last used (a read is followed by its mask)."""
    plan = _plan(name, seed, index, scale)
    part_map, found = _layout_of(plan, name, seed, index, scale)
    for array in (part_map, found.motifs, found.mask):
        array.flags.writeable = False
    return plan, part_map, found


def layout(name: str, seed: int, index: int, scale: float = DEFAULT_SCALE) -> Layout:
    """The motif map and class mask of image ``index`` of dataset ``name`` for ``seed`` (cheap: no pixels made)."""
    _check(name, seed, scale)
    found = _laid_out(name, int(seed), int(index), float(scale))[2]
    return Layout(found.motifs.copy(), found.mask.copy())


def _read(key: _Key) -> np.ndarray:
    plan, part_map, _ = _laid_out(key.name, key.seed, key.index, key.scale)
    return _render(key.name, plan, part_map, _rng(key.name, key.seed, key.index, 2), key.scale, key.difficulty)


def _mask(key: _Key) -> np.ndarray:
    return _laid_out(key.name, key.seed, key.index, key.scale)[2].mask.copy()


def _check(name: str, seed: int, scale: float, difficulty: float = DIFFICULTY) -> None:
    _known(name)
    _check_scale(scale)
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ParameterError(f"seed must be a non-negative integer, got {seed!r}.")
    if not 0 <= difficulty <= 1:
        raise ParameterError(f"difficulty must be between 0 (classes as designed) and 1 (morphology all alike), "
                             f"got {difficulty!r}.")


def make_dataset(name: str, seed: int, n_images: int | None = None, scale: float = DEFAULT_SCALE, *,
                 difficulty: float = DIFFICULTY,
                 crops_per_large_dataset: int = CROPS_PER_LARGE_DATASET) -> SourceDataset:
    """Synthetic dataset ``name`` for ``seed``: the loaders' :class:`SourceDataset`, its pixels made when read.

    ``n_images`` defaults to :func:`n_images` for ``crops_per_large_dataset``. ``mpp`` is the native µm/px
    (:func:`native_mpp`); standardize with ``size=crop_size(scale)``, ``target_mpp=target_mpp(scale)``.
    Single-label classes cycle with the image index (balanced); ADP's tissue types and BCSS's classes are drawn
    per image. Published splits (:data:`PUBLISHED_SPLITS`) are marked in Table 1's proportions, by index.
    """
    _check(name, seed, scale, difficulty)
    count = _default_n_images(name, crops_per_large_dataset, scale) if n_images is None else n_images
    if count < 1:
        raise ParameterError(f"n_images must be at least 1, got {count}.")
    images = []
    for i, split in enumerate(_splits(name, count)):
        key = _Key(name, int(seed), i, float(scale), float(difficulty))
        plan = _plan_of(key)
        cls = "+".join(CLASSES[name][c] for c in plan.labels) if name != "BCSS" else "roi"
        images.append(SourceImage(f"synthetic/{name}/{seed}/{i:05d}-{cls}", plan.labels, split,
                                  functools.partial(_read, key), functools.partial(_mask, key)))
    return SourceDataset(name, CLASSES[name], native_mpp(name, scale), name in MULTILABEL, images)


def make_datasets(seed: int, scale: float = DEFAULT_SCALE, *, difficulty: float = DIFFICULTY,
                  crops_per_large_dataset: int = CROPS_PER_LARGE_DATASET,
                  names: Sequence[str] = NAMES) -> dict[str, SourceDataset]:
    """:func:`make_dataset` for each of ``names`` (default all nine) at their default sizes."""
    return {n: make_dataset(n, seed, None, scale, difficulty=difficulty, crops_per_large_dataset=crops_per_large_dataset)
            for n in names}


def motif_image(name: str, motif: str, seed: int = 0, scale: float = DEFAULT_SCALE, *,
                difficulty: float = DIFFICULTY, shape: tuple[int, int] | None = None) -> np.ndarray:
    """One image of dataset ``name``'s size (or ``shape``, native H×W) and lab showing only ``motif``: the
    vocabulary as each dataset's lab stains it, at its native resolution."""
    _check(name, seed, scale, difficulty)
    if motif not in MOTIFS:
        raise ParameterError(f"Unknown motif {motif!r}; expected one of {', '.join(MOTIFS)}.")
    index = 1_000_000 + MOTIF_NAMES.index(motif)  # apart from any dataset's images
    plan = _Plan((), native_shape(name, scale) if shape is None else shape, (_Part(motif, 1.0, MASK_NONE),))
    part_map = np.zeros(plan.shape, np.uint8)
    return _render(name, plan, part_map, _rng(name, seed, index, 2), scale, difficulty)
