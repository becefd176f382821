"""Tiny slides for the whole-slide tests."""

from __future__ import annotations

import numpy as np


def write_pyramid(path, base: np.ndarray, mpp: float | None = 0.5) -> None:
    """A tiled two-level pyramidal TIFF OpenSlide reads as generic-tiff (level 1 = every second pixel)."""
    import tifffile

    res = {} if mpp is None else {"resolutionunit": "CENTIMETER"}
    with tifffile.TiffWriter(path) as tif:
        for page, image in enumerate((base, np.ascontiguousarray(base[::2, ::2]))):
            if mpp is not None:
                res["resolution"] = (1e4 / (mpp * 2**page),) * 2
            tif.write(image, tile=(128, 128), photometric="rgb", subfiletype=1 if page else 0, **res)
