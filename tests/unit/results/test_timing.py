import contextlib
import math

import pytest

from cpath_repro.results import timing


def test_best_of_each_takes_turns_and_keeps_each_functions_fastest_round(monkeypatch):
    clock = iter(range(1000))
    monkeypatch.setattr(timing.time, "perf_counter", lambda: next(clock))
    calls: list[str] = []
    cost = {"a": [5, 1, 3], "b": [2, 4, 6]}  # clock ticks each call spends, round by round

    def fn(key: str):
        def call() -> None:
            calls.append(key)
            for _ in range(cost[key].pop(0) - 1):
                next(clock)
        return call

    assert timing.best_of_each({"a": fn("a"), "b": fn("b")}, repeat=3) == {"a": 1, "b": 2}
    assert calls == ["a", "b", "a", "b", "a", "b"]


def test_best_of_warms_up_once_untimed():
    calls: list[int] = []
    assert timing.best_of(lambda: calls.append(1), repeat=2, warmup=True) >= 0 and len(calls) == 3


def test_paired_ratio_is_the_median_of_the_rounds_ratios_with_the_2nd_and_8th_of_9_as_its_interval():
    base = [1.0] * 9
    other = [1 / r for r in (0.90, 0.97, 0.95, 0.99, 0.96, 0.93, 0.98, 1.20, 0.94)]  # one disturbed round
    ratio = timing.paired_ratio(base, other)
    assert ratio.median == pytest.approx(0.96)
    assert (ratio.low, ratio.high) == pytest.approx((0.93, 0.99))  # sorted, the 2nd and 8th: not the range


@pytest.mark.parametrize(("at_least", "verdict"), [(0.92, "met"), (0.93, "met"), (0.95, "inconclusive at this budget"),
                                                   (0.985, "missed")])
def test_a_target_is_met_only_when_the_whole_interval_clears_it(at_least: float, verdict: str):
    ratio = timing.PairedRatio(ratios=(0.96,) * 9, median=0.96, low=0.93, high=0.98)
    assert ratio.against(at_least) == verdict


def test_too_few_rounds_for_an_interval_decide_nothing():
    ratio = timing.paired_ratio([1.0] * 5, [0.5] * 5)  # twice as fast in every round, but 5 rounds give no interval
    assert ratio.median == 2.0 and math.isnan(ratio.low)
    assert ratio.against(0.95).startswith("inconclusive at this budget (5 rounds give no 95% interval)")


def test_rounds_of_unequal_count_are_refused():
    with pytest.raises(ValueError):
        timing.paired_ratio([1.0] * 9, [1.0] * 8)


def test_readers_taking_turns_alternate_step_by_step_and_each_pass_is_the_sum_of_its_steps(monkeypatch):
    clock = iter(range(1000))
    monkeypatch.setattr(timing.time, "perf_counter", lambda: next(clock))
    calls: list[tuple[str, int]] = []
    opened: list[str] = []

    def reader(key: str, ticks: int):
        @contextlib.contextmanager
        def open_pass():
            opened.append(f"open {key}")
            def step(i: int) -> None:
                calls.append((key, i))
                for _ in range(ticks - 1):
                    next(clock)
            yield step
            opened.append(f"close {key}")
        return open_pass

    seconds = timing.seconds_in_turns({"a": reader("a", 2), "b": reader("b", 5)}, steps=3)
    assert seconds == {"a": 6, "b": 15}
    assert calls == [("a", 0), ("b", 0), ("b", 1), ("a", 1), ("a", 2), ("b", 2)]
    assert sorted(opened) == ["close a", "close b", "open a", "open b"]


def test_a_step_that_fails_closes_every_pass():
    closed: list[str] = []

    def reader(key: str, fails: bool):
        @contextlib.contextmanager
        def open_pass():
            def step(i: int) -> None:
                if fails:
                    raise OSError("slide gone")
            try:
                yield step
            finally:
                closed.append(key)
        return open_pass

    with pytest.raises(OSError):
        timing.seconds_in_turns({"a": reader("a", False), "b": reader("b", True)}, steps=2)
    assert sorted(closed) == ["a", "b"]
