"""The timing rules of the benchmarks and the pages that report speed, all ratios measured in the same run.

- A time reported alone is the best of a few repeats (:func:`best_of`), the one least disturbed by a noisy machine.
- A target ("at least 0.95x as fast as a bare loop") is decided by :func:`paired_ratio`: the two functions take
  turns (whole passes, :func:`seconds_of_each`, or batch by batch within one pass, :func:`seconds_in_turns`),
  each round gives one ratio, and the median of those ratios carries a 95 % interval; the target is met
  when the whole interval clears it, missed when it lies below, and inconclusive at this budget otherwise. A
  ratio of two fastest times carries no uncertainty, so it cannot tell a miss by 0.004 from the machine's noise.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass
from typing import Any

#: The confidence of :class:`PairedRatio`'s interval.
CONFIDENCE = 0.95


def seconds_of_each(fns: Mapping[str, Callable[[], Any]], repeat: int = 3) -> dict[str, list[float]]:
    """Seconds of each of ``repeat`` calls of each function, by key, in round order.

    The functions take turns, round after round, so that a slow spell of a shared machine falls on every
    function of a ratio alike rather than on the one whose repeats it happened to overlap.
    """
    seconds: dict[str, list[float]] = {key: [] for key in fns}
    for _ in range(repeat):
        for key, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            seconds[key].append(time.perf_counter() - t0)
    return seconds


def seconds_in_turns(passes: Mapping[str, Callable[[], AbstractContextManager[Callable[[int], Any]]]],
                     steps: int) -> dict[str, float]:
    """Seconds of one pass of each reader, by key, the readers taking turns step by step within the pass.

    ``passes[key]()`` opens a pass (untimed) and gives its step function; step 0 of every reader is timed, then
    step 1 of every reader in the reverse order, and so on; a pass's seconds are the sum of its steps'. Two
    readers' steps are a fraction of a second apart, so a machine whose speed drifts within a pass slows both
    alike (whole passes taking turns are seconds apart); neither reader always goes first.
    """
    spent = dict.fromkeys(passes, 0.0)
    with ExitStack() as stack:
        step_of = {key: stack.enter_context(open_pass()) for key, open_pass in passes.items()}
        order = list(step_of)
        for step in range(steps):
            for key in order if step % 2 == 0 else reversed(order):
                t0 = time.perf_counter()
                step_of[key](step)
                spent[key] += time.perf_counter() - t0
    return spent


def best_of_each(fns: Mapping[str, Callable[[], Any]], repeat: int = 3) -> dict[str, float]:
    """Seconds of the fastest of ``repeat`` calls of each function, by key (taking turns, as :func:`seconds_of_each`)."""
    return {key: min(seconds) for key, seconds in seconds_of_each(fns, repeat).items()}


def best_of(fn: Callable[[], Any], repeat: int = 3, warmup: bool = False) -> float:
    """Seconds of the fastest of ``repeat`` calls (after one untimed call when ``warmup``)."""
    if warmup:
        fn()
    return best_of_each({"": fn}, repeat)[""]


@dataclass(frozen=True)
class PairedRatio:
    """How many times as fast one function ran as another, round by round: the median and its 95 % interval."""

    ratios: tuple[float, ...]
    median: float
    #: the distribution-free interval of the median (order statistics; NaN with fewer than 6 rounds, too few for one)
    low: float
    high: float

    def against(self, at_least: float) -> str:
        """``met``, ``missed`` or ``inconclusive at this budget``: where the interval lies against ``at_least``."""
        if not (math.isfinite(self.low) and math.isfinite(self.high)):
            return f"inconclusive at this budget ({len(self.ratios)} rounds give no {CONFIDENCE:.0%} interval)"
        return "met" if self.low >= at_least else "missed" if self.high < at_least else "inconclusive at this budget"


def paired_ratio(base: Sequence[float], other: Sequence[float]) -> PairedRatio:
    """``base``'s seconds over ``other``'s, round by round (above 1: ``other`` was faster), as a :class:`PairedRatio`."""
    from scipy import stats

    ratios = tuple(b / o for b, o in zip(base, other, strict=True))
    median = statistics.median(ratios)
    interval = stats.quantile_test(ratios, q=median, p=0.5).confidence_interval(CONFIDENCE)
    return PairedRatio(ratios, median, float(interval.low), float(interval.high))
