"""Whole-slide images: a small reader over OpenSlide (imported only when a slide is opened), tissue masks and patches.

Importing this package does not import OpenSlide or PIL; :func:`open_slide` / :class:`Slide` do.
The patch target codes (``NORMAL``, ``TUMOUR``, ``NOLABEL``) stay in :mod:`cpath_repro.wsi.patches`:
annotation label masks use other values under the same names.
"""

from __future__ import annotations

from cpath_repro.wsi.patches import (
    CROP_SIZE,
    LABELS,
    MIN_TISSUE,
    NORMAL_OVER,
    PATCH_SIZE,
    TUMOUR_OVER,
    Patch,
    PatchDataset,
    balanced,
    mask_downsample,
    patch_grid,
    read_patches,
)
from cpath_repro.wsi.reader import (
    CMU_SMALL_REGION,
    DEFAULT_CACHE_BYTES,
    Level,
    Slide,
    Tile,
    UnsupportedSlideError,
    cmu_small_region,
    open_slide,
    tile_grid,
)
from cpath_repro.wsi.tissue import NoTissueError, TissueMask, require_tissue, tissue_mask

__all__ = [
    "CMU_SMALL_REGION",
    "CROP_SIZE",
    "DEFAULT_CACHE_BYTES",
    "LABELS",
    "Level",
    "MIN_TISSUE",
    "NORMAL_OVER",
    "NoTissueError",
    "PATCH_SIZE",
    "Patch",
    "PatchDataset",
    "Slide",
    "TUMOUR_OVER",
    "Tile",
    "TissueMask",
    "UnsupportedSlideError",
    "balanced",
    "cmu_small_region",
    "mask_downsample",
    "open_slide",
    "patch_grid",
    "read_patches",
    "require_tissue",
    "tile_grid",
    "tissue_mask",
]
