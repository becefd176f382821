import math

import numpy as np
import pytest

from cpath_repro.errors import ParameterError
from cpath_repro.metrics.staging import (
    FEATURE_NAMES,
    MACRO_MM,
    MICRO_MM,
    STAGES,
    SlideClassifier,
    heatmap_features,
    kappa,
    pn_stage,
    slide_class,
)

NEG = ["negative"] * 5


@pytest.mark.parametrize(
    ("nodes", "stage"),
    [
        (NEG, "pN0"),
        (["itc", "negative", "itc", "negative", "negative"], "pN0(i+)"),
        (["itc"] * 5, "pN0(i+)"),
        (["micro", "negative", "negative", "negative", "negative"], "pN1mi"),
        (["micro", "micro", "micro", "negative", "negative"], "pN1mi"),  # 3 micro, no macro
        (["micro", "micro", "micro", "micro", "itc"], "pN1mi"),  # 4 positive nodes but no macro
        (["macro", "negative", "negative", "negative", "negative"], "pN1"),
        (["macro", "micro", "micro", "negative", "itc"], "pN1"),  # 3 positive nodes
        (["macro", "itc", "itc", "itc", "itc"], "pN1"),  # ITCs are not positive nodes
        (["macro", "micro", "micro", "micro", "negative"], "pN2"),  # 4 positive nodes with a macro
        (["macro", "macro", "macro", "macro", "macro"], "pN2"),
    ],
)
def test_pn_stage_follows_the_camelyon17_rules(nodes, stage):
    assert pn_stage(nodes) == stage


def test_pn_stage_covers_all_five_stages_and_refuses_unknown_classes():
    patients = [NEG, ["itc"] + NEG[1:], ["micro"] + NEG[1:], ["macro"] + NEG[1:], ["macro"] * 4 + ["negative"]]
    assert [pn_stage(p) for p in patients] == list(STAGES)
    with pytest.raises(ParameterError):
        pn_stage(["tumour", "negative"])
    with pytest.raises(ParameterError):
        pn_stage([])


def test_slide_class_thresholds_are_strict_and_scale():
    assert (MACRO_MM, MICRO_MM) == (2.0, 0.2)
    assert [slide_class(d) for d in (0.0, 50.0, 200.0, 200.5, 2000.0, 2000.5)] == [
        "negative", "itc", "itc", "micro", "micro", "macro"]
    scale = 0.5625  # 36 px at 2 um/px over 256 px at 0.5 um/px
    assert slide_class(112.5, scale) == "itc" and slide_class(112.6, scale) == "micro"
    assert slide_class(1125.0, scale) == "micro" and slide_class(1125.1, scale) == "macro"
    with pytest.raises(ParameterError):
        slide_class(100.0, 0.0)


def test_kappa_is_one_on_agreement_and_matches_a_hand_computation():
    stages = list(STAGES) + ["pN0", "pN1"]
    assert kappa(stages, stages) == pytest.approx(1.0)
    # true (0, 1, 2) vs predicted (0, 2, 2), quadratic weights (i - j)^2: observed cost 1; expected cost
    # sum_ij r_i c_j (i - j)^2 / n with r = (1, 1, 1), c = (1, 0, 2): (8 + 3 + 4) / 3 = 5; kappa = 1 - 1/5.
    assert kappa(["pN0", "pN0(i+)", "pN1mi"], ["pN0", "pN1mi", "pN1mi"]) == pytest.approx(0.8)
    with pytest.raises(ParameterError):
        kappa(["pN0"], ["pN3"])
    with pytest.raises(ParameterError):
        kappa(["pN0", "pN1"], ["pN0"])


def test_heatmap_features_of_a_hand_made_heatmap():
    p = np.zeros((10, 10))
    p[2:5, 3:7] = 0.95  # a 3 x 4 block
    p[8, 8] = 0.6  # a lone tumour patch
    p[0, 0] = 0.99  # outside the tissue: ignored
    tissue = np.ones((10, 10), bool)
    tissue[0, :] = False
    f = heatmap_features(p, tissue, patch_um=100.0)
    assert list(f) == list(FEATURE_NAMES)
    assert f["n_components"] == 2
    assert f["largest_area_mm2"] == pytest.approx(12 * 0.1**2)
    assert f["largest_axis_mm"] == pytest.approx(4 * math.sqrt((4**2 - 1) / 12) * 0.1)  # 4 sqrt(variance of 4 px)
    assert f["tumour_area_mm2"] == pytest.approx(13 * 0.01)
    assert f["max_probability"] == pytest.approx(0.95)
    assert f["mean_probability"] == pytest.approx((12 * 0.95 + 0.6) / 90)
    assert f["share_above_0.5"] == pytest.approx(13 / 90)
    assert f["share_above_0.9"] == pytest.approx(12 / 90)
    empty = heatmap_features(np.zeros((4, 4)), np.zeros((4, 4), bool), 100.0)
    assert all(v == 0.0 for v in empty.values())
    with pytest.raises(ParameterError):
        heatmap_features(p, tissue[:5], 100.0)


def test_slide_classifier_learns_separable_features_deterministically():
    rng = np.random.default_rng(0)
    classes = ["negative", "itc", "micro", "macro"] * 5
    sizes = {"negative": 0.0, "itc": 0.05, "micro": 0.8, "macro": 3.0}
    features = []
    for c in classes:
        p = np.zeros((16, 16))
        side = int(round(sizes[c] * 4))
        if c != "negative":
            p[4:4 + max(1, side), 4:4 + max(1, side)] = rng.uniform(0.7, 1.0)
        features.append(heatmap_features(p, np.ones((16, 16), bool), 250.0))
    model = SlideClassifier().fit(features, classes)
    assert model.predict(features) == classes
    assert set(model.classes_) == set(classes)
    assert model.predict_proba(features).shape == (20, 4)
    again = SlideClassifier().fit(features, classes)
    np.testing.assert_array_equal(model.predict_proba(features), again.predict_proba(features))
    with pytest.raises(ParameterError):
        model.fit(features, ["big"] * 20)
