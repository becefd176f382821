"""Peak memory of one training step of paper D's two models, End-to-End Learning vs plain back-propagation.

Section 3.2.2: plain back-propagation through the extractor keeps every patch's activations, memory ``N M``;
End-to-End Learning keeps one mini-batch's, ``N M / r`` (``r`` mini-batches), so at a fixed mini-batch size its
peak should not grow with the number of patches ``N``. Claim D-C3 judges that by
:data:`~cpath_repro.claims.metrics.paper_d.PEAK_MEMORY_RATIO_4X_PATCHES`: the peak growth at ``4N`` over that at ``N``
(:func:`ratio_4x`).

A process's peak resident memory never goes down, so each measurement runs in a fresh process
(``python -m cpath_repro.train.memory --method ... --n ...``, :func:`measure`), which builds the models, reads
its resident memory (``VmRSS`` of ``/proc/self/status``), resets the kernel's peak (writing "5" to
``/proc/self/clear_refs`` resets ``VmHWM``, Linux >= 4.0), runs one training step and reports
``peak_growth_mib = VmHWM - rss_before`` in MiB. Where the peak cannot be reset it falls back to
``getrusage`` (the all-time peak, so the growth is then an upper bound) and says so in ``peak_method``.

The patches are random images made per mini-batch from its index (:class:`~cpath_repro.train.end_to_end.LazyBatches`),
never all held at once, so End-to-End Learning's re-forward sees the same input and its memory is that of the
method, not of the data. The growth includes what any first step allocates once (gradients, Adam's two moments,
the segmenter's activations), the same at every ``N``.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Literal, get_args

import torch

from cpath_repro import seeds
from cpath_repro.errors import ParameterError

Method = Literal["end-to-end", "backprop"]
METHODS: tuple[str, ...] = get_args(Method)
#: The segmenter's map side (patches) by default: 128 x 128 holds the benchmark's largest slide, 16,384 patches.
DEFAULT_MAP_SIZE = 128
#: A narrow U-Net (first-level width, poolings): its memory is the same at every N, only the extractor's is measured.
SEGMENTER_BASE, SEGMENTER_DEPTH = 8, 3
#: The step's learning rate (the paper's 1e-9 for the extractor): memory does not depend on it.
MEASURED_LR = 1e-9
_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")
_KIB = 1024.0


def _status_kib(field: str) -> float | None:
    """A ``/proc/self/status`` field in KiB (``VmRSS``, ``VmHWM``); None where there is no ``/proc``."""
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith(field + ":"):
                return float(line.split()[1])
    except OSError:
        return None
    return None


def _maxrss_kib() -> float:
    """The process's all-time peak resident memory in KiB (``ru_maxrss``: KiB on Linux, bytes on macOS)."""
    peak = float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    return peak / _KIB if sys.platform == "darwin" else peak


def _reset_peak() -> bool:
    """Reset ``VmHWM`` to the current resident memory; whether that worked."""
    try:
        _CLEAR_REFS.write_text("5")
    except OSError:
        return False
    rss, hwm = _status_kib("VmRSS"), _status_kib("VmHWM")
    return rss is not None and hwm is not None and hwm <= rss + 1024  # within 1 MiB: reset (pages move meanwhile)


def grid_positions(n: int) -> torch.Tensor:
    """``(n, 2)`` (row, col) of ``n`` patches filling a near-square block row by row (a compact tissue)."""
    cols = max(1, math.ceil(math.sqrt(n)))
    index = torch.arange(n)
    return torch.stack([index // cols, index % cols], 1)


def _slide(n: int, patch_px: int, batch: int, map_size: int, seed: int) -> Any:
    from cpath_repro.train.end_to_end import LazyBatches, SlideBatch

    def make(index: int) -> torch.Tensor:
        size = min(batch, n - index * batch)
        g = torch.Generator().manual_seed(seeds.derive(seed, "patches", index))
        return torch.rand(size, 3, patch_px, patch_px, generator=g)

    labels = torch.randint(0, 2, (n,), generator=torch.Generator().manual_seed(seeds.derive(seed, "labels")))
    return SlideBatch(LazyBatches(make, math.ceil(n / batch)), grid_positions(n), labels, map_size)


def problem(n: int, patch_px: int, batch: int, map_size: int, seed: int) -> tuple[Any, Any, Any]:
    """The measured problem: a randomly initialised extractor and a narrow segmenter, both in training mode
    (dropout and batch norm active), and a slide of ``n`` random patches (a :class:`SlideBatch`)."""
    from cpath_repro.models import backbones
    from cpath_repro.models.patch_features import BACKBONE, FEATURE_DIM, from_backbone
    from cpath_repro.models.unet import UNet

    torch.manual_seed(seed)
    extractor = from_backbone(backbones.build(BACKBONE, "none", 0, seed=seed), seed).train()
    depth = min(SEGMENTER_DEPTH, max(0, int(math.log2(max(map_size // 2, 1)))))
    segmenter = UNet(FEATURE_DIM, 2, SEGMENTER_BASE, depth).train()
    return extractor, segmenter, _slide(n, patch_px, batch, map_size, seed)


#: Plain back-propagation keeps about this many bytes of activations per input pixel of GoogLeNet (measured:
#: 0.9 MiB per 32 px patch; the text's 44 MiB per 224 px patch), and :func:`fits` leaves this share of the
#: machine's memory free.
BACKPROP_BYTES_PER_PIXEL = 0.9 * 2**20 / 32**2
FREE_SHARE = 0.5


def fits(n: int, patch_px: int) -> bool:
    """Whether plain back-propagation over ``n`` patches of ``patch_px`` px should fit in half of this machine's
    available memory (``MemAvailable`` of ``/proc/meminfo``; True where it cannot be read)."""
    try:
        fields = dict(line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines())
        available = float(fields["MemAvailable"].split()[0]) * _KIB
    except (OSError, KeyError, ValueError):
        return True
    return n * patch_px**2 * BACKPROP_BYTES_PER_PIXEL < FREE_SHARE * available


def _child(method: str, n: int, patch_px: int, batch: int, map_size: int, threads: int, seed: int) -> dict[str, Any]:
    """One training step of ``method`` on ``n`` patches, measured in this (fresh) process."""
    from cpath_repro.train import end_to_end

    torch.set_num_threads(threads)
    extractor, segmenter, slide = problem(n, patch_px, batch, map_size, seed)
    opt_e = torch.optim.Adam(extractor.parameters(), lr=MEASURED_LR)
    opt_s = torch.optim.Adam(segmenter.parameters(), lr=MEASURED_LR)
    gc.collect()
    rss = _status_kib("VmRSS")
    reset = _reset_peak()
    before = rss if rss is not None else _maxrss_kib()
    t0 = time.perf_counter()
    if method == "end-to-end":
        loss = end_to_end.end_to_end_step(extractor, segmenter, slide, opt_e, opt_s)
    else:
        loss = end_to_end.backprop_step(extractor, segmenter, slide, opt_e, opt_s)
    seconds = time.perf_counter() - t0
    hwm = _status_kib("VmHWM") if reset else None
    if hwm is not None:
        peak, how = hwm, "VmHWM after reset via /proc/self/clear_refs"
    else:
        peak = _maxrss_kib()
        how = ("getrusage ru_maxrss: the peak could not be reset, so it is the process's all-time peak and the "
               "growth an upper bound")
    return {"method": method, "n": n, "patch_px": patch_px, "batch": batch, "map_size": map_size, "threads": threads,
            "rss_before_mib": before / _KIB, "peak_mib": peak / _KIB, "peak_growth_mib": (peak - before) / _KIB,
            "seconds": seconds, "peak_method": how, "loss": loss}


def _check(method: str, n: int, patch_px: int, batch: int, map_size: int) -> None:
    if method not in METHODS:
        raise ParameterError(f"The memory method must be one of {', '.join(METHODS)}; got {method!r}.")
    if n < 1 or batch < 1 or patch_px < 1:
        raise ParameterError(f"Patches, mini-batch and patch size must be positive; got n={n}, batch={batch}, "
                             f"patch_px={patch_px}.")
    if n > map_size * map_size or map_size % 2**SEGMENTER_DEPTH:
        raise ParameterError(f"The map of {map_size} x {map_size} must hold all {n} patches and be divisible by "
                             f"{2**SEGMENTER_DEPTH} (the segmenter's poolings).")


def measure(method: str, n: int, patch_px: int = 32, batch: int = 32, map_size: int = DEFAULT_MAP_SIZE, *,
            threads: int = 2, seed: int = 0, timeout: float = 600.0) -> dict[str, Any]:
    """Peak resident-memory growth (MiB) and seconds of one training step of ``method`` ("end-to-end" or
    "backprop") on ``n`` patches of ``patch_px`` px in mini-batches of ``batch``, in a fresh process."""
    _check(method, n, patch_px, batch, map_size)
    cmd = [sys.executable, "-m", __name__, "--method", method, "--n", str(n), "--patch-px", str(patch_px),
           "--batch", str(batch), "--map-size", str(map_size), "--threads", str(threads), "--seed", str(seed)]
    from cpath_repro.project import PROJECT_ROOT

    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=PROJECT_ROOT, env=dict(os.environ))
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"The memory measurement {' '.join(cmd[2:])} failed (exit {proc.returncode}): "
                           f"{proc.stderr.strip()[-2000:]}")
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def ratio_4x(growth_by_n: dict[int, float], n: int) -> float:
    """Peak growth at ``4 n`` patches over that at ``n`` (D-C3's ``peak_memory_ratio_4x_patches``; 1 = flat)."""
    if n not in growth_by_n or 4 * n not in growth_by_n:
        msg = f"The 4x memory ratio at N={n} needs growths at N={n} and N={4 * n}; have {sorted(growth_by_n)}."
        raise ParameterError(msg)
    return growth_by_n[4 * n] / growth_by_n[n]


def main(argv: list[str] | None = None) -> None:
    """The child process: one measurement, printed as one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--method", choices=METHODS, required=True)
    parser.add_argument("--n", type=int, required=True)
    parser.add_argument("--patch-px", type=int, default=32)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--map-size", type=int, default=DEFAULT_MAP_SIZE)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    a = parser.parse_args(argv)
    _check(a.method, a.n, a.patch_px, a.batch, a.map_size)
    print(json.dumps(_child(a.method, a.n, a.patch_px, a.batch, a.map_size, a.threads, a.seed)), flush=True)


if __name__ == "__main__":
    main()
