"""Paper C's published numbers (validation loss, validation accuracy in percent), one place, by table.

Every value is the paper's own (sections 6, 8, 9, 11 and 12); the keys are the arms' names the
chapter's tables and the claims registry use.
"""

from __future__ import annotations

import pandas as pd

from cpath_repro.synth.cervix import ADDITIONAL_COUNTS, INITIAL_COUNTS, TYPES

#: Section 4.1: images per type, initial and additional sets.
C_T1 = pd.DataFrame({"type": TYPES, "initial": INITIAL_COUNTS, "additional": ADDITIONAL_COUNTS})
#: Section 4.2's reference losses: a uniform guess, and a guess at the class prior (17/53/30 %).
UNIFORM_LOSS = 1.099
PRIOR_LOSS = 0.999

#: Section 6, baselines (initial data, no augmentation).
C_T2 = {"vanilla CNN": (0.9723, 51.52), "ResNet": (1.0963, 59.12), "Inception-v3": (0.8953, 60.47)}
#: Section 8, % of each side kept, centred.
C_T3 = {100: (0.8168, 63.18), 85: (0.8114, 64.53), 70: (0.7725, 68.24), 55: (0.8249, 61.15), 40: (0.8567, 60.14)}
#: Section 9, class weights (Type 1, 2, 3).
C_T4 = {(5.88, 1.89, 3.33): (0.9931, 48.31), (4.88, 1.89, 3.33): (0.9696, 54.39),
        (4.88, 1.89, 2.33): (0.9652, 56.08), (2.5, 1.0, 1.5): (0.8583, 57.77)}
#: The registry's names for two of them (claim C-C3).
WEIGHT_NAMES = {(5.88, 1.89, 3.33): "inverse-frequency", (2.5, 1.0, 1.5): "moderate-weights"}
#: Section 11.1, feature extractor (3 layers, frozen, with the filtered additional data).
C_T5 = {"none": (0.8016, 63.51), "inception-v3": (0.7592, 68.24), "resnet": (0.7157, 69.93)}
#: Section 11.2, ResNet layers used (trained).
C_T6 = {3: (0.7734, 62.16), 6: (0.7629, 67.23), 12: (0.7565, 64.86), 20: (0.7894, 63.18)}
#: Section 11.3, extractor layers trained or not.
C_T7 = {"fine-tuned": (0.7734, 62.16), "frozen": (0.7157, 69.93)}
#: Section 12 and the abstract: the ensemble's Kaggle test loss and rank.
C_T8_KAGGLE_LOSS = 0.74517
C_T8_RANK = (122, 829)
