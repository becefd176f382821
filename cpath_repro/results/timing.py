"""The one timing rule of the benchmarks and the pages that report speed: the best of a few repeats (the least
disturbed by a noisy machine), reported as ratios measured in the same run."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any


def best_of_each(fns: Mapping[str, Callable[[], Any]], repeat: int = 3) -> dict[str, float]:
    """Seconds of the fastest of ``repeat`` calls of each function, by key.

    The functions take turns, round after round, so that a slow spell of a shared machine falls on every
    function of a ratio alike rather than on the one whose repeats it happened to overlap.
    """
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(repeat):
        for key, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            best[key] = min(best[key], time.perf_counter() - t0)
    return best


def best_of(fn: Callable[[], Any], repeat: int = 3, warmup: bool = False) -> float:
    """Seconds of the fastest of ``repeat`` calls (after one untimed call when ``warmup``)."""
    if warmup:
        fn()
    return best_of_each({"": fn}, repeat)[""]
