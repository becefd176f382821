"""Paper C's settings: every notebook parameter of the chapter, declared once (one set for all its notebooks,
so they share trained models), and what the recipe derives from them.

The ``paper`` profile keeps the paper's 320×240 images and the Kaggle set's sizes (1,481 initial and
6,734 additional images), with the paper's values (sections 4-12) where it gives them. The ``default``
profile must fit 10 minutes on 2 CPU cores (ResNet-50 trains about 3 images/s at 320×240 there), so it
works at 100×75 with a few hundred images; the chapter page states both. ``ci`` values only exercise the
code. The recipe reads these settings but does not import this module (it holds the words a reader sees),
so rewording a parameter retrains nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cpath_repro import profiles
from cpath_repro.profiles import between, data_root_param, param, same


@dataclass(frozen=True)
class Settings(profiles.Settings):
    """Paper C's notebook parameters and what the chapter derives from them."""

    n_seeds: int = param("paired trials (seed s makes the data and the initial weights of trial s)",
                         {"ci": 1, "default": 5, "paper": 3}, between(1, 20))
    table_seeds: int = param("paired trials of the tables no claim reads (C-T2's baselines, C-T6's layer counts; "
                             "the claims' arms take n_seeds)", {"ci": 1, "default": 3, "paper": 3}, between(1, 20))
    height: int = param("image height in pixels, width 4/3 of it (the paper: 240, width 320); at least 75, "
                        "Inception-v3's smallest input", {"ci": 75, "default": 75, "paper": 240}, between(75, 3072))
    n_initial: int = param("initial (labelled, clean) images: the paper's 1,481 in its 250/781/450 balance",
                           {"ci": 45, "default": 300, "paper": 1481}, between(15, 10**6))
    n_additional: int = param("additional images (a known share of them bad), in the paper's 1191/3567/1976 "
                              "balance", {"ci": 40, "default": 300, "paper": 6734}, between(0, 10**6))
    n_test: int = param("unlabelled test images for the submission CSV (Kaggle's first stage: 512)",
                        {"ci": 6, "default": 40, "paper": 512}, between(1, 10**6))
    epochs: int = param("training epochs (not given in the text)", {"ci": 1, "default": 5, "paper": 40},
                        between(1, 10_000))
    batch_size: int = param("images per batch (not given in the text)", {"ci": 16, "default": 32, "paper": 32},
                            between(1, 4096))
    lr: float = param("Adam's learning rate (Keras's default, the text names no other)", same(1e-3),
                      between(1e-6, 1.0))
    keep_fraction: float = param("share of the additional images the distribution filter keeps (the text: "
                                 "'the closest'; no share given)", same(0.8), between(0.01, 1.0))
    ensemble_factor: float = param("C-T8: how much more each ensemble member weights its class (not given)",
                                   same(2.0), between(1.0, 100.0))
    difficulty: float = param("synthetic data: how close the types' transformation zones are (0-1)", same(0.25),
                              between(0.0, 1.0))
    zone_reach: float = param("synthetic data: how far types 1 and 2 show in the zone's extent on the cervix, which a "
                              "crop can cut, rather than in a ring sized by the os (0-1; anatomy: 1)",
                              same(1.0), between(0.0, 1.0))
    os_mucus: float = param("synthetic data: share of images with a glistening mucus plug over the os, whatever the "
                            "type (0-1; no published rate: the middle)", same(0.5), between(0.0, 1.0))
    data_root: Path | None = data_root_param()

    @property
    def size(self) -> tuple[int, int]:
        """(height, width): the paper's 4:3 (320×240)."""
        return self.height, round(self.height * 4 / 3)
