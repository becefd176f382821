"""Paper B's settings: every notebook parameter of the chapter, declared once (one set for all its notebooks,
so they share trained models), and what the recipe derives from them.

The ``paper`` profile is the paper's own design (sections 2.1-2.5): every dataset a source and a target
(9 × 9), 272-pixel crops at 1 µm/px, 250 epochs. The ``default`` profile must fit 16 minutes on 2 CPU
cores at 5 trials and epochs long enough for the targets' baselines to level off (12: the plateau pilot of
the record of choices), so it runs the fewest cells that test every claim (one large and one small
source, the Table 4 targets with PCam, the paper's exception, among them) at 32-pixel crops; the chapter
page says which cells were run and why. ``ci`` values only exercise the code. The recipe reads these
settings but does not import this module (it holds the words a reader sees), so rewording a parameter
retrains nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cpath_repro import profiles
from cpath_repro.data.adp_format import CODE_OVERLAP, RULE_NAMES, SIZE, TARGET_MPP
from cpath_repro.data.layout import of_paper
from cpath_repro.profiles import between, data_root_param, param, same

NAMES = of_paper("B")
#: The target of Figs. 2-4 and of claims B-C5 and B-C6 (the paper's BACH).
FOCUS = "BACH"
#: Paper B's datasets by size (section 3: large sources transfer, small ones hurt).
LARGE = ("ADP", "CRC", "OS", "BCSS")
SMALL = ("GlaS", "AJ-Lymph")
ALL = ",".join(NAMES)


def names_of(text: str) -> tuple[str, ...]:
    """``"ADP,CRC"`` -> ``("ADP", "CRC")``."""
    return tuple(n.strip() for n in text.split(",") if n.strip())


def combos_of(text: str) -> tuple[tuple[str, ...], ...]:
    """``"ADP+CRC,CRC+ADP"`` -> ``(("ADP", "CRC"), ("CRC", "ADP"))``."""
    return tuple(tuple(n.strip() for n in c.split("+")) for c in text.split(",") if c.strip())


def floats_of(text: str) -> tuple[float, ...]:
    """``"1e-4,3e-4"`` -> ``(0.0001, 0.0003)``."""
    return tuple(float(v) for v in text.split(","))


def _dataset_list(check_combos: bool = False) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        groups = combos_of(value) if check_combos else ((n,) for n in names_of(value))
        names = [n for g in groups for n in g]
        if not names:
            return "must name at least one dataset"
        unknown = [n for n in names if n not in NAMES]
        if unknown:
            return f"names unknown dataset {unknown[0]!r} (choose from {', '.join(NAMES)})"
        if check_combos and any(len(set(g)) < 2 for g in combos_of(value)):
            return "must combine at least two different datasets in each '+' group"
        return None

    return check


def _learning_rates(value: Any) -> str | None:
    try:
        lrs = floats_of(str(value))
    except ValueError:
        return "must be numbers separated by commas (e.g. 1e-4,3e-4)"
    return None if lrs and all(0 < v < 10 for v in lrs) else "must be learning rates between 0 and 10"


@dataclass(frozen=True)
class Settings(profiles.Settings):
    """Paper B's notebook parameters and what the chapter derives from them."""

    n_seeds: int = param("paired trials (seed s makes the data and the initial weights of trial s)",
                         {"ci": 1, "default": 5, "paper": 3}, between(1, 20))
    crop: int = param("side of a standardized crop, pixels (the paper: 272 at 1 um/px)",
                      {"ci": 32, "default": 32, "paper": SIZE}, between(16, SIZE))
    sources: tuple[str, ...] = param("source datasets of the transfer matrices (comma-separated)",
                                     {"ci": "ADP,GlaS", "default": "ADP,GlaS", "paper": ALL},
                                     _dataset_list(), parse=names_of)
    targets: tuple[str, ...] = param(f"target datasets (comma-separated; {FOCUS} is the figures' target)",
                                     {"ci": FOCUS, "default": f"{FOCUS},MHIST,PCam", "paper": ALL},
                                     _dataset_list(), parse=names_of)
    two_stage: tuple[str, ...] = param("sources of the two-stage matrix (pretraining, then source, then target)",
                                       {"ci": "ADP", "default": "ADP", "paper": ALL}, _dataset_list(),
                                       parse=names_of)
    pretrained_targets: tuple[str, ...] = param(
        f"targets deep-tuned from pretraining alone: Table 3's diagonal, which its cells are coloured against ({FOCUS}'s "
        "is also B-F2's pretrained arm; no claim reads the others)",
        {"ci": FOCUS, "default": FOCUS, "paper": ALL}, _dataset_list(), parse=names_of)
    distilled: tuple[tuple[str, ...], ...] = param(
        f"source combinations weight-distilled for {FOCUS} ('+' joins, ',' separates)",
        {"ci": "ADP+GlaS", "default": "ADP+GlaS", "paper": "ADP+CRC,ADP+CRC+OS"},
        _dataset_list(check_combos=True), parse=combos_of)
    large_crops: int = param("synthetic data: training crops of a large dataset (the others scale with the square "
                             "root of their published size)", {"ci": 24, "default": 480, "paper": 2400},
                             between(8, 10**6))
    epochs: int = param("epochs of every training, each baseline (RMSGD) and each tuning (AdamP): a baseline and a "
                        "model tuned on the same target take the same optimizer steps there",
                        {"ci": 1, "default": 12, "paper": 250}, between(1, 10_000))
    batch_size: int = param("crops per batch (not given in the text)", {"ci": 16, "default": 32, "paper": 32},
                            between(1, 4096))
    lr_deep: tuple[float, ...] = param("deep-tuning learning rate(s); several: chosen on validation per cell",
                                       {"ci": "1e-3", "default": "3e-4", "paper": "1e-4,3e-4,1e-3,3e-3"},
                                       _learning_rates, parse=floats_of)
    lr_fine: tuple[float, ...] = param("fine-tuning learning rate(s); several: chosen on validation per cell",
                                       {"ci": "1e-3", "default": "1e-2", "paper": "1e-4,3e-4,1e-3,3e-3,1e-2"},
                                       _learning_rates, parse=floats_of)
    overlap: float = param("overlap of neighbouring crops (0.25: the authors' code and Table 1's counts; 0.5: the "
                           "text)", same(CODE_OVERLAP), between(0.0, 0.9))
    contrast: str = param("low-contrast rule that drops crops: 'code' (the authors') or 'paper' (the text)",
                          same("code"), choices=RULE_NAMES)
    difficulty: float = param("synthetic data: how close the classes' morphologies are (0-1)", same(0.4),
                              between(0.0, 1.0))
    data_root: Path | None = data_root_param()

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
