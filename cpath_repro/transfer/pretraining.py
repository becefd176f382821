"""Pretrained backbones without downloads: ImageNet when its file is here, else a formula-driven stand-in.

Papers B-D start from ImageNet weights. Where torchvision's weight file is on this machine,
:func:`pretrained` loads it (:mod:`cpath_repro.models.backbones`); otherwise the backbone is
pretrained here, once, on FractalDB-style images (:mod:`cpath_repro.synth.fractals`) through the
project's engine and model store, so every chapter shares one stand-in per backbone and settings.
:func:`pretrained` is the one entry point chapters call. Whether the stand-in *pretrains* (helps a
later task at all) is measured, not assumed, by :mod:`cpath_repro.transfer.probe`, with a rule fixed in advance.

**Budget** (profile ``default``): the four stand-ins and their probes must fit in about 3 minutes
of this project's 2-core CPU. Measured training throughput (forward + backward + SGD step, batch 32,
random 10-class data, best of 4, 2 threads; ``python -m benchmarks.backbone_throughput``; the machine
is shared, so the range is over several runs), in images per second::

    resnet18      32 px: 330-450   48 px: 150-190   64 px: 115-150
    resnet50      32 px:  90-120   48 px:  70       64 px:  47-51
    googlenet     32 px: 220-290   48 px: 140-170   64 px: 100-117
    inception_v3  75 px:  69-77    96 px:  49-50    (75 px is the smallest input Inception-v3 accepts)

Every backbone therefore trains at its smallest sensible input: 32 px for the ResNets and GoogLeNet,
75 px for Inception-v3 (the same 32 px images, resized). Rendering costs 1.6 ms per 32 px image (6.2 ms
at 75 px, hence the resize) and finding a class about 0.15 s (filling-rate rule; ~3 % of candidates
pass). ``default`` trains on 16 classes x 80 images (1,280) and sets the epochs per backbone so that each
stand-in gets about the same CPU time, 16-25 s: ResNet-18 6 epochs, GoogLeNet 4, ResNet-50 2,
Inception-v3 1. The probe (3 seeds x 2 arms x 3 epochs over 72 tiles, validated on 96) costs
12 s (ResNet-18), 12 s (GoogLeNet), 24 s (ResNet-50) and 34 s (Inception-v3). Measured wall time of
the four stand-ins plus their probes on ``default``, from an empty model store: 169-171 s (stand-ins
87-89 s, of which 4.4 s class search and rendering; probes 82 s, of which ~7 s making the tiles).

The optimizer settings are FractalDB's own, not tuned here: pretraining SGD with lr 0.1 at batch
256 (scaled linearly to our 64: 0.025), momentum 0.9, weight decay 1e-4; fine-tuning lr 0.01,
momentum 0.9, weight decay 1e-4 (at our batch of 16).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch
from torch import nn
from torch.nn import functional
from torch.utils.data import Dataset, TensorDataset

from cpath_repro.errors import ParameterError
from cpath_repro.models import backbones
from cpath_repro.models.backbones import NAMES, Backbone, Normalization
from cpath_repro.synth import fractals
from cpath_repro.train import store
from cpath_repro.train.engine import TrainConfig, Trainer

T = TypeVar("T")

#: FractalDB's pretraining and fine-tuning optimizers (SGD; lr at their batch of 256, momentum, weight decay).
PRETRAIN_LR, FINETUNE_LR, MOMENTUM, WEIGHT_DECAY, FRACTALDB_BATCH = 0.1, 0.01, 0.9, 1e-4, 256
#: FractalDB-1k: 1,000 classes of 1,000 images, 90 epochs, batch 256, 224 px crops.
FRACTALDB_1K = {"classes": 1000, "per_class": 1000, "epochs": 90, "batch_size": 256, "size": 224}
#: Above this many bytes of uint8 pixels the fractal images are rendered on the fly instead of once up front.
PRERENDER_BYTES = 1 << 30
#: Images the fractal statistics are computed from when the set is rendered on the fly.
STATISTICS_IMAGES = 2000


@dataclass(frozen=True)
class FractalSettings:
    """The stand-in's data and training. Sizes in pixels; ``epochs`` per backbone (missing: 1).

    Images are rendered at ``size`` and each backbone sees them at ``max(size, its smallest input)``
    (bilinear resize): 32 px for the ResNets and GoogLeNet, 75 px for Inception-v3, so all four learn
    from the same images. ``lr`` defaults to FractalDB's 0.1 scaled linearly to ``batch_size``.
    ``val_per_class`` further images per class (never trained on) measure how well the stand-in
    learned its own task.
    """

    classes: int
    per_class: int
    epochs: Mapping[str, int]
    size: int = 32
    batch_size: int = 64
    lr: float | None = None
    momentum: float = MOMENTUM
    weight_decay: float = WEIGHT_DECAY
    val_per_class: int = 2
    seed: int = 0

    def input_size(self, name: str) -> int:
        return max(self.size, backbones.min_input_size(name))

    def epochs_for(self, name: str) -> int:
        return int(self.epochs.get(name, 1))

    def train_config(self, name: str) -> TrainConfig:
        epochs = self.epochs_for(name)
        lr = self.lr if self.lr is not None else PRETRAIN_LR * self.batch_size / FRACTALDB_BATCH
        return TrainConfig(epochs=epochs, batch_size=self.batch_size, lr=lr, momentum=self.momentum,
                           weight_decay=self.weight_decay, val_every=epochs, seed=self.seed)


def _same(value: int) -> dict[str, int]:
    return dict.fromkeys(NAMES, value)


#: Profile defaults. ``ci``: every code path in seconds (~25 s for all four stand-ins and probes). ``default``:
#: 16-25 s of CPU per stand-in (epochs per backbone from the throughputs above). ``paper``: FractalDB-1k, for users
#: with GPUs; its 10^6 images do not fit in memory and are rendered on the fly, ~70 ms per 224 px image on one
#: CPU core in the training process, which then bounds an epoch to ~20 CPU-hours.
FRACTAL_PROFILES: dict[str, FractalSettings] = {
    "ci": FractalSettings(classes=4, per_class=8, epochs=_same(1), batch_size=16, val_per_class=2),
    "default": FractalSettings(classes=16, per_class=80,
                               epochs={"resnet18": 6, "resnet50": 2, "googlenet": 4, "inception_v3": 1}),
    "paper": FractalSettings(classes=FRACTALDB_1K["classes"], per_class=FRACTALDB_1K["per_class"],
                             epochs=_same(FRACTALDB_1K["epochs"]), size=FRACTALDB_1K["size"],
                             batch_size=FRACTALDB_1K["batch_size"], val_per_class=10),
}


def for_profile(table: Mapping[str, T], profile: str | T, what: str) -> T:
    """The settings ``table`` holds for a profile name (settings given as such pass through)."""
    if not isinstance(profile, str):
        return profile
    if profile not in table:
        msg = f"{what} has settings for the profiles {', '.join(table)}; got {profile!r}."
        raise ParameterError(msg)
    return table[profile]


def fractal_settings(profile: str | FractalSettings) -> FractalSettings:
    """The stand-in's settings of a profile name (or the settings themselves)."""
    return for_profile(FRACTAL_PROFILES, profile, "The fractal stand-in")


# -- the stand-in ---------------------------------------------------------------------------------------------------


@lru_cache(maxsize=4)
def fractal_classes(n: int, seed: int) -> tuple[fractals.IFS, ...]:
    """The stand-in's ``n`` fractal classes (iterated function systems), found once per process."""
    return tuple(fractals.search_classes(n, seed))


@lru_cache(maxsize=4)
def _rendered(n: int, per_class: int, size: int, seed: int, first: int) -> np.ndarray:
    """The images, rendered once per process and shared by the backbones that train at the same size."""
    return fractals.dataset(n, per_class, size, seed, first, list(fractal_classes(n, seed))).images


def as_input(images: np.ndarray, size: int) -> torch.Tensor:
    """uint8 ``(N, H, W, 3)`` to floats in [0, 1], ``(N, 3, size, size)`` (bilinear resize when needed)."""
    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float() / 255.0
    if x.shape[-1] != size:
        x = functional.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    return x


class FractalDataset(Dataset[tuple[torch.Tensor, torch.Tensor]]):
    """Fractal images ``first ... first + per_class - 1`` of every class, rendered at ``size`` and given to the
    network at ``input_size``, normalized. Rendered once up front when they fit in :data:`PRERENDER_BYTES`,
    else on the fly (FractalDB-1k)."""

    def __init__(self, n_classes: int, per_class: int, size: int, input_size: int, seed: int, first: int = 0,
                 normalization: Normalization | None = None) -> None:
        self.n_classes, self.per_class, self.size, self.input_size = n_classes, per_class, size, input_size
        self.seed, self.first = seed, first
        self.images: np.ndarray | None = None
        if n_classes * per_class * size * size * 3 <= PRERENDER_BYTES:
            self.images = _rendered(n_classes, per_class, size, seed, first)
        self.normalization = normalization or self.statistics()

    def __len__(self) -> int:
        return self.n_classes * self.per_class

    def statistics(self) -> Normalization:
        """Per-channel statistics of these images (of :data:`STATISTICS_IMAGES` of them when on the fly)."""
        if self.images is not None:
            sample = self.images
        else:
            step = max(1, len(self) // STATISTICS_IMAGES)
            sample = np.stack([self.image(i) for i in range(0, len(self), step)])
        note = (f"per-channel statistics of the {len(sample)} fractal pretraining images (rendered at {self.size} px) "
                "the stand-in was trained on")
        return Normalization.from_images(sample, note, input_size=self.input_size)

    def image(self, index: int) -> np.ndarray:
        if self.images is not None:
            return self.images[index]
        label, k = divmod(index, self.per_class)
        systems = list(fractal_classes(self.n_classes, self.seed))
        return fractals.instance(systems, label, self.first + k, self.size, self.seed)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        x = as_input(self.image(index)[None], self.input_size)
        return self.normalization(x)[0], torch.tensor(index // self.per_class)

    def tensors(self) -> TensorDataset:
        """All items as one TensorDataset (fast batches); only when pre-rendered."""
        assert self.images is not None
        labels = torch.arange(self.n_classes).repeat_interleave(self.per_class)
        return TensorDataset(self.normalization(as_input(self.images, self.input_size)), labels)


@dataclass
class StandIn:
    """A stored fractal stand-in: its weights (fractal head included), input statistics and provenance."""

    name: str
    key: str
    state: dict[str, torch.Tensor]
    normalization: Normalization
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def source(self) -> str:
        m = self.meta
        return (f"formula-driven (FractalDB-style) stand-in pretrained here: {m['classes']} fractal classes x "
                f"{m['per_class']} images of {m['size']} px seen at {m['input_size']} px, {m['epochs']} epoch(s), "
                f"fractal validation accuracy {m['fractal_val_accuracy']:.2f} (model store key {self.key})")


def accuracy(model: nn.Module, data: TensorDataset, batch: int = 256) -> float:
    x, y = data.tensors
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), batch):
            correct += int((model(x[i:i + batch]).argmax(1) == y[i:i + batch]).sum())
    return correct / max(len(x), 1)


def stand_in_config(name: str, settings: FractalSettings) -> dict[str, Any]:
    """What keys a stand-in in the model store: the generator's rules, this backbone's data and training."""
    return {
        "recipe": "fractal stand-in", "backbone": name,
        "generator": {"module": fractals.__name__, "fill_threshold": fractals.FILL_THRESHOLD, "maps": fractals.MAPS,
                      "weights": fractals.WEIGHTS, "points_per_pixel": fractals.POINTS_PER_PIXEL},
        "classes": settings.classes, "per_class": settings.per_class, "val_per_class": settings.val_per_class,
        "size": settings.size, "input_size": settings.input_size(name), "train": asdict(settings.train_config(name)),
    }


def stand_in_recipe(name: str, settings: str | FractalSettings = "default", progress: bool = True) -> store.Recipe:
    """How the fractal stand-in of ``name`` is made (declared, not trained)."""
    backbones.weights_enum(name)  # checks the name
    s = fractal_settings(settings)
    size = s.input_size(name)
    cfg = s.train_config(name)

    def initialized() -> nn.Module:
        return backbones.build(name, "none", s.classes, seed=s.seed, head_seed=s.seed).model

    def train(model: nn.Module, checkpoints: Path) -> dict[str, Any]:
        t0 = time.perf_counter()
        data = FractalDataset(s.classes, s.per_class, s.size, size, s.seed)
        held_out = FractalDataset(s.classes, s.val_per_class, s.size, size, s.seed, first=s.per_class,
                                  normalization=data.normalization)
        rendered = time.perf_counter() - t0
        train_set: Dataset[Any] = data.tensors() if data.images is not None else data
        val_set = held_out.tensors() if held_out.images is not None else None
        trainer = Trainer(model, nn.CrossEntropyLoss(), train_set, cfg,
                          validate=(lambda m: {"accuracy": accuracy(m, val_set)}) if val_set is not None else None,
                          checkpoint_dir=checkpoints, progress=progress, name=f"fractal stand-in {name}")
        history = trainer.fit()
        validated = history.validated()
        return {"history": history.epochs, "normalization": data.normalization.as_dict(), "classes": s.classes,
                "per_class": s.per_class, "size": s.size, "input_size": size, "epochs": cfg.epochs, "images": len(data),
                "fractal_val_accuracy": validated[-1]["val"]["accuracy"] if validated else float("nan"),
                "render_seconds": rendered, "seconds": time.perf_counter() - t0}

    return store.Recipe(stand_in_config(name, s), initialized, train, __name__)


def stand_in(name: str, settings: str | FractalSettings = "default", progress: bool = True) -> StandIn:
    """The fractal stand-in of ``name``: loaded from the model store, or trained (once) and stored."""
    stored = store.get(stand_in_recipe(name, settings, progress))
    return StandIn(name, stored.key, stored.model.state_dict(), Normalization.from_dict(stored.meta["normalization"]),
                   stored.meta)


def declared(name: str, pretraining: str = "auto", settings: str | FractalSettings = "default"
             ) -> tuple[dict[str, Any], tuple[store.Recipe, ...]]:
    """What the weights :func:`pretrained` gives start from, said without training anything (for a model's
    config), and the recipes they need first: the stand-in's, by its store key, or ImageNet's file."""
    choice = resolve(name, pretraining)
    if choice == "fractal":
        recipe = stand_in_recipe(name, settings, progress=False)
        return {"pretraining": choice, "weights": f"fractal stand-in {recipe.key}"}, (recipe,)
    if choice == "imagenet":
        return {"pretraining": choice, "weights": _imagenet_source(name)}, ()
    return {"pretraining": choice}, ()


@lru_cache(maxsize=8)
def _imagenet_source(name: str) -> str:
    return backbones.build(name, "imagenet").source


def resolve(name: str, pretraining: str = "auto") -> str:
    """``"auto"``: ImageNet when torchvision's file of ``name`` is on this machine, else the fractal stand-in."""
    if pretraining == "auto":
        return "imagenet" if backbones.imagenet_available(name) else "fractal"
    if pretraining not in backbones.PRETRAININGS:
        msg = f"pretraining must be 'auto' or one of {', '.join(backbones.PRETRAININGS)}; got {pretraining!r}."
        raise ParameterError(msg)
    return pretraining


def pretrained(name: str, pretraining: str = "auto", num_classes: int | None = None,
               settings: str | FractalSettings = "default", *, seed: int | None = None, head_seed: int | None = None,
               aux_logits: bool = False, progress: bool = True) -> Backbone:
    """The backbone chapters call for: ``pretraining`` "auto" (ImageNet if its file is here, else the fractal
    stand-in), "imagenet", "fractal" or "none"; ``num_classes`` as in :func:`cpath_repro.models.backbones.build`
    (None keeps the pretrained head, 0 gives a feature extractor). ``Backbone.source`` says in words where the
    weights came from; ``Backbone.normalization`` how inputs must be normalized for them."""
    choice = resolve(name, pretraining)
    if choice == "fractal":
        s = stand_in(name, settings, progress)
        return backbones.build(name, "fractal", num_classes, state=s.state, normalization=s.normalization,
                               source=s.source, aux_logits=aux_logits, head_seed=head_seed)
    return backbones.build(name, choice, num_classes, seed=seed, head_seed=head_seed, aux_logits=aux_logits)
