"""The one timing rule of the benchmarks and the pages that report speed: the best of a few repeats (the least
disturbed by a noisy machine), reported as ratios measured in the same run."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def best_of(fn: Callable[[], Any], repeat: int = 3, warmup: bool = False) -> float:
    """Seconds of the fastest of ``repeat`` calls (after one untimed call when ``warmup``)."""
    if warmup:
        fn()
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best
