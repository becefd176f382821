"""Lint and type-check the package as part of the tests (ruff, mypy)."""

import subprocess
import sys

from cpath_repro.project import PROJECT_ROOT


def _tool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=PROJECT_ROOT, capture_output=True, text=True)


def test_ruff_finds_nothing():
    proc = _tool("ruff", "check", ".")
    assert proc.returncode == 0, proc.stdout


def test_mypy_finds_nothing():
    proc = _tool("mypy")
    assert proc.returncode == 0, proc.stdout
