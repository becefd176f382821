"""Segmentation metrics and class balancing, with ``exclude`` pixels ignored throughout."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch


def confusion(pred: torch.Tensor, target: torch.Tensor, n_classes: int, ignore: int) -> torch.Tensor:
    """``(n_classes, n_classes)`` counts, rows = truth, columns = prediction; ``ignore`` pixels skipped."""
    keep = target != ignore
    index = target[keep].long() * n_classes + pred[keep].long()
    return torch.bincount(index, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def f1_per_class(matrix: torch.Tensor | np.ndarray) -> np.ndarray:
    """F1 of each class from a confusion matrix (0 where a class is absent from truth and prediction)."""
    m = np.asarray(matrix, dtype=np.float64)
    tp = np.diag(m)
    denom = m.sum(0) + m.sum(1)  # = 2 tp + fp + fn
    return np.divide(2 * tp, denom, out=np.zeros_like(tp), where=denom > 0)


def median_frequency_weights(labels: torch.Tensor | np.ndarray, n_classes: int, ignore: int) -> np.ndarray:
    """Median frequency balancing (Eigen & Fergus 2015): ``w_c = median(f) / f_c``.

    ``f_c`` is the number of pixels of class c divided by the number of pixels of the images
    in which c appears (their definition); ``ignore`` pixels are not counted.
    """
    labels = np.asarray(labels)
    counts = np.zeros(n_classes)
    present_pixels = np.zeros(n_classes)
    for image in labels.reshape(-1, *labels.shape[-2:]):
        valid = image != ignore
        n_valid = valid.sum()
        per_class = np.bincount(image[valid].ravel(), minlength=n_classes)[:n_classes]
        counts += per_class
        present_pixels += (per_class > 0) * n_valid
    freq = np.divide(counts, present_pixels, out=np.zeros(n_classes), where=present_pixels > 0)
    median = np.median(freq[freq > 0])
    return np.divide(median, freq, out=np.zeros(n_classes), where=freq > 0)


def epochs_to_fraction_of_final(epochs: np.ndarray, curve: np.ndarray, fraction: float = 0.9) -> float:
    """First epoch at which the curve reaches ``fraction`` of its final value (convergence speed)."""
    target = fraction * curve[-1]
    hits = np.nonzero(curve >= target)[0]
    return float(epochs[hits[0]]) if len(hits) else float(epochs[-1])


def total_variation(curve: np.ndarray) -> float:
    """Sum of absolute changes between successive validations (smoothness: lower is smoother)."""
    return float(np.abs(np.diff(curve)).sum())


def epochs_to_level(epochs: np.ndarray, curve: np.ndarray, level: float) -> float:
    """First epoch at which the curve reaches ``level`` (the last epoch if it never does)."""
    hits = np.nonzero(np.asarray(curve) >= level)[0]
    return float(epochs[hits[0]]) if len(hits) else float(epochs[-1])


def plateaued(curve: Sequence[float] | np.ndarray, tail: float, within: float) -> bool:
    """Whether a validation curve (higher is better) levelled off: its last ``tail`` share of epochs (at least
    one) brought no new best by more than ``within`` over the best before them. A training that keeps its best
    epoch loses nothing by falling back after its peak; one still climbing at its end has its best in the tail."""
    curve = np.asarray(curve, dtype=float)
    if len(curve) < 2:
        return False
    k = max(1, int(round(tail * len(curve))))
    return bool(curve[-k:].max() - curve[:-k].max() <= within)


def roughness(curve: np.ndarray, min_rise: float) -> float:
    """How much a curve moves beyond its net rise, per unit of rise: ``(total variation - |last - first|) /
    max(|last - first|, min_rise)``. 0 for a monotone curve; a curve that wiggles without rising scores high,
    so an arm cannot look smooth by learning little (total variation alone would favour it)."""
    curve = np.asarray(curve, dtype=float)
    rise = abs(float(curve[-1] - curve[0]))
    return (total_variation(curve) - rise) / max(rise, min_rise)


def dice_iou(pred: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """Dice and IoU of two boolean masks (foreground vs background); 0 when both are empty."""
    inter = float(np.logical_and(pred, truth).sum())
    total = float(pred.sum() + truth.sum())
    union = float(np.logical_or(pred, truth).sum())
    return 2 * inter / max(total, 1.0), inter / max(union, 1.0)
