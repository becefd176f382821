"""Shared fixtures: one ci-profile run of every notebook, and the book built from it.

Every process of a test session (pytest-xdist's workers, the notebook kernels they start, the trainings they
spawn) runs torch on one thread: the workers and kernels share the cores instead of waiting on each other's
threads, and a notebook run serially commits the numbers it commits when run beside another."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

for _variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):  # before torch is imported; inherited by every child
    os.environ[_variable] = "1"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under ``--dist loadgroup``, tests that read one shared run go to the worker that holds it: the session's
    ci run, or a module's own run (``real_run``)."""
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if fixtures & {"ci_run", "built_book"}:
            item.add_marker(pytest.mark.xdist_group("ci-run"))
        elif "real_run" in fixtures:
            item.add_marker(pytest.mark.xdist_group(item.module.__name__))


@pytest.fixture(scope="session", autouse=True)
def isolated_model_store(tmp_path_factory: pytest.TempPathFactory):
    """Tests train into a model store of their own, never the project's runs/models, and write paper D's slides
    into a folder of their own, never runs/slides."""
    from cpath_repro.chapters.paper_d.data import SLIDES_ENV
    from cpath_repro.train.store import STORE_ENV

    previous = {name: os.environ.get(name) for name in (STORE_ENV, SLIDES_ENV)}
    os.environ[STORE_ENV] = str(tmp_path_factory.mktemp("model-store"))  # inherited by notebook kernels
    os.environ[SLIDES_ENV] = str(tmp_path_factory.mktemp("slides"))  # paper D's synthetic slides, likewise
    yield
    for name, value in previous.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(scope="session")
def ci_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from cpath_repro.pipeline import execute
    from tests.support import JOBS

    run_dir = tmp_path_factory.mktemp("run-ci")
    execute.run(["all"], "ci", [], run_dir, progress=False, echo=lambda *_: None, jobs=JOBS)
    return run_dir


@pytest.fixture(scope="session")
def built_book(ci_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from cpath_repro.pipeline import book

    out = tmp_path_factory.mktemp("book")
    book.build(ci_run, out)
    return out / "html"
