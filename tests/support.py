"""Helpers several test modules share."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cpath_repro import catalog
from cpath_repro.notebook import start
from cpath_repro.project import PROJECT_ROOT
from cpath_repro.results.run import Run

#: Notebooks the test runs execute at once (``execute.run(jobs=...)``): most of a ``ci`` notebook's time is its kernel
#: starting and importing torch on one core, so two at a time (each on one thread, see conftest) keep both cores busy.
JOBS = 2


def git_status() -> str | None:
    """``git status --porcelain`` of the project's work tree, or None outside a git checkout."""
    if not (PROJECT_ROOT / ".git").exists():
        return None
    return subprocess.run(["git", "status", "--porcelain"], cwd=PROJECT_ROOT, capture_output=True, text=True,
                          check=True).stdout


def open_run(name: str, profile: str, run_dir: str | Path | None, **given: Any) -> Run:
    """Open notebook ``name``'s run as its first cell would: a parameters-cell namespace with ``given`` filled in."""
    namespace = {"profile": profile, "run_dir": run_dir, **dict.fromkeys(catalog.get(name).params), **given}
    return start(name, namespace)[0]


def shared_folder(tmp_path_factory: pytest.TempPathFactory, name: str) -> Path:
    """A folder every pytest-xdist worker of this session sees (the session's own folder, above the workers'),
    or a fresh one of this process without xdist."""
    if os.environ.get("PYTEST_XDIST_WORKER") is None:
        return tmp_path_factory.mktemp(name)
    folder = tmp_path_factory.getbasetemp().parent / name
    folder.mkdir(exist_ok=True)
    return folder


def once(tmp_path_factory: pytest.TempPathFactory, name: str, make: Callable[[Path], None]) -> Path:
    """``make`` a shared folder once per session: the first worker to ask makes it under a lock, the others wait
    and read it (pytest-xdist's recipe for a session fixture run once; files are written whole or not at all)."""
    from filelock import FileLock

    folder = shared_folder(tmp_path_factory, name)
    made = folder.with_name(f"{folder.name}.made")  # beside the folder: a run folder holds only results
    with FileLock(f"{folder}.lock"):
        if not made.is_file():
            make(folder)
            made.touch()
    return folder
