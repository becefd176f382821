"""Backbones: ImageNet weights only from torchvision's own file (never the network), built as its builders do."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn
from torchvision import models

from cpath_repro.errors import DataNotFoundError, ParameterError
from cpath_repro.models import backbones
from cpath_repro.models.backbones import Normalization, build, imagenet_available, imagenet_weights, weights_path

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """An empty TORCH_HOME of the test's own, and every download path of torch and torchvision made to fail."""
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a download was attempted")

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", refuse)
    monkeypatch.setattr(torch.hub, "download_url_to_file", refuse)
    monkeypatch.setattr(models.WeightsEnum, "get_state_dict", refuse)
    return tmp_path / "torch"


def _write(member: models.WeightsEnum, model: nn.Module) -> dict[str, torch.Tensor]:
    """A fake weight file where torchvision keeps ``member``'s: random weights, saved as a plain state dict."""
    path = weights_path(member)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = model.state_dict()
    torch.save(state, path)
    return state


def test_the_file_is_looked_for_under_torch_home(no_network: Path):
    member = models.ResNet18_Weights.IMAGENET1K_V1
    assert weights_path(member) == no_network / "hub" / "checkpoints" / "resnet18-f37072fd.pth"
    assert not imagenet_available("resnet18")


def test_resnet18_imagenet_loads_exactly_the_tensors_of_the_file():
    torch.manual_seed(1)
    state = _write(models.ResNet18_Weights.DEFAULT, models.resnet18())
    assert imagenet_available("resnet18")
    bb = build("resnet18", "imagenet")
    loaded = bb.model.state_dict()
    assert loaded.keys() == state.keys() and all(torch.equal(loaded[k], state[k]) for k in state)
    assert bb.model.fc.out_features == 1000 and bb.feature_dim == 512
    assert bb.weights == "ResNet18_Weights.IMAGENET1K_V1" and "resnet18-f37072fd.pth" in bb.source
    n = bb.normalization
    assert n.mean == IMAGENET_MEAN and n.std == IMAGENET_STD and (n.resize, n.crop) == (256, 224)
    head = build("resnet18", "imagenet", 7).model
    assert head.fc.out_features == 7
    assert torch.equal(head.layer4[1].conv2.weight, state["layer4.1.conv2.weight"])


@pytest.mark.parametrize("name", ["googlenet", "inception_v3"])
def test_google_ports_are_built_as_torchvision_builds_them(name: str):
    torch.manual_seed(2)
    cls = models.GoogLeNet if name == "googlenet" else models.Inception3
    reference = cls(aux_logits=True, transform_input=True, init_weights=False)
    state = _write(backbones.weights_enum(name).DEFAULT, reference)
    aux = ("aux1.", "aux2.") if name == "googlenet" else ("AuxLogits.",)
    bb = build(name, "imagenet")
    m = bb.model
    assert m.transform_input is True and m.aux_logits is False
    assert all(getattr(m, head.rstrip(".")) is None for head in aux)
    loaded = m.state_dict()
    expected = {k: v for k, v in state.items() if not k.startswith(aux)}
    assert loaded.keys() == expected.keys() and all(torch.equal(loaded[k], expected[k]) for k in expected)
    assert m.fc.out_features == 1000  # the ImageNet head, before any replacement
    crop = 224 if name == "googlenet" else 299
    assert bb.normalization.crop == crop and bb.normalization.mean == IMAGENET_MEAN
    if name == "googlenet":  # torchvision's own warning, mirrored
        with pytest.warns(UserWarning, match="NOT pretrained"):
            with_aux = build(name, "imagenet", aux_logits=True).model
    else:
        with_aux = build(name, "imagenet", aux_logits=True).model
    assert with_aux.aux_logits is True and set(with_aux.state_dict()) == set(state)
    replaced = build(name, "imagenet", 4).model
    assert replaced.fc.out_features == 4 and replaced.transform_input is True


def test_a_missing_file_is_one_sentence_with_the_path_and_torch_home():
    expected = weights_path(models.ResNet50_Weights.DEFAULT)
    with pytest.raises(DataNotFoundError) as info:
        build("resnet50", "imagenet")
    message = str(info.value)
    assert str(expected) in message and "TORCH_HOME" in message
    assert message.endswith(".") and ". " not in message


def test_any_member_whose_file_is_present_is_accepted_and_named():
    v1 = models.ResNet50_Weights.IMAGENET1K_V1
    assert models.ResNet50_Weights.DEFAULT is not v1  # DEFAULT is V2: a user holding only V1 still gets ImageNet
    path = weights_path(v1)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"")
    assert imagenet_weights("resnet50") == (v1, path)
    assert backbones.imagenet_normalization(v1).resize == 256
    assert backbones.imagenet_normalization(models.ResNet50_Weights.DEFAULT).resize == 232


def test_random_and_fractal_weights_never_transform_their_input():
    for name in ("googlenet", "inception_v3"):
        random = build(name, "none", 3, seed=0)
        assert random.model.transform_input is False and random.model.aux_logits is False
        norm = Normalization((0.3, 0.3, 0.3), (0.3, 0.3, 0.3), "test")
        fractal = build(name, "fractal", 3, state=build(name, "none", 5, seed=1).model.state_dict(), normalization=norm)
        assert fractal.model.transform_input is False and fractal.normalization is norm
        assert fractal.model.fc.out_features == 3


def test_fractal_weights_are_loaded_and_the_head_replaced():
    donor = build("resnet18", "none", 6, seed=3).model.state_dict()
    norm = Normalization((0.2, 0.2, 0.2), (0.3, 0.3, 0.3), "fractal images")
    kept = build("resnet18", "fractal", state=donor, normalization=norm, source="a stand-in")
    assert kept.model.fc.out_features == 6 and kept.source == "a stand-in"
    assert all(torch.equal(v, donor[k]) for k, v in kept.model.state_dict().items())
    with torch.no_grad():  # training the built model must not change the state it came from
        kept.model.conv1.weight.add_(1.0)
    assert not torch.equal(kept.model.conv1.weight, donor["conv1.weight"])
    with pytest.raises(ParameterError):
        build("resnet18", "fractal", 3)


def test_no_statistics_come_with_random_weights():
    bb = build("resnet18", "none", 2, seed=0)
    assert bb.normalization.mean is None and "your training data" in bb.normalization.note
    x = torch.rand(2, 3, 8, 8)
    assert torch.equal(bb.normalization(x), x)
    images = (torch.rand(4, 5, 5, 3) * 255).to(torch.uint8).numpy()
    stats = Normalization.from_images(images, "tiles")
    assert stats.mean is not None and stats.std is not None
    normalized = stats(torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255)
    assert normalized.mean((0, 2, 3)).abs().max() < 1e-4 and (normalized.std((0, 2, 3)) - 1).abs().max() < 0.05
    assert Normalization.from_dict(stats.as_dict()) == stats


def test_seeds_fix_the_random_backbone_and_the_head():
    a, b = build("resnet18", "none", 3, seed=4, head_seed=9), build("resnet18", "none", 3, seed=4, head_seed=9)
    assert all(torch.equal(v, b.model.state_dict()[k]) for k, v in a.model.state_dict().items())
    other = build("resnet18", "none", 3, seed=5, head_seed=9).model
    assert torch.equal(other.fc.weight, a.model.fc.weight) and not torch.equal(other.conv1.weight, a.model.conv1.weight)


@pytest.mark.parametrize("name", backbones.NAMES)
def test_zero_classes_give_a_feature_extractor_of_the_documented_width(name: str):
    bb = build(name, "none", 0, seed=0)
    bb.model.eval()
    size = backbones.min_input_size(name) if name == "inception_v3" else 32
    with torch.no_grad():
        assert bb.model(torch.rand(2, 3, size, size)).shape == (2, bb.feature_dim)


def test_bad_names_are_parameter_errors():
    with pytest.raises(ParameterError, match="resnet18, resnet50"):
        build("vgg16", "none")
    with pytest.raises(ParameterError, match="imagenet, fractal, none"):
        build("resnet18", "places365")
    with pytest.raises(ParameterError, match="IMAGENET1K_V1, DEFAULT"):
        build("resnet18", "imagenet", weights="IMAGENET22K")


def test_a_named_member_is_the_only_file_looked_for():
    torch.manual_seed(3)
    _write(models.ResNet18_Weights.IMAGENET1K_V1, models.resnet18())
    assert build("resnet18", "imagenet", weights="IMAGENET1K_V1").weights == "ResNet18_Weights.IMAGENET1K_V1"
