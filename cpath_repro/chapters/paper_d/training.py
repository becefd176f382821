"""Paper D's five methods (section 4.2.1), trained once per seed through the model store, and their tumour
probabilities on a slide's patches.

- *Classifier only*: the GoogLeNet extractor with its 2-class layer, trained on labelled patches (section
  4.1: Adam 1e-4, batch 128; Camelyon's tumour and normal patches sampled to equal numbers).
- *Separate learning*: that extractor frozen, every patch's 16-d feature placed on its slide's (or lump's)
  map, a U-Net trained on the maps (Adam 1e-4, batch 32; "nolabel" positions carry no loss).
- *End-to-end learning*: from the separate weights, steps 1-5 of section 3.2.2 on each slide
  (:func:`cpath_repro.train.end_to_end.end_to_end_step`); the extractor's final layer is dropped.
- *ImageNet features*: the pretrained GoogLeNet's pooled 1,024 features, not trained, under a U-Net.
- *Segmentation only*: a U-Net on the tissue image itself at 1/8 of the patches' resolution, its output
  averaged over each patch's area.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import ConcatDataset, Dataset

from cpath_repro import seeds
from cpath_repro.chapters.paper_d.data import Cohort, SlideData, camelyon16, describe, stomach
from cpath_repro.models.patch_features import folded
from cpath_repro.models.unet import UNet
from cpath_repro.train import store
from cpath_repro.train.end_to_end import (
    LazyBatches,
    SlideBatch,
    end_to_end_step,
    feature_map,
    label_map,
    segmentation_loss,
)
from cpath_repro.train.engine import TrainConfig, Trainer

if TYPE_CHECKING:
    from cpath_repro.chapters.paper_d.settings import Settings  # read, never imported: reader text

METHODS = ("classifier-only", "segmentation-only", "imagenet-features", "separate", "end-to-end")
#: D-C2's control, not a method of the paper: separate learning's segmenter trained on for as many more epochs as
#: end-to-end learning adds (its extractor frozen), so that end-to-end learning is compared at an equal budget.
SEPARATE_LONGER = "separate-longer"
#: The U-Net's first width (ours: the paper gives none; paper A's half-width UNET has 32, we halve it again for
#: two CPU cores, for every method alike) and its deepest level.
SEGMENTER_BASE = 16
MAX_DEPTH = 4
#: Section 4.2.1: segmentation only "reduce[s] the input tissue image ... to 1/8 of the original resolution".
#: (It trained "with a batch size of 1", for GPU memory at 1024 x 1024 px; ours takes the segmenter's batch,
#: 8x fewer steps on a CPU.)
SEGMENTATION_ONLY_SCALE = 8
#: Section 4.2.2: Camelyon16's end-to-end learning runs 5 epochs against the stomach set's 10.
CAMELYON_END_TO_END_SHARE = 0.5
CHECKPOINT_EVERY = 10
FEATURE_BATCH = 256
#: A slide's patches (uint8) or a lump's augmented inputs (float32) are kept in memory up to this size; beyond
#: it (the ``paper`` profile's Camelyon slides: 10^4-10^5 patches of 256 px) they are read, or made, per
#: mini-batch, so end-to-end learning's memory stays that of one mini-batch.
IN_MEMORY_BYTES = 512 * 2**20


@dataclass(frozen=True)
class Task:
    """One dataset's learning problem: its cohort, map side and sampling."""

    name: str  # "stomach" or "camelyon16"
    cohort: Cohort
    map_size: int
    balanced: bool
    end_to_end_epochs: int

    @property
    def train(self) -> list[SlideData]:
        return self.cohort.split("train")

    @property
    def test(self) -> list[SlideData]:
        return self.cohort.split("test")


def task(s: Settings, name: str, seed: int) -> Task:
    """Section 4.1: stomach slides unbalanced, one map per lump; Camelyon balanced, one map per slide."""
    if name == "stomach":
        return Task(name, stomach(s, seed), s.stomach_map, False, s.end_to_end_epochs)
    if name == "camelyon16":
        epochs = max(1, round(CAMELYON_END_TO_END_SHARE * s.end_to_end_epochs))
        return Task(name, camelyon16(s, seed), s.camelyon_map, True, epochs)
    raise ValueError(f"Unknown paper D task {name!r}; choose 'stomach' or 'camelyon16'.")


def depth_for(map_size: int) -> int:
    """The deepest U-Net (at most :data:`MAX_DEPTH` poolings) that divides ``map_size`` and keeps at least 2×2
    positions at its bottleneck (batch norm on one map needs more than one value per channel)."""
    depth = 0
    while depth < MAX_DEPTH and map_size % 2 ** (depth + 1) == 0 and map_size // 2 ** (depth + 1) >= 2:
        depth += 1
    return depth


def segmenter(in_channels: int, map_size: int) -> UNet:
    return UNet(in_channels, 2, SEGMENTER_BASE, depth_for(map_size))


def _config(s: Settings, t: Task, seed: int, method: str, **more: Any) -> dict[str, Any]:
    return {"chapter": "paper_d", "method": method, "task": t.name, "data": t.cohort.fingerprint, "seed": seed,
            "settings": describe(s), "map_size": t.map_size, "pretraining": s.pretraining, **more}


# -- patches --------------------------------------------------------------------------------------------------------

def _training_patches(s: Settings, t: Task, seed: int) -> list[Any]:
    """Each training slide's labelled patches as an augmented dataset; on Camelyon, every tumour patch and as many
    normal patches drawn from all training slides (section 4.1: "we sampled an equal number of tumor/normal
    patches")."""
    from cpath_repro.wsi.patches import balanced

    labelled = [[p for p in sd.patches if p.label >= 0] for sd in t.train]
    if t.balanced:
        chosen = {id(p) for p in balanced([p for ps in labelled for p in ps], seeds.rng(seed, "balanced patches"))}
        labelled = [[p for p in ps if id(p) in chosen] for ps in labelled]
    return [_dataset(s, sd, ps, augment=True, seed=seed) for sd, ps in zip(t.train, labelled, strict=True) if ps]


def _dataset(s: Settings, sd: SlideData, patches: list[Any], augment: bool, seed: int) -> Any:
    """Patches of one slide as a streaming dataset, read once into memory when they fit in
    :data:`IN_MEMORY_BYTES` (they are read every epoch), else read from the slide at each item."""
    from cpath_repro.wsi.patches import PatchDataset

    fits = len(patches) * s.patch_px**2 * 3 <= IN_MEMORY_BYTES
    return PatchDataset(sd.path, patches, crop=s.crop_px, augment=augment, seed=seed, preload=fits)


def _set_epoch(sets: list[Any]) -> Any:
    def hook(epoch: int, record: dict[str, Any], trainer: Trainer) -> None:
        for ds in sets:
            ds.set_epoch(epoch)  # epoch counts from 1: the next epoch's augmentations
    return hook


# -- the extractor (classifier only) ---------------------------------------------------------------------------------

def extractor_recipe(s: Settings, t: Task, seed: int, progress: bool = True) -> store.Recipe:
    """How the classifier-only model of ``seed`` is made: the patch extractor trained on the training slides'
    labelled patches (declared, not trained)."""
    from cpath_repro.models.patch_features import BACKBONE, from_backbone
    from cpath_repro.transfer.pretraining import declared, pretrained

    cfg = TrainConfig(epochs=s.extractor_epochs, batch_size=s.extractor_batch, lr=s.lr, seed=seed,
                      optimizer="adam", momentum=0.9)
    config = _config(s, t, seed, "classifier-only", balanced=t.balanced, train=cfg.__dict__)
    holder: dict[str, str] = {}

    def build() -> nn.Module:
        backbone = pretrained(BACKBONE, s.pretraining, num_classes=0, settings=s.profile, seed=seed, progress=False)
        holder["source"] = backbone.source
        return from_backbone(backbone, seed)

    def train_fn(model: nn.Module, checkpoints: Path) -> dict[str, Any]:
        sets = _training_patches(s, t, seed)
        data: ConcatDataset[Any] = ConcatDataset(sets)
        trainer = Trainer(model, F.cross_entropy, data, cfg, checkpoint_dir=checkpoints, progress=progress,
                          name=f"paper D {t.name} extractor, seed {seed}", on_epoch_end=_set_epoch(sets),
                          checkpoint_every=CHECKPOINT_EVERY, drop_last=True)
        history = trainer.fit()
        labels = np.concatenate([[p.label for p in ds.patches] for ds in sets])
        return {"history": history.epochs, "start": holder.get("source"), "patches": int(len(labels)),
                "tumour_patches": int((labels == 1).sum()),
                "normalization": model.normalization.as_dict()}  # type: ignore[operator, union-attr]

    return store.Recipe(config, build, train_fn, __name__, declared(BACKBONE, s.pretraining, s.profile)[1])


def extractor(s: Settings, t: Task, seed: int, progress: bool = True) -> store.StoredModel:
    """The classifier-only model of ``seed``, from the store (trained if missing)."""
    return store.get(extractor_recipe(s, t, seed, progress))


def features(fn: Any, s: Settings, sd: SlideData, seed: int = 0) -> torch.Tensor:
    """``fn`` (a model, or a model's feature function, in evaluation mode) over every patch of ``sd``,
    centre-cropped."""
    data = _dataset(s, sd, sd.patches, augment=False, seed=seed)
    out = []
    with torch.no_grad():
        for start in range(0, len(data), FEATURE_BATCH):
            batch = torch.stack([data[i][0] for i in range(start, min(start + FEATURE_BATCH, len(data)))])
            out.append(fn(batch))
    data.close()
    return torch.cat(out)


# -- maps and the segmenter ------------------------------------------------------------------------------------------

@dataclass
class SlideMaps:
    """A slide's maps, one per lump: the input maps, label maps, the patch indices each holds and the map position
    of every patch of the slide (row, col; outside the map when its lump is larger than the map)."""

    inputs: list[torch.Tensor]
    labels: list[torch.Tensor]
    lumps: list[np.ndarray]
    places: np.ndarray


def slide_maps(sd: SlideData, feats: torch.Tensor, map_size: int) -> SlideMaps:
    """``feats`` (one row per patch of ``sd``) placed on one map per lump, centred (section 3.1)."""
    pos = torch.from_numpy(sd.positions)
    labels = torch.from_numpy(sd.labels)
    out = SlideMaps([], [], [], np.zeros((len(sd.patches), 2), dtype=np.int64))
    for lump in sd.lumps:
        idx = torch.from_numpy(lump)
        fmap, offset = feature_map(feats[idx], pos[idx], map_size)
        lmap, _ = label_map(labels[idx], pos[idx], map_size)
        out.inputs.append(fmap)
        out.labels.append(lmap)
        out.lumps.append(lump)
        out.places[lump] = sd.positions[lump] + np.array(offset)
    return out


class MapSet(Dataset[tuple[torch.Tensor, torch.Tensor]]):
    """Input maps and their label maps (``IGNORE_INDEX`` where no label is), as a segmenter trains on them."""

    def __init__(self, maps: list[SlideMaps]) -> None:
        self.x = [m for sm in maps for m in sm.inputs]
        self.y = [lab for sm in maps for lab in sm.labels]

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.x[i], self.y[i]


def read_out(output: list[np.ndarray], sm: SlideMaps) -> np.ndarray:
    """Per-patch values from per-lump output maps (``(S, S)`` each; NaN for patches cut off the map)."""
    out = np.full(len(sm.places), np.nan)
    for values, lump in zip(output, sm.lumps, strict=True):
        size = values.shape[0]
        rc = sm.places[lump]
        inside = ((rc >= 0) & (rc < size)).all(1)
        out[lump[inside]] = values[rc[inside, 0], rc[inside, 1]]
    return out


def tumour_probability(seg: nn.Module, sm: SlideMaps) -> np.ndarray:
    """Each patch's tumour probability: the softmax of the segmenter's output at its map position."""
    seg.eval()
    with torch.no_grad():
        maps = [torch.softmax(seg(x[None]), 1)[0, 1].numpy() for x in sm.inputs]
    return read_out(maps, sm)


def _train_segmenter(s: Settings, t: Task, seed: int, model: nn.Module, maps: list[SlideMaps], checkpoints: Path,
                     name: str, batch: int, progress: bool, epochs: int | None = None, lr: float | None = None
                     ) -> dict[str, Any]:
    """Train a segmenter on feature maps (``epochs`` and ``lr``: the segmenter's own unless given)."""
    cfg = TrainConfig(epochs=epochs or s.segmenter_epochs, batch_size=batch, lr=lr or s.lr, seed=seed, optimizer="adam")
    trainer = Trainer(model, segmentation_loss, MapSet(maps), cfg, checkpoint_dir=checkpoints, progress=progress,
                      name=name, checkpoint_every=CHECKPOINT_EVERY)
    return {"history": trainer.fit().epochs, "maps": sum(len(m.inputs) for m in maps)}


def _frozen_features(s: Settings, t: Task, seed: int, source: str, progress: bool) -> Any:
    """The feature function under a segmenter: the trained extractor's 16-d features ("trained"), or the
    pretrained GoogLeNet's pooled 1,024 ("pretrained")."""
    if source == "trained":
        return folded(extractor(s, t, seed, progress).model).features
    from cpath_repro.transfer.pretraining import pretrained

    backbone = pretrained("googlenet", s.pretraining, 0, s.profile, progress=False)
    net, norm = folded(backbone.model), backbone.normalization
    return lambda x: net(norm(x))


def _feature_source(s: Settings, t: Task, seed: int, source: str, progress: bool
                    ) -> tuple[int, dict[str, Any], tuple[store.Recipe, ...]]:
    """The width of :func:`_frozen_features`, what they come from (for a config) and the recipe they need first."""
    from cpath_repro.models.backbones import FEATURE_DIM
    from cpath_repro.models.patch_features import FEATURE_DIM as EXTRACTOR_FEATURES
    from cpath_repro.transfer.pretraining import declared

    if source == "trained":
        base = extractor_recipe(s, t, seed, progress)
        return EXTRACTOR_FEATURES, {"extractor": base.key}, (base,)
    origin, needs = declared("googlenet", s.pretraining, s.profile)
    return FEATURE_DIM["googlenet"], {"backbone": origin}, needs


def separate_recipe(s: Settings, t: Task, seed: int, source: str = "trained", progress: bool = True) -> store.Recipe:
    """How separate learning's segmenter on frozen features is made (``source`` "trained": the classifier-only
    extractor's; "pretrained": the ImageNet-features baseline's), declared, not trained."""
    width, origin, needs = _feature_source(s, t, seed, source, progress)
    method = "separate" if source == "trained" else "imagenet-features"
    config = _config(s, t, seed, method, features=origin, epochs=s.segmenter_epochs, batch=s.segmenter_batch,
                     lr=s.lr, base=SEGMENTER_BASE)

    def train_fn(model: nn.Module, checkpoints: Path) -> dict[str, Any]:
        fn = _frozen_features(s, t, seed, source, progress)
        maps = [slide_maps(sd, features(fn, s, sd), t.map_size) for sd in t.train]
        return _train_segmenter(s, t, seed, model, maps, checkpoints, f"paper D {t.name} {method}, seed {seed}",
                                s.segmenter_batch, progress)

    def build() -> nn.Module:
        torch.manual_seed(seed)
        return segmenter(width, t.map_size)

    return store.Recipe(config, build, train_fn, __name__, needs)


def separate(s: Settings, t: Task, seed: int, source: str = "trained", progress: bool = True
             ) -> tuple[store.StoredModel, Any]:
    """Separate learning's segmenter (:func:`separate_recipe`) from the store, and the feature function it reads."""
    stored = store.get(separate_recipe(s, t, seed, source, progress))
    return stored, _frozen_features(s, t, seed, source, progress)


def separate_longer_recipe(s: Settings, t: Task, seed: int, progress: bool = True) -> store.Recipe:
    """How D-C2's control is made: separate learning's segmenter, from its weights, trained ``t.end_to_end_epochs``
    more epochs at end-to-end learning's segmenter rate on the same frozen features."""
    seg = separate_recipe(s, t, seed, "trained", progress)
    config = _config(s, t, seed, SEPARATE_LONGER, segmenter=seg.key, epochs=t.end_to_end_epochs,
                     batch=s.segmenter_batch, lr=s.end_to_end_lr_segmenter)

    def train_fn(model: nn.Module, checkpoints: Path) -> dict[str, Any]:
        fn = _frozen_features(s, t, seed, "trained", progress)
        maps = [slide_maps(sd, features(fn, s, sd), t.map_size) for sd in t.train]
        return _train_segmenter(s, t, seed, model, maps, checkpoints, f"paper D {t.name} {SEPARATE_LONGER}, seed {seed}",
                                s.segmenter_batch, progress, t.end_to_end_epochs, s.end_to_end_lr_segmenter)

    return store.Recipe(config, lambda: store.get(seg).model, train_fn, __name__, (seg,))


def separate_longer(s: Settings, t: Task, seed: int, progress: bool = True) -> tuple[store.StoredModel, Any]:
    """D-C2's control (:func:`separate_longer_recipe`) from the store, and the feature function it reads."""
    return store.get(separate_longer_recipe(s, t, seed, progress)), _frozen_features(s, t, seed, "trained", progress)


def weight_change(before: nn.Module, after: nn.Module) -> float:
    """‖w_after − w_before‖ / ‖w_before‖ over every parameter: how far a model moved."""
    num = sum(float((a.detach() - b.detach()).pow(2).sum()) for a, b in zip(after.parameters(), before.parameters(),
                                                                           strict=True))
    den = sum(float(b.detach().pow(2).sum()) for b in before.parameters())
    return (num / den) ** 0.5 if den else float("nan")


class EndToEnd(nn.Module):
    """The extractor and the segmenter learned together (the extractor's final layer unused)."""

    def __init__(self, extractor: nn.Module, segmenter: nn.Module) -> None:
        super().__init__()
        self.extractor = extractor
        self.segmenter = segmenter


def end_to_end_recipe(s: Settings, t: Task, seed: int, progress: bool = True) -> store.Recipe:
    """How end-to-end learning is made from the separate weights: for every training slide (each lump a map),
    steps 1-5 (declared, not trained)."""
    from tqdm.auto import tqdm

    base_recipe = extractor_recipe(s, t, seed, progress)
    seg_recipe = separate_recipe(s, t, seed, "trained", progress)
    config = _config(s, t, seed, "end-to-end", extractor=base_recipe.key, segmenter=seg_recipe.key,
                     epochs=t.end_to_end_epochs, lr_extractor=s.end_to_end_lr_extractor,
                     lr_segmenter=s.end_to_end_lr_segmenter, batch=s.extractor_batch)

    def build() -> nn.Module:
        return EndToEnd(store.get(base_recipe).model, store.get(seg_recipe).model)

    def train_fn(model: nn.Module, checkpoints: Path) -> dict[str, Any]:
        del checkpoints  # minutes at most: an interrupted run starts again from the separate weights
        assert isinstance(model, EndToEnd)
        base, seg = store.get(base_recipe), store.get(seg_recipe)
        started = time.perf_counter()
        ext, sgm = model.extractor, model.segmenter
        params = [p for name, p in ext.named_parameters() if not name.startswith("classifier.")]
        opt_e = torch.optim.Adam(params, lr=s.end_to_end_lr_extractor)
        opt_s = torch.optim.Adam(sgm.parameters(), lr=s.end_to_end_lr_segmenter)
        torch.manual_seed(seed)
        ext.train()
        sgm.train()
        losses, skipped = [], 0
        order_rng = seeds.rng(seed, "slide order")
        slides = t.train
        bar = tqdm(total=t.end_to_end_epochs * len(slides), desc=f"paper D {t.name} end-to-end, seed {seed}",
                   disable=not progress)
        for epoch in range(t.end_to_end_epochs):
            epoch_losses = []
            for k in order_rng.permutation(len(slides)):
                sd = slides[k]
                data = _dataset(s, sd, sd.patches, augment=True, seed=seed)
                data.set_epoch(epoch)
                for lump in sd.lumps:
                    if len(lump) < 2:  # one patch gives the extractor's batch norm no batch statistics
                        skipped += 1
                        continue
                    epoch_losses.append(end_to_end_step(ext, sgm, _slide_batch(data, sd, lump, t.map_size,
                                                                               s.extractor_batch), opt_e, opt_s))
                data.close()
                bar.update()
            losses.append(float(np.mean(epoch_losses)))
        bar.close()
        return {"losses": losses, "seconds": time.perf_counter() - started, "single_patch_lumps_skipped": skipped,
                "normalization": base.meta["normalization"],
                "settings": {"mpp": s.mpp, "patch_px": s.patch_px, "crop_px": s.crop_px, "map_size": t.map_size,
                             "lumps": t.name == "stomach", "batch": s.extractor_batch},
                "moved": {"extractor": weight_change(base.model, ext), "segmenter": weight_change(seg.model, sgm)}}

    return store.Recipe(config, build, train_fn, __name__, (base_recipe, seg_recipe))


def end_to_end(s: Settings, t: Task, seed: int, progress: bool = True) -> store.StoredModel:
    """End-to-end learning's model of ``seed`` (:func:`end_to_end_recipe`) from the store."""
    return store.get(end_to_end_recipe(s, t, seed, progress))


def _slide_batch(data: Any, sd: SlideData, lump: np.ndarray, map_size: int, batch: int) -> SlideBatch:
    """One lump's augmented patches in near-equal mini-batches of at most ``batch`` (never a mini-batch of one
    patch). Small lumps' inputs are made once and kept (N small images, not activations); larger ones are made
    again for the re-forward, the same pixels since the augmentation is a function of (seed, epoch, index)."""
    chunks = np.array_split(lump, -(-len(lump) // batch))

    def make(i: int) -> torch.Tensor:
        return torch.stack([data[int(j)][0] for j in chunks[i]])

    kept = len(lump) * 3 * data.crop**2 * 4 <= IN_MEMORY_BYTES
    patches = [make(i) for i in range(len(chunks))] if kept else LazyBatches(make, len(chunks))
    return SlideBatch(patches, torch.from_numpy(sd.positions[lump]), torch.from_numpy(sd.labels[lump]), map_size)


# -- segmentation only -----------------------------------------------------------------------------------------------

def lump_image(s: Settings, sd: SlideData, lump: np.ndarray, slide: Any) -> np.ndarray:
    """The lump's bounding box of patches read at 1/8 of the patches' resolution, ``(rows·k, cols·k, 3)`` with
    k = round(patch_px / 8) pixels per patch (the paper's 256 px: 32)."""
    from PIL import Image

    k = max(1, round(s.patch_px / SEGMENTATION_ONLY_SCALE))
    pos = sd.positions[lump]
    (r0, c0), (r1, c1) = pos.min(0), pos.max(0) + 1
    down = slide.levels[sd.level].downsample
    region = slide.read_region((round(c0 * s.patch_px * down), round(r0 * s.patch_px * down)), sd.level,
                               ((c1 - c0) * s.patch_px, (r1 - r0) * s.patch_px))
    small = Image.fromarray(region).resize(((c1 - c0) * k, (r1 - r0) * k), Image.Resampling.BOX)
    return np.asarray(small)


def image_maps(s: Settings, sd: SlideData, map_size: int) -> SlideMaps:
    """The slide's lumps as images on a white canvas of ``map_size·k`` pixels, placed as their feature maps are."""
    from cpath_repro.wsi import open_slide

    k = max(1, round(s.patch_px / SEGMENTATION_ONLY_SCALE))
    ones = torch.ones(len(sd.patches), 1)
    placed = slide_maps(sd, ones, map_size)  # the same offsets and label maps as the feature maps
    inputs = []
    with open_slide(sd.path) as slide:
        for lump in placed.lumps:
            image = lump_image(s, sd, lump, slide)
            rc0 = placed.places[lump].min(0)
            canvas = np.full((map_size * k, map_size * k, 3), 255, dtype=np.uint8)
            top, left = int(rc0[0]) * k, int(rc0[1]) * k
            y0, x0 = max(top, 0), max(left, 0)
            y1, x1 = min(top + image.shape[0], canvas.shape[0]), min(left + image.shape[1], canvas.shape[1])
            canvas[y0:y1, x0:x1] = image[y0 - top:y1 - top, x0 - left:x1 - left]
            inputs.append(torch.from_numpy(canvas).permute(2, 0, 1).float() / 255.0)
    placed.inputs = inputs
    return placed


class PooledUNet(nn.Module):
    """Segmentation only: a U-Net on the 1/8 image whose output is averaged over each patch's k×k pixels."""

    def __init__(self, k: int, map_size: int) -> None:
        super().__init__()
        self.k = k
        self.unet = UNet(3, 2, SEGMENTER_BASE, depth_for(map_size * k))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(self.unet(x * 2.0 - 1.0), self.k)


def segmentation_only_recipe(s: Settings, t: Task, seed: int, progress: bool = True) -> store.Recipe:
    """How the segmentation-only baseline of ``seed`` is made (declared, not trained)."""
    k = max(1, round(s.patch_px / SEGMENTATION_ONLY_SCALE))
    config = _config(s, t, seed, "segmentation-only", k=k, epochs=s.segmenter_epochs, lr=s.lr,
                     batch=s.segmenter_batch, base=SEGMENTER_BASE)

    def build() -> nn.Module:
        torch.manual_seed(seed)
        return PooledUNet(k, t.map_size)

    def train_fn(model: nn.Module, checkpoints: Path) -> dict[str, Any]:
        maps = [image_maps(s, sd, t.map_size) for sd in t.train]
        return _train_segmenter(s, t, seed, model, maps, checkpoints, f"paper D {t.name} segmentation only, seed {seed}",
                                s.segmenter_batch, progress)

    return store.Recipe(config, build, train_fn, __name__)


def segmentation_only(s: Settings, t: Task, seed: int, progress: bool = True) -> store.StoredModel:
    """The segmentation-only baseline of ``seed``, from the store."""
    return store.get(segmentation_only_recipe(s, t, seed, progress))


# -- every method's probabilities on a slide --------------------------------------------------------------------------

@dataclass
class Trained:
    """The models of one method and seed, and how it turns a slide into per-patch tumour probabilities."""

    method: str
    keys: list[str]
    predict: Any  # (SlideData) -> np.ndarray of per-patch probabilities

    def __call__(self, sd: SlideData) -> np.ndarray:
        return np.asarray(self.predict(sd))


def recipes(s: Settings, t: Task, seed: int, method: str, progress: bool = True) -> list[store.Recipe]:
    """The models ``method`` (one of :data:`METHODS`, or :data:`SEPARATE_LONGER`) reads for ``seed``."""
    if method == "classifier-only":
        return [extractor_recipe(s, t, seed, progress)]
    if method in ("separate", "imagenet-features"):
        return [separate_recipe(s, t, seed, "trained" if method == "separate" else "pretrained", progress)]
    if method == SEPARATE_LONGER:
        return [separate_longer_recipe(s, t, seed, progress)]
    if method == "end-to-end":
        return [end_to_end_recipe(s, t, seed, progress)]
    if method == "segmentation-only":
        return [segmentation_only_recipe(s, t, seed, progress)]
    raise ValueError(f"Unknown paper D method {method!r}; choose one of {', '.join((*METHODS, SEPARATE_LONGER))}.")


def ensure(s: Settings, tasks: Mapping[int, Task], methods: Iterable[str], progress: bool = True) -> None:
    """Every method's models for each ``{seed: task}``, the missing ones trained as one batch (separate learning
    before the end-to-end learning that starts from it)."""
    store.ensure([r for seed, t in tasks.items() for m in methods for r in recipes(s, t, seed, m, progress)])


def trained(s: Settings, t: Task, seed: int, method: str, progress: bool = True) -> Trained:
    """``method`` (one of :data:`METHODS`) trained for ``seed`` (from the store when it is there)."""
    if method == "classifier-only":
        ext = extractor(s, t, seed, progress)
        model = folded(ext.model)
        return Trained(method, [ext.key], lambda sd: torch.softmax(features(model, s, sd), 1)[:, 1].numpy())
    if method in ("separate", "imagenet-features"):
        seg, fn = separate(s, t, seed, "trained" if method == "separate" else "pretrained", progress)
        keys = [seg.key] + ([extractor(s, t, seed, progress).key] if method == "separate" else [])
        return Trained(method, keys, lambda sd: tumour_probability(seg.model, slide_maps(sd, features(fn, s, sd),
                                                                                          t.map_size)))
    if method == SEPARATE_LONGER:
        longer, fn = separate_longer(s, t, seed, progress)
        keys = [longer.key, separate(s, t, seed, "trained", progress)[0].key, extractor(s, t, seed, progress).key]
        return Trained(method, keys, lambda sd: tumour_probability(longer.model, slide_maps(sd, features(fn, s, sd),
                                                                                             t.map_size)))
    if method == "end-to-end":
        e2e = end_to_end(s, t, seed, progress)
        pair = e2e.model.eval()
        assert isinstance(pair, EndToEnd)
        fast = folded(pair.extractor)
        return Trained(method, [e2e.key], lambda sd: tumour_probability(
            pair.segmenter, slide_maps(sd, features(fast.features, s, sd), t.map_size)))
    if method == "segmentation-only":
        so = segmentation_only(s, t, seed, progress)
        net = so.model.eval()
        return Trained(method, [so.key], lambda sd: tumour_probability(net, image_maps(s, sd, t.map_size)))
    raise ValueError(f"Unknown paper D method {method!r}; choose one of {', '.join((*METHODS, SEPARATE_LONGER))}.")
