"""Shared fixtures: one ci-profile run of every notebook, and the book built from it."""

from __future__ import annotations

from pathlib import Path

import pytest

from cpath_repro.pipeline import book, execute


@pytest.fixture(scope="session", autouse=True)
def isolated_model_store(tmp_path_factory: pytest.TempPathFactory):
    """Tests train into a model store of their own, never the project's runs/models, and write paper D's slides
    into a folder of their own, never runs/slides."""
    import os

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
    run_dir = tmp_path_factory.mktemp("run-ci")
    execute.run(["all"], "ci", [], run_dir, progress=False, echo=lambda *_: None)
    return run_dir


@pytest.fixture(scope="session")
def built_book(ci_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("book")
    book.build(ci_run, out)
    return out / "html"
