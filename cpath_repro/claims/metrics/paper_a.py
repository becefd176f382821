"""Paper A's claim metrics."""

from __future__ import annotations

from cpath_repro.data.tiles import CLASSES

F1 = tuple(f"f1_{c}" for c in CLASSES)  # per-class test F1 (background, tumour, tissue, necrosis)
EPOCHS_TO_SHARED_LEVEL = "epochs_to_90pct_of_lower_final_f1"
F1_CURVE_ROUGHNESS = "f1_curve_roughness_per_rise"
CONVERGENCE = (EPOCHS_TO_SHARED_LEVEL, F1_CURVE_ROUGHNESS)
STAIN_OD_ANGLE_DEG = "stain_od_angle_deg"
BEST_STAIN_MAP_CORRELATION = "best_stain_map_correlation"
ERF_RADIUS_90PCT_PX = "erf_radius_90pct_px"
RGB2HED_BEST_R_HAEMATOXYLIN = "rgb2hed_best_abs_r_haematoxylin"  # the real-H&E check beside A-C6
RGB2HED_BEST_R_EOSIN = "rgb2hed_best_abs_r_eosin"
