"""Paper C's resolved parameters (declared in :mod:`.notebooks`), as the recipe reads them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Settings:
    """A notebook's resolved parameters for this chapter."""

    n_seeds: int
    height: int
    n_initial: int
    n_additional: int
    n_test: int
    epochs: int
    batch_size: int
    lr: float
    keep_fraction: float
    ensemble_factor: float
    difficulty: float
    data_root: str | None = None
    #: the run's profile: which formula-driven stand-in stands for ImageNet when its weights are absent
    profile: str = "default"

    @classmethod
    def from_params(cls, values: Mapping[str, Any], profile: str = "default") -> Settings:
        names = [f for f in cls.__dataclass_fields__ if f not in ("data_root", "profile")]
        return cls(**{n: values[n] for n in names}, profile=profile,
                   data_root=None if values.get("data_root") is None else str(values["data_root"]))

    @property
    def seeds(self) -> list[int]:
        return list(range(self.n_seeds))

    @property
    def size(self) -> tuple[int, int]:
        """(height, width): the paper's 4:3 (320×240)."""
        return self.height, round(self.height * 4 / 3)

    @property
    def root(self) -> Path | None:
        return None if self.data_root is None else Path(self.data_root)
