import subprocess
import sys
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from cpath_repro.errors import DataNotFoundError, UserError
from cpath_repro.wsi.annotations import (
    NORMAL,
    TUMOUR,
    UNLABELLED,
    AnnotationError,
    Region,
    label_mask,
    read_asap,
    write_asap,
)

CAMELYON16_XML = """<?xml version="1.0"?>
<ASAP_Annotations>
	<Annotations>
		<Annotation Name="_0" Type="Polygon" PartOfGroup="_0" Color="#F4FA58">
			<Coordinates>
				<Coordinate Order="2" X="400.0000" Y="400.0000" />
				<Coordinate Order="0" X="0.0000" Y="0.0000" />
				<Coordinate Order="1" X="400.0000" Y="0.0000" />
				<Coordinate Order="3" X="0.0000" Y="400.0000" />
			</Coordinates>
		</Annotation>
		<Annotation Name="_1" Type="Polygon" PartOfGroup="_2" Color="#F4FA58">
			<Coordinates>
				<Coordinate Order="0" X="100.0000" Y="100.0000" />
				<Coordinate Order="1" X="200.0000" Y="100.0000" />
				<Coordinate Order="2" X="200.0000" Y="200.0000" />
				<Coordinate Order="3" X="100.0000" Y="200.0000" />
			</Coordinates>
		</Annotation>
	</Annotations>
	<AnnotationGroups>
		<Group Name="_0" PartOfGroup="None" Color="#d0021b"><Attributes /></Group>
		<Group Name="_2" PartOfGroup="None" Color="#f5a623"><Attributes /></Group>
	</AnnotationGroups>
</ASAP_Annotations>
"""


def _one_sentence(error: BaseException) -> None:
    message = str(error)
    assert "\n" not in message and message.endswith(".")
    assert error.__cause__ is None and (error.__context__ is None or error.__suppress_context__)


def _square(x0, y0, x1, y1):
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float64)


def test_importing_annotations_and_writer_imports_neither_openslide_nor_pil():
    code = ("import sys, cpath_repro.wsi, cpath_repro.wsi.annotations, cpath_repro.wsi.writer; "
            "sys.exit('openslide' in sys.modules or 'PIL' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_write_then_read_gives_the_same_regions_and_lists_the_groups(tmp_path):
    regions = [
        Region("Tumor 0", "Tumor", np.array([[10.25, 20.5], [130.125, 22.0], [90.1, 140.3333333333]])),
        Region("Normal 0", "Normal", _square(0.5, 0.5, 300.75, 200.0)),
        Region("hole", "_2", _square(40, 40, 60, 60)),
    ]
    path = write_asap(tmp_path / "slide.xml", regions)
    back = read_asap(path)
    assert [(r.name, r.group) for r in back] == [(r.name, r.group) for r in regions]
    for got, want in zip(back, regions, strict=True):
        np.testing.assert_array_equal(got.points, want.points)  # exact: floats written in full precision
        assert got.points.dtype == np.float64 and got.points.shape == want.points.shape
    root = ET.parse(path).getroot()
    assert [g.get("Name") for g in root.iter("Group")] == ["Tumor", "Normal", "_2"]
    assert all(a.get("Type") == "Polygon" for a in root.iter("Annotation"))
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left beside it


def test_a_file_without_annotations_gives_no_regions(tmp_path):
    assert read_asap(write_asap(tmp_path / "empty.xml", [])) == []


def test_camelyon16_exclusion_is_cut_out_of_the_tumour(tmp_path):
    path = tmp_path / "tumor_001.xml"
    path.write_text(CAMELYON16_XML)
    regions = read_asap(path)
    assert [r.group for r in regions] == ["_0", "_2"]
    np.testing.assert_array_equal(regions[0].points, _square(0, 0, 400, 400))  # sorted by Order
    tissue = np.ones((120, 120), bool)
    mask = label_mask(regions, (120, 120), 4.0, tissue)
    assert mask.dtype == np.uint8
    assert mask[10, 10] == TUMOUR and mask[37, 37] == NORMAL  # (150, 150) level 0 lies in the _2 hole
    assert (mask[26:50, 26:50] == NORMAL).all()  # hole = level-0 100..200, i.e. 25..50 at downsample 4
    assert mask[110, 110] == NORMAL  # tissue outside the lesion is normal (Camelyon convention)
    assert label_mask(regions, (120, 120), 4.0)[110, 110] == UNLABELLED  # ...and unlabelled without tissue


def test_camelyon17_groups_metastases_and_normal(tmp_path):
    regions = [Region("a", "metastases", _square(0, 0, 80, 80)), Region("b", "normal", _square(20, 20, 40, 40))]
    mask = label_mask(read_asap(write_asap(tmp_path / "p.xml", regions)), (100, 100), 1.0, np.ones((100, 100), bool))
    assert mask[10, 10] == TUMOUR and mask[30, 30] == NORMAL and mask[90, 90] == NORMAL


def test_label_mask_at_downsample_4_on_a_known_square():
    regions = [Region("a", "Tumor", _square(40, 20, 120, 60))]
    mask = label_mask(regions, (30, 40), 4.0)
    expected = np.zeros((30, 40), np.uint8)
    # level-0 x 40..120, y 20..60; mask pixel c stands for x = 4c..4c+3 and is in when its centre 4c + 1.5 is:
    # columns 10..29, rows 5..14 (no spill into column 30 or row 15, which hold at most one level-0 pixel of it)
    expected[5:15, 10:30] = TUMOUR
    np.testing.assert_array_equal(mask, expected)


def test_normal_group_defines_normal_and_tissue_is_then_ignored():
    regions = [Region("n", "Normal", _square(0, 0, 99, 49)), Region("t", "Tumor", _square(60, 0, 99, 99))]
    mask = label_mask(regions, (100, 100), 1.0, tissue=np.ones((100, 100), bool))
    assert mask[20, 20] == NORMAL and mask[20, 80] == TUMOUR and mask[80, 80] == TUMOUR
    assert mask[80, 20] == UNLABELLED  # tissue outside every annotation stays unlabelled


def test_files_that_are_not_asap_xml_are_one_sentence_errors(tmp_path):
    text = tmp_path / "notes.xml"
    text.write_text("this is not XML at all\n")
    other = tmp_path / "other.xml"
    other.write_text("<svg><g/></svg>")
    for path in (text, other):
        with pytest.raises(AnnotationError, match="notes.xml|other.xml") as info:
            read_asap(path)
        assert isinstance(info.value, UserError) and isinstance(info.value, ValueError)
        _one_sentence(info.value)


def test_unknown_groups_only_is_a_one_sentence_error_naming_them(tmp_path):
    path = write_asap(tmp_path / "odd.xml", [Region("x", "Lymphocytes", _square(0, 0, 5, 5)),
                                             Region("y", "Annotation Group 0", _square(0, 0, 5, 5))])
    with pytest.raises(AnnotationError, match="'Annotation Group 0', 'Lymphocytes'") as info:
        read_asap(path)
    assert "odd.xml" in str(info.value)
    _one_sentence(info.value)


def test_bad_coordinate_and_missing_file(tmp_path):
    bad = tmp_path / "bad.xml"
    bad.write_text(CAMELYON16_XML.replace('X="400.0000" Y="0.0000"', 'X="four hundred" Y="0"'))
    with pytest.raises(AnnotationError, match="not a number") as info:
        read_asap(bad)
    _one_sentence(info.value)
    with pytest.raises(DataNotFoundError) as missing:
        read_asap(tmp_path / "absent.xml")
    _one_sentence(missing.value)
