"""Paper D's resolved parameters (declared in :mod:`.notebooks`), as the recipes read them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Settings:
    """A notebook's resolved parameters for this chapter."""

    n_seeds: int
    mpp: float
    patch_px: int
    crop_px: int
    stomach_slides: int
    camelyon16_slides: int
    camelyon17_patients: int
    stomach_map: int
    camelyon_map: int
    extractor_epochs: int
    segmenter_epochs: int
    end_to_end_epochs: int
    extractor_batch: int
    segmenter_batch: int
    lr: float
    end_to_end_lr_extractor: float
    end_to_end_lr_segmenter: float
    memory_patches: tuple[int, ...]
    difficulty: float
    pretraining: str
    data_root: str | None = None
    #: the run's profile: which formula-driven stand-in stands for ImageNet when its weights are absent
    profile: str = "default"

    @classmethod
    def from_params(cls, values: Mapping[str, Any], profile: str = "default") -> Settings:
        names = [f.name for f in fields(cls) if f.name not in ("data_root", "profile")]
        given = {n: values[n] for n in names}
        given["memory_patches"] = tuple(given["memory_patches"])
        return cls(**given, profile=profile,
                   data_root=None if values.get("data_root") is None else str(values["data_root"]))

    @property
    def seeds(self) -> list[int]:
        return list(range(self.n_seeds))

    @property
    def root(self) -> Path | None:
        return None if self.data_root is None else Path(self.data_root)

    @property
    def patch_um(self) -> float:
        """The side of a patch in microns."""
        return self.patch_px * self.mpp
