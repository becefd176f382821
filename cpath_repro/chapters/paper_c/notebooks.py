"""Paper C's notebooks and their parameters: one set for all of them, so they share trained models.

The ``paper`` profile keeps the paper's 320×240 images and the Kaggle set's sizes (1,481 initial and
6,734 additional images). The ``default`` profile must fit 7 minutes on 2 CPU cores (ResNet-50
trains about 3 images/s at 320×240 there), so it works at 100×75 with a few hundred images; the
chapter page states both.
"""

from __future__ import annotations

from cpath_repro.profiles import DATA_ROOT, DataRequirement, NotebookSpec, Param, between, params, same

PART = "Paper C - Cervix type classification"
DATA = DataRequirement(("intel-mobileodt-cervical-cancer-screening",))


def shared_params() -> dict[str, Param]:
    """``paper`` values are the paper's (sections 4-12) where it gives them; ``default`` values fit the chapter's
    7 minutes on 2 CPU cores; ``ci`` values only exercise the code."""
    return params(
        Param("n_seeds", int, "paired trials (seed s makes the data and the initial weights of trial s)",
              {"ci": 1, "default": 3, "paper": 3}, between(1, 20)),
        Param("height", int, "image height in pixels, width 4/3 of it (the paper: 240, width 320); at least 75, "
              "Inception-v3's smallest input", {"ci": 75, "default": 75, "paper": 240}, between(75, 3072)),
        Param("n_initial", int, "initial (labelled, clean) images: the paper's 1,481 in its 250/781/450 balance",
              {"ci": 45, "default": 300, "paper": 1481}, between(15, 10**6)),
        Param("n_additional", int, "additional images (a known share of them bad), in the paper's 1191/3567/1976 "
              "balance", {"ci": 40, "default": 300, "paper": 6734}, between(0, 10**6)),
        Param("n_test", int, "unlabelled test images for the submission CSV (Kaggle's first stage: 512)",
              {"ci": 6, "default": 40, "paper": 512}, between(1, 10**6)),
        Param("epochs", int, "training epochs (not given in the text)", {"ci": 1, "default": 5, "paper": 40},
              between(1, 10_000)),
        Param("batch_size", int, "images per batch (not given in the text)", {"ci": 16, "default": 32, "paper": 32},
              between(1, 4096)),
        Param("lr", float, "Adam's learning rate (Keras's default, the text names no other)", same(1e-3),
              between(1e-6, 1.0)),
        Param("keep_fraction", float, "share of the additional images the distribution filter keeps (the text: "
              "'the closest'; no share given)", same(0.8), between(0.01, 1.0)),
        Param("ensemble_factor", float, "C-T8: how much more each ensemble member weights its class (not given)",
              same(2.0), between(1.0, 100.0)),
        Param("difficulty", float, "synthetic data: how close the types' transformation zones are (0-1)",
              same(0.25), between(0.0, 1.0)),
        DATA_ROOT,
    )


def _spec(name: str, title: str, artifacts: tuple[str, ...], description: str, claims: tuple[str, ...] = ()
          ) -> NotebookSpec:
    return NotebookSpec(name=name, title=title, part=PART, artifacts=artifacts, description=description,
                        settings=shared_params(), data=DATA, claims=claims)


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
