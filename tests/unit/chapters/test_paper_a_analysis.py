"""Paper A's measurements: correlation with stain maps, the best matching, the real-H&E check, and the panels the
figures draw them in."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cpath_repro.chapters.paper_a import analysis, figures
from cpath_repro.claims.rules import Status


def test_correlations_find_each_reference_in_whichever_output_holds_it():
    rng = np.random.default_rng(0)
    h, e = rng.random((8, 8)), rng.random((8, 8))
    outputs = np.stack([rng.random((8, 8)), -2 * e + 1, 3 * h])  # eosin in output 2 (negated), haematoxylin in 3
    r = analysis.abs_correlations(outputs, {"haematoxylin": h, "eosin": e})
    assert r.loc["CD output 3", "haematoxylin"] == pytest.approx(1.0)
    assert r.loc["CD output 2", "eosin"] == pytest.approx(1.0)
    assert analysis.best_matching(r) == pytest.approx(1.0)
    # one output cannot stand for both stains: with haematoxylin and eosin in one output the matching drops
    same = analysis.abs_correlations(np.stack([h + e, np.zeros((8, 8)), np.zeros((8, 8))]), {"h": h, "e": e})
    assert analysis.best_matching(same) < same.max().max()


def test_a_constant_output_correlates_with_nothing():
    r = analysis.abs_correlations(np.zeros((3, 4, 4)), {"h": np.arange(16.0).reshape(4, 4)})
    assert (r.to_numpy() == 0).all()


def test_the_real_he_tiles_are_tissue_from_the_cmu_slide():
    tiles, path = analysis.real_he_tiles()
    assert path.name == "cmu_small_region.svs"
    assert tiles.shape == (analysis.REAL_HE_TILES, analysis.REAL_HE_TILE, analysis.REAL_HE_TILE, 3)
    assert (tiles.reshape(len(tiles), -1).mean(1) < analysis.REAL_HE_MAX_BRIGHTNESS).all()


def _check_table(trained: list[float], untrained: list[float]) -> pd.DataFrame:
    rows = []
    for seed, (t, u) in enumerate(zip(trained, untrained, strict=True)):
        for metric in analysis.REAL_HE_METRICS.values():
            rows += [{"seed": seed, "arm": "trained", "metric": metric, "value": t},
                     {"seed": seed, "arm": "untrained", "metric": metric, "value": u}]
    return pd.DataFrame(rows)


def test_the_real_he_rule_asks_for_a_gain_from_training_beyond_its_interval():
    rule = analysis.REAL_HE_RULE
    assert rule.evaluate(_check_table([0.80, 0.82, 0.81], [0.6, 0.6, 0.6])).status is Status.SUPPORTED
    assert rule.evaluate(_check_table([0.8, 0.5, 0.9], [0.6, 0.6, 0.6])).status is Status.INCONCLUSIVE
    # a high correlation alone (A-C6's question) is not enough: an untrained segment that does as well fails it
    assert rule.evaluate(_check_table([0.90, 0.91, 0.89], [0.92, 0.93, 0.92])).status is Status.CONTRADICTED


def test_the_figures_panels_name_what_they_show():
    from cpath_repro.chapters.paper_a.settings import Settings

    outputs = np.zeros((3, 4, 4))
    assert list(figures.cd_output_panels(np.zeros((4, 4, 3)), outputs)) == ["H&E image", "CD output 1", "CD output 2",
                                                                            "CD output 3"]
    found = {"tumour": (np.zeros((4, 4)), 1, 2)}
    assert figures.pixel_panels(found) == {"tumour pixel": found["tumour"]}

    from cpath_repro.explain.actmax import FilterColours

    # filter 1 points at eosin exactly, filter 2 prefers clear glass
    od = np.stack([analysis.TRUE_STAIN_VECTORS[1], analysis.TRUE_STAIN_VECTORS[0]])
    colours = FilterColours(od=od, best_response=np.array([1.0, 0.0]), glass_response=np.array([0.0, 1.0]))
    rows = figures.filter_swatches({("trained", 0): colours, ("untrained", 0): colours}, Settings.of_profile("ci"))
    assert list(rows) == ["true stains (the generator's)", "trained, seed 0", "untrained, seed 0"]
    np.testing.assert_allclose(rows["true stains (the generator's)"][0], 10 ** -analysis.TRUE_STAIN_VECTORS)
    assert rows["trained, seed 0"][1] == ["eosin\n0°", "glass"]  # each filter says which stain it is nearest


def test_the_maximizing_inputs_are_cropped_to_what_the_ascent_changed_and_say_how_much():
    grey = np.full((32, 32, 3), 0.5)
    changed = grey.copy()
    changed[14:18, 15:17] = 0.6  # 8 of 1,024 pixels
    panels = figures.maximizing_panels({"maximizes tumour": changed, "maximizes tissue": grey}, margin=2)
    assert list(panels) == ["maximizes tumour\n(0.8% of the input changed)", "maximizes tissue\n(0.0% of the input changed)"]
    tumour = panels["maximizes tumour\n(0.8% of the input changed)"]
    assert tumour.shape == (8, 6, 3) and tumour.max() == 1.0  # the crop, its difference from grey stretched


def test_convergence_reads_a_level_both_arms_reach_so_an_arm_that_learns_nothing_cannot_win():
    from types import SimpleNamespace

    from cpath_repro.chapters.paper_a.analysis import convergence_table
    from cpath_repro.chapters.paper_a.training import F1_NAMES
    from cpath_repro.claims.metrics.paper_a import EPOCHS_TO_SHARED_LEVEL, F1_CURVE_ROUGHNESS

    def stored(values):
        return SimpleNamespace(meta={"history": [{"epoch": e + 1, "val": dict.fromkeys(F1_NAMES, v)}
                                                 for e, v in enumerate(values)]})

    models = {("learns", 0): stored([0.2, 0.6, 0.9, 0.9]), ("flat", 0): stored([0.1, 0.12, 0.1, 0.12])}
    table = convergence_table(models, {"learns": "a", "flat": "b"}).set_index(["arm", "metric"]).value
    # the level is 90 % of the flat arm's final 0.12: the arm that learns is there at once, the flat one at epoch 2
    assert (table[("a", EPOCHS_TO_SHARED_LEVEL)], table[("b", EPOCHS_TO_SHARED_LEVEL)]) == (1, 2)
    assert table[("a", F1_CURVE_ROUGHNESS)] == 0.0 < table[("b", F1_CURVE_ROUGHNESS)]
