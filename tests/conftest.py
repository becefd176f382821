"""Shared fixtures: one ci-profile run of every notebook, and the book built from it."""

from __future__ import annotations

from pathlib import Path

import pytest

from cpath_repro.pipeline import book, execute


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
