"""Labelled patches of a whole-slide image, as paper D cuts them, and a dataset that reads them.

Paper D (Takahama et al., section 4.1 "Pre-Processing") cuts each slide into non-overlapping
256 x 256 patches, keeps those with more than 80 % tissue (Otsu mask, :mod:`cpath_repro.wsi.tissue`),
labels a patch "tumour" when more than 20 % of its pixels are annotated tumour, else "normal" when
more than 80 % are annotated normal, else "nolabel" (no loss, not evaluated); it balances tumour and
normal patches for Camelyon (:func:`balanced`) and not for the stomach set; it augments with a
random 224 crop, a rotation by a multiple of 90°, a left-right flip and saturation / contrast /
brightness / sharpness factors uniform in [0.75, 1.25] (:func:`augment`).

The steps a user takes with a Camelyon slide, and the tests take::

    slide = open_slide(path)
    down = mask_downsample(slide, level, PATCH_SIZE)
    tissue = require_tissue(tissue_mask(slide, down), path)
    labels = annotations.label_mask(regions, tissue.mask.shape, tissue.downsample, tissue.mask)
    patches = patch_grid(slide, level, PATCH_SIZE, tissue, labels, tissue.downsample)
    data = PatchDataset(path, balanced(patches, rng), crop=CROP_SIZE, augment=True)

Fractions are computed from the masks (one mask pixel = ``downsample`` level-0 pixels), area-weighted
over the mask pixels a patch covers, including partly covered ones, with a summed-area table (exact
for a piecewise-constant mask). A patch should span at least ~8 x 8 mask pixels for the 80 % and 20 %
rules to be resolved to a few per cent; :func:`mask_downsample` gives 16 x 16.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch.utils.data import Dataset

from cpath_repro import seeds
from cpath_repro.errors import DataNotFoundError, ParameterError
from cpath_repro.wsi.annotations import NORMAL as MASK_NORMAL  # values of a label mask (annotations.label_mask)
from cpath_repro.wsi.annotations import TUMOUR as MASK_TUMOUR
from cpath_repro.wsi.reader import argb_to_rgb
from cpath_repro.wsi.tissue import TissueMask

if TYPE_CHECKING:
    from cpath_repro.wsi.reader import Slide

# --- paper D, section 4.1 "Pre-Processing" -----------------------------------------------------------
#: Patch side in pixels of the level read (paper D, section 4.1).
PATCH_SIZE = 256
#: Side of the random crop fed to the network in training (paper D, section 4.1).
CROP_SIZE = 224
#: A patch is kept when more than this fraction (0-1) of it is tissue (paper D, section 4.1).
MIN_TISSUE = 0.8
#: A kept patch is "tumour" when more than this fraction of it is annotated tumour (paper D, section 4.1).
TUMOUR_OVER = 0.2
#: Otherwise it is "normal" when more than this fraction is annotated normal (paper D, section 4.1).
NORMAL_OVER = 0.8
#: Patch targets (paper D, section 4.1): 1 = tumour, 0 = normal, -1 = "nolabel" (no loss, not evaluated;
#: use ``ignore_index=NOLABEL`` in the loss).
NORMAL, TUMOUR, NOLABEL = 0, 1, -1
LABELS = ("normal", "tumour", "nolabel")  # LABELS[code] names a code (LABELS[-1] == "nolabel")
#: Augmentation factors for saturation, contrast, brightness and sharpness (paper D, section 4.1).
ENHANCE_RANGE = (0.75, 1.25)

#: Mask pixels along a patch side chosen by :func:`mask_downsample`.
MASK_PIXELS_PER_PATCH = 16
#: Private OpenSlide tile cache of each :class:`PatchDataset` handle (one per DataLoader worker).
DATASET_CACHE_BYTES = 16 * 2**20

_INHERITED: list[Any] = []  # handles a forked worker inherited: kept, never closed there (see PatchDataset)


@dataclass(frozen=True)
class Patch:
    """One kept patch: grid ``row, col`` (in patches), ``location`` = level-0 ``(x, y)`` of its top-left,
    ``size`` in pixels of ``level``; ``tissue``, ``tumour``, ``normal`` are fractions (0-1) of its area;
    ``label`` is :data:`TUMOUR`, :data:`NORMAL` or :data:`NOLABEL`."""

    row: int
    col: int
    location: tuple[int, int]
    level: int
    size: int
    tissue: float
    tumour: float
    normal: float
    label: int


def mask_downsample(slide: Slide, level: int, size: int = PATCH_SIZE) -> float:
    """Level-0 pixels per mask pixel so that a ``size``-pixel patch of ``level`` spans 16 x 16 mask pixels.

    16 x 16 resolves the 20 % and 80 % rules to well under 1 % per mask pixel while keeping the mask
    small (a 100k x 100k level-0 slide, 256 px patches at level 0: a 6250 x 6250 mask). Never below 1.
    """
    if size < 1:
        raise ParameterError(f"The patch size must be a positive number of pixels, got {size}.")
    _check_level(slide, level)
    return max(1.0, size * slide.levels[level].downsample / MASK_PIXELS_PER_PATCH)


def _summed_area(mask: np.ndarray) -> np.ndarray:
    """``(h + 1, w + 1)`` table whose ``[i, j]`` is the sum of ``mask[:i, :j]``."""
    table = np.zeros((mask.shape[0] + 1, mask.shape[1] + 1), dtype=np.int64)
    np.cumsum(mask, axis=0, dtype=np.int64, out=table[1:, 1:])
    np.cumsum(table[1:, 1:], axis=1, out=table[1:, 1:])
    return table


def box_fractions(
    mask: np.ndarray, downsample: float, x0: np.ndarray, x1: np.ndarray, y0: np.ndarray, y1: np.ndarray
) -> np.ndarray:
    """``(rows, cols)`` mean of boolean ``mask`` over level-0 boxes ``[x0, x1) x [y0, y1)`` (0-1).

    ``x0, x1`` are per column and ``y0, y1`` per row, in level-0 pixels; one mask pixel covers
    ``downsample`` level-0 pixels. Partly covered mask pixels count by the area covered (bilinear
    reading of the summed-area table, exact for a piecewise-constant mask); outside the mask counts as 0.
    """
    h, w = mask.shape
    area = np.outer(y1 - y0, x1 - x0) / downsample**2
    if h == 0 or w == 0:
        return np.zeros(area.shape)
    table = _summed_area(mask).astype(np.float64)

    def integral(y: np.ndarray, x: np.ndarray) -> np.ndarray:
        y = np.clip(y / downsample, 0, h)[:, None]
        x = np.clip(x / downsample, 0, w)[None, :]
        iy, ix = np.minimum(np.floor(y).astype(np.int64), h - 1), np.minimum(np.floor(x).astype(np.int64), w - 1)
        fy, fx = y - iy, x - ix
        return (
            table[iy, ix] * (1 - fy) * (1 - fx)
            + table[iy + 1, ix] * fy * (1 - fx)
            + table[iy, ix + 1] * (1 - fy) * fx
            + table[iy + 1, ix + 1] * fy * fx
        )

    inside = integral(y1, x1) - integral(y0, x1) - integral(y1, x0) + integral(y0, x0)
    return np.clip(inside / area, 0.0, 1.0)


def _check_level(slide: Slide, level: int) -> None:
    if not 0 <= level < slide.level_count:
        raise ParameterError(f"Level {level} does not exist in '{slide.path}' (levels 0-{slide.level_count - 1}).")


def _check_cover(what: str, shape: tuple[int, ...], downsample: float, slide: Slide) -> None:
    width0, height0 = slide.dimensions
    if abs(shape[0] - height0 / downsample) > 1 or abs(shape[1] - width0 / downsample) > 1:
        raise ParameterError(
            f"The {what} ({shape[1]}x{shape[0]} px at downsample {downsample:g}) does not cover level 0 of "
            f"'{slide.path}' ({width0}x{height0} px); compute it from this slide at that downsample."
        )


def _fraction(what: str, value: float) -> None:
    if not 0 <= value <= 1:
        raise ParameterError(f"{what} must be a fraction between 0 and 1, got {value}.")


def patch_grid(
    slide: Slide,
    level: int,
    size: int,
    tissue: TissueMask,
    labels: np.ndarray | None,
    labels_downsample: float | None,
    min_tissue: float = MIN_TISSUE,
    tumour_over: float = TUMOUR_OVER,
    normal_over: float = NORMAL_OVER,
) -> list[Patch]:
    """The kept, labelled ``size``-pixel patches of ``level``, row by row (paper D, section 4.1).

    Non-overlapping full patches tile the level from its top-left (the partial last row and column
    are dropped); a patch is kept when its tissue fraction exceeds ``min_tissue``. ``labels`` is a
    ``uint8`` label mask (:data:`MASK_NORMAL`, :data:`MASK_TUMOUR`, other values unlabelled) at
    ``labels_downsample`` level-0 pixels per pixel; a patch is tumour when its tumour fraction exceeds
    ``tumour_over``, else normal when its normal fraction exceeds ``normal_over``, else nolabel.
    ``labels=None`` (an unannotated slide, inference only) makes every patch nolabel.
    """
    if size < 1:
        raise ParameterError(f"The patch size must be a positive number of pixels, got {size}.")
    for what, value in (("min_tissue", min_tissue), ("tumour_over", tumour_over), ("normal_over", normal_over)):
        _fraction(what, value)
    _check_level(slide, level)
    _check_cover("tissue mask", tissue.mask.shape, tissue.downsample, slide)
    if labels is not None:
        if labels_downsample is None or not (np.isfinite(labels_downsample) and labels_downsample > 0):
            raise ParameterError(
                f"A label mask needs labels_downsample, its level-0 pixels per mask pixel, got {labels_downsample}."
            )
        if labels.ndim != 2:
            raise ParameterError(f"A label mask must be a 2-D array of label values, got shape {labels.shape}.")
        _check_cover("label mask", labels.shape, labels_downsample, slide)

    down = slide.levels[level].downsample
    width, height = slide.levels[level].dimensions
    cols, rows = width // size, height // size
    side0 = size * down  # a patch's side in level-0 pixels
    x0 = np.arange(cols) * side0
    y0 = np.arange(rows) * side0
    x1, y1 = x0 + side0, y0 + side0
    tissue_frac = box_fractions(tissue.mask, tissue.downsample, x0, x1, y0, y1)
    if labels is None:
        tumour_frac = normal_frac = np.zeros_like(tissue_frac)
    else:
        assert labels_downsample is not None
        tumour_frac = box_fractions(labels == MASK_TUMOUR, labels_downsample, x0, x1, y0, y1)
        normal_frac = box_fractions(labels == MASK_NORMAL, labels_downsample, x0, x1, y0, y1)
    code = np.where(tumour_frac > tumour_over, TUMOUR, np.where(normal_frac > normal_over, NORMAL, NOLABEL))
    return [
        Patch(
            row=int(r),
            col=int(c),
            location=(round(x0[c]), round(y0[r])),
            level=level,
            size=size,
            tissue=float(tissue_frac[r, c]),
            tumour=float(tumour_frac[r, c]),
            normal=float(normal_frac[r, c]),
            label=int(code[r, c]),
        )
        for r, c in zip(*np.nonzero(tissue_frac > min_tissue), strict=True)
    ]


def balanced(patches: Sequence[Patch], rng: np.random.Generator) -> list[Patch]:
    """As many tumour as normal patches (the smaller class's count, drawn without replacement), shuffled.

    Nolabel patches are dropped. Paper D balances Camelyon this way and not the stomach set (section 4.1).
    """
    tumour = [p for p in patches if p.label == TUMOUR]
    normal = [p for p in patches if p.label == NORMAL]
    n = min(len(tumour), len(normal))
    chosen = [tumour[i] for i in rng.choice(len(tumour), n, replace=False)]
    chosen += [normal[i] for i in rng.choice(len(normal), n, replace=False)]
    return [chosen[i] for i in rng.permutation(len(chosen))]


def _one_size(patches: Sequence[Patch]) -> int | None:
    sizes = {p.size for p in patches}
    if len(sizes) > 1:
        raise ParameterError(f"All patches must have one size to be stacked, got sizes {sorted(sizes)}.")
    return sizes.pop() if sizes else None


#: Most level pixels :func:`read_patches` reads with one OpenSlide call: a 1 MiB band of ARGB, which stays in the CPU's
#: cache while it is converted (wsi.throughput: 64 px patches about 1.05x as fast as a bare loop, 256 px about 0.95x).
BAND_PIXELS = 2**18


def read_patches(slide: Slide, patches: Sequence[Patch], out: np.ndarray | None = None) -> np.ndarray:
    """``(N, size, size, 3)`` RGB ``uint8`` pixels of ``patches``; ``(0, 0, 0, 3)`` if none.

    Patches of one grid row that lie side by side are read together, one OpenSlide call per run of at
    most :data:`BAND_PIXELS` level pixels, because its cost is per call (tile lookup, the Python boundary)
    far more than per pixel at small patch sizes; each patch's pixels go straight from OpenSlide's ARGB
    into the result (:func:`~cpath_repro.wsi.reader.argb_to_rgb`). A loop reading batch after batch passes
    one array as ``out``: new memory costs its first write (5-10 % of reading 256 px patches, wsi.throughput).
    """
    size = _one_size(patches) or 0
    shape = (len(patches), size, size, 3)
    if out is None:
        out = np.empty(shape, dtype=np.uint8)
    elif out.shape != shape or out.dtype != np.uint8:
        raise ParameterError(f"out must be a uint8 array of shape {shape} for these patches, got {out.dtype} {out.shape}.")
    runs: dict[tuple[int, int], list[int]] = {}
    for i, p in enumerate(patches):
        runs.setdefault((p.level, p.row), []).append(i)
    per_run = max(1, BAND_PIXELS // max(size * size, 1))
    for (level, _), members in runs.items():
        members.sort(key=lambda i: patches[i].col)
        start = 0
        while start < len(members):
            first = patches[members[start]]
            stop = start + 1  # extend while the next patch is the next column, up to per_run patches
            while (stop < len(members) and stop - start < per_run
                   and patches[members[stop]].col == first.col + (stop - start)):
                stop += 1
            band = slide.read_argb(first.location, level, (size * (stop - start), size))
            for k, i in enumerate(members[start:stop]):
                argb_to_rgb(band[:, k * size:(k + 1) * size], out[i])
            start = stop
    return out


def augmentation_seed(seed: int, epoch: int, index: int) -> int:
    """The seed of the augmentation of item ``index`` in ``epoch``."""
    return seeds.derive(seed, "augmentation", epoch, index)


def augment(image: torch.Tensor, crop: int | None, generator: torch.Generator) -> torch.Tensor:
    """Paper D's augmentation (section 4.1) of a float ``(3, s, s)`` image in [0, 1], every draw from ``generator``.

    A random ``crop`` x ``crop`` crop (none when ``crop`` is None), a rotation by 0, 90, 180 or 270°,
    a left-right flip with probability 1/2, then saturation, contrast, brightness and sharpness
    factors each uniform in :data:`ENHANCE_RANGE`. The paper says the colour changes are made "in the
    HSV space"; torchvision's ops follow PIL's ``ImageEnhance`` (saturation blends with the greyscale
    image, brightness scales RGB, i.e. V), so saturation differs from scaling HSV's S channel.
    """
    import torchvision.transforms.v2.functional as F

    size = image.shape[-1]
    if crop is not None:
        top, left = (int(v) for v in torch.randint(0, size - crop + 1, (2,), generator=generator))
        image = F.crop(image, top, left, crop, crop)
    quarter_turns = int(torch.randint(0, 4, (1,), generator=generator))
    flip = bool(torch.rand(1, generator=generator) < 0.5)
    low, high = ENHANCE_RANGE
    saturation, contrast, brightness, sharpness = (low + (high - low) * torch.rand(4, generator=generator)).tolist()
    image = torch.rot90(image, quarter_turns, dims=(-2, -1))
    if flip:
        image = F.horizontal_flip(image)
    image = F.adjust_saturation(image, saturation)
    image = F.adjust_contrast(image, contrast)
    image = F.adjust_brightness(image, brightness)
    return F.adjust_sharpness(image, sharpness)


def _to_float(pixels: torch.Tensor) -> torch.Tensor:
    """A contiguous float32 copy in [0, 1] of a ``uint8`` view (value / 255, as ``to_dtype(scale=True)``).

    Done in numpy: torch's elementwise kernels on a strided view of this size split across intra-op
    threads, which on a busy machine made the conversion ~100x slower than the read.
    """
    out = pixels.numpy().astype(np.float32, order="C")
    out *= np.float32(1 / 255)
    return torch.from_numpy(out)


class PatchDataset(Dataset[tuple[torch.Tensor, torch.Tensor]]):
    """The patches of one slide as ``(image, label)``: a float ``(3, crop, crop)`` image in [0, 1], an int64 label.

    The slide is opened lazily, in the process that reads: an OpenSlide handle is neither picklable
    nor safe to share across a fork, and open handles multiplying their tile caches is the most
    reported OpenSlide data-loader problem (memory growing with workers). So the handle is never
    pickled (:meth:`__getstate__` drops it), each DataLoader worker opens its own on its first item,
    and a handle inherited through a fork is left untouched (not closed: its cache lock may have been
    held at the fork) and replaced. Each handle has a private cache of ``cache_bytes`` (default
    :data:`DATASET_CACHE_BYTES`, 16 MiB), so decoded tiles take at most (workers + 1) x ``cache_bytes``.

    Without ``augment`` the image is the centre ``crop`` (the whole patch when ``crop`` is None).
    With it, :func:`augment` draws everything from a generator seeded from ``(seed, epoch, index)``
    (:meth:`set_epoch`), so re-reading an item gives identical pixels: paper D's end-to-end learning
    re-forwards the same patches and must see the same augmented input. Call :meth:`set_epoch` before
    iterating a DataLoader (with ``persistent_workers=True`` the workers keep their own copy's epoch).

    ``preload`` reads every patch once, in bands (:func:`read_patches`), on the first item and keeps the
    pixels (``N x size² x 3`` bytes): for slides whose patches fit in memory and are read every epoch.
    """

    def __init__(
        self,
        path: str | Path,
        patches: Sequence[Patch],
        *,
        crop: int | None,
        augment: bool,
        seed: int = 0,
        cache_bytes: int = DATASET_CACHE_BYTES,
        preload: bool = False,
    ) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise DataNotFoundError(f"Expected a whole-slide image file at '{self.path}' and found none; check the path.")
        self.patches = tuple(patches)
        size = _one_size(self.patches)
        if crop is not None and not (1 <= crop <= (size if size is not None else crop)):
            raise ParameterError(f"crop must be between 1 and the patch size {size} pixels, or None, got {crop}.")
        if seed < 0:
            raise ParameterError(f"seed must be a non-negative integer, got {seed}.")
        if cache_bytes < 1:
            raise ParameterError(f"cache_bytes must be a positive number of bytes, got {cache_bytes}.")
        self.crop, self.augment, self.seed, self.cache_bytes = crop, augment, seed, cache_bytes
        self.epoch = 0
        self.preload = preload
        self._pixels: np.ndarray | None = None
        self._slide: Slide | None = None
        self._pid: int | None = None

    def set_epoch(self, epoch: int) -> None:
        """Use the augmentations of ``epoch`` (a non-negative integer) from now on."""
        if epoch < 0:
            raise ParameterError(f"epoch must be a non-negative integer, got {epoch}.")
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.patches)

    def _open(self) -> Slide:
        from cpath_repro.wsi.reader import open_slide

        if self._slide is not None and self._pid != os.getpid():  # inherited through a fork
            _INHERITED.append(self._slide)
            self._slide = None
        if self._slide is None:
            self._slide = open_slide(self.path, cache_bytes=self.cache_bytes)
            self._pid = os.getpid()
        return self._slide

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        import torchvision.transforms.v2.functional as F

        index = range(len(self.patches))[index]  # negative indices count from the end; IndexError past it
        patch = self.patches[index]
        if self.preload and self._pixels is None:
            self._pixels = read_patches(self._open(), self.patches)
        pixels = torch.from_numpy(self._pixels[index] if self._pixels is not None else
                                  self._open().read_region(patch.location, patch.level, (patch.size, patch.size)))
        pixels = pixels.permute(2, 0, 1)  # a (3, s, s) view of the (s, s, 3) pixels
        if not self.augment and self.crop is not None:
            pixels = F.center_crop(pixels, [self.crop, self.crop])  # a view: only the crop is converted
        image = _to_float(pixels)
        if self.augment:
            generator = torch.Generator().manual_seed(augmentation_seed(self.seed, self.epoch, index))
            image = augment(image, self.crop, generator).contiguous()
        return image, torch.tensor(patch.label, dtype=torch.int64)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_slide"] = None  # never pickle a handle: the receiving process opens its own
        state["_pid"] = None
        return state

    def close(self) -> None:
        """Close this process's handle (idempotent); the next item opens it again."""
        if self._slide is not None:
            if self._pid == os.getpid():
                self._slide.close()
            else:
                _INHERITED.append(self._slide)
        self._slide = None
        self._pid = None
