"""Synthetic multistain slides for paper A: four tissue classes plus "exclude", with ground truth.

Classes differ in structure, not only colour (SPEC section 2): tumour has dense, large,
irregular, hyperchromatic nuclei and little stroma; normal tissue has sparse, small, regular
nuclei in stroma; necrosis has fragmented, pale debris; background is glass. "Exclude" areas
are tissue folds (a doubled, darker layer). A slide is stained with one of paper A's nine
assays and its own stain jitter; tiles are cut from slides, so splits are by slide.
``difficulty`` (0-1) moves the three tissue classes' morphology toward their common mean.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar, overload

import numpy as np
from skimage import draw, filters

from cpath_repro import seeds
from cpath_repro.data.tiles import EXCLUDE, Tiles
from cpath_repro.synth import stains

#: Paper A, section 2: class balance of the tiles (background, tumour, tissue, necrosis).
CLASS_BALANCE = (0.58, 0.19, 0.16, 0.07)
BACKGROUND, TUMOUR, TISSUE, NECROSIS = range(4)


@dataclass(frozen=True)
class Morphology:
    """How one tissue class looks (lengths in pixels, concentrations in OD units)."""

    radius: tuple[float, float]
    density: float  # nuclei per pixel of the class's area
    nucleus_od: tuple[float, float]
    elongation: float  # largest axis ratio
    stroma_od: float
    marked_fraction: float  # cells carrying the IHC marker


MORPHOLOGY: dict[int, Morphology] = {
    TUMOUR: Morphology((2.4, 3.8), 0.020, (1.0, 1.5), 1.9, 0.10, 0.45),
    TISSUE: Morphology((1.4, 2.0), 0.007, (0.6, 0.9), 1.2, 0.32, 0.15),
    NECROSIS: Morphology((0.6, 1.1), 0.030, (0.3, 0.6), 1.5, 0.08, 0.05),
}


K = TypeVar("K")


@overload
def morphology_at(difficulty: float) -> dict[int, Morphology]: ...


@overload
def morphology_at(difficulty: float, morphology: Mapping[K, Morphology]) -> dict[K, Morphology]: ...


def morphology_at(difficulty: float, morphology: Mapping[Any, Morphology] | None = None) -> dict[Any, Morphology]:
    """Each class's morphology moved ``difficulty`` of the way toward the mean of the three (or, given
    ``morphology``, another generator's table, toward the mean of all of its entries)."""
    table: Mapping[Any, Morphology] = MORPHOLOGY if morphology is None else morphology
    ms = list(table.values())

    def mix(value: Any, mean: Any) -> Any:
        if isinstance(value, tuple):
            return tuple(mix(v, m) for v, m in zip(value, mean, strict=True))
        return value + difficulty * (mean - value)

    mean = {
        name: tuple(np.mean([getattr(m, name)[i] for m in ms]) for i in range(2))
        if isinstance(getattr(ms[0], name), tuple) else float(np.mean([getattr(m, name) for m in ms]))
        for name in Morphology.__dataclass_fields__
    }
    return {c: replace(m, **{k: mix(getattr(m, k), mean[k]) for k in mean}) for c, m in table.items()}


@dataclass(frozen=True)
class TissueConfig:
    """Generator settings (recorded in every run's provenance)."""

    canvas: int = 256  # side of a synthetic slide, pixels
    tile: int = 64  # side of a tile cut from it
    difficulty: float = 0.4
    max_angle_deg: float = 6.0  # per-slide stain-vector jitter
    # Scanners white-balance on glass: illumination varies little from slide to slide. A wider range
    # makes glass on a dim slide as dark as faint IHC stroma on a bright one (background unidentifiable).
    i0_range: tuple[float, float] = (0.97, 1.0)
    regions_per_kpx: float = 0.35  # region seeds per 1000 pixels
    fold_probability: float = 0.5  # chance a slide has an "exclude" fold


@dataclass
class Slide:
    assay: str
    rgb: np.ndarray  # (S, S, 3) uint8
    labels: np.ndarray  # (S, S) uint8, 0-3 or EXCLUDE
    concentrations: np.ndarray  # (S, S, k) true stain concentrations (OD) after jitter scales
    vectors: np.ndarray  # (k, 3) true OD vectors of this slide
    glass: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))  # (S, S) background mask


#: The most memory one slide's layout may take while it is generated (see :func:`layout_bytes`).
MAX_LAYOUT_BYTES = 4 * 2**30


def region_seeds(size: int, regions_per_kpx: float) -> int:
    return max(4, int(regions_per_kpx * size * size / 1000))


def layout_bytes(size: int, regions_per_kpx: float = TissueConfig.regions_per_kpx) -> int:
    """Peak bytes of :func:`_layout` for a ``size`` x ``size`` slide: it holds about four float64 arrays of
    ``size x size x seeds``, and the seeds grow with the area, so memory grows with ``size``**4."""
    return 4 * 8 * size * size * region_seeds(size, regions_per_kpx)


def _layout(rng: np.random.Generator, size: int, cfg: TissueConfig) -> np.ndarray:
    """Class regions: nearest of random seeds, with boundaries roughened by smooth noise."""
    n = region_seeds(size, cfg.regions_per_kpx)
    centres = rng.uniform(0, size, (n, 2))
    classes = rng.choice(4, size=n, p=CLASS_BALANCE)
    yy, xx = np.mgrid[0:size, 0:size]
    dist = np.sqrt((yy[..., None] - centres[:, 0]) ** 2 + (xx[..., None] - centres[:, 1]) ** 2)
    rough = filters.gaussian(rng.normal(size=(size, size, n)), sigma=(6, 6, 0)) * size * 0.6
    return classes[np.argmin(dist + rough, axis=-1)].astype(np.uint8)


def draw_nuclei(rng: np.random.Generator, labels: np.ndarray, morph: Mapping[int, Morphology], *,
                blur: float = 0.6, orientation: Mapping[int, float | np.ndarray] | None = None,
                spread: float = 0.3) -> dict[str, np.ndarray]:
    """Nuclei of each class's morphology, at random places in its region of ``labels`` (any H×W array of class ids).

    A class's nuclei are a Poisson number (``density`` × its area) of filled ellipses; the cells carrying the
    IHC marker (``marked_fraction``) also get a membrane ring and a marked nucleus. Returns the maps
    "nuclei", "membrane" and "marked_nuclei" (OD), blurred by ``blur`` pixels (0: not blurred). A class listed
    in ``orientation`` has its nuclei's long axis turned toward that angle (radians from the row axis toward the
    column axis; or an H×W array of angles, read at each nucleus's centre), within ``spread`` of a half turn
    (muscle fibres, radial columnar cells); the others are turned at random. Paper A's slides use the defaults.
    """
    shape = labels.shape
    maps = {k: np.zeros(shape) for k in ("nuclei", "membrane", "marked_nuclei")}
    for cls, m in morph.items():
        inside = labels == cls
        area = int(inside.sum())
        count = rng.poisson(m.density * area) if area else 0
        ys, xs = np.nonzero(inside)
        for i in rng.integers(0, len(ys), count) if count else []:
            r = rng.uniform(*m.radius)
            ratio = rng.uniform(1.0, m.elongation)
            angle = rng.uniform(0, np.pi)
            if orientation is not None and cls in orientation:
                towards = orientation[cls]
                base = towards[ys[i], xs[i]] if isinstance(towards, np.ndarray) else towards
                angle = float(base) + spread * (angle - np.pi / 2)
            od = rng.uniform(*m.nucleus_od)
            rr, cc = draw.ellipse(ys[i], xs[i], r * ratio, r, shape=shape, rotation=angle)
            maps["nuclei"][rr, cc] = np.maximum(maps["nuclei"][rr, cc], od)
            if rng.random() < m.marked_fraction:
                outer = np.zeros(shape, bool)
                outer[draw.ellipse(ys[i], xs[i], r * ratio * 1.8 + 1, r * 1.8 + 1, shape=shape, rotation=angle)] = True
                outer[rr, cc] = False
                maps["membrane"][outer] = np.maximum(maps["membrane"][outer], rng.uniform(0.4, 0.8))
                maps["marked_nuclei"][rr, cc] = np.maximum(maps["marked_nuclei"][rr, cc], 0.8 * od)
    if not blur:
        return maps
    return {k: filters.gaussian(v, sigma=blur) for k, v in maps.items()}


def _draw_cells(rng: np.random.Generator, labels: np.ndarray, morph: dict[int, Morphology]) -> dict[str, np.ndarray]:
    return draw_nuclei(rng, labels, morph)


def make_slide(stream: np.random.SeedSequence, assay: str, cfg: TissueConfig) -> Slide:
    """One synthetic slide; the same ``stream`` (:func:`cpath_repro.seeds.sequence`) gives the same bytes."""
    rng = np.random.default_rng(stream)
    size = cfg.canvas
    labels = _layout(rng, size, cfg)
    morph = morphology_at(cfg.difficulty)
    maps = _draw_cells(rng, labels, morph)
    texture = filters.gaussian(rng.normal(size=(size, size)), sigma=2.0)
    texture = 0.6 + 0.4 * (texture - texture.min()) / (np.ptp(texture) + 1e-12)
    stroma_level = np.zeros(4)
    for cls, m in morph.items():
        stroma_level[cls] = m.stroma_od
    maps["stroma"] = stroma_level[labels] * texture
    glass = labels == BACKGROUND
    for k in maps:
        maps[k][glass] = 0.0
    if rng.random() < cfg.fold_probability:  # a tissue fold: doubled layer, excluded from training and scoring
        (r, c), (ra, rb) = rng.uniform(0, size, 2), rng.uniform(size * 0.04, size * 0.12, 2)
        rr, cc = draw.ellipse(r, c, ra, rb, shape=(size, size), rotation=rng.uniform(0, np.pi))
        fold = np.zeros((size, size), bool)
        fold[rr, cc] = True
        fold &= ~glass
        for k in maps:
            maps[k][fold] *= 2.2
        maps["stroma"][fold] += 0.3
        labels[fold] = EXCLUDE
    a = stains.ASSAYS[assay]
    conc = np.stack([maps[a.binds[s]] for s in a.stains], axis=-1)
    if "eosin" not in a.stains:  # IHC: the haematoxylin counterstain also tints the stroma faintly
        conc[..., 0] += 0.3 * maps["stroma"]
    conc += rng.normal(0, 0.015, conc.shape) * ~glass[..., None]
    conc = np.clip(conc, 0, None)
    slide_stain = stains.jitter_slide(a, rng, cfg.max_angle_deg, i0_range=cfg.i0_range)
    rgb = stains.to_uint8(slide_stain.render(conc))
    return Slide(assay, rgb, labels, conc * slide_stain.scales, slide_stain.vectors, glass)


def cut_tiles(slides: list[Slide], tile: int) -> Tiles:
    images, labels, assays, ids = [], [], [], []
    for index, s in enumerate(slides):
        n = s.rgb.shape[0] // tile
        for i in range(n):
            for j in range(n):
                window = np.s_[i * tile:(i + 1) * tile, j * tile:(j + 1) * tile]
                images.append(s.rgb[window])
                labels.append(s.labels[window])
                assays.append(s.assay)
                ids.append(index)
    return Tiles(np.stack(images), np.stack(labels), np.array(assays), np.array(ids))


def make_slides(seed: int, split: str, assays: list[str], per_assay: int, cfg: TissueConfig) -> list[Slide]:
    """``per_assay`` slides of each assay for one split: slide ``k`` of an assay is the same whatever the
    other assays, so arms are paired; the split's name keeps train, validation and test apart."""
    return [make_slide(seeds.sequence(seed, split, assay, k), assay, cfg) for assay in assays for k in range(per_assay)]
