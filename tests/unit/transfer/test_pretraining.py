"""The fractal stand-in: stored once, pretrained away from its initialization, chosen only without ImageNet;
the probe's table and the rule that reads it."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from torchvision import models

from cpath_repro.models import backbones
from cpath_repro.train import store
from cpath_repro.transfer import pretraining, probe
from cpath_repro.transfer.pretraining import FractalSettings
from cpath_repro.transfer.probe import ProbeSettings

TINY = FractalSettings(classes=3, per_class=4, epochs={"resnet18": 2}, batch_size=4, val_per_class=1)
TINY_PROBE = ProbeSettings(seeds=3, train_per_class=2, val_per_class=2, epochs=1, batch_size=3)


@pytest.fixture(autouse=True)
def own_store_and_torch_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A model store and an empty TORCH_HOME of the test's own; downloads fail."""
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a download was attempted")

    monkeypatch.setenv(store.STORE_ENV, str(tmp_path / "store"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", refuse)
    return tmp_path


@pytest.fixture
def trainings(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the trainings the engine runs in this test."""
    names: list[str] = []

    class Counting(pretraining.Trainer):
        def fit(self):  # type: ignore[no-untyped-def]
            names.append(self.name)
            return super().fit()

    monkeypatch.setattr(pretraining, "Trainer", Counting)
    return names


def test_the_stand_in_is_trained_once_and_then_loaded(trainings: list[str]):
    first = pretraining.stand_in("resnet18", TINY, progress=False)
    assert trainings == ["fractal stand-in resnet18"] and store.exists(first.key)
    second = pretraining.stand_in("resnet18", TINY, progress=False)
    assert trainings == ["fractal stand-in resnet18"] and second.key == first.key
    assert all(torch.equal(v, second.state[k]) for k, v in first.state.items())
    assert first.meta["images"] == 12 and first.meta["input_size"] == 32 and len(first.meta["history"]) == 2
    other = pretraining.stand_in("resnet18", dataclasses.replace(TINY, seed=1), progress=False)
    assert other.key != first.key and len(trainings) == 2


def test_pretraining_moves_the_weights_away_from_their_initialization():
    s = pretraining.stand_in("resnet18", TINY, progress=False)
    initial = backbones.build("resnet18", "none", TINY.classes, seed=TINY.seed, head_seed=TINY.seed).model.state_dict()
    assert s.state.keys() == initial.keys()
    assert not torch.equal(s.state["conv1.weight"], initial["conv1.weight"])
    assert not torch.equal(s.state["layer4.1.conv2.weight"], initial["layer4.1.conv2.weight"])
    mean, std = s.normalization.mean, s.normalization.std
    assert mean is not None and std is not None and all(0 < m < 1 for m in mean) and all(0 < v < 1 for v in std)
    assert "fractal" in s.normalization.note


def test_pretrained_is_imagenet_when_its_file_is_here_and_the_stand_in_otherwise(own_store_and_torch_home: Path):
    assert pretraining.resolve("resnet18") == "fractal"
    fractal = pretraining.pretrained("resnet18", "auto", 5, TINY, progress=False)
    weights = fractal.model.state_dict()
    assert fractal.pretraining == "fractal" and "stand-in" in fractal.source and weights["fc.weight"].shape[0] == 5
    stand_in = pretraining.stand_in("resnet18", TINY, progress=False)
    assert torch.equal(weights["conv1.weight"], stand_in.state["conv1.weight"])
    assert fractal.normalization == stand_in.normalization

    torch.manual_seed(0)
    state = models.resnet18().state_dict()
    path = backbones.weights_path(models.ResNet18_Weights.DEFAULT)
    path.parent.mkdir(parents=True)
    torch.save(state, path)
    assert pretraining.resolve("resnet18") == "imagenet"
    imagenet = pretraining.pretrained("resnet18", "auto", 5, TINY, progress=False)
    assert imagenet.pretraining == "imagenet" and str(path) in imagenet.source
    assert torch.equal(imagenet.model.state_dict()["conv1.weight"], state["conv1.weight"])
    assert pretraining.pretrained("resnet18", "fractal", settings=TINY, progress=False).pretraining == "fractal"


def test_the_probe_table_pairs_both_arms_in_every_seed():
    table = probe.measure("resnet18", TINY, TINY_PROBE)
    assert list(table.columns) == ["seed", "arm", "metric", "value"]
    assert len(table) == 6 and set(table.arm) == {"fractal", "random"} and sorted(set(table.seed)) == [0, 1, 2]
    assert set(table.metric) == {"probe_accuracy"} and table.value.between(0, 100).all()  # percent
    assert all(sorted(group.arm) == ["fractal", "random"] for _, group in table.groupby("seed"))
    assert isinstance(probe.pretrains(table), bool) and "fractal" in probe.evidence(table)


def test_the_frozen_probe_reads_features_and_pairs_both_arms():
    table = probe.measure("resnet18", TINY, TINY_PROBE, use="frozen")
    assert len(table) == 6 and set(table.arm) == {"fractal", "random"} and table.value.between(0, 100).all()
    with pytest.raises(ValueError, match="frozen or fine-tuned"):
        probe.measure("resnet18", TINY, TINY_PROBE, use="linear")


def test_probe_tiles_are_balanced_deterministic_and_labelled_by_their_majority_class():
    images, labels = probe.probe_tiles(0, "train", 3, 32)
    assert images.shape == (9, 32, 32, 3) and np.bincount(labels).tolist() == [3, 3, 3]
    again, _ = probe.probe_tiles.__wrapped__(0, "train", 3, 32)
    assert np.array_equal(images, again)
    val, _ = probe.probe_tiles(0, "val", 3, 32)
    assert not any(np.array_equal(a, b) for a in images for b in val)


def _table(fractal: list[float], random: list[float]) -> pd.DataFrame:
    rows = [{"seed": s, "arm": arm, "metric": "probe_accuracy", "value": v}
            for arm, values in (("fractal", fractal), ("random", random)) for s, v in enumerate(values)]
    return pd.DataFrame(rows)


def test_the_rule_needs_the_gains_interval_above_zero():
    assert probe.pretrains(_table([0.8, 0.7, 0.9], [0.6, 0.52, 0.68]))
    assert "pretrains" in probe.evidence(_table([0.8, 0.7, 0.9], [0.6, 0.52, 0.68]))
    assert not probe.pretrains(_table([0.8, 0.6, 0.9], [0.6, 0.65, 0.5]))  # loses seed 1: the interval straddles 0
    assert "not shown to pretrain" in probe.evidence(_table([0.8, 0.6, 0.9], [0.6, 0.65, 0.5]))
    assert "does not pretrain" in probe.evidence(_table([0.5, 0.52, 0.49], [0.7, 0.71, 0.7]))
    assert not probe.pretrains(_table([0.9, 0.9], [0.1, 0.1]))  # two seeds cannot decide
    assert "cannot be judged" in probe.evidence(_table([0.9, 0.9], [0.1, 0.1]))


def test_profiles():
    paper = pretraining.fractal_settings("paper")
    assert (paper.classes, paper.per_class, paper.epochs_for("resnet50")) == (1000, 1000, 90)  # FractalDB-1k
    default = pretraining.fractal_settings("default")
    assert default.input_size("inception_v3") == 75 and default.input_size("resnet18") == 32
    assert default.train_config("resnet18").lr == pytest.approx(0.1 * 64 / 256)
    assert probe.probe_settings("default").seeds >= probe.RULE.min_seeds
    with pytest.raises(pretraining.ParameterError, match="ci, default, paper"):
        pretraining.fractal_settings("fast")
