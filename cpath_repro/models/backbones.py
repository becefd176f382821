"""torchvision backbones of papers B-D with ImageNet, formula-driven ("fractal") or no pretraining.

Paper B (HistoKT) starts from an ImageNet ResNet-18, paper C (cervix) uses ImageNet ResNet-50 and
Inception-v3 as feature extractors, paper D an ImageNet GoogLeNet. Nothing is ever downloaded here:
torchvision's builders would fetch a missing file (and unpickle it with ``weights_only=False``), so
this module resolves torchvision's own weight file itself, at
``$TORCH_HOME/hub/checkpoints/<file name of the weights' URL>`` (``torch.hub.get_dir()``), loads it
with ``weights_only=True`` and builds the model exactly as torchvision's builder does (1,000
classes; GoogLeNet and Inception-v3 with ``transform_input=True`` and their auxiliary heads, which
are dropped after loading unless asked for). The file's SHA-256 prefix in its name is not checked
(torchvision checks it only when downloading, too).

Input normalization follows the weights (:class:`Normalization`): ImageNet weights come with the
statistics and resize/crop of their enum's ``transforms()``; the fractal stand-in with the
per-channel statistics of its own training images (:mod:`cpath_repro.transfer.pretraining`
passes them in); random initialization with none (see :data:`NO_STATISTICS`).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args
from urllib.parse import urlparse

import numpy as np
import torch
from torch import nn

from cpath_repro.errors import DataNotFoundError, ParameterError

if TYPE_CHECKING:
    from torchvision.models import WeightsEnum

Name = Literal["resnet18", "resnet50", "googlenet", "inception_v3"]
Pretraining = Literal["imagenet", "fractal", "none"]
NAMES: tuple[str, ...] = get_args(Name)
PRETRAININGS: tuple[str, ...] = get_args(Pretraining)

#: The weights enum of each backbone, by its name in ``torchvision.models``.
WEIGHTS_ENUMS = {"resnet18": "ResNet18_Weights", "resnet50": "ResNet50_Weights",
                 "googlenet": "GoogLeNet_Weights", "inception_v3": "Inception_V3_Weights"}
#: Width of the features each classifier reads (the ``in_features`` of torchvision's ``fc``).
FEATURE_DIM = {"resnet18": 512, "resnet50": 2048, "googlenet": 1024, "inception_v3": 2048}
#: ImageNet-1k: the size of the classifier the weights come with.
IMAGENET_CLASSES = 1000
#: Backbones whose torchvision builder sets ``transform_input=True`` and loads auxiliary heads.
GOOGLE_PORTS = ("googlenet", "inception_v3")
#: Why random initialization comes without statistics: no data stands behind the weights, so the caller
#: normalizes with its own training data's per-channel statistics (``Normalization.from_images``), as when
#: training from scratch; the batch norm after every first convolution absorbs what remains of the offset.
NO_STATISTICS = ("random initialization: no statistics come with the weights; normalize with your training "
                 "data's own per-channel statistics (Normalization.from_images)")


@dataclass(frozen=True)
class Normalization:
    """How inputs must be prepared for a backbone's weights: ``(x - mean) / std`` on RGB floats in [0, 1].

    ``mean``/``std`` None means no statistics come with the weights (identity). ``resize`` is the shorter
    side (pixels) images are resized to before a centre crop of ``crop`` pixels (ImageNet's evaluation
    transform; bilinear, antialiased); ``input_size`` the side (pixels) the weights were trained at.
    """

    mean: tuple[float, ...] | None
    std: tuple[float, ...] | None
    note: str
    resize: int | None = None
    crop: int | None = None
    input_size: int | None = None

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        """Normalize ``(N, 3, H, W)`` floats in [0, 1] (no resizing)."""
        if self.mean is None or self.std is None:
            return images
        mean = torch.tensor(self.mean, dtype=images.dtype, device=images.device).view(1, -1, 1, 1)
        std = torch.tensor(self.std, dtype=images.dtype, device=images.device).view(1, -1, 1, 1)
        return (images - mean) / std

    @classmethod
    def from_images(cls, images: np.ndarray | torch.Tensor, note: str, input_size: int | None = None) -> Normalization:
        """Per-channel mean and standard deviation of ``(N, H, W, 3)`` uint8 images (values in [0, 1] units)."""
        x = torch.as_tensor(np.asarray(images)).reshape(-1, 3).double() / 255.0
        mean, std = x.mean(0), x.std(0).clamp_min(1e-6)
        return cls(tuple(round(float(v), 6) for v in mean), tuple(round(float(v), 6) for v in std), note,
                   input_size=input_size)

    def as_dict(self) -> dict[str, Any]:
        return {"mean": self.mean, "std": self.std, "note": self.note, "resize": self.resize, "crop": self.crop,
                "input_size": self.input_size}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Normalization:
        def tup(v: Any) -> tuple[float, ...] | None:
            return None if v is None else tuple(float(x) for x in v)

        return cls(tup(values["mean"]), tup(values["std"]), str(values["note"]), values.get("resize"),
                   values.get("crop"), values.get("input_size"))


def channels_last(x: torch.Tensor) -> torch.Tensor:
    """``x`` (N, C, H, W) in channels-last memory order, values unchanged. On the CPU, PyTorch's max pooling is
    an order of magnitude faster on it, which makes GoogLeNet's forward pass 1.6× and its training step 1.3×
    faster, Inception-v3 and ResNet-50 about 1.4× (measured on this project's 32-100 px inputs)."""
    return x.contiguous(memory_format=torch.channels_last)


@dataclass
class Backbone:
    """A built backbone, the input normalization its weights expect, and where the weights came from."""

    name: str
    model: nn.Module
    normalization: Normalization
    pretraining: str
    source: str  # in words, for the book's labels
    feature_dim: int  # width of the features the classifier reads (512, 2048, 1024, 2048)
    weights: str | None = None  # the torchvision enum member used, e.g. "ResNet18_Weights.IMAGENET1K_V1"


def _check_name(name: str) -> None:
    if name not in NAMES:
        msg = f"A backbone must be one of {', '.join(NAMES)}; got {name!r}."
        raise ParameterError(msg)


def weights_enum(name: str) -> type[WeightsEnum]:
    """torchvision's weights enum of a backbone (e.g. ``ResNet18_Weights``)."""
    _check_name(name)
    from torchvision import models

    enum: type[WeightsEnum] = getattr(models, WEIGHTS_ENUMS[name])
    return enum


def weights_path(member: Any) -> Path:
    """Where torchvision keeps the file of a weights enum member: ``torch.hub.get_dir()/checkpoints/<basename>``."""
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(urlparse(member.url).path).name


def _members(name: str) -> list[Any]:
    """The enum's members, the one a user most likely has (``DEFAULT``) first."""
    enum = weights_enum(name)
    default = enum["DEFAULT"]
    return [default, *[m for m in enum if m is not default]]


def imagenet_weights(name: str) -> tuple[Any, Path] | None:
    """The first enum member (``DEFAULT`` first) whose file is present, and its path; None if none is."""
    for member in _members(name):
        path = weights_path(member)
        if path.is_file():
            return member, path
    return None


def imagenet_available(name: str) -> bool:
    """Whether a torchvision ImageNet weight file of ``name`` is on this machine (nothing is downloaded)."""
    return imagenet_weights(name) is not None


def imagenet_normalization(member: Any) -> Normalization:
    """The statistics and evaluation resize/crop of a weights enum member's own ``transforms()``."""
    t = member.transforms()
    return Normalization(tuple(float(v) for v in t.mean), tuple(float(v) for v in t.std),
                         f"ImageNet statistics of {type(member).__name__}.{member.name}.transforms()",
                         resize=int(t.resize_size[0]), crop=int(t.crop_size[0]), input_size=int(t.crop_size[0]))


def _architecture(name: str, num_classes: int, imagenet: bool, aux_logits: bool) -> nn.Module:
    """The torchvision module as its builder constructs it: for ImageNet weights, GoogLeNet and Inception-v3
    get ``transform_input=True, aux_logits=True, init_weights=False``; otherwise ``transform_input=False``
    (it maps ImageNet-normalized input to the scaling the ported Google weights expect) and torchvision's
    own random initialization (``init_weights=True``)."""
    from torchvision import models

    if name == "resnet18":
        return models.resnet18(num_classes=num_classes)
    if name == "resnet50":
        return models.resnet50(num_classes=num_classes)
    cls = models.GoogLeNet if name == "googlenet" else models.Inception3
    if imagenet:
        return cls(num_classes=num_classes, transform_input=True, aux_logits=True, init_weights=False)
    return cls(num_classes=num_classes, transform_input=False, aux_logits=aux_logits, init_weights=True)


def _drop_aux(name: str, model: nn.Module) -> None:
    """What torchvision's builder does after loading when aux logits were not asked for."""
    # setattr: the attributes are typed as modules, torchvision sets them to None the same way
    heads = {"googlenet": ("aux1", "aux2"), "inception_v3": ("AuxLogits",)}.get(name, ())
    if heads:
        setattr(model, "aux_logits", False)  # noqa: B010
        for head in heads:
            setattr(model, head, None)


def _replace_head(model: nn.Module, num_classes: int, head_seed: int | None) -> None:
    """A new ``fc`` with ``num_classes`` outputs (``nn.Identity`` for 0: the model then returns features),
    initialized from ``head_seed`` when given (the global RNG is then left as it was), else from the global RNG."""
    fc = model.fc
    assert isinstance(fc, nn.Linear)
    if num_classes == 0:
        model.fc = nn.Identity()
        return
    if head_seed is None:
        model.fc = nn.Linear(fc.in_features, num_classes)
        return
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(head_seed)
        model.fc = nn.Linear(fc.in_features, num_classes)


def _load_imagenet(name: str, weights: str | None, aux_logits: bool) -> tuple[nn.Module, Any, Path]:
    enum_type = weights_enum(name)
    if weights is not None and weights not in enum_type.__members__:
        members = ", ".join(enum_type.__members__)
        msg = f"weights for {name} must name a member of {enum_type.__name__} ({members}); got {weights!r}."
        raise ParameterError(msg)
    candidates = _members(name) if weights is None else [enum_type[weights]]
    for member in candidates:
        path = weights_path(member)
        if path.is_file():
            break
    else:
        expected, enum = weights_path(candidates[0]), type(candidates[0]).__name__
        others = f", or another {enum} member's" if len(candidates) > 1 else ""
        msg = (f"ImageNet weights for {name} were expected at {expected} (torchvision's {enum}.{candidates[0].name} "
               f"file{others}; the TORCH_HOME environment variable chooses the folder, $TORCH_HOME/hub/checkpoints) "
               f"and nothing is downloaded here, so copy the file there or use pretraining 'fractal' or 'none'.")
        raise DataNotFoundError(msg)
    model = _architecture(name, len(member.meta["categories"]), imagenet=True, aux_logits=True)
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    if not aux_logits:
        _drop_aux(name, model)
    elif name == "googlenet":  # torchvision's builder warns the same
        warnings.warn("auxiliary heads in the pretrained googlenet model are NOT pretrained, so make sure to train them",
                      stacklevel=3)
    return model, member, path


def build(name: str, pretraining: str, num_classes: int | None = None, *, state: dict[str, torch.Tensor] | None = None,
          normalization: Normalization | None = None, source: str | None = None, aux_logits: bool = False,
          weights: str | None = None, seed: int | None = None, head_seed: int | None = None) -> Backbone:
    """A backbone with ``pretraining`` "imagenet", "fractal" or "none" and, when ``num_classes`` is given, a new
    ``fc`` head of that many outputs (0: ``nn.Identity``, the model returns ``feature_dim`` features).

    - "imagenet": torchvision's file of the enum's ``DEFAULT`` member, else of any other member present
      (``weights`` picks one by name, e.g. "IMAGENET1K_V1"); :class:`DataNotFoundError` if none is there.
    - "fractal": the formula-driven stand-in's ``state`` (its own head included) and ``normalization``, which
      :func:`cpath_repro.transfer.pretraining.pretrained` supplies (models/ does not import transfer/).
    - "none": torchvision's random initialization, drawn with ``seed`` when given.

    ``aux_logits`` keeps the auxiliary heads of GoogLeNet/Inception-v3 (untrained unless ImageNet; they need
    inputs of ImageNet size). ``head_seed`` draws the new head's initial weights from its own seed, so that
    two arms of a comparison start from the same head.
    """
    _check_name(name)
    if pretraining not in PRETRAININGS:
        msg = f"pretraining must be one of {', '.join(PRETRAININGS)}; got {pretraining!r} for backbone {name}."
        raise ParameterError(msg)
    if num_classes is not None and num_classes < 0:
        msg = f"num_classes must be 0 (features) or a positive number of classes; got {num_classes} for {name}."
        raise ParameterError(msg)
    member_name: str | None = None
    if pretraining == "imagenet":
        model, member, path = _load_imagenet(name, weights, aux_logits)
        member_name = f"{type(member).__name__}.{member.name}"
        norm = imagenet_normalization(member)
        text = f"ImageNet-1k weights {member_name}, torchvision's own file at {path} (not downloaded)"
    elif pretraining == "fractal":
        if state is None or normalization is None:
            msg = (f"pretraining 'fractal' for {name} needs the stand-in's state and normalization; get the backbone "
                   f"from cpath_repro.transfer.pretraining.pretrained({name!r}, 'fractal').")
            raise ParameterError(msg)
        classes = int(state["fc.weight"].shape[0])
        if aux_logits:  # the stand-in has no auxiliary heads: they keep torchvision's random initialization
            with torch.random.fork_rng(devices=[]):
                model = _architecture(name, classes, imagenet=False, aux_logits=True)
            missing, unexpected = model.load_state_dict(state, strict=False)
        else:  # every tensor comes from the state: build on the meta device, skipping the initialization
            with torch.device("meta"):
                model = _architecture(name, classes, imagenet=False, aux_logits=False)
            own = {k: v.detach().clone() for k, v in state.items()}  # the caller's state stays untouched by training
            missing, unexpected = model.load_state_dict(own, strict=False, assign=True)
        if unexpected or any(not k.startswith(("aux1.", "aux2.", "AuxLogits.")) for k in missing):
            msg = f"The fractal stand-in's state does not fit {name}: missing {missing[:3]}, unexpected {unexpected[:3]}."
            raise ParameterError(msg)
        norm = normalization
        text = source or f"formula-driven (fractal) stand-in pretraining of {name}"
    else:
        model = _random(name, num_classes, aux_logits, seed, head_seed)
        norm = Normalization(None, None, NO_STATISTICS)
        text = source or ("random initialization (torchvision's)" + (f", seed {seed}" if seed is not None else ""))
    if num_classes is not None and pretraining != "none":
        _replace_head(model, num_classes, head_seed)
    return Backbone(name, model, norm, pretraining, text, FEATURE_DIM[name], member_name)


def _random(name: str, num_classes: int | None, aux_logits: bool, seed: int | None, head_seed: int | None) -> nn.Module:
    """torchvision's random initialization (1,000 classes), drawn from ``seed`` when given, then the new head."""
    def make() -> nn.Module:
        model = _architecture(name, IMAGENET_CLASSES, imagenet=False, aux_logits=aux_logits)
        if num_classes is not None:
            _replace_head(model, num_classes, head_seed)
        return model

    if seed is None:
        return make()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return make()


def min_input_size(name: str) -> int:
    """The smallest input side (pixels) torchvision documents for a backbone (its weights' ``min_size``)."""
    return int(weights_enum(name)["DEFAULT"].meta["min_size"][0])
