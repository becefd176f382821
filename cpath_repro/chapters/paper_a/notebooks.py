"""Paper A's notebooks; their parameters are the chapter's settings (:mod:`.settings`), one set for all of them,
so they share trained models (same store keys)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cpath_repro.chapters.paper_a.settings import Settings
from cpath_repro.profiles import DataRequirement, NotebookSpec

PART = "Paper A - UNET vs CD-UNET on multistain IHC"
DATA = DataRequirement(("multistain-tiles",))


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
        settings=Settings, data=DATA, constraint=_tile_fits, claims=("A-C1", "A-C2"),
    ),
    NotebookSpec(
        name="A-T2",
        title="UNET vs CD-UNET on multistain tissue",
        part=PART,
        artifacts=("A-T2", "A-F4", "A-F1", "A-F5"),
        description="UNET vs CD-UNET trained on the same multistain slides: test F1 per class beside the paper's "
        "Table 2, validation F1 curves (Fig. 4), example tiles (Fig. 1) and segmentations (Fig. 5).",
        settings=Settings, data=DATA, constraint=_tile_fits, claims=("A-C3", "A-C4"),
    ),
    NotebookSpec(
        name="A-F6",
        title="What the colour-deconvolution segment learns",
        part=PART,
        artifacts=("A-F6", "A-F7"),
        description="Activation maximization of the six first-layer filters scored against the true stain "
        "vectors (Fig. 6), and the CD segment's three outputs on an H&E slide against the true stain maps (Fig. 7).",
        settings=Settings, data=DATA, constraint=_tile_fits, claims=("A-C5", "A-C6"),
    ),
    NotebookSpec(
        name="A-F8",
        title="Feature visualization, SmoothGrad and receptive fields",
        part=PART,
        artifacts=("A-F8", "A-F9"),
        description="Inputs maximizing tumour, tissue and necrosis at one pixel (Fig. 8); SmoothGrad for a pixel "
        "of each class with captum (Fig. 9) and each class's effective receptive field measured.",
        settings=Settings, data=DATA, constraint=_tile_fits, claims=("A-C7",),
    ),
)
