"""Paper D's feature extractor model: an ImageNet GoogLeNet with a 16-d fully connected layer before its
final (tumour/normal) layer (Takahama et al., section 4.1 "Implementation details").

The paper counts the layers ``f_1 ... f_n`` from the input; ``f_n`` is the 2-class layer and the output of
``f_{n-1}``, the added layer, is the patch's feature vector (section 3.1). Here:

- ``backbone``: torchvision's GoogLeNet without its ``fc`` (``num_classes=0``, 1,024 features after global
  average pooling) and without its auxiliary heads. Its own dropout (p = 0.2, right before where its
  ``fc`` was) stays: it is the backbone's regularization, active in train mode on the features path.
- ``feature``: ``nn.Linear(1024, 16)``, the paper's added layer ``f_{n-1}``.
- ``classifier``: ``nn.Linear(16, 2)``, the final layer ``f_n``; End-to-End Learning does not use it
  (section 3.2.2: "the final layer f_n of the feature extractor model is rendered unnecessary").

No nonlinearity sits between ``feature`` and ``classifier`` (the paper does not say): the feature is the raw
output of ``f_{n-1}``, a ReLU would be a layer of its own, and a ReLU's zeros would look like the zeros of the
empty positions of the whole-slide feature map the segmenter reads. The two linear layers compose to a rank-16
linear map of GoogLeNet's (nonlinear) 1,024 features, which is the bottleneck the paper asks for.

Input normalization (ImageNet's statistics, the fractal stand-in's, or none for random initialization) is
applied inside :meth:`PatchFeatureExtractor.features`, so callers pass RGB floats in [0, 1].
"""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.fx.experimental.optimization import fuse

from cpath_repro.errors import ParameterError
from cpath_repro.models.backbones import FEATURE_DIM as BACKBONE_FEATURE_DIM
from cpath_repro.models.backbones import Backbone, Normalization, channels_last

#: Section 4.1: "we add a fully connected layer before the final layer of GoogLeNet. The size of the feature
#: vector is 16."
FEATURE_DIM = 16
#: Section 3.1: "the output of f_n is a two-dimensional (tumor/normal) vector".
N_CLASSES = 2
#: Section 4.1: "We use GoogLeNet [27] pre-trained by Imagenet [9] as the feature extractor model".
BACKBONE = "googlenet"


class PatchFeatureExtractor(nn.Module):
    """GoogLeNet -> 1,024 -> ``feature`` (16) -> ``classifier`` (2); ``features`` stops before the classifier."""

    def __init__(self, backbone: nn.Module, normalization: Normalization, in_features: int = BACKBONE_FEATURE_DIM[BACKBONE],
                 feature_dim: int = FEATURE_DIM, n_classes: int = N_CLASSES) -> None:
        super().__init__()
        self.backbone = backbone
        self.normalization = normalization
        self.feature = nn.Linear(in_features, feature_dim)
        self.classifier = nn.Linear(feature_dim, n_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, 3, H, W)`` RGB floats in [0, 1] -> ``(N, 16)`` patch features (the output of ``f_{n-1}``)."""
        out = self.backbone(channels_last(self.normalization(x)))
        return self.feature(out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, 3, H, W)`` RGB floats in [0, 1] -> ``(N, 2)`` tumour/normal logits (Separate Learning's patch model)."""
        return self.classifier(self.features(x))


def folded(model: nn.Module) -> nn.Module:
    """A copy of ``model`` (a :class:`PatchFeatureExtractor` or a bare backbone) for inference only, each batch norm
    folded into the convolution before it by torch.fx's ``fuse``: the same outputs up to float rounding, and
    GoogLeNet's forward pass on the CPU a sixth faster (paper D runs it over every patch of every test slide).
    The running statistics become weights, so the copy must never be trained."""
    if isinstance(model, PatchFeatureExtractor):
        out = copy.deepcopy(model).eval()
        out.backbone = fuse(out.backbone, inplace=True)
        return out
    return fuse(model.eval())


def from_backbone(backbone: Backbone, seed: int | None = None) -> PatchFeatureExtractor:
    """The extractor around a built feature backbone (``num_classes=0``); the two new layers are drawn from
    ``seed`` when given (the global random state is then left as it was)."""
    model = backbone.model
    if not isinstance(getattr(model, "fc", None), nn.Identity):
        msg = f"The patch feature extractor needs a backbone built with num_classes=0 (fc = Identity); got {backbone.name}."
        raise ParameterError(msg)
    if seed is None:
        return PatchFeatureExtractor(model, backbone.normalization, backbone.feature_dim)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return PatchFeatureExtractor(model, backbone.normalization, backbone.feature_dim)
