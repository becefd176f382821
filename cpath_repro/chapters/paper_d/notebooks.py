"""Paper D's notebooks; their parameters are the chapter's settings (:mod:`.settings`), one set for all of them.

The chapter page states both geometries, the ``paper`` profile's and the ``default`` one's.
"""

from __future__ import annotations

from cpath_repro.chapters.paper_d.settings import Settings
from cpath_repro.profiles import DataRequirement, NotebookSpec

PART = "Paper D - Whole-slide tumour maps"
DATA = DataRequirement(("stomach-biopsies", "CAMELYON16", "CAMELYON17"))


def _spec(name: str, title: str, artifacts: tuple[str, ...], description: str, claims: tuple[str, ...] = ()
          ) -> NotebookSpec:
    return NotebookSpec(name=name, title=title, part=PART, artifacts=artifacts, description=description,
                        settings=Settings, data=DATA, claims=claims,
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
