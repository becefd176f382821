"""Synthetic data made once and shared by every notebook that reads it, in a folder keyed by what made it.

A chapter's notebooks each run in a kernel of their own, so data drawn in memory is drawn again by every
notebook that needs it (paper B's datasets cost a quarter of its chapter's time that way). Here the data is
written once: the folder's name is a hash of ``config`` (the settings and seed that draw it, and the code
fingerprint of its generator modules, :func:`cpath_repro.project.modules_hash`), so a change to either
makes a new folder and nothing stale is read. The folder is written under a staging name and renamed into
place with its ``config.json`` last; two notebooks asking at once: one writes, the other waits for it.

Drawing is single-threaded numpy, so :func:`in_parallel` draws several seeds' data at once, one process per
CPU, before a notebook reads them back.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import shutil
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

#: Written last into a finished folder: a folder without it is not read.
MARKER = "config.json"


def key_of(config: Mapping[str, Any]) -> str:
    """The folder name of ``config``'s data."""
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:20]


def written_once(root: Path, config: Mapping[str, Any], write: Callable[[Path], None]) -> Path:
    """The folder under ``root`` holding ``config``'s data; ``write(folder)`` fills it when it is missing."""
    from cpath_repro import atomic

    key = key_of(config)
    final = root / key
    if (final / MARKER).is_file():
        return final
    with atomic.exclusive(root / ".locks" / key):
        if not (final / MARKER).is_file():
            staged = root / ".staging" / f"{key}-{uuid.uuid4().hex[:8]}"
            staged.mkdir(parents=True)
            try:
                write(staged)
                atomic.write_json(staged / MARKER, dict(config))
                atomic.replace_dir(staged, final)
            finally:
                shutil.rmtree(staged, ignore_errors=True)  # gone already once renamed into place
    return final


def in_parallel(fn: Callable[..., object], calls: Sequence[tuple[object, ...]]) -> None:
    """``fn(*args)`` for each of ``calls``, in fresh worker processes, one per CPU (in this process when there is
    one CPU or one call). ``fn`` is a module-level function that writes through :func:`written_once` and
    returns nothing large: the caller reads the data back from disk. A worker's error is raised here."""
    workers = min(len(calls), len(os.sched_getaffinity(0)))
    if workers <= 1:
        for args in calls:
            fn(*args)
        return
    # spawn: a notebook's kernel holds threads (ZeroMQ, torch) that a forked child would inherit half-copied
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        for future in [pool.submit(fn, *args) for args in calls]:
            future.result()
