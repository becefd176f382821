"""Paper B's resolved parameters (declared in :mod:`.notebooks`), as the recipe reads them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cpath_repro.chapters.paper_b.notebooks import FOCUS, combos_of, names_of
from cpath_repro.data.histokt import NAMES
from cpath_repro.data.standardize import SIZE, TARGET_MPP

#: Paper B's datasets by size (section 3: large sources transfer, small ones hurt).
LARGE = ("ADP", "CRC", "OS", "BCSS")
SMALL = ("GlaS", "AJ-Lymph")
#: Paper B, section 2.3: the tuning learning rate is halved every 20 epochs.
LR_HALVING_EPOCHS = 20


@dataclass(frozen=True)
class Settings:
    """A notebook's resolved parameters for this chapter."""

    n_seeds: int
    crop: int
    sources: tuple[str, ...]
    targets: tuple[str, ...]
    two_stage: tuple[str, ...]
    distilled: tuple[tuple[str, ...], ...]
    large_crops: int
    epochs: int
    tune_epochs: int
    batch_size: int
    lr_deep: tuple[float, ...]
    lr_fine: tuple[float, ...]
    overlap: float
    contrast: str
    difficulty: float
    data_root: str | None = None
    #: the run's profile: which formula-driven stand-in (the pretraining page's, for this profile) B-T3 starts from
    profile: str = "default"

    @classmethod
    def from_params(cls, values: Mapping[str, Any], profile: str = "default") -> Settings:
        return cls(profile=profile,
            n_seeds=values["n_seeds"], crop=values["crop"], sources=names_of(values["sources"]),
            targets=names_of(values["targets"]), two_stage=names_of(values["two_stage"]),
            distilled=combos_of(values["distilled"]), large_crops=values["large_crops"], epochs=values["epochs"],
            tune_epochs=values["tune_epochs"], batch_size=values["batch_size"],
            lr_deep=tuple(float(v) for v in values["lr_deep"].split(",")),
            lr_fine=tuple(float(v) for v in values["lr_fine"].split(",")),
            overlap=values["overlap"], contrast=values["contrast"], difficulty=values["difficulty"],
            data_root=None if values.get("data_root") is None else str(values["data_root"]),
        )

    @property
    def seeds(self) -> list[int]:
        return list(range(self.n_seeds))

    @property
    def scale(self) -> float:
        """Crop side relative to the paper's 272 px: every length of the synthetic world scales with it."""
        return self.crop / SIZE

    @property
    def target_mpp(self) -> float:
        """The standardized resolution: 1 µm/px at the paper's crop, coarser for smaller crops (same field)."""
        return TARGET_MPP / self.scale

    @property
    def datasets(self) -> tuple[str, ...]:
        """Every dataset a cell of this run touches, in Table 1's order."""
        used = {*self.sources, *self.targets, *self.two_stage, *(n for c in self.distilled for n in c), FOCUS}
        return tuple(n for n in NAMES if n in used)

    @property
    def root(self) -> Path | None:
        return None if self.data_root is None else Path(self.data_root)
