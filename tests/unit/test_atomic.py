"""Atomic writes."""

from __future__ import annotations

from cpath_repro import atomic


def test_atomic_write_leaves_no_temporary_file(tmp_path):
    atomic.write_json(tmp_path / "x.json", {"a": 1})
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]
