"""Paper D's settings: every notebook parameter of the chapter, declared once (one set for all its notebooks,
so they share slides and trained models), and what the recipes derive from them.

The ``paper`` profile keeps the paper's settings (256 px patches at 0.5 µm/px cropped to 224, 32×32 and
512×512 feature maps, 30 / 50 / 10 epochs, the end-to-end learning rates 1e-9 and 1e-7). The ``default``
profile must fit 11 minutes on 2 CPU cores, where GoogLeNet trains about 10 patches/s at 224 px and
about 360 patches/s at 32 px: it reads 36 px patches at 2 µm/px (72 µm a side against the paper's
128 µm), cropped to 32 px, and scales lesion sizes and the Camelyon17 size thresholds by the same
factor. ``paper`` values are the paper's (section 4.1) where it gives them; ``ci`` values only exercise
the code. The recipes read these settings but do not import this module (it holds the words a reader
sees), so rewording a parameter's meaning retrains nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cpath_repro import profiles
from cpath_repro.profiles import between, data_root_param, each_between, param, same

PRETRAININGS = ("auto", "imagenet", "fractal", "none")


@dataclass(frozen=True)
class Settings(profiles.Settings):
    """Paper D's notebook parameters and what the chapter derives from them."""

    n_seeds: int = param(
        "paired trials (seed s makes the slides and the initial weights of trial s)",
        {"ci": 1, "default": 5, "paper": 3},
        between(1, 20),
    )
    mpp: float = param(
        "microns per pixel the patches are read at (the paper: x20, 0.5 um/px)",
        {"ci": 2.0, "default": 2.0, "paper": 0.5},
        between(0.1, 16.0),
    )
    patch_px: int = param(
        "patch side in pixels, non-overlapping (the paper: 256)",
        {"ci": 36, "default": 36, "paper": 256},
        between(34, 2048),
    )
    crop_px: int = param(
        "random crop the extractor sees (the paper: 224; GoogLeNet needs at least 32)",
        {"ci": 32, "default": 32, "paper": 224},
        between(32, 2048),
    )
    stomach_slides: int = param(
        "synthetic stomach-like slides (split 64/16/20 % by slide, as the paper's 80/20 then 80/20)",
        {"ci": 5, "default": 16, "paper": 1019},
        between(5, 10**5),
    )
    camelyon16_slides: int = param(
        "synthetic Camelyon16-like slides, half with metastases (the paper: 400)",
        {"ci": 6, "default": 16, "paper": 400},
        between(4, 10**5),
    )
    camelyon17_patients: int = param(
        "synthetic Camelyon17-like patients of 5 slides each (the paper's validation: 57; default: the 20 that "
        "D-C5's kappa needs to be more than a handful of stages)",
        {"ci": 5, "default": 20, "paper": 57},
        between(5, 10**4),
    )
    stomach_map: int = param(
        "feature-map side per tissue lump, in patches (the paper: 32)",
        {"ci": 16, "default": 16, "paper": 32},
        between(8, 1024),
    )
    camelyon_map: int = param(
        "feature-map side per Camelyon slide, in patches (the paper: 512)",
        {"ci": 16, "default": 28, "paper": 512},
        between(8, 4096),
    )
    extractor_epochs: int = param(
        "feature-extractor epochs (the paper: 30)", {"ci": 1, "default": 2, "paper": 30}, between(1, 10_000)
    )
    segmenter_epochs: int = param(
        "segmenter epochs (the paper: 50)", {"ci": 2, "default": 30, "paper": 50}, between(1, 10_000)
    )
    end_to_end_epochs: int = param(
        "end-to-end epochs from the separate weights (the paper: 10 on the stomach set, 5 on Camelyon16: half of it there)",
        {"ci": 1, "default": 1, "paper": 10},
        between(1, 10_000),
    )
    extractor_batch: int = param("patches per extractor batch (the paper: 128)", same(128), between(1, 4096))
    segmenter_batch: int = param(
        "feature maps per segmenter batch (the paper: 32)", {"ci": 4, "default": 8, "paper": 32}, between(1, 4096)
    )
    lr: float = param(
        "Adam's learning rate in separate learning, both models (the paper: 1e-4)", same(1e-4), between(1e-10, 1.0)
    )
    end_to_end_lr_extractor: float = param(
        "end-to-end learning rate of the extractor (the paper: 1e-9, which barely moves the weights in a few steps)",
        {"ci": 1e-5, "default": 1e-5, "paper": 1e-9},
        between(0.0, 1.0),
    )
    end_to_end_lr_segmenter: float = param(
        "end-to-end learning rate of the segmenter (the paper: 1e-7)",
        {"ci": 1e-5, "default": 1e-5, "paper": 1e-7},
        between(0.0, 1.0),
    )
    memory_patches: tuple[int, ...] = param(
        "D-M1: numbers of patches N the memory is measured at, each also at 4N (end-to-end at the largest N and 4N "
        "in every trial, both methods at every N in the first)",
        {"ci": [16], "default": [256], "paper": [256, 1024, 4096]},
        each_between(1, 16_384),
    )
    difficulty: float = param(
        "synthetic slides: how alike tumour and normal tissue look (0-1)", same(0.3), between(0.0, 1.0)
    )
    lowres_contrast: float = param(
        "synthetic slides: how much of tumour's difference from normal tissue in mean stain density and gland "
        "lumens they keep, i.e. what a 1/8-resolution view can see (0: matched, 1: as the morphology makes it; "
        "the middle by default: no measurement sets it)", same(0.5), between(0.0, 1.0)
    )
    pretraining: str = param(
        "the extractor's starting weights: auto (ImageNet when torchvision's file is here, else the formula-driven "
        "stand-in), imagenet, fractal or none",
        same("auto"),
        choices=PRETRAININGS,
    )
    data_root: Path | None = data_root_param()

    @property
    def patch_um(self) -> float:
        """The side of a patch in microns."""
        return self.patch_px * self.mpp
