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
