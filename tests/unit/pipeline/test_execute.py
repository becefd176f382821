import json

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


def test_cache_key_changes_with_params_and_lock_file(monkeypatch):
    spec = catalog.get("E-F2")
    key = execute.cache_key(spec, spec.resolve("ci", {}))
    assert key == execute.cache_key(spec, spec.resolve("ci", {}))
    assert key != execute.cache_key(spec, spec.resolve("ci", {"seed": 1}))
    monkeypatch.setattr(execute, "lock_hash", lambda: "other library versions")
    assert key != execute.cache_key(spec, spec.resolve("ci", {}))


def _package_copy(tmp_path, monkeypatch):
    """A copy of the package whose files a test may edit; module hashing reads it instead of the real one."""
    import shutil

    from cpath_repro import project

    copy = tmp_path / project.PACKAGE
    shutil.copytree(project.PACKAGE_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(project, "PACKAGE_DIR", copy)
    return copy


def test_a_result_goes_stale_only_when_the_code_of_a_module_it_imported_changes(tmp_path, monkeypatch):
    from cpath_repro.project import module_fingerprints

    spec = catalog.get("E-F2")
    params = spec.resolve("ci", {})
    copy = _package_copy(tmp_path, monkeypatch)
    used = module_fingerprints(["cpath_repro", "cpath_repro.concepts.layers", "cpath_repro.viz"])
    key = execute.cache_key(spec, params)
    manifest = {"execution": {"cache_key": key}, "code": {"modules": used}}
    assert execute.is_current(manifest, key)
    (copy / "chapters" / "paper_a" / "training.py").write_text("# the training recipe changed\n", "utf-8")
    assert execute.is_current(manifest, key), "a module the notebook never imported changed"
    viz = copy / "viz.py"
    source = viz.read_text("utf-8")
    viz.write_text('"""Reworded."""\n# a comment\n' + source.split('"""', 2)[2].replace("\n\n", "\n\n\n", 1), "utf-8")
    assert execute.is_current(manifest, key), "a docstring, a comment and a blank line cannot change a result"
    viz.write_text(source + "\nLIMIT = 1\n", "utf-8")
    assert not execute.is_current(manifest, key)
    assert execute.code_changes(manifest) == ["cpath_repro.viz"]
    assert not execute.is_current({"execution": manifest["execution"]}, key), "no record of its modules"
    old = {"execution": manifest["execution"], "code": {"modules": list(used)}}
    assert not execute.is_current(old, key), "a record from before modules carried fingerprints"


def test_a_model_key_follows_the_code_of_its_recipes_import_closure(tmp_path, monkeypatch):
    from cpath_repro.project import import_closure
    from cpath_repro.train import store

    recipe = "cpath_repro.chapters.paper_a.training"
    closure = import_closure(recipe)
    assert "cpath_repro.train.engine" in closure and "cpath_repro.models.unet" in closure
    assert "cpath_repro.viz" not in closure and "cpath_repro.chapters.paper_a.analysis" not in closure
    assert "cpath_repro.chapters.paper_a" in closure, "a parent package's __init__ runs first"
    copy = _package_copy(tmp_path, monkeypatch)
    key = store.model_key({"seed": 0}, recipe)
    with open(copy / "viz.py", "a", encoding="utf-8") as fh:
        fh.write("\nLIMIT = 1\n")
    assert store.model_key({"seed": 0}, recipe) == key, "a figure changed: nothing retrains"
    engine = copy / "train" / "engine.py"
    source = engine.read_text("utf-8")
    engine.write_text(source.replace('"""', '"""A docstring edit. ', 1) + "\n# a comment\n", "utf-8")
    assert store.model_key({"seed": 0}, recipe) == key, "a docstring or a comment in the engine retrains nothing"
    engine.write_text(source + "\nLIMIT = 1\n", "utf-8")
    assert store.model_key({"seed": 0}, recipe) != key, "the engine's code changed: its models retrain"
    with pytest.raises(ValueError, match="not a module of the package"):
        store.model_key({}, "tests.unit.pipeline.test_execute")


def test_import_closure_resolves_relative_imports_and_skips_type_checking(tmp_path, monkeypatch):
    from cpath_repro import project

    pkg = tmp_path / project.PACKAGE
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "a.py").write_text("from . import b\nfrom ..c import thing\nfrom typing import TYPE_CHECKING\n"
                                      "if TYPE_CHECKING:\n    from cpath_repro import d\n"
                                      "def f():\n    import cpath_repro.e\n")
    for name in ("sub/b.py", "c.py", "d.py", "e.py", "unused.py"):
        (pkg / name).write_text("thing = 1\n")
    monkeypatch.setattr(project, "PACKAGE_DIR", pkg)
    assert project.import_closure("cpath_repro.sub.a") == [
        "cpath_repro", "cpath_repro.c", "cpath_repro.e", "cpath_repro.sub", "cpath_repro.sub.a", "cpath_repro.sub.b"]


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


def test_status_names_what_made_a_result_stale_and_the_models_it_would_train(tmp_path, capsys):
    from cpath_repro.cli import main
    from cpath_repro.project import module_fingerprints
    from cpath_repro.results.run import checksums

    job = execute.plan(["E-F2"], "ci", [])[0]
    result = tmp_path / "E-F2"
    result.mkdir()
    (result / execute.EXECUTED).write_text("{}")
    manifest = {"status": "complete", "files": checksums(result),
                "execution": {"cache_key": job.cache_key, "inputs": execute.key_inputs(job.spec, job.params)},
                "code": {"modules": module_fingerprints(["cpath_repro.viz"])}, "models": []}
    (result / "manifest.json").write_text(json.dumps(manifest))
    assert execute.stale_reasons(job, tmp_path) == []
    assert main(["status", "E-F2", "--profile", "ci", "--run-dir", str(tmp_path)]) == 0
    assert "E-F2               up to date" in capsys.readouterr().out
    reseeded = execute.plan(["E-F2"], "ci", [("seed", "3")])[0]
    assert execute.stale_reasons(reseeded, tmp_path) == ["parameter seed (0 -> 3)"]
    assert execute.stale_reasons(job, tmp_path / "elsewhere") == ["never run here"]
    manifest["code"]["modules"]["cpath_repro.viz"] = "an older fingerprint"
    manifest["models"] = ["0" * 24]
    (result / "manifest.json").write_text(json.dumps(manifest))
    reasons = execute.stale_reasons(job, tmp_path)
    assert reasons[0] == "module cpath_repro.viz"
    assert reasons[1].startswith(f"model {'0' * 24} (not in the model store")
    main(["status", "E-F2", "--profile", "ci", "--run-dir", str(tmp_path)])
    out = capsys.readouterr().out
    assert "stale: changed: module cpath_repro.viz" in out and "1 model(s) would be trained or retrained" in out


def test_kernels_run_at_once_share_the_cores_unless_the_user_chose(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(execute.os, "cpu_count", lambda: 16)
    for variable in (*execute.THREAD_VARIABLES, "OMP_WAIT_POLICY"):
        monkeypatch.delenv(variable, raising=False)
    execute.share_cores(4)
    assert [execute.os.environ[v] for v in execute.THREAD_VARIABLES] == ["4", "4"]
    assert execute.os.environ["OMP_WAIT_POLICY"] == "PASSIVE"
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    monkeypatch.delenv("MKL_NUM_THREADS")
    execute.share_cores(32)
    assert execute.os.environ["OMP_NUM_THREADS"] == "3" and execute.os.environ["MKL_NUM_THREADS"] == "1"


def test_locking_a_development_tool_changes_no_key_and_a_runtime_library_does(tmp_path, monkeypatch):
    from cpath_repro import project

    lock = tmp_path / "constraints.txt"
    lock.write_text(project.LOCK_FILE.read_text())
    monkeypatch.setattr(project, "LOCK_FILE", lock)
    project.lock_hash.cache_clear()
    before = project.lock_hash()
    assert "torch" in project.runtime_distributions() and "pytest" not in project.runtime_distributions()

    lock.write_text(lock.read_text() + "pytest-randomly==9.9.9\n")  # a test tool: cannot change a number
    project.lock_hash.cache_clear()
    assert project.lock_hash() == before

    lock.write_text("\n".join(("numpy==0.0.1" if line.startswith("numpy==") else line)
                              for line in lock.read_text().splitlines()))
    project.lock_hash.cache_clear()
    assert project.lock_hash() != before
    project.lock_hash.cache_clear()
