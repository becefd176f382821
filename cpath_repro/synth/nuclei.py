"""Synthetic fluorescence nuclei: images with instance masks, single-cell crops, time-lapse sequences.

Nuclei are ellipses of random size and brightness, blurred by a Gaussian point-spread
function, on a dim uneven background, with Poisson (shot) and Gaussian (read) noise — the
structure of a DAPI/Hoechst image. Ground truth (instance masks, classes, counts) is kept.
Deterministic for a given seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from skimage import draw, filters

#: Crop classes for the classification demos: what a cytometry assay might score.
CROP_CLASSES = ("round", "elongated", "fragmented")


@dataclass(frozen=True)
class NucleiImage:
    image: np.ndarray  # (H, W) float32 in [0, 1]
    labels: np.ndarray  # (H, W) int32 instance mask, 0 = background
    clean: np.ndarray  # (H, W) float32: the expected intensity before shot and read noise (denoising ground truth)

    @property
    def count(self) -> int:
        return int(self.labels.max())


def _noisy(clean: np.ndarray, rng: np.random.Generator, photons: float, read_noise: float) -> np.ndarray:
    shot = rng.poisson(np.clip(clean, 0, None) * photons) / photons
    return np.clip(shot + rng.normal(0, read_noise, clean.shape), 0, 1).astype(np.float32)


def add_noise(clean: np.ndarray, seed: int, photons: float, read_noise: float = 0.02) -> np.ndarray:
    """A camera's noise on an expected intensity in [0, 1]: Poisson shot noise with ``photons`` photons at
    intensity 1, plus Gaussian read noise; fewer photons, noisier image."""
    return _noisy(clean, np.random.default_rng(seed), photons, read_noise)


def nuclei_image(size: int, seed: int, n: int | None = None, radius: tuple[float, float] = (5.0, 9.0),
                 photons: float = 200.0, read_noise: float = 0.02) -> NucleiImage:
    """A field of non-overlapping nuclei; ``n`` defaults to a density like the DSB 2018 images."""
    rng = np.random.default_rng(seed)
    n = n if n is not None else int(size * size / 1400)
    labels = np.zeros((size, size), np.int32)
    clean = np.zeros((size, size))
    placed = 0
    for _ in range(n * 20):
        if placed == n:
            break
        r, c = rng.uniform(radius[1], size - radius[1], 2)
        a, b = rng.uniform(*radius), rng.uniform(*radius)
        rr, cc = draw.ellipse(r, c, a, b, shape=labels.shape, rotation=rng.uniform(0, np.pi))
        if labels[rr, cc].any():
            continue
        placed += 1
        labels[rr, cc] = placed
        texture = 1 + 0.15 * rng.normal(size=len(rr))
        clean[rr, cc] = rng.uniform(0.4, 0.9) * texture
    background = 0.05 + 0.04 * filters.gaussian(rng.normal(size=(size, size)), sigma=size / 8) * 5
    clean = filters.gaussian(clean, sigma=1.0) + background
    return NucleiImage(_noisy(clean, rng, photons, read_noise), labels, np.clip(clean, 0, 1).astype(np.float32))


def nucleus_crops(n: int, seed: int, size: int = 32, weights: tuple[float, ...] = (1 / 3, 1 / 3, 1 / 3),
                  difficulty: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """``n`` single-nucleus crops ``(n, size, size)`` and their classes (see :data:`CROP_CLASSES`).

    round: near-circular; elongated: axis ratio 1.8-3; fragmented: 3-6 small blobs (apoptotic
    bodies). ``difficulty`` shrinks the differences (0 = obvious, 1 = hard)."""
    crops, classes, _ = nucleus_crops_with_masks(n, seed, size, weights, difficulty)
    return crops, classes


def nucleus_crops_with_masks(n: int, seed: int, size: int = 32, weights: tuple[float, ...] = (1 / 3, 1 / 3, 1 / 3),
                             difficulty: float = 0.5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`nucleus_crops` plus each crop's true object mask (the drawn nucleus or fragments, before blur)."""
    rng = np.random.default_rng(seed)
    classes = rng.choice(len(CROP_CLASSES), size=n, p=np.asarray(weights) / np.sum(weights))
    crops = np.zeros((n, size, size), np.float32)
    masks = np.zeros((n, size, size), bool)
    centre = size / 2
    for i, cls in enumerate(classes):
        clean = np.zeros((size, size))
        if cls == 2:
            for _ in range(rng.integers(3, 7)):
                spread = (1 - 0.6 * difficulty) * size * 0.22
                r, c = centre + rng.normal(0, spread, 2)
                rr, cc = draw.disk((r, c), rng.uniform(1.5, 3.0) + difficulty * 1.5, shape=clean.shape)
                clean[rr, cc] = rng.uniform(0.5, 0.9)
        else:
            base = rng.uniform(5, 8)
            elongated = rng.uniform(1.8, 3.0) * (1 - 0.5 * difficulty) + 0.5 * difficulty
            ratio = 1.0 + rng.uniform(0, 0.3) if cls == 0 else elongated
            rr, cc = draw.ellipse(centre + rng.normal(0, 1), centre + rng.normal(0, 1), base * np.sqrt(ratio),
                                  base / np.sqrt(ratio), shape=clean.shape, rotation=rng.uniform(0, np.pi))
            clean[rr, cc] = rng.uniform(0.4, 0.9) * (1 + 0.15 * rng.normal(size=len(rr)))
        masks[i] = clean > 0
        clean = filters.gaussian(clean, sigma=1.0) + 0.05
        crops[i] = _noisy(clean, rng, 150.0, 0.03)
    return crops, classes.astype(np.int64), masks


def count_crops(n: int, seed: int, size: int = 32, max_count: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """``n`` crops holding 1 to ``max_count`` small nuclei, labelled ``count - 1``: a second task on the same
    kind of images (E-K1's transfer-learning demo)."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(1, max_count + 1, size=n)
    crops = np.zeros((n, size, size), np.float32)
    for i, k in enumerate(counts):
        while True:  # nuclei_image places by rejection; redraw the rare crop where not all k fit
            field = nuclei_image(size, int(rng.integers(2**31)), n=int(k), radius=(3.0, 5.0), photons=150.0,
                                 read_noise=0.03)
            if field.count == k:
                break
        crops[i] = field.image
    return crops, (counts - 1).astype(np.int64)


@dataclass(frozen=True)
class TimeLapse:
    frames: np.ndarray  # (n, T, H, W) float32 in [0, 1]
    positions: np.ndarray  # (n, T, 2) float32, the nucleus centre (row, col) in pixels


def time_lapse(n: int, frames: int, seed: int, size: int = 24, photons: float = 3.0, step: float = 1.0,
               radius: float = 2.5) -> TimeLapse:
    """``n`` sequences of one nucleus drifting by a random walk (``step`` px per frame, reflected at the
    border) at low light: each frame alone is noisy, so following the nucleus pays for memory (E-K2's RNN)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    low, high = radius + 1, size - radius - 2
    positions = np.zeros((n, frames, 2), np.float32)
    movies = np.zeros((n, frames, size, size), np.float32)
    for i in range(n):
        p = rng.uniform(low, high, 2)
        for t in range(frames):
            if t:
                p = p + rng.normal(0, step, 2)
                p = np.where(p < low, 2 * low - p, np.where(p > high, 2 * high - p, p))
            positions[i, t] = p
            blob = np.exp(-((yy - p[0]) ** 2 + (xx - p[1]) ** 2) / (2 * radius**2))
            movies[i, t] = _noisy(0.05 + 0.6 * blob, rng, photons, 0.02)
    return TimeLapse(movies, positions)
