"""Paper C, section 10 ("Additional Data"): cleaning the additional set before training on it.

Two filters, applied in the paper's order:

1. **Distribution filter.** Each image becomes a colour-histogram vector (:func:`histogram_vector`);
   a Gaussian with the initial set's mean and an approximate covariance is fitted on the initial
   set's vectors (:class:`DistributionFilter`), and only the most likely additional images are kept.
2. **Sharpness filter.** Sharpness is the largest value of the 2-D Laplacian of the image's centre
   sub-rectangle over all channels and pixels (:func:`sharpness`); only additional images at
   least as sharp as the least sharp initial image are kept (:class:`SharpnessFilter`).

What the paper could not measure, and the synthetic data can: each filter's precision and recall
of *rejection* against the images known to be bad (:func:`filter_quality`), and how they trade off
as the kept fraction varies (:func:`rejection_curve`).

Images are RGB ``uint8`` arrays ``H x W x 3`` with values 0-255, at any size (the chapter uses
60 x 80 up to 240 x 320).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import ndimage
from scipy.stats import multivariate_normal
from sklearn.covariance import LedoitWolf
from sklearn.metrics import precision_recall_curve, precision_score, recall_score
from threadpoolctl import threadpool_limits

from cpath_repro.errors import UserError

#: BLAS threads for the 456 x 456 covariance algebra. Matrices this small gain nothing from more threads,
#: and OpenBLAS threads competing with other work on a busy machine (training beside it) slowed the
#: fit from 0.05 s to several seconds here; one thread keeps it fast either way.
BLAS_THREADS = 1

#: Bins of each channel's histogram over the whole image. Section 10: "creating a histogram for each
#: of the three channels based on the frequency of RGB values in the image, using 17 bins".
WHOLE_IMAGE_BINS = 17
#: Bins of each channel's histogram in each grid cell. Section 10: "We also did the same with each
#: subrectangle of a 3 x 3 grid of the image, using 15 bins".
GRID_CELL_BINS = 15
#: Cells per side of that grid (section 10: "a 3 x 3 grid of the image").
GRID_SIZE = 3
#: RGB channels (section 10: "each of the three channels").
CHANNELS = 3
#: Bin range: all 256 uint8 values, 0-255, in equal-width bins (the paper gives only the bin counts).
VALUE_LEVELS = 256
#: Length of the vector: 3 x 17 (whole image) + 9 cells x 3 x 15 = 51 + 405 = 456.
VECTOR_LENGTH = CHANNELS * WHOLE_IMAGE_BINS + GRID_SIZE**2 * CHANNELS * GRID_CELL_BINS

#: The "center subrectangle" whose Laplacian gives the sharpness (section 10: "we convolve the center
#: subrectangle of the images with the 2D Laplacian kernel filter"). The paper gives no size. It
#: calls the cells of the 3 x 3 histogram grid "subrectangle[s]" earlier in the section, so we read it
#: as the centre cell of that grid: the middle third of the height and of the width. Our choice,
#: named here so that a page can state it.
SHARPNESS_CENTRE_CELL = (1, 1)

#: Share of additional images the distribution filter keeps when none is given. The paper gives no
#: number (section 10: "we take only the additional images that are closest to the initial dataset
#: by this metric"); 0.8 is our choice, and :func:`rejection_curve` shows every other one.
DEFAULT_KEEP_FRACTION = 0.8


class CleaningInputError(UserError, ValueError):
    """An image, a vector set or a mask given to the additional-data cleaning is unusable."""


# --------------------------------------------------------------------------- histogram vector


def _check_image(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != CHANNELS:
        msg = (f"Expected an RGB image of shape H x W x 3, got shape {image.shape}; "
               "pass colour images (convert grey ones with skimage.color.gray2rgb).")
        raise CleaningInputError(msg)
    if image.dtype != np.uint8:
        msg = (f"Expected a uint8 image with values 0-255, got dtype {image.dtype}; "
               "convert it with skimage.util.img_as_ubyte.")
        raise CleaningInputError(msg)
    if image.shape[0] < GRID_SIZE or image.shape[1] < GRID_SIZE:
        msg = (f"The image is {image.shape[0]} x {image.shape[1]} pixels, too small for a "
               f"{GRID_SIZE} x {GRID_SIZE} grid; pass images at least {GRID_SIZE} pixels on each side.")
        raise CleaningInputError(msg)
    return image


def grid_edges(n: int) -> np.ndarray:
    """Pixel edges of the grid's cells along an axis of ``n`` pixels: ``ceil(k * n / 3)``, k = 0..3.

    Cells differ by at most one pixel when ``n`` is not a multiple of 3; the same edges serve the
    histograms and the centre sub-rectangle of :func:`sharpness`.
    """
    return -(-np.arange(GRID_SIZE + 1) * n // GRID_SIZE)


def _bin_index(image: np.ndarray, bins: int) -> np.ndarray:
    """Bin of every value: ``floor(v * bins / 256)``, the bins of ``np.histogram(v, bins, range=(0, 256))``."""
    return (image.astype(np.intp) * bins) // VALUE_LEVELS


def histogram_vector(image: np.ndarray) -> np.ndarray:
    """The paper's vector of an RGB uint8 image: 456 numbers, each histogram normalised to sum 1.

    Layout: the whole image's R, G and B histograms (17 bins each, 51 numbers), then for each cell
    of the 3 x 3 grid in row-major order (top-left, top-centre, ..., bottom-right) its R, G and B
    histograms (15 bins each, 45 numbers per cell). Bins are of equal width over 0-255; every
    histogram is divided by its pixel count, so the vector does not depend on the image's size.
    """
    image = _check_image(image)
    h, w, _ = image.shape
    channel = np.arange(CHANNELS)

    whole_index = _bin_index(image, WHOLE_IMAGE_BINS) + channel * WHOLE_IMAGE_BINS
    whole = np.bincount(whole_index.ravel(), minlength=CHANNELS * WHOLE_IMAGE_BINS).astype(np.float64)
    whole /= h * w

    rows = np.repeat(np.arange(GRID_SIZE), np.diff(grid_edges(h)))
    cols = np.repeat(np.arange(GRID_SIZE), np.diff(grid_edges(w)))
    cell = rows[:, None] * GRID_SIZE + cols[None, :]
    cell_index = ((cell[:, :, None] * CHANNELS + channel) * GRID_CELL_BINS + _bin_index(image, GRID_CELL_BINS))
    counts = np.bincount(cell_index.ravel(), minlength=GRID_SIZE**2 * CHANNELS * GRID_CELL_BINS)
    cells = counts.reshape(GRID_SIZE**2 * CHANNELS, GRID_CELL_BINS).astype(np.float64)
    cells /= cells.sum(axis=1, keepdims=True)
    return np.concatenate([whole, cells.ravel()])


def histogram_vectors(images: Iterable[np.ndarray]) -> np.ndarray:
    """:func:`histogram_vector` of each image (sizes may differ), stacked: ``(N, 456)``."""
    vectors = [histogram_vector(image) for image in images]
    if not vectors:
        msg = "Expected at least one image to turn into histogram vectors, got none; pass a non-empty image list."
        raise CleaningInputError(msg)
    return np.stack(vectors)


# --------------------------------------------------------------------------- distribution filter


def _check_vectors(vectors: np.ndarray, what: str, min_rows: int = 1, width: int | None = None) -> np.ndarray:
    x = np.asarray(vectors, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < min_rows:
        msg = (f"Expected the {what} as an (N, {width or 'D'}) array with N >= {min_rows}, got shape {x.shape}; "
               "build it with histogram_vectors(images).")
        raise CleaningInputError(msg)
    if width is not None and x.shape[1] != width:
        msg = (f"The {what} have {x.shape[1]} numbers each but the filter was fitted on {width}; "
               "build both with histogram_vectors.")
        raise CleaningInputError(msg)
    if not np.isfinite(x).all():
        msg = f"The {what} hold NaN or infinite values; build them with histogram_vectors(images)."
        raise CleaningInputError(msg)
    return x


def _check_fraction(fraction: float) -> float:
    if not 0.0 <= fraction <= 1.0:
        msg = f"The kept fraction must lie in [0, 1], got {fraction}; pass e.g. fraction={DEFAULT_KEEP_FRACTION}."
        raise CleaningInputError(msg)
    return float(fraction)


def keep_top(scores: np.ndarray, fraction: float) -> np.ndarray:
    """Mask of the ``round(fraction * N)`` highest scores (ties broken by position, earlier first)."""
    scores = np.asarray(scores, dtype=np.float64)
    n_kept = round(_check_fraction(fraction) * scores.size)
    mask = np.zeros(scores.size, dtype=bool)
    mask[np.argsort(-scores, kind="stable")[:n_kept]] = True
    return mask


class DistributionFilter:
    """A Gaussian over histogram vectors, fitted on the initial set; scores images by log-likelihood.

    Section 10: "we calculate the mean image and an approximate covariance matrix of the initial
    dataset. We assume that these images are samples of a multivariable Gaussian distribution with
    the aformentioned mean and covariance, and compute the pdf values of the additional dataset
    images."

    The "approximate covariance" (the paper does not say how it was approximated) is the
    Ledoit-Wolf shrinkage estimate (``sklearn.covariance.LedoitWolf``): the sample covariance of
    456 dimensions is singular here for two reasons that no amount of data removes - each
    normalised histogram sums to 1, so its bins are linearly dependent, and bins that no initial
    image fills have zero variance - and with a few hundred images it is singular anyway. Ledoit-Wolf
    blends it with a scaled identity by an analytically chosen amount (``shrinkage_``), which makes
    it positive definite with no tuning parameter and keeps the full covariance's correlations, where
    a diagonal covariance would drop them. The log-density is ``scipy.stats.multivariate_normal``'s.
    """

    def __init__(self) -> None:
        self.mean_: np.ndarray | None = None
        self.covariance_: np.ndarray | None = None
        self.shrinkage_: float | None = None
        self._gaussian: Any = None  # scipy's frozen multivariate_normal (its class is private)

    def fit(self, vectors: np.ndarray) -> DistributionFilter:
        """Fit the mean and the shrunk covariance on the initial set's vectors ``(N, D)``, N >= 2."""
        x = _check_vectors(vectors, "initial set's vectors", min_rows=2)
        try:
            with threadpool_limits(limits=BLAS_THREADS, user_api="blas"):
                estimate = LedoitWolf().fit(x)
                gaussian = multivariate_normal(mean=estimate.location_, cov=estimate.covariance_)
        except (np.linalg.LinAlgError, ValueError) as error:
            msg = ("The initial set's vectors do not vary (every image has the same histograms), so no Gaussian "
                   "can be fitted; fit on a set of different images.")
            raise CleaningInputError(msg) from error
        self.mean_, self.covariance_ = estimate.location_, estimate.covariance_
        self.shrinkage_ = float(estimate.shrinkage_)
        self._gaussian = gaussian
        return self

    def _fitted(self) -> Any:
        if self._gaussian is None:
            msg = "The distribution filter is not fitted; call DistributionFilter().fit(initial_vectors) first."
            raise CleaningInputError(msg)
        return self._gaussian

    def score(self, vectors: np.ndarray) -> np.ndarray:
        """Log-likelihood of each vector under the fitted Gaussian, ``(N,)``: higher is more like the initial set."""
        gaussian = self._fitted()
        assert self.mean_ is not None
        x = _check_vectors(vectors, "vectors to score", width=self.mean_.size)
        with threadpool_limits(limits=BLAS_THREADS, user_api="blas"):
            return np.atleast_1d(gaussian.logpdf(x)).astype(np.float64)

    def keep(self, vectors: np.ndarray, fraction: float = DEFAULT_KEEP_FRACTION) -> np.ndarray:
        """Mask of the ``round(fraction * N)`` most likely vectors (the paper's "closest" images)."""
        return keep_top(self.score(vectors), fraction)


# --------------------------------------------------------------------------- sharpness filter


def centre_subrectangle(image: np.ndarray) -> np.ndarray:
    """The centre cell of the 3 x 3 grid (:data:`SHARPNESS_CENTRE_CELL`): the middle third of each side."""
    image = _check_image(image)
    rows, cols = grid_edges(image.shape[0]), grid_edges(image.shape[1])
    r, c = SHARPNESS_CENTRE_CELL
    return image[rows[r]:rows[r + 1], cols[c]:cols[c + 1]]


def sharpness(image: np.ndarray) -> float:
    """The paper's sharpness: the largest 2-D Laplacian value over the centre sub-rectangle's pixels and channels.

    Section 10: "we convolve the center subrectangle of the images with the 2D Laplacian kernel
    filter and find the maximum value among all three channels and pixels". The Laplacian is
    ``scipy.ndimage.laplace`` of each channel on its own (2-D, never across channels; kernel
    ``[[0, 1, 0], [1, -4, 1], [0, 1, 0]]``, mirrored edges), on intensities 0-255, so the unit is
    intensity per pixel squared. The maximum is of the signed value, as the paper says "maximum
    value"; a blurred image has smaller second differences and so a smaller maximum.
    """
    centre = centre_subrectangle(image).astype(np.float64)
    return max(float(ndimage.laplace(centre[..., c]).max()) for c in range(CHANNELS))


def sharpness_scores(images: Iterable[np.ndarray]) -> np.ndarray:
    """:func:`sharpness` of each image, ``(N,)``."""
    return np.array([sharpness(image) for image in images], dtype=np.float64)


class SharpnessFilter:
    """Keeps images at least as sharp as the least sharp initial image.

    Section 10: "We filter the additional dataset by including only images that at least as sharp as
    the least sharp image in the initial dataset." The comparison is inclusive (``>=``), so an image
    exactly as sharp as the least sharp initial image is kept.
    """

    def __init__(self) -> None:
        self.threshold_: float | None = None

    def fit(self, initial_images: Iterable[np.ndarray]) -> SharpnessFilter:
        """Set :attr:`threshold_` to the smallest :func:`sharpness` of the initial images."""
        scores = sharpness_scores(initial_images)
        if scores.size == 0:
            msg = "The sharpness filter needs the initial images to set its threshold, got none; pass the initial set."
            raise CleaningInputError(msg)
        self.threshold_ = float(scores.min())
        return self

    def score(self, images: Iterable[np.ndarray]) -> np.ndarray:
        """:func:`sharpness` of each image, ``(N,)``."""
        return sharpness_scores(images)

    def keep_scores(self, scores: np.ndarray) -> np.ndarray:
        """Mask of the sharpness values at or above the threshold (for scores already computed)."""
        if self.threshold_ is None:
            msg = "The sharpness filter is not fitted; call SharpnessFilter().fit(initial_images) first."
            raise CleaningInputError(msg)
        return np.asarray(scores, dtype=np.float64) >= self.threshold_

    def keep(self, images: Iterable[np.ndarray]) -> np.ndarray:
        """Mask of the images at least as sharp as the least sharp initial image."""
        return self.keep_scores(self.score(images))


# --------------------------------------------------------------------------- both filters, and how good they are


@dataclass(frozen=True)
class CleaningResult:
    """Both filters' verdicts on each additional image; ``kept`` is the twice-filtered set the paper trains on.

    Each filter is applied to every additional image (so that each one's precision and recall can be
    measured on its own); ``kept`` is their conjunction, which equals applying them one after the other.
    """

    log_likelihood: np.ndarray
    sharpness: np.ndarray
    distribution_kept: np.ndarray
    sharpness_kept: np.ndarray
    sharpness_threshold: float
    shrinkage: float

    @property
    def kept(self) -> np.ndarray:
        return self.distribution_kept & self.sharpness_kept


def clean_additional(initial: list[np.ndarray], additional: list[np.ndarray],
                     fraction: float = DEFAULT_KEEP_FRACTION) -> CleaningResult:
    """Fit both filters on the initial images and apply them to the additional images (section 10)."""
    distribution = DistributionFilter().fit(histogram_vectors(initial))
    log_likelihood = distribution.score(histogram_vectors(additional))
    sharp = SharpnessFilter().fit(initial)
    scores = sharp.score(additional)
    assert sharp.threshold_ is not None and distribution.shrinkage_ is not None
    return CleaningResult(log_likelihood=log_likelihood, sharpness=scores,
                          distribution_kept=keep_top(log_likelihood, fraction),
                          sharpness_kept=sharp.keep_scores(scores), sharpness_threshold=sharp.threshold_,
                          shrinkage=distribution.shrinkage_)


@dataclass(frozen=True)
class FilterQuality:
    """How well a filter's rejections find the known bad images.

    ``precision``: the share of rejected images that are truly bad (NaN when nothing is rejected).
    ``recall``: the share of bad images that are rejected (NaN when no image is bad).
    """

    precision: float
    recall: float
    n_rejected: int
    n_bad: int
    n_bad_rejected: int


def _check_masks(first: np.ndarray, second: np.ndarray, names: tuple[str, str]) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(first), np.asarray(second)
    if a.ndim != 1 or a.shape != b.shape:
        msg = (f"Expected '{names[0]}' and '{names[1]}' as 1-D arrays of one entry per image, got shapes "
               f"{a.shape} and {b.shape}; pass one value per additional image in the same order.")
        raise CleaningInputError(msg)
    if b.dtype != bool:
        msg = f"Expected '{names[1]}' as a boolean mask (True = known bad), got dtype {b.dtype}; pass a bool array."
        raise CleaningInputError(msg)
    return a, b


def filter_quality(kept: np.ndarray, bad: np.ndarray) -> FilterQuality:
    """Precision and recall of *rejection* (``~kept``) against the known bad images (``bad``), via sklearn."""
    kept, bad = _check_masks(kept, bad, ("kept", "bad"))
    if kept.dtype != bool:
        msg = f"Expected 'kept' as a boolean mask (True = kept), got dtype {kept.dtype}; pass a bool array."
        raise CleaningInputError(msg)
    rejected = ~kept
    return FilterQuality(
        precision=float(precision_score(bad, rejected, zero_division=np.nan)),
        recall=float(recall_score(bad, rejected, zero_division=np.nan)),
        n_rejected=int(rejected.sum()), n_bad=int(bad.sum()), n_bad_rejected=int((rejected & bad).sum()))


def rejection_curve(scores: np.ndarray, bad: np.ndarray) -> pd.DataFrame:
    """Precision and recall of rejection as the kept fraction varies from 0 to 1.

    ``scores``: higher means keep sooner (the log-likelihood, or the sharpness). Each row rejects the
    images scoring at or below ``score_threshold`` - the rows are sklearn's ``precision_recall_curve``
    on the negated scores - and gives the ``kept_fraction`` that leaves. The first row rejects all
    (kept 0, recall 1, precision = the share of bad images); the last rejects none (kept 1, recall 0,
    and precision 1 by sklearn's convention).
    """
    scores, bad = _check_masks(np.asarray(scores, dtype=np.float64), bad, ("scores", "bad"))
    if not bad.any():
        msg = "The rejection curve needs at least one known bad image, got none; pass the bad-image mask of the set."
        raise CleaningInputError(msg)
    precision, recall, thresholds = precision_recall_curve(bad, -scores)
    score_threshold = np.append(-thresholds, -np.inf)
    n_rejected = np.searchsorted(np.sort(scores), score_threshold, side="right")
    kept_fraction = 1.0 - n_rejected / scores.size
    return pd.DataFrame({"score_threshold": score_threshold, "kept_fraction": kept_fraction,
                         "precision": precision, "recall": recall})
