"""A trained end-to-end model (extractor + segmenter) applied to any OpenSlide-readable slide: its tumour heatmap
as a PNG overlay and as a small pyramidal TIFF that OpenSlide and QuPath open (``cpath-repro heatmap``).

The model is a model-store entry of paper D's end-to-end learning (``runs/models/<key>/``, its
``meta.json`` says the patch geometry it was trained at). The slide is read at that resolution (a slide with no
level at it is read at the coarsest finer level and each patch shrunk to it, the factor stated), its
tissue found by Otsu's threshold, cut into the same patches, and each tissue lump (or, for a lump larger
than the map, each map-sized block of it) is mapped through the extractor and the segmenter.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cpath_repro.errors import DataNotFoundError, UserError

#: Pixels per patch in the written heatmap TIFF (a slide of 100 x 100 patches gives an 800 x 800 image).
HEATMAP_PX_PER_PATCH = 8
#: The PNG overlay's longer side (pixels) and how opaque the heatmap is over the slide.
OVERLAY_SIZE, OVERLAY_ALPHA = 1024, 0.55


@dataclass(frozen=True)
class Written:
    png: Path
    tiff: Path
    patches: int
    tumour_patches: int
    #: how many times each patch was shrunk to the model's resolution (1: a level of the slide has it)
    resampled: float = 1.0


def load(entry: str | Path) -> tuple[Any, dict[str, Any]]:
    """The end-to-end model stored at ``entry`` (a model-store folder) and its settings; weights are read with
    ``weights_only=True``."""
    from cpath_repro.chapters.paper_d.training import EndToEnd, segmenter
    from cpath_repro.models import backbones
    from cpath_repro.models.backbones import Normalization
    from cpath_repro.models.patch_features import BACKBONE, FEATURE_DIM, from_backbone
    from cpath_repro.train.store import META, WEIGHTS

    folder = Path(entry)
    meta_path, weights = folder / META, folder / WEIGHTS
    if not meta_path.is_file() or not weights.is_file():
        raise DataNotFoundError(f"Expected a paper D end-to-end model in '{folder}' ({META} and {WEIGHTS}, as the "
                                "model store writes them under runs/models/<key>/); found none.")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"'{meta_path}' cannot be read ({type(exc).__name__}); the model-store entry is damaged: "
                        "train it again (`cpath-repro run D-T1`) or pass another entry.") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("config"), dict):
        raise UserError(f"'{meta_path}' is not a model-store entry's record; pass an end-to-end entry (the D-T1 or "
                        "D-T2 page lists their keys).")
    if meta.get("config", {}).get("method") != "end-to-end" or "settings" not in meta:
        raise UserError(f"'{folder}' holds a {meta.get('config', {}).get('method', 'different')} model, not paper D's "
                        "end-to-end learning; pass an end-to-end entry (the D-T1 or D-T2 page lists their keys).")
    settings = meta["settings"]
    extractor = from_backbone(backbones.build(BACKBONE, "none", 0))
    extractor.normalization = Normalization.from_dict(meta["normalization"])
    model = EndToEnd(extractor, segmenter(FEATURE_DIM, int(settings["map_size"])))
    try:
        model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    except Exception as exc:  # a truncated or foreign file: one sentence
        raise UserError(f"The weights in '{weights}' cannot be loaded ({type(exc).__name__}); the entry is damaged or "
                        "not paper D's.") from None
    return model.eval(), settings


def blocks(positions: np.ndarray, lump: np.ndarray, map_size: int) -> list[np.ndarray]:
    """A lump's patch indices in map-sized blocks of its bounding box (one block when it fits the map), so that
    every patch of a large tissue is predicted."""
    pos = positions[lump]
    origin = pos.min(0)
    cell = (pos - origin) // map_size
    keys = cell[:, 0] * (cell[:, 1].max() + 1) + cell[:, 1]
    return [lump[keys == k] for k in np.unique(keys)]


def apply(slide_path: str | Path, entry: str | Path, out: str | Path, *, mpp: float | None = None,
          progress: bool = True) -> Written:
    """Write ``out/<slide>_heatmap.png`` (the heatmap over the slide's thumbnail) and ``out/<slide>_heatmap.tif``
    (the heatmap alone, pyramidal, at the slide's µm/px × patch side / 8)."""
    from PIL import Image
    from tqdm.auto import tqdm

    from cpath_repro import atomic
    from cpath_repro.chapters.paper_d.data import lumps_of
    from cpath_repro.train.end_to_end import feature_map
    from cpath_repro.wsi import open_slide
    from cpath_repro.wsi.patches import PatchDataset, mask_downsample, patch_grid
    from cpath_repro.wsi.tissue import require_tissue, tissue_mask
    from cpath_repro.wsi.writer import write_heatmap_tiff

    out_dir = Path(out)
    if out_dir.exists() and not out_dir.is_dir():
        raise UserError(f"--out '{out_dir}' is a file; name a folder for the heatmap's PNG and TIFF.")
    model, settings = load(entry)
    path = Path(slide_path)
    patch_px, crop, map_size = int(settings["patch_px"]), int(settings["crop_px"]), int(settings["map_size"])
    with open_slide(path, mpp=mpp) as slide:
        level, factor = resolution(slide, float(settings["mpp"]), mpp)
        side = round(patch_px * factor)  # a patch's side in the level's pixels: the model's patch, before resampling
        tissue = require_tissue(tissue_mask(slide, mask_downsample(slide, level, side)), path)
        patches = patch_grid(slide, level, side, tissue, None, None)
        width, height = slide.levels[level].dimensions
        thumb = slide.thumbnail(OVERLAY_SIZE)
        slide_size, level_down = slide.dimensions, slide.levels[level].downsample
        level_mpp = slide.levels[level].mpp or slide.require_mpp()
    if not patches:
        raise UserError(f"'{path}' has no patch of {side} px with more than 80 % tissue; nothing to map.")
    positions = np.array([(p.row, p.col) for p in patches])
    lumps = lumps_of(positions, (height // side, width // side)) if settings.get("lumps") else [
        np.arange(len(patches))]
    data = PatchDataset(path, patches, crop=crop if side == patch_px else None, augment=False)

    def image(i: int) -> torch.Tensor:  # the model's view of patch i: resampled to its resolution, centre crop
        x = data[i][0]
        return x if side == patch_px else shrink(x, patch_px, crop)

    probability = np.full(len(patches), np.nan)
    bar = tqdm(total=len(patches), desc=f"heatmap of {path.name}", unit="patch", disable=not progress)
    with torch.no_grad():
        for lump in lumps:
            for block in blocks(positions, lump, map_size):
                feats = torch.cat([model.extractor.features(torch.stack([image(int(i)) for i in block[j:j + 128]]))
                                   for j in range(0, len(block), 128)])
                fmap, offset = feature_map(feats, torch.from_numpy(positions[block]), map_size)
                p = torch.softmax(model.segmenter(fmap[None]), 1)[0, 1].numpy()
                rc = positions[block] + np.array(offset)
                probability[block] = p[rc[:, 0], rc[:, 1]]
                bar.update(len(block))
    bar.close()
    data.close()
    grid = np.full((height // side, width // side), np.nan)
    grid[positions[:, 0], positions[:, 1]] = probability
    rgb = _colour(grid)
    png, tif = out_dir / f"{path.stem}_heatmap.png", out_dir / f"{path.stem}_heatmap.tif"
    big = np.kron(rgb, np.ones((HEATMAP_PX_PER_PATCH, HEATMAP_PX_PER_PATCH, 1), dtype=np.uint8))
    write_heatmap_tiff(tif, big, float(level_mpp[0]) * side / HEATMAP_PX_PER_PATCH)
    blended = overlay(thumb, rgb, ~np.isnan(grid), slide_size, side * level_down)
    buffer = io.BytesIO()
    Image.fromarray(blended).save(buffer, format="PNG")
    atomic.write_bytes(png, buffer.getvalue())
    return Written(png, tif, len(patches), int(np.nansum(probability > 0.5)), factor)


def resolution(slide: Any, model_mpp: float, given_mpp: float | None) -> tuple[int, float]:
    """The level to read and how many times its patches are shrunk to reach the model's ``model_mpp``: a level at
    that resolution (1), else the coarsest level finer than it, resampled. One sentence when every level is coarser
    than the model's, or when ``given_mpp`` (``--mpp``, for a slide that records none) contradicts the slide."""
    from cpath_repro.wsi.reader import MPP_TOLERANCE

    if slide.mpp is None:
        raise UserError(f"'{slide.path}' records no microns per pixel; pass --mpp, its µm per level-0 pixel.")
    recorded = slide.mpp
    if given_mpp is not None and abs(recorded[0] / given_mpp - 1) > MPP_TOLERANCE:
        raise UserError(f"'{slide.path}' records {recorded[0]:.3g} µm/px at level 0, and --mpp {given_mpp:g} "
                        "contradicts it (--mpp is for a slide that records none); leave it out: heatmap reads a slide "
                        f"at the model's {model_mpp:g} µm/px itself, resampling when no level has it.")
    level = slide.level_for_mpp(model_mpp)
    here = (slide.levels[level].mpp or recorded)[0]
    factor = model_mpp / here
    if factor < 1 - MPP_TOLERANCE:
        raise UserError(f"'{slide.path}' is {here:.3g} µm/px at its finest, "
                        f"coarser than the {model_mpp:g} µm/px the model was trained at: its heatmap would need "
                        "detail the slide does not have.")
    return level, 1.0 if abs(factor - 1) <= MPP_TOLERANCE else factor


def shrink(image: torch.Tensor, patch_px: int, crop: int) -> torch.Tensor:
    """A ``(3, s, s)`` patch read at a finer resolution, averaged down to ``patch_px`` (area interpolation) and
    centre-cropped to ``crop``: what the model saw of a patch at its own resolution."""
    import torchvision.transforms.v2.functional as F

    small = torch.nn.functional.interpolate(image[None], size=(patch_px, patch_px), mode="area")[0]
    return F.center_crop(small, [crop, crop])


def overlay(thumb: np.ndarray, rgb: np.ndarray, tissue: np.ndarray, slide_size: tuple[int, int],
            patch_side: float) -> np.ndarray:
    """``rgb`` (one colour per patch of the grid) over the slide's thumbnail, registered by level-0 coordinates.

    Each thumbnail pixel takes the colour of the patch its centre falls in (``slide_size`` level-0 width and
    height, ``patch_side`` a patch's side in level-0 pixels), where ``tissue`` marks a patch; the strip beyond
    the last whole patch shows the slide alone. (Stretching the grid over the thumbnail would not do: the grid
    covers whole patches only, so its far edge would drift by up to a patch.)
    """
    height, width = thumb.shape[:2]
    cols = np.floor((np.arange(width) + 0.5) * slide_size[0] / width / patch_side).astype(int)
    rows = np.floor((np.arange(height) + 0.5) * slide_size[1] / height / patch_side).astype(int)
    inside = (rows[:, None] < rgb.shape[0]) & (cols[None, :] < rgb.shape[1])
    r, c = np.minimum(rows, rgb.shape[0] - 1)[:, None], np.minimum(cols, rgb.shape[1] - 1)[None, :]
    alpha = OVERLAY_ALPHA * (inside & tissue[r, c])[..., None]
    return (thumb * (1 - alpha) + rgb[r, c] * alpha).round().astype(np.uint8)


def _colour(grid: np.ndarray) -> np.ndarray:
    """Tumour probability as RGB (matplotlib's magma); white where there is no tissue patch."""
    from matplotlib import colormaps

    rgb = (colormaps["magma"](np.nan_to_num(grid))[..., :3] * 255).astype(np.uint8)
    rgb[np.isnan(grid)] = 255
    return rgb
