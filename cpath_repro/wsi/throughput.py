"""Labelled-patch extraction throughput: the project's readers vs a bare OpenSlide loop, in one run.

A synthetic deflate pyramidal TIFF of 32 x 32 patches (8192 x 8192 px at 256 px; 256 px tiles, a tissue disc
with a tumour square on glass) is cut by paper D's rules (:func:`cpath_repro.wsi.patch_grid`, the user path);
its tumour and normal patches, in grid order, are read as many rounds as make at least :data:`PATCHES` (at 256
px the disc's 624 are more than OpenSlide's cache holds: each round reads them again) by

- (a) a bare ``openslide.OpenSlide(path).read_region`` loop;
- (a') the same loop plus what any loader must add: float32 images in [0, 1] (4x the bytes of the uint8
  pixels) stacked into batches of 64, so the loader / (a') ratio is the dataset's own overhead;
- (b) :func:`cpath_repro.wsi.read_patches` called for batches of 64 patches into one array, as a training or
  inference loop reads them;
- (b') the same called once for all the slide's patches, as ``PatchDataset(preload=True)`` does: its result,
  624 x 192 KiB (117 MiB) at 256 px, is new memory that the kernel must map and zero as it is first written, a
  cost the bare loop, reusing one buffer, never pays;
- (c) :class:`cpath_repro.wsi.PatchDataset` through a DataLoader (no augmentation, whole patches, batch 64)
  with 0, 1 and 2 workers, starting the workers included, as an epoch does.

Every pass opens a fresh handle, so each starts with a cold OpenSlide cache (32 MiB, OpenSlide's default, for
(a) and (b)). In each round, (a), (a') and (b) read one pass together, taking turns batch by batch, each with
its own handle (:func:`~cpath_repro.results.timing.seconds_in_turns`): a machine whose speed drifts within a
pass slows all three alike. Then (b') and (c) read a whole pass each, in turn
(:func:`~cpath_repro.results.timing.seconds_of_each`). Results are patches/s in the median round, and each
reader's speed as a ratio to (a): the median of the rounds' paired ratios, with its 95 % interval
(:func:`~cpath_repro.results.timing.paired_ratio`). :data:`TARGETS` are decided by where that interval lies,
a rule fixed before the run that decides them. One torch thread, as in DataLoader workers.
``python -m benchmarks.patch_extraction`` prints it; paper D's D-M1 page shows it at the chapter's patch size.
"""

from __future__ import annotations

import functools
import math
import statistics
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from cpath_repro.results.timing import paired_ratio, seconds_in_turns, seconds_of_each
from cpath_repro.wsi import PATCH_SIZE, PatchDataset, mask_downsample, open_slide, patch_grid, read_patches, tissue_mask
from cpath_repro.wsi.annotations import Region, label_mask
from cpath_repro.wsi.patches import NOLABEL
from cpath_repro.wsi.writer import write_pyramid

#: The slide is SIDE_PATCHES patches a side (8192 px at 256 px patches); PATCHES are read per pass.
SIDE_PATCHES, PATCHES, MPP, BATCH, CACHE_BYTES = 32, 4096, 0.5, 64, 32 * 2**20
WORKERS = (0, 1, 2)
#: Rounds of ``make bench``: the fewest whose median has a 95 % interval inside the range (the 2nd and 8th of 9).
ROUNDS = 9
#: What each reader measured by :func:`main` is, by its key there; every table and page of this benchmark says it so.
READERS = {"bare": "bare OpenSlide loop", "bare_batches": "bare loop + float32 batches of 64",
           "read_patches": "read_patches, batches of 64 into one array",
           "read_patches_whole": "read_patches, the slide's patches in one call"} | {
           f"loader_{w}": f"PatchDataset, DataLoader with {w} worker{'s' * (w != 1)}" for w in WORKERS}
#: The readers that read each round's pass together, taking turns batch by batch (the rest read whole passes in turn).
IN_TURNS = ("bare", "bare_batches", "read_patches")
#: Issue 25's targets, each ``(reader, base, at least, in words)``: ``reader`` at least that many times as fast as
#: ``base``. Float32 batches costing no more than the read itself is the bare float loop at least half as fast.
TARGETS = (("read_patches", "bare", 0.95, "read_patches in batches at least 0.95× as fast as the bare loop"),
           ("loader_2", "loader_0", 1.0, "two DataLoader workers faster than none"),
           ("bare_batches", "bare", 0.5, "float32 batches cost no more than the read (the bare float loop at least "
                                         "0.5× as fast as the bare loop)"))


def _slide(path: Path, side: int) -> Path:
    rng = np.random.default_rng(0)
    image = np.clip(238 + rng.integers(-4, 5, (side, side, 3), dtype=np.int16), 0, 255).astype(np.uint8)
    yy, xx = np.ogrid[:side, :side]
    disc = (xx - side // 2) ** 2 + (yy - side // 2) ** 2 < (0.45 * side) ** 2
    texture = np.array([200, 110, 170], np.int16) + rng.integers(-30, 31, (int(disc.sum()), 3), dtype=np.int16)
    image[disc] = np.clip(texture, 0, 255).astype(np.uint8)
    return write_pyramid(path, image, MPP, compression="deflate")


def main(repeat: int = ROUNDS, patch_px: int = PATCH_SIZE) -> dict[str, Any]:
    """Each reader's patches/s and speed ratio to the bare loop (``_ratio``, with ``_ratio_low`` and ``_ratio_high``),
    at least :data:`PATCHES` patches of ``patch_px`` per pass, and :data:`TARGETS` decided (``targets``)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as in DataLoader workers; 2 threads on 2 shared cores made the collate 5x slower
    try:
        seconds, n = _measure(repeat, patch_px)
    finally:
        torch.set_num_threads(threads)
    result: dict[str, Any] = {"patches": float(n), "patch_px": float(patch_px), "rounds": repeat,
                              "in_turns": list(IN_TURNS)}
    for key, s in seconds.items():
        ratio = paired_ratio(seconds["bare"], s)
        result[f"{key}_per_s"] = n / statistics.median(s)
        result[f"{key}_ratio"], result[f"{key}_ratio_low"], result[f"{key}_ratio_high"] = ratio.median, ratio.low, ratio.high
    result["targets"] = []
    for reader, base, at_least, words in TARGETS:
        ratio = paired_ratio(seconds[base], seconds[reader])
        result["targets"].append({"target": words, "at_least": at_least, "ratio": ratio.median, "low": ratio.low,
                                  "high": ratio.high, "verdict": ratio.against(at_least)})
    return result


def _measure(repeat: int, patch_px: int) -> tuple[dict[str, list[float]], int]:
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

        starts = range(0, n, BATCH)

        @contextmanager
        def bare() -> Iterator[Callable[[int], None]]:
            with openslide.OpenSlide(str(path)) as handle:
                def step(i: int) -> None:
                    for p in patches[starts[i] : starts[i] + BATCH]:
                        handle.read_region(p.location, p.level, (p.size, p.size))

                yield step

        @contextmanager
        def bare_batches() -> Iterator[Callable[[int], None]]:
            with openslide.OpenSlide(str(path)) as handle:
                def step(i: int) -> None:
                    images = []
                    for p in patches[starts[i] : starts[i] + BATCH]:
                        rgb = np.asarray(handle.read_region(p.location, p.level, (p.size, p.size)).convert("RGB"))
                        images.append(torch.from_numpy(rgb.transpose(2, 0, 1).astype(np.float32, order="C") / 255))
                    torch.stack(images)

                yield step

        @contextmanager
        def project() -> Iterator[Callable[[int], None]]:
            batch = np.empty((BATCH, patch_px, patch_px, 3), np.uint8)
            with open_slide(path, cache_bytes=CACHE_BYTES) as s:
                def step(i: int) -> None:
                    chunk = patches[starts[i] : starts[i] + BATCH]
                    read_patches(s, chunk, out=batch[: len(chunk)])

                yield step

        def project_whole() -> None:
            with open_slide(path, cache_bytes=CACHE_BYTES) as s:
                for _ in range(rounds):
                    read_patches(s, labelled)

        def loader(workers: int) -> None:
            data = PatchDataset(path, patches, crop=None, augment=False)
            for _ in DataLoader(data, batch_size=BATCH, num_workers=workers):
                pass
            data.close()

        in_batches = dict(zip(IN_TURNS, (bare, bare_batches, project), strict=True))
        passes = {"read_patches_whole": project_whole} | {f"loader_{w}": functools.partial(loader, w) for w in WORKERS}
        with bare() as warm:  # the OS file cache and the imports
            for i in range(len(starts)):
                warm(i)
        seconds: dict[str, list[float]] = {key: [] for key in READERS}
        for _ in range(repeat):
            spent = seconds_in_turns(in_batches, len(starts)) | {k: s for k, [s] in seconds_of_each(passes, 1).items()}
            for key, s in spent.items():
                seconds[key].append(s)
        return seconds, n


def describe(ratio: float, low: float, high: float) -> str:
    """``0.962× [0.951, 0.970]``: a median ratio and its interval, to three decimals (0.946 must not read as 0.95)."""
    interval = f" [{low:.3f}, {high:.3f}]" if math.isfinite(low) and math.isfinite(high) else ""
    return f"{ratio:.3f}×{interval}"


def describe_reader(result: Mapping[str, Any], key: str) -> str:
    """:func:`describe` of reader ``key``'s ratio in a :func:`main` result (one recorded before 2026-12-07 has no
    interval)."""
    return describe(*(result.get(f"{key}_ratio{end}", math.nan) for end in ("", "_low", "_high")))


def rows(result: dict[str, Any]) -> list[tuple[str, str]]:
    rounds = f"median of {result['rounds']} rounds"
    out = [(f"patches: {READERS['bare']} ({int(result['patches'])} x {int(result['patch_px'])} px, {rounds})",
            f"{result['bare_per_s']:.0f} patches/s")]
    for key, label in list(READERS.items())[1:]:
        out.append((f"patches: {label}", f"{result[f'{key}_per_s']:.0f} patches/s ({describe_reader(result, key)} bare)"))
    out.append(("patches: DataLoader 0 workers / bare float32 batches",
                f"{result['loader_0_per_s'] / result['bare_batches_per_s']:.2f}"))
    out += [(f"target: {t['target']}", f"{t['verdict']}, {describe(t['ratio'], t['low'], t['high'])}")
            for t in result["targets"]]
    return out
