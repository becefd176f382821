"""Paper D's claim metrics."""

from __future__ import annotations

ACCURACY = "accuracy"
PR_AUC = "pr_auc"
PEAK_MEMORY_RATIO_4X_PATCHES = "peak_memory_ratio_4x_patches"
MAX_RELATIVE_GRADIENT_ERROR = "max_relative_gradient_error"
#: D-C3's limit on MAX_RELATIVE_GRADIENT_ERROR (max over parameter tensors of ||g - g_ref|| / ||g_ref||,
#: cpath_repro.train.end_to_end.relative_gradient_error): the end-to-end gradient is the same sum as plain
#: back-propagation's, added in another order, so in float32 it differs by rounding only (~1e-7 measured);
#: 1e-4 leaves room for that and for GPU kernels, and any real error (a changed dropout mask or batch) is far above.
GRADIENT_ERROR_LIMIT = 1e-4
ISOLATED_FALSE_TUMOUR_POINTS = "isolated_false_tumour_points"
QUADRATIC_KAPPA = "quadratic_kappa"
