"""Camelyon17 staging: slide classes from metastasis size, the patient's pN-stage, and the challenge's kappa.

The rules are the challenge's (camelyon17.grand-challenge.org, "Evaluation"; paper D section 4.3 uses
them): each patient has 5 slides, one lymph node each, and each slide is

* *macro*: a metastasis whose largest diameter is > 2.0 mm;
* *micro*: > 0.2 mm (or > 200 cells) and at most 2.0 mm;
* *itc* (isolated tumour cells): < 0.2 mm (or < 200 cells) — not counted as a positive node;
* *negative*: no tumour cells.

The "200 cells" criterion is not used here: a synthetic slide's lesions are drawn by size, and a
heatmap gives an area, not a cell count, so :func:`slide_class` decides by size only.

The patient's stage follows from the five slide classes (:func:`pn_stage`), and the score is Cohen's
kappa with quadratic weights over the five ordered stages (:func:`kappa`). For slide labels from a
predicted heatmap, :func:`heatmap_features` computes slide-level features in the spirit of the
challenge's leading method (Lee & Paeng 2018: features of the largest connected tumour region and of
the whole heatmap) and :class:`SlideClassifier` fits a random forest to them (paper D: "slide label from
the heatmap by a random forest").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from skimage import measure

from cpath_repro.errors import ParameterError

#: Camelyon17 slide classes, in increasing order of metastasis size.
SLIDE_CLASSES = ("negative", "itc", "micro", "macro")
#: Camelyon17 "Evaluation": a macro-metastasis is larger than 2.0 mm (largest diameter).
MACRO_MM = 2.0
#: Camelyon17 "Evaluation": a micro-metastasis is larger than 0.2 mm; below is ITC.
MICRO_MM = 0.2
#: The five ordered pN-stages of the challenge (the kappa's categories, in this order).
STAGES = ("pN0", "pN0(i+)", "pN1mi", "pN1", "pN2")
#: Camelyon17: the number of lymph nodes (slides) of each patient.
NODES_PER_PATIENT = 5
#: pN1 is metastases in 1-3 nodes, pN2 in 4-9 (Camelyon17 "Evaluation").
PN2_MIN_NODES = 4
#: Heatmap thresholds of the slide features: p > 0.5 is "tumour" (paper D section 4.1); 0.9 is a confident one.
TUMOUR_THRESHOLD = 0.5
CONFIDENT_THRESHOLD = 0.9
#: The slide features of :func:`heatmap_features`, in the column order :class:`SlideClassifier` uses.
FEATURE_NAMES = (
    "largest_area_mm2",
    "largest_axis_mm",
    "n_components",
    "tumour_area_mm2",
    "max_probability",
    "mean_probability",
    "share_above_0.5",
    "share_above_0.9",
)
#: Fixed seed of the slide classifier (deterministic forests).
RANDOM_STATE = 0
N_TREES = 200


def slide_class(largest_diameter_um: float, scale: float = 1.0) -> str:
    """The Camelyon17 class of a slide whose largest metastasis measures ``largest_diameter_um`` µm.

    ``scale`` multiplies both thresholds (a synthetic geometry whose patches cover ``scale`` times the
    paper's µm draws its lesions ``scale`` times smaller; see :class:`cpath_repro.synth.slides.Geometry`).
    0 (or less) is "negative"; exactly 0.2 mm x scale is still ITC and exactly 2.0 mm x scale still micro.
    """
    if not (np.isfinite(largest_diameter_um) and np.isfinite(scale) and scale > 0):
        raise ParameterError(
            f"slide_class needs a finite diameter in µm and a positive scale, got {largest_diameter_um} and {scale}."
        )
    if largest_diameter_um <= 0:
        return "negative"
    if largest_diameter_um > MACRO_MM * 1000 * scale:
        return "macro"
    if largest_diameter_um > MICRO_MM * 1000 * scale:
        return "micro"
    return "itc"


def pn_stage(slide_classes: Sequence[str]) -> str:
    """The patient's pN-stage from the classes of their lymph-node slides (Camelyon17 rules).

    pN0: no micro, macro or ITC; pN0(i+): only ITCs; pN1mi: micro-metastases, no macro; pN1: metastases
    (micro or macro) in 1-3 nodes, at least one macro; pN2: metastases in 4-9 nodes, at least one macro.
    ITCs are not positive nodes, so they never count toward the 1-3 / 4-9 nodes.
    """
    unknown = [c for c in slide_classes if c not in SLIDE_CLASSES]
    if unknown or not slide_classes:
        raise ParameterError(
            f"pn_stage needs one class per lymph node among {', '.join(SLIDE_CLASSES)}, got {list(slide_classes)}."
        )
    metastatic = sum(c in ("micro", "macro") for c in slide_classes)
    if "macro" in slide_classes:
        return "pN2" if metastatic >= PN2_MIN_NODES else "pN1"
    if "micro" in slide_classes:
        return "pN1mi"
    if "itc" in slide_classes:
        return "pN0(i+)"
    return "pN0"


def _stage_indices(stages: Sequence[str], which: str) -> list[int]:
    unknown = sorted({s for s in stages if s not in STAGES})
    if unknown:
        raise ParameterError(f"The {which} stages {unknown} are not pN-stages; use {', '.join(STAGES)}.")
    return [STAGES.index(s) for s in stages]


def kappa(true_stages: Sequence[str], predicted_stages: Sequence[str]) -> float:
    """Cohen's kappa with quadratic weights over the five ordered stages (the Camelyon17 score).

    ``sklearn.metrics.cohen_kappa_score(..., weights="quadratic")`` with the stages as integers in
    :data:`STAGES` order, as the challenge's evaluation code does.
    """
    from sklearn.metrics import cohen_kappa_score

    if len(true_stages) != len(predicted_stages) or not true_stages:
        raise ParameterError(
            f"kappa needs as many predicted stages as true ones (at least one), got {len(true_stages)} and "
            f"{len(predicted_stages)}."
        )
    y_true = _stage_indices(true_stages, "true")
    y_pred = _stage_indices(predicted_stages, "predicted")
    return float(cohen_kappa_score(y_true, y_pred, labels=list(range(len(STAGES))), weights="quadratic"))


def heatmap_features(probability: np.ndarray, tissue: np.ndarray, patch_um: float) -> dict[str, float]:
    """Slide-level features of a tumour-probability heatmap with one pixel per patch of ``patch_um`` µm.

    The tumour region is ``probability > 0.5`` inside ``tissue``, split into 8-connected components.
    Areas are in mm², lengths in mm (a component's longest axis is skimage's ``major_axis_length`` in
    patches x ``patch_um`` / 1000); probabilities and shares are over the tissue (0 when there is none).
    """
    p = np.nan_to_num(np.asarray(probability, dtype=np.float64), nan=0.0)
    tissue = np.asarray(tissue, dtype=bool)
    if p.ndim != 2 or p.shape != tissue.shape:
        raise ParameterError(
            f"heatmap_features needs a 2-D probability map and a tissue mask of the same shape, got {p.shape} "
            f"and {tissue.shape}."
        )
    if not (np.isfinite(patch_um) and patch_um > 0):
        raise ParameterError(f"patch_um must be the positive side of a patch in µm, got {patch_um}.")
    mm = patch_um / 1000.0
    tumour = (p > TUMOUR_THRESHOLD) & tissue
    regions = measure.regionprops(measure.label(tumour, connectivity=2))
    largest = max(regions, key=lambda r: r.area, default=None)
    n_tissue = int(tissue.sum())
    inside = p[tissue]
    return {
        "largest_area_mm2": float(largest.area) * mm * mm if largest is not None else 0.0,
        "largest_axis_mm": float(largest.axis_major_length) * mm if largest is not None else 0.0,
        "n_components": float(len(regions)),
        "tumour_area_mm2": float(tumour.sum()) * mm * mm,
        "max_probability": float(inside.max()) if n_tissue else 0.0,
        "mean_probability": float(inside.mean()) if n_tissue else 0.0,
        "share_above_0.5": float((inside > TUMOUR_THRESHOLD).mean()) if n_tissue else 0.0,
        "share_above_0.9": float((inside > CONFIDENT_THRESHOLD).mean()) if n_tissue else 0.0,
    }


def feature_matrix(features: Sequence[Mapping[str, float]] | np.ndarray) -> np.ndarray:
    """``(n_slides, len(FEATURE_NAMES))`` from feature dicts (by name) or an array already in that order."""
    if isinstance(features, np.ndarray):
        matrix = np.asarray(features, dtype=np.float64)
    else:
        try:
            matrix = np.array([[float(f[name]) for name in FEATURE_NAMES] for f in features], dtype=np.float64)
        except KeyError as exc:
            raise ParameterError(f"A slide's features lack {exc}; compute them with heatmap_features.") from None
    if matrix.ndim != 2 or matrix.shape[1] != len(FEATURE_NAMES):
        raise ParameterError(
            f"Slide features must have the {len(FEATURE_NAMES)} columns of FEATURE_NAMES, got shape {matrix.shape}."
        )
    return matrix


class SlideClassifier:
    """A random forest (fixed seed) from :func:`heatmap_features` to Camelyon17 slide classes."""

    def __init__(self, n_estimators: int = N_TREES, random_state: int = RANDOM_STATE) -> None:
        from sklearn.ensemble import RandomForestClassifier

        self.model: Any = RandomForestClassifier(n_estimators=n_estimators, random_state=random_state)

    def fit(self, features: Sequence[Mapping[str, float]] | np.ndarray, classes: Sequence[str]) -> SlideClassifier:
        unknown = sorted({c for c in classes if c not in SLIDE_CLASSES})
        if unknown:
            raise ParameterError(f"Slide classes {unknown} are not Camelyon17 classes; use {', '.join(SLIDE_CLASSES)}.")
        matrix = feature_matrix(features)
        if len(matrix) != len(classes) or not len(classes):
            raise ParameterError(f"fit needs one class per slide, got {len(matrix)} slides and {len(classes)} classes.")
        self.model.fit(matrix, np.asarray(classes))
        return self

    @property
    def classes_(self) -> tuple[str, ...]:
        return tuple(str(c) for c in self.model.classes_)

    def predict(self, features: Sequence[Mapping[str, float]] | np.ndarray) -> list[str]:
        return [str(c) for c in self.model.predict(feature_matrix(features))]

    def predict_proba(self, features: Sequence[Mapping[str, float]] | np.ndarray) -> np.ndarray:
        """``(n_slides, len(classes_))`` class probabilities, columns in :attr:`classes_` order."""
        return np.asarray(self.model.predict_proba(feature_matrix(features)))
