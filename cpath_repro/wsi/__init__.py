"""Whole-slide images: a small reader over OpenSlide (imported only when a slide is opened).

Importing this package does not import OpenSlide; :func:`open_slide` / :class:`Slide` do.
"""

from __future__ import annotations

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

__all__ = [
    "CMU_SMALL_REGION",
    "DEFAULT_CACHE_BYTES",
    "Level",
    "Slide",
    "Tile",
    "UnsupportedSlideError",
    "cmu_small_region",
    "open_slide",
    "tile_grid",
]
