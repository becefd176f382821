"""Bad input that used to end deep inside a library, now one sentence (UserError) and nothing half-written."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import numpy as np
import pytest
from skimage import io

from cpath_repro import catalog
from cpath_repro.chapters.paper_a import data
from cpath_repro.chapters.paper_a.settings import Settings
from cpath_repro.data.tiles import read_tile_folder, write_tile_folder
from cpath_repro.errors import DataNotFoundError, ParameterError, UserError
from cpath_repro.synth import tissue

SETTINGS = Settings.of_profile("ci", tile=32, base=2, depth=1, epochs=1, batch_size=4)


def _folder(root: Path, assays: list[str], per_assay: int = 1, tile: int = 32) -> Path:
    cfg = tissue.TissueConfig(canvas=2 * tile, tile=tile)
    write_tile_folder(tissue.cut_tiles(tissue.make_slides(0, "train", assays, per_assay, cfg), tile), root, "train")
    return root


def test_a_tile_index_without_a_column_is_named(tmp_path: Path):
    folder = _folder(tmp_path, ["H&E"])
    (folder / "tiles.csv").write_text("tile_id,stain,split\ntrain-00000,H&E,train\n")
    with pytest.raises(DataNotFoundError, match="has no column slide"):
        read_tile_folder(folder, "train")


def test_tiles_of_mixed_sizes_and_colour_label_maps_are_refused(tmp_path: Path):
    folder = _folder(tmp_path, ["H&E"])
    io.imsave(folder / "labels" / "train-00000.png", np.zeros((32, 32, 3), np.uint8), check_contrast=False)
    with pytest.raises(DataNotFoundError, match="is a colour image; a label map holds one class index"):
        read_tile_folder(folder, "train")
    io.imsave(folder / "labels" / "train-00000.png", np.zeros((32, 32), np.uint8), check_contrast=False)
    io.imsave(folder / "tiles" / "train-00001.png", np.zeros((16, 16, 3), np.uint8), check_contrast=False)
    io.imsave(folder / "labels" / "train-00001.png", np.zeros((16, 16), np.uint8), check_contrast=False)
    with pytest.raises(DataNotFoundError, match="is 16x16 but the first tile of split 'train' is 32x32"):
        read_tile_folder(folder, "train")


def test_real_tiles_the_unet_cannot_pool_one_slide_and_no_he_tile_are_refused(tmp_path: Path):
    one_slide = _folder(tmp_path / "one", ["H&E"])
    with pytest.raises(DataNotFoundError, match="has one training slide"):
        data.split_tiles.__wrapped__(dataclasses.replace(SETTINGS, data_root=one_slide), 0, "multistain", "val")
    no_he = _folder(tmp_path / "no-he", ["CEA"], per_assay=2)
    with pytest.raises(DataNotFoundError, match="has no H&E tile in its train split"):
        data.split_tiles.__wrapped__(dataclasses.replace(SETTINGS, data_root=no_he), 0, "he", "train")
    odd = _folder(tmp_path / "odd", ["H&E"], per_assay=2, tile=36)
    with pytest.raises(ParameterError, match="are 36 px, which a UNET of depth 3 cannot pool"):
        data.split_tiles.__wrapped__(dataclasses.replace(SETTINGS, depth=3, data_root=odd), 0, "he", "train")


def test_a_synthetic_tile_whose_slides_would_not_fit_in_memory_is_refused_with_the_figure():
    with pytest.raises(ParameterError, match=r"would need about 184 GiB each while generated \(the limit is 4 GiB\)"):
        catalog.get("A-T1").resolve("ci", {"tile": 512})
    assert catalog.get("A-T1").resolve("ci", {"tile": 128}).tile == 128


def test_a_truncated_store_entry_or_checkpoint_is_one_sentence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    import torch
    from torch import nn

    from cpath_repro.train import store
    from cpath_repro.train.engine import load_checkpoint

    monkeypatch.setenv(store.STORE_ENV, str(tmp_path / "store"))
    recipe = "cpath_repro.train.engine"
    stored = store.get(store.Recipe({"t": 1}, lambda: nn.Linear(2, 2), lambda m, w: {"history": []}, recipe))
    weights = store.store_root() / stored.key / store.WEIGHTS
    weights.write_bytes(weights.read_bytes()[:40])
    with pytest.raises(UserError, match=r"Model-store entry '.*' cannot be read \(.*\); delete that folder"):
        store.get(store.Recipe({"t": 1}, lambda: nn.Linear(2, 2), lambda m, w: {"history": []}, recipe))
    checkpoint = tmp_path / "last.pt"
    torch.save({"epoch": 1}, checkpoint)
    checkpoint.write_bytes(checkpoint.read_bytes()[:30])
    with pytest.raises(UserError, match=r"Checkpoint '.*last.pt' cannot be read"):
        load_checkpoint(checkpoint)


def test_a_corrupt_nuclei_sample_is_one_sentence(tmp_path: Path):
    from cpath_repro.data.nuclei import FILES, read_dsb_sample

    for name in FILES:
        (tmp_path / name).write_bytes(b"II*\x00 not a tiff")
    with pytest.raises(DataNotFoundError, match="cannot be read .* run `make data`"):
        read_dsb_sample(tmp_path)


def test_a_missing_jupyter_book_is_one_sentence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from cpath_repro.pipeline import book

    monkeypatch.setattr(book, "check_run", lambda run_dir: {})
    monkeypatch.setattr(book, "stage", lambda *args: None)
    monkeypatch.setattr(sys, "executable", str(tmp_path / "bin" / "python"))
    with pytest.raises(UserError, match="Jupyter Book is not installed beside this Python"):
        book.build(tmp_path / "run", tmp_path / "out")
    assert not (tmp_path / "out" / "html").exists()


def test_heatmap_with_a_damaged_model_entry_or_a_file_for_its_folder_is_one_sentence(tmp_path: Path):
    from cpath_repro.chapters.paper_d.apply import apply, load
    from cpath_repro.train.store import META, WEIGHTS

    entry = tmp_path / "entry"
    entry.mkdir()
    (entry / WEIGHTS).write_bytes(b"")
    (entry / META).write_text("{not json")
    with pytest.raises(UserError, match=r"cannot be read \(JSONDecodeError\); the model-store entry is damaged"):
        load(entry)
    (entry / META).write_text("[1]")
    with pytest.raises(UserError, match="is not a model-store entry's record"):
        load(entry)
    out = tmp_path / "heatmap.png"
    out.write_text("")
    with pytest.raises(UserError, match="is a file; name a folder for the heatmap"):
        apply(tmp_path / "slide.svs", entry, out)
