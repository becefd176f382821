"""One data_root layout: D/<dataset>/..., or the dataset's own folder; checked before any kernel starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from cpath_repro import catalog
from cpath_repro.data.layout import DATASETS, available, locate
from cpath_repro.errors import DataNotFoundError
from cpath_repro.pipeline import execute


def _tile_folder(path: Path) -> Path:
    path.mkdir(parents=True)
    (path / "tiles.csv").write_text("tile_id,stain,slide,split\n")
    return path


def test_a_dataset_is_found_under_the_data_root_or_as_the_folder_itself(tmp_path: Path):
    own = _tile_folder(tmp_path / "multistain-tiles")
    assert locate(tmp_path, "multistain-tiles") == own
    assert locate(own, "multistain-tiles") == own


def test_a_missing_dataset_names_where_it_was_expected(tmp_path: Path):
    with pytest.raises(DataNotFoundError, match=r"Expected paper A's tile folder in '.*/multistain-tiles' \(or data_root"):
        locate(tmp_path, "multistain-tiles")
    with pytest.raises(DataNotFoundError, match="is not a folder"):
        locate(tmp_path / "nope", "BACH")


def test_several_datasets_use_those_present(tmp_path: Path):
    (tmp_path / "MHIST").mkdir()
    (tmp_path / "MHIST" / "annotations.csv").write_text("")
    (tmp_path / "GlaS").mkdir()  # empty: not recognised
    assert available(tmp_path, ("MHIST", "GlaS", "BACH")) == {"MHIST": tmp_path / "MHIST"}


def test_every_chapter_dataset_is_declared_once_under_its_published_name():
    for name in ("ADP", "MHIST", "BACH", "AJ-Lymph", "PCam", "CRC", "GlaS", "OS", "BCSS",
                 "intel-mobileodt-cervical-cancer-screening", "CAMELYON16", "CAMELYON17", "multistain-tiles"):
        assert DATASETS[name].name == name


def test_a_wrong_data_root_stops_the_plan_before_any_kernel_starts(tmp_path: Path):
    with pytest.raises(DataNotFoundError, match="Expected paper A's tile folder"):
        execute.plan(["A-T1"], "paper", [("data_root", str(tmp_path))])
    _tile_folder(tmp_path / "multistain-tiles")
    job = execute.plan(["A-T1"], "paper", [("data_root", str(tmp_path))])[0]
    assert catalog.get("A-T1").data_folders(job.params.values) == {"multistain-tiles": tmp_path / "multistain-tiles"}


def test_the_cache_key_sees_only_the_datasets_a_notebook_reads(tmp_path: Path):
    _tile_folder(tmp_path / "multistain-tiles")
    key = execute.plan(["A-T1"], "paper", [("data_root", str(tmp_path))])[0].cache_key
    (tmp_path / "MHIST").mkdir()
    (tmp_path / "MHIST" / "annotations.csv").write_text("changed")
    assert execute.plan(["A-T1"], "paper", [("data_root", str(tmp_path))])[0].cache_key == key
    (tmp_path / "multistain-tiles" / "tiles.csv").write_text("tile_id,stain,slide,split\nx,H&E,s,train\n")
    assert execute.plan(["A-T1"], "paper", [("data_root", str(tmp_path))])[0].cache_key != key
