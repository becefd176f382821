"""Helpers several test modules share."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cpath_repro import catalog
from cpath_repro.notebook import start
from cpath_repro.results.run import Run

#: Notebooks the test runs execute at once (``execute.run(jobs=...)``): most of a ``ci`` notebook's time is its kernel
#: starting and importing torch on one core, so two at a time (each on one thread, see conftest) keep both cores busy.
JOBS = 2


def open_run(name: str, profile: str, run_dir: str | Path | None, **given: Any) -> Run:
    """Open notebook ``name``'s run as its first cell would: a parameters-cell namespace with ``given`` filled in."""
    namespace = {"profile": profile, "run_dir": run_dir, **dict.fromkeys(catalog.get(name).params), **given}
    return start(name, namespace)[0]
