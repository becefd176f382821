"""Paper C's networks: the vanilla CNN, the first N layers of a pretrained backbone, the Inception-like head.

Why a module: paper C (sections 6-7, 11) puts its own head on "the first N layers" of an ImageNet
ResNet-50 or Inception-v3, counted as Keras layer objects. torchvision's modules are not Keras's
layers, so the cut points are defined here once, explicitly (:data:`CUTS`), by the Keras 2.0
``keras.applications`` layer lists of 2017 that the paper counted (the input layer is layer 1):

- ResNet-50. Layers 1-6 are input, zero padding, ``conv1``, ``bn_conv1``, ReLU, max pool; 7-18
  the first bottleneck block (``res2a``), 19-28 the second (``res2b``). **3** ends at ``conv1`` (the
  stem's convolution, no BN), **6** is the whole stem, **12** falls inside ``res2a``, taken whole
  (``layer1[0]``), **20** inside ``res2b``, taken whole (``layer1[0:2]``).
- Inception-v3. Each Keras ``conv2d_bn`` is three layers (convolution, BN, ReLU), torchvision's one
  ``BasicConv2d``: layer 2 starts ``Conv2d_1a_3x3``, 5 ``Conv2d_2a_3x3``, 8 ``Conv2d_2b_3x3``, 11 is the
  max pool, 12 starts ``Conv2d_3b_1x1``, 15 ``Conv2d_4a_3x3``, 18 the second max pool, 19 the first
  Inception block ``Mixed_5b``. **3** is ``Conv2d_1a_3x3`` (its BN and ReLU included: one module),
  **6** adds ``Conv2d_2a_3x3``, **12** adds ``Conv2d_2b_3x3``, ``maxpool1``, ``Conv2d_3b_1x1``, **20**
  adds ``Conv2d_4a_3x3``, ``maxpool2`` and ``Mixed_5b``.

A layer that falls inside a torchvision module takes the whole module: a cut never splits a
residual block. The C-T6 page prints this mapping (:func:`cut_table`).

The vanilla CNN (section 6: "14 sets of convolutions and 3 affine layers") and the head (section
7: Inception-like modules with residual connections; the paper's Figure 3 did not survive in the
text, so the module layout here is ours and says so) take the paper's dropout 0.4 (section 7);
L2 5e-4 and Adam live in the training recipe.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import torch
from torch import nn

from cpath_repro.errors import ParameterError
from cpath_repro.models.backbones import channels_last

#: Paper C, section 7: "we use a dropout probability of 0.4".
DROPOUT = 0.4
#: Section 11.2's numbers of layers (section 11.1 uses 3).
LAYER_COUNTS = (3, 6, 12, 20)
#: Keras layer count -> the torchvision modules (top-level names, in order) that hold those layers.
CUTS: dict[str, dict[int, tuple[str, ...]]] = {
    "resnet50": {
        3: ("conv1",),
        6: ("conv1", "bn1", "relu", "maxpool"),
        12: ("conv1", "bn1", "relu", "maxpool", "layer1.0"),
        20: ("conv1", "bn1", "relu", "maxpool", "layer1.0", "layer1.1"),
    },
    "inception_v3": {
        3: ("Conv2d_1a_3x3",),
        6: ("Conv2d_1a_3x3", "Conv2d_2a_3x3"),
        12: ("Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "maxpool1", "Conv2d_3b_1x1"),
        20: ("Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "maxpool1", "Conv2d_3b_1x1", "Conv2d_4a_3x3",
             "maxpool2", "Mixed_5b"),
    },
}
#: What each cut's last Keras layer is, for the page.
KERAS_LAST_LAYER = {
    "resnet50": {3: "conv1", 6: "max pooling (end of the stem)", 12: "res2a_branch2b's ReLU (inside res2a)",
                 20: "bn2b_branch2a (inside res2b)"},
    "inception_v3": {3: "batch_normalization_1 (of Conv2d_1a_3x3)", 6: "batch_normalization_2 (of Conv2d_2a_3x3)",
                     12: "conv2d_4 (the 1×1 convolution after the first max pool)",
                     20: "inside mixed0 (the first Inception block)"},
}


def _module(model: nn.Module, name: str) -> nn.Module:
    module = model
    for part in name.split("."):
        module = module[int(part)] if part.isdigit() else getattr(module, part)  # type: ignore[index]
    return module


def first_layers(model: nn.Module, backbone: str, n_layers: int) -> nn.Sequential:
    """The modules of ``model`` (a torchvision ``backbone``) that hold its first ``n_layers`` Keras layers,
    as one ``nn.Sequential`` sharing the model's parameters (:data:`CUTS`)."""
    if backbone not in CUTS:
        raise ParameterError(f"Paper C cuts only {', '.join(CUTS)}; got backbone {backbone!r}.")
    if n_layers not in CUTS[backbone]:
        raise ParameterError(f"The number of layers must be one of {', '.join(map(str, CUTS[backbone]))} "
                             f"(paper C, section 11.2); got {n_layers}.")
    modules = [_module(model, n) for n in CUTS[backbone][n_layers]]
    if getattr(model, "transform_input", False):  # Inception-v3's ImageNet weights re-normalize first, in forward()
        modules.insert(0, _TransformInput(model))
    return nn.Sequential(*modules)


class _TransformInput(nn.Module):
    """torchvision Inception-v3's input re-normalization (``transform_input=True``), which its ``forward`` applies
    before the first layer: a cut that skips ``forward`` must apply it too."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self._transform = model._transform_input  # type: ignore[operator]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._transform(x)  # type: ignore[operator,no-any-return]


def cut_table() -> pd.DataFrame:
    """The C-T6 page's mapping of the paper's layer counts to torchvision modules."""
    return pd.DataFrame([{"backbone": b, "Keras layers": n, "last Keras layer": KERAS_LAST_LAYER[b][n],
                          "torchvision modules": " → ".join(CUTS[b][n])} for b in CUTS for n in CUTS[b]])


def out_channels(extractor: nn.Module, image_size: tuple[int, int]) -> int:
    """Channels of ``extractor``'s output for an image of ``image_size`` (height, width)."""
    with torch.no_grad():
        training = extractor.training
        extractor.eval()
        channels = int(extractor(torch.zeros(1, 3, *image_size)).shape[1])
        extractor.train(training)
    return channels


def _conv(c_in: int, c_out: int, kernel: int = 3, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, bias=False), nn.BatchNorm2d(c_out),
                         nn.ReLU(inplace=True))


class VanillaCNN(nn.Module):
    """Section 6's baseline: 14 sets of convolution (3×3, BN, ReLU) in 7 stages of two, each stage after the
    first halving the resolution, then 3 affine layers with dropout between them. Widths are ours (not given)."""

    CONV_SETS = 14
    AFFINE_LAYERS = 3

    def __init__(self, n_classes: int = 3, width: int = 16, hidden: int = 64) -> None:
        super().__init__()
        widths = [min(width * 2 ** (i // 2), width * 8) for i in range(self.CONV_SETS)]
        layers: list[nn.Module] = []
        c = 3
        for i, w in enumerate(widths):
            stride = 2 if i % 2 == 0 and i > 0 else 1
            layers.append(_conv(c, w, stride=stride))
            c = w
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, hidden), nn.ReLU(inplace=True), nn.Dropout(DROPOUT),
            nn.Linear(hidden, hidden), nn.ReLU(inplace=True), nn.Dropout(DROPOUT), nn.Linear(hidden, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))  # type: ignore[no-any-return]


class InceptionResidual(nn.Module):
    """An Inception-like module with a residual connection: 1×1, 3×3 and two stacked 3×3 (a 5×5's field)
    branches and a pooled 1×1, concatenated, projected back to ``channels`` by a 1×1, added to the input."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        b = max(channels // 4, 8)
        self.branches = nn.ModuleList([
            _conv(channels, b, 1),
            nn.Sequential(_conv(channels, b, 1), _conv(b, b, 3)),
            nn.Sequential(_conv(channels, b, 1), _conv(b, b, 3), _conv(b, b, 3)),
            nn.Sequential(nn.AvgPool2d(3, 1, 1), _conv(channels, b, 1)),
        ])
        self.project = nn.Sequential(nn.Conv2d(4 * b, channels, 1, bias=False), nn.BatchNorm2d(channels))
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mixed = torch.cat([branch(x) for branch in self.branches], 1)
        return self.relu(x + self.project(mixed))  # type: ignore[no-any-return]


class InceptionResidualHead(nn.Module):
    """Section 7's head on extracted features: per stage a strided 3×3 reduction then ``blocks`` Inception-like
    residual modules; global average pooling, dropout 0.4, a linear classifier. Layout ours (Figure 3 is lost)."""

    def __init__(self, in_channels: int, n_classes: int = 3, widths: Sequence[int] = (64, 128), blocks: int = 1
                 ) -> None:
        super().__init__()
        stages: list[nn.Module] = []
        c = in_channels
        for w in widths:
            stages.append(_conv(c, w, 3, stride=2))
            stages.extend(InceptionResidual(w) for _ in range(blocks))
            c = w
        self.stages = nn.Sequential(*stages)
        self.classifier = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(DROPOUT),
                                        nn.Linear(c, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.stages(x))  # type: ignore[no-any-return]


class ExtractorWithHead(nn.Module):
    """Pretrained layers (``frozen``: no gradient, BN statistics kept, always in evaluation mode) then a head."""

    def __init__(self, extractor: nn.Module, head: nn.Module, frozen: bool) -> None:
        super().__init__()
        self.extractor, self.head, self.frozen = extractor, head, frozen
        if frozen:
            for p in extractor.parameters():
                p.requires_grad_(False)

    def train(self, mode: bool = True) -> ExtractorWithHead:
        super().train(mode)
        if self.frozen:
            self.extractor.eval()
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # no torch.no_grad() for a frozen extractor: its parameters need no gradient, so autograd records nothing
        # there in training, and saliency maps still get the gradient with respect to the input
        return self.head(self.extractor(channels_last(x)))  # type: ignore[no-any-return]
