"""Where the tissue is on a slide: an Otsu threshold on the saturation of a thumbnail.

Paper D (Takahama et al., section 4.1 "Pre-Processing") extracts the tissue region with Otsu's
method before cutting patches. The threshold is taken on the HSV *saturation* channel because glass
is bright and unsaturated (near-grey) whatever the stain intensity or the scanner's white balance,
while stained tissue - even pale eosin - is coloured; a brightness threshold would instead move with
the stain batch and the illumination.

The thumbnail comes from :meth:`~cpath_repro.wsi.reader.Slide.thumbnail`, which reads the best level
in chunks and box-filters them, so no whole level is ever held in memory; saturation is computed in
row chunks of :data:`SATURATION_ROWS` rows. Small objects (dust, debris) and small holes (gaps between
fibres, nuclei-free lumens) are then cleaned with :mod:`skimage.morphology`, with area bounds given in
level-0 pixels (:data:`MIN_OBJECT_AREA`, :data:`MAX_HOLE_AREA`) so that the result hardly depends on
the mask resolution.

A slide of bare glass has a nearly constant saturation, on which Otsu would still split the noise
into two classes; :data:`MIN_SATURATION_CONTRAST` (the gap between the two classes' mean saturation,
0-1) turns that into an empty mask. :func:`require_tissue` turns an empty mask into a
:class:`NoTissueError`; code that processes many slides catches it, skips the slide and counts it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from cpath_repro.errors import ParameterError, UserError

if TYPE_CHECKING:
    from cpath_repro.wsi.reader import Slide

#: Default longer side of the tissue mask, in mask pixels, when no downsample is asked for.
DEFAULT_MAX_SIZE = 2048
#: Least gap (0-1) between the mean saturation of Otsu's "tissue" and "glass" classes for the mask to
#: be kept. On the real Aperio sample, tissue averages ~0.47 and glass ~0.02; bare glass with scanner
#: noise or a faint colour cast differs by a few hundredths, pale eosin from glass by well over 0.1.
MIN_SATURATION_CONTRAST = 0.1
#: Tissue pieces smaller than this many level-0 pixels (64 x 64, ~32 µm at 0.5 µm/px) are dust or debris.
MIN_OBJECT_AREA = 64 * 64
#: Holes in tissue up to this many level-0 pixels (64 x 64) are filled: gaps between fibres and small lumens.
MAX_HOLE_AREA = 64 * 64
#: Rows of the thumbnail converted to HSV at once (bounds the float64 scratch of ``rgb2hsv``).
SATURATION_ROWS = 512


class NoTissueError(UserError):
    """A slide's tissue mask is empty: it shows only glass (or it is not the slide meant)."""


@dataclass(frozen=True, eq=False)
class TissueMask:
    """A boolean ``(h, w)`` tissue mask; one mask pixel covers ``downsample`` x ``downsample`` level-0 pixels.

    Mask pixel ``(r, c)`` covers level-0 ``[c * downsample, (c + 1) * downsample)`` by
    ``[r * downsample, (r + 1) * downsample)``. (A thumbnail's shorter side is rounded to whole pixels,
    so along it the mask may be off by up to half a mask pixel at the far edge.)
    """

    mask: np.ndarray
    downsample: float

    def __post_init__(self) -> None:
        if self.mask.ndim != 2 or self.mask.dtype != np.bool_:
            raise ParameterError(
                f"A tissue mask must be a 2-D boolean array, got {self.mask.dtype} of shape {self.mask.shape}."
            )
        if not (np.isfinite(self.downsample) and self.downsample > 0):
            raise ParameterError(f"A tissue mask's downsample must be a positive number, got {self.downsample}.")

    @property
    def fraction(self) -> float:
        """The share of mask pixels that are tissue (0-1)."""
        return float(self.mask.mean()) if self.mask.size else 0.0


def saturation(rgb: np.ndarray) -> np.ndarray:
    """HSV saturation (0-1, float32) of an ``(h, w, 3)`` RGB ``uint8`` image, converted in row chunks."""
    from skimage import color

    out = np.empty(rgb.shape[:2], dtype=np.float32)
    for y in range(0, rgb.shape[0], SATURATION_ROWS):
        out[y : y + SATURATION_ROWS] = color.rgb2hsv(rgb[y : y + SATURATION_ROWS])[..., 1]
    return out


def otsu_tissue(sat: np.ndarray, downsample: float = 1.0) -> np.ndarray:
    """Boolean tissue mask of a saturation image (0-1) whose pixels each cover ``downsample`` level-0 pixels.

    Otsu's threshold splits the image into glass and tissue; when the two classes' mean saturations
    differ by less than :data:`MIN_SATURATION_CONTRAST` the image is taken to be glass only (empty mask).
    Objects under :data:`MIN_OBJECT_AREA` and holes up to :data:`MAX_HOLE_AREA` level-0 pixels are cleaned.
    """
    from skimage import filters, morphology

    if sat.size == 0 or float(sat.max() - sat.min()) < MIN_SATURATION_CONTRAST:
        return np.zeros(sat.shape, dtype=bool)
    mask = sat > filters.threshold_otsu(sat)
    if not mask.any() or mask.all() or float(sat[mask].mean() - sat[~mask].mean()) < MIN_SATURATION_CONTRAST:
        return np.zeros(sat.shape, dtype=bool)
    pixel_area = downsample * downsample
    mask = morphology.remove_small_objects(mask, max_size=int(MIN_OBJECT_AREA / pixel_area))
    return morphology.remove_small_holes(mask, max_size=int(MAX_HOLE_AREA / pixel_area))


def tissue_mask(slide: Slide, downsample: float | None = None, max_size: int = DEFAULT_MAX_SIZE) -> TissueMask:
    """The Otsu saturation tissue mask of ``slide`` at ``downsample`` level-0 pixels per mask pixel.

    ``downsample=None`` takes the finest mask whose longer side is at most ``max_size`` mask pixels
    (never finer than level 0); for patch extraction pass
    :func:`cpath_repro.wsi.patches.mask_downsample`. The recorded ``downsample`` is the one the
    thumbnail really has (the longer side is a whole number of pixels). An all-glass slide gives an
    empty mask; see :func:`require_tissue`.
    """
    width0, height0 = slide.dimensions
    longer = max(width0, height0)
    if downsample is None:
        if max_size < 1:
            raise ParameterError(f"max_size must be a positive number of mask pixels, got {max_size}.")
        side = min(longer, max_size)
    else:
        if not (np.isfinite(downsample) and downsample >= 1):
            raise ParameterError(f"downsample must be at least 1 level-0 pixel per mask pixel, got {downsample}.")
        side = max(1, min(longer, round(longer / downsample)))
    thumb = slide.thumbnail(side)
    actual = longer / max(thumb.shape[:2])
    return TissueMask(otsu_tissue(saturation(thumb), actual), actual)


def require_tissue(mask: TissueMask, path: str | Path) -> TissueMask:
    """``mask`` itself, or a :class:`NoTissueError` when it is empty (a slide of glass only)."""
    if not mask.mask.any():
        raise NoTissueError(
            f"The slide '{path}' shows no tissue (its Otsu saturation mask is empty); check that it is the slide "
            "you meant, or skip it."
        ) from None
    return mask
