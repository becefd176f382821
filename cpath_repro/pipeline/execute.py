"""Execute notebooks with papermill into a run directory, skipping what is up to date.

A result is re-used only when nothing it depends on changed: its cache key (the notebook's
bytes, its resolved parameters, the fingerprint of the real data it reads, the lock file)
matches, the code of every package module the notebook imported (recorded at the end of its
run) is what it was, and every model it read from the store would not be retrained. When it
is stale, :func:`stale_reasons` says why, without executing anything (``cpath-repro status``).
(Jupyter Book's own cache keys on notebook cells only and would miss package changes.)
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cpath_repro import atomic, catalog
from cpath_repro.errors import IncompleteRunError, ParameterError, UserError
from cpath_repro.profiles import Resolved
from cpath_repro.project import (
    NOTEBOOK_DIR,
    RUN_DIR_ENV,
    changed_modules,
    data_fingerprint,
    environment,
    file_hash,
    lock_hash,
)
from cpath_repro.results.run import (
    MANIFEST,
    STAGING,
    DamagedResultError,
    changed_files,
    checksums,
    commit,
    ensure_writable,
    read_manifest,
)

EXECUTED = "notebook.ipynb"
log = logging.getLogger("cpath_repro")


@dataclass(frozen=True)
class Job:
    """One notebook to run: its spec, validated parameters, the overrides to inject, its key."""

    spec: catalog.NotebookSpec
    params: Resolved
    overrides: dict[str, Any]
    cache_key: str


def key_inputs(spec: catalog.NotebookSpec, params: Resolved) -> dict[str, Any]:
    """What a result depends on besides the package code: notebook, parameters, real data, library versions."""
    return {
        "notebook": file_hash(spec.path),
        "profile": params.profile,
        "params": params.values,
        "data": {name: data_fingerprint(str(folder)) for name, folder in spec.data_folders(params.values).items()},
        "libraries": lock_hash(),
    }


def cache_key(spec: catalog.NotebookSpec, params: Resolved) -> str:
    """The hash of :func:`key_inputs`."""
    return hashlib.sha256(json.dumps(key_inputs(spec, params), sort_keys=True, default=str).encode()).hexdigest()


def code_changes(manifest: Mapping[str, Any]) -> list[str]:
    """The package modules the run imported whose code changed since (one reason naming the missing record if it
    has none)."""
    code = manifest.get("code") or {}
    modules = code.get("modules")
    if not isinstance(modules, Mapping):  # no record, or one from before modules carried fingerprints
        return ["its record of the code it used"]
    return changed_modules(modules)


def _input_changes(manifest: Mapping[str, Any], job: Job) -> list[str]:
    """What of the key's inputs differs from the run's record: the notebook, a parameter, the data, the lock file."""
    recorded = manifest.get("execution", {}).get("inputs")
    if not isinstance(recorded, Mapping):
        return ["its record of the inputs it ran with"]
    now = key_inputs(job.spec, job.params)
    reasons = []
    if recorded.get("notebook") != now["notebook"]:
        reasons.append(f"the notebook {job.spec.path.name}")
    if recorded.get("profile") != now["profile"]:
        reasons.append(f"the profile ({recorded.get('profile')} -> {now['profile']})")
    before = recorded.get("params") or {}
    for name, value in now["params"].items():
        if json.dumps(before.get(name), default=str) != json.dumps(value, default=str):
            reasons.append(f"parameter {name} ({before.get(name)!r} -> {value!r})")
    if recorded.get("data") != now["data"]:
        reasons.append("the real data it reads")
    if recorded.get("libraries") != now["libraries"]:
        reasons.append("the locked library versions (constraints.txt)")
    return reasons


def stale_reasons(job: Job, run_dir: Path) -> list[str]:
    """Why the committed result of ``job`` in ``run_dir`` cannot be re-used (empty: it is up to date).

    Each reason names what changed: the notebook, a parameter, the data, the lock file, a package
    module it imported, a model it read that would now be retrained (its recipe's code changed), or a file of
    the result itself, edited or deleted since its run (its manifest records each file's checksum).
    """
    result = run_dir / job.spec.name
    try:
        manifest = read_manifest(result)
    except DamagedResultError as exc:
        return [exc.why]
    if manifest is None:
        return ["never run here"]
    if not (result / EXECUTED).is_file():
        return ["its executed notebook is missing"]
    changed = changed_files(result, manifest)
    if changed:
        return changed
    if manifest.get("execution", {}).get("cache_key") == job.cache_key:
        reasons = []
    else:
        reasons = _input_changes(manifest, job) or ["its cache key"]
    reasons += [f"module {m}" for m in code_changes(manifest)]
    from cpath_repro.train import store

    reasons += [f"model {key} ({why})" for key, why in store.outdated(manifest.get("models", [])).items()]
    return reasons


def is_current(manifest: Mapping[str, Any], key: str) -> bool:
    """A committed result still answers for cache key ``key``: same key, same code of the modules it used
    (:func:`stale_reasons` without its reasons, its executed-notebook check or its model-store lookup)."""
    return manifest.get("execution", {}).get("cache_key") == key and not code_changes(manifest)


def plan(names: Sequence[str], profile: str, overrides: Sequence[tuple[str, str]]) -> list[Job]:
    """Validate everything before any work: notebook names, parameter names, types, values.

    With ``all``, an override applies to every notebook that declares it, and must be
    declared by at least one.
    """
    everything = [n.lower() for n in names] == ["all"]
    specs = list(catalog.NOTEBOOKS.values()) if everything else [catalog.get(n) for n in names]
    if not specs:
        raise ParameterError("Name at least one notebook, or 'all'.")
    if everything:
        declared = {p for s in specs for p in s.params}
        for name, _ in overrides:
            if name not in declared:
                raise ParameterError(f"No notebook has a parameter {name!r}; `cpath-repro list` shows each one's.")
    jobs = []
    for spec in specs:
        if not spec.path.is_file():
            raise UserError(f"Notebook '{spec.name}' is declared but its file '{spec.path}' is missing.")
        given: dict[str, Any] = {}
        for name, text in overrides:
            if name not in spec.params:
                if everything:
                    continue
                raise ParameterError(
                    f"Notebook '{spec.name}' has no parameter {name!r}; its parameters are: {', '.join(spec.params)}."
                )
            given[name] = spec.params[name].parse(text, spec.name)
        params = spec.resolve(profile, given)
        jobs.append(Job(spec, params, given, cache_key(spec, params)))
    return jobs


def is_fresh(job: Job, run_dir: Path) -> bool:
    return not stale_reasons(job, run_dir)


def notebook_problem(path: Path) -> str | None:
    """Why an executed notebook must not be published (an error output, an unfinished run), or None."""
    import nbformat

    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as exc:  # a truncated or corrupt file: say so, never a traceback from nbformat
        return f"cannot be read ({type(exc).__name__})"
    meta = nb.metadata.get("papermill", {})
    if meta.get("exception"):
        return "stopped with an exception"
    for index, cell in enumerate(nb.cells, start=1):
        if cell.cell_type != "code":
            continue
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                return f"has an error output in cell {index} ({output.get('ename')}: {output.get('evalue')})"
        status = cell.metadata.get("papermill", {}).get("status")
        if status not in (None, "completed"):
            return f"did not complete cell {index} (status: {status})"
        if cell.source.strip() and cell.get("execution_count") is None:
            return f"did not execute cell {index}"
    return None


#: The kernel's own log is not for readers: a cell's error is in the executed notebook, and at every shutdown the
#: kernel logged "KeyboardInterrupt caught in kernel" (jupyter_client interrupts before it asks a kernel to stop).
KERNEL_ARGUMENTS = ("--IPKernelApp.log_level=CRITICAL",)
#: How nbclient stops a kernel whose cells have all run. "graceful" asks it to exit and waits while the interpreter
#: tears down torch, torchvision and the chapter's modules: 2-3.7 s of a 7-54 s ``ci`` notebook, longer than most of
#: its cells. Nothing is left for it to do by then (the last cell committed the result, the client holds every
#: output), so it is stopped at once, its process group with it. A failed cell takes the same path.
KERNEL_SHUTDOWN = "immediate"
#: A file in each private staging folder, locked by the process executing into it (the lock dies with it).
OWNER = ".owner"
#: A private staging folder younger than this is never swept (its owner may not have locked it yet).
SWEEP_AFTER_S = 60.0


def execute(job: Job, run_dir: Path, progress: bool = True) -> Path:
    """Run one notebook with papermill; commit its result whole, or raise with one sentence. It executes into a
    private staging folder that it holds locked, so that a later run can tell an abandoned one (:func:`sweep`)."""
    from filelock import FileLock

    private = run_dir / STAGING / f"cli-{job.spec.name}-{uuid.uuid4().hex[:12]}"
    private.mkdir(parents=True)
    with FileLock(str(private / OWNER)):
        return _execute_into(private, job, run_dir, progress)


def sweep(run_dir: Path) -> list[Path]:
    """Remove the private staging folders that killed or interrupted runs left in ``run_dir`` (nobody holds their
    lock); a running one, in this process or another, is left alone. Returns the folders removed."""
    from filelock import FileLock, Timeout

    removed = []
    for folder in sorted((run_dir / STAGING).glob("cli-*")):
        if not folder.is_dir() or time.time() - folder.stat().st_mtime < SWEEP_AFTER_S:
            continue
        lock = FileLock(str(folder / OWNER), timeout=0)
        try:
            lock.acquire()
        except Timeout:
            continue
        try:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
        finally:
            lock.release()
    return removed


def _execute_into(private: Path, job: Job, run_dir: Path, progress: bool) -> Path:
    import papermill
    from papermill.exceptions import PapermillExecutionError

    name = job.spec.name
    executed = private / f"{name}.ipynb"
    parameters = {"profile": job.params.profile, **job.overrides}
    t0 = time.perf_counter()
    try:
        with environment({RUN_DIR_ENV: str(private)}):  # the kernel inherits it: results go to the private run dir
            papermill.execute_notebook(
                str(job.spec.path),
                str(executed),
                parameters=parameters,
                progress_bar=progress,
                log_output=progress,
                cwd=str(NOTEBOOK_DIR),
                kernel_name="python3",
                extra_arguments=list(KERNEL_ARGUMENTS),  # a copy: nbclient extends the list it is given
                shutdown_kernel=KERNEL_SHUTDOWN,
            )
    except PapermillExecutionError as exc:
        failed = run_dir / ".failed" / f"{name}.ipynb"
        failed.parent.mkdir(exist_ok=True)
        shutil.move(executed, failed)
        shutil.rmtree(private, ignore_errors=True)
        raise UserError(
            f"Notebook '{name}' failed in cell {exc.exec_count}: {exc.ename}: {exc.evalue.strip()} "
            f"(the executed notebook is kept at {failed})."
        ) from None
    except Exception as exc:  # a dead kernel, an unreadable notebook: one sentence, not a traceback
        shutil.rmtree(private, ignore_errors=True)
        raise UserError(f"Notebook '{name}' could not be executed: {type(exc).__name__}: {exc}") from None
    wall = time.perf_counter() - t0
    result = private / name
    try:
        manifest = read_manifest(result)
    except DamagedResultError:
        manifest = None
    problem = notebook_problem(executed)
    if manifest is None or problem:
        shutil.rmtree(private, ignore_errors=True)
        why = problem or "did not commit its results (its last cell must call run.finish())"
        raise IncompleteRunError(f"Notebook '{name}' {why}; nothing was written to {run_dir}.")
    try:
        shutil.move(executed, result / EXECUTED)
        manifest["files"] = checksums(result)  # the run's files and now its executed notebook
        manifest["execution"] = {
            "cache_key": job.cache_key,
            "inputs": key_inputs(job.spec, job.params),
            "notebook_sha256": file_hash(job.spec.path),
            "executed_with": "papermill",
            "wall_time_s": round(wall, 3),
        }
        atomic.write_json(result / MANIFEST, manifest)
        commit(result, run_dir / name)
    except OSError as exc:  # a full disk, a folder made read-only meanwhile: the previous result is untouched
        raise UserError(f"Notebook '{name}' ran, but its result could not be committed to {run_dir} "
                        f"({exc.strerror or type(exc).__name__}); the previous result, if any, is unchanged.") from None
    finally:
        shutil.rmtree(private, ignore_errors=True)
    return run_dir / name


def run(names: Sequence[str], profile: str, overrides: Sequence[tuple[str, str]], run_dir: Path | None,
        force: bool = False, progress: bool = True, echo: Any = print, jobs: int = 1,
        scheduler: str | None = None) -> list[tuple[str, str, float]]:
    """Plan, then execute each stale notebook; returns ``(notebook, "ran"|"cached", seconds)`` in plan order.

    ``jobs`` > 1 executes up to that many notebooks at once, each from a process of its own (a kernel inherits its
    process's environment, which names its private run directory), and sends their trainings to a local Dask cluster
    (:mod:`.cluster`); ``scheduler`` sends them to a running one instead. Notebooks share nothing but the model
    store and paper D's slides, where a lock per entry makes one of them build it and the others wait; a failure
    lets the running notebooks finish, starts no more, and is raised. Trainings use one torch thread count
    (``$CPATH_REPRO_TRAIN_THREADS``, else this process's default), however many notebooks run at once.
    """
    from cpath_repro.project import default_run_dir

    if jobs < 1:
        raise ParameterError(f"--jobs must be at least 1, got {jobs}.")
    planned = plan(names, profile, overrides)
    from cpath_repro.train import store  # torch, 1.5 s: after the parameters are checked, so bad input is refused at once
    target = ensure_writable(run_dir if run_dir is not None else default_run_dir(profile))
    for folder in sweep(target):
        echo(f"removed {folder.name}, left by a run that was killed or interrupted")
    done: dict[str, tuple[str, str, float]] = {}
    stale: list[tuple[str, Job, list[str]]] = []
    for i, job in enumerate(planned, start=1):
        label = f"[{i}/{len(planned)}] {job.spec.name} ({profile})"
        reasons = ["--force"] if force else stale_reasons(job, target)
        if reasons:
            stale.append((label, job, reasons))
        else:
            echo(f"{label}: up to date, not re-executed")
            done[job.spec.name] = (job.spec.name, "cached", 0.0)
    os.environ.setdefault(store.THREADS_ENV, str(store.threads()))  # one count for every kernel it starts
    with contextlib.ExitStack() as stack:
        if stale and (jobs > 1 or scheduler is not None):
            from cpath_repro.pipeline import cluster

            stack.enter_context(cluster.for_run(jobs, scheduler, target, echo, progress and jobs > 1))
        if jobs == 1 or len(stale) < 2:
            for label, job, reasons in stale:
                echo(f"{label}: executing ({describe_reasons(reasons)})")
                t0 = time.perf_counter()
                execute(job, target, progress)
                done[job.spec.name] = (job.spec.name, "ran", time.perf_counter() - t0)
                echo(f"{label}: done in {done[job.spec.name][2]:.1f} s")
        else:
            for label, _, reasons in stale:
                echo(f"{label}: to execute, {jobs} at a time ({describe_reasons(reasons)})")
            for name, seconds in _run_at_once([(label, job) for label, job, _ in stale], profile, overrides, target,
                                              jobs, echo).items():
                done[name] = (name, "ran", seconds)
    return [done[job.spec.name] for job in planned]


def _run_at_once(stale: Sequence[tuple[str, Job]], profile: str, overrides: Sequence[tuple[str, str]], target: Path,
                 jobs: int, echo: Any) -> dict[str, float]:
    """Execute ``stale`` in up to ``jobs`` processes (the standard library's pool: each task is one papermill call,
    with nothing to schedule between them but the store's locks); the seconds each took."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    context = multiprocessing.get_context("spawn")  # a fresh interpreter: no threads or sockets inherited
    failure: BaseException | None = None
    seconds: dict[str, float] = {}
    workers = min(jobs, len(stale))
    with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=share_cores,
                             initargs=(workers,)) as pool:
        futures = {pool.submit(_execute_declared, job.spec.name, profile,
                               [(n, v) for n, v in overrides if n in job.spec.params], target): (label, job)
                   for label, job in stale}
        for future in as_completed(futures):
            if future.cancelled():
                continue
            label, job = futures[future]
            if (error := future.exception()) is not None:
                failure = failure or error
                for other in futures:
                    other.cancel()  # those not started; started ones run to the end, their results stay valid
                continue
            seconds[job.spec.name] = future.result()
            echo(f"{label}: done in {future.result():.1f} s")
    if failure is not None:
        raise failure
    return seconds


THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")


def share_cores(processes: int) -> None:
    """Set what ``processes`` kernels at once inherit, unless the user set it: their share of the cores for OpenMP and
    BLAS, and OpenMP threads that sleep rather than spin while they wait. Torch in a kernel runs on the trainings'
    count (:func:`cpath_repro.notebook.start`) so that a page's numbers do not depend on ``--jobs``; with more
    threads than cores, spinning threads wait on each other (paper E's E-F1 ran 13 times slower)."""
    threads = str(max(1, (os.cpu_count() or 1) // processes))
    for variable in THREAD_VARIABLES:
        os.environ.setdefault(variable, threads)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def _execute_declared(name: str, profile: str, overrides: Sequence[tuple[str, str]], target: Path) -> float:
    """One notebook in a pool process: planned again there (a plan holds functions, which do not pickle)."""
    (job,) = plan([name], profile, overrides)
    t0 = time.perf_counter()
    execute(job, target, progress=False)
    return time.perf_counter() - t0


def status(names: Sequence[str], profile: str, overrides: Sequence[tuple[str, str]], run_dir: Path | None
           ) -> list[tuple[str, list[str]]]:
    """``(notebook, why it is stale)`` for each planned notebook, without executing anything (empty: up to date)."""
    from cpath_repro.project import default_run_dir

    target = Path(run_dir) if run_dir is not None else default_run_dir(profile)
    return [(job.spec.name, stale_reasons(job, target)) for job in plan(names, profile, overrides)]


def describe_reasons(reasons: Sequence[str]) -> str:
    """``"changed: module x, parameter y (1 -> 2)"``, or what is missing."""
    if reasons in (["never run here"], ["--force"]):
        return reasons[0]
    shown = ", ".join(reasons[:4]) + (f" and {len(reasons) - 4} more" if len(reasons) > 4 else "")
    return f"changed: {shown}"


def describe_params(spec: catalog.NotebookSpec) -> list[Mapping[str, str]]:
    """Rows for ``cpath-repro list``: name, type, default per profile, meaning."""
    from cpath_repro.profiles import PROFILES

    return [
        {"name": p.name, "type": p.type.__name__ if p.type is not Path else "path",
         **{prof: repr(p.default(prof)) for prof in PROFILES}, "doc": p.doc}
        for p in spec.params.values()
    ]
