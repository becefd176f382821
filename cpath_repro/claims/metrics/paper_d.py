"""Paper D's claim metrics."""

from __future__ import annotations

from cpath_repro.claims.metrics import Metric

ACCURACY = Metric("accuracy", "patch accuracy on the test slides", "%", 1)
PR_AUC = Metric("pr_auc", "area under the precision-recall curve (tumour patches)", "%", 1)
PEAK_MEMORY_RATIO_4X_PATCHES = Metric("peak_memory_ratio_4x_patches",
                                      "peak memory at 4 times the patches over peak memory at 1 time", "×", 2)
MAX_RELATIVE_GRADIENT_ERROR = Metric("max_relative_gradient_error",
                                     "largest relative gradient error against full back-propagation", "", 2,
                                     scientific=True)
#: D-C3's limit on MAX_RELATIVE_GRADIENT_ERROR (max over parameter tensors of ||g - g_ref|| / ||g_ref||,
#: cpath_repro.train.end_to_end.relative_gradient_error): the end-to-end gradient is the same sum as plain
#: back-propagation's, added in another order, so in float32 it differs by rounding only (~1e-7 measured);
#: 1e-4 leaves room for that and for GPU kernels, and any real error (a changed dropout mask or batch) is far above.
GRADIENT_ERROR_LIMIT = 1e-4
ISOLATED_FALSE_TUMOUR_POINTS = Metric("isolated_false_tumour_points",
                                      "isolated false tumour points on the test slides", "points", 1)
QUADRATIC_KAPPA = Metric("quadratic_kappa", "patient-level quadratic-weighted kappa of the pN stage", "", 3)
