"""The Performance and reliability page: the book's time per chapter from its manifests, each benchmark's ratio with
the machine it ran on, the suite's fault and bad-input counts; and no number before `make bench` measured one."""

from __future__ import annotations

import json
from pathlib import Path

from cpath_repro.pipeline import performance


def _result(run_dir: Path, name: str, wall: float, profile: str = "default") -> Path:
    result = run_dir / name
    result.mkdir(parents=True)
    (result / "manifest.json").write_text(json.dumps({"status": "complete", "profile": profile,
                                                      "execution": {"wall_time_s": wall}}))
    return result


def test_the_books_time_per_chapter_comes_from_its_manifests_beside_the_budget(tmp_path: Path):
    results = {name: _result(tmp_path, name, wall) for name, wall in (("A-T1", 600), ("A-T2", 300), ("stains", 60))}
    assert performance.chapter_minutes(results) == {"Paper A": 15.0, "Foundations": 1.0}
    text = performance.page(results, None)
    assert "took 16.0 minutes in all against a budget of 60 minutes" in text
    assert "<td>Paper A</td><td>15.0</td><td>14</td>" in text
    assert "Not measured on this machine yet: `make bench`" in text and "**" not in text.split("benchmarks")[-1]


def test_a_book_of_another_profile_has_no_budget(tmp_path: Path):
    text = performance.page({"E-F2": _result(tmp_path, "E-F2", 6, profile="ci")}, None)
    assert "<td>Paper E</td><td>0.1</td></tr>" in text and "budget" not in text


def test_each_benchmark_shows_its_ratio_with_the_machine_and_commit_it_ran_on(tmp_path: Path):
    measured = {"cache": {"executed_s": 8.0, "cached_s": 0.08},
                "engine": {"engine_s": 1.03, "bare_s": 1.0, "overhead": 0.03},
                "rebuild": {"full_s": 600.0, "nothing_s": 3.0, "one_s": 12.0, "notebook": "E-F2"},
                "suite": {"faults": ["tests/integration/test_faults.py::test_a_full_disk_at_commit[x]"],
                          "bad_inputs": ["a::b", "c::d"]}}
    path = performance.record(measured, "CPU: X (2 cores)", "abcdef123", "2026-12-07T05:00:00+00:00",
                              tmp_path / "benchmarks.json")
    text = performance.page({}, performance.read(path))
    assert "CPU: X (2 cores), 2026-12-07, at commit `abcdef1`" in text
    assert "**0.010** of the time" in text and "**+3.0%**" in text and "**0.020** of the full run" in text
    assert "Faults survived: **1**" in text and "nothing written: **2**" in text
    assert "<li>a full disk at commit (x)</li>" in text
    assert text.count("<svg") == 3, "one figure per benchmark measured, none for one that was not"


def test_an_unreadable_measurement_file_is_no_measurement(tmp_path: Path):
    (tmp_path / "benchmarks.json").write_text('{"machine": ')
    assert performance.read(tmp_path / "benchmarks.json") is None
    assert performance.read(tmp_path / "none.json") is None


def test_patch_reading_says_what_floats_cost_and_what_two_workers_gain(tmp_path: Path):
    per_s = {"bare": 600.0, "bare_batches": 400.0, "read_patches": 588.0, "read_patches_whole": 540.0,
             "loader_0": 350.0, "loader_2": 630.0}
    measured = {"patches": {"patches": 4368.0, "patch_px": 256.0, **{f"{k}_per_s": v for k, v in per_s.items()},
                            **{f"{k}_ratio": v / per_s["bare"] for k, v in per_s.items()}}}
    text = performance.page({}, performance.read(performance.record(measured, "CPU", "abc", "2026-12-07T05:00",
                                                                     tmp_path / "b.json")))
    assert "4,368 patches of 256 px" in text and "read_patches, batches of 64 into one array 0.980×" in text
    assert "read_patches, the slide's patches in one call 0.900×" in text and "new memory" in text
    assert "costs 50% of the read's own time" in text and "Two DataLoader workers read 1.80× as fast as none" in text
    assert "timed by its fastest round" in text and "targets" not in text, "a record of before 2026-12-07 says so"


def test_patch_reading_gives_each_ratio_its_interval_and_each_target_its_verdict(tmp_path: Path):
    measured = {"patches": {"patches": 4368.0, "patch_px": 256.0, "rounds": 9, "bare_per_s": 600.0,
                            "read_patches_per_s": 580.0, "read_patches_ratio": 0.962, "read_patches_ratio_low": 0.951,
                            "read_patches_ratio_high": 0.97,
                            "targets": [{"target": "read_patches at least 0.95×", "at_least": 0.95, "ratio": 0.962,
                                         "low": 0.951, "high": 0.97, "verdict": "met"}]}}
    text = performance.page({}, performance.read(performance.record(measured, "CPU", "abc", "2026-12-07T05:00",
                                                                     tmp_path / "b.json")))
    assert "In each of 9 rounds the readers took turns." in text, "a record of before the batch-by-batch pairing"
    assert "batches of 64 into one array 0.962× [0.951, 0.970]" in text
    assert "- read_patches at least 0.95×: **met**, 0.962× [0.951, 0.970]" in text
    measured["patches"]["in_turns"] = ["bare", "bare_batches", "read_patches"]
    text = performance.page({}, performance.read(performance.record(measured, "CPU", "abc", "2026-12-07T05:00",
                                                                     tmp_path / "b.json")))
    assert "In each of 9 rounds the bare loop, the bare float loop and read_patches in batches read one pass " \
           "together, taking turns batch by batch; then the other readers read a whole pass each." in text


def test_a_cache_hit_thousands_of_times_quicker_is_not_shown_as_zero(tmp_path: Path):
    measured = {"cache": {"executed_s": 7.0, "cached_s": 0.0012}}
    text = performance.page({}, performance.read(performance.record(measured, "CPU", "abc", "2026-12-07T05:00",
                                                                     tmp_path / "b.json")))
    assert "**0.00017** of the time" in text
