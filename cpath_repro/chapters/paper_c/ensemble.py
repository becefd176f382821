"""Paper C, section 12 ("Ensembling"), C-T8: averaging class-weighted models with weights (0.95 - validation loss).

Section 12: "we combined them by using a weighted average for each probability value, weighted by
the difference between 0.95 and the validation loss of that model. This weighting technique ensures
higher contributions from the better scoring models."

Deviation (stated by :attr:`EnsembleWeights.deviation` for the page): a validation loss above 0.95
would give a negative weight, which the paper does not address. Weights are clipped at 0 and the
rest renormalised to sum 1; if no weight is positive, every model gets the same weight.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from cpath_repro.errors import UserError

#: The constant the validation losses are subtracted from. Section 12: "weighted by the difference
#: between 0.95 and the validation loss of that model".
LOSS_CEILING = 0.95
#: How far a probability row may be from summing to 1 before :func:`combine` refuses it (float32 softmax).
ROW_SUM_TOLERANCE = 1e-4


class EnsembleInputError(UserError, ValueError):
    """Validation losses, weights or predicted probabilities given to the ensemble are unusable."""


@dataclass(frozen=True)
class EnsembleWeights:
    """The ensemble's weights and how they were reached.

    ``raw``: ``0.95 - loss`` per model, as the paper computes them. ``weights``: non-negative,
    summing to 1. ``clipped``: some raw weight was negative and was set to 0. ``equal``: no raw
    weight was positive, so every model got ``1 / n``.
    """

    val_losses: np.ndarray
    raw: np.ndarray
    weights: np.ndarray
    clipped: bool
    equal: bool

    @property
    def deviation(self) -> str | None:
        """One sentence for the page when the weights depart from the paper's formula, else ``None``."""
        if self.equal:
            return (f"Every validation loss is at or above {LOSS_CEILING}, so no weight (0.95 - loss) is positive; "
                    "the models are averaged with equal weights instead.")
        if self.clipped:
            over = ", ".join(f"{loss:.4f}" for loss in self.val_losses[self.raw < 0])
            return (f"Validation loss above {LOSS_CEILING} ({over}) would give a negative weight (0.95 - loss); "
                    "those weights are set to 0 and the others renormalised to sum 1.")
        return None


def _check_losses(val_losses: Sequence[float] | np.ndarray) -> np.ndarray:
    losses = np.asarray(val_losses, dtype=np.float64)
    if losses.ndim != 1 or losses.size == 0:
        msg = (f"Expected one validation loss per model as a non-empty list, got shape {losses.shape}; "
               "pass e.g. [0.75, 0.85, 0.90].")
        raise EnsembleInputError(msg)
    if not np.isfinite(losses).all() or (losses < 0).any():
        msg = (f"Validation losses must be finite cross-entropies >= 0, got {losses.tolist()}; "
               "check that every model finished training and was evaluated.")
        raise EnsembleInputError(msg)
    return losses


def paper_weights(val_losses: Sequence[float] | np.ndarray) -> EnsembleWeights:
    """Weights ``0.95 - loss``, clipped at 0 and normalised to sum 1 (equal weights if none is positive)."""
    losses = _check_losses(val_losses)
    raw = LOSS_CEILING - losses
    clipped = bool((raw < 0).any())
    positive = np.clip(raw, 0.0, None)
    total = positive.sum()
    equal = not total > 0
    weights = np.full(losses.size, 1.0 / losses.size) if equal else positive / total
    return EnsembleWeights(val_losses=losses, raw=raw, weights=weights, clipped=clipped, equal=equal)


def ensemble_weights(val_losses: Sequence[float] | np.ndarray) -> np.ndarray:
    """The weights of :func:`paper_weights` alone: non-negative, one per model, summing to 1."""
    return paper_weights(val_losses).weights


def combine(probabilities: Sequence[np.ndarray], weights: Sequence[float] | np.ndarray) -> np.ndarray:
    """Weighted average of the models' class probabilities, each ``(N, K)`` (K = 3 types): ``(N, K)``, rows sum 1.

    ``weights`` are those of :func:`ensemble_weights` (non-negative, summing to 1). Each input row must
    already sum to 1 (within :data:`ROW_SUM_TOLERANCE`); the output rows are renormalised exactly.
    """
    if len(probabilities) == 0:
        msg = "Expected the predicted probabilities of at least one model, got none; pass one (N, 3) array per model."
        raise EnsembleInputError(msg)
    arrays = [np.asarray(p, dtype=np.float64) for p in probabilities]
    shapes = {a.shape for a in arrays}
    if len(shapes) != 1 or arrays[0].ndim != 2 or arrays[0].shape[0] == 0:
        msg = (f"Expected every model's probabilities as the same (N, 3) array shape with N >= 1, got shapes "
               f"{[a.shape for a in arrays]}; predict every model on the same images.")
        raise EnsembleInputError(msg)
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != (len(arrays),):
        msg = (f"Expected one weight per model ({len(arrays)}), got weights of shape {w.shape}; "
               "pass ensemble_weights(val_losses) computed for the same models.")
        raise EnsembleInputError(msg)
    if not np.isfinite(w).all() or (w < 0).any() or not np.isclose(w.sum(), 1.0):
        msg = (f"Expected non-negative weights summing to 1, got {w.tolist()}; "
               "pass ensemble_weights(val_losses).")
        raise EnsembleInputError(msg)
    stacked = np.stack(arrays)
    bad_rows = ~np.isfinite(stacked).all(axis=2) | (stacked < 0).any(axis=2) | (
        np.abs(stacked.sum(axis=2) - 1.0) > ROW_SUM_TOLERANCE)
    if bad_rows.any():
        model, row = (int(i[0]) for i in np.nonzero(bad_rows))
        msg = (f"Model {model}'s probabilities at row {row} are not a distribution (non-negative, summing to 1), "
               f"got {stacked[model, row].tolist()}; pass softmax outputs, not logits.")
        raise EnsembleInputError(msg)
    combined = np.tensordot(w, stacked, axes=1)
    return combined / combined.sum(axis=1, keepdims=True)
