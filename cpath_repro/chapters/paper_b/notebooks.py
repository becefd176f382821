"""Paper B's notebooks: one set of parameters for all of them (:class:`.settings.Settings`), so they share
trained models."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cpath_repro.chapters.paper_b.settings import FOCUS, NAMES, Settings, combos_of, names_of
from cpath_repro.profiles import DataRequirement, NotebookSpec

PART = "Paper B - HistoKT: cross knowledge transfer"
DATA = DataRequirement(NAMES)


def _cells(values: Mapping[str, Any]) -> str | None:
    """The cells the claims need: ADP among the sources (B-T4 tunes from it), each distilled combination made of
    sources (its single-source arm is the matrix's cell), and the figures' target among the targets."""
    if FOCUS not in names_of(values["targets"]):
        return f"targets must include {FOCUS}, the target of Figs. 2-4 and of claim B-C6"
    if FOCUS not in names_of(values["pretrained_targets"]):
        return f"pretrained_targets must include {FOCUS}: B-F2 compares its pretrained arm"
    if not set(names_of(values["pretrained_targets"])) <= set(names_of(values["targets"])):
        return "pretrained_targets must be among the targets"
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
                        settings=Settings, data=DATA, constraint=_cells, claims=claims)


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
