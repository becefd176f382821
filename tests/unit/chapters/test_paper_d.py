"""Paper D's chapter: slides in their layouts, maps, methods' read-out, tumour points, claims' tables, bad input."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from cpath_repro.chapters.paper_d import analysis, data, notebooks, training
from cpath_repro.chapters.paper_d.apply import blocks, load
from cpath_repro.chapters.paper_d.settings import Settings
from cpath_repro.claims import registry
from cpath_repro.claims.metrics.paper_d import ACCURACY, ISOLATED_FALSE_TUMOUR_POINTS, PEAK_MEMORY_RATIO_4X_PATCHES, PR_AUC
from cpath_repro.errors import DataNotFoundError, ParameterError, UserError
from cpath_repro.wsi.writer import write_pyramid


def _settings(**changes) -> Settings:
    spec = notebooks.NOTEBOOKS[0]
    s = Settings.from_resolved(spec.resolve("ci", {}))
    return replace(s, **changes)


@pytest.fixture(scope="module")
def slides(tmp_path_factory):
    """The ci profile's synthetic data root (seed 0), written once for the module."""
    import os

    root = tmp_path_factory.mktemp("slides")
    old = os.environ.get(data.SLIDES_ENV)
    os.environ[data.SLIDES_ENV] = str(root)
    s = _settings(stomach_slides=5, camelyon16_slides=4, camelyon17_patients=5)
    yield s, data.synthetic_root(s, 0)
    if old is None:
        os.environ.pop(data.SLIDES_ENV, None)
    else:
        os.environ[data.SLIDES_ENV] = old


def test_crop_larger_than_the_patch_is_refused_before_any_work():
    with pytest.raises(ParameterError, match="crop_px .* cannot exceed patch_px"):
        notebooks.NOTEBOOKS[0].resolve("ci", {"crop_px": 64, "patch_px": 48})


def test_synthetic_slides_are_written_in_the_published_layouts_and_read_back(slides):
    s, root = slides
    assert (root / "stomach-biopsies" / "splits.csv").is_file()
    assert (root / "CAMELYON17" / "training" / "stage_labels.csv").is_file()
    stomach = data.stomach(s, 0)
    assert {sd.split for sd in stomach.slides} == {"train", "val", "test"}
    assert stomach.counts()["tumour"] > 0 and stomach.counts()["normal"] > 0
    c17 = data.camelyon17(s, 0)
    assert len(c17.patients) == 5 and all(sd.patient in c17.patients for sd in c17.slides)
    assert data.synthetic_root(s, 0) == root  # written once, found again


def test_lumps_are_connected_groups_of_patches():
    positions = np.array([(0, 0), (0, 1), (1, 2), (5, 5), (6, 6), (9, 0)])
    lumps = data.lumps_of(positions, (10, 10))
    assert sorted(map(sorted, (list(x) for x in lumps))) == [[0, 1, 2], [3, 4], [5]]


def test_depth_keeps_two_positions_at_the_bottleneck():
    assert [training.depth_for(n) for n in (8, 16, 24, 32, 512, 20)] == [2, 3, 3, 4, 4, 2]


def test_maps_place_patches_centred_and_read_out_returns_them_to_their_patches(slides):
    s, _ = slides
    sd = data.stomach(s, 0).slides[0]
    values = torch.arange(len(sd.patches), dtype=torch.float32)[:, None]
    maps = training.slide_maps(sd, values, s.stomach_map)
    back = training.read_out([m[0].numpy() for m in maps.inputs], maps)
    inside = ~np.isnan(back)
    assert inside.mean() > 0.9  # a lump larger than the map loses its edges, no more
    np.testing.assert_array_equal(back[inside], np.arange(len(sd.patches))[inside])
    for lmap, lump in zip(maps.labels, maps.lumps, strict=True):
        assert int((lmap != -1).sum()) <= len(lump)


def test_camelyon_training_patches_are_balanced(slides):
    s, _ = slides
    t = training.task(s, "camelyon16", 0)
    labels = np.concatenate([[p.label for p in ds.patches] for ds in training._training_patches(s, t, 0)])
    assert (labels == 1).sum() == (labels == 0).sum() > 0


def test_beside_paper_puts_the_papers_mean_and_sd_beside_ours():
    long = pd.DataFrame([{"seed": k, "arm": "end-to-end", "metric": m, "value": v + k}
                         for k in range(3) for m, v in ((ACCURACY, 90.0), (PR_AUC, 80.0))])
    table = analysis.beside_paper(long, {"end-to-end": (98.45, 0.01, 99.34, 0.0), "separate": (1, 2, 3, 4)})
    assert list(table.method) == ["End-to-end learning"]
    assert table.loc[0, "accuracy (%): paper_mean"] == 98.45 and table.loc[0, "accuracy (%): ours_mean"] == 91.0
    assert table.loc[0, "PR-AUC (%): ours_sd"] == pytest.approx(1.0)


def test_tumour_points_are_summed_over_test_slides_per_seed_and_method():
    sd = data.SlideData("a", Path("a.tif"), "test", 0, [], (3, 3), [])
    sd.patches = [_Patch(r, c, label) for r, c, label in ((0, 0, 1), (0, 2, 0), (2, 0, 0), (2, 2, 0))]
    results = analysis.Results("stomach", pd.DataFrame(), [], slides={0: [sd]})
    results.probabilities[(0, "classifier-only")] = [np.array([0.9, 0.8, 0.7, 0.1])]  # two false points
    results.probabilities[(0, "end-to-end")] = [np.array([0.9, 0.2, 0.1, 0.1])]
    table = analysis.tumour_points(results, ["classifier-only", "end-to-end"])
    assert table.set_index("arm").value.to_dict() == {"classifier-only": 2.0, "end-to-end": 0.0}
    assert set(table.metric) == {ISOLATED_FALSE_TUMOUR_POINTS}


class _Patch:
    def __init__(self, row: int, col: int, label: int) -> None:
        self.row, self.col, self.label = row, col, label


def test_memory_claim_rows_divide_the_growth_at_4n_by_the_growth_at_n():
    s = _settings(memory_patches=(16,), n_seeds=3)
    memory = pd.DataFrame([{"seed": k, "method": "end-to-end", "patches": n, "peak growth (MiB)": g}
                           for k in range(3) for n, g in ((16, 100.0), (64, 110.0))])
    rows = analysis.memory_claim_rows(memory, s, pd.DataFrame(columns=["seed", "arm", "metric", "value"]))
    assert list(rows.value) == pytest.approx([1.1] * 3)
    assert set(rows.metric) == {PEAK_MEMORY_RATIO_4X_PATCHES}
    assert registry.get("D-C3").rule.parts[0].evaluate(rows).status.value == "supported"


def test_a_lump_larger_than_the_map_is_cut_into_map_sized_blocks():
    positions = np.array([(r, c) for r in range(5) for c in range(5)])
    parts = blocks(positions, np.arange(25), 3)
    assert sorted(len(b) for b in parts) == [4, 6, 6, 9]
    assert sorted(np.concatenate(parts)) == list(range(25))


def test_a_model_folder_that_is_missing_or_not_end_to_end_is_one_sentence(tmp_path):
    with pytest.raises(DataNotFoundError, match="Expected a paper D end-to-end model"):
        load(tmp_path)
    (tmp_path / "model.pt").write_bytes(b"")
    (tmp_path / "meta.json").write_text('{"config": {"method": "separate"}}')
    with pytest.raises(UserError, match="holds a separate model"):
        load(tmp_path)


# -- bad slides -------------------------------------------------------------------------------------------------------

def _stomach_folder(root: Path, images: dict[str, np.ndarray], mpp: float | None = 2.0) -> Path:
    folder = root / "stomach-biopsies"
    rows = ["slide,split"]
    for name, image in images.items():
        if mpp is None:
            import tifffile

            (folder / "images").mkdir(parents=True, exist_ok=True)
            tifffile.imwrite(folder / "images" / f"{name}.tif", image, tile=(64, 64), photometric="rgb")
        else:
            write_pyramid(folder / "images" / f"{name}.tif", image, mpp)
        rows.append(f"{name}.tif,train")
    (folder / "splits.csv").write_text("\n".join(rows) + "\n")
    return root


def _tissue_image(size: int = 256) -> np.ndarray:
    image = np.full((size, size, 3), 245, np.uint8)
    image[32:-32, 32:-32] = (190, 90, 160)
    return image


def test_a_slide_without_tissue_is_skipped_and_counted(tmp_path):
    root = _stomach_folder(tmp_path, {"glass": np.full((256, 256, 3), 245, np.uint8), "tissue": _tissue_image()})
    cohort = data.stomach(_settings(data_root=root), 0)
    assert cohort.skipped == ["glass"] and [sd.name for sd in cohort.slides] == ["tissue"]
    assert cohort.counts()["skipped (no tissue)"] == 1


def test_a_slide_without_microns_per_pixel_is_one_sentence(tmp_path):
    root = _stomach_folder(tmp_path, {"nompp": _tissue_image()}, mpp=None)
    with pytest.raises(UserError, match="records no microns per pixel.*pass mpp"):
        data.stomach(_settings(data_root=root), 0)


def test_a_slide_at_another_resolution_names_its_levels(tmp_path):
    root = _stomach_folder(tmp_path, {"fine": _tissue_image()}, mpp=0.25)
    with pytest.raises(UserError, match=r"no level at 2 um/px \(its levels: 0\.25"):
        data.stomach(_settings(data_root=root), 0)


def test_a_truncated_slide_is_one_sentence(tmp_path):
    root = _stomach_folder(tmp_path, {"cut": _tissue_image(512)})
    path = root / "stomach-biopsies" / "images" / "cut.tif"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 3])
    with pytest.raises(UserError) as caught:
        data.stomach(_settings(data_root=root), 0)
    message = str(caught.value)
    assert "cut.tif" in message and "\n" not in message and message.endswith(".")


def test_splits_naming_a_slide_that_is_not_there_is_one_sentence(tmp_path):
    root = _stomach_folder(tmp_path, {"one": _tissue_image()})
    (root / "stomach-biopsies" / "splits.csv").write_text("slide,split\none.tif,train\ntwo.tif,test\n")
    with pytest.raises(UserError, match="names slide 'two.tif', which is not in"):
        data.stomach(_settings(data_root=root), 0)


def test_the_heatmap_overlay_lands_on_its_patch_when_the_slide_is_not_whole_patches(tmp_path):
    """A slide of 1,000 x 700 px cut into 48-px patches (the grid covers 960 x 672): the one tumour patch's colour
    on the PNG overlay covers the dark square drawn at that patch on the slide, within a thumbnail pixel."""
    from cpath_repro.chapters.paper_d.apply import overlay
    from cpath_repro.wsi import open_slide

    side, (row, col) = 48, (12, 18)
    image = np.full((700, 1000, 3), 230, dtype=np.uint8)
    image[row * side:(row + 1) * side, col * side:(col + 1) * side] = 20
    with open_slide(write_pyramid(tmp_path / "slide.tif", image, 1.0, min_size=128)) as slide:
        thumb = slide.thumbnail(256)
        size = slide.dimensions
    grid_rgb = np.zeros((700 // side, 1000 // side, 3), dtype=np.uint8)
    grid_rgb[row, col] = (0, 255, 0)
    tumour = np.zeros(grid_rgb.shape[:2], dtype=bool)
    tumour[row, col] = True
    shown = overlay(thumb, grid_rgb, tumour, size, float(side))

    def box(mask: np.ndarray) -> np.ndarray:
        ys, xs = np.nonzero(mask)
        return np.array([xs.min(), xs.max(), ys.min(), ys.max()])

    coloured = box(shown[..., 1].astype(int) - shown[..., 0] > 40)
    dark = box(thumb.mean(-1) < 125)
    assert np.abs(coloured - dark).max() <= 1, (coloured, dark)
    untouched = ~np.zeros(thumb.shape[:2], dtype=bool)
    untouched[coloured[2]:coloured[3] + 1, coloured[0]:coloured[1] + 1] = False
    assert (shown[untouched] == thumb[untouched]).all()  # no other patch is tumour, and the strip beyond is the slide


def test_a_slide_finer_than_the_model_is_read_at_its_finest_and_each_patch_shrunk_to_the_models_resolution(tmp_path):
    """The project's own real slide is 0.499 µm/px with one level; a model trained at 2 µm/px reads level 0 and
    shrinks each patch 4x (it was refused before); a --mpp that contradicts the slide, or a slide coarser than the
    model, is one sentence."""
    from cpath_repro.chapters.paper_d.apply import resolution, shrink
    from cpath_repro.wsi import open_slide

    image = np.full((256, 256, 3), 230, dtype=np.uint8)
    with open_slide(write_pyramid(tmp_path / "fine.tif", image, 0.499, min_size=10_000)) as slide:
        level, factor = resolution(slide, 2.0, None)
        assert (level, round(factor, 3)) == (0, round(2.0 / 0.499, 3))
        with pytest.raises(UserError, match=r"records 0\.499 µm/px at level 0, and --mpp 2 contradicts it"):
            resolution(slide, 2.0, 2.0)
    with open_slide(write_pyramid(tmp_path / "at.tif", image, 0.5, min_size=32)) as slide:
        assert resolution(slide, 2.0, None)[1] == 1.0  # its level at 2 µm/px is read as it is
    with open_slide(write_pyramid(tmp_path / "coarse.tif", image, 4.0, min_size=10_000)) as slide:
        with pytest.raises(UserError, match="coarser than the 2 µm/px the model was trained at"):
            resolution(slide, 2.0, None)
    blocks4 = torch.arange(16.0).reshape(1, 4, 4).repeat_interleave(2, 1).repeat_interleave(2, 2).repeat(3, 1, 1)
    small = shrink(blocks4, 4, 2)  # 8 px of 2 x 2 blocks -> 4 px, then the centre 2 px
    assert small.shape == (3, 2, 2) and torch.equal(small[0], torch.tensor([[5.0, 6.0], [9.0, 10.0]]))
