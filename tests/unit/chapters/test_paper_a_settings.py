"""Paper A's settings: each parameter declared once, the notebooks' declarations derived from it."""

from __future__ import annotations

from pathlib import Path

import pytest

from cpath_repro import catalog
from cpath_repro.chapters.paper_a.settings import Settings
from cpath_repro.errors import ParameterError

NAMES = ["n_seeds", "tile", "base", "depth", "epochs", "val_every", "batch_size", "lr", "difficulty", "train_slides",
         "test_slides", "data_root"]


def test_every_notebook_of_the_chapter_declares_the_settings_fields():
    assert list(Settings.params()) == NAMES
    for name in ("A-T1", "A-T2", "A-F6", "A-F8"):
        assert catalog.get(name).settings is Settings


def test_a_profiles_settings_with_overrides_are_validated_and_derive_the_generator():
    s = Settings.of_profile("ci", tile=32, depth=1)
    assert (s.profile, s.tile, s.depth, s.base, s.epochs) == ("ci", 32, 1, 4, 2)
    assert s.seeds == [0] and s.data == "synthetic data"
    assert (s.tissue().canvas, s.tissue().tile, s.tissue().difficulty) == (128, 32, 0.4)
    with pytest.raises(ParameterError, match="'tile' .* must be between 16 and 2048"):
        Settings.of_profile("ci", tile=8)


def test_a_data_root_means_real_data(tmp_path: Path):
    (tmp_path / "multistain-tiles").mkdir()
    (tmp_path / "multistain-tiles" / "tiles.csv").write_text("tile_id,stain,slide,split\n")
    s = Settings.of_profile("ci", data_root=str(tmp_path))
    assert s.data == "real data" and s.data_root == tmp_path
    assert s.tile_folder == tmp_path / "multistain-tiles"


def test_the_tile_must_fit_the_unet_and_memory():
    with pytest.raises(ParameterError, match="must be divisible by 2\\^depth = 8"):
        catalog.get("A-T1").resolve("ci", {"tile": 36, "depth": 3})
    with pytest.raises(ParameterError, match="GiB each while generated"):
        catalog.get("A-T1").resolve("ci", {"tile": 1024})
