"""Paper D's slides for one seed, read the way a user's slides are: from folders in the published layouts.

The synthetic slides (:mod:`cpath_repro.synth.slides`) are written once per seed and settings as a data
root holding ``stomach-biopsies/``, ``CAMELYON16/`` and ``CAMELYON17/`` (pyramidal TIFFs and ASAP XML,
:mod:`cpath_repro.data.camelyon`, :mod:`cpath_repro.data.stomach`); from there on synthetic and real slides
take one path: OpenSlide, the Otsu tissue mask, the label mask from the XML, the patch grid (section 4.1,
"Pre-Processing"). Slides without tissue are skipped and counted.

Feature maps (section 4.1, "Implementation details"): a stomach slide gives one map per tissue lump
(connected patches, 8-neighbourhood), a Camelyon slide one map.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from functools import lru_cache, partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from skimage import measure

from cpath_repro.data.layout import locate
from cpath_repro.errors import UserError
from cpath_repro.project import PROJECT_ROOT, data_fingerprint, modules_hash
from cpath_repro.synth.slides import Geometry

if TYPE_CHECKING:
    from cpath_repro.chapters.paper_d.settings import Settings  # read, never imported: reader text

#: Where the synthetic slides of each seed and settings are written (``$CPATH_REPRO_SLIDES``, else runs/slides).
SLIDES_ENV = "CPATH_REPRO_SLIDES"
STOMACH, CAMELYON16, CAMELYON17 = "stomach-biopsies", "CAMELYON16", "CAMELYON17"
#: Section 4.1: "80% for training data and 20% for test data ... the training data is divided: 80% for training
#: data and 20% for validation data".
TEST_SHARE, VAL_SHARE = 0.2, 0.2
#: Camelyon16's 270 training and 130 test slides (section 4.1); half of the training slides carry metastases.
CAMELYON16_TRAIN_SHARE = 270 / 400
#: The modules whose code makes the synthetic slides: a change to any of them writes the slides again.
GENERATORS = ("cpath_repro.synth.slides", "cpath_repro.synth.stains", "cpath_repro.wsi.writer",
              "cpath_repro.wsi.annotations", "cpath_repro.data.camelyon", "cpath_repro.data.stomach")


def slides_root() -> Path:
    return Path(os.environ.get(SLIDES_ENV) or PROJECT_ROOT / "runs" / "slides")


def geometry(s: Settings) -> Geometry:
    return Geometry(s.mpp, s.patch_px)


def _synthetic_config(s: Settings, seed: int) -> dict[str, Any]:
    return {"seed": seed, "mpp": s.mpp, "patch_px": s.patch_px, "stomach_slides": s.stomach_slides,
            "camelyon16_slides": s.camelyon16_slides, "camelyon17_patients": s.camelyon17_patients,
            "camelyon_map": s.camelyon_map, "difficulty": s.difficulty, "lowres_contrast": s.lowres_contrast,
            "code": modules_hash(GENERATORS)}


def synthetic_root(s: Settings, seed: int) -> Path:
    """The data root of seed ``seed``'s synthetic slides, written (atomically, as one folder) if missing."""
    from cpath_repro.synth.cache import written_once

    return written_once(slides_root(), _synthetic_config(s, seed), partial(_write_slides, s, seed))


def _write_slides(s: Settings, seed: int, staged: Path) -> None:
    from cpath_repro.synth import slide_folders
    from cpath_repro.synth.slides import MIN_MACRO_MAP_PATCHES

    g = geometry(s)
    n_stomach = s.stomach_slides
    n_test = max(1, round(TEST_SHARE * n_stomach))
    n_val = max(1, round(VAL_SHARE * (n_stomach - n_test)))
    slide_folders.write_stomach(staged / STOMACH, n_stomach, geometry=g, seed=seed, n_val=n_val, n_test=n_test,
                                difficulty=s.difficulty, lowres_contrast=s.lowres_contrast)
    n_train16 = max(2, 2 * round(CAMELYON16_TRAIN_SHARE * s.camelyon16_slides / 2))
    tumour_classes = ("macro", "micro") if s.camelyon_map >= MIN_MACRO_MAP_PATCHES else ("micro", "itc")
    slide_folders.write_camelyon16(staged / CAMELYON16, geometry=g, seed=seed, n_tumour=n_train16 // 2,
                                   n_normal=n_train16 // 2, n_test=max(2, s.camelyon16_slides - n_train16),
                                   tumour_classes=tumour_classes, map_patches=s.camelyon_map, difficulty=s.difficulty,
                                   lowres_contrast=s.lowres_contrast)
    patients = slide_folders.draw_patients(s.camelyon17_patients, seed)
    if s.camelyon_map < MIN_MACRO_MAP_PATCHES:  # a map too small for a macro-metastasis (the ci profile)
        patients = [["micro" if c == "macro" else c for c in p] for p in patients]
    slide_folders.write_camelyon17(staged / CAMELYON17, patients, geometry=g, seed=seed, map_patches=s.camelyon_map,
                                   difficulty=s.difficulty, lowres_contrast=s.lowres_contrast)


def write_slides(s: Settings) -> None:
    """Every trial's synthetic slides written at once (one process per CPU) before the notebook reads them."""
    from cpath_repro.synth.cache import in_parallel

    if s.data_root is None:
        in_parallel(synthetic_root, [(s, seed) for seed in s.seeds])


def data_root(s: Settings, seed: int) -> Path:
    """The real data root when ``data_root`` is given (the same for every seed), else seed ``seed``'s slides."""
    return s.data_root if s.data_root is not None else synthetic_root(s, seed)


# -- slides as patch grids ----------------------------------------------------------------------------------------------

@dataclass
class SlideData:
    """One slide's labelled patch grid and what the chapter knows of it.

    ``rows``/``cols``/``labels`` are per patch (grid position in patches; 0 normal, 1 tumour, -1 nolabel);
    ``lumps`` are index arrays into the patches, one per feature map.
    """

    name: str
    path: Path
    split: str
    level: int
    patches: list[Any]
    grid: tuple[int, int]
    lumps: list[np.ndarray]
    slide_class: str | None = None
    patient: str | None = None
    lesion_um: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def labels(self) -> np.ndarray:
        return np.array([p.label for p in self.patches], dtype=np.int64)

    @property
    def positions(self) -> np.ndarray:
        return np.array([(p.row, p.col) for p in self.patches], dtype=np.int64).reshape(-1, 2)

    def grid_of(self, values: np.ndarray, fill: float = np.nan) -> np.ndarray:
        """Per-patch ``values`` laid out on the slide's patch grid (``fill`` where there is no patch)."""
        out = np.full(self.grid, fill, dtype=np.float64)
        pos = self.positions
        out[pos[:, 0], pos[:, 1]] = values
        return out


@dataclass
class Cohort:
    """The slides of one dataset for one seed; ``skipped`` names the slides without tissue."""

    dataset: str
    folder: Path
    fingerprint: str
    slides: list[SlideData]
    skipped: list[str] = field(default_factory=list)
    patients: dict[str, str] = field(default_factory=dict)  # Camelyon17: patient -> pN-stage

    def split(self, name: str) -> list[SlideData]:
        return [sd for sd in self.slides if sd.split == name]

    def counts(self) -> dict[str, int]:
        labels = np.concatenate([sd.labels for sd in self.slides]) if self.slides else np.zeros(0, np.int64)
        return {"slides": len(self.slides), "skipped (no tissue)": len(self.skipped), "patches": int(len(labels)),
                "tumour": int((labels == 1).sum()), "normal": int((labels == 0).sum()),
                "nolabel": int((labels == -1).sum())}


def level_for(slide: Any, mpp: float) -> int:
    """The level whose resolution is ``mpp`` µm/px within 5 %, or one sentence naming what the slide has."""
    from cpath_repro.wsi.reader import MPP_TOLERANCE

    level_mpp = slide.require_mpp()
    for level in slide.levels:
        here = (level.mpp or level_mpp)[0]
        if abs(here / mpp - 1) <= MPP_TOLERANCE:
            return int(level.index)
    have = ", ".join(f"{lv.mpp[0]:.3g}" for lv in slide.levels if lv.mpp)
    raise UserError(f"'{slide.path}' has no level at {mpp:g} um/px (its levels: {have} um/px); run with "
                    f"-p mpp set to one of them.")


def index_slide(path: Path, annotation: Path | None, s: Settings, split: str, *, lumps: bool,
                mpp: float | None = None) -> SlideData | None:
    """A slide's patch grid at ``s.mpp`` with labels from its annotation (tissue outside a Tumor-only annotation
    is normal; a slide without annotation is all normal when it is a training negative, else unlabelled is the
    caller's choice through ``annotation``). None when the slide has no tissue."""
    import cpath_repro.wsi.annotations as asap
    from cpath_repro.wsi import open_slide
    from cpath_repro.wsi.patches import mask_downsample, patch_grid
    from cpath_repro.wsi.tissue import tissue_mask

    with open_slide(path, mpp=mpp) as slide:
        level = level_for(slide, s.mpp)
        tissue = tissue_mask(slide, mask_downsample(slide, level, s.patch_px))
        if not tissue.mask.any():
            return None
        regions = asap.read_asap(annotation) if annotation is not None else []
        labels = asap.label_mask(regions, tissue.mask.shape, tissue.downsample, tissue.mask)
        patches = patch_grid(slide, level, s.patch_px, tissue, labels, tissue.downsample)
        width, height = slide.levels[level].dimensions
    if not patches:
        return None
    grid = (height // s.patch_px, width // s.patch_px)
    sd = SlideData(path.stem, path, split, level, patches, grid, [])
    sd.lumps = lumps_of(sd.positions, grid) if lumps else [np.arange(len(patches))]
    return sd


def lumps_of(positions: np.ndarray, grid: tuple[int, int]) -> list[np.ndarray]:
    """Section 4.1: "we develop a feature map for each lump of tissue" — the indices of each group of connected
    patches (8-neighbourhood) among ``positions`` (row, col) on a patch grid of shape ``grid``."""
    occupied = np.zeros(grid, dtype=bool)
    occupied[positions[:, 0], positions[:, 1]] = True
    ids = measure.label(occupied, connectivity=2)[positions[:, 0], positions[:, 1]]
    return [np.flatnonzero(ids == k) for k in np.unique(ids)]


def _fingerprint(folder: Path, s: Settings) -> str:
    return (data_fingerprint(str(folder)) or "") if s.data_root is not None else folder.parent.name


@lru_cache(maxsize=8)
def stomach(s: Settings, seed: int) -> Cohort:
    """The stomach biopsies (one map per tissue lump), split by slide into train / val / test."""
    from cpath_repro.data import stomach as layout

    root = data_root(s, seed)
    records = layout.load(root)
    folder = records[0].slide.parent.parent if records else root
    cohort = Cohort(STOMACH, folder, _fingerprint(folder, s), [])
    for record in records:
        sd = index_slide(record.slide, record.annotation, s, record.split, lumps=True)
        cohort.slides.append(sd) if sd is not None else cohort.skipped.append(record.name)
    return cohort


@lru_cache(maxsize=8)
def camelyon16(s: Settings, seed: int) -> Cohort:
    """Camelyon16: training tumour and normal slides (the training split), and the test slides."""
    from cpath_repro.data import camelyon

    root = data_root(s, seed)
    slides = camelyon.load_camelyon16(root)
    folder = locate(root, CAMELYON16)
    cohort = Cohort(CAMELYON16, folder, _fingerprint(folder, s), [])
    for record in slides:
        sd = index_slide(record.slide, record.annotation, s, record.split, lumps=False)
        if sd is None:
            cohort.skipped.append(record.name)
            continue
        sd.slide_class = record.label
        cohort.slides.append(sd)
    return cohort


@lru_cache(maxsize=8)
def camelyon17(s: Settings, seed: int) -> Cohort:
    """Camelyon17 patients of 5 slides, with each slide's class and each patient's pN-stage (stage_labels.csv)."""
    from cpath_repro.data import camelyon

    data = camelyon.load_camelyon17(data_root(s, seed))
    cohort = Cohort(CAMELYON17, data.folder, _fingerprint(data.folder, s), [],
                    patients={p.patient: p.stage for p in data.patients if p.stage is not None})
    for record in data.slides:
        sd = index_slide(record.slide, record.annotation, s, "test", lumps=False)
        if sd is None:
            cohort.skipped.append(record.name)
            continue
        sd.slide_class, sd.patient = record.slide_class, record.patient
        cohort.slides.append(sd)
    return cohort


def describe(s: Settings) -> dict[str, Any]:
    """What the store keys of this chapter's models say about their data."""
    return {k: v for k, v in asdict(s).items() if k in ("mpp", "patch_px", "crop_px", "difficulty", "lowres_contrast",
                                                          "data_root")}
