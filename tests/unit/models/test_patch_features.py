"""Paper D's feature extractor: GoogLeNet -> 16-d feature -> 2 classes, normalization inside ``features``."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from cpath_repro.errors import ParameterError
from cpath_repro.models import backbones
from cpath_repro.models.backbones import Normalization
from cpath_repro.models.patch_features import BACKBONE, FEATURE_DIM, N_CLASSES, PatchFeatureExtractor, from_backbone


def build_extractor(seed: int) -> tuple[PatchFeatureExtractor, str]:
    backbone = backbones.build(BACKBONE, "none", 0, seed=seed)
    return from_backbone(backbone, seed), backbone.source


@pytest.fixture(scope="module")
def extractor() -> PatchFeatureExtractor:
    model, _ = build_extractor(seed=0)
    return model


def test_the_feature_is_16_d_before_a_2_class_layer_and_the_aux_heads_are_gone(extractor):
    assert FEATURE_DIM == 16 and N_CLASSES == 2
    assert (extractor.feature.in_features, extractor.feature.out_features) == (1024, 16)
    assert (extractor.classifier.in_features, extractor.classifier.out_features) == (16, 2)
    assert isinstance(extractor.backbone.fc, nn.Identity)
    assert extractor.backbone.aux1 is None and extractor.backbone.aux2 is None
    extractor.eval()
    x = torch.rand(3, 3, 32, 32)
    with torch.no_grad():
        f, logits = extractor.features(x), extractor(x)
    assert f.shape == (3, 16) and logits.shape == (3, 2)
    torch.testing.assert_close(logits, extractor.classifier(f))  # no nonlinearity in between


def test_features_normalize_inputs_given_in_0_1_units(extractor):
    norm = Normalization((0.5, 0.4, 0.3), (0.2, 0.25, 0.3), "test statistics")
    model = PatchFeatureExtractor(extractor.backbone, norm).train()  # batch statistics: random-init outputs are not ~0

    def seeded(fn):
        torch.manual_seed(0)  # the same dropout mask each time
        with torch.no_grad():
            return fn()

    x = torch.rand(4, 3, 32, 32)
    normalized = seeded(lambda: model.features(x))
    # equal up to float summation order: features() runs the backbone on channels-last memory
    torch.testing.assert_close(normalized, seeded(lambda: model.feature(model.backbone(norm(x)))), rtol=1e-3, atol=1e-3)
    assert not torch.allclose(normalized, seeded(lambda: model.feature(model.backbone(x))))


def test_the_builder_says_which_pretraining_was_used_and_is_seeded():
    a, source = build_extractor(seed=3)
    b, _ = build_extractor(seed=3)
    assert "random initialization" in source
    assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values(), strict=True))


def test_a_backbone_that_still_has_its_classifier_is_refused():
    with pytest.raises(ParameterError, match="num_classes=0"):
        from_backbone(backbones.build("googlenet", "none", 2, seed=0))


def test_the_folded_copy_for_inference_gives_the_same_outputs_and_leaves_the_model_as_it_was():
    from cpath_repro.models.patch_features import folded

    extractor, _ = build_extractor(seed=3)  # its own: the batch norms' statistics are changed below
    extractor.train()
    with torch.no_grad():  # running statistics of their own, so that folding them into the convolutions matters
        for _ in range(3):
            extractor(torch.rand(8, 3, 32, 32, generator=torch.Generator().manual_seed(1)))
    extractor.eval()
    before = {k: v.clone() for k, v in extractor.state_dict().items()}
    fast = folded(extractor)
    x = torch.rand(8, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        torch.testing.assert_close(fast(x), extractor(x), rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(fast.features(x), extractor.features(x), rtol=1e-4, atol=1e-5)
        bare = folded(extractor.backbone)
        torch.testing.assert_close(bare(x), extractor.backbone(x), rtol=1e-4, atol=1e-5)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in fast.modules())  # folded away
    assert all(torch.equal(v, extractor.state_dict()[k]) for k, v in before.items())
