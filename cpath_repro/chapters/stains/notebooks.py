"""The stain library chapter's notebook (Foundations)."""

from __future__ import annotations

from cpath_repro.profiles import DATA_ROOT, SEED, DataRequirement, NotebookSpec, Param, between, params, same

NOTEBOOKS: tuple[NotebookSpec, ...] = (
    NotebookSpec(
        name="stains",
        title="The stain library: nine assays by Beer-Lambert",
        part="Foundations",
        artifacts=("stains",),
        description="Paper A's nine assays rendered on one concentration field; colour deconvolution "
        "recovers the concentrations; deconvolution of scikit-image's real IHC image.",
        settings=params(
            SEED,
            Param("size", int, "side of the concentration field in pixels", {"ci": 64, "default": 192, "paper": 512},
                  between(16, 4096)),
            Param("jitter", float, "per-slide stain-vector jitter in degrees", same(4.0), between(0.0, 20.0)),
            Param("n_slides", int, "jittered slides drawn per assay", {"ci": 2, "default": 8, "paper": 8},
                  between(1, 64)),
            DATA_ROOT,
        ),
        data=DataRequirement(("stain-tiles",)),
    ),
)
