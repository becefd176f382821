"""Paper D's End-to-End Learning: the same gradients as plain back-propagation, with one mini-batch's memory."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from cpath_repro.claims.metrics.paper_d import GRADIENT_ERROR_LIMIT
from cpath_repro.errors import ParameterError
from cpath_repro.models import backbones
from cpath_repro.models.patch_features import BACKBONE, PatchFeatureExtractor, from_backbone
from cpath_repro.models.unet import UNet
from cpath_repro.train import end_to_end as e2e
from cpath_repro.train.end_to_end import (
    IGNORE_INDEX,
    LazyBatches,
    ReforwardMismatchError,
    SlideBatch,
    feature_map,
    label_map,
    relative_gradient_error,
)

#: 48 patches of 32 px in 3 mini-batches of 16, on a 6 x 8 block centred in an 8 x 8 map
N, BATCH, PX, MAP = 48, 16, 32, 8


@pytest.fixture(scope="module")
def googlenet() -> PatchFeatureExtractor:
    torch.set_num_threads(1)  # two other test processes share the two cores
    return from_backbone(backbones.build(BACKBONE, "none", 0, seed=0), 0)


def _models(extractor: nn.Module, dtype: torch.dtype = torch.float32) -> tuple[nn.Module, nn.Module]:
    torch.manual_seed(1)
    segmenter = UNet(16, 2, base=4, depth=2)
    return copy.deepcopy(extractor).to(dtype).train(), segmenter.to(dtype).train()


def _slide(dtype: torch.dtype = torch.float32) -> SlideBatch:
    g = torch.Generator().manual_seed(2)
    patches = [torch.rand(BATCH, 3, PX, PX, generator=g, dtype=dtype) for _ in range(N // BATCH)]
    rows, cols = torch.meshgrid(torch.arange(6), torch.arange(8), indexing="ij")
    labels = torch.randint(-1, 2, (N,), generator=g)  # normal, tumour and nolabel
    return SlideBatch(patches, torch.stack([rows, cols], -1).reshape(-1, 2) + 100, labels, MAP)


def _buffers(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in module.named_buffers()}


# -- feature and label maps -----------------------------------------------------------------------------------------


def test_feature_map_centres_the_tissue_and_leaves_zeros_elsewhere():
    positions = torch.tensor([[10, 20], [10, 21], [11, 20]])
    features = torch.tensor([[1.0, -1.0], [2.0, -2.0], [3.0, -3.0]])
    fmap, offset = feature_map(features, positions, 4)
    assert offset == (-9, -19)  # the 2 x 2 bounding box starts at (1, 1) of the 4 x 4 map
    expected = torch.zeros(2, 4, 4)
    expected[:, 1, 1], expected[:, 1, 2], expected[:, 2, 1] = features[0], features[1], features[2]
    assert torch.equal(fmap, expected)
    labels, label_offset = label_map(torch.tensor([0, 1, IGNORE_INDEX]), positions, 4)
    assert label_offset == offset
    assert labels[1, 1] == 0 and labels[1, 2] == 1 and (labels == IGNORE_INDEX).sum() == 14  # nolabel too


def test_tissue_larger_than_the_map_protrudes_at_both_edges_and_gets_no_gradient():
    positions = torch.tensor([[0, c] for c in range(5)])
    features = torch.arange(5.0).reshape(5, 1).requires_grad_()
    fmap, offset = feature_map(features, positions, 3)
    assert offset == (1, -1) and fmap[0, 1].tolist() == [1.0, 2.0, 3.0]
    (fmap * torch.arange(9.0).reshape(1, 3, 3)).sum().backward()
    assert features.grad is not None and features.grad.flatten().tolist() == [0.0, 3.0, 4.0, 5.0, 0.0]


def test_two_patches_at_one_position_are_refused():
    with pytest.raises(ParameterError, match="same grid position"):
        feature_map(torch.ones(2, 3), torch.tensor([[0, 0], [0, 0]]), 4)


# -- end-to-end vs back-propagation ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("dtype", "limit"), [(torch.float32, 1e-5), (torch.float64, 1e-12)])
def test_end_to_end_gradients_equal_full_back_propagation(googlenet, dtype, limit):
    reference_models, models = _models(googlenet, dtype), _models(googlenet, dtype)
    slide = _slide(dtype)
    torch.manual_seed(5)  # the same dropout masks in both
    reference = e2e.full_backprop_gradients(*reference_models, slide)
    torch.manual_seed(5)
    got = e2e.end_to_end_gradients(*models, slide)
    assert {k.split(".")[0] for k in got} == {"extractor", "segmenter"}
    assert not any(k.startswith("extractor.classifier.") for k in got)  # f_n is not used
    error = relative_gradient_error(reference, got)
    assert error <= limit < GRADIENT_ERROR_LIMIT


def test_the_re_forward_reproduces_the_first_forward_bit_for_bit_with_dropout_active(googlenet):
    extractor, segmenter = _models(googlenet)
    batch = _slide().patches[0]
    with torch.no_grad():  # dropout runs on the features path of GoogLeNet with num_classes=0: two draws differ
        assert not torch.equal(extractor.features(batch), extractor.features(batch))
    seen: list[torch.Tensor] = []
    features = extractor.features

    def recording(x: torch.Tensor) -> torch.Tensor:
        out = features(x)
        seen.append(out.detach().clone())
        return out

    extractor.features = recording  # type: ignore[method-assign]
    e2e.end_to_end_backward(extractor, segmenter, _slide(), verify=False)
    first, again = seen[:3], seen[3:]
    assert len(again) == 3 and all(torch.equal(a, b) for a, b in zip(first, again, strict=True))


def test_batch_norm_statistics_are_those_of_one_plain_forward_pass(googlenet):
    extractor, segmenter = _models(googlenet)
    plain = copy.deepcopy(extractor)
    slide = _slide()
    torch.manual_seed(0)
    e2e.end_to_end_backward(extractor, segmenter, slide)
    torch.manual_seed(0)
    e2e.extract_features(plain, slide.patches)
    after, expected = _buffers(extractor), _buffers(plain)
    assert int(expected["backbone.conv1.bn.num_batches_tracked"]) == len(slide.patches)
    assert after.keys() == expected.keys() and all(torch.equal(after[k], expected[k]) for k in after)


def test_a_mini_batch_that_comes_out_different_the_second_time_is_caught(googlenet):
    extractor, segmenter = _models(googlenet)
    calls = [0]

    def make(index: int) -> torch.Tensor:
        calls[0] += 1  # not a function of the index alone
        return torch.rand(BATCH, 3, PX, PX, generator=torch.Generator().manual_seed(calls[0]))

    slide = SlideBatch(LazyBatches(make, 3), _slide().positions, _slide().labels, MAP)
    with pytest.raises(ReforwardMismatchError, match="mini-batch 0"):
        e2e.end_to_end_backward(extractor, segmenter, slide)


# -- a step on a toy --------------------------------------------------------------------------------------------------


class Toy(nn.Module):
    """Any module with ``features`` will do: convolution, batch norm, dropout, a 4-d feature, an unused classifier."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 6, 3), nn.BatchNorm2d(6), nn.ReLU(), nn.Dropout(0.3),
                                  nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(6, 4))
        self.classifier = nn.Linear(4, 2)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


def test_a_step_lowers_the_loss_and_leaves_the_final_layer_alone():
    torch.manual_seed(0)
    extractor, segmenter = Toy().train(), nn.Conv2d(4, 2, 1)
    positions = torch.stack(torch.meshgrid(torch.arange(4), torch.arange(4), indexing="ij"), -1).reshape(-1, 2)
    g = torch.Generator().manual_seed(0)
    slide = SlideBatch([torch.rand(8, 3, 8, 8, generator=g) for _ in range(2)], positions,
                       torch.randint(0, 2, (16,), generator=g), 4)
    classifier = copy.deepcopy(extractor.classifier.state_dict())
    opt_e = torch.optim.SGD(extractor.parameters(), lr=0.05)
    opt_s = torch.optim.SGD(segmenter.parameters(), lr=0.05)
    torch.manual_seed(7)
    before = e2e.end_to_end_step(extractor, segmenter, slide, opt_e, opt_s)
    assert extractor.classifier.weight.grad is None
    assert all(torch.equal(v, extractor.classifier.state_dict()[k]) for k, v in classifier.items())
    torch.manual_seed(7)  # the same dropout masks: the same function, at the new weights
    with torch.no_grad():
        after = float(e2e.full_backprop_loss(extractor, segmenter, slide))
    assert after < before


# -- the comparison and bad input -----------------------------------------------------------------------------------


def test_relative_error_is_per_tensor_and_handles_zero_reference_gradients():
    ref = {"a": torch.tensor([3.0, 4.0]), "z": torch.zeros(2)}
    assert relative_gradient_error(ref, {"a": torch.tensor([3.0, 4.5]), "z": torch.zeros(2)}) == pytest.approx(0.1)
    assert relative_gradient_error(ref, {"a": ref["a"], "z": torch.tensor([0.0, 1e-9])}) == float("inf")
    with pytest.raises(ParameterError, match="same parameters"):
        relative_gradient_error(ref, {"a": ref["a"]})


def test_positions_that_do_not_match_the_patches_or_label_nothing_are_refused():
    toy = Toy()
    seg = nn.Conv2d(4, 2, 1)
    with pytest.raises(ParameterError, match="hold 8 patches"):
        e2e.end_to_end_backward(toy, seg, SlideBatch([torch.rand(8, 3, 8, 8)], torch.zeros(3, 2).long(),
                                                     torch.zeros(3).long(), 4))
    positions = torch.stack([torch.arange(8) // 4, torch.arange(8) % 4], 1)
    with pytest.raises(ParameterError, match="No labelled patch"):
        e2e.end_to_end_backward(toy, seg, SlideBatch([torch.rand(8, 3, 8, 8)], positions,
                                                     torch.full((8,), IGNORE_INDEX), 4))


def test_gradient_error_compares_the_two_computations_from_one_random_state(googlenet):
    extractor, segmenter = _models(googlenet)
    assert e2e.gradient_error(extractor, segmenter, _slide(), seed=3) <= 1e-5 < GRADIENT_ERROR_LIMIT
