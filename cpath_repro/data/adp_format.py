"""The numbers of ADP's format that paper B standardizes every dataset to (a leaf: constants only).

Kept apart from :mod:`cpath_repro.data.standardize` so that the chapter's notebook declarations
can default to them without importing the standardization code (which would put it in every
page's cache key).
"""

from __future__ import annotations

#: ADP's format (paper B, section 2.1): 272×272 crops at 1 µm/px.
SIZE = 272
TARGET_MPP = 1.0
#: Overlap between neighbouring crops: the authors' code (``percent_overlap=0.25``), which
#: reproduces Table 1's counts, and the paper's text ("50% overlap in either direction").
CODE_OVERLAP = 0.25
PAPER_OVERLAP = 0.5
CODE_STRIDE = round(SIZE * (1 - CODE_OVERLAP))  # 204
#: The percentiles and threshold of the contrast rule, shared by both readings (paper B,
#: section 2.1: "between the 5th percentile and 99th percentile having less than 5% coverage
#: of the colour span (0 - 255)"; the code passes lower_percentile=5, upper_percentile=99).
LOWER_PERCENTILE = 5.0
UPPER_PERCENTILE = 99.0
FRACTION = 0.05
#: The two readings of the low-contrast rule (:data:`cpath_repro.data.standardize.RULES`): the text's and the code's.
RULE_NAMES = ("paper", "code")
