"""Faults survived, each a test here: results edited, deleted or damaged after their run; a full disk at a commit;
two commits of one result at once; a store prune that cannot read a run; a checkpoint that would run code.

Each asserts what a user is promised: one sentence (never a traceback), nothing half-written, the previous result
intact, and the next `run` repairing what it can. The book's Performance and reliability page counts them; the
store-lock and killed-worker faults of the scale-out work stay beside the code they test
(``tests/unit/train/test_shared_store.py``, ``tests/unit/pipeline/test_cluster.py``).
"""

from __future__ import annotations

import errno
import json
import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from cpath_repro.cli import main
from cpath_repro.errors import IncompleteRunError, UserError
from cpath_repro.pipeline import book, execute
from cpath_repro.results import run as results
from cpath_repro.train import store

pytestmark = pytest.mark.integration

QUIET = {"progress": False, "echo": lambda *_: None}


def _copy(ci_run: Path, tmp_path: Path, *names: str) -> Path:
    """A run folder of its own holding copies of ``names``' results from the shared ci run."""
    run_dir = tmp_path / "run"
    for name in names:
        shutil.copytree(ci_run / name, run_dir / name)
    return run_dir


def _one_sentence(err: str) -> str:
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    return err


# -- killed mid-notebook ----------------------------------------------------------------------------------------------

def _start(run_dir: Path, *names: str) -> subprocess.Popen[str]:
    """``cpath-repro run NAMES --profile ci`` in a process group of its own (its kernel in it too)."""
    return subprocess.Popen([sys.executable, "-m", "cpath_repro.cli", "run", *names, "--profile", "ci", "--quiet",
                             "--run-dir", str(run_dir)], start_new_session=True, text=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _wait_for(condition: Callable[[], object], what: str, timeout: float = 180.0) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_sigkill_of_run_mid_notebook_then_the_same_command_executes_that_notebook_only(ci_run: Path, tmp_path: Path):
    run_dir = tmp_path / "run"
    proc = _start(run_dir, "E-F2", "E-F3")
    _wait_for(lambda: (run_dir / "E-F2" / results.MANIFEST).is_file()
              and list((run_dir / results.STAGING).glob("cli-E-F3-*")), "E-F3 to start")
    time.sleep(1.5)  # its kernel is starting: the notebook has begun, nothing of it is committed
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    with pytest.raises(IncompleteRunError, match=r"'E-F3' has no complete result \(an interrupted run left"):
        book.check_run(run_dir)
    for left in (run_dir / results.STAGING).glob("cli-*"):  # as if killed long ago: the next run sweeps it
        os.utime(left, (0, 0))
    again = subprocess.run([sys.executable, "-m", "cpath_repro.cli", "run", "E-F2", "E-F3", "--profile", "ci",
                            "--run-dir", str(run_dir)], capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert "E-F2 (ci): up to date" in again.stdout and "E-F3 (ci): done in" in again.stdout
    assert "removed cli-E-F3-" in again.stdout, "the killed run's private folder is swept"
    assert "[IPKernelApp]" not in again.stderr, "the kernel's shutdown log is not shown"
    assert not list((run_dir / results.STAGING).glob("cli-*"))
    for table in (ci_run / "E-F3" / "tables").glob("*.csv"):  # the same numbers as a run never interrupted
        pd.testing.assert_frame_equal(pd.read_csv(run_dir / "E-F3" / "tables" / table.name), pd.read_csv(table))


def test_sigkill_of_a_notebooks_kernel_is_one_sentence_and_the_next_run_executes_it(tmp_path: Path):
    import psutil

    run_dir = tmp_path / "run"
    proc = _start(run_dir, "E-F3")

    def kernel() -> psutil.Process | None:
        children = psutil.Process(proc.pid).children(recursive=True)
        return next((c for c in children if "ipykernel" in " ".join(c.cmdline())), None)

    found = _wait_for(kernel, "the kernel to start")
    time.sleep(1.5)
    assert isinstance(found, psutil.Process)
    found.kill()
    _, err = proc.communicate(timeout=120)
    lines = [ln for ln in err.splitlines() if ln.startswith("cpath-repro:")]
    assert proc.returncode == 2 and len(lines) == 1 and "'E-F3'" in lines[0] and "Traceback" not in err
    assert not (run_dir / "E-F3").exists(), "nothing half-written"
    done = execute.run(["E-F3"], "ci", [], run_dir, **QUIET)
    assert [how for _, how, _ in done] == ["ran"]


def test_ctrl_c_of_run_with_a_cluster_is_one_sentence_from_run_and_no_worker_traceback(tmp_path: Path):
    """Ctrl-C in a terminal reaches the whole foreground process group: the Dask workers ignore it (``run`` closes
    the cluster), so the user reads run's one sentence, not a worker's traceback."""
    import pty
    import select

    run_dir = tmp_path / "run"
    pid, terminal = pty.fork()
    if pid == 0:  # the child: cpath-repro on a terminal of its own, as a user's shell starts it
        signal.signal(signal.SIGINT, signal.SIG_DFL)  # a pytest-xdist worker ignores SIGINT, and a child inherits that
        os.execv(sys.executable, [sys.executable, "-m", "cpath_repro.cli", "run", "E-F2", "E-F3", "--jobs", "2",
                                  "--profile", "ci", "--run-dir", str(run_dir)])
    shown, pressed, deadline = b"", False, time.monotonic() + 180
    while time.monotonic() < deadline:
        if not pressed and list((run_dir / results.STAGING).glob("cli-*")):
            time.sleep(1.5)  # the notebooks have begun
            os.write(terminal, b"\x03")
            pressed = True
        if select.select([terminal], [], [], 0.1)[0]:
            try:
                chunk = os.read(terminal, 65536)
            except OSError:  # the terminal closed: cpath-repro has exited
                break
            if not chunk:
                break
            shown += chunk
    _, status = os.waitpid(pid, 0)
    text = shown.decode(errors="replace")
    assert pressed and os.waitstatus_to_exitcode(status) == 130, text
    assert "Traceback" not in text and "KeyboardInterrupt" not in text, text
    assert text.count("cpath-repro: interrupted") == 1
    assert not [n for n in ("E-F2", "E-F3") if (run_dir / n).exists() and not (run_dir / n / results.MANIFEST).is_file()]


# -- a result changed after its run ----------------------------------------------------------------------------------

def test_a_claim_table_edited_after_its_run_is_refused_by_build_and_claims(ci_run: Path, tmp_path: Path, capsys):
    run_dir = _copy(ci_run, tmp_path, "A-T1")
    table = run_dir / "A-T1" / "claims" / "A-C1.csv"
    frame = pd.read_csv(table)
    frame.loc[frame.arm == frame.arm.iloc[0], "value"] = 0.1  # the edit the issue made by hand
    frame.to_csv(table, index=False)
    with pytest.raises(IncompleteRunError, match=r"'A-T1' is stale \(changed: claims/A-C1.csv edited since its run\)"):
        book.check_run(run_dir)
    assert main(["claims", "--run-dir", str(run_dir)]) == 2
    assert "claims/A-C1.csv edited since its run" in _one_sentence(capsys.readouterr().err)
    job = execute.plan(["A-T1"], "ci", [])[0]
    assert execute.stale_reasons(job, run_dir) == ["claims/A-C1.csv edited since its run"]


def test_a_table_deleted_after_its_run_makes_run_execute_it_again(ci_run: Path, tmp_path: Path):
    run_dir = _copy(ci_run, tmp_path, "E-F2")
    victim = sorted((run_dir / "E-F2" / "tables").glob("*.csv"))[0]
    victim.unlink()
    job = execute.plan(["E-F2"], "ci", [])[0]
    assert execute.stale_reasons(job, run_dir) == [f"tables/{victim.name} deleted since its run"]
    done = execute.run(["E-F2"], "ci", [], run_dir, **QUIET)
    assert [how for _, how, _ in done] == ["ran"] and victim.is_file()
    assert execute.stale_reasons(job, run_dir) == []


@pytest.mark.parametrize("text", ['{"status": "compl', "[1]", '{"claims": []}'])
def test_a_damaged_manifest_is_one_sentence_everywhere_and_stale_for_run(ci_run: Path, tmp_path: Path, capsys,
                                                                          text: str):
    run_dir = _copy(ci_run, tmp_path, "E-F2")
    (run_dir / "E-F2" / results.MANIFEST).write_text(text)
    with pytest.raises(IncompleteRunError, match=r"'E-F2' is damaged \(its manifest.json (cannot be read|is not a )"):
        book.check_run(run_dir)
    assert main(["claims", "--run-dir", str(run_dir)]) == 2
    assert "is damaged" in _one_sentence(capsys.readouterr().err)
    job = execute.plan(["E-F2"], "ci", [])[0]
    assert execute.stale_reasons(job, run_dir)[0].startswith("its manifest.json")


# -- a full disk ------------------------------------------------------------------------------------------------------

def _disk_full(*_args: object, **_kwargs: object) -> None:
    raise OSError(errno.ENOSPC, "No space left on device")


def _read_only(*_args: object, **_kwargs: object) -> None:
    """What a read-only run folder or store gives a writer. Simulated: the tests run as root here, and root writes
    through a folder's permission bits."""
    raise OSError(errno.EROFS, "Read-only file system")


@pytest.mark.parametrize("fault", [_disk_full, _read_only], ids=["full disk", "read-only run folder"])
def test_a_failed_write_at_commit_is_one_sentence_and_keeps_the_previous_result(ci_run: Path, tmp_path: Path,
                                                                                monkeypatch: pytest.MonkeyPatch,
                                                                                fault: Callable[..., None]):
    run_dir = _copy(ci_run, tmp_path, "E-F2")
    before = results.checksums(run_dir / "E-F2")
    monkeypatch.setattr(execute.atomic, "write_json", fault)  # this process commits; the kernel is another
    with pytest.raises(UserError, match=r"ran, but its result could not be committed .*\((No space left on device|"
                                        r"Read-only file system)\); the previous result, if any, is unchanged"):
        execute.run(["E-F2"], "ci", [], run_dir, force=True, **QUIET)
    assert results.checksums(run_dir / "E-F2") == before
    assert not list((run_dir / results.STAGING).glob("*")), "nothing half-committed is left behind"


@pytest.mark.parametrize("fault", [_disk_full, _read_only], ids=["full disk", "read-only store"])
def test_a_failed_model_store_write_leaves_no_entry_and_the_next_request_trains_it(tmp_path: Path,
                                                                                   monkeypatch: pytest.MonkeyPatch,
                                                                                   fault: Callable[..., None]):
    """The write of a trained model fails: no entry reads as complete (the store trains it again on the next
    request, which then succeeds); the failure reaches the notebook as its cell's error, one sentence from run."""
    import torch
    from torch import nn

    monkeypatch.setenv(store.STORE_ENV, str(tmp_path / "store"))
    trainings = []

    def train(model: nn.Module, work: Path) -> dict:
        trainings.append(1)
        return {"history": []}

    recipe = store.Recipe({"test": "full disk"}, lambda: nn.Linear(2, 1), train, "cpath_repro.train.engine")
    with monkeypatch.context() as broken:
        broken.setattr(store.atomic, "write_bytes", fault)
        with pytest.raises(OSError):
            store.get(recipe)
    assert not (tmp_path / "store" / recipe.key).exists() and store.outdated([recipe.key])
    stored = store.get(recipe)
    assert len(trainings) == 2 and isinstance(stored.model, nn.Linear)
    assert torch.equal(stored.model.weight, store.get(recipe).model.weight) and len(trainings) == 2


def test_a_full_disk_while_the_book_is_staged_leaves_the_previous_book_and_no_stage(ci_run: Path, tmp_path: Path,
                                                                                   monkeypatch: pytest.MonkeyPatch):
    out = tmp_path / "out"
    (out / "html").mkdir(parents=True)
    (out / "html" / "index.html").write_text("the previous book")

    def half_then_full(run_dir: Path, found: dict, stage_dir: Path) -> None:
        stage_dir.mkdir(parents=True)
        (stage_dir / "half.md").write_text("half")
        _disk_full()

    monkeypatch.setattr(book, "stage", half_then_full)
    with pytest.raises(UserError, match=r"could not be written to .* \(No space left on device\)"):
        book.build(_copy(ci_run, tmp_path, "E-F2"), out)
    assert not (out / "stage").exists() and (out / "html" / "index.html").read_text() == "the previous book"


# -- two commits of one result at once --------------------------------------------------------------------------------

def _commit_many(run_dir: str, tag: str, times: int) -> None:
    for i in range(times):
        staged = Path(run_dir) / results.STAGING / f"{tag}-{i}"
        staged.mkdir(parents=True)
        (staged / results.MANIFEST).write_text(json.dumps({"status": "complete", "by": tag}))
        results.commit(staged, Path(run_dir) / "E-F2")


def test_two_processes_committing_one_result_take_turns(tmp_path: Path):
    """Two runs of one notebook into one folder: each commit lands whole, and no old copy is left behind (without
    the commit lock, 235 of 21,000 commits failed and left ``.E-F2.old-*`` folders)."""
    spawn = multiprocessing.get_context("spawn")
    workers = [spawn.Process(target=_commit_many, args=(str(tmp_path), tag, 150)) for tag in ("a", "b")]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
    assert [w.exitcode for w in workers] == [0, 0]
    assert json.loads((tmp_path / "E-F2" / results.MANIFEST).read_text())["by"] in ("a", "b")
    assert not [p.name for p in tmp_path.iterdir() if ".old-" in p.name]


# -- the model store --------------------------------------------------------------------------------------------------

USED, UNUSED = "a" * 24, "b" * 24


def _store_and_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    root = tmp_path / "store"
    for key in (USED, UNUSED):
        (root / key).mkdir(parents=True)
        (root / key / store.META).write_text(json.dumps({"recipe": "r", "config": {}}))
    monkeypatch.setenv(store.STORE_ENV, str(root))
    result = tmp_path / "run" / "A-T2"
    result.mkdir(parents=True)
    (result / results.MANIFEST).write_text(json.dumps({"status": "complete", "models": [USED]}))
    return root, tmp_path / "run"


@pytest.mark.parametrize("damage", ["a mistyped run folder", "a truncated manifest", "a manifest that is [1]",
                                    "models that are not a list"])
def test_store_prune_never_deletes_on_a_guess(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys, damage: str):
    root, run_dir = _store_and_run(tmp_path, monkeypatch)
    manifest = run_dir / "A-T2" / results.MANIFEST
    if damage == "a mistyped run folder":
        run_dir = tmp_path / "rnu"
    elif damage == "a truncated manifest":
        manifest.write_text(manifest.read_text()[:20])
    elif damage == "a manifest that is [1]":
        manifest.write_text("[1]")
    else:
        manifest.write_text(json.dumps({"status": "complete", "models": 7}))
    assert main(["store", "prune", "--run-dir", str(run_dir)]) == 2
    _one_sentence(capsys.readouterr().err)
    assert sorted(p.name for p in root.iterdir()) == [USED, UNUSED], "nothing was removed"


def test_store_prune_with_every_run_readable_removes_only_what_no_run_uses(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch, capsys):
    root, run_dir = _store_and_run(tmp_path, monkeypatch)
    assert main(["store", "prune", "--run-dir", str(run_dir)]) == 0
    assert "1 model(s) removed" in capsys.readouterr().out
    assert [p.name for p in root.iterdir()] == [USED]


class _RunsCode:
    """A pickle that, loaded without ``weights_only``, would create the file it names."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return os.system, (f"touch {self.marker}",)


def test_a_checkpoint_replaced_by_a_pickle_that_runs_code_is_refused_and_the_code_never_runs(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    import pickle

    from torch import nn

    monkeypatch.setenv(store.STORE_ENV, str(tmp_path / "store"))

    def recipe() -> store.Recipe:
        return store.Recipe({"fault": "pickle"}, lambda: nn.Linear(2, 2), lambda m, w: {"history": []},
                            "cpath_repro.train.engine")

    stored = store.get(recipe())
    marker = tmp_path / "the-code-ran"
    (store.store_root() / stored.key / store.WEIGHTS).write_bytes(pickle.dumps(_RunsCode(marker)))
    with pytest.raises(UserError, match=r"Model-store entry '.*' cannot be read \(UnpicklingError\)"):
        store.get(recipe())
    assert not marker.exists(), "weights_only=True refused the pickle before any of its code ran"
