"""Synthetic data written once: keyed by what made it, never read half-written."""

from __future__ import annotations

from cpath_repro.synth.cache import MARKER, key_of, written_once


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
