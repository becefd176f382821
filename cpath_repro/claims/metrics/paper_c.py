"""Paper C's claim metrics."""

from __future__ import annotations

VAL_LOSS = "val_loss"
MASS_IN_TRUE_ZONE = "mass_in_true_zone"
