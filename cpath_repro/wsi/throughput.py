"""Labelled-patch extraction throughput: the project's readers vs a bare OpenSlide loop, in one run.

A synthetic deflate pyramidal TIFF of 32 x 32 patches (8192 x 8192 px at 256 px; 256 px tiles, a tissue disc
with a tumour square on glass) is cut by paper D's rules (:func:`cpath_repro.wsi.patch_grid`, the user path);
its tumour and normal patches, in grid order, are read as many rounds as make at least :data:`PATCHES` (at 256
px the disc's 624 are more than OpenSlide's cache holds: each round reads them again) by (a) a bare
``openslide.OpenSlide(path).read_region`` loop, (b) :func:`cpath_repro.wsi.read_patches` called for batches of
64 patches into one array, as a training or inference loop reads them, and (b') called once for all the slide's patches, as
``PatchDataset(preload=True)`` does: its result, 624 x 192 KiB (117 MiB) at 256 px, is new memory that the kernel must
map and zero as it is first written, a cost the bare loop, reusing one buffer, never pays; and (c)
:class:`cpath_repro.wsi.PatchDataset` through a DataLoader (no augmentation, whole patches, batch 64) with
0, 1 and 2 workers. Every pass opens a fresh handle, so each starts with a cold OpenSlide cache (32 MiB,
OpenSlide's default, for (a) and (b)); the worker passes include starting the workers, as an epoch does.
The readers take turns, round after round (:func:`~cpath_repro.results.timing.best_of_each`), each timed by its
fastest round. Results are patches/s and ratios to (a); the targets are >= 0.95 for (b), and 2 workers faster
than none.
The loader's images are float32 (4x the bytes of the uint8 pixels) and the DataLoader stacks them into
batches, a copy the bare loop does not make; (a') adds exactly that work to the bare loop, so the loader /
(a') ratio is the dataset's own overhead. One torch thread, as in DataLoader workers.
``python -m benchmarks.patch_extraction`` prints it; paper D's D-M1 page shows it at the chapter's patch size.
"""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from cpath_repro.results.timing import best_of_each
from cpath_repro.wsi import PATCH_SIZE, PatchDataset, mask_downsample, open_slide, patch_grid, read_patches, tissue_mask
from cpath_repro.wsi.annotations import Region, label_mask
from cpath_repro.wsi.patches import NOLABEL
from cpath_repro.wsi.writer import write_pyramid

#: The slide is SIDE_PATCHES patches a side (8192 px at 256 px patches); PATCHES are read per pass.
SIDE_PATCHES, PATCHES, MPP, BATCH, CACHE_BYTES = 32, 4096, 0.5, 64, 32 * 2**20
WORKERS = (0, 1, 2)
#: What each reader measured by :func:`main` is, by its key there; every table and page of this benchmark says it so.
READERS = {"bare": "bare OpenSlide loop", "bare_batches": "bare loop + float32 batches of 64",
           "read_patches": "read_patches, batches of 64 into one array",
           "read_patches_whole": "read_patches, the slide's patches in one call"} | {
           f"loader_{w}": f"PatchDataset, DataLoader with {w} worker{'s' * (w != 1)}" for w in WORKERS}


def _slide(path: Path, side: int) -> Path:
    rng = np.random.default_rng(0)
    image = np.clip(238 + rng.integers(-4, 5, (side, side, 3), dtype=np.int16), 0, 255).astype(np.uint8)
    yy, xx = np.ogrid[:side, :side]
    disc = (xx - side // 2) ** 2 + (yy - side // 2) ** 2 < (0.45 * side) ** 2
    texture = np.array([200, 110, 170], np.int16) + rng.integers(-30, 31, (int(disc.sum()), 3), dtype=np.int16)
    image[disc] = np.clip(texture, 0, 255).astype(np.uint8)
    return write_pyramid(path, image, MPP, compression="deflate")


def main(repeat: int = 5, patch_px: int = PATCH_SIZE) -> dict[str, float]:
    """Patches/s of each reader and its ratio to the bare loop, at least :data:`PATCHES` patches of ``patch_px``."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as in DataLoader workers; 2 threads on 2 shared cores made the collate 5x slower
    try:
        seconds, n = _measure(repeat, patch_px)
    finally:
        torch.set_num_threads(threads)
    result = {"patches": float(n), "patch_px": float(patch_px)}
    for key, s in seconds.items():
        result[f"{key}_per_s"] = n / s
        result[f"{key}_ratio"] = seconds["bare"] / s
    return result


def _measure(repeat: int, patch_px: int) -> tuple[dict[str, float], int]:
    import openslide

    with tempfile.TemporaryDirectory() as tmp:
        side = SIDE_PATCHES * patch_px
        path = _slide(Path(tmp) / "synthetic.tif", side)
        with open_slide(path) as slide:
            tissue = tissue_mask(slide, mask_downsample(slide, 0, patch_px))
            lo, hi = 0.3 * side, 0.55 * side
            tumour = Region("t", "Tumor", np.array([[lo, lo], [hi, lo], [hi, hi], [lo, hi]]))
            labels = label_mask([tumour], tissue.mask.shape, tissue.downsample, tissue.mask)
            labelled = [p for p in patch_grid(slide, 0, patch_px, tissue, labels, tissue.downsample)
                        if p.label != NOLABEL]
        rounds = -(-PATCHES // len(labelled))
        patches = labelled * rounds
        n = len(patches)

        def bare() -> None:
            handle = openslide.OpenSlide(str(path))
            for p in patches:
                handle.read_region(p.location, p.level, (p.size, p.size))
            handle.close()

        def bare_batches() -> None:  # (a) plus what any loader must add: float32 in [0, 1], stacked by 64
            handle = openslide.OpenSlide(str(path))
            for start in range(0, n, BATCH):
                images = []
                for p in patches[start : start + BATCH]:
                    rgb = np.asarray(handle.read_region(p.location, p.level, (p.size, p.size)).convert("RGB"))
                    images.append(torch.from_numpy(rgb.transpose(2, 0, 1).astype(np.float32, order="C") / 255))
                torch.stack(images)
            handle.close()

        def project() -> None:
            batch = np.empty((BATCH, patch_px, patch_px, 3), np.uint8)
            with open_slide(path, cache_bytes=CACHE_BYTES) as s:
                for start in range(0, n, BATCH):
                    chunk = patches[start : start + BATCH]
                    read_patches(s, chunk, out=batch[: len(chunk)])

        def project_whole() -> None:
            with open_slide(path, cache_bytes=CACHE_BYTES) as s:
                for _ in range(rounds):
                    read_patches(s, labelled)

        def loader(workers: int) -> None:
            data = PatchDataset(path, patches, crop=None, augment=False)
            for _ in DataLoader(data, batch_size=BATCH, num_workers=workers):
                pass
            data.close()

        bare()  # warm the OS file cache and the imports
        readers = {"bare": bare, "bare_batches": bare_batches, "read_patches": project,
                   "read_patches_whole": project_whole} | {f"loader_{w}": functools.partial(loader, w) for w in WORKERS}
        return best_of_each(readers, repeat), n


def rows(result: dict[str, float]) -> list[tuple[str, str]]:
    out = [(f"patches: {READERS['bare']} ({int(result['patches'])} x {int(result['patch_px'])} px)",
            f"{result['bare_per_s']:.0f} patches/s")]
    for key, label in list(READERS.items())[1:]:
        out.append((f"patches: {label}", f"{result[f'{key}_per_s']:.0f} patches/s ({result[f'{key}_ratio']:.3f}x bare)"))
    out.append(("patches: DataLoader 0 workers / bare float32 batches",
                f"{result['loader_0_per_s'] / result['bare_batches_per_s']:.2f}"))
    return out
