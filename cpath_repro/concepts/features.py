"""E-F1's conventional workflow: hand-engineered features of a single-cell crop, then a scikit-learn classifier.

The features are the ones a CellProfiler-style pipeline measures: threshold the crop (Otsu),
then shape (scikit-image region properties), intensity, and grey-level co-occurrence texture.
"""

from __future__ import annotations

import numpy as np
from skimage import feature, filters, measure
from sklearn.ensemble import RandomForestClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

FEATURES = (
    "objects", "area", "largest_area", "eccentricity", "solidity", "extent", "axis_ratio", "compactness",
    "mean_intensity", "std_intensity", "glcm_contrast", "glcm_homogeneity", "glcm_energy", "glcm_correlation",
)
#: Columns of the shape features (of the thresholded object), without intensity and texture.
SHAPE = slice(0, 8)


def crop_features(crop: np.ndarray) -> np.ndarray:
    """The :data:`FEATURES` of one crop (2-D, values in [0, 1])."""
    mask = crop > filters.threshold_otsu(crop) if np.ptp(crop) > 0 else np.zeros(crop.shape, bool)
    regions = measure.regionprops(measure.label(mask), intensity_image=crop)
    grey = (np.clip(crop, 0, 1) * 31).astype(np.uint8)  # 32 grey levels: enough for texture, not too sparse
    glcm = feature.graycomatrix(grey, distances=[1, 2], angles=[0, np.pi / 2], levels=32, symmetric=True, normed=True)
    texture = [float(np.nan_to_num(feature.graycoprops(glcm, p).mean()))
               for p in ("contrast", "homogeneity", "energy", "correlation")]
    if not regions:  # a flat crop (e.g. from an untrained generator) has no object: shape features are 0
        return np.array([0.0] * 8 + [crop.mean(), crop.std(), *texture])
    largest = max(regions, key=lambda r: r.area)
    axis_ratio = largest.axis_major_length / max(largest.axis_minor_length, 1.0)
    compactness = largest.perimeter**2 / (4 * np.pi * largest.area)
    return np.array([
        len(regions), mask.sum(), largest.area, largest.eccentricity, largest.solidity, largest.extent, axis_ratio,
        compactness, crop[mask].mean(), crop[mask].std(), *texture,
    ], dtype=np.float64)


def feature_table(crops: np.ndarray) -> np.ndarray:
    """Features of each crop, ``(n, len(FEATURES))``."""
    return np.stack([crop_features(c) for c in crops])


def feature_classifier(seed: int) -> Pipeline:
    """The conventional workflow's learner: standardized features into a random forest (scikit-learn's
    defaults: 100 trees, unlimited depth)."""
    return make_pipeline(StandardScaler(), RandomForestClassifier(random_state=seed, n_jobs=1))
