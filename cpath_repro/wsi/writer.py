"""Write an RGB image as a tiled pyramidal TIFF that OpenSlide opens natively (vendor ``generic-tiff``).

The layout is the one OpenSlide 4 reads with all its levels and its resolution: every level is its own
top-level page (not a SubIFD, which OpenSlide does not see), the reduced levels are marked
``SubFileType = 1`` (reduced-resolution image), and each page records its resolution in pixels per
centimetre (``1e4 / mpp``), which OpenSlide reports as ``openslide.mpp-x`` / ``-y``. Level ``k`` halves
level ``k - 1`` with a 2x2 box filter (an odd last row or column is repeated), until the longer side is
at most ``min_size`` pixels.

Compression: ``"deflate"`` (lossless, zlib; what tifffile writes without extra packages) is the default;
``"jpeg"`` (lossy, quality :data:`JPEG_QUALITY`, far smaller) needs the ``imagecodecs`` package.

The file is assembled in memory and renamed into place (:mod:`cpath_repro.atomic`), so an
interrupted write leaves the previous file, or none — never half a slide.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np

from cpath_repro import atomic
from cpath_repro.errors import ParameterError, UserError

#: Tile side of every level, pixels (TIFF needs a multiple of 16).
TILE = 256
#: Reductions stop once the longer side is at most this many pixels.
MIN_SIZE = 512
COMPRESSIONS = ("deflate", "jpeg")
#: zlib level 1: on this project's synthetic slides 2.5 times faster than zlib's default 6 for files 4 % larger
#: (lossless either way); paper D writes a hundred slides per seed and reads each a few times.
DEFLATE_LEVEL = 1
#: JPEG quality of slide tiles (scanners write 70-95; 90 keeps nuclei edges).
JPEG_QUALITY = 90
#: Files whose uncompressed pixels exceed this are written as BigTIFF (a classic TIFF stops at 4 GiB).
BIGTIFF_BYTES = 2**31


def reduce2(image: np.ndarray) -> np.ndarray:
    """Half-size ``uint8`` image by a 2x2 box filter (mean, rounded); an odd last row or column is repeated."""
    h, w = image.shape[:2]
    padded = np.pad(image, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
    total = padded.reshape(padded.shape[0] // 2, 2, padded.shape[1] // 2, 2, -1).sum(axis=(1, 3), dtype=np.uint16)
    return ((total + 2) // 4).astype(np.uint8)


def pyramid_levels(image: np.ndarray, min_size: int = MIN_SIZE) -> list[np.ndarray]:
    """Level 0 and its successive 2x reductions, the last one with its longer side at most ``min_size``."""
    levels = [image]
    while max(levels[-1].shape[:2]) > min_size:
        levels.append(reduce2(levels[-1]))
    return levels


def _codec(compression: str) -> tuple[str, dict[str, int], str | None]:
    if compression == "deflate":
        return "zlib", {"level": DEFLATE_LEVEL}, "horizontal"
    if compression == "jpeg":
        try:
            import imagecodecs  # noqa: F401
        except ImportError:
            raise UserError(
                "Writing JPEG tiles needs the imagecodecs package, which is not installed; install it "
                "(pip install imagecodecs) or write with compression='deflate'."
            ) from None
        return "jpeg", {"level": JPEG_QUALITY}, None
    raise ParameterError(f"compression must be one of {', '.join(COMPRESSIONS)}, not {compression!r}.")


def write_pyramid(path: str | Path, image: np.ndarray, mpp: float, *, tile: int = TILE, min_size: int = MIN_SIZE,
                  compression: str = "deflate", description: str | None = None) -> Path:
    """Write ``image`` (``(H, W, 3)`` ``uint8``, level 0 at ``mpp`` µm/px) as a pyramidal tiled TIFF at ``path``.

    ``description`` becomes level 0's ImageDescription (OpenSlide's ``openslide.comment``).
    """
    import tifffile

    path = Path(path)
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8 or min(image.shape[:2]) < 1:
        raise ParameterError(
            f"A slide to write must be an (H, W, 3) uint8 RGB array, got {image.dtype} of shape {image.shape}."
        )
    if not (math.isfinite(mpp) and mpp > 0):
        raise ParameterError(f"mpp must be a positive number of microns per level-0 pixel, got {mpp}.")
    if tile < 16 or tile % 16:
        raise ParameterError(f"The TIFF tile side must be a positive multiple of 16 pixels, got {tile}.")
    if min_size < 1:
        raise ParameterError(f"min_size must be a positive number of pixels, got {min_size}.")
    codec, codec_args, predictor = _codec(compression)
    levels = pyramid_levels(np.ascontiguousarray(image), min_size)
    buffer = io.BytesIO()
    bigtiff = sum(level.nbytes for level in levels) > BIGTIFF_BYTES
    width0 = image.shape[1]
    with tifffile.TiffWriter(buffer, bigtiff=bigtiff) as tif:
        for index, level in enumerate(levels):
            level_mpp = mpp * width0 / level.shape[1]
            tif.write(
                level,
                tile=(tile, tile),
                photometric="rgb",
                compression=codec,
                compressionargs=codec_args,
                predictor=predictor,
                subfiletype=1 if index else 0,
                resolution=(1e4 / level_mpp, 1e4 / level_mpp),
                resolutionunit="CENTIMETER",
                description=description if index == 0 else None,
                metadata=None,
                software="cpath_repro",
            )
    atomic.write_bytes(path, buffer.getvalue())
    return path


def write_heatmap_tiff(path: str | Path, rgb: np.ndarray, mpp: float, *, min_size: int = 64) -> Path:
    """A small lossless pyramidal TIFF of a rendered heatmap (``rgb`` ``(h, w, 3)`` ``uint8``, ``mpp`` µm/px),
    which OpenSlide and QuPath open beside the slide (give ``mpp`` = the slide's µm/px x the heatmap's downsample)."""
    return write_pyramid(path, rgb, mpp, tile=128, min_size=min_size, compression="deflate")
