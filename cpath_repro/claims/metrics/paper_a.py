"""Paper A's claim metrics."""

from __future__ import annotations

from cpath_repro.claims.metrics import Metric
from cpath_repro.data.tiles import CLASSES

#: Per-class test F1 (background, tumour, tissue, necrosis)
F1 = tuple(Metric(f"f1_{c}", f"test F1 of the {c} class", "F1", 3) for c in CLASSES)
EPOCHS_TO_SHARED_LEVEL = Metric("epochs_to_90pct_of_lower_final_f1",
                                "epochs to 90 % of the lower final validation F1", "epochs", 1)
#: the curve's movement beyond its net rise, per unit of rise (cpath_repro.metrics.segmentation.roughness)
F1_CURVE_ROUGHNESS = Metric("f1_curve_roughness_per_rise", "roughness of the validation-F1 curve")
CONVERGENCE = (EPOCHS_TO_SHARED_LEVEL, F1_CURVE_ROUGHNESS)
STAIN_OD_ANGLE_DEG = Metric("stain_od_angle_deg",
                            "angle between a filter's optimal colour and the nearest stain's colour", "°", 1)
BEST_STAIN_MAP_CORRELATION = Metric("best_stain_map_correlation",
                                    "best |r| between a segment output and a stain's concentration map")
ERF_RADIUS_90PCT_PX = Metric("erf_radius_90pct_px", "radius holding 90 % of the effective receptive field", "px", 1)
#: the real-H&E check beside A-C6
RGB2HED_BEST_R_HAEMATOXYLIN = Metric("rgb2hed_best_abs_r_haematoxylin",
                                     "best |r| with scikit-image's haematoxylin channel")
RGB2HED_BEST_R_EOSIN = Metric("rgb2hed_best_abs_r_eosin", "best |r| with scikit-image's eosin channel")
