"""Paper A's notebooks. They share one set of parameters, so they share trained models (same store keys)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cpath_repro.profiles import DATA_ROOT, DataRequirement, NotebookSpec, Param, between, params, same

PART = "Paper A - UNET vs CD-UNET on multistain IHC"
DATA = DataRequirement(("multistain-tiles",))


def _shared_params() -> dict[str, Param]:
    """``paper`` values are the paper's own (section 3): 512 px tiles, half-width UNET (32) with 4
    poolings, batch 16 per GPU, base LR 0.001 (times the number of processes), 200 epochs,
    validation every 10. ``default`` values are chosen for 9 minutes on 2 CPU cores (see the
    chapter page); ``ci`` values only exercise the code.
    """
    return params(
        Param("n_seeds", int, "paired seeds (each makes its own data; every arm trains on it)",
              {"ci": 1, "default": 3, "paper": 3}, between(1, 20)),
        Param("tile", int, "tile side in pixels", {"ci": 32, "default": 64, "paper": 512}, between(16, 2048)),
        Param("base", int, "UNET filters in the first level (paper: half of 64)", {"ci": 4, "default": 8, "paper": 32},
              between(1, 256)),
        Param("depth", int, "UNET poolings", {"ci": 2, "default": 3, "paper": 4}, between(1, 6)),
        Param("epochs", int, "training epochs", {"ci": 2, "default": 15, "paper": 200}, between(1, 10_000)),
        Param("val_every", int, "validate every k epochs", {"ci": 1, "default": 1, "paper": 10}, between(1, 1000)),
        Param("batch_size", int, "tiles per batch (per process)", {"ci": 8, "default": 16, "paper": 16},
              between(1, 4096)),
        Param("lr", float, "SGD base learning rate (times the number of processes)",
              {"ci": 0.01, "default": 0.01, "paper": 0.001}, between(1e-7, 10.0)),
        Param("difficulty", float, "synthetic morphology overlap between classes (0-1)", same(0.4), between(0.0, 1.0)),
        Param("train_slides", int, "synthetic training slides per assay", {"ci": 1, "default": 2, "paper": 2},
              between(1, 100)),
        Param("test_slides", int, "synthetic test slides per assay", {"ci": 1, "default": 2, "paper": 2},
              between(1, 100)),
        DATA_ROOT,
    )


def _tile_fits(values: Mapping[str, Any]) -> str | None:
    from cpath_repro.synth.tissue import MAX_LAYOUT_BYTES, layout_bytes

    if values["tile"] % 2 ** values["depth"]:
        return f"tile {values['tile']} must be divisible by 2^depth = {2 ** values['depth']}"
    need = layout_bytes(4 * values["tile"])  # synthetic slides are 4 tiles wide
    if values.get("data_root") is None and need > MAX_LAYOUT_BYTES:
        return (f"synthetic slides for tile {values['tile']} would need about {need / 2**30:.0f} GiB each while "
                f"generated (the limit is {MAX_LAYOUT_BYTES / 2**30:.0f} GiB); use a tile of at most 128 pixels, "
                "or real tiles with -p data_root")
    return None


NOTEBOOKS: tuple[NotebookSpec, ...] = (
    NotebookSpec(
        name="A-T1",
        title="Single stain vs multistain training",
        part=PART,
        artifacts=("A-T1", "A-F2"),
        description="UNET trained on multistain slides vs on H&E only (as many tiles): test F1 per class on "
        "H&E test slides beside the paper's Table 1, and the validation F1 curves of Fig. 2.",
        settings=_shared_params(), data=DATA, constraint=_tile_fits, claims=("A-C1", "A-C2"),
    ),
    NotebookSpec(
        name="A-T2",
        title="UNET vs CD-UNET on multistain tissue",
        part=PART,
        artifacts=("A-T2", "A-F4", "A-F1", "A-F5"),
        description="UNET vs CD-UNET trained on the same multistain slides: test F1 per class beside the paper's "
        "Table 2, validation F1 curves (Fig. 4), example tiles (Fig. 1) and segmentations (Fig. 5).",
        settings=_shared_params(), data=DATA, constraint=_tile_fits, claims=("A-C3", "A-C4"),
    ),
    NotebookSpec(
        name="A-F6",
        title="What the colour-deconvolution segment learns",
        part=PART,
        artifacts=("A-F6", "A-F7"),
        description="Activation maximization of the six first-layer filters scored against the true stain "
        "vectors (Fig. 6), and the CD segment's three outputs on an H&E slide against the true stain maps (Fig. 7).",
        settings=_shared_params(), data=DATA, constraint=_tile_fits, claims=("A-C5", "A-C6"),
    ),
    NotebookSpec(
        name="A-F8",
        title="Feature visualization, SmoothGrad and receptive fields",
        part=PART,
        artifacts=("A-F8", "A-F9"),
        description="Inputs maximizing tumour, tissue and necrosis at one pixel (Fig. 8); SmoothGrad for a pixel "
        "of each class with captum (Fig. 9) and each class's effective receptive field measured.",
        settings=_shared_params(), data=DATA, constraint=_tile_fits, claims=("A-C7",),
    ),
)
