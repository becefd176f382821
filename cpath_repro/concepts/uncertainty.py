"""Uncertainty (paper E): Monte-Carlo dropout, calibration error, split conformal prediction."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


def mc_dropout_probabilities(model: nn.Module, x: torch.Tensor, passes: int = 20) -> np.ndarray:
    """Average softmax over ``passes`` forward passes with dropout active (Gal & Ghahramani 2016);
    batch norm stays in evaluation mode."""
    model.eval()
    for m in model.modules():
        if isinstance(m, nn.Dropout):
            m.train()
    with torch.no_grad():
        probs = torch.stack([torch.softmax(model(x), 1) for _ in range(passes)]).mean(0)
    model.eval()
    return probs.numpy()


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, bins: int = 10):  # type: ignore[no-untyped-def]
    """ECE over equal-width confidence bins; also returns (bin confidence, bin accuracy, count) for a
    reliability diagram."""
    confidence = probs.max(1)
    correct = probs.argmax(1) == labels
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1]), 0, bins - 1)
    ece, diagram = 0.0, []
    for b in range(bins):
        inside = which == b
        if inside.any():
            conf, acc = confidence[inside].mean(), correct[inside].mean()
            ece += inside.mean() * abs(acc - conf)
            diagram.append((float(conf), float(acc), int(inside.sum())))
    return float(ece), diagram


def conformal_threshold(cal_probs: np.ndarray, cal_labels: np.ndarray, alpha: float) -> float:
    """Split conformal (Vovk): the ceil((n+1)(1-alpha))/n quantile of the scores 1 - p(true class)."""
    scores = 1 - cal_probs[np.arange(len(cal_labels)), cal_labels]
    n = len(scores)
    level = min(1.0, np.ceil((n + 1) * (1 - alpha)) / n)
    return float(np.quantile(scores, level, method="higher"))


def prediction_sets(probs: np.ndarray, threshold: float) -> np.ndarray:
    """Boolean ``(n, classes)``: the classes whose score 1 - p is within the threshold."""
    return (1 - probs) <= threshold


def conformal_coverage(probs: np.ndarray, labels: np.ndarray, alpha: float, repeats: int = 100,
                       seed: int = 0) -> dict[str, float]:
    """Coverage and mean set size over ``repeats`` random calibration/test halves."""
    rng = np.random.default_rng(seed)
    coverage, size = [], []
    for _ in range(repeats):
        order = rng.permutation(len(labels))
        cal, test = order[: len(order) // 2], order[len(order) // 2:]
        sets = prediction_sets(probs[test], conformal_threshold(probs[cal], labels[cal], alpha))
        coverage.append(sets[np.arange(len(test)), labels[test]].mean())
        size.append(sets.sum(1).mean())
    return {"target": 1 - alpha, "coverage_mean": float(np.mean(coverage)), "coverage_std": float(np.std(coverage)),
            "mean_set_size": float(np.mean(size))}
