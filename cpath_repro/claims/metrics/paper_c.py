"""Paper C's claim metrics."""

from __future__ import annotations

from cpath_repro.claims.metrics import Metric

VAL_LOSS = Metric("val_loss", "validation loss (cross-entropy)", "", 3)
MASS_IN_TRUE_ZONE = Metric("mass_in_true_zone", "share of the map's mass inside the transformation zone", "", 3)
