"""Paper D's notebooks and their parameters: one set for all of them, so they share slides and trained models.

The ``paper`` profile keeps the paper's settings (256 px patches at 0.5 µm/px cropped to 224, 32×32 and
512×512 feature maps, 30 / 50 / 10 epochs, the end-to-end learning rates 1e-9 and 1e-7). The ``default``
profile must fit 9 minutes on 2 CPU cores, where GoogLeNet trains about 10 patches/s at 224 px and
about 360 patches/s at 32 px: it reads 36 px patches at 2 µm/px (72 µm a side against the paper's
128 µm), cropped to 32 px, and scales lesion sizes and the Camelyon17 size thresholds by the same
factor. The chapter page states both geometries.
"""

from __future__ import annotations

from cpath_repro.profiles import DATA_ROOT, DataRequirement, NotebookSpec, Param, between, params, same

PART = "Paper D - Whole-slide tumour maps"
DATA = DataRequirement(("stomach-biopsies", "CAMELYON16", "CAMELYON17"))
PRETRAININGS = ("auto", "imagenet", "fractal", "none")


def shared_params() -> dict[str, Param]:
    """``paper`` values are the paper's (section 4.1) where it gives them; ``default`` values fit the chapter's
    9 minutes on 2 CPU cores; ``ci`` values only exercise the code."""
    return params(
        Param("n_seeds", int, "paired trials (seed s makes the slides and the initial weights of trial s)",
              {"ci": 1, "default": 3, "paper": 3}, between(1, 20)),
        Param("mpp", float, "microns per pixel the patches are read at (the paper: x20, 0.5 um/px)",
              {"ci": 2.0, "default": 2.0, "paper": 0.5}, between(0.1, 16.0)),
        Param("patch_px", int, "patch side in pixels, non-overlapping (the paper: 256)",
              {"ci": 36, "default": 36, "paper": 256}, between(34, 2048)),
        Param("crop_px", int, "random crop the extractor sees (the paper: 224; GoogLeNet needs at least 32)",
              {"ci": 32, "default": 32, "paper": 224}, between(32, 2048)),
        Param("stomach_slides", int, "synthetic stomach-like slides (split 64/16/20 % by slide, as the paper's "
              "80/20 then 80/20)", {"ci": 5, "default": 16, "paper": 1019}, between(5, 10**5)),
        Param("camelyon16_slides", int, "synthetic Camelyon16-like slides, half with metastases (the paper: 400)",
              {"ci": 6, "default": 16, "paper": 400}, between(4, 10**5)),
        Param("camelyon17_patients", int, "synthetic Camelyon17-like patients of 5 slides each (the paper's "
              "validation: 57)", {"ci": 5, "default": 8, "paper": 57}, between(5, 10**4)),
        Param("stomach_map", int, "feature-map side per tissue lump, in patches (the paper: 32)",
              {"ci": 16, "default": 16, "paper": 32}, between(8, 1024)),
        Param("camelyon_map", int, "feature-map side per Camelyon slide, in patches (the paper: 512)",
              {"ci": 16, "default": 28, "paper": 512}, between(8, 4096)),
        Param("extractor_epochs", int, "feature-extractor epochs (the paper: 30)",
              {"ci": 1, "default": 2, "paper": 30}, between(1, 10_000)),
        Param("segmenter_epochs", int, "segmenter epochs (the paper: 50)",
              {"ci": 2, "default": 30, "paper": 50}, between(1, 10_000)),
        Param("end_to_end_epochs", int, "end-to-end epochs from the separate weights (the paper: 10 on the "
              "stomach set, 5 on Camelyon16: half of it there)", {"ci": 1, "default": 1, "paper": 10}, between(1, 10_000)),
        Param("extractor_batch", int, "patches per extractor batch (the paper: 128)", same(128), between(1, 4096)),
        Param("segmenter_batch", int, "feature maps per segmenter batch (the paper: 32)",
              {"ci": 4, "default": 8, "paper": 32}, between(1, 4096)),
        Param("lr", float, "Adam's learning rate in separate learning, both models (the paper: 1e-4)", same(1e-4),
              between(1e-10, 1.0)),
        Param("end_to_end_lr_extractor", float, "end-to-end learning rate of the extractor (the paper: 1e-9, "
              "which barely moves the weights in a few steps)", {"ci": 1e-5, "default": 1e-5, "paper": 1e-9},
              between(0.0, 1.0)),
        Param("end_to_end_lr_segmenter", float, "end-to-end learning rate of the segmenter (the paper: 1e-7)",
              {"ci": 1e-5, "default": 1e-5, "paper": 1e-7}, between(0.0, 1.0)),
        Param("memory_patches", list, "D-M1: numbers of patches N the memory is measured at, each also at 4N (end-to-end "
              "at the largest N and 4N in every trial, both methods at every N in the first)",
              {"ci": [16], "default": [256], "paper": [256, 1024, 4096]}),
        Param("difficulty", float, "synthetic slides: how alike tumour and normal tissue look (0-1)", same(0.3),
              between(0.0, 1.0)),
        Param("pretraining", str, "the extractor's starting weights: auto (ImageNet when torchvision's file is "
              "here, else the formula-driven stand-in), imagenet, fractal or none", same("auto"),
              choices=PRETRAININGS),
        DATA_ROOT,
    )


def _spec(name: str, title: str, artifacts: tuple[str, ...], description: str, claims: tuple[str, ...] = ()
          ) -> NotebookSpec:
    return NotebookSpec(name=name, title=title, part=PART, artifacts=artifacts, description=description,
                        settings=shared_params(), data=DATA, claims=claims,
                        constraint=lambda v: None if v["crop_px"] <= v["patch_px"] else
                        f"crop_px ({v['crop_px']}) cannot exceed patch_px ({v['patch_px']})")


NOTEBOOKS: tuple[NotebookSpec, ...] = (
    _spec("D-F4", "Patch extraction", ("D-F4",),
          "A slide, its Otsu tissue mask, its annotation and the patch labels; the synthetic slides' geometry beside "
          "the paper's."),
    _spec("D-T1", "Stomach biopsies: five methods", ("D-T1",),
          "Classifier only, segmentation only at 1/8 resolution, frozen pretrained features, separate and end-to-end "
          "learning: patch accuracy and PR-AUC beside Table 1, and how far end-to-end learning moved the weights.",
          ("D-C1", "D-C2")),
    _spec("D-F5", "Stomach heatmaps and tumour points", ("D-F5",),
          "Tumour-probability maps of every method on test slides, with the isolated false 'tumour points' marked and "
          "counted.", ("D-C4",)),
    _spec("D-T2", "Camelyon16: classifier only vs end-to-end", ("D-T2", "D-F6"),
          "Balanced patch sampling, classifier only against end-to-end learning on Camelyon16-like slides, and their "
          "heatmaps beside Table 2."),
    _spec("D-T3", "Camelyon17: patient-level pN-stage", ("D-T3",),
          "Slide classes from heatmap features by a random forest, the pN-stage of each 5-slide patient by the "
          "challenge's rules, and quadratic-weighted kappa over 5-fold cross-validation.", ("D-C5",)),
    _spec("D-M1", "Memory, gradients and speed", ("D-M1",),
          "Peak memory growth of end-to-end learning and plain back-propagation against the number of patches, the "
          "gradient equivalence of the two, the patch-extraction throughput, beside the paper's MiB and hours.",
          ("D-C3",)),
)
