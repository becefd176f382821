"""Synthetic whole-slide images with ground truth, for paper D (stomach biopsies and Camelyon lymph nodes).

A slide is H&E by Beer-Lambert (haematoxylin and eosin OD vectors of :data:`cpath_repro.synth.stains.STAINS`
with the slide's own :func:`~cpath_repro.synth.stains.jitter_slide`), tissue lumps on glass, and morphology
by class: tumour has dense, large, irregular, hyperchromatic nuclei in little cytoplasm; normal tissue has
regular, smaller nuclei in eosin-rich stroma (stomach, with gland lumens) or is lymphoid tissue under an
eosin-rich capsule (lymph node). ``difficulty`` (0-1) moves tumour and normal morphology toward their mean.
Every shape (tissue, tumour, lesion) is a polygon, so the ASAP annotations written beside the TIFF are
the ground truth itself (:func:`write_slide`).

Geometry. Paper D cuts 256 x 256 px patches at x20 (0.5 µm/px: 128 µm). A cheaper :class:`Geometry`
(e.g. 36 px at 2 µm/px: 72 µm) keeps the number of patches across a structure but shrinks it in µm by
:attr:`Geometry.scale`; so tissue and lesion sizes are drawn in *patches* (equivalently, paper µm x scale)
and the Camelyon17 size thresholds scale with it (``staging.slide_class(d, scale)``). Nuclei keep their
real sizes in µm, rendered at the geometry's µm/px (a 10 µm nucleus is 5 px at 2 µm/px).

Presets (:data:`PRESETS`):

* ``"stomach-like"``: 2-5 biopsy fragments per slide, each 6-14 patches long (paper D's stomach feature map
  is 32 x 32 patches per tissue lump); tumour is about a fifth of the tissue (paper D: "normal:tumor was
  approximately 4:1"); annotations are ``Tumor`` polygons and ``Normal`` polygons covering most, not all,
  of the tissue (paper D: annotation "for whole or a certain part of the tissue area").
* ``"camelyon-like"``: one or two lymph nodes filling a map of at most ``map_patches`` patches across
  (paper D: 512), and a slide class of :data:`cpath_repro.metrics.staging.SLIDE_CLASSES` given by the
  caller. Lesion diameters (Feret, largest) are drawn in bands a margin away from the class boundaries,
  :data:`DIAMETER_BANDS`, in paper mm x scale: ITC 0.08-0.16 mm, micro 0.3-1.6 mm, macro 2.2-3.6 mm
  (capped by what fits in the node). An ITC is then 0.6-1.25 patches across: it covers more than 20 % of
  a patch (paper D's tumour-patch rule) when it is not split across patch borders, as often happens, and
  otherwise no patch is labelled tumour, as for many real ITCs. Only ``Tumor`` polygons are written
  (Camelyon16 convention: the rest of the tissue is normal).

Speed: nuclei are splatted as anisotropic Gaussians by one ``np.bincount`` per class and thresholded
(no per-nucleus masks), stroma and lumens are smooth noise made at low resolution, so a slide renders
at about 4 Mpx/s on one core (measured at Geometry(2.0, 36): 3.8 stomach-like, 4.2 camelyon-like).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

import numpy as np
from scipy import ndimage, special
from scipy.spatial.distance import pdist
from skimage import draw

from cpath_repro import seeds
from cpath_repro.errors import ParameterError
from cpath_repro.metrics.staging import MACRO_MM, MICRO_MM, SLIDE_CLASSES
from cpath_repro.synth import stains
from cpath_repro.wsi.annotations import Region, write_asap
from cpath_repro.wsi.writer import write_pyramid

#: Paper D: 256 x 256 px patches at x20, i.e. 0.5 µm/px (the µm a patch covers sets :attr:`Geometry.scale`).
PAPER_PATCH_PX = 256
PAPER_MPP = 0.5
#: Paper D: the stomach feature map is 32 x 32 patches per tissue lump, the Camelyon map 512 x 512.
STOMACH_MAP_PATCHES = 32
PAPER_MAP_PATCHES = 512
#: Camelyon-like map side used when the caller gives none (a ~1.3 Mpx slide at 36 px patches).
DEFAULT_MAP_PATCHES = 32
PRESETS = ("stomach-like", "camelyon-like")
DEFAULT_DIFFICULTY = 0.3
#: How much of the tumour/normal difference that survives low resolution the slides keep (0-1): the light each
#: class passes, averaged over the class, and their gland-lumen shares, what a 1/8-resolution view still sees.
#: 1: as the morphology tables make them (tumour about three times the normal mean haematoxylin density); 0:
#: matched, so that tumour differs only in what a patch shows (nuclear size, shape, crowding, texture). No
#: published measurement sets it for gastric biopsies: the default is the middle of the range, fixed before any
#: run with it, and paper D's sensitivity map shows both ends.
LOWRES_CONTRAST = 0.5
#: The low-resolution matching scales each class's stain densities by a factor smoothed over this many µm, so
#: that a class border shows no step of its own.
MATCH_SMOOTH_UM = 8.0
#: Pixels per class the matching's fit reads (evenly spaced).
MATCH_SAMPLE = 20_000
#: Paper D: "normal:tumor was approximately 4:1" (stomach), i.e. tumour is a fifth of the tissue;
#: each slide draws its share from this band around 0.2.
STOMACH_TUMOUR_SHARE = (0.14, 0.26)
#: Stomach-like slides: 2-5 lumps, each 6-14 patches long (inside the paper's 32-patch map).
STOMACH_LUMPS = (2, 5)
STOMACH_LUMP_PATCHES = (6.0, 14.0)
#: Share of stomach lumps whose Normal annotation covers only a part (the inner 0.6-0.8 of the outline); the
#: others are annotated up to 0.88-0.96 of their outline (paper D: "for whole or a certain part of the tissue").
STOMACH_PARTIAL_ANNOTATION = 0.2
#: Lesion diameter bands in paper mm (multiplied by Geometry.scale when drawn), each a margin inside its class:
#: ITC 0.4-0.8 x 0.2 mm, micro 1.5 x 0.2 mm to 0.8 x 2.0 mm, macro 1.1-1.8 x 2.0 mm (capped by the node).
DIAMETER_BANDS: dict[str, tuple[float, float]] = {
    "itc": (0.4 * MICRO_MM, 0.8 * MICRO_MM),
    "micro": (1.5 * MICRO_MM, 0.8 * MACRO_MM),
    "macro": (1.1 * MACRO_MM, 1.8 * MACRO_MM),
}
#: Besides its defining lesion, a slide may carry up to this many smaller ones (of these classes).
EXTRA_LESIONS: dict[str, tuple[str, ...]] = {"negative": (), "itc": ("itc", "itc"), "micro": ("itc", "itc"),
                                            "macro": ("micro", "itc")}
#: The smallest camelyon-like map that holds a macro lesion: 2.2 mm (the band's low end) is 17.2 patches of
#: 128 paper µm, whose outline reaches ~9 patches from its centre, plus half a patch of margin, inside a node
#: whose inscribed radius is ~0.37 of the map (radii 0.47 x 0.93 of a map 0.85-1.0 as high as wide).
MIN_MACRO_MAP_PATCHES = 28
#: Fresh single-node layouts tried when the first does not hold the defining lesion.
LAYOUT_TRIES = 4
#: Vertices of a lesion outline (skimage's polygon fill costs bounding box x vertices).
LESION_VERTICES = 64
#: Lesions stay this many patches apart (so they are distinct regions on a patch heatmap too).
LESION_GAP_PATCHES = 2.0
#: The largest slide rendered in memory (peak ~100-115 bytes of working arrays per pixel: ~7 GiB at this size).
MAX_SLIDE_PIXELS = 64 * 2**20
#: Per-slide stain variation (lab and scanner; :func:`cpath_repro.synth.stains.jitter_slide`).
STAIN_ANGLE_DEG = 4.0
I0_RANGE = (0.95, 1.0)
PIXEL_NOISE_OD = 0.012
#: Capsule of a lymph node: an eosin-rich rim this thick, µm.
CAPSULE_UM = 30.0
#: A nucleus is a Gaussian whose outline is where it falls to _OUTLINE of its peak: a low level, so two
#: neighbours merge only when nearly touching (at 0.5 they would bridge at 2.8 radii apart).
_OUTLINE = 0.1
_SIGMAS_TO_OUTLINE = math.sqrt(2 * math.log(1 / _OUTLINE))
_TRUNCATE = 2.8
_SPLAT_CHUNK = 3_000_000
#: Lymphoid follicles (germinal centres: paler, larger nuclei) per lymph node, and their size in patches.
FOLLICLES = (3, 8)
FOLLICLE_PATCHES = (2.5, 5.0)
_GLASS, _NORMAL, _TUMOUR, _CAPSULE, _FOLLICLE = 0, 1, 2, 3, 4


@dataclass(frozen=True)
class Geometry:
    """Level-0 ``mpp`` (µm per pixel) and the patch side ``patch_px`` (pixels) the slides are cut into."""

    mpp: float
    patch_px: int

    def __post_init__(self) -> None:
        if not (math.isfinite(self.mpp) and self.mpp > 0) or int(self.patch_px) != self.patch_px or self.patch_px < 2:
            raise ParameterError(
                f"A geometry needs a positive mpp (µm/px) and a patch side of at least 2 px, got {self.mpp} and "
                f"{self.patch_px}."
            )

    @property
    def patch_um(self) -> float:
        """The side of a patch, µm."""
        return self.patch_px * self.mpp

    @property
    def scale(self) -> float:
        """µm of a patch here over the paper's (256 px x 0.5 µm/px): lesion sizes and size thresholds scale by it."""
        return self.patch_um / (PAPER_PATCH_PX * PAPER_MPP)


#: Paper D's geometry: real sizes (scale 1).
PAPER_GEOMETRY = Geometry(PAPER_MPP, PAPER_PATCH_PX)


@dataclass(frozen=True)
class NucleusMorphology:
    """How one tissue class looks: nuclei (µm, per 1000 µm², OD) and the eosin and lumens around them."""

    radius_um: tuple[float, float]
    density: float  # nuclei per 1000 µm² of the class's area
    elongation: float  # largest axis ratio
    irregularity: float  # 0-1: roughness of nuclear outlines (and clumping)
    nucleus_od: tuple[float, float]  # haematoxylin OD of a nucleus
    eosin_od: float  # eosin OD of stroma / cytoplasm
    background_h: float  # haematoxylin tint of the cytoplasm and stroma
    lumen_fraction: float  # share of the area that is gland lumen (no tissue)


#: Stomach: normal gastric mucosa (regular, sparse nuclei, eosin-rich lamina propria, gland lumens) and
#: adenocarcinoma (crowded, large, irregular, hyperchromatic nuclei, little stroma, few small lumens).
STOMACH_MORPHOLOGY: dict[int, NucleusMorphology] = {
    _NORMAL: NucleusMorphology((2.6, 3.6), 5.0, 1.4, 0.08, (0.55, 0.80), 0.34, 0.04, 0.16),
    _TUMOUR: NucleusMorphology((3.8, 6.0), 6.0, 1.9, 0.35, (0.95, 1.40), 0.20, 0.08, 0.04),
}
#: Lymph node: lymphoid tissue (small, round, regular nuclei, little eosin), metastatic carcinoma
#: (large, irregular, hyperchromatic nuclei in eosinophilic cytoplasm), the fibrous capsule and the
#: follicles' germinal centres (larger, paler nuclei: a look-alike the classifier must not call tumour).
CAMELYON_MORPHOLOGY: dict[int, NucleusMorphology] = {
    _NORMAL: NucleusMorphology((2.3, 3.0), 12.0, 1.15, 0.05, (0.60, 0.85), 0.16, 0.05, 0.0),
    _TUMOUR: NucleusMorphology((4.0, 6.5), 5.0, 1.9, 0.35, (0.95, 1.40), 0.26, 0.08, 0.0),
    _CAPSULE: NucleusMorphology((1.8, 2.6), 2.0, 3.0, 0.05, (0.50, 0.70), 0.45, 0.03, 0.0),
    _FOLLICLE: NucleusMorphology((3.0, 4.2), 6.0, 1.3, 0.10, (0.45, 0.70), 0.20, 0.05, 0.0),
}


def morphology_at(difficulty: float, table: dict[int, NucleusMorphology]) -> dict[int, NucleusMorphology]:
    """Normal and tumour morphology moved ``difficulty`` (0-1) of the way toward their mean (1: identical)."""
    if not 0.0 <= difficulty <= 1.0:
        raise ParameterError(f"difficulty must be between 0 and 1, got {difficulty}.")
    normal, tumour = table[_NORMAL], table[_TUMOUR]

    def toward(a: NucleusMorphology, b: NucleusMorphology) -> NucleusMorphology:
        changes: dict[str, object] = {}
        for f in fields(NucleusMorphology):
            x, y = getattr(a, f.name), getattr(b, f.name)
            if isinstance(x, tuple):
                changes[f.name] = tuple((1 - difficulty) * u + difficulty * (u + v) / 2 for u, v in zip(x, y, strict=True))
            else:
                changes[f.name] = (1 - difficulty) * x + difficulty * (x + y) / 2
        return replace(a, **changes)  # type: ignore[arg-type]

    return {**table, _NORMAL: toward(normal, tumour), _TUMOUR: toward(tumour, normal)}


def _check_contrast(contrast: float) -> float:
    if not 0.0 <= contrast <= 1.0:
        raise ParameterError(f"lowres_contrast must be between 0 (matched at low resolution) and 1, got {contrast}.")
    return float(contrast)


def lumens_at(contrast: float, table: dict[int, NucleusMorphology]) -> dict[int, NucleusMorphology]:
    """Normal and tumour gland-lumen shares moved ``1 - contrast`` of the way toward their mean (0: equal)."""
    normal, tumour = table[_NORMAL], table[_TUMOUR]
    mean = (normal.lumen_fraction + tumour.lumen_fraction) / 2
    return {**table, **{cls: replace(m, lumen_fraction=mean + contrast * (m.lumen_fraction - mean))
                        for cls, m in ((_NORMAL, normal), (_TUMOUR, tumour))}}


def _match_light(haem: np.ndarray, eosin: np.ndarray, labels: np.ndarray, contrast: float,
                 stain: stains.SlideStain, mpp: float) -> None:
    """In place: scale tumour's and normal tissue's haematoxylin and eosin densities so that the light they pass,
    averaged over each class (what a low-resolution view sees, per RGB channel), lies ``contrast`` of its
    difference apart about the two classes' midpoint. Two scales per class (H and E) fitted to three channels by
    least squares on a sample of pixels; the factors are smoothed over :data:`MATCH_SMOOTH_UM` so that a class
    border shows no step of its own."""
    from scipy.optimize import least_squares

    inside = [np.flatnonzero(labels.ravel() == cls) for cls in (_NORMAL, _TUMOUR)]
    if contrast == 1.0 or not all(i.size for i in inside):
        return
    m = (stain.vectors * stain.scales[:, None]).astype(np.float64)
    samples = [i[:: max(1, i.size // MATCH_SAMPLE)] for i in inside]
    h, e = haem.ravel(), eosin.ravel()

    def light(pick: np.ndarray, scale: np.ndarray) -> np.ndarray:
        od = np.exp(scale[0]) * h[pick, None] * m[0] + np.exp(scale[1]) * e[pick, None] * m[1]
        return np.exp(-math.log(10.0) * od).mean(axis=0)

    means = [light(pick, np.zeros(2)) for pick in samples]
    mid = (means[0] + means[1]) / 2
    factors = [np.ones(labels.shape, np.float32) for _ in range(2)]
    for pick, mean, where in zip(samples, means, inside, strict=True):
        target = mid + contrast * (mean - mid)
        log_scale = least_squares(lambda x: light(pick, x) - target, np.zeros(2)).x  # noqa: B023
        for factor, x in zip(factors, log_scale, strict=True):
            factor.ravel()[where] = math.exp(x)
    for stain_map, factor in zip((haem, eosin), factors, strict=True):
        stain_map *= ndimage.gaussian_filter(factor, MATCH_SMOOTH_UM / mpp)


@dataclass
class SyntheticSlide:
    """A rendered slide and its ground truth; masks are level-0 ``(H, W)``, polygons level-0 ``(x, y)`` pixels."""

    image: np.ndarray  # (H, W, 3) uint8 RGB
    tissue: np.ndarray  # (H, W) bool
    tumour: np.ndarray  # (H, W) bool, inside the tissue
    regions: list[Region]  # the ASAP annotations (Tumor, and Normal for stomach-like slides)
    slide_class: str | None  # camelyon-like: a staging.SLIDE_CLASSES entry; stomach-like: None
    lesion_diameters_um: tuple[float, ...]  # largest (Feret) diameter of each lesion, µm, largest first
    preset: str
    mpp: float  # µm per level-0 pixel
    geometry: Geometry = field(default_factory=lambda: PAPER_GEOMETRY)
    stain_vectors: np.ndarray = field(default_factory=lambda: np.zeros((2, 3)))  # true H, E OD vectors (rows)
    lumps: tuple[tuple[int, int, int, int], ...] = ()  # each tissue lump's (x, y, width, height), level-0 px

    @property
    def tumour_share(self) -> float:
        """Tumour pixels over tissue pixels."""
        return float(self.tumour.sum()) / max(1, int(self.tissue.sum()))

    @property
    def patch_grid(self) -> tuple[int, int]:
        """``(rows, cols)`` of whole patches of the geometry on level 0."""
        h, w = self.tissue.shape
        return h // self.geometry.patch_px, w // self.geometry.patch_px


# --- shapes ---------------------------------------------------------------------------------------------


def _blob(rng: np.random.Generator, centre: tuple[float, float], radii: tuple[float, float], angle: float,
          roughness: float, vertices: int = 96) -> np.ndarray:
    """``(vertices, 2)`` level-0 ``(x, y)`` of a star-shaped blob: an ellipse whose radius is modulated by
    low harmonics (log-amplitude ``roughness / k``)."""
    theta = np.linspace(0.0, 2 * np.pi, vertices, endpoint=False)
    k = np.arange(1, 7)
    amp = rng.normal(0.0, roughness, k.size) / k
    phase = rng.uniform(0.0, 2 * np.pi, k.size)
    mod = np.exp((amp[:, None] * np.cos(k[:, None] * theta[None, :] + phase[:, None])).sum(axis=0))
    x, y = radii[0] * np.cos(theta) * mod, radii[1] * np.sin(theta) * mod
    c, s = math.cos(angle), math.sin(angle)
    return np.stack([centre[0] + c * x - s * y, centre[1] + s * x + c * y], axis=1)


def _scaled(points: np.ndarray, centre: np.ndarray, factor: float) -> np.ndarray:
    return centre + factor * (points - centre)


def _feret(points: np.ndarray) -> float:
    """Largest distance between two vertices (the polygon's largest diameter), in the points' unit."""
    return float(pdist(points).max())


def _lesion(rng: np.random.Generator, diameter_px: float) -> np.ndarray:
    """A lesion outline centred on (0, 0) whose largest diameter is exactly ``diameter_px``."""
    aspect = rng.uniform(1.0, 1.35)
    points = _blob(rng, (0.0, 0.0), (aspect, 1.0), rng.uniform(0, np.pi), 0.18, LESION_VERTICES)
    points -= (points.min(axis=0) + points.max(axis=0)) / 2
    return points * (diameter_px / _feret(points))


def _fill(points: np.ndarray, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Pixels of an annotated polygon, exactly as :func:`cpath_repro.wsi.annotations.label_mask` fills them."""
    return draw.polygon(points[:, 1], points[:, 0], shape=shape)


def _tissue_mask(outlines: list[np.ndarray], shape: tuple[int, int]) -> np.ndarray:
    """The union of large unannotated outlines (tissue, capsule), by PIL's scanline fill: skimage's polygon
    tests every pixel of the bounding box against every vertex, far too slow for a lymph node."""
    from PIL import Image, ImageDraw

    canvas = Image.new("1", (shape[1], shape[0]), 0)
    pen = ImageDraw.Draw(canvas)
    for points in outlines:
        pen.polygon([(float(x), float(y)) for x, y in points], fill=1)
    return np.asarray(canvas, dtype=bool).copy()


def _bbox(points: np.ndarray, shape: tuple[int, int]) -> tuple[int, int, int, int]:
    x0, y0 = np.clip(np.floor(points.min(axis=0)), 0, None).astype(int)
    x1 = min(shape[1], int(np.ceil(points[:, 0].max())) + 1)
    y1 = min(shape[0], int(np.ceil(points[:, 1].max())) + 1)
    return int(x0), int(y0), int(x1 - x0), int(y1 - y0)


# --- textures and nuclei --------------------------------------------------------------------------------


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, int], sigma: tuple[float, float]) -> np.ndarray:
    """Unit-variance Gaussian-filtered noise with ``sigma`` (rows, cols) pixels, made at low resolution and
    upsampled bilinearly when the sigmas are large (the cost is then that of the upsampling)."""
    factor = max(1, int(min(sigma) // 2))
    small = (-(-shape[0] // factor) + 2, -(-shape[1] // factor) + 2)
    noise = ndimage.gaussian_filter(rng.standard_normal(small, dtype=np.float32),
                                    (sigma[0] / factor, sigma[1] / factor), mode="wrap")
    if factor > 1:
        noise = ndimage.zoom(noise, factor, order=1, grid_mode=False)
    noise = noise[: shape[0], : shape[1]]
    return (noise - noise.mean()) / (noise.std() + 1e-12)


def _splat_nuclei(rng: np.random.Generator, labels: np.ndarray, table: dict[int, NucleusMorphology],
                  mpp: float) -> tuple[np.ndarray, np.ndarray]:
    """Nuclei as anisotropic Gaussians summed into two maps by ``np.bincount``: ``shape`` (1 at a lone
    nucleus's centre, :data:`_OUTLINE` on its outline) and ``od`` (the same, weighted by each nucleus's OD).

    The maps are made on a canvas padded by the largest window, so no index needs a bounds check.
    """
    h, w = labels.shape
    flat_labels = labels.ravel()
    picks = []
    for cls, m in sorted(table.items()):
        where = np.flatnonzero(flat_labels == cls)
        count = int(rng.poisson(m.density / 1000.0 * where.size * mpp * mpp)) if where.size else 0
        if not count:
            continue
        pick = where[rng.integers(0, where.size, count)]
        radius = rng.uniform(*m.radius_um, count) / mpp
        ratio = np.sqrt(rng.uniform(1.0, m.elongation, count))
        sig_a, sig_b = radius * ratio / _SIGMAS_TO_OUTLINE, radius / ratio / _SIGMAS_TO_OUTLINE
        picks.append((pick, rng.uniform(-0.5, 0.5, (2, count)), sig_a, sig_b, rng.uniform(0.0, np.pi, count),
                      rng.uniform(*m.nucleus_od, count)))
    pad = 1 + max((int(math.ceil(_TRUNCATE * float(p[2].max()))) for p in picks), default=1)
    pw = w + 2 * pad
    shape_map = np.zeros((h + 2 * pad) * pw)
    od_map = np.zeros_like(shape_map)
    for pick, jitter, sig_a, sig_b, theta, od in picks:
        half = max(1, int(math.ceil(_TRUNCATE * float(sig_a.max()))))
        offsets = np.arange(-half, half + 1)
        window = (offsets[:, None] * pw + offsets[None, :]).ravel()
        off_y = np.repeat(offsets, offsets.size).astype(np.float32)
        off_x = np.tile(offsets, offsets.size).astype(np.float32)
        step = max(1, _SPLAT_CHUNK // window.size)
        for start in range(0, pick.size, step):
            sl = slice(start, start + step)
            base = (pick[sl] // w + pad) * pw + pick[sl] % w + pad
            dy = off_y[None, :] - jitter[0, sl, None].astype(np.float32)
            dx = off_x[None, :] - jitter[1, sl, None].astype(np.float32)
            cos = np.cos(theta[sl]).astype(np.float32)[:, None]
            sin = np.sin(theta[sl]).astype(np.float32)[:, None]
            u = (dy * cos + dx * sin) * (1.0 / sig_a[sl]).astype(np.float32)[:, None]
            v = (dx * cos - dy * sin) * (1.0 / sig_b[sl]).astype(np.float32)[:, None]
            g = np.exp(-0.5 * (u * u + v * v)).ravel()
            index = (base[:, None] + window[None, :]).ravel()
            shape_map += np.bincount(index, g, minlength=shape_map.size)
            od_map += np.bincount(index, g * np.repeat(od[sl].astype(np.float32), window.size), minlength=od_map.size)
    crop = np.s_[pad:pad + h, pad:pad + w]
    return (shape_map.reshape(h + 2 * pad, pw)[crop].astype(np.float32),
            od_map.reshape(h + 2 * pad, pw)[crop].astype(np.float32))


def _render(rng: np.random.Generator, labels: np.ndarray, tissue: np.ndarray, table: dict[int, NucleusMorphology],
            mpp: float, contrast: float) -> tuple[np.ndarray, np.ndarray]:
    """H&E of a class map by Beer-Lambert: ``(rgb uint8, true OD vectors)``."""
    h, w = labels.shape
    n_cls = max(table) + 1

    def per_class(name: str) -> np.ndarray:
        values = np.zeros(n_cls, dtype=np.float32)
        for cls, m in table.items():
            values[cls] = getattr(m, name)
        return values[labels]

    shape_map, od_sum = _splat_nuclei(rng, labels, table, mpp)
    fine = _smooth_noise(rng, (h, w), (max(0.5, 0.7 / mpp),) * 2)
    shape_map *= 1.0 + per_class("irregularity") * fine
    cover = np.clip((shape_map - _OUTLINE) / _OUTLINE + 0.5, 0.0, 1.0)
    nucleus_od = od_sum / np.maximum(shape_map, 1e-6)
    chromatin = 1.0 + 0.15 * np.roll(fine, (5, 11), axis=(0, 1))
    haem = cover * nucleus_od * chromatin + per_class("background_h")
    broad = _smooth_noise(rng, (h, w), (60.0 / mpp, 60.0 / mpp))
    across = 1.0 / (1.0 + np.exp(-2.0 * broad))  # fibres run along rows here, along columns there
    fibres = across * _smooth_noise(rng, (h, w), (max(0.5, 1.5 / mpp), max(1.0, 8.0 / mpp)))
    fibres += (1.0 - across) * _smooth_noise(rng, (h, w), (max(1.0, 8.0 / mpp), max(0.5, 1.5 / mpp)))
    eosin = per_class("eosin_od") * (1.0 - 0.55 * cover) * (0.8 + 0.2 * fibres) * (1.0 + 0.12 * broad)
    lumen_share = per_class("lumen_fraction")
    if lumen_share.max() > 0:  # gland lumens: the top share of a ~25 µm noise field, per class
        glands = _smooth_noise(rng, (h, w), (12.0 / mpp, 12.0 / mpp))
        threshold = special.ndtri(1.0 - np.clip(lumen_share, 1e-6, 1 - 1e-6))
        lumen = np.clip((glands - threshold) / 0.25, 0.0, 1.0) * (lumen_share > 0)
        haem *= 1.0 - 0.9 * lumen
        eosin *= 1.0 - 0.85 * lumen
    edge = ndimage.gaussian_filter(tissue.astype(np.float32), max(0.5, 1.0 / mpp))
    noise = PIXEL_NOISE_OD * rng.standard_normal((2, h, w), dtype=np.float32)
    haem = np.clip((haem + noise[0]) * edge, 0.0, None)
    eosin = np.clip((eosin + noise[1]) * edge, 0.0, None)
    slide_stain = stains.jitter_slide(stains.ASSAYS["H&E"], rng, STAIN_ANGLE_DEG, i0_range=I0_RANGE)
    _match_light(haem, eosin, labels, contrast, slide_stain, mpp)
    return _beer_lambert(haem, eosin, slide_stain), slide_stain.vectors


def _beer_lambert(haem: np.ndarray, eosin: np.ndarray, stain: stains.SlideStain) -> np.ndarray:
    """``stain.render`` (I = I0 10^-(C . M), concentrations scaled per stain) in float32, to ``uint8``; the
    two-stain product is written out (a BLAS matrix product with k = 2 is slower and threads)."""
    m = (stain.vectors * stain.scales[:, None]).astype(np.float32)
    od = haem[..., None] * m[0] + eosin[..., None] * m[1]
    light = np.exp(np.float32(-math.log(10.0)) * od)
    light *= np.float32(stain.i0 * 255.0)
    light += np.float32(0.5)
    return np.clip(light, 0, 255, out=light).astype(np.uint8)


# --- presets --------------------------------------------------------------------------------------------


def _check_size(shape: tuple[int, int], geometry: Geometry) -> None:
    if shape[0] * shape[1] > MAX_SLIDE_PIXELS:
        raise ParameterError(
            f"A {shape[1]}x{shape[0]} px slide at {geometry.mpp} µm/px is more than the {MAX_SLIDE_PIXELS} px this "
            "generator renders in memory; use a coarser geometry or fewer map_patches."
        )


@dataclass
class _Layout:
    tissue: np.ndarray
    tumour: np.ndarray
    labels: np.ndarray  # render classes (_GLASS, _NORMAL, ...)
    regions: list[Region]
    diameters: tuple[float, ...]
    lumps: tuple[tuple[int, int, int, int], ...]


def _stomach(rng: np.random.Generator, geometry: Geometry) -> _Layout:
    patch = geometry.patch_px
    n = int(rng.integers(STOMACH_LUMPS[0], STOMACH_LUMPS[1] + 1))
    lengths = rng.uniform(*STOMACH_LUMP_PATCHES, n)
    aspects = rng.uniform(1.2, 2.2, n)
    rows = 1 if n <= 3 else 2
    cols = -(-n // rows)
    cell = int(math.ceil(lengths.max() + 2.0))
    shape = (rows * cell * patch, cols * cell * patch)
    _check_size(shape, geometry)
    outlines, lumps = [], []
    for i in range(n):
        r, c = divmod(i, cols)
        half_len = lengths[i] * patch / 2
        slack = (cell * patch / 2 - half_len - patch / 2) * 0.8
        centre = ((c + 0.5) * cell * patch + rng.uniform(-1, 1) * max(0.0, slack),
                  (r + 0.5) * cell * patch + rng.uniform(-1, 1) * max(0.0, slack))
        points = _blob(rng, centre, (half_len / 1.1, half_len / aspects[i] / 1.1), rng.uniform(0, np.pi), 0.12)
        points = _scaled(points, np.asarray(centre), lengths[i] * patch / _feret(points))  # exactly lengths[i] patches
        outlines.append((np.asarray(centre), points))
        lumps.append(_bbox(points, shape))
    tissue = _tissue_mask([points for _, points in outlines], shape)
    area = float(tissue.sum())
    target = float(rng.uniform(*STOMACH_TUMOUR_SHARE))
    tumour = np.zeros(shape, dtype=bool)
    regions: list[Region] = []
    sizes = np.array([float(tissue[y:y + hh, x:x + ww].sum()) for x, y, ww, hh in lumps])
    for _ in range(60):
        done = float((tumour & tissue).sum())
        if done >= target * area:
            break
        lump = int(rng.choice(n, p=sizes / sizes.sum()))
        x, y, ww, hh = lumps[lump]
        ys, xs = np.nonzero(tissue[y:y + hh, x:x + ww] & ~tumour[y:y + hh, x:x + ww])
        if not ys.size:
            continue
        j = int(rng.integers(ys.size))
        need = math.sqrt(4 * (target * area - done) / math.pi) * rng.uniform(0.8, 1.3)
        diameter = float(np.clip(need, 2.0 * patch, 0.9 * lengths[lump] / aspects[lump] * patch))
        points = _lesion(rng, diameter) + np.array([x + xs[j], y + ys[j]], dtype=np.float64)
        points = np.clip(points, 0.0, [shape[1] - 1.0, shape[0] - 1.0])  # an annotation stays on the slide
        rr, cc = _fill(points, shape)
        tumour[rr, cc] = True
        regions.append(Region(f"Tumor {len(regions)}", "Tumor", points))
    tumour &= tissue
    for i, (lump_centre, points) in enumerate(outlines):  # most of each lump, or a part of it
        partial = rng.random() < STOMACH_PARTIAL_ANNOTATION
        factor = rng.uniform(0.6, 0.8) if partial else rng.uniform(0.88, 0.96)
        regions.append(Region(f"Normal {i}", "Normal", _scaled(points, lump_centre, factor)))
    labels = np.where(tumour, _TUMOUR, np.where(tissue, _NORMAL, _GLASS)).astype(np.uint8)
    return _Layout(tissue, tumour, labels, regions, (), tuple(lumps))


def _node_layout(rng: np.random.Generator, shape: tuple[int, int], two: bool) -> list[tuple[np.ndarray, np.ndarray]]:
    h, w = shape
    if two:
        specs = [((0.33 * w, 0.5 * h), (0.28 * w, 0.42 * h)), ((0.79 * w, 0.5 * h), (0.17 * w, 0.30 * h))]
    else:
        specs = [((0.5 * w, 0.5 * h), (0.47 * w, 0.47 * h))]
    nodes = []
    for centre, radii in specs:
        jitter = rng.uniform(0.93, 1.0, 2)
        points = _blob(rng, centre, (radii[0] * jitter[0], radii[1] * jitter[1]), rng.uniform(-0.2, 0.2), 0.06)
        points[:, 0] = np.clip(points[:, 0], 1, w - 2)
        points[:, 1] = np.clip(points[:, 1], 1, h - 2)
        nodes.append((np.asarray(centre), points))
    return nodes


def _place_lesions(rng: np.random.Generator, depth: np.ndarray, step: int, wanted: list[str],
                   geometry: Geometry) -> list[np.ndarray] | None:
    """Outlines of the ``wanted`` lesions (level-0 px), each wholly inside the tissue (``depth``: distance to
    glass on a grid of ``step`` px) and :data:`LESION_GAP_PATCHES` from the others. A lesion too large for
    the deepest spot is shrunk to fit while its diameter stays in its band; None when the first (defining)
    lesion cannot be placed, an extra one that cannot is left out."""
    patch = geometry.patch_px
    lesions: list[np.ndarray] = []
    taken: list[tuple[np.ndarray, float]] = []
    grid = np.stack(np.nonzero(depth)[::-1], axis=1).astype(np.float64) * step  # (x, y) of tissue grid points
    grid_depth = depth[depth > 0]
    for k, cls in enumerate(wanted):
        lo, hi = (b * 1000.0 * geometry.scale / geometry.mpp for b in DIAMETER_BANDS[cls])
        margin = patch / 2
        diameter = float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
        outline = _lesion(rng, diameter)
        reach = float(np.linalg.norm(outline, axis=1).max())
        room = float(depth.max()) - margin
        if reach > room:
            factor = 0.98 * room / reach
            if diameter * factor < lo:
                if k == 0:
                    return None
                continue
            outline, reach = outline * factor, reach * factor
        ok = grid_depth >= reach + margin
        for centre, other in taken:
            ok &= np.linalg.norm(grid - centre, axis=1) >= reach + other + LESION_GAP_PATCHES * patch
        if not ok.any():
            if k == 0:
                return None
            continue
        centre = grid[int(rng.choice(np.flatnonzero(ok)))] + rng.uniform(0, step, 2)
        lesions.append(outline + centre)
        taken.append((centre, reach))
    return lesions


def _camelyon(rng: np.random.Generator, geometry: Geometry, slide_class: str, map_patches: int) -> _Layout:
    patch = geometry.patch_px
    width_p = int(map_patches)
    height_p = max(1, int(round(width_p * rng.uniform(0.85, 1.0))))
    shape = (height_p * patch, width_p * patch)
    _check_size(shape, geometry)
    um_per_px = geometry.mpp
    wanted = [slide_class] if slide_class != "negative" else []
    wanted += [c for c in EXTRA_LESIONS[slide_class] if rng.random() < 0.5]
    two = bool(rng.random() < 0.35)
    tries = [two] + [False] * LAYOUT_TRIES
    step = max(1, patch // 2)
    for two_nodes in tries:
        nodes = _node_layout(rng, shape, two_nodes)
        tissue = _tissue_mask([points for _, points in nodes], shape)
        # distance to glass on a coarse grid (level-0 px), for placing lesions wholly inside the tissue
        depth = ndimage.distance_transform_edt(np.pad(tissue[::step, ::step], 1)).astype(np.float64)[1:-1, 1:-1] * step
        lesions = _place_lesions(rng, depth, step, wanted, geometry)
        if lesions is not None:
            break
    else:
        lo = DIAMETER_BANDS[slide_class][0] * 1000.0 * geometry.scale / um_per_px
        raise ParameterError(
            f"A {slide_class} lesion of at least {lo * um_per_px:.0f} µm did not fit in a lymph node on a map of "
            f"{map_patches} patches of {geometry.patch_um:g} µm; use a larger map_patches."
        )
    tumour = np.zeros(shape, dtype=bool)
    for points in lesions:
        tumour[_fill(points, shape)] = True
    tumour &= tissue
    inner = []
    for node_centre, points in nodes:  # the capsule: the node minus the node shrunk by CAPSULE_UM
        mean_radius = float(np.linalg.norm(points - node_centre, axis=1).mean())
        inner.append(_scaled(points, node_centre, max(0.0, 1.0 - CAPSULE_UM / um_per_px / mean_radius)))
    capsule = tissue & ~_tissue_mask(inner, shape)
    follicles = []
    yy, xx = np.nonzero(depth > 0)
    for _ in range(int(rng.integers(FOLLICLES[0], FOLLICLES[1] + 1))):
        radius = rng.uniform(*FOLLICLE_PATCHES) * patch / 2
        ok = depth[yy, xx] >= radius + CAPSULE_UM / um_per_px
        if not ok.any():
            break
        j = int(rng.choice(np.flatnonzero(ok)))
        where = (float(xx[j] * step), float(yy[j] * step))
        follicles.append(_blob(rng, where, (radius, radius * rng.uniform(0.8, 1.0)), rng.uniform(0, np.pi), 0.05, 48))
    follicle = _tissue_mask(follicles, shape) & tissue if follicles else np.zeros(shape, dtype=bool)
    labels = np.full(shape, _GLASS, dtype=np.uint8)
    labels[tissue] = _NORMAL
    labels[follicle] = _FOLLICLE
    labels[capsule] = _CAPSULE
    labels[tumour] = _TUMOUR
    regions = [Region(f"Annotation {i}", "Tumor", points) for i, points in enumerate(lesions)]
    diameters = tuple(_feret(points) * um_per_px for points in lesions)
    lumps = tuple(_bbox(points, shape) for _, points in nodes)
    return _Layout(tissue, tumour, labels, regions, diameters, lumps)


def make_slide(preset: str, index: int, seed: int, geometry: Geometry, *, slide_class: str | None = None,
               difficulty: float = DEFAULT_DIFFICULTY, map_patches: int = DEFAULT_MAP_PATCHES,
               lowres_contrast: float = LOWRES_CONTRAST) -> SyntheticSlide:
    """Slide ``index`` of ``preset`` for ``seed`` (same arguments, same bytes).

    ``lowres_contrast`` (0-1, :data:`LOWRES_CONTRAST`): how much of tumour's difference from normal tissue in
    mean stain density and lumen share is kept, i.e. how much a low-resolution view can see.

    ``slide_class`` is required for ``"camelyon-like"`` (one of ``SLIDE_CLASSES``) and must be None for
    ``"stomach-like"``; ``map_patches`` is the camelyon-like map side in patches (paper D: 512), and the
    stomach-like lumps always fit the paper's 32-patch map.
    """
    if preset not in PRESETS:
        raise ParameterError(f"preset must be one of {', '.join(PRESETS)}, not {preset!r}.")
    if preset == "camelyon-like" and slide_class not in SLIDE_CLASSES:
        raise ParameterError(
            f"A camelyon-like slide needs slide_class among {', '.join(SLIDE_CLASSES)}, got {slide_class!r}."
        )
    if preset == "stomach-like" and slide_class is not None:
        raise ParameterError(f"A stomach-like slide has no slide class; pass slide_class=None, not {slide_class!r}.")
    if int(map_patches) != map_patches or map_patches < 4:
        raise ParameterError(f"map_patches must be a whole number of patches of at least 4, got {map_patches}.")
    if preset == "camelyon-like" and slide_class == "macro" and map_patches < MIN_MACRO_MAP_PATCHES:
        raise ParameterError(
            f"A macro slide needs a map of at least {MIN_MACRO_MAP_PATCHES} patches to hold a lesion over 2.0 mm "
            f"(x scale), got map_patches={map_patches}; use at least {MIN_MACRO_MAP_PATCHES}."
        )
    contrast = _check_contrast(lowres_contrast)
    table = lumens_at(contrast, morphology_at(difficulty, STOMACH_MORPHOLOGY if preset == "stomach-like"
                                              else CAMELYON_MORPHOLOGY))
    class_code = 0 if slide_class is None else 1 + SLIDE_CLASSES.index(slide_class)
    rng = seeds.rng(int(seed), preset, int(index), class_code)
    if slide_class is None:
        layout = _stomach(rng, geometry)
    else:
        layout = _camelyon(rng, geometry, slide_class, int(map_patches))
    image, vectors = _render(rng, layout.labels, layout.tissue, table, geometry.mpp, contrast)
    return SyntheticSlide(
        image=image, tissue=layout.tissue, tumour=layout.tumour, regions=layout.regions, slide_class=slide_class,
        lesion_diameters_um=layout.diameters, preset=preset, mpp=geometry.mpp, geometry=geometry,
        stain_vectors=vectors, lumps=layout.lumps,
    )


def write_slide(folder: str | Path, name: str, slide: SyntheticSlide) -> tuple[Path, Path]:
    """Write ``folder/name.tif`` (pyramidal TIFF, OpenSlide-readable, lossless) and ``folder/name.xml``
    (its ASAP annotations; without regions, a valid annotation file with none)."""
    folder = Path(folder)
    what = slide.preset if slide.slide_class is None else f"{slide.preset} {slide.slide_class}"
    description = f"cpath_repro synthetic {what} slide, {slide.mpp:g} um/px"
    tif = write_pyramid(folder / f"{name}.tif", slide.image, slide.mpp, description=description)
    xml = write_asap(folder / f"{name}.xml", slide.regions)
    return tif, xml
