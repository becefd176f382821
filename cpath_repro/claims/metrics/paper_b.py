"""Paper B's claim metrics."""

from __future__ import annotations

TOP1_ACCURACY = "top1_accuracy"  # percent (0-100), as in paper B: B-C5's tolerance of 1.0 is one point
KNN_ACCURACY = "knn_accuracy"
SILHOUETTE = "silhouette"
