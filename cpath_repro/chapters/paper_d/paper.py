"""Paper D's published numbers, one place, by table (Takahama et al.; Tables 1-3 and section 4.2.1).

Accuracy and PR-AUC are in percent, as the paper prints them (mean, sd over its 3 runs); the keys are
the arms' names the chapter's tables and the claims registry use.
"""

from __future__ import annotations

#: Table 1, stomach biopsies: (accuracy mean, sd, PR-AUC mean, sd).
D_T1 = {
    "classifier-only": (95.92, 0.11, 96.08, 0.10),
    "segmentation-only": (92.24, 0.14, 87.21, 1.85),
    "imagenet-features": (89.35, 0.59, 78.99, 1.59),
    "separate": (98.53, 0.03, 99.30, 0.02),
    "end-to-end": (98.45, 0.01, 99.34, 0.00),
}
#: Table 2, Camelyon16.
D_T2 = {
    "classifier-only": (96.23, 0.21, 96.39, 0.67),
    "end-to-end": (98.14, 0.05, 99.24, 0.03),
}
#: Table 3, Camelyon17 patient-level quadratic-weighted kappa, as printed: × 100 (one number each).
D_T3 = {"classifier-only": 71.9, "end-to-end": 76.4}
#: A kappa runs from -1 to 1; Table 3 prints it times this.
D_T3_PRINTED_SCALE = 100.0


def kappa(method: str) -> float:
    """Table 3's kappa of ``method`` on the kappa's own scale (0.719 for the printed 71.9)."""
    return round(D_T3[method] / D_T3_PRINTED_SCALE, 4)
#: Section 4.2.1, memory (MiB on a 16 GB P100) and the batch size it was measured at.
D_M1_MEMORY_MIB = {
    "classifier-only": (8000, "batch 128"),
    "segmentation-only": (7000, "batch 1"),
    "separate": (1000, "segmenter, batch 32"),
    "end-to-end": (10000, "one slide"),
}
#: Section 4.2.1, training time (hours, NVIDIA DGX-1 with Tesla P100 16 GB).
D_M1_HOURS = {"classifier-only": 30.0, "separate": 38.0, "end-to-end": 73.0}
#: The names the paper's tables print for the arms.
LABELS = {
    "classifier-only": "Classifier only",
    "segmentation-only": "Segmentation only (1/8)",
    "imagenet-features": "ImageNet features",
    "separate": "Separate learning",
    "end-to-end": "End-to-end learning",
}
