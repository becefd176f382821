"""Paper C's notebooks: one set of parameters for all of them (:class:`.settings.Settings`), so they share
trained models."""

from __future__ import annotations

from cpath_repro.chapters.paper_c.settings import Settings
from cpath_repro.profiles import DataRequirement, NotebookSpec

PART = "Paper C - Cervix type classification"
DATA = DataRequirement(("intel-mobileodt-cervical-cancer-screening",))


def _spec(name: str, title: str, artifacts: tuple[str, ...], description: str, claims: tuple[str, ...] = ()
          ) -> NotebookSpec:
    return NotebookSpec(name=name, title=title, part=PART, artifacts=artifacts, description=description,
                        settings=Settings, data=DATA, claims=claims)


NOTEBOOKS: tuple[NotebookSpec, ...] = (
    _spec("C-T1", "The initial and additional sets", ("C-T1",),
          "Images per type in the initial and additional sets beside the paper's, and what the synthetic photographs "
          "look like: the transformation zone that decides the type, the distractors, the bad additional images."),
    _spec("C-T2", "Baselines", ("C-T2",),
          "A vanilla CNN and naive transfer from the whole ResNet-50 or Inception-v3, on the raw initial data."),
    _spec("C-T3", "Centre-crop sweep", ("C-T3",),
          "The central 100 to 40 % of each side kept, beside the paper's sweep, with the spread over trials.",
          ("C-C2",)),
    _spec("C-T4", "Class-weight sweep", ("C-T4",),
          "The paper's four class weightings and the unweighted loss.", ("C-C3",)),
    _spec("C-T5", "Feature extractor", ("C-T5",),
          "No extractor, or the first 3 layers of a pretrained Inception-v3 or ResNet-50, frozen, with the cleaned "
          "additional data.", ("C-C1",)),
    _spec("C-T6", "Number of ResNet-50 layers", ("C-T6",),
          "The first 3, 6, 12 or 20 (Keras) layers of ResNet-50, trained, and which torchvision modules they are."),
    _spec("C-T7", "Frozen vs trained extractor", ("C-T7",),
          "ResNet-50's first 3 layers frozen or trained with the head.", ("C-C5",)),
    _spec("C-F5", "Cleaning the additional data", ("C-F5", "C-F6"),
          "The distribution and sharpness filters: rejected images, their precision and recall against the known bad "
          "images, and training with and without what they keep.", ("C-C4",)),
    _spec("C-T8", "The class-weighted ensemble", ("C-T8", "C-F4"),
          "Three class-weighted models averaged with weights 0.95 − validation loss, against the single model on a "
          "hold-out split; the confusion matrix; a Kaggle-format submission.", ("C-C6",)),
    _spec("C-F7", "Saliency and Grad-CAM", ("C-F7", "C-F8"),
          "Saliency (captum) and Grad-CAM (pytorch-grad-cam) per type, and the share of each map inside the true "
          "transformation zone.", ("C-C7",)),
)
