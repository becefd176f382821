"""Paper B's (HistoKT) dataset standardization: every dataset brought to ADP's format before transfer.

Why a module: the paper's nine datasets differ in magnification and image size, and the
paper's transfer results only compare like with like once each image is rescaled to
1 µm/px (scikit-image), cut into 272×272 crops (reflection-padded when smaller) and
low-contrast (background) crops are dropped. The paper's text and the authors' code differ
in two places, and both readings are kept selectable here so a page can show both counts:

* overlap: the text says 50 % (stride 136); the authors' ``standardize_datasets.py`` passes
  ``percent_overlap=0.25`` (stride 204), and Table 1's patch counts follow the code (BACH:
  6 crops per image at stride 204, 2,400 for 400 images, Table 1 2,397; 15 at stride 136).
  :data:`CODE_OVERLAP` is the default; :func:`count_table` gives the counts both ways.
* contrast: the text drops a crop whose 5th-99th percentile span covers < 5 % of 0-255 on
  the 8-bit grey image (:func:`low_contrast_paper`); the code calls
  ``skimage.exposure.is_low_contrast``, which on RGB input compares against the float
  range [-1, 1] and so drops spans < 0.1 of [0, 1] (:func:`low_contrast_code`). Both rules
  are evaluated on every crop and both counts reported (:class:`Standardized`).

Splits: our train/validation/test splits are drawn by source image, so crops of one image
never land in two splits; the authors' code splits after cropping, so overlapping crops of
one image can sit in both training and test. This module works one source image at a time
and every crop it returns belongs to that image; keep that grouping when splitting.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from cpath_repro.data.adp_format import (  # noqa: F401  (re-exported: the format's numbers live in the leaf)
    CODE_OVERLAP,
    CODE_STRIDE,
    FRACTION,
    LOWER_PERCENTILE,
    PAPER_OVERLAP,
    RULE_NAMES,
    SIZE,
    TARGET_MPP,
    UPPER_PERCENTILE,
)
from cpath_repro.errors import ParameterError


@dataclass(frozen=True)
class Table1Row:
    """One row of paper B's Table 1, as printed (None where the table gives no number)."""

    tissue: str
    diagnostic: str
    staining: str
    scanner: str
    classes: int
    images: int  # "Dataset Size": number of source images
    image_size: tuple[int, int] | None  # as printed, "W×H"; None where printed "Various"
    mpp: float  # "Pixel Resolution", µm/px
    patches: tuple[int, int, int]  # extracted patches: training (sub-heading lost in the text), validation, test

    @property
    def published_patches(self) -> int:
        """All patches Table 1 lists for the dataset (training + validation + test)."""
        return sum(self.patches)


# Paper B, Table 1 ("Dataset Information"), exactly as printed. Image sizes printed "Various"
# (GlaS, BCSS) are not given in the text: None. The first "Number of Extracted Patches"
# sub-heading is missing from the text; the other two read "Validation Images", "Test Images".
TABLE_1: dict[str, Table1Row] = {
    "ADP": Table1Row("Multi-organ", "Histology (healthy)", "H&E", "Huron TissueScope LE1.2", 33, 17668, (272, 272), 1.0,
                    (14134, 1767, 1767)),
    "MHIST": Table1Row("Colorectal polyps", "Cancer", "H&E", "Aperio AT2", 2, 3152, (224, 224), 1.25, (1740, 435, 977)),
    "BACH": Table1Row("Breast", "Cancer", "H&E", "Leica ICC50 HD", 4, 400, (2048, 1536), 0.42, (958, 240, 1199)),
    "AJ-Lymph": Table1Row("Lymph nodes", "Lymphoma", "H&E", "N/A", 3, 374, (1388, 1040), 0.25, (299, 37, 38)),
    "PCam": Table1Row("Lymph nodes", "Lymphoma", "H&E",
                     "Pannoramic 250 Flash II, NanoZoomer-XR Digital slide scanner C12000-01", 2, 294912, (96, 96), 0.972,
                     (2000, 400, 32322)),
    "CRC": Table1Row("Colon & rectum", "Histopathology", "H&E", "Online", 7, 107000, (224, 224), 0.5, (14000, 1750, 1750)),
    "GlaS": Table1Row("Intestinal glands", "Cancer", "H&E", "Zeiss MIRAX MIDI Slide Scanner", 2, 165, None, 0.62,
                     (163, 112, 40)),
    "OS": Table1Row("Bone", "Osteosarcoma", "H&E", "N/A", 3, 1144, (1024, 1024), 1.0, (13227, 1653, 1654)),
    "BCSS": Table1Row("Breast", "Histopathology", "H&E", "Online", 10, 151, None, 0.25, (14288, 1786, 1787)),
}


def stride_for(overlap: float, size: int = SIZE) -> int:
    """The step between neighbouring crops of side ``size`` overlapping by the fraction ``overlap``."""
    if not 0 <= overlap < 1:
        raise ParameterError(f"overlap must be a fraction in [0, 1) (0.25 for the authors' code, 0.5 for the text), "
                             f"got {overlap}.")
    _check_size(size)
    return max(1, round(size * (1 - overlap)))


def _check_size(size: int) -> None:
    if size < 1:
        raise ParameterError(f"The crop size must be a positive number of pixels, got {size}.")


def _check_mpp(mpp: float, what: str) -> None:
    if not (isinstance(mpp, numbers.Real) and math.isfinite(mpp) and mpp > 0):
        raise ParameterError(f"The {what} must be a positive number of µm per pixel, got {mpp!r}.")


def rescaled_shape(height: int, width: int, mpp: float, target_mpp: float = TARGET_MPP) -> tuple[int, int]:
    """The (height, width) :func:`rescale_to` gives an image of that size at ``mpp`` µm/px."""
    _check_mpp(mpp, "pixel size")
    _check_mpp(target_mpp, "target pixel size")
    # skimage.transform.rescale's own rule (np.maximum(np.round(scale * shape), 1)), written out so
    # that Table 1's counts can be computed without making images of that size.
    scale = mpp / target_mpp
    h, w = np.maximum(np.round(scale * np.array([height, width], dtype=float)), 1).astype(int)
    return int(h), int(w)


def rescale_to(image: np.ndarray, mpp: float, target_mpp: float = TARGET_MPP) -> np.ndarray:
    """The image (H×W or H×W×C) resampled from ``mpp`` to ``target_mpp`` µm/px, as 8-bit.

    ``skimage.transform.rescale`` with bilinear interpolation and, when shrinking, its Gaussian
    anti-aliasing; the float result in [0, 1] is turned back to uint8 by ``img_as_ubyte``
    (rounding), so crops keep the 8-bit values both contrast rules are defined on.
    """
    from skimage.transform import rescale
    from skimage.util import img_as_ubyte

    _check_image(image)
    _check_mpp(mpp, "pixel size")
    _check_mpp(target_mpp, "target pixel size")
    scale = mpp / target_mpp
    out = rescale(image, scale, order=1, anti_aliasing=scale < 1, channel_axis=-1 if image.ndim == 3 else None)
    return img_as_ubyte(out)


def _check_image(image: np.ndarray) -> None:
    if not isinstance(image, np.ndarray) or image.ndim not in (2, 3) or min(image.shape[:2]) < 1:
        shape = getattr(image, "shape", None)
        raise ParameterError(f"Expected an image array of shape H×W or H×W×C, got shape {shape}.")


def pad_reflect(image: np.ndarray, size: int = SIZE) -> np.ndarray:
    """The image with each side shorter than ``size`` reflection-padded to ``size``, content centred.

    ``np.pad(mode="reflect")`` (the mirror excludes the edge pixel: ``c b | a b c | b a``); numpy
    repeats the reflection when the pad is wider than the image (PCam's 93 px, CRC's 112 px become
    272). The original pixels sit in the middle, any odd pixel of padding goes to the bottom/right.
    Sides already ``size`` or longer are left alone.
    """
    _check_image(image)
    _check_size(size)
    widths = []
    for side in image.shape[:2]:
        extra = max(0, size - side)
        widths.append((extra // 2, extra - extra // 2))
    widths += [(0, 0)] * (image.ndim - 2)
    if not any(before or after for before, after in widths):
        return image
    return np.pad(image, widths, mode="reflect")


def _axis_positions(side: int, size: int, stride: int) -> list[int]:
    # 0, stride, 2*stride, ... while the crop fits; no extra crop flush with the far border.
    # This is the rule that gives BACH (860×645 at 1 µm/px) 3×2 = 6 crops at stride 204 and
    # 5×3 = 15 at stride 136; adding a flush last crop would give 4×3 = 12 and 6×4 = 24.
    return list(range(0, side - size + 1, stride))


def crop_positions(height: int, width: int, size: int = SIZE, stride: int = CODE_STRIDE) -> list[tuple[int, int]]:
    """Top-left corners (y, x), row by row, of the ``size`` crops of a height×width image at ``stride``.

    Positions 0, stride, 2·stride… along each axis while the crop stays inside the image; the
    strip beyond the last whole crop is not covered (no extra crop flush with the border). An
    image smaller than ``size`` has no crop: pad it first (:func:`pad_reflect`).
    """
    _check_size(size)
    if stride < 1:
        raise ParameterError(f"The stride between crops must be a positive number of pixels, got {stride}.")
    return [(y, x) for y in _axis_positions(height, size, stride) for x in _axis_positions(width, size, stride)]


def _grey_uint8(crop: np.ndarray) -> np.ndarray:
    from skimage.color import rgb2gray, rgba2rgb
    from skimage.util import img_as_ubyte

    if crop.ndim == 3:
        if crop.shape[-1] == 4:
            crop = rgba2rgb(crop)
        crop = rgb2gray(crop)
    return img_as_ubyte(crop)


def low_contrast_paper(crop: np.ndarray) -> bool:
    """Paper B's rule (section 2.1): the 8-bit grey crop's 5th-99th percentile span is < 5 % of 0-255.

    Grey is ``skimage.color.rgb2gray`` (luminance 0.2125 R + 0.7154 G + 0.0721 B) rounded to
    8 bits by ``img_as_ubyte``; the crop is low-contrast when P99 − P5 < 0.05 × 255 = 12.75.
    """
    grey = _grey_uint8(crop).astype(float)
    low, high = np.percentile(grey, [LOWER_PERCENTILE, UPPER_PERCENTILE])
    return bool(high - low < FRACTION * 255)


def low_contrast_code(crop: np.ndarray) -> bool:
    """The authors' code's rule: ``skimage.exposure.is_low_contrast(crop, lower_percentile=5, upper_percentile=99)``.

    For an RGB(A) crop, of any dtype (uint8 too), scikit-image first converts it with
    ``rgb2gray`` to float64 grey in [0, 1], then divides the P99 − P5 span by the float dtype's
    range, which it takes as [-1, 1] (``dtype_limits``, scikit-image issue #6774): the crop is
    low-contrast when the span is < 0.05 × 2 = 0.1 of [0, 1], i.e. < 25.5 on the 0-255 scale,
    twice the paper's threshold, and without rounding to 8 bits. (On a 2-D uint8 grey crop it
    would divide by 255 and agree with the paper's threshold; the pipeline's crops are RGB.)
    """
    from skimage.exposure import is_low_contrast

    return bool(is_low_contrast(crop, fraction_threshold=FRACTION, lower_percentile=LOWER_PERCENTILE,
                                upper_percentile=UPPER_PERCENTILE))


#: The two contrast rules by name: "paper" (the text) and "code" (the authors' code).
RULES: dict[str, Callable[[np.ndarray], bool]] = {"paper": low_contrast_paper, "code": low_contrast_code}


@dataclass
class Standardized:
    """One source image standardized: every crop made, which rule flagged it, and the crops kept."""

    positions: np.ndarray  # (made, 2) top-left (y, x) in the rescaled, padded image
    low_contrast: dict[str, np.ndarray]  # rule name -> (made,) bool, every rule in RULES
    kept: np.ndarray  # (made,) bool: not flagged by the chosen rule
    rule: str | None  # the rule that decided which crops were dropped (None: keep all)
    crops: np.ndarray  # (kept, size, size[, C]) uint8, the crops the rule kept
    shape: tuple[int, ...]  # the rescaled image's shape, before padding

    @property
    def made(self) -> int:
        """How many crops were cut from the image."""
        return len(self.positions)

    def counts(self) -> dict[str, int]:
        """Crops made, flagged low-contrast by each rule, and kept under the chosen rule."""
        out = {"made": self.made}
        out.update({f"low_contrast_{name}": int(flags.sum()) for name, flags in self.low_contrast.items()})
        out["kept"] = len(self.crops)
        return out


def standardize(
    image: np.ndarray,
    mpp: float,
    *,
    size: int = SIZE,
    overlap: float = CODE_OVERLAP,
    contrast: str | None = "code",
    target_mpp: float = TARGET_MPP,
) -> Standardized:
    """Paper B's pipeline on one image: rescale to ``target_mpp``, pad when smaller, crop, drop low contrast.

    ``overlap`` 0.25 (stride 204, the authors' code, Table 1's counts) or 0.5 (stride 136, the
    text); ``contrast`` names the rule in :data:`RULES` that drops crops, or None to keep all.
    Both rules are evaluated on every crop whichever one decides.
    """
    if contrast is not None and contrast not in RULES:
        raise ParameterError(f"contrast must be one of {', '.join(RULES)} or None, got {contrast!r}.")
    stride = stride_for(overlap, size)
    rescaled = rescale_to(image, mpp, target_mpp)
    padded = pad_reflect(rescaled, size)
    positions = crop_positions(padded.shape[0], padded.shape[1], size, stride)
    crops = [padded[y:y + size, x:x + size] for y, x in positions]
    flags = {name: np.array([rule(c) for c in crops], dtype=bool) for name, rule in RULES.items()}
    kept = ~flags[contrast] if contrast is not None else np.ones(len(crops), dtype=bool)
    # padding makes both sides >= size, so there is always at least one crop to stack
    stack = np.stack(crops)[kept]
    return Standardized(np.array(positions, dtype=int).reshape(-1, 2), flags, kept, contrast, stack, rescaled.shape)


def crop_mask(mask: np.ndarray, result: Standardized, size: int = SIZE) -> np.ndarray:
    """A class mask of the image ``result`` came from, cut exactly as the image was: resized to the rescaled
    shape by nearest neighbour (no new class values), reflection-padded, cropped at the same positions;
    ``(made, size, size)`` in the order of :attr:`Standardized.positions` (select with :attr:`Standardized.kept`)."""
    from skimage.transform import resize

    _check_image(mask)
    resized = resize(mask, result.shape[:2], order=0, preserve_range=True, anti_aliasing=False).astype(mask.dtype)
    padded = pad_reflect(resized, size)
    return np.stack([padded[y:y + size, x:x + size] for y, x in result.positions])


def crops_per_image(height: int, width: int, mpp: float, *, size: int = SIZE, stride: int = CODE_STRIDE,
                    target_mpp: float = TARGET_MPP) -> int:
    """Crops one height×width image at ``mpp`` µm/px yields, before any is dropped for low contrast."""
    h, w = rescaled_shape(height, width, mpp, target_mpp)
    return len(crop_positions(max(h, size), max(w, size), size, stride))


#: A count more than this many times the published one is not what Table 1 counted: contrast drops remove a
#: few crops (OS: 16,534 of 18,304), not most of them, so the published number is of a subset.
SUBSET_RATIO = 2.0


@dataclass(frozen=True)
class PatchCount:
    """Table 1's published patch count for one dataset beside the counts the pipeline gives per stride."""

    dataset: str
    published: int
    per_image: dict[int, int] | None  # stride -> crops per image (None: image size not given in the text)
    expected: dict[int, int] | None  # stride -> crops for all the dataset's images, before contrast drops

    @property
    def matching(self) -> tuple[int, ...]:
        """Strides whose count is closest to the published one without being below it (crops can only be
        dropped) and at most :data:`SUBSET_RATIO` times it; every stride when they all give that count; none
        when the sizes are not given or the published count is a subset (PCam's 34,722 of 294,912 patches)."""
        if self.expected is None:
            return ()
        candidates = {s: n for s, n in self.expected.items()
                      if self.published <= n <= SUBSET_RATIO * self.published}
        if not candidates:
            return ()
        best = min(candidates.values())
        return tuple(s for s, n in candidates.items() if n == best)


def count_table(overlaps: Sequence[float] = (CODE_OVERLAP, PAPER_OVERLAP), size: int = SIZE) -> list[PatchCount]:
    """For each dataset of Table 1, the crops the pipeline makes at each overlap beside the published count,
    computed from Table 1's image sizes and µm/px alone (contrast drops can only lower a count)."""
    strides = [stride_for(o, size) for o in overlaps]
    rows = []
    for name, row in TABLE_1.items():
        if row.image_size is None:
            rows.append(PatchCount(name, row.published_patches, None, None))
            continue
        width, height = row.image_size
        per = {s: crops_per_image(height, width, row.mpp, size=size, stride=s) for s in strides}
        rows.append(PatchCount(name, row.published_patches, per, {s: n * row.images for s, n in per.items()}))
    return rows
