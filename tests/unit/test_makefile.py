"""`make clean` removes what its comment says, and keeps results, the model store, sample data and .venv."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from cpath_repro.project import PROJECT_ROOT

REMOVED = ("_build/html/index.html", "runs/ci/E-F2/manifest.json", "runs/default/.failed/A-T1.ipynb",
           ".pytest_cache/x", "cpath_repro/__pycache__/x.pyc")
KEPT = ("runs/default/A-T1/manifest.json", "runs/models/abc/model.pt", "data/real/cmu/cmu_small_region.svs",
        ".venv/bin/python", "cpath_repro/x.py")


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_clean_removes_what_it_says_and_nothing_else(tmp_path: Path):
    shutil.copy(PROJECT_ROOT / "Makefile", tmp_path / "Makefile")
    for rel in REMOVED + KEPT:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("x")
    (tmp_path / "tests").mkdir()
    (tmp_path / "benchmarks").mkdir()
    proc = subprocess.run(["make", "clean"], cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert [rel for rel in REMOVED if (tmp_path / rel).exists()] == []
    assert [rel for rel in KEPT if not (tmp_path / rel).exists()] == []
