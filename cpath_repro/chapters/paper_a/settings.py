"""Paper A's settings: every notebook parameter of the chapter, declared once (one set for all its notebooks,
so they share trained models: the same store keys), and what the chapter derives from them.

``paper`` values are the paper's own (section 3): 512 px tiles, half-width UNET (32) with 4
poolings, batch 16 per GPU, base LR 0.001 (times the number of processes), 200 epochs,
validation every 10. ``default`` values are chosen for 14 minutes on 2 CPU cores (see the
chapter page); ``ci`` values only exercise the code. The recipe (:mod:`.training`) reads these
settings but does not import this module (it holds the words a reader sees), so rewording a
parameter's meaning retrains nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cpath_repro import profiles
from cpath_repro.data.layout import locate
from cpath_repro.profiles import between, data_root_param, param, same

if TYPE_CHECKING:
    from cpath_repro.synth.tissue import TissueConfig


@dataclass(frozen=True)
class Settings(profiles.Settings):
    """Paper A's notebook parameters and what the chapter derives from them."""

    n_seeds: int = param("paired seeds (each makes its own data; every arm trains on it)",
                         {"ci": 1, "default": 5, "paper": 3}, between(1, 20))
    tile: int = param("tile side in pixels", {"ci": 32, "default": 64, "paper": 512}, between(16, 2048))
    base: int = param("UNET filters in the first level (paper: half of 64)", {"ci": 4, "default": 8, "paper": 32},
                      between(1, 256))
    depth: int = param("UNET poolings", {"ci": 2, "default": 3, "paper": 4}, between(1, 6))
    epochs: int = param("training epochs", {"ci": 2, "default": 15, "paper": 200}, between(1, 10_000))
    val_every: int = param("validate every k epochs", {"ci": 1, "default": 1, "paper": 10}, between(1, 1000))
    batch_size: int = param("tiles per batch (per process)", {"ci": 8, "default": 16, "paper": 16}, between(1, 4096))
    lr: float = param("SGD base learning rate (times the number of processes)",
                      {"ci": 0.01, "default": 0.01, "paper": 0.001}, between(1e-7, 10.0))
    difficulty: float = param("synthetic morphology overlap between classes (0-1)", same(0.4), between(0.0, 1.0))
    train_slides: int = param("synthetic training slides per assay", {"ci": 1, "default": 2, "paper": 2},
                              between(1, 100))
    test_slides: int = param("synthetic test slides per assay", {"ci": 1, "default": 2, "paper": 2},
                             between(1, 100))
    data_root: Path | None = data_root_param()

    @property
    def tile_folder(self) -> Path:
        """The real tile folder (``data_root/multistain-tiles``, or data_root itself)."""
        assert self.data_root is not None
        return locate(self.data_root, "multistain-tiles")

    def tissue(self) -> TissueConfig:
        """The synthetic slides' generator settings: slides four tiles wide."""
        from cpath_repro.synth.tissue import TissueConfig  # not at import: the catalog reads this module

        return TissueConfig(canvas=4 * self.tile, tile=self.tile, difficulty=self.difficulty)
