"""Formula-driven pretraining images, FractalDB-style (Kataoka et al., ACCV 2020, "Pre-training without Natural Images").

A class is a random iterated function system (IFS): 2-4 affine maps (FractalDB: 2-7)
``(x, y) -> (a x + b y + e, c x + d y + f)`` with ``a ... f ~ U(-1, 1)``, each drawn with a
probability proportional to ``|det| = |a d - b c|``. A drawn IFS becomes a class only if its
point cloud, rendered FractalDB's way (100,000 points min-max scaled into a 512 px image with
6 px padding), covers at least 20 % of the pixels (the *filling rate*): degenerate systems
(diverging, collapsing to a line or a point) are rejected. An image of a class is a rendering
of its IFS with FractalDB's intra-class variation: one parameter of one map scaled by a weight
in 0.8-1.2, a random flip, a random 3x3 "patch" stamped at every point, and colour (each map's
points get their own random colour, so the colour differs from image to image and only the
shape identifies the class).

Points come from the chaos game, run as many independent chains at once (vectorized), and are
binned at twice the output size then averaged down (anti-aliasing). Everything is drawn from
``numpy.random.default_rng`` seeded by ``(seed, class, instance)``: the same seed gives the same
bytes. Measured on the 2-core CPU of this project (``python -m benchmarks.backbone_throughput``):
1.6 ms per 32 px image, 4.7 ms at 64 px, 6.2 ms at 75 px, ~70 ms at 224 px; 4-6 ms per tested class
candidate, of which about 3 % pass the filling-rate rule (~0.15 s per class found).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from cpath_repro import seeds

#: FractalDB's category search: filling rate = nonzero pixels / all pixels of the rendered IFS ...
FILL_THRESHOLD = 0.2
#: ... rendered with this many points into a square image of this side and padding (pixels).
FILL_POINTS = 100_000
FILL_SIZE = 512
FILL_PAD = 6
#: Maps per IFS, inclusive. FractalDB's search draws 2-7 (``randint(2, 8)``); we keep 2-4, simpler shapes that
#: survive rendering at 32-75 px.
MAPS = (2, 4)
#: FractalDB's intra-class variation: one parameter of one map is multiplied by one of these weights.
WEIGHTS = (0.8, 0.9, 1.0, 1.1, 1.2)
#: Chaos-game steps discarded per chain before its points are kept (an IFS that contracts on average has its
#: chain on the attractor to well under a pixel by then; one that does not fails the filling rate anyway).
BURN_IN = 20
#: Points per output pixel, binned at RENDER_SCALE times the output side.
POINTS_PER_PIXEL = 8
RENDER_SCALE = 2
#: The chaos game runs up to MAX_CHAINS chains side by side, each keeping at least STEPS_PER_CHAIN points.
MAX_CHAINS = 2048
STEPS_PER_CHAIN = 32
#: Points beyond this coordinate are a diverging chain (FractalDB drops them the same way).
MAX_COORDINATE = 1e10


@dataclass(frozen=True)
class IFS:
    """An iterated function system: ``maps[i] = (a, b, c, d, e, f)``."""

    maps: np.ndarray  # (k, 6) float64

    @cached_property
    def probabilities(self) -> np.ndarray:
        """FractalDB's map probabilities, proportional to ``|a d - b c|`` (uniform if all maps are singular)."""
        a, b, c, d = self.maps[:, 0], self.maps[:, 1], self.maps[:, 2], self.maps[:, 3]
        det = np.abs(a * d - b * c)
        return det / det.sum() if det.sum() > 0 else np.full(len(det), 1 / len(det))

    def perturbed(self, index: int, parameter: int, weight: float) -> IFS:
        maps = self.maps.copy()
        maps[index, parameter] *= weight
        return IFS(maps)


def random_ifs(rng: np.random.Generator) -> IFS:
    """A candidate class: ``MAPS`` affine maps with parameters uniform in [-1, 1]."""
    k = int(rng.integers(MAPS[0], MAPS[1] + 1))
    return IFS(rng.uniform(-1.0, 1.0, (k, 6)))


def chaos_game(ifs: IFS, n_points: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """About ``n_points`` points of the attractor, ``(2, n)`` (x and y), and the map that produced each, ``(n,)``.

    Independent chains run side by side (vectorized), each from the origin with ``BURN_IN`` steps discarded;
    maps are drawn through a table of ``2**16`` entries (probabilities exact to 1/65,536). Points of
    diverging chains are dropped, so fewer (or none) come back for a degenerate IFS.
    """
    chains = max(1, min(MAX_CHAINS, n_points // STEPS_PER_CHAIN))
    steps = BURN_IN + -(-n_points // chains)
    counts = np.floor(ifs.probabilities * 2**16).astype(np.int64)
    counts[np.argmax(counts)] += 2**16 - counts.sum()
    table = np.repeat(np.arange(len(counts)), counts)
    choice = table[rng.integers(0, 2**16, (steps, chains), dtype=np.uint16)]
    coefficients = ifs.maps.T.copy()  # (6, k)
    xs, ys = np.empty((steps - BURN_IN, chains)), np.empty((steps - BURN_IN, chains))
    x, y = np.zeros(chains), np.zeros(chains)
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(steps):
            a, b, c, d, e, f = coefficients[:, choice[t]]
            x, y = a * x + b * y + e, c * x + d * y + f
            if t >= BURN_IN:
                xs[t - BURN_IN], ys[t - BURN_IN] = x, y
        x, y = xs.reshape(-1)[:n_points], ys.reshape(-1)[:n_points]
        ok = (np.abs(x) < MAX_COORDINATE) & (np.abs(y) < MAX_COORDINATE)  # False for inf and nan too
    return np.stack([x[ok], y[ok]]), choice[BURN_IN:].reshape(-1)[:n_points][ok]


def _pixels(points: np.ndarray, size: int, pad: int) -> np.ndarray | None:
    """Min-max scale points into ``[pad, size - pad)`` (FractalDB's rescale); flat pixel index per point."""
    if points.shape[1] == 0:
        return None
    x, y = points
    index = np.zeros(len(x), np.int64)
    for value, stride in ((x, 1), (y, size)):
        low, high = value.min(), value.max()
        if not high > low:
            return None
        index += ((value - low) * ((size - 1 - 2 * pad) / (high - low)) + pad).astype(np.int64) * stride
    return index


def filling_rate(ifs: IFS, seed: int = 0, n_points: int = FILL_POINTS) -> float:
    """Fraction of the pixels a FractalDB rendering of ``ifs`` covers (0 for a diverging or flat IFS)."""
    points, _ = chaos_game(ifs, n_points, np.random.default_rng(seed))
    if points.shape[1] < n_points // 2:
        return 0.0
    index = _pixels(points, FILL_SIZE, FILL_PAD)
    if index is None:
        return 0.0
    return float(np.count_nonzero(np.bincount(index, minlength=FILL_SIZE**2))) / FILL_SIZE**2


#: The search first renders this fraction of the points: the expected covered area is concave in the number of
#: points, so a class covering less than PRECHECK * FILL_THRESHOLD with PRECHECK of the points (almost surely)
#: cannot reach FILL_THRESHOLD with all of them, and is rejected at a fifth of the cost.
PRECHECK = 0.2


def accepted(ifs: IFS, seed: int = 0) -> bool:
    """FractalDB's rule: a class must fill at least ``FILL_THRESHOLD`` of its 512 px image with 100,000 points."""
    if filling_rate(ifs, seed, int(FILL_POINTS * PRECHECK)) < FILL_THRESHOLD * PRECHECK:
        return False
    return filling_rate(ifs, seed) >= FILL_THRESHOLD


def search_classes(n_classes: int, seed: int, max_tries: int = 1000) -> list[IFS]:
    """``n_classes`` accepted IFS, drawn in order from one seeded stream (FractalDB's random search)."""
    rng = seeds.rng(seed, "class search")
    found: list[IFS] = []
    tries = 0
    while len(found) < n_classes:
        tries += 1
        if tries > max_tries * n_classes:
            msg = f"The fractal class search found {len(found)} of {n_classes} classes in {tries - 1} tries (seed {seed})."
            raise RuntimeError(msg)
        candidate = random_ifs(rng)
        if accepted(candidate, seed=tries):
            found.append(candidate)
    return found


def _colours(rng: np.random.Generator, k: int) -> np.ndarray:
    """``k`` saturated random colours (HSV with random hue), ``(k, 3)`` in [0, 1]."""
    hue = rng.uniform(0, 1, k)
    sector = np.floor(hue * 6).astype(int) % 6
    f = hue * 6 - np.floor(hue * 6)
    v, s = rng.uniform(0.7, 1.0, k), rng.uniform(0.6, 1.0, k)
    p, q, t = v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f))
    table = np.stack([np.stack(c, -1) for c in ((v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q))])
    return table[sector, np.arange(k)]


def render(ifs: IFS, size: int, seed: int | tuple[int, ...] | list[int]) -> np.ndarray:
    """One instance of the class ``ifs``: ``(size, size, 3)`` uint8 on black, with FractalDB's variation."""
    rng = np.random.default_rng(seed)
    k = len(ifs.maps)
    variant = ifs.perturbed(int(rng.integers(k)), int(rng.integers(6)), float(rng.choice(WEIGHTS)))
    flip = int(rng.integers(4))
    patch = rng.random((3, 3)) < 0.5
    patch[1, 1] = True
    colours = _colours(rng, k)
    fine = size * RENDER_SCALE
    n_points = POINTS_PER_PIXEL * size * size
    points, maps = chaos_game(variant, n_points, rng)
    index = _pixels(points, fine, 1) if points.shape[1] >= n_points // 2 else None
    if index is None:  # the perturbation made the IFS diverge: render the class's own IFS instead
        points, maps = chaos_game(ifs, n_points, rng)
        index = _pixels(points, fine, 1)
    image = np.zeros((fine, fine, 3))
    if index is not None:
        for c in range(3):
            image[..., c] = np.bincount(index, weights=colours[maps, c], minlength=fine * fine).reshape(fine, fine)
        counts = np.bincount(index, minlength=fine * fine).reshape(fine, fine)
        image /= np.maximum(counts, 1)[..., None]  # mean colour of the points in a pixel
        image *= (counts > 0)[..., None]
        stamped = np.zeros_like(image)
        for dy, dx in zip(*np.nonzero(patch), strict=True):  # the 3x3 patch stamped at every point
            stamped = np.maximum(stamped, np.roll(image, (int(dy) - 1, int(dx) - 1), axis=(0, 1)))
        image = stamped
    if flip & 1:
        image = image[:, ::-1]
    if flip & 2:
        image = image[::-1]
    image = image.reshape(size, RENDER_SCALE, size, RENDER_SCALE, 3).sum(axis=3).sum(axis=1) / RENDER_SCALE**2
    return np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)


@dataclass(frozen=True)
class FractalImages:
    """A formula-driven classification set: ``images`` (N, S, S, 3) uint8 and ``labels`` (N,) int64."""

    images: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)


def instance(classes: list[IFS], label: int, index: int, size: int, seed: int) -> np.ndarray:
    """Image ``index`` of class ``label``; its bytes depend only on (seed, label, index, size)."""
    return render(classes[label], size, [seed, 1, label, index])


def dataset(n_classes: int, per_class: int, size: int, seed: int, first: int = 0,
            classes: list[IFS] | None = None) -> FractalImages:
    """Images ``first ... first + per_class - 1`` of each of ``n_classes`` classes (class-major order)."""
    systems = classes if classes is not None else search_classes(n_classes, seed)
    images = np.stack([instance(systems, c, first + i, size, seed) for c in range(n_classes) for i in range(per_class)])
    labels = np.repeat(np.arange(n_classes, dtype=np.int64), per_class)
    return FractalImages(images, labels)
