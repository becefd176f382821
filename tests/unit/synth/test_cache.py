"""Synthetic data written once: keyed by what made it, never read half-written."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cpath_repro.synth.cache import MARKER, in_parallel, key_of, written_once


def test_data_is_written_once_per_config_and_a_new_config_gets_a_new_folder(tmp_path):
    calls = []

    def write(folder):
        calls.append(folder)
        (folder / "x.txt").write_text("data")

    first = written_once(tmp_path, {"seed": 0, "code": "a"}, write)
    again = written_once(tmp_path, {"seed": 0, "code": "a"}, write)
    other = written_once(tmp_path, {"seed": 0, "code": "b"}, write)  # the generator's code changed
    assert first == again != other and len(calls) == 2
    assert (first / "x.txt").read_text() == "data" and (first / MARKER).is_file()


def test_a_folder_without_its_marker_is_written_again(tmp_path):
    config = {"seed": 1}
    (tmp_path / key_of(config)).mkdir()  # a writer killed before the rename left a partial folder in place
    folder = written_once(tmp_path, config, lambda f: (f / "x.txt").write_text("whole"))
    assert (folder / "x.txt").read_text() == "whole"


def test_a_failed_write_leaves_nothing_that_is_read(tmp_path):
    def fail(folder):
        (folder / "half.txt").write_text("half")
        raise OSError("disk full")

    try:
        written_once(tmp_path, {"seed": 2}, fail)
    except OSError:
        pass
    assert not (tmp_path / key_of({"seed": 2})).exists()
    assert not any((tmp_path / ".staging").iterdir())  # nor a staging folder left behind


def _write_seed(root: str, seed: int) -> None:  # module level: a spawned worker imports it
    written_once(Path(root), {"seed": seed}, lambda f: (f / "pid.txt").write_text(str(os.getpid())))


def _fail(message: str) -> None:
    raise ValueError(message)


def test_several_seeds_are_drawn_at_once_in_worker_processes_and_their_errors_come_back(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda _: {0, 1}, raising=False)  # two CPUs, whatever the machine
    in_parallel(_write_seed, [(str(tmp_path), seed) for seed in range(3)])
    pids = {(tmp_path / key_of({"seed": seed}) / "pid.txt").read_text() for seed in range(3)}
    assert str(os.getpid()) not in pids and len(pids) <= 2  # drawn by the (at most two) workers, not here
    with pytest.raises(ValueError, match="no such dataset"):
        in_parallel(_fail, [("no such dataset",), ("no such dataset",)])
