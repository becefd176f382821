"""Paper B's notebooks and their parameters: one set for all of them, so they share trained models.

The ``paper`` profile is the paper's own design: every dataset a source and a target (9 × 9),
272-pixel crops at 1 µm/px, 250 epochs. The ``default`` profile must fit 11 minutes on 2 CPU
cores, so it runs a subset of cells chosen to test every claim (large and small sources, the
Table 4 targets with PCam, the paper's exception, among them) at 32-pixel crops; the chapter
page says which cells were run and why.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from cpath_repro.data.adp_format import CODE_OVERLAP, RULE_NAMES, SIZE
from cpath_repro.data.layout import of_paper
from cpath_repro.profiles import DATA_ROOT, DataRequirement, NotebookSpec, Param, between, params, same

PART = "Paper B - HistoKT: cross knowledge transfer"
NAMES = of_paper("B")
DATA = DataRequirement(NAMES)
#: The target of Figs. 2-4 and of claims B-C5 and B-C6 (the paper's BACH).
FOCUS = "BACH"


def names_of(text: str) -> tuple[str, ...]:
    """``"ADP,CRC"`` -> ``("ADP", "CRC")``."""
    return tuple(n.strip() for n in text.split(",") if n.strip())


def combos_of(text: str) -> tuple[tuple[str, ...], ...]:
    """``"ADP+CRC,CRC+ADP"`` -> ``(("ADP", "CRC"), ("CRC", "ADP"))``."""
    return tuple(tuple(n.strip() for n in c.split("+")) for c in text.split(",") if c.strip())


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


def _floats(value: Any) -> str | None:
    try:
        lrs = [float(v) for v in str(value).split(",")]
    except ValueError:
        return "must be numbers separated by commas (e.g. 1e-4,3e-4)"
    return None if lrs and all(0 < v < 10 for v in lrs) else "must be learning rates between 0 and 10"


ALL = ",".join(NAMES)


def shared_params() -> dict[str, Param]:
    """``paper`` values are the paper's (sections 2.1-2.5); ``default`` values fit the chapter's 11 minutes
    on 2 CPU cores (see the chapter page); ``ci`` values only exercise the code."""
    return params(
        Param("n_seeds", int, "paired trials (seed s makes the data and the initial weights of trial s)",
              {"ci": 1, "default": 3, "paper": 3}, between(1, 20)),
        Param("crop", int, "side of a standardized crop, pixels (the paper: 272 at 1 um/px)",
              {"ci": 32, "default": 32, "paper": SIZE}, between(16, SIZE)),
        Param("sources", str, "source datasets of the transfer matrices (comma-separated)",
              {"ci": "ADP,GlaS", "default": "ADP,CRC,GlaS,AJ-Lymph", "paper": ALL}, _dataset_list()),
        Param("targets", str, f"target datasets (comma-separated; {FOCUS} is the figures' target)",
              {"ci": FOCUS, "default": f"{FOCUS},MHIST,PCam", "paper": ALL}, _dataset_list()),
        Param("two_stage", str, "sources of the two-stage matrix (pretraining, then source, then target)",
              {"ci": "ADP", "default": "ADP", "paper": ALL}, _dataset_list()),
        Param("distilled", str, f"source combinations weight-distilled for {FOCUS} ('+' joins, ',' separates)",
              {"ci": "ADP+GlaS", "default": "ADP+CRC,CRC+ADP", "paper": "ADP+CRC,ADP+CRC+OS"},
              _dataset_list(check_combos=True)),
        Param("large_crops", int, "synthetic data: training crops of a large dataset (the others scale with "
              "the square root of their published size)", {"ci": 24, "default": 480, "paper": 2400},
              between(8, 10**6)),
        Param("epochs", int, "baseline training epochs (RMSGD)", {"ci": 1, "default": 3, "paper": 250},
              between(1, 10_000)),
        Param("tune_epochs", int, "tuning epochs (AdamP)", {"ci": 1, "default": 4, "paper": 250}, between(1, 10_000)),
        Param("batch_size", int, "crops per batch (not given in the text)", {"ci": 16, "default": 32, "paper": 32},
              between(1, 4096)),
        Param("lr_deep", str, "deep-tuning learning rate(s); several: chosen on validation per cell",
              {"ci": "1e-3", "default": "3e-4", "paper": "1e-4,3e-4,1e-3,3e-3"}, _floats),
        Param("lr_fine", str, "fine-tuning learning rate(s); several: chosen on validation per cell",
              {"ci": "1e-3", "default": "1e-2", "paper": "1e-4,3e-4,1e-3,3e-3,1e-2"}, _floats),
        Param("overlap", float, "overlap of neighbouring crops (0.25: the authors' code and Table 1's counts; "
              "0.5: the text)", same(CODE_OVERLAP), between(0.0, 0.9)),
        Param("contrast", str, "low-contrast rule that drops crops: 'code' (the authors') or 'paper' (the text)",
              same("code"), lambda v: None if v in RULE_NAMES else f"must be one of {', '.join(RULE_NAMES)}"),
        Param("difficulty", float, "synthetic data: how close the classes' morphologies are (0-1)", same(0.4),
              between(0.0, 1.0)),
        DATA_ROOT,
    )

def _cells(values: Mapping[str, Any]) -> str | None:
    """The cells the claims need: ADP among the sources (B-T4 tunes from it), each distilled combination made of
    sources (its single-source arm is the matrix's cell), and the figures' target among the targets."""
    if FOCUS not in names_of(values["targets"]):
        return f"targets must include {FOCUS}, the target of Figs. 2-4 and of claim B-C6"
    sources = names_of(values["sources"])
    if "ADP" not in sources:
        return "sources must include ADP: Table 4 deep- and fine-tunes from ADP's weights"
    for combo in combos_of(values["distilled"]):
        if not set(combo) <= set(sources):
            return (f"each distilled combination must be made of sources (its single-source arm is a matrix cell); "
                    f"{'+'.join(combo)} is not")
    return None


def _spec(name: str, title: str, artifacts: tuple[str, ...], description: str, claims: tuple[str, ...] = ()
          ) -> NotebookSpec:
    return NotebookSpec(name=name, title=title, part=PART, artifacts=artifacts, description=description,
                        settings=shared_params(), data=DATA, constraint=_cells, claims=claims)


NOTEBOOKS: tuple[NotebookSpec, ...] = (
    _spec("B-T1", "Nine datasets standardized", ("B-T1",),
          "Table 1's nine datasets and what the standardization pipeline makes of them: crops per image at the "
          "code's 25 % and the text's 50 % overlap beside the published counts, and crops dropped by each "
          "low-contrast rule."),
    _spec("B-T2", "Single-stage transfer matrix", ("B-T2",),
          "Baselines from random initialization on the diagonal, every source → target deep-tuned off it, "
          "coloured better or worse than the target's baseline, beside the paper's matrix.", ("B-C1", "B-C2")),
    _spec("B-T3", "Two-stage transfer matrix", ("B-T3",),
          "Pretraining (ImageNet when its weights are here, else the formula-driven stand-in), then a source, "
          "then the target, beside the paper's ImageNet matrix.", ("B-C4",)),
    _spec("B-T4", "Deep-tuning vs fine-tuning", ("B-T4",),
          "Each target tuned from ADP's weights with every layer training (deep) or only a new final layer "
          "(fine), beside the paper's Table 4.", ("B-C3",)),
    _spec("B-F2", "t-SNE of the target's test set", ("B-F2",),
          "BACH's test crops in feature space: baseline, deep-tuned from the best source, from pretraining and "
          "two-stage, with the disentanglement measured (k-NN accuracy and silhouette).", ("B-C6",)),
    _spec("B-F3", "Grad-CAM, baseline vs transferred", ("B-F3",),
          "Grad-CAM (pytorch-grad-cam, augmentation and eigen smoothing) of BACH crops under the baseline and "
          "the transferred model, and the share of the heat inside the true class region."),
    _spec("B-F4", "Weight distillation", ("B-F4",),
          "Baseline models combined by SVD weight distillation, then deep-tuned on BACH, beside the baseline "
          "and each source alone.", ("B-C5",)),
)
