"""Region annotations in ASAP XML (the Camelyon16/17 format), and the label mask they define.

An ASAP file lists polygons, each in a group::

    <ASAP_Annotations>
      <Annotations>
        <Annotation Name="Annotation 0" Type="Polygon" PartOfGroup="Tumor" Color="#F4FA58">
          <Coordinates><Coordinate Order="0" X="1234.5" Y="678.25"/>...</Coordinates>
        </Annotation>
      </Annotations>
      <AnnotationGroups><Group Name="Tumor" PartOfGroup="None" Color="#00ff00"><Attributes/></Group></AnnotationGroups>
    </ASAP_Annotations>

Coordinates are level-0 pixels (floats), x to the right and y down. The groups that mean something:

* tumour: Camelyon16's ``_0`` and ``_1``, ``Tumor``, and Camelyon17's ``metastases``;
* excluded from the tumour: Camelyon16's ``_2`` (normal tissue drawn inside a tumour annotation) and
  Camelyon17's lower-case ``normal``, which ASAP's conversion draws over ``metastases`` for the same
  purpose (the challenge's ``label_map = {'metastases': 1, 'normal': 2}`` with that conversion order);
* normal tissue: ``Normal``, this project's group for stomach-like slides, whose annotations cover normal
  as well as tumour areas (paper D's stomach annotations are "for whole or a certain part of the tissue
  area"). A Camelyon slide has none: every tissue pixel outside the lesions is normal there.

:func:`label_mask` turns the regions into a ``uint8`` mask of :data:`UNLABELLED`, :data:`NORMAL` and
:data:`TUMOUR` at any downsample of level 0.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from skimage import draw

from cpath_repro import atomic
from cpath_repro.errors import DataNotFoundError, ParameterError, UserError

#: Tumour groups: Camelyon16 ``_0``, ``_1`` and ``Tumor``, Camelyon17 ``metastases`` (SPEC section 4, paper D;
#: the Camelyon17 lesion XMLs and the challenge's ASAP conversion script use ``metastases``).
TUMOUR_GROUPS = ("Tumor", "_0", "_1", "metastases")
#: Regions cut out of the tumour: Camelyon16 ``_2``; Camelyon17 ``normal`` (drawn over ``metastases``).
EXCLUDED_GROUPS = ("_2", "normal")
#: Normal-tissue annotations: this project's group for stomach-like slides (paper D's stomach annotations).
NORMAL_GROUPS = ("Normal",)
KNOWN_GROUPS = TUMOUR_GROUPS + EXCLUDED_GROUPS + NORMAL_GROUPS

#: Values of a label mask (``uint8``).
UNLABELLED, NORMAL, TUMOUR = 0, 1, 2

#: Colours ASAP shows the groups in (Camelyon files use these; any colour is valid).
ANNOTATION_COLOUR = "#F4FA58"
GROUP_COLOURS = {"Tumor": "#00ff00", "Normal": "#0000ff", "_0": "#d0021b", "_1": "#d0021b", "_2": "#f5a623",
                 "metastases": "#d0021b", "normal": "#0000ff"}
DEFAULT_GROUP_COLOUR = "#64FE2E"


class AnnotationError(UserError, ValueError):
    """A file is not an ASAP XML annotation this project can use."""


@dataclass(frozen=True, eq=False)
class Region:
    """One annotated polygon: its ``name``, its ASAP ``group`` and ``points`` ``(K, 2)`` float64 level-0 ``(x, y)``."""

    name: str
    group: str
    points: np.ndarray

    def __post_init__(self) -> None:
        points = np.asarray(self.points, dtype=np.float64)
        if points.ndim != 2 or points.shape[1] != 2:
            raise ParameterError(f"Region '{self.name}' needs (K, 2) level-0 (x, y) points, got shape {points.shape}.")
        object.__setattr__(self, "points", points)


def _coordinate(value: str | None) -> float:
    if value is None:
        raise ValueError("missing")
    return float(value.replace(",", "."))  # some exported files write a decimal comma


def read_asap(path: str | Path) -> list[Region]:
    """The regions of an ASAP XML file, in file order, each with its points sorted by ``Order``.

    A file that is missing raises :class:`DataNotFoundError`; one that is not ASAP XML, has a coordinate
    that is not a number, or has annotations none of which is in a known group (:data:`TUMOUR_GROUPS`,
    :data:`EXCLUDED_GROUPS`, :data:`NORMAL_GROUPS`) raises :class:`AnnotationError`. A file without any
    annotation is valid (ASAP saves one for a slide with nothing drawn) and gives no regions.
    """
    path = Path(path)
    if not path.is_file():
        raise DataNotFoundError(f"Expected an ASAP XML annotation file at '{path}' and found none; check the path.")
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise AnnotationError(
            f"'{path}' is not an XML file ({exc}); give the ASAP XML annotation written for this slide."
        ) from None
    if root.tag != "ASAP_Annotations":
        raise AnnotationError(
            f"'{path}' is XML with root <{root.tag}>, not an ASAP annotation (<ASAP_Annotations>); give the ASAP "
            "XML annotation written for this slide."
        )
    regions = []
    for index, annotation in enumerate(root.iter("Annotation")):
        name = annotation.get("Name", f"Annotation {index}")
        group = annotation.get("PartOfGroup", "None")
        coordinates = annotation.findall("./Coordinates/Coordinate")
        try:
            ordered = sorted(coordinates, key=lambda c: int(c.get("Order", "0")))
            points = np.array([[_coordinate(c.get("X")), _coordinate(c.get("Y"))] for c in ordered], dtype=np.float64)
        except ValueError:
            raise AnnotationError(
                f"Annotation '{name}' in '{path}' has a coordinate or order that is not a number; fix or redraw it in ASAP."
            ) from None
        regions.append(Region(name, group, points.reshape(-1, 2)))
    groups = sorted({r.group for r in regions})
    if regions and not set(groups) & set(KNOWN_GROUPS):
        raise AnnotationError(
            f"'{path}' has annotations only in the groups {', '.join(repr(g) for g in groups)}, none of which this "
            f"project knows; put tumour regions in one of {', '.join(TUMOUR_GROUPS)}, exclusions in "
            f"{' or '.join(EXCLUDED_GROUPS)} and normal tissue in {NORMAL_GROUPS[0]}."
        )
    return regions


def _number(value: float) -> str:
    return repr(float(value))  # shortest text that reads back as the same float


def write_asap(path: str | Path, regions: Iterable[Region]) -> Path:
    """Write ``regions`` as an ASAP XML file (atomically); every group used is listed in ``AnnotationGroups``."""
    path = Path(path)
    regions = list(regions)
    root = ET.Element("ASAP_Annotations")
    annotations = ET.SubElement(root, "Annotations")
    for region in regions:
        element = ET.SubElement(annotations, "Annotation", Name=region.name, Type="Polygon",
                                PartOfGroup=region.group, Color=ANNOTATION_COLOUR)
        coordinates = ET.SubElement(element, "Coordinates")
        for order, (x, y) in enumerate(region.points):
            ET.SubElement(coordinates, "Coordinate", Order=str(order), X=_number(x), Y=_number(y))
    groups = ET.SubElement(root, "AnnotationGroups")
    for group in dict.fromkeys(r.group for r in regions):
        element = ET.SubElement(groups, "Group", Name=group, PartOfGroup="None",
                                Color=GROUP_COLOURS.get(group, DEFAULT_GROUP_COLOUR))
        ET.SubElement(element, "Attributes")
    ET.indent(root, space="\t")
    text = '<?xml version="1.0"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
    atomic.write_text(path, text)
    return path


def _fill(regions: Sequence[Region], groups: tuple[str, ...], shape: tuple[int, int], downsample: float) -> np.ndarray:
    mask = np.zeros(shape, dtype=bool)
    for region in regions:
        if region.group in groups and len(region.points) >= 3:
            # mask pixel (r, c) stands for level-0 pixels r*d .. (r+1)*d - 1: test its centre, r*d + (d - 1)/2,
            # so a polygon does not spill into the next mask pixel (at d = 1 this is plain pixel-index filling)
            centre = (downsample - 1) / 2
            rr, cc = draw.polygon((region.points[:, 1] - centre) / downsample, (region.points[:, 0] - centre) / downsample,
                                  shape=shape)
            mask[rr, cc] = True
    return mask


def label_mask(regions: Sequence[Region], shape: tuple[int, int], downsample: float,
               tissue: np.ndarray | None = None) -> np.ndarray:
    """``(h, w)`` ``uint8`` mask of :data:`UNLABELLED` / :data:`NORMAL` / :data:`TUMOUR` at level-0 / ``downsample``.

    Tumour is the union of the tumour-group polygons minus the excluded ones. Normal is the union of the
    ``Normal`` polygons minus tumour; when the regions have no ``Normal`` group, it is ``tissue`` (a bool
    ``(h, w)`` mask, e.g. Otsu's) minus tumour (the Camelyon convention), or nothing without ``tissue``.
    Polygons are filled with ``skimage.draw.polygon`` at their coordinates divided by ``downsample``
    (a mask pixel ``(r, c)`` is inside when the centre of the level-0 pixels it stands for is).
    """
    h, w = (int(s) for s in shape)
    if h < 1 or w < 1 or not (np.isfinite(downsample) and downsample > 0):
        raise ParameterError(f"label_mask needs a positive (h, w) and downsample, got {shape} and {downsample}.")
    if tissue is not None and np.shape(tissue) != (h, w):
        raise ParameterError(f"The tissue mask has shape {np.shape(tissue)}, not the label mask's {(h, w)}.")
    tumour = _fill(regions, TUMOUR_GROUPS, (h, w), downsample) & ~_fill(regions, EXCLUDED_GROUPS, (h, w), downsample)
    if any(r.group in NORMAL_GROUPS for r in regions):
        normal = _fill(regions, NORMAL_GROUPS, (h, w), downsample)
    elif tissue is not None:
        normal = np.asarray(tissue, dtype=bool).copy()
    else:
        normal = np.zeros((h, w), dtype=bool)
    mask = np.full((h, w), UNLABELLED, dtype=np.uint8)
    mask[normal & ~tumour] = NORMAL
    mask[tumour] = TUMOUR
    return mask
