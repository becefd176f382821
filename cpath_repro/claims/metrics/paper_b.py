"""Paper B's claim metrics."""

from __future__ import annotations

from cpath_repro.claims.metrics import Metric

#: Percent (0-100), as in paper B: B-C5's tolerance of 1.0 is one point
TOP1_ACCURACY = Metric("top1_accuracy", "top-1 test accuracy", "%", 1)
KNN_ACCURACY = Metric("knn_accuracy", "k-nearest-neighbour accuracy on the test set's features", "%", 1)
SILHOUETTE = Metric("silhouette", "silhouette score of the test set's features by class", "", 3)
