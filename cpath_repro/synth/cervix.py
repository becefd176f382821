"""Synthetic cervix photographs for paper C, whose anatomy decides the type, with ground truth.

Why a module: paper C classifies Kaggle Intel & MobileODT photographs of the cervix into three types that
differ in where the transformation zone (TZ) lies (paper C, Figure 1, after Singer et al. 2006): type 1
completely ectocervical and fully visible, type 2 with an endocervical component but fully visible, type 3
not fully visible. The ``default`` profile cannot download the images, so they are drawn here, with what the
paper's claims rest on: the anatomy, the distractors the paper names (sections 4.1 and 7: black borders,
metallic speculums, gloves; blood and light glare), the class balance of its two sets (section 4.1), and an
"additional" set of which a known part is bad (section 10). Unlike the real set, every image keeps its truth.

Anatomy. A cervix is a shaded dome (pink squamous epithelium, a Lambertian 3-D look, lit from a random side)
on a darker vaginal wall; the external os is a dark ellipse, round to slit-like, near its centre; the TZ is
redder, papillary (grape-like) columnar epithelium around the os, bounded by the squamocolumnar junction
(SCJ). The types differ only in the TZ's geometry relative to the os (:data:`TYPE_GEOMETRY`, lengths in the
os's major semi-axes ``a``):

- type 1: the TZ is a wide ring on the face, from the os margin out to the SCJ ``ecto`` = 0.9-2.2 ``a``
  beyond it; nothing of it inside the os (its lumen is dark to the margin);
- type 2: the TZ reaches into the canal, whose lining is visible red inside the os down to a dark lumen
  (``endo`` = 35-65 % of the os's semi-axes), and out to an SCJ ``ecto`` = 0.2-1.1 ``a`` beyond the margin:
  endocervical and ectocervical parts, the junction visible all round;
- type 3: the SCJ is inside the canal, hidden: all that shows is a thin red rim at the os margin
  (``ecto`` = 0.06-0.25 ``a``, at least 1 px) over part of its circumference (``arc`` = 35-90 %); the os
  inside is dark.

So the TZ area outside the os (in os areas) is ordered type 1 > type 2 > type 3 and only type 2 has TZ
inside the os. Everything else is drawn from one distribution for all types (cervix position, size,
rotation and aspect; os size, shape and angle; lighting; tissue colours; TZ colour and texture; distractors)
and from a random stream of its own, so the same index drawn as another type (``label=``) differs only in the
TZ and the os's lumen. ``difficulty`` (0-1, default :data:`DIFFICULTY`) moves each type's ``ecto`` and ``endo``
ranges toward the mean of the three (1: alike but for type 3's partial rim).

Distractors. Each is drawn independently of the type with its probability in :data:`DISTRACTOR_RATES`:
the camera's black circular frame, speculum blades (grey metal with highlights at the top, bottom or sides),
a glove (a pale blue, green or white finger blob from an edge), blood (dark-red streaks) and light glare
(small saturated white spots on the wet tissue). They are drawn over the anatomy: the masks are the anatomy's
and may be partly covered.

Sets. :data:`INITIAL_COUNTS` and :data:`ADDITIONAL_COUNTS` are paper C's section 4.1 tables; the ``test`` kind
is a held-out set drawn like the initial one (its labels known, for scoring a submission). The types of a set
follow a fixed low-discrepancy interleaving (:func:`labels`): every prefix keeps the paper's proportions to
within one image, the paper's full sizes get its exact counts, and image ``i``'s type does not depend on how
many images are made (seeds change everything else). Of the additional set :data:`BAD_FRACTION` (0.2) is bad,
one of each of :data:`BAD_REASONS` at random places in every block of :data:`BAD_BLOCK` images (0.05 each):

- "blurred": a strong Gaussian blur, σ 1.5-4 % of the height;
- "off-colour": a strong green or blue cast, near-total desaturation or over-exposure (×1.8-2.6);
- "not-cervix": something else, a blotchy texture of random colours or a scene of random shapes;
- "near-duplicate": an earlier good additional image of the same type (as if from the same session) shifted by
  0.5-2.5 %, zoomed in by up to 4 %, re-exposed by ±5 % and re-noised.

The bad images are made to be what their names say, not tuned to pass or fail any filter.

Ground truth. :class:`CervixImage` keeps the type, the TZ, cervix and os masks (H×W bool, before
distractors), the distractors drawn, the bad reason (None when good) and a near-duplicate's original.

Determinism. Image ``i`` depends only on (kind, i, seed, size, difficulty); types and bad reasons are known
without making pixels. Sizes are (height, width) in pixels; the default is paper C's 320×240 (section 5.1).
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import overload

import numpy as np
from scipy import ndimage
from skimage import draw

from cpath_repro import seeds
from cpath_repro.errors import ParameterError

# --- the paper's facts ------------------------------------------------------------------------

TYPES = ("Type_1", "Type_2", "Type_3")  # the Kaggle folder names; label k is TYPES[k]
KINDS = ("initial", "additional", "test")
#: Paper C, section 4.1, first table: the initial set's images of type 1, 2, 3 (17 / 53 / 30 %).
INITIAL_COUNTS = (250, 781, 450)
#: Paper C, section 4.1, second table: the additional set's images of type 1, 2, 3 (18 / 53 / 29 %).
ADDITIONAL_COUNTS = (1191, 3567, 1976)
#: Paper C, section 5.1: images resized to 320×240 (here as height × width).
DEFAULT_SIZE = (240, 320)
#: The smallest side an image may have.
MIN_SIDE = 16

# --- ground truth the paper did not have ------------------------------------------------------

BAD_REASONS = ("blurred", "off-colour", "not-cervix", "near-duplicate")
#: Every block of BAD_BLOCK additional images holds one bad image of each reason: BAD_FRACTION = 4 / 40 = 0.1,
#: 0.025 each (our choice; the paper says only that "some" additional images are bad). Fixed apart from the
#: cleaning's kept share (0.8), which the paper does not give either: a filter that keeps 80 % of a set 10 %
#: bad must also drop good images, as a real one does, where a bad share of 0.2 made the two coincide.
BAD_BLOCK = 40
BAD_FRACTION = len(BAD_REASONS) / BAD_BLOCK
#: Probability of each distractor in every image of every kind and type (our choice; the paper says "many" images
#: show black borders or speculums, section 7, and gloves "sometimes", section 4.1).
DISTRACTOR_RATES: dict[str, float] = {
    "black-border": 0.5,
    "speculum": 0.6,
    "glove": 0.1,
    "blood": 0.2,
    "glare": 0.7,
}
DISTRACTORS = tuple(DISTRACTOR_RATES)
#: How far a near-duplicate's original may lie before it (in additional-set indices) before one after is used.
DUPLICATE_LOOKBACK = 40


@dataclass(frozen=True)
class TypeGeometry:
    """Ranges (uniform) of one type's TZ geometry, in units of the os's major semi-axis ``a``.

    ``ecto``: how far the SCJ lies beyond the os margin; ``endo``: the visible canal lining inside the os, as a
    fraction of the os's semi-axes (0: the os is dark to its margin); ``arc``: the share of the os's
    circumference the TZ covers.
    """

    ecto: tuple[float, float]
    endo: tuple[float, float]
    arc: tuple[float, float]
    #: where the SCJ lies from the os's centre, as a share of the cervix's major semi-axis: the zone's extent on
    #: the cervix's face, which a centre crop can cut (used as far as ``zone_reach`` says; type 3's rim keeps
    #: ``ecto``)
    reach: tuple[float, float] = (0.0, 0.0)


TYPE_GEOMETRY = (
    TypeGeometry(ecto=(0.9, 2.2), endo=(0.0, 0.0), arc=(1.0, 1.0), reach=(0.55, 0.85)),  # type 1: ectocervical
    TypeGeometry(ecto=(0.2, 1.1), endo=(0.35, 0.65), arc=(1.0, 1.0), reach=(0.3, 0.5)),  # type 2: endocervical part
    TypeGeometry(ecto=(0.06, 0.25), endo=(0.0, 0.0), arc=(0.35, 0.9)),  # type 3: a rim; the SCJ hidden
)
#: The default share of the way each type's ranges move toward the mean of the three.
DIFFICULTY = 0.25
#: How far types 1 and 2 draw their zone's extent relative to the cervix (``reach``) rather than to the os
#: (``ecto``), 0-1. Anatomy sets it: the SCJ lies on the cervix's face, and the os is a few millimetres across
#: on a cervix about 30 mm wide, so the default is 1 (fixed before any run with it). At 0 the zone is a ring
#: sized by the os, which a centre crop of any size keeps whole and zooming only enlarges.
ZONE_REACH = 1.0
#: Share of images with a mucus plug at the os (0-1): whitish, glistening, drawn over the os's margin whatever
#: the type, so that a map drawn to high-contrast edges at the os is not drawn to the zone. No rate is
#: published for colposcopy photographs: the default is the middle of the range, fixed before any run with it.
OS_MUCUS = 0.5


def geometry_at(difficulty: float = DIFFICULTY) -> tuple[TypeGeometry, ...]:
    """Each type's :class:`TypeGeometry` with its ``ecto`` and ``endo`` ranges moved ``difficulty`` (0-1) of the way
    toward the mean of the three (``arc`` stays: type 3's rim stays partial, the others' rings whole)."""
    _check_difficulty(difficulty)

    def mix(name: str) -> list[tuple[float, float]]:
        ranges = [getattr(g, name) for g in TYPE_GEOMETRY]
        mean = [float(np.mean([r[i] for r in ranges])) for i in range(2)]
        return [(r[0] + difficulty * (mean[0] - r[0]), r[1] + difficulty * (mean[1] - r[1])) for r in ranges]

    ecto, endo = mix("ecto"), mix("endo")
    reach = [g.reach for g in TYPE_GEOMETRY[:2]]  # type 3 has no extent on the face: its rim is ``ecto``
    mean = [float(np.mean([r[i] for r in reach])) for i in range(2)]
    reach = [(r[0] + difficulty * (mean[0] - r[0]), r[1] + difficulty * (mean[1] - r[1])) for r in reach]
    reach.append(TYPE_GEOMETRY[2].reach)
    return tuple(TypeGeometry(ecto[k], endo[k], g.arc, reach[k]) for k, g in enumerate(TYPE_GEOMETRY))


@dataclass(frozen=True)
class CervixImage:
    """One synthetic photograph and its truth."""

    image: np.ndarray  # H×W×3 uint8 RGB
    label: int  # 0, 1, 2 for Type_1..3
    tz_mask: np.ndarray  # H×W bool: the visible transformation zone (empty for a not-cervix image)
    cervix_mask: np.ndarray  # H×W bool: the cervix, its os included
    os_mask: np.ndarray  # H×W bool: the external os (the canal's opening)
    kind: str
    index: int
    bad: str | None = None  # one of BAD_REASONS, or None
    duplicate_of: int | None = None  # a near-duplicate's original (an index of the same kind)
    distractors: tuple[str, ...] = ()  # those of DISTRACTORS drawn on it

    @property
    def type_name(self) -> str:
        """The Kaggle folder name of the type (``Type_1`` …)."""
        return TYPES[self.label]


# --- checks -----------------------------------------------------------------------------------


def _check_kind(kind: str) -> int:
    if kind not in KINDS:
        raise ParameterError(f"Unknown cervix set kind {kind!r}; expected one of {', '.join(KINDS)}.")
    return KINDS.index(kind)


def _check_difficulty(difficulty: float) -> None:
    if not 0 <= difficulty <= 1:
        raise ParameterError(f"difficulty must be between 0 (types as designed) and 1 (types drawn alike), "
                             f"got {difficulty!r}.")


def _check_share(name: str, value: float) -> None:
    if not 0 <= value <= 1:
        raise ParameterError(f"{name} must be between 0 and 1, got {value!r}.")


def _check_size(size: tuple[int, int]) -> tuple[int, int]:
    try:
        h, w = (int(s) for s in size)
    except (TypeError, ValueError):
        raise ParameterError(f"size must be (height, width) in pixels, e.g. (240, 320), got {size!r}.") from None
    if h < MIN_SIDE or w < MIN_SIDE or (h, w) != tuple(size):
        raise ParameterError(f"size must be two integers of at least {MIN_SIDE} px (height, width), got {size!r}.")
    return h, w


def _check_seed(seed: int) -> int:
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ParameterError(f"seed must be a non-negative integer, got {seed!r}.")
    return int(seed)


def _check_index(index: int) -> int:
    if not isinstance(index, (int, np.integer)) or index < 0:
        raise ParameterError(f"index must be a non-negative integer, got {index!r}.")
    return int(index)


# --- sizes, types and bad reasons (no pixels) -------------------------------------------------


def proportions(kind: str) -> np.ndarray:
    """The paper's class shares for ``kind`` (the test set shares the initial set's)."""
    _check_kind(kind)
    counts = ADDITIONAL_COUNTS if kind == "additional" else INITIAL_COUNTS
    return np.asarray(counts, float) / sum(counts)


_SEQUENCES: dict[str, np.ndarray] = {}


def _sequence(kind: str, n: int) -> np.ndarray:
    """The first ``n`` types of ``kind``: one of each, then always the type furthest below its share."""
    have = _SEQUENCES.get(kind)
    if have is None or len(have) < n:
        p = proportions(kind)
        length = max(n, 2 * (0 if have is None else len(have)), 1024)
        out = np.empty(length, np.int64)
        counts = np.zeros(3)
        for i in range(length):
            k = (1, 2, 0)[i] if i < 3 else int(np.argmax(p * (i + 1) - counts))
            out[i] = k
            counts[k] += 1
        _SEQUENCES[kind] = have = out
    return have[:n]


def _check_total(n_total: int) -> int:
    if not isinstance(n_total, (int, np.integer)) or n_total < 3:
        raise ParameterError(f"n_total must be an integer of at least 3 (one image of each type), got {n_total!r}.")
    return int(n_total)


def labels(kind: str, n_total: int) -> np.ndarray:
    """Types (0-2) of the first ``n_total`` images of ``kind``: the same for every seed, each prefix within one
    image of the paper's proportions (see the module docstring)."""
    _check_kind(kind)
    return _sequence(kind, _check_total(n_total)).copy()


def class_counts(kind: str, n_total: int) -> tuple[int, int, int]:
    """Images of type 1, 2, 3 in a set of ``n_total``: the paper's proportions, at least one each; the paper's
    own sizes (1481 initial, 6734 additional) give its exact counts."""
    c = np.bincount(labels(kind, n_total), minlength=3)
    return int(c[0]), int(c[1]), int(c[2])


def label_of(kind: str, index: int) -> int:
    """Type of image ``index`` of ``kind``."""
    _check_kind(kind)
    return int(_sequence(kind, _check_index(index) + 1)[index])


def _rng(kind: str, seed: int, index: int, stream: int) -> np.random.Generator:
    return seeds.rng(seed, kind, index, stream)


#: Random streams of an image: shared scene, type geometry, distractors, corruption, sensor noise; bad places;
#: the mucus plug.
_SCENE, _TYPE, _DISTRACT, _CORRUPT, _NOISE, _BAD, _MUCUS = range(7)


def bad_reason(index: int, seed: int) -> str | None:
    """Why additional image ``index`` is bad for ``seed``, or None."""
    index, seed = _check_index(index), _check_seed(seed)
    block, place = divmod(index, BAD_BLOCK)
    order = _rng("additional", seed, block, _BAD).permutation(BAD_BLOCK)
    where = int(np.nonzero(order == place)[0][0])
    return BAD_REASONS[where] if where < len(BAD_REASONS) else None


def bad_reasons(n_total: int, seed: int) -> list[str | None]:
    """:func:`bad_reason` of each of the first ``n_total`` additional images."""
    return [bad_reason(i, seed) for i in range(_check_total(n_total))]


def duplicate_source(index: int, seed: int) -> int | None:
    """The original of near-duplicate additional image ``index``: the nearest earlier good image of its type within
    :data:`DUPLICATE_LOOKBACK`, else the nearest later one; None if ``index`` is not a near-duplicate."""
    if bad_reason(index, seed) != "near-duplicate":
        return None
    want = label_of("additional", index)
    earlier = range(index - 1, max(-1, index - 1 - DUPLICATE_LOOKBACK), -1)
    for j in itertools.chain(earlier, itertools.count(index + 1)):  # ends: every type recurs among good images
        if label_of("additional", j) == want and bad_reason(j, seed) is None:
            return j
    raise AssertionError("unreachable")


# --- drawing helpers --------------------------------------------------------------------------


@functools.lru_cache(maxsize=8)
def _grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    yy.flags.writeable = xx.flags.writeable = False
    return yy, xx


@functools.lru_cache(maxsize=32)
def _spread(n: int, cells: int) -> np.ndarray:
    """n × (cells + 1) weights that spread a coarse grid smoothly over ``n`` pixels (Gaussian, normalised)."""
    pos = (np.arange(n) + 0.5) / n * cells
    w = np.exp(-0.5 * ((pos[:, None] - np.arange(cells + 1)[None, :]) / 0.6) ** 2)
    out = (w / w.sum(1, keepdims=True)).astype(np.float32)
    out.flags.writeable = False
    return out


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, int], cells: tuple[int, int]) -> np.ndarray:
    """A smooth random field of about unit spread, ``cells`` (rows, columns) blobs across ``shape``."""
    coarse = rng.standard_normal((cells[0] + 1, cells[1] + 1)).astype(np.float32)
    # einsum, not BLAS: a multi-threaded BLAS is slow for these small products on a busy machine
    field = np.einsum("ik,lk->il", np.einsum("ij,jk->ik", _spread(shape[0], cells[0]), coarse),
                      _spread(shape[1], cells[1]))
    return field / max(float(field.std()), 1e-6)


def _mix(img: np.ndarray, colour: np.ndarray, alpha: np.ndarray) -> None:
    """In place: ``img`` → ``img · (1 − alpha) + colour · alpha`` (colour H×W×3 or 3)."""
    a = alpha[..., None]
    img *= 1 - a
    img += colour * a


def _ramp(level: np.ndarray, scale: float) -> np.ndarray:
    """Anti-aliased inside-ness of an ellipse from its level ``sqrt((u/a)² + (v/b)²)``: 1 inside, 0 outside, a
    one-pixel ramp at the edge (``scale``: the semi-axis in pixels)."""
    return np.clip((1 - level) * scale + 0.5, 0, 1)


# --- the scene --------------------------------------------------------------------------------


@dataclass
class _Scene:
    img: np.ndarray  # H×W×3 float32, 0-1, no sensor noise
    tz: np.ndarray
    cervix: np.ndarray
    os: np.ndarray
    distractors: tuple[str, ...]


def _draw_scene(kind: str, index: int, seed: int, size: tuple[int, int], label: int, difficulty: float,
                zone_reach: float, os_mucus: float) -> _Scene:
    h, w = size
    rng = _rng(kind, seed, index, _SCENE)
    yy, xx = _grid(h, w)
    side = float(min(h, w))

    # cervix: an ellipse, shaded as a dome lit from a random side
    cy, cx = h * (0.5 + rng.uniform(-0.08, 0.08)), w * (0.5 + rng.uniform(-0.08, 0.08))
    big = side * rng.uniform(0.36, 0.48)
    small = big * rng.uniform(0.8, 1.0)
    turn = rng.uniform(-np.pi, np.pi)
    cos, sin = np.float32(np.cos(turn)), np.float32(np.sin(turn))
    dy, dx = yy - np.float32(cy), xx - np.float32(cx)
    nu, nv = (dx * cos + dy * sin) / np.float32(big), (-dx * sin + dy * cos) / np.float32(small)
    r2 = nu * nu + nv * nv
    level = np.sqrt(r2)
    cervix_alpha = _ramp(level, small)
    nz = np.sqrt(np.clip(1 - r2, 0, 1))
    light = np.array([rng.uniform(-0.6, 0.6), rng.uniform(-0.6, 0.6), 1.0])
    light /= np.linalg.norm(light)
    lu, lv = light[0] * np.cos(turn) + light[1] * np.sin(turn), -light[0] * np.sin(turn) + light[1] * np.cos(turn)
    ambient = rng.uniform(0.3, 0.45)
    shade = ambient + (1 - ambient) * np.clip(nu * np.float32(lu) + nv * np.float32(lv) + nz * np.float32(light[2]),
                                              0, 1)

    # colours (0-1 RGB): pink squamous epithelium, a darker wall, a redder TZ, a dark os
    red = rng.uniform(0.8, 0.96)
    squamous = np.array([red, red * rng.uniform(0.52, 0.68), red * rng.uniform(0.55, 0.72)], np.float32)
    wall = squamous * rng.uniform(0.5, 0.72) * np.array([1.0, rng.uniform(0.72, 0.9), rng.uniform(0.72, 0.9)],
                                                        np.float32)
    tz_red = red * rng.uniform(0.8, 0.95)
    tz_colour = np.array([tz_red, tz_red * rng.uniform(0.16, 0.3), tz_red * rng.uniform(0.2, 0.34)], np.float32)
    lumen_colour = np.array([rng.uniform(0.2, 0.3), rng.uniform(0.03, 0.07), rng.uniform(0.04, 0.08)], np.float32)

    # background: the vaginal wall, darker away from the light, with folds
    folds = _smooth_noise(rng, size, (4, 5))
    dist = np.sqrt(dy * dy + dx * dx) / np.float32(np.hypot(h, w) / 2)
    falloff = np.clip(1.05 - 0.8 * dist + 0.12 * folds, 0.12, 1.0)
    img = wall[None, None, :] * falloff[..., None]
    surface = 1 + 0.05 * _smooth_noise(rng, size, (6, 8))
    _mix(img, squamous[None, None, :] * (shade * surface)[..., None], cervix_alpha)

    # the os, near the centre, round to slit-like, roughly transverse
    a = big * rng.uniform(0.1, 0.16)
    b = a * rng.uniform(0.3, 0.9)
    oy, ox = cy + big * rng.uniform(-0.07, 0.07), cx + big * rng.uniform(-0.07, 0.07)
    os_turn = rng.uniform(-0.35, 0.35)
    harmonics = [(k, rng.uniform(0, 0.1), rng.uniform(0, 2 * np.pi)) for k in (2, 3, 4)]
    texture_strength = rng.uniform(0.3, 0.5)
    papilla = max(0.6, a * rng.uniform(0.1, 0.16))
    texture_seed = int(rng.integers(2**31))

    # the type decides the TZ: draws from a stream of its own, at the same quantiles for every type
    types = geometry_at(difficulty)
    geometry = types[label]
    q = _rng(kind, seed, index, _TYPE).random(4)

    def extent(g: TypeGeometry, quantile: float) -> float:
        """The SCJ's distance beyond the os margin in os semi-axes: by the os, or by the cervix (``zone_reach``)."""
        by_os = g.ecto[0] + quantile * (g.ecto[1] - g.ecto[0])
        if g.reach[1] == 0:
            return by_os
        by_cervix = (g.reach[0] + quantile * (g.reach[1] - g.reach[0])) * big / a - 1
        return (1 - zone_reach) * by_os + zone_reach * by_cervix

    ecto = max(extent(geometry, q[0]), 1.0 / a)  # a rim of at least 1 px
    endo = geometry.endo[0] + q[1] * (geometry.endo[1] - geometry.endo[0])
    arc = geometry.arc[0] + q[2] * (geometry.arc[1] - geometry.arc[0])
    arc_centre = q[3] * 2 * np.pi

    # everything around the os is drawn in a box that holds the widest TZ any type could have here
    reach = a * (1 + max(max(extent(g, 1.0), g.ecto[1]) for g in types) * 1.35) + 3
    y0, y1 = max(0, int(oy - reach)), min(h, int(oy + reach) + 1)
    x0, x1 = max(0, int(ox - reach)), min(w, int(ox + reach) + 1)
    box = (slice(y0, y1), slice(x0, x1))
    by, bx = yy[box] - np.float32(oy), xx[box] - np.float32(ox)
    oc, osn = np.float32(np.cos(os_turn)), np.float32(np.sin(os_turn))
    u, v = bx * oc + by * osn, -bx * osn + by * oc
    angle = np.arctan2(v / np.float32(b), u / np.float32(a))
    wobble = 1 + sum(amp * np.cos(k * angle + phase) for k, amp, phase in harmonics)
    outer = ecto * wobble
    tz_level = np.sqrt((u / (a * (1 + outer))) ** 2 + (v / (b + a * outer)) ** 2)
    os_level = np.sqrt((u / a) ** 2 + (v / b) ** 2)
    lumen_scale = 1 - endo
    lumen_level = os_level / lumen_scale
    tz_alpha = _ramp(tz_level, b + a * ecto) * (1 - _ramp(lumen_level, b * lumen_scale))
    if arc < 1:
        off = np.abs((angle - arc_centre + np.pi) % (2 * np.pi) - np.pi)  # angular distance from the arc's centre
        tz_alpha *= np.clip((arc * np.pi - off) * a + 0.5, 0, 1)
    tz_alpha *= cervix_alpha[box]

    # papillary texture: grape-like bumps, lit from the scene's light
    trng = np.random.default_rng(texture_seed)
    bumps = ndimage.gaussian_filter(trng.standard_normal((y1 - y0, x1 - x0), dtype=np.float32), papilla)
    bumps /= max(float(bumps.std()), 1e-6)
    relief = np.zeros_like(bumps)
    relief[1:, 1:] = bumps[1:, 1:] - bumps[:-1, :-1]
    texture = 1 + texture_strength * (0.35 * np.tanh(bumps) + 0.35 * np.clip(relief * (light[0] + light[1]), -1, 1))
    sub = img[box]
    _mix(sub, tz_colour[None, None, :] * (shade[box] * texture)[..., None], tz_alpha)
    lumen_alpha = _ramp(lumen_level, b * lumen_scale)
    depth = (0.55 + 0.45 * np.clip(lumen_level, 0, 1))[..., None]
    _mix(sub, lumen_colour[None, None, :] * depth, lumen_alpha * cervix_alpha[box])

    mucus = _rng(kind, seed, index, _MUCUS)
    if mucus.random() < os_mucus:  # drawn whatever the type, from a stream of its own
        _mucus(sub, mucus, by, bx, a, (u, v), angle, float(light[0] + light[1]))

    tz = np.zeros(size, bool)
    tz[box] = tz_alpha > 0.5
    os_mask = np.zeros(size, bool)
    os_mask[box] = _ramp(os_level, b)[...] * cervix_alpha[box] > 0.5
    cervix = cervix_alpha > 0.5

    drawn = _draw_distractors(img, _rng(kind, seed, index, _DISTRACT), (cy, cx, big, small, turn), side)
    return _Scene(img, tz, cervix, os_mask, drawn)


def _mucus(sub: np.ndarray, rng: np.random.Generator, by: np.ndarray, bx: np.ndarray, a: float,
           os_uv: tuple[np.ndarray, np.ndarray], angle: np.ndarray, lit: float) -> None:
    """A mucus plug over the os's margin: a whitish, translucent, glistening blob with a sharp bright rim and
    a specular highlight, centred on the margin at a random angle (it covers part of the os and of whatever
    zone borders it, the same for every type)."""
    at = rng.uniform(-np.pi, np.pi)
    u, v = os_uv
    # the os margin point at angle ``at`` in the os's frame, back in box coordinates via the pixel nearest it
    near = np.abs((angle - at + np.pi) % (2 * np.pi) - np.pi) + np.abs(np.sqrt(u * u + v * v) - a) / max(a, 1.0)
    cy, cx = np.unravel_index(int(np.argmin(near)), near.shape)
    radius = a * rng.uniform(1.0, 1.6)
    stretch, turn = rng.uniform(1.0, 1.6), rng.uniform(0, np.pi)
    dy, dx = by - by[cy, cx], bx - bx[cy, cx]
    p = (dx * np.cos(turn) + dy * np.sin(turn)) / (radius * stretch)
    q = (-dx * np.sin(turn) + dy * np.cos(turn)) / radius
    level = np.sqrt(p * p + q * q)
    alpha = np.clip((1 - level) * radius + 0.5, 0, 1) * rng.uniform(0.75, 0.9)
    tone = rng.uniform(0.68, 0.78)
    colour = np.array([tone, tone * rng.uniform(0.95, 1.0), tone * rng.uniform(0.88, 0.97)], np.float32)
    rim = np.exp(-((level - 0.9) ** 2) / 0.004)  # the plug's bright, sharp edge
    shine = np.exp(-((p + 0.3 * np.sign(lit)) ** 2 + (q + 0.3) ** 2) / 0.03)  # its sheen (glare is a distractor
    # of its own: the plug stays below saturation)
    bright = np.minimum(colour[None, None, :] * (1 + 0.15 * rim + 0.2 * shine)[..., None], 0.88)
    _mix(sub, bright, alpha.astype(np.float32))


# --- distractors ------------------------------------------------------------------------------


def _draw_distractors(img: np.ndarray, rng: np.random.Generator, cervix: tuple[float, float, float, float, float],
                      side: float) -> tuple[str, ...]:
    """Draw each distractor with its rate (all decided first, so one's presence never shifts another's)."""
    present = {name: bool(u < DISTRACTOR_RATES[name]) for name, u in zip(DISTRACTORS, rng.random(len(DISTRACTORS)),
                                                                          strict=True)}
    child_seeds = rng.integers(2**31, size=len(DISTRACTORS))
    streams = {name: np.random.default_rng(int(s)) for name, s in zip(DISTRACTORS, child_seeds, strict=True)}
    if present["speculum"]:
        _speculum(img, streams["speculum"])
    if present["glove"]:
        _glove(img, streams["glove"], side)
    if present["blood"]:
        _blood(img, streams["blood"], cervix, side)
    if present["glare"]:
        _glare(img, streams["glare"], cervix, side)
    if present["black-border"]:
        _black_border(img, streams["black-border"])
    return tuple(name for name in DISTRACTORS if present[name])


def _speculum(img: np.ndarray, rng: np.random.Generator) -> None:
    """Grey metallic blades from one or two edges, with a bright highlight along their rim and a shadow beyond."""
    h, w = img.shape[:2]
    pairs = [("top", "bottom"), ("left", "right")]
    sides = list(pairs[0] if rng.random() < 0.75 else pairs[1])
    if rng.random() < 0.3:
        sides = [sides[int(rng.integers(2))]]
    for edge in sides:
        n_along, n_across = (w, h) if edge in ("top", "bottom") else (h, w)
        depth = n_across * rng.uniform(0.06, 0.2)
        bend = n_across * rng.uniform(0.0, 0.15)
        centre = n_along * rng.uniform(0.3, 0.7)
        rim = max(n_across * 0.02, 1.0)  # the rim's width, px
        reach = min(n_across, int(depth + bend / 2 + 8 * rim) + 1)  # the blade and its shadow lie within this
        across = np.arange(reach, dtype=np.float32)[:, None]
        along = np.arange(n_along, dtype=np.float32)[None, :]
        t = (across - np.float32(depth) - np.float32(bend) * ((along - np.float32(centre)) / np.float32(n_along)) ** 2)
        t /= np.float32(rim)
        grey = rng.uniform(0.45, 0.75)
        tone = np.array([grey, grey * rng.uniform(0.98, 1.03), grey * rng.uniform(1.0, 1.08)], np.float32)
        band = 0.75 + 0.2 * np.cos(t * rng.uniform(0.3, 0.8) + rng.uniform(0, 2 * np.pi))
        highlight = np.exp(-((t + rng.uniform(0.8, 1.6)) ** 2) / 0.5)
        metal = tone[None, None, :] * band[..., None] + 0.6 * highlight[..., None]
        # the strip along this edge, seen with the edge as row 0
        strip = {"top": img[:reach], "bottom": img[::-1][:reach],
                 "left": img[:, :reach].swapaxes(0, 1), "right": img[:, ::-1][:, :reach].swapaxes(0, 1)}[edge]
        strip *= (1 - 0.5 * np.exp(-np.clip(t, 0, None) / 1.5))[..., None]  # the blade's shadow on the tissue
        _mix(strip, metal, np.clip(0.5 - t, 0, 1))


def _glove(img: np.ndarray, rng: np.random.Generator, side: float) -> None:
    """A gloved fingertip or two entering from an edge: pale blue, green or white, softly shaded."""
    h, w = img.shape[:2]
    colours = {"blue": (0.62, 0.76, 0.92), "green": (0.6, 0.84, 0.72), "white": (0.92, 0.92, 0.9)}
    base = np.array(list(colours.values())[int(rng.integers(len(colours)))], np.float32)
    edge = int(rng.integers(4))
    pos = rng.uniform(0.15, 0.85)
    cy, cx = [(0.0, pos * w), (h - 1.0, pos * w), (pos * h, 0.0), (pos * h, w - 1.0)][edge]
    inward = [np.pi / 2, -np.pi / 2, 0.0, np.pi][edge] + rng.uniform(-0.5, 0.5)
    shade = 0.8 + 0.1 * _smooth_noise(rng, (h, w), (3, 4))
    for _ in range(int(rng.integers(1, 3))):
        length, width = side * rng.uniform(0.2, 0.35), side * rng.uniform(0.07, 0.11)
        spread = rng.uniform(-0.3, 0.3)
        ry = cy + np.sin(inward + spread) * length * 0.4 + rng.normal(0, width / 2)
        rx = cx + np.cos(inward + spread) * length * 0.4 + rng.normal(0, width / 2)
        rr, cc = draw.ellipse(ry, rx, length, width, shape=(h, w), rotation=-(inward + spread) + np.pi / 2)
        img[rr, cc] = base * shade[rr, cc, None]


def _blood(img: np.ndarray, rng: np.random.Generator, cervix: tuple[float, float, float, float, float],
           side: float) -> None:
    """One to three dark-red streaks running down from a point on the cervix."""
    h, w = img.shape[:2]
    cy, cx, big, small, _ = cervix
    for _ in range(int(rng.integers(1, 4))):
        y, x = cy + rng.uniform(-0.5, 0.7) * small, cx + rng.uniform(-0.6, 0.6) * big
        heading = np.pi / 2 + rng.uniform(-0.6, 0.6)  # downward, in image rows
        width = max(0.7, side * rng.uniform(0.008, 0.025))
        colour = np.array([rng.uniform(0.3, 0.45), rng.uniform(0.02, 0.05), rng.uniform(0.03, 0.06)], np.float32)
        steps = int(side * rng.uniform(0.15, 0.4) / max(width * 0.7, 0.7))
        for _ in range(steps):
            rr, cc = draw.disk((y, x), width, shape=(h, w))
            img[rr, cc] = 0.15 * img[rr, cc] + 0.85 * colour
            heading += rng.normal(0, 0.15)
            y, x = y + np.sin(heading) * width * 0.7, x + np.cos(heading) * width * 0.7
            width = max(0.6, width * rng.uniform(0.97, 1.02))


#: A glare spot's light, in units of white (over 1 / the lowest exposure gain, so the sensor saturates).
GLARE = 2.0


def _glare(img: np.ndarray, rng: np.random.Generator, cervix: tuple[float, float, float, float, float],
           side: float) -> None:
    """Two to eight small saturated white specular spots on the cervix, each with a softer halo."""
    h, w = img.shape[:2]
    cy, cx, big, small, turn = cervix
    for _ in range(int(rng.integers(2, 9))):
        radius, angle = 0.9 * np.sqrt(rng.random()), rng.uniform(0, 2 * np.pi)
        u, v = radius * np.cos(angle) * big, radius * np.sin(angle) * small
        y, x = cy + u * np.sin(turn) + v * np.cos(turn), cx + u * np.cos(turn) - v * np.sin(turn)
        ry = max(0.6, side * rng.uniform(0.004, 0.018))
        rx = ry * rng.uniform(1.0, 2.5)
        rot = rng.uniform(0, np.pi)
        rr, cc = draw.ellipse(y, x, ry * 1.6, rx * 1.6, shape=(h, w), rotation=rot)
        img[rr, cc] = 0.6 * img[rr, cc] + 0.4
        rr, cc = draw.ellipse(y, x, ry, rx, shape=(h, w), rotation=rot)
        img[rr, cc] = GLARE  # brighter than white: saturated whatever the exposure
        if 0 <= int(y) < h and 0 <= int(x) < w:
            img[int(y), int(x)] = GLARE


def _black_border(img: np.ndarray, rng: np.random.Generator) -> None:
    """The camera's black circular frame: near-black outside a circle a little smaller than the image."""
    h, w = img.shape[:2]
    yy, xx = _grid(h, w)
    cy, cx = h * (0.5 + rng.uniform(-0.05, 0.05)), w * (0.5 + rng.uniform(-0.05, 0.05))
    radius = np.hypot(h, w) / 2 * rng.uniform(0.68, 0.92)
    dist = np.sqrt((yy - np.float32(cy)) ** 2 + (xx - np.float32(cx)) ** 2)
    _mix(img, np.full(3, rng.uniform(0.0, 0.04), np.float32), np.clip((dist - np.float32(radius)) / 1.5 + 0.5, 0, 1))


# --- bad images -------------------------------------------------------------------------------


OFF_COLOURS = ("green-cast", "blue-cast", "desaturated", "over-exposed")


def _off_colour(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A colour far from any well-exposed cervix photograph: a strong green or blue cast, greys, or over-exposure."""
    how = OFF_COLOURS[int(rng.integers(len(OFF_COLOURS)))]
    if how == "green-cast":
        return img * np.array([rng.uniform(0.5, 0.7), rng.uniform(1.05, 1.25), rng.uniform(0.65, 0.9)], np.float32)
    if how == "blue-cast":
        return img * np.array([rng.uniform(0.45, 0.65), rng.uniform(0.75, 0.95), rng.uniform(1.15, 1.4)], np.float32)
    if how == "desaturated":
        grey = img @ np.array([0.299, 0.587, 0.114], np.float32)
        return img + rng.uniform(0.85, 1.0) * (grey[..., None] - img)
    return img * np.float32(rng.uniform(1.8, 2.6))


def _not_cervix(size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """An image of something else: a blotchy texture of random colours, or a scene of random shapes on a gradient."""
    h, w = size
    palette = rng.uniform(0, 1, (3, 3)).astype(np.float32)
    if rng.random() < 0.5:
        t1 = np.tanh(_smooth_noise(rng, size, (3, 4)))[..., None]
        t2 = np.tanh(_smooth_noise(rng, size, (12, 16)))[..., None]
        img = palette[0] + 0.5 * (palette[1] - palette[0]) * (1 + t1) * 0.8 + 0.25 * (palette[2] - 0.5) * t2
        return np.clip(img, 0, 1).astype(np.float32)
    yy, xx = _grid(h, w)
    ramp = (yy / np.float32(h))[..., None]
    img = palette[0] * (1 - ramp) + palette[1] * ramp
    for _ in range(int(rng.integers(3, 9))):
        colour = rng.uniform(0, 1, 3).astype(np.float32)
        if rng.random() < 0.5:
            ys, xs = sorted(rng.uniform(0, h, 2)), sorted(rng.uniform(0, w, 2))
            img[int(ys[0]):int(ys[1]) + 1, int(xs[0]):int(xs[1]) + 1] = colour
        else:
            rr, cc = draw.ellipse(rng.uniform(0, h), rng.uniform(0, w), rng.uniform(0.05, 0.3) * h,
                                  rng.uniform(0.05, 0.3) * w, shape=(h, w), rotation=rng.uniform(0, np.pi))
            img[rr, cc] = colour
    return img.astype(np.float32)


def _shift_zoom(arr: np.ndarray, zoom: float, dy: float, dx: float, order: int) -> np.ndarray:
    """``arr`` (H×W or H×W×C) zoomed in by ``zoom`` about its centre and shifted by (dy, dx) px, edges repeated."""
    h, w = arr.shape[:2]
    matrix = np.diag([1 / zoom, 1 / zoom])
    centre = np.array([(h - 1) / 2, (w - 1) / 2])
    offset = centre - matrix @ centre - np.array([dy, dx]) / zoom
    if arr.ndim == 2:
        return ndimage.affine_transform(arr, matrix, offset, order=order, mode="nearest")
    return np.stack([ndimage.affine_transform(arr[..., c], matrix, offset, order=order, mode="nearest")
                     for c in range(arr.shape[2])], axis=-1)


# --- public entry points ----------------------------------------------------------------------


#: Sensor noise (standard deviation of a uniform noise), in 0-1 units: about 3 grey levels.
NOISE = 0.012


def _finish(img: np.ndarray, rng: np.random.Generator, gain: float, cast: np.ndarray) -> np.ndarray:
    out = img * (np.float32(gain) * cast)
    out += (rng.random(out.shape, dtype=np.float32) - np.float32(0.5)) * np.float32(NOISE * 12**0.5)  # uniform
    return np.round(np.clip(out, 0, 1) * 255).astype(np.uint8)


def make_image(kind: str, index: int, seed: int, size: tuple[int, int] = DEFAULT_SIZE, *,
               difficulty: float = DIFFICULTY, zone_reach: float = ZONE_REACH, os_mucus: float = OS_MUCUS,
               clean: bool = False, label: int | None = None) -> CervixImage:
    """Image ``index`` of set ``kind`` for ``seed``, ``size`` = (height, width) px, with its truth.

    ``clean``: for a bad additional image, the good image it would have been (``bad`` None); the same image
    otherwise. ``label``: the same scene drawn as another type (0-2; drawn clean): everything but the TZ and the
    os's lumen stays. ``zone_reach`` (:data:`ZONE_REACH`) and ``os_mucus`` (:data:`OS_MUCUS`): the world's knobs.
    """
    _check_kind(kind)
    index, seed, size = _check_index(index), _check_seed(seed), _check_size(size)
    _check_difficulty(difficulty)
    _check_share("zone_reach", zone_reach)
    _check_share("os_mucus", os_mucus)
    if label is not None and label not in (0, 1, 2):
        raise ParameterError(f"label must be 0, 1 or 2 (Type_1..3) or None for the set's own, got {label!r}.")
    own = label_of(kind, index)
    reason = None if clean or label is not None or kind != "additional" else bad_reason(index, seed)
    if reason == "near-duplicate":
        source = duplicate_source(index, seed)
        assert source is not None
        original = make_image(kind, source, seed, size, difficulty=difficulty, zone_reach=zone_reach,
                              os_mucus=os_mucus)
        rng = _rng(kind, seed, index, _CORRUPT)
        h, w = size
        zoom = rng.uniform(1.0, 1.04)
        dy, dx = (rng.uniform(0.005, 0.025) * n * rng.choice([-1, 1]) for n in (h, w))
        image = _shift_zoom(original.image.astype(np.float32) / 255, zoom, dy, dx, 1)
        image = image * np.float32(rng.uniform(0.95, 1.05)) + rng.normal(0, NOISE, image.shape).astype(np.float32)
        tz, cervix, os_mask = (_shift_zoom(m.astype(np.uint8), zoom, dy, dx, 0).astype(bool)
                               for m in (original.tz_mask, original.cervix_mask, original.os_mask))
        return CervixImage(np.round(np.clip(image, 0, 1) * 255).astype(np.uint8), own, tz, cervix, os_mask, kind,
                           index, reason, source, original.distractors)

    scene = _draw_scene(kind, index, seed, size, own if label is None else int(label), difficulty, zone_reach,
                        os_mucus)
    look = _rng(kind, seed, index, _NOISE)
    gain, cast = look.uniform(0.8, 1.1), look.uniform(0.93, 1.07, 3).astype(np.float32)
    img, tz, cervix, os_mask, drawn = scene.img, scene.tz, scene.cervix, scene.os, scene.distractors
    if reason is not None:
        rng = _rng(kind, seed, index, _CORRUPT)
        if reason == "blurred":
            sigma = size[0] * rng.uniform(0.015, 0.04)
            img = ndimage.gaussian_filter(img, (sigma, sigma, 0))
        elif reason == "off-colour":
            img = _off_colour(img, rng)
        elif reason == "not-cervix":
            img = _not_cervix(size, rng)
            tz, cervix, os_mask, drawn = np.zeros(size, bool), np.zeros(size, bool), np.zeros(size, bool), ()
    return CervixImage(_finish(img, look, gain, cast), own if label is None else int(label), tz, cervix, os_mask,
                       kind, index, reason, None, drawn)


class CervixSet(Sequence[CervixImage]):
    """The first ``n_total`` images of ``kind`` for ``seed``, made when read; types and bad reasons known ahead."""

    def __init__(self, kind: str, n_total: int, seed: int, size: tuple[int, int] = DEFAULT_SIZE, *,
                 difficulty: float = DIFFICULTY, zone_reach: float = ZONE_REACH, os_mucus: float = OS_MUCUS) -> None:
        _check_kind(kind)
        _check_share("zone_reach", zone_reach)
        _check_share("os_mucus", os_mucus)
        self.zone_reach, self.os_mucus = zone_reach, os_mucus
        self.kind, self.n_total, self.seed = kind, _check_total(n_total), _check_seed(seed)
        self.size, self.difficulty = _check_size(size), difficulty
        _check_difficulty(difficulty)
        self.labels = labels(kind, self.n_total)
        self.bad: list[str | None] = bad_reasons(self.n_total, self.seed) if kind == "additional" \
            else [None] * self.n_total

    def __len__(self) -> int:
        return self.n_total

    @overload
    def __getitem__(self, i: int) -> CervixImage: ...

    @overload
    def __getitem__(self, i: slice) -> list[CervixImage]: ...

    def __getitem__(self, i: int | slice) -> CervixImage | list[CervixImage]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(self.n_total))]
        j = int(i) + self.n_total if i < 0 else int(i)
        if not 0 <= j < self.n_total:
            raise IndexError(f"image {i} of a set of {self.n_total}")
        return make_image(self.kind, j, self.seed, self.size, difficulty=self.difficulty, zone_reach=self.zone_reach,
                          os_mucus=self.os_mucus)

    def __iter__(self) -> Iterator[CervixImage]:
        return (self[j] for j in range(self.n_total))


def make_set(kind: str, n_total: int, seed: int, size: tuple[int, int] = DEFAULT_SIZE, *,
             difficulty: float = DIFFICULTY, zone_reach: float = ZONE_REACH, os_mucus: float = OS_MUCUS) -> CervixSet:
    """A lazy :class:`CervixSet` of the first ``n_total`` images of ``kind``: index it, iterate it, or read its
    ``labels`` and ``bad`` reasons without making pixels."""
    return CervixSet(kind, n_total, seed, size, difficulty=difficulty, zone_reach=zone_reach, os_mucus=os_mucus)
