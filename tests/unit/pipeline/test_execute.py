import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

from cpath_repro import catalog
from cpath_repro.errors import ParameterError
from cpath_repro.pipeline import execute
from cpath_repro.project import data_fingerprint


def test_plan_validates_everything_before_work():
    with pytest.raises(ParameterError, match="Unknown notebook"):
        execute.plan(["stains", "nope"], "ci", [])
    with pytest.raises(ParameterError, match="No notebook has a parameter 'epochz'"):
        execute.plan(["all"], "ci", [("epochz", "3")])
    with pytest.raises(ParameterError, match="has no parameter 'window'"):
        execute.plan(["stains"], "ci", [("window", "3")])


def test_plan_all_applies_an_override_where_declared():
    jobs = {j.spec.name: j for j in execute.plan(["all"], "ci", [("image_size", "6")])}
    assert jobs["E-F3"].params.image_size == 6 and jobs["E-F2"].params.image_size == 6
    assert "image_size" not in jobs["stains"].overrides


def test_cache_key_changes_with_params_and_package(monkeypatch):
    spec = catalog.get("E-F2")
    key = execute.cache_key(spec, spec.resolve("ci", {}))
    assert key == execute.cache_key(spec, spec.resolve("ci", {}))
    assert key != execute.cache_key(spec, spec.resolve("ci", {"seed": 1}))
    monkeypatch.setattr(execute, "package_source_hash", lambda: "changed")
    assert key != execute.cache_key(spec, spec.resolve("ci", {}))


def test_data_fingerprint_sees_a_changed_file(tmp_path):
    (tmp_path / "a.png").write_bytes(b"1")
    before = data_fingerprint(str(tmp_path))
    (tmp_path / "a.png").write_bytes(b"22")
    assert data_fingerprint(str(tmp_path)) != before
    assert data_fingerprint(None) is None


def _write(tmp_path, cells, meta=None):
    nb = new_notebook(cells=cells)
    nb.metadata["papermill"] = meta or {}
    path = tmp_path / "nb.ipynb"
    nbformat.write(nb, path)
    return path


def test_notebook_problem_finds_errors_and_incomplete_runs(tmp_path):
    ok = new_code_cell("1", execution_count=1)
    assert execute.notebook_problem(_write(tmp_path, [ok])) is None
    error = new_code_cell("1/0", execution_count=1)
    error.outputs = [new_output("error", ename="ZeroDivisionError", evalue="division by zero", traceback=[])]
    assert "error output in cell 1" in execute.notebook_problem(_write(tmp_path, [error]))
    pending = new_code_cell("x", execution_count=None)
    assert "did not execute cell 2" in execute.notebook_problem(_write(tmp_path, [ok, pending]))
    assert "exception" in execute.notebook_problem(_write(tmp_path, [ok], {"exception": True}))
    (tmp_path / "cut.ipynb").write_text('{"cells": [')
    assert "cannot be read" in execute.notebook_problem(tmp_path / "cut.ipynb")
