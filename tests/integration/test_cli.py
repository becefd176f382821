"""Bad input through the command line: one sentence on stderr, exit status 2, nothing written."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def cli(*args: str, cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cpath_repro.cli", *args], capture_output=True, text=True,
                          cwd=cwd, env={**os.environ, "PYTHONWARNINGS": "ignore", **env})


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "A-T9", "--profile", "ci"], "Unknown notebook 'A-T9'"),
        (["run", "E-F2", "--profile", "ci", "-p", "epochs", "3"], "Notebook 'E-F2' has no parameter 'epochs'"),
        (["run", "E-F2", "--profile", "ci", "-p", "seed", "one"], "must be an integer, got 'one'"),
        (["run", "E-F2", "--profile", "ci", "-p", "seed", "-4"], "must be between 0 and 4294967295"),
        (["run", "E-F3", "--profile", "ci", "-p", "image_size", "5"], "must be a multiple of window"),
        (["run", "stains", "--profile", "paper"], "pass -p data_root DIR"),
        (["run", "A-T2", "--profile", "paper"], "reads real data: pass -p data_root DIR, a folder holding paper A's"),
        (["run", "A-T2", "--profile", "ci", "-p", "data_root", "/"],
         "Expected paper A's tile folder in '/multistain-tiles'"),
        (["run", "E-F1", "--profile", "ci", "-p", "sizes", "20,x"], "must be whole numbers separated by commas"),
        (["run", "E-F1", "--profile", "ci", "-p", "sizes", "20,100000000"], "must hold numbers between 10 and 100000"),
        (["run", "E-F5", "--profile", "ci", "-p", "seed", "99999999999999999999999"],
         "must be between 0 and 4294967295"),
        (["run", "D-M1", "--profile", "ci", "-p", "memory_patches", "-16"], "must hold numbers between 1 and 16384"),
        (["run", "E-F2", "E-F3", "--profile", "ci", "--jobs", "0"], "--jobs must be at least 1, got 0"),
        (["claims"], "does not exist; create it with `cpath-repro run all"),
        (["run", "A-T1", "--profile", "ci", "-p", "tile", "512"], "would need about 184 GiB each while generated"),
        (["run", "A-T2", "--profile", "ci", "-p", "tile", "30"], "must be divisible by 2^depth"),
        (["run", "stains", "--profile", "paper", "-p", "data_root", "/nonexistent/tiles"], "not a folder"),
        (["sweep", "D-C9", "--profile", "ci"], "Unknown claim 'D-C9'"),
        (["sweep", "D-C1", "D-C3", "--profile", "ci"], "D-C3 declares no knob that could decide it, so it has no map"),
    ],
)
def test_bad_input_is_one_sentence_and_exit_2(tmp_path: Path, args: list[str], message: str):
    run_dir = tmp_path / "run"
    proc = cli(*args, "--run-dir", str(run_dir))
    assert proc.returncode == 2
    assert message in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    assert not run_dir.exists(), "validation happens before any work"


def test_unwritable_run_dir(tmp_path: Path):
    (tmp_path / "file").write_text("")
    proc = cli("run", "E-F2", "--profile", "ci", "--run-dir", str(tmp_path / "file" / "run"))
    assert proc.returncode == 2 and "is not writable" in proc.stderr and "Traceback" not in proc.stderr


def test_build_from_missing_run_says_how_to_make_one_before_importing_the_book(tmp_path: Path):
    for verb in ("build", "claims"):
        code = ("import sys; from cpath_repro import cli; "
                f"status = cli.main([{verb!r}, '--run-dir', {str(tmp_path / 'none')!r}]); "
                "sys.exit(f'{status} imported' if {'cpath_repro.pipeline.book', 'cpath_repro.claims.scorecard'} "
                "& set(sys.modules) else status)")
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert done.returncode == 2, (verb, done.stderr)
        assert "does not exist; create it with `cpath-repro run all" in done.stderr, verb


def test_bad_parameters_are_refused_before_torch_is_imported():
    """Checking parameters needs no torch (1.5 s to import, about ten times the check): a typo is answered at once."""
    code = ("import sys; from cpath_repro import cli; "
            "status = cli.main(['run', 'E-F1', '--profile', 'ci', '-p', 'sizes', '20,100000000']); "
            "sys.exit(f'{status} torch' if 'torch' in sys.modules else status)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 2, done.stderr
    assert "must hold numbers between 10 and 100000" in done.stderr


def test_an_impossible_string_value_is_one_sentence(tmp_path: Path):
    proc = cli("run", "E-F2", "--profile", "ci", "--run-dir", str(tmp_path / "run"), "-p", "kernel", "111")
    assert proc.returncode == 2 and "must be nine characters" in proc.stderr


def test_list_shows_every_notebook_with_artifacts_and_parameters():
    proc = cli("list")
    assert proc.returncode == 0
    for text in ("stains", "[E-F2]", "[E-F3]", "image_size", "default", "paper"):
        assert text in proc.stdout


def test_claims_prints_the_scorecard(ci_run: Path):
    proc = cli("claims", "--run-dir", str(ci_run))
    assert proc.returncode == 0 and "A-C3" in proc.stdout and "D-C5" in proc.stdout
    assert "not testable at this budget" in proc.stdout  # one ci seed: every rule wants three


def test_store_list_shows_each_model_its_size_and_users_and_prune_removes_only_unused(ci_run: Path, tmp_path: Path):
    import json
    import shutil

    from cpath_repro.train import store

    models = tmp_path / "models"  # the ci run's models only: the session's store also holds other tests' models
    for key in {k for m in ci_run.glob("*/manifest.json") for k in json.loads(m.read_text())["models"]}:
        shutil.copytree(store.store_root() / key, models / key)
    used = set(json.loads((ci_run / "A-T2" / "manifest.json").read_text())["models"])
    orphan = models / ("f" * 24)
    shutil.copytree(models / sorted(used)[0], orphan)  # a model no run refers to
    (models / ".work" / "0123456789abcdef01234567").mkdir(parents=True)  # an abandoned training
    listing = cli("store", "list", "--run-dir", str(ci_run), CPATH_REPRO_MODEL_STORE=str(models))
    assert listing.returncode == 0, listing.stderr
    assert f"{orphan.name}" in listing.stdout and "no run (prune removes it)" in listing.stdout
    assert f"{ci_run}/A-T2" in listing.stdout and "KiB" in listing.stdout
    pruned = cli("store", "prune", "--run-dir", str(ci_run), CPATH_REPRO_MODEL_STORE=str(models))
    assert pruned.returncode == 0 and "1 model(s) removed" in pruned.stdout
    assert not orphan.exists() and not (models / ".work" / "0123456789abcdef01234567").exists()
    assert used <= {p.name for p in models.iterdir()}, "models a run uses stay"


def test_heatmap_of_the_projects_real_slide_at_another_resolution_resamples_it(ci_run: Path, tmp_path: Path):
    """CMU-1-Small-Region is 0.499 µm/px with one level; paper D's model was trained coarser. heatmap used to refuse
    it (advising a `-p mpp` it does not have); it now reads level 0 and shrinks each patch to the model's scale."""
    import json

    from cpath_repro.train import store
    from cpath_repro.wsi import cmu_small_region

    keys = json.loads((ci_run / "D-T1" / "manifest.json").read_text())["models"]
    entry = next(store.store_root() / k for k in keys
                 if json.loads((store.store_root() / k / store.META).read_text())["config"].get("method") == "end-to-end")
    proc = cli("heatmap", str(cmu_small_region()), "--model", str(entry), "--out", str(tmp_path), "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert "finer and shrunk to the model's resolution" in proc.stdout
    assert (tmp_path / "cmu_small_region_heatmap.png").is_file() and (tmp_path / "cmu_small_region_heatmap.tif").is_file()
    contradicted = cli("heatmap", str(cmu_small_region()), "--model", str(entry), "--out", str(tmp_path), "--mpp", "2")
    assert contradicted.returncode == 2 and "contradicts it" in contradicted.stderr
