"""Every notebook of the book: its artifacts, what it shows, and its typed parameters.

This is the one place a notebook's parameters are declared. The notebook's ``parameters``
cell repeats the names (with ``None`` meaning "the profile's value") so that plain
``papermill -p NAME VALUE`` works too; a test keeps the two in step.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cpath_repro.errors import ParameterError
from cpath_repro.profiles import (
    DATA_ROOT,
    SEED,
    DataRequirement,
    Param,
    Resolved,
    at_least,
    between,
    resolve,
    same,
)
from cpath_repro.project import NOTEBOOK_DIR


@dataclass(frozen=True)
class NotebookSpec:
    """A chapter notebook: one paper section (a table or a figure group)."""

    name: str
    title: str
    part: str
    artifacts: tuple[str, ...]
    description: str
    params: Mapping[str, Param]
    data: DataRequirement | None = None
    #: cross-parameter rule: returns an error phrase for an impossible combination
    constraint: Callable[[Mapping[str, Any]], str | None] | None = None
    claims: tuple[str, ...] = field(default=())

    @property
    def path(self) -> Path:
        return NOTEBOOK_DIR / f"{self.name}.ipynb"

    def resolve(self, profile: str, overrides: Mapping[str, Any]) -> Resolved:
        resolved = resolve(self.name, self.params, profile, overrides, self.data)
        if self.constraint is not None:
            problem = self.constraint(resolved.values)
            if problem:
                raise ParameterError(f"Notebook '{self.name}': {problem}.")
        return resolved


def _params(*params: Param) -> dict[str, Param]:
    return {p.name: p for p in params}


def _kernel_check(value: Any) -> str | None:
    if len(value) != 9 or set(value) - {"0", "1"}:
        return "must be nine characters of 0 and 1 (a 3x3 kernel, row by row)"
    return None


def _conv_position(values: Mapping[str, Any]) -> str | None:
    out = values["image_size"] - 2
    if not (0 <= values["row"] < out and 0 <= values["col"] < out):
        return (
            f"output position ({values['row']}, {values['col']}) lies outside the "
            f"{out}x{out} feature map of a {values['image_size']}x{values['image_size']} image"
        )
    return None


def _even_size(values: Mapping[str, Any]) -> str | None:
    if values["image_size"] % values["window"]:
        return f"image_size {values['image_size']} must be a multiple of window {values['window']}"
    return None


NOTEBOOKS: dict[str, NotebookSpec] = {
    spec.name: spec
    for spec in (
        NotebookSpec(
            name="stains",
            title="The stain library: nine assays by Beer-Lambert",
            part="Foundations",
            artifacts=("stains",),
            description="Paper A's nine assays rendered on one concentration field; colour deconvolution "
            "recovers the concentrations; deconvolution of scikit-image's real IHC image.",
            params=_params(
                SEED,
                Param("size", int, "side of the concentration field in pixels", {"ci": 64, "default": 192, "paper": 512},
                      between(16, 4096)),
                Param("jitter", float, "per-slide stain-vector jitter in degrees", same(4.0), between(0.0, 20.0)),
                Param("n_slides", int, "jittered slides drawn per assay", {"ci": 2, "default": 8, "paper": 8},
                      between(1, 64)),
                DATA_ROOT,
            ),
            data=DataRequirement(
                "your own stained RGB tiles to deconvolve", "data_root/*.png, *.jpg or *.tif (RGB, 8-bit)"
            ),
        ),
        NotebookSpec(
            name="E-F2",
            title="Convolution, kernel and receptive field",
            part="Paper E - Deep learning in image cytometry",
            artifacts=("E-F2",),
            description="A small 0/1 image convolved with a 0/1 3x3 kernel; receptive field and output "
            "position highlighted; the sum checked against torch and the receptive field against autograd.",
            params=_params(
                SEED,
                Param("image_size", int, "side of the input image", same(7), between(3, 64)),
                Param("kernel", str, "3x3 kernel of 0 and 1, row by row", same("101010101"), _kernel_check),
                Param("row", int, "output row to highlight", same(1), at_least(0)),
                Param("col", int, "output column to highlight", same(2), at_least(0)),
            ),
            constraint=_conv_position,
        ),
        NotebookSpec(
            name="E-F3",
            title="Max pooling with stride 2",
            part="Paper E - Deep learning in image cytometry",
            artifacts=("E-F3",),
            description="Max pooling of a small image with a window equal to the stride; each output traced "
            "to the input value it kept; size formula and shift invariance measured.",
            params=_params(
                SEED,
                Param("image_size", int, "side of the input image", same(4), between(2, 64)),
                Param("window", int, "pooling window (= stride)", same(2), between(2, 8)),
                Param("trials", int, "random images for the shift-invariance measurement",
                      {"ci": 50, "default": 2000, "paper": 2000}, between(1, 100_000)),
            ),
            constraint=_even_size,
        ),
    )
}

def get(name: str) -> NotebookSpec:
    """The spec of a notebook by name (case-insensitive), or a one-sentence error."""
    for spec in NOTEBOOKS.values():
        if spec.name.lower() == name.lower():
            return spec
    raise ParameterError(f"Unknown notebook {name!r}; `cpath-repro list` shows the {len(NOTEBOOKS)} notebooks.")
