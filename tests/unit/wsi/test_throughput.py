"""The patch-reading benchmark's arithmetic: patches/s of the median round, ratios paired by round, targets decided by
their intervals (the timing itself is `make bench`'s, never a test's)."""

import pytest

from cpath_repro.wsi import throughput


def test_each_ratio_pairs_rounds_and_each_target_is_decided_by_its_interval(monkeypatch: pytest.MonkeyPatch):
    bare = [1.0, 1.1, 0.9, 1.0, 1.2, 1.0, 1.05, 0.95, 1.0]  # a noisy machine: every reader slows in the same rounds
    seconds = {key: [s * factor for s in bare] for key, factor in
               {"bare": 1.0, "bare_batches": 1.5, "read_patches": 1 / 0.97, "read_patches_whole": 1.1,
                "loader_0": 1.5, "loader_1": 1.4, "loader_2": 0.8}.items()}
    seconds["read_patches"][4] *= 1.3  # one round disturbed for this reader alone
    monkeypatch.setattr(throughput, "_measure", lambda repeat, patch_px: (seconds, 4368))
    result = throughput.main(repeat=9, patch_px=256)
    assert result["bare_per_s"] == pytest.approx(4368 / 1.0)  # the median round, not the fastest (0.9 s)
    assert result["read_patches_ratio"] == pytest.approx(0.97)  # the disturbed round does not move the median
    assert (result["read_patches_ratio_low"], result["read_patches_ratio_high"]) == pytest.approx((0.97, 0.97))
    verdicts = {t["target"].split(" ")[0]: t["verdict"] for t in result["targets"]}
    assert verdicts == {"read_patches": "met", "two": "met", "float32": "met"}
    rows = dict(throughput.rows(result))
    assert rows["patches: read_patches, batches of 64 into one array"].endswith("(0.970× [0.970, 0.970] bare)")


def test_a_reader_slower_than_its_target_in_most_rounds_misses_it(monkeypatch: pytest.MonkeyPatch):
    seconds = {key: [1.0] * 9 for key in throughput.READERS}
    seconds["read_patches"] = [1 / r for r in (0.90, 0.93, 0.92, 0.94, 0.91, 0.96, 0.93, 0.92, 0.94)]
    monkeypatch.setattr(throughput, "_measure", lambda repeat, patch_px: (seconds, 4368))
    target = throughput.main(repeat=9)["targets"][0]
    assert target["verdict"] == "missed" and target["high"] < 0.95
