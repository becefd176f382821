"""The metric names the claims are judged on: one constant each, imported by the registry and by the
chapter that measures it, so a rename cannot silently turn a verdict into "not testable"."""

from __future__ import annotations

from cpath_repro.data.tiles import CLASSES

# Paper A
F1 = tuple(f"f1_{c}" for c in CLASSES)  # per-class test F1 (background, tumour, tissue, necrosis)
EPOCHS_TO_90PCT_FINAL_F1 = "epochs_to_90pct_final_f1"
F1_CURVE_TOTAL_VARIATION = "f1_curve_total_variation"
CONVERGENCE = (EPOCHS_TO_90PCT_FINAL_F1, F1_CURVE_TOTAL_VARIATION)
STAIN_OD_ANGLE_DEG = "stain_od_angle_deg"
BEST_STAIN_MAP_CORRELATION = "best_stain_map_correlation"
ERF_RADIUS_90PCT_PX = "erf_radius_90pct_px"
RGB2HED_BEST_R_HAEMATOXYLIN = "rgb2hed_best_abs_r_haematoxylin"  # the real-H&E check beside A-C6
RGB2HED_BEST_R_EOSIN = "rgb2hed_best_abs_r_eosin"
# Paper B
TOP1_ACCURACY = "top1_accuracy"  # percent (0-100), as in paper B: B-C5's tolerance of 1.0 is one point
KNN_ACCURACY = "knn_accuracy"
SILHOUETTE = "silhouette"
# Paper C
VAL_LOSS = "val_loss"
MASS_IN_TRUE_ZONE = "mass_in_true_zone"
# Paper D
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
