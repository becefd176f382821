"""Stains by Beer-Lambert, with real optical-density vectors.

A pixel's optical density is the sum of each stain's concentration times its OD vector,
``OD = C . M``, and the transmitted light is ``I = I0 . 10^(-OD)`` (Ruifrok & Johnston
2001; paper A section 3.2 uses the same law). The OD vectors are scikit-image's
Ruifrok-Johnston matrices (``skimage.color.rgb_from_*``). Concentrations are in OD units
(1.0 = one decade of attenuation along the stain's vector).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from skimage import color

#: OD vectors of the chromogens, each from a Ruifrok-Johnston matrix of scikit-image
#: (matrix, row). The six colours match paper A's "pink, blue, purple, brown, yellow and red".
STAIN_SOURCES: dict[str, tuple[str, int, str]] = {
    "hematoxylin": ("rgb_from_hed", 0, "blue"),
    "eosin": ("rgb_from_hed", 1, "pink"),
    "dab": ("rgb_from_hed", 2, "brown"),
    "fast_red": ("rgb_from_rbd", 0, "red"),
    "pas": ("rgb_from_hpx", 1, "purple"),
    "orange_g": ("rgb_from_bro", 2, "yellow"),
}


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


STAINS: dict[str, np.ndarray] = {
    name: _unit(np.asarray(getattr(color, matrix)[row], dtype=np.float64))
    for name, (matrix, row, _) in STAIN_SOURCES.items()
}


@dataclass(frozen=True)
class Assay:
    """A staining protocol: chromogens (counterstain first), each bound to a tissue compartment."""

    name: str
    binds: Mapping[str, str]  # stain -> compartment of the concentration field

    @property
    def stains(self) -> tuple[str, ...]:
        return tuple(self.binds)

    @property
    def vectors(self) -> np.ndarray:
        return np.stack([STAINS[s] for s in self.stains])


def _ihc(name: str, *chromogens: tuple[str, str]) -> Assay:
    # Every IHC assay of paper A has a haematoxylin counterstain on the nuclei (section 2).
    return Assay(name, {"hematoxylin": "nuclei", **dict(chromogens)})


#: The nine assays of paper A (section 2): H&E plus eight IHC assays, with their colours.
ASSAYS: dict[str, Assay] = {
    a.name: a
    for a in (
        Assay("H&E", {"hematoxylin": "nuclei", "eosin": "stroma"}),
        _ihc("CEA", ("dab", "membrane")),
        _ihc("CD163/CD68", ("dab", "membrane"), ("fast_red", "marked_nuclei")),
        _ihc("CD8/CD3", ("dab", "membrane"), ("fast_red", "marked_nuclei")),
        _ihc("FoxP3", ("dab", "marked_nuclei")),
        _ihc("Ki67/CD3", ("dab", "marked_nuclei"), ("fast_red", "membrane")),
        _ihc("Ki67/CD8", ("pas", "marked_nuclei"), ("orange_g", "membrane")),
        _ihc("PRF/CD3", ("dab", "membrane"), ("fast_red", "marked_nuclei")),
        _ihc("PD1", ("dab", "membrane")),
    )
}


def stain_matrix(vectors: np.ndarray) -> np.ndarray:
    """A 3x3 OD matrix from 2 or 3 stain vectors (rows); a third "residual" row completes two.

    The residual is the unit vector orthogonal to the two stains, as in Ruifrok & Johnston,
    so that deconvolution is a plain matrix inverse (its components may be negative: it is
    a mathematical completion, not a stain).
    """
    vectors = _unit(np.asarray(vectors, dtype=np.float64))
    if vectors.shape == (3, 3):
        return vectors
    if vectors.shape != (2, 3):
        raise ValueError(f"Expected 2 or 3 stain vectors of length 3, got shape {vectors.shape}.")
    residual = np.cross(vectors[0], vectors[1])
    return np.vstack([vectors, _unit(residual)])


def render(concentrations: np.ndarray, vectors: np.ndarray, i0: float = 1.0) -> np.ndarray:
    """Beer-Lambert: ``(H, W, k)`` concentrations and ``(k, 3)`` OD vectors -> RGB floats in [0, 1]."""
    od = np.tensordot(np.asarray(concentrations, dtype=np.float64), np.asarray(vectors, dtype=np.float64), axes=1)
    return np.clip(i0 * np.power(10.0, -od), 0.0, 1.0)


def to_uint8(rgb: np.ndarray) -> np.ndarray:
    return np.round(np.clip(rgb, 0, 1) * 255).astype(np.uint8)


#: ``skimage.color.separate_stains`` returns ``-log(I) / -log(1e-6)``, i.e. OD / 6.
_SKIMAGE_OD_SCALE = -np.log(1e-6) / np.log(10.0)


def unmix(rgb: np.ndarray, vectors: np.ndarray, i0: float = 1.0) -> np.ndarray:
    """Colour deconvolution with :func:`skimage.color.separate_stains`, in OD units.

    Returns ``(H, W, k)`` concentrations for the ``k`` given stains (the residual channel of
    a two-stain matrix is dropped). ``rgb`` may be uint8 or floats in [0, 1].
    """
    vectors = np.asarray(vectors, dtype=np.float64)
    image = rgb.astype(np.float64) / 255.0 if rgb.dtype == np.uint8 else np.asarray(rgb, dtype=np.float64)
    image = np.clip(image / i0, 0.0, 1.0)
    conv = np.linalg.inv(stain_matrix(vectors))
    return color.separate_stains(image, conv)[..., : len(vectors)] * _SKIMAGE_OD_SCALE


@dataclass(frozen=True)
class SlideStain:
    """One slide's staining: jittered vectors, per-stain intensity scale and illumination."""

    vectors: np.ndarray  # (k, 3) unit OD vectors
    scales: np.ndarray  # (k,) concentration multipliers
    i0: float  # incident light, 0-1

    def render(self, concentrations: np.ndarray) -> np.ndarray:
        return render(concentrations * self.scales, self.vectors, self.i0)


def angle_deg(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Angle between OD vectors (last axis), in degrees."""
    cos = np.sum(_unit(a) * _unit(b), axis=-1)
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def jitter_slide(
    assay: Assay,
    rng: np.random.Generator,
    max_angle_deg: float = 4.0,
    scale_range: tuple[float, float] = (0.85, 1.15),
    i0_range: tuple[float, float] = (0.92, 1.0),
) -> SlideStain:
    """Per-slide variation of a lab and scanner: each stain vector turned by at most
    ``max_angle_deg`` in a random direction, concentrations scaled, illumination dimmed.
    """
    nominal = assay.vectors
    turned = []
    for v in nominal:
        direction = rng.normal(size=3)
        direction -= direction.dot(v) * v  # perpendicular to v
        direction /= np.linalg.norm(direction)
        theta = np.radians(rng.uniform(0.0, max_angle_deg))
        w = np.abs(np.cos(theta) * v + np.sin(theta) * direction)  # OD is never negative
        turned.append(_unit(w))
    vectors = np.stack(turned)
    # |.| can only bring a vector back toward the positive octant where v lies, so the angle stays bounded;
    # guard it anyway so the documented bound is a guarantee.
    if np.any(angle_deg(vectors, nominal) > max_angle_deg + 1e-9):
        vectors = nominal.copy()
    scales = rng.uniform(*scale_range, size=len(nominal))
    return SlideStain(vectors, scales, float(rng.uniform(*i0_range)))
