"""The pretraining notebook: the fractal stand-in of each backbone, trained once, and the probe of its effect."""

from __future__ import annotations

from cpath_repro.profiles import NotebookSpec

NOTEBOOKS: tuple[NotebookSpec, ...] = (
    NotebookSpec(
        name="pretraining",
        title="Pretraining without ImageNet: a fractal stand-in, and whether it helps",
        part="Foundations",
        artifacts=("pretraining",),
        description="Each backbone of papers B-D (ResNet18/50, GoogLeNet, Inception-v3) from torchvision's ImageNet "
        "file when present, else pretrained here on formula-driven fractal images; the probe (the stand-in vs random "
        "initialization, paired seeds, fine-tuned or frozen as each claim uses the backbone) decides whether the "
        "stand-in pretrains.",
        # No parameters of its own: every chapter loads the stand-in of the same profile from the model store,
        # so the stand-in's settings are the profile's (cpath_repro.transfer.pretraining.FRACTAL_PROFILES).
        settings={},
        claims=(),
    ),
)
