"""Concentration fields: where each tissue compartment is, before any stain is applied.

One field can be stained with any assay (a stain binds to a compartment), so the nine
assays of paper A can be compared on identical tissue. Concentrations are in OD units.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from skimage import draw, filters

from cpath_repro.synth.stains import Assay

COMPARTMENTS = ("nuclei", "stroma", "membrane", "marked_nuclei")


@dataclass(frozen=True)
class Field:
    """Per-compartment concentration maps (each ``(H, W)``, OD units)."""

    maps: dict[str, np.ndarray]

    def for_assay(self, assay: Assay) -> np.ndarray:
        """Stack the maps an assay's stains bind to, as ``(H, W, k)`` in the assay's stain order."""
        return np.stack([self.maps[assay.binds[s]] for s in assay.stains], axis=-1)


def cell_field(size: int, seed: int, density: float = 0.006, marked_fraction: float = 0.3) -> Field:
    """Cells (elliptical nuclei with a membrane ring) scattered in textured stroma.

    ``density`` is nuclei per pixel; ``marked_fraction`` of the cells carry the IHC marker
    (membrane ring and marked nucleus). Deterministic for a given ``(size, seed)``.
    """
    rng = np.random.default_rng(seed)
    shape = (size, size)
    nuclei = np.zeros(shape)
    membrane = np.zeros(shape)
    marked = np.zeros(shape)
    n_cells = max(1, int(rng.poisson(density * size * size)))
    for _ in range(n_cells):
        r, c = rng.uniform(0, size, 2)
        ra, rb = rng.uniform(2.5, 5.0), rng.uniform(2.0, 4.0)
        angle = rng.uniform(0, np.pi)
        od = rng.uniform(0.7, 1.2)
        rr, cc = draw.ellipse(r, c, ra, rb, shape=shape, rotation=angle)
        nuclei[rr, cc] = np.maximum(nuclei[rr, cc], od)
        if rng.random() < marked_fraction:
            outer_r, outer_c = draw.ellipse(r, c, ra * 1.9, rb * 1.9, shape=shape, rotation=angle)
            ring = np.zeros(shape, dtype=bool)
            ring[outer_r, outer_c] = True
            ring[rr, cc] = False
            membrane[ring] = np.maximum(membrane[ring], rng.uniform(0.5, 0.9))
            marked[rr, cc] = np.maximum(marked[rr, cc], od * 0.8)
    texture = filters.gaussian(rng.normal(size=shape), sigma=3.0)
    texture = (texture - texture.min()) / (np.ptp(texture) + 1e-12)
    stroma = 0.08 + 0.22 * texture  # eosin OD of stroma: pale pink to pink
    smooth = {k: filters.gaussian(v, sigma=0.8) for k, v in {"nuclei": nuclei, "membrane": membrane,
                                                             "marked_nuclei": marked}.items()}
    return Field({**smooth, "stroma": stroma})
