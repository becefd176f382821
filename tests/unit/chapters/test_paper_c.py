"""Paper C's recipe: shared arms, the paper's loss, crops, splits, the claim tables, real data."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from cpath_repro.chapters.paper_c import analysis, data, models, paper, training
from cpath_repro.chapters.paper_c.notebooks import NOTEBOOKS
from cpath_repro.chapters.paper_c.settings import Settings
from cpath_repro.claims import registry
from cpath_repro.errors import DataNotFoundError, ParameterError

CI = Settings.of_profile("ci")


def _arms(rule: object) -> set[str]:
    found: set[str] = set()
    for part in getattr(rule, "parts", (rule,)):
        for side in (part.better, part.worse):
            found |= {side} if isinstance(side, str) else set(side)
    return found


def test_every_claims_arms_are_arms_this_chapter_runs() -> None:
    ours = {**analysis.CROPS, **analysis.WEIGHTINGS, **analysis.EXTRACTOR_ARMS, **analysis.TRAINING_ARMS,
            **analysis.ADDITIONAL_ARMS}
    runs = set(ours) | {"ensemble", "single", "saliency", "grad-cam", "uniform-map"}
    for claim in registry.CLAIMS.values():
        if claim.paper == "C":
            assert _arms(claim.rule) <= runs, claim.id
    pages = {c for spec in NOTEBOOKS for c in spec.claims}
    assert pages == {f"C-C{i}" for i in range(1, 8)}


def test_the_sweeps_share_one_base_model_and_the_best_model_is_one_arm() -> None:
    base = analysis.BASE
    assert analysis.CROPS["crop-100"] == analysis.WEIGHTINGS["unweighted"] == analysis.ADDITIONAL_ARMS["initial-only"] \
        == base
    best = analysis.WITH_ADDITIONAL
    assert analysis.EXTRACTOR_ARMS["resnet"] == analysis.TRAINING_ARMS["frozen"] == best
    assert best == dataclasses.replace(base, additional=True) and base.layers == 3 and base.frozen
    assert analysis.TRAINING_ARMS["fine-tuned"] == analysis.LAYER_ARMS["3 layers"]
    assert all(not a.augment and not a.additional for a in analysis.BASELINES.values())  # "on the raw training data"
    members = list(analysis.ensemble_members(3.0).values())
    assert [m.weights for m in members] == [(3.0, 1.0, 1.0), (1.0, 3.0, 1.0), (1.0, 1.0, 3.0)]
    assert analysis.weighting_name((5.88, 1.89, 3.33)) == "inverse-frequency"
    assert analysis.weighting_name((2.5, 1.0, 1.5)) == "moderate-weights"


def test_the_loss_is_the_papers_weighted_mean_over_images_not_torchs() -> None:
    logits = torch.tensor([[2.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    labels = torch.tensor([0, 2])
    each = -torch.log_softmax(logits, 1)[torch.arange(2), labels]
    weights = (5.88, 1.89, 3.33)
    ours = training.weighted_cross_entropy(weights)(logits, labels)
    assert float(ours) == pytest.approx(float((5.88 * each[0] + 3.33 * each[1]) / 2))
    torch_mean = torch.nn.functional.cross_entropy(logits, labels, weight=torch.tensor(weights))
    assert float(ours) != pytest.approx(float(torch_mean))
    assert float(training.weighted_cross_entropy(None)(logits, labels)) == pytest.approx(float(each.mean()))


def test_learning_rate_decays_as_kerass_decay_per_epoch() -> None:
    assert [training._decay(e) for e in (0, 1, 10)] == pytest.approx([1.0, 1 / 1.01, 1 / 1.1])


def test_a_centre_crop_keeps_the_centre_at_the_same_size() -> None:
    image = torch.zeros(1, 3, 20, 40)
    image[..., 5:15, 10:30] = 1.0  # the central half of each side
    cropped = training.centre_crop(image, 50)
    assert cropped.shape == image.shape and float(cropped.min()) == pytest.approx(1.0, abs=1e-5)
    assert training.centre_crop(image, 100) is image


def test_splits_are_stratified_disjoint_and_validation_comes_from_the_initial_set_only() -> None:
    s = dataclasses.replace(CI, n_initial=60, n_additional=40)
    p = data.prepare(s, 0)
    names = {k: set(p.splits[k].names) for k in ("train", "val", "holdout", "additional")}
    assert all(not names[a] & names[b] for a in names for b in names if a < b)
    assert [len(p.splits[k]) for k in data.INITIAL_SPLITS] == [36, 12, 12]
    for k in data.INITIAL_SPLITS:
        assert set(p.splits[k].labels) == {0, 1, 2}
    assert all(n.startswith("initial_") for n in names["val"] | names["holdout"])
    arm = dataclasses.replace(analysis.BASE, additional=True)
    trained_on = training.training_images(p, arm)
    assert len(trained_on) == 36 + int(p.cleaning.kept.sum()) and not set(trained_on.names) & names["val"]


def test_a_claim_table_holds_the_loss_of_its_arms_and_refuses_a_missing_one() -> None:
    long = pd.DataFrame({"seed": [0, 0, 0, 0], "arm": ["crop-70", "crop-70", "crop-100", "crop-100"],
                         "metric": [training.VAL_LOSS, training.VAL_ACCURACY] * 2, "value": [0.8, 60.0, 0.9, 55.0]})
    table = analysis.claim_table(long, ["crop-70", "crop-100"])
    assert list(table.metric.unique()) == [training.VAL_LOSS] and len(table) == 2
    with pytest.raises(ParameterError, match="crop-55"):
        analysis.claim_table(long, ["crop-70", "crop-55"])
    beside = analysis.beside_paper(long, paper.C_T3, analysis.CROP_NAMES)
    assert list(beside.model) == ["crop-100", "crop-70"]
    row = beside.set_index("model").loc["crop-70"]
    assert row[f"{analysis.LOSS_COLUMN}: paper"] == 0.7725 and row[f"{analysis.LOSS_COLUMN}: ours_mean"] == 0.8


def test_saliency_reaches_the_input_through_a_frozen_extractor() -> None:
    import torchvision

    from cpath_repro.explain import cams

    extractor = models.first_layers(torchvision.models.resnet50(), "resnet50", 3)
    net = models.ExtractorWithHead(extractor, models.InceptionResidualHead(64, widths=(16,)), frozen=True)
    maps = cams.saliency(net, torch.randn(2, 3, 32, 32), [0, 2])
    assert maps.shape == (2, 32, 32) and (maps > 0).mean() > 0.5


def _kaggle(root: Path, per_type: int) -> Path:
    folder = root / "intel-mobileodt-cervical-cancer-screening"
    rng = np.random.default_rng(0)
    for subset in ("train", "additional"):
        for t in ("Type_1", "Type_2", "Type_3"):
            (folder / subset / t).mkdir(parents=True)
            for i in range(per_type):
                Image.fromarray(rng.integers(0, 255, (30, 40, 3), np.uint8)).save(folder / subset / t / f"{i}.jpg")
    (folder / "test").mkdir()
    Image.fromarray(rng.integers(0, 255, (30, 40, 3), np.uint8)).save(folder / "test" / "1.jpg")
    (folder / "train" / "Type_2" / "broken.jpg").write_bytes(b"not a jpeg")
    return folder


def test_a_kaggle_folder_is_read_split_and_its_unreadable_image_counted(tmp_path: Path) -> None:
    _kaggle(tmp_path, 5)
    s = dataclasses.replace(CI, data_root=tmp_path, n_initial=100, n_additional=100, n_test=5)
    p = data.prepare(s, 0)
    assert p.kind == "real" and sum(len(p.splits[k]) for k in data.INITIAL_SPLITS) == 15
    assert len(p.splits["additional"]) == 15 and p.splits["test"].names == ("1.jpg",)
    assert [f for f, _ in p.skipped] == ["train/Type_2/broken.jpg"] and p.bad is None
    assert p.splits["train"].images.shape[1:] == (*s.size, 3)


def test_too_few_images_of_a_type_is_one_sentence(tmp_path: Path) -> None:
    _kaggle(tmp_path, 2)
    s = dataclasses.replace(CI, data_root=tmp_path)
    with pytest.raises(DataNotFoundError, match="at least 3 images of each type"):
        data.prepare(s, 0)


def test_features_computed_once_train_the_head_as_training_through_the_frozen_extractor_does(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    s = dataclasses.replace(CI, n_initial=30, n_additional=0, epochs=2)
    arm = analysis.BASELINES["ResNet"]
    val = data.prepare(s, 0).splits["val"]
    found = []
    for once in (True, False):
        monkeypatch.setenv("CPATH_REPRO_MODEL_STORE", str(tmp_path / str(once)))
        monkeypatch.setattr(training, "features_once", lambda model, arm, once=once: once)
        t = training.trained(s, arm, 0, progress=False)
        found.append((t.val_loss, t.predict(val)))
    # Adam turns gradients of ~1e-9 (features that are 0 one way, 1e-9 the other) into lr-sized steps, so weights
    # fed by dead features may differ; what the model says may not beyond float32 summation order (seen: 5e-6 on
    # a probability, 2e-5 relative on a loss of 14 with torch on one thread; a head trained on other features,
    # e.g. in training mode, is off by 1e-2 and more)
    assert found[0][0] == pytest.approx(found[1][0], rel=1e-4)
    assert np.allclose(found[0][1], found[1][1], atol=1e-4)
