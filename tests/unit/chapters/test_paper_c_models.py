"""Paper C's networks: the Keras layer cuts in torchvision modules, the vanilla CNN, the head, freezing."""

from __future__ import annotations

import pytest
import torch
import torchvision
from torch import nn

from cpath_repro.chapters.paper_c import models
from cpath_repro.errors import ParameterError

SIZE = (75, 100)  # Inception-v3's stem needs at least 75 px


@pytest.fixture(scope="module")
def resnet50() -> nn.Module:
    torch.manual_seed(0)
    return torchvision.models.resnet50().eval()


@pytest.fixture(scope="module")
def inception() -> nn.Module:
    torch.manual_seed(0)
    return torchvision.models.inception_v3(init_weights=False, aux_logits=False, transform_input=True).eval()


@pytest.mark.parametrize(("n", "channels", "stride"), [(3, 64, 2), (6, 64, 4), (12, 256, 4), (20, 256, 4)])
def test_resnet50_cuts_end_where_the_keras_layer_count_says(resnet50: nn.Module, n: int, channels: int,
                                                            stride: int) -> None:
    out = models.first_layers(resnet50, "resnet50", n)(torch.zeros(1, 3, 64, 96))
    assert tuple(out.shape) == (1, channels, 64 // stride, 96 // stride)


def test_the_resnet50_cut_at_20_is_the_models_own_computation_up_to_layer1_block_2(resnet50: nn.Module) -> None:
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        own = resnet50.layer1[1](resnet50.layer1[0](resnet50.maxpool(resnet50.relu(resnet50.bn1(resnet50.conv1(x))))))
        cut = models.first_layers(resnet50, "resnet50", 20)(x)
    assert torch.equal(cut, own)
    # the cut shares the model's parameters (no copy): what trains in the cut trains in the model
    assert models.first_layers(resnet50, "resnet50", 20)[0].weight is resnet50.conv1.weight


@pytest.mark.parametrize(("n", "channels"), [(3, 32), (6, 32), (12, 80), (20, 256)])
def test_inception_cuts_have_the_channels_of_their_last_module(inception: nn.Module, n: int, channels: int) -> None:
    assert models.out_channels(models.first_layers(inception, "inception_v3", n), SIZE) == channels


def test_an_inception_cut_applies_the_input_transform_its_forward_would(inception: nn.Module) -> None:
    x = torch.randn(1, 3, *SIZE)
    with torch.no_grad():
        cut = models.first_layers(inception, "inception_v3", 3)(x)
        own = inception.Conv2d_1a_3x3(inception._transform_input(x))
        untransformed = inception.Conv2d_1a_3x3(x)
    assert torch.equal(cut, own) and not torch.allclose(cut, untransformed)


def test_cuts_refuse_an_unknown_count_or_backbone(resnet50: nn.Module) -> None:
    with pytest.raises(ParameterError, match="one of 3, 6, 12, 20"):
        models.first_layers(resnet50, "resnet50", 7)
    with pytest.raises(ParameterError, match="resnet18"):
        models.first_layers(resnet50, "resnet18", 3)


def test_the_cut_table_lists_every_cut_for_the_page() -> None:
    table = models.cut_table()
    assert len(table) == 8 and set(table["Keras layers"]) == set(models.LAYER_COUNTS)
    assert table.iloc[3]["torchvision modules"].endswith("layer1.0 → layer1.1")


def test_the_vanilla_cnn_has_14_convolution_sets_and_3_affine_layers() -> None:
    net = models.VanillaCNN()
    assert sum(isinstance(m, nn.Conv2d) for m in net.modules()) == 14
    assert sum(isinstance(m, nn.Linear) for m in net.modules()) == 3
    assert [m.p for m in net.modules() if isinstance(m, nn.Dropout)] == [models.DROPOUT] * 2
    assert tuple(net(torch.zeros(2, 3, 60, 80)).shape) == (2, 3)


def test_the_head_keeps_its_residual_modules_shape_and_classifies() -> None:
    block = models.InceptionResidual(32)
    x = torch.randn(2, 32, 9, 12)
    assert block(x).shape == x.shape
    head = models.InceptionResidualHead(64, widths=(32, 64), blocks=2)
    assert sum(isinstance(m, models.InceptionResidual) for m in head.modules()) == 4
    assert tuple(head(torch.randn(2, 64, 30, 40)).shape) == (2, 3)


def test_a_frozen_extractor_gets_no_gradient_and_keeps_its_batch_norm_statistics(resnet50: nn.Module) -> None:
    extractor = models.first_layers(torchvision.models.resnet50(), "resnet50", 6)
    stats = extractor[1].running_mean.clone()
    net = models.ExtractorWithHead(extractor, models.InceptionResidualHead(64, widths=(16,)), frozen=True).train()
    assert not extractor.training and net.head.training
    net(torch.randn(4, 3, 32, 32)).sum().backward()
    assert all(p.grad is None for p in extractor.parameters())
    assert all(p.grad is not None for p in net.head.parameters())
    assert torch.equal(extractor[1].running_mean, stats)
    trained = models.ExtractorWithHead(models.first_layers(torchvision.models.resnet50(), "resnet50", 6),
                                       models.InceptionResidualHead(64, widths=(16,)), frozen=False).train()
    trained(torch.randn(4, 3, 32, 32)).sum().backward()
    assert trained.extractor.training and trained.extractor[0].weight.grad is not None
