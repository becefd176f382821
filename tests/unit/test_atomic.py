"""Atomic writes."""

from __future__ import annotations

from cpath_repro import atomic


def test_atomic_write_leaves_no_temporary_file(tmp_path):
    atomic.write_json(tmp_path / "x.json", {"a": 1})
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]


def test_atomic_write_gives_the_mode_open_would_under_the_umask(tmp_path):
    import os

    atomic.write_text(tmp_path / "x.txt", "a")
    plain = tmp_path / "plain.txt"
    plain.write_text("a")
    assert os.stat(tmp_path / "x.txt").st_mode & 0o777 == os.stat(plain).st_mode & 0o777
