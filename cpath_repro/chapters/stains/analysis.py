"""What the ``stains`` page measures and shows: the assay library rendered, deconvolved, jittered, and applied
to real IHC (scikit-image's sample, and the reader's own tiles)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
from skimage import color, data, filters

from cpath_repro.claims.metrics import Metric
from cpath_repro.data.images import TileSet, read_rgb_tiles
from cpath_repro.data.layout import locate
from cpath_repro.synth import stains
from cpath_repro.synth.fields import Field

#: Deconvolution is judged where quantisation to 8 bits leaves enough light (total OD < 1.5).
OD_LIMIT = 1.5

#: What the tables measure, each named once for every table that shows it; errors are in optical density (OD).
MEAN_ERROR = Metric("mean_abs_error_od", "mean absolute error", "OD", 4)
MAX_ERROR = Metric("max_abs_error_od", "largest absolute error", "OD", 4)
VECTOR_ANGLE = Metric("max_vector_angle_deg", "largest turn of a stain vector", "°", 1)
TRUE_VECTORS_ERROR = Metric("mean_abs_error_true_vectors", "mean absolute error, the slide's own vectors", "OD", 4)
NOMINAL_VECTORS_ERROR = Metric("mean_abs_error_nominal_vectors", "mean absolute error, textbook vectors", "OD", 4)


def gallery(field: Field) -> dict[str, np.ndarray]:
    """Each assay rendered (nominal stain vectors, full light) on the same field, as uint8 RGB."""
    return {name: stains.to_uint8(stains.render(field.for_assay(a), a.vectors)) for name, a in stains.ASSAYS.items()}


def _errors(truth: np.ndarray, recovered: np.ndarray) -> tuple[float, float]:
    keep = truth.sum(-1) < OD_LIMIT
    err = np.abs(recovered - truth)[keep]
    return float(err.mean()), float(err.max())


def recovery_table(field: Field) -> pd.DataFrame:
    """Render each assay to 8 bits, deconvolve with its true vectors, compare with the true concentrations."""
    rows = []
    for name, assay in stains.ASSAYS.items():
        truth = field.for_assay(assay)
        rgb = stains.to_uint8(stains.render(truth, assay.vectors))
        mean, worst = _errors(truth, stains.unmix(rgb, assay.vectors))
        rows.append({"assay": name, "stains": " + ".join(assay.stains), MEAN_ERROR: mean, MAX_ERROR: worst})
    return pd.DataFrame(rows)


def jitter_table(field: Field, n_slides: int, max_angle_deg: float, seed: int) -> pd.DataFrame:
    """Per-slide jitter: its size, and what deconvolving with textbook (nominal) vectors then costs.

    For each slide the concentrations are recovered twice, with the slide's true vectors
    and intensity, and with the nominal vectors and full light, as a fixed-matrix pipeline would.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for name, assay in stains.ASSAYS.items():
        truth = field.for_assay(assay)
        for slide in range(n_slides):
            s = stains.jitter_slide(assay, rng, max_angle_deg)
            rgb = stains.to_uint8(s.render(truth))
            scaled = truth * s.scales
            true_err, _ = _errors(scaled, stains.unmix(rgb, s.vectors, s.i0))
            nominal_err, _ = _errors(scaled, stains.unmix(rgb, assay.vectors))
            rows.append({"assay": name, "slide": slide,
                         VECTOR_ANGLE: float(stains.angle_deg(s.vectors, assay.vectors).max()),
                         TRUE_VECTORS_ERROR: true_err, NOMINAL_VECTORS_ERROR: nominal_err})
    return pd.DataFrame(rows)


#: The columns of :func:`jitter_table` summarized per assay.
JITTER_COLUMNS = (VECTOR_ANGLE, TRUE_VECTORS_ERROR, NOMINAL_VECTORS_ERROR)


def jitter_summary(jitter: pd.DataFrame) -> pd.DataFrame:
    """Per assay (the index): the mean over slides of :func:`jitter_table`'s angle and errors."""
    return jitter.groupby("assay", sort=False)[list(JITTER_COLUMNS)].mean()


def nominal_over_true_error(summary: pd.DataFrame) -> float:
    """How many times the mean error over assays of :func:`jitter_summary` grows when deconvolving with the
    nominal vectors rather than each slide's own (above 1: the fixed matrix costs accuracy)."""
    return float(summary[NOMINAL_VECTORS_ERROR].mean() / summary[TRUE_VECTORS_ERROR].mean())


def jittered_examples(field: Field, assay: str, n: int, max_angle_deg: float, seed: int) -> dict[str, np.ndarray]:
    """``n`` slides of ``assay`` with jittered stain vectors and intensity, rendered on ``field`` (uint8 RGB)."""
    rng = np.random.default_rng(seed)
    a = stains.ASSAYS[assay]
    return {f"{assay}, slide {i}": stains.to_uint8(stains.jitter_slide(a, rng, max_angle_deg).render(field.for_assay(a)))
            for i in range(n)}


def real_ihc() -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """scikit-image's real IHC image (DAB + haematoxylin) deconvolved with the H-DAB matrix."""
    image = data.immunohistochemistry()
    hdx = color.separate_stains(image, color.hdx_from_rgb)
    h, dab = hdx[..., 0], hdx[..., 1]
    threshold = float(filters.threshold_otsu(dab))
    views = {"real IHC image (scikit-image)": image, "haematoxylin": h, "DAB": dab, "DAB > Otsu": dab > threshold}
    metrics = {"dab_positive_area_fraction": float((dab > threshold).mean()),
               "h_dab_correlation": float(np.corrcoef(h.ravel(), dab.ravel())[0, 1])}
    return views, metrics


def rounded(values: Mapping[str, float], digits: int = 4) -> dict[str, float]:
    """``values`` rounded to ``digits`` decimals, for printing."""
    return {k: round(v, digits) for k, v in values.items()}


def real_ihc_source() -> tuple[Path, list[Path]]:
    """Where scikit-image keeps the IHC sample (for the provenance checksum)."""
    root = Path(data.__file__).parent
    return root, [root / "ihc.png"]


#: Tiles deconvolved from data_root (the first few, to keep the page small).
OWN_TILES_SHOWN = 4


def own_tiles(data_root: str) -> TileSet:
    """The first :data:`OWN_TILES_SHOWN` RGB tiles of ``data_root``'s ``stain-tiles`` folder (unreadable ones skipped)."""
    return read_rgb_tiles(locate(data_root, "stain-tiles"), limit=OWN_TILES_SHOWN)


def own_tile_views(tiles: TileSet) -> dict[str, np.ndarray]:
    """Each tile and its haematoxylin and DAB channels (H-DAB matrix, as for the real IHC image)."""
    views: dict[str, np.ndarray] = {}
    for path, image in zip(tiles.files, tiles.images, strict=True):
        hdx = color.separate_stains(image, color.hdx_from_rgb)
        views[path.name] = image
        views[f"{path.name}: haematoxylin"] = hdx[..., 0]
        views[f"{path.name}: DAB"] = hdx[..., 1]
    return views
