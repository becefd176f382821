"""Shared fixtures: one ci-profile run of every notebook, and the book built from it, once per session however
many pytest-xdist workers share it (``make test`` runs one per core; :func:`tests.support.once`).

Every process of a test session (pytest-xdist's workers, the notebook kernels they start, the trainings they
spawn) runs torch on one thread: the workers and kernels share the cores instead of waiting on each other's
threads, and a notebook run serially commits the numbers it commits when run beside another."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

for _variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):  # before torch is imported; inherited by every child
    os.environ[_variable] = "1"


@pytest.fixture(scope="session", autouse=True)
def isolated_model_store(tmp_path_factory: pytest.TempPathFactory):
    """Tests train into a model store of their own, never the project's runs/models, and write paper D's slides
    into a folder of their own, never runs/slides (paper B's crops likewise, never runs/crops); the workers of one
    session share them (the store, the slides and the crops take a lock per entry)."""
    from cpath_repro.chapters.paper_b.data import CROPS_ENV
    from cpath_repro.chapters.paper_d.data import SLIDES_ENV
    from cpath_repro.train.store import STORE_ENV
    from tests.support import shared_folder

    previous = {name: os.environ.get(name) for name in (STORE_ENV, SLIDES_ENV, CROPS_ENV)}
    os.environ[STORE_ENV] = str(shared_folder(tmp_path_factory, "model-store"))  # inherited by notebook kernels
    os.environ[SLIDES_ENV] = str(shared_folder(tmp_path_factory, "slides"))  # paper D's synthetic slides, likewise
    os.environ[CROPS_ENV] = str(shared_folder(tmp_path_factory, "crops"))  # paper B's standardized crops, likewise
    yield
    for name, value in previous.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(scope="session")
def ci_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every notebook under the ci profile, once per session (two at a time), shared by every test that reads it."""
    from cpath_repro.pipeline import execute
    from tests.support import JOBS, once

    def make(run_dir: Path) -> None:
        execute.run(["all"], "ci", [], run_dir, progress=False, echo=lambda *_: None, jobs=JOBS)

    return once(tmp_path_factory, "run-ci", make)


@pytest.fixture(scope="session")
def built_book(ci_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The book built from :func:`ci_run`, with the work tree's ``git status`` before and after the build beside it
    (``book.git-status.json``), for the test that building leaves the tree as it found it."""
    from cpath_repro.pipeline import book
    from tests.support import git_status, once

    def make(out: Path) -> None:
        before = git_status()
        book.build(ci_run, out)
        out.with_name("book.git-status.json").write_text(json.dumps({"before": before, "after": git_status()}))

    return once(tmp_path_factory, "book", make) / "html"
