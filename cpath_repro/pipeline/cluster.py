"""The book's trainings as Dask tasks: on a local cluster, a multi-GPU node or a SLURM cluster.

Notebooks run beside the cluster, from the process that runs ``cpath-repro run`` (a kernel cannot wait on tasks
of a worker it occupies); only trainings are tasks. A kernel's :func:`cpath_repro.train.store.ensure` sends the
models it is missing to the scheduler that ``$CPATH_REPRO_SCHEDULER`` names (:func:`train`), each task keyed by its
model's store key, so two notebooks that need one model share one task, and waits for them. A task trains through
the store's own :func:`~cpath_repro.train.store.make`: a lock per key, the checkpoints it resumes from, an entry
that appears whole or not at all. So a worker killed midway leaves nothing that reads as complete, and Dask gives
the task to another worker, which resumes from the checkpoints.

:func:`for_run` is the driver's side: a ``LocalCluster`` for ``run --jobs N`` (or a client of ``--scheduler``),
the variables the kernels inherit, a progress bar over the tasks and the count per chapter. :func:`gpu_node` and
:func:`slurm` are the recipes for the clusters this machine does not have (``dask-cuda``, ``dask-jobqueue``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from distributed.diagnostics.plugin import SchedulerPlugin

from cpath_repro.errors import UserError
from cpath_repro.project import environment
from cpath_repro.train import store

if TYPE_CHECKING:
    from distributed import Client

#: Where each training task writes its output: ``RUN_DIR/logs/trainings`` (set by ``cpath-repro run``)
LOGS_ENV = "CPATH_REPRO_TASK_LOGS"
#: Task keys start with it; the rest is the chapter and the store key (the dashboard groups by chapter)
PREFIX = "train"
#: Seconds to reach a scheduler before saying it does not answer
CONNECT_TIMEOUT = 30
#: What every worker needs (the local cluster's and the recipes'). Not to be a daemon: a training's DataLoader starts
#: processes of its own. And glibc's own malloc: Dask sets MALLOC_TRIM_THRESHOLD_ for the processes its nannies
#: spawn, which turns off glibc's dynamic mmap threshold, so every tensor over 128 KiB is mapped and unmapped again;
#: paper A's UNET trained at half speed on such a worker (5.4 s an epoch against 2.5 s in a kernel, the difference
#: spent in the kernel's page faults). A value of None unsets it.
WORKER_CONFIG = {"distributed.worker.daemon": False,
                 "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}
#: The local cluster's scheduler gives a worker one task at a time, so that "running" on the bar means running
ONE_AT_A_TIME = {"distributed.scheduler.worker-saturation": 1.0}


def chapter(recipe: store.Recipe) -> str:
    """The chapter (or shared module) a recipe belongs to: ``paper_a`` for ``cpath_repro.chapters.paper_a.training``,
    ``pretraining`` for ``cpath_repro.transfer.pretraining``."""
    parts = recipe.module.split(".")
    return parts[parts.index("chapters") + 1] if "chapters" in parts[:-1] else parts[-1]


def task_key(recipe: store.Recipe) -> str:
    return f"{PREFIX}-{chapter(recipe)}-{recipe.key}"


# -- the kernel's side: missing models as tasks -------------------------------------------------------------------


@lru_cache(maxsize=4)
def client_of(address: str) -> Client:
    """One client per scheduler for the process's lifetime (a notebook asks several times)."""
    from distributed import Client

    try:
        return Client(address, timeout=CONNECT_TIMEOUT, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise UserError(f"No Dask scheduler answers at {address} ({type(exc).__name__}); start one, or run without "
                        f"${store.SCHEDULER_ENV} / --scheduler to train here.") from None


def _asks_for(client: Client) -> dict[str, float]:
    """The resources a training asks for: one GPU where the workers declare GPUs, nothing otherwise. Refuses workers
    that run several tasks at once: torch's thread count is per process, so two trainings in one would share it."""
    try:
        workers = client.scheduler_info(n_workers=-1)["workers"]
    except TypeError:  # versions whose scheduler_info lists every worker without being asked
        workers = client.scheduler_info()["workers"]
    crowded = sorted(w.get("name", a) for a, w in workers.items() if w.get("nthreads", 1) > 1)
    if crowded:
        raise UserError(f"Dask worker(s) {', '.join(map(str, crowded))} run several tasks at once; start workers with "
                        "one thread each (--nthreads 1): a training sets the torch thread count of its whole process.")
    return {"GPU": 1} if any(w.get("resources", {}).get("GPU") for w in workers.values()) else {}


def train(recipes: Sequence[store.Recipe]) -> None:
    """Train ``recipes`` (missing models, each after the ones it starts from) as tasks on the scheduler of
    ``$CPATH_REPRO_SCHEDULER``, and wait for them; a failed one is one sentence naming the model."""
    client = client_of(os.environ[store.SCHEDULER_ENV])
    resources = _asks_for(client)
    threads = store.threads()  # this process's choice travels with the task: the same count wherever it runs
    logs = os.environ.get(LOGS_ENV)
    futures: dict[str, Any] = {}
    for recipe in recipes:
        after = [futures[need.key] for need in recipe.needs if need.key in futures]
        futures[recipe.key] = client.submit(_task, recipe, threads, str(store.store_root()), logs, *after,
                                            key=task_key(recipe), resources=resources or None, pure=False)
    client.gather(list(futures.values()), errors="skip")  # waits for every one, failed or not
    for key, future in futures.items():
        if future.status != "finished":
            error = future.exception()
            raise UserError(f"Training model {key} on the Dask cluster failed: {type(error).__name__}: {error}")


def _task(recipe: store.Recipe, threads: int, store_root: str, logs: str | None, *after: str) -> str:
    """One training on a worker (one task at a time per worker process) with the store and thread count of the
    process that asked, never sending what it starts from to the cluster again (it trains here if missing); its
    output to ``logs/<task key>.log`` when a run directory was given."""
    with contextlib.ExitStack() as stack:
        stack.enter_context(environment({store.STORE_ENV: store_root, store.THREADS_ENV: str(threads),
                                         store.SCHEDULER_ENV: None}))
        if logs is not None:
            path = Path(logs) / f"{task_key(recipe)}.log"
            path.parent.mkdir(parents=True, exist_ok=True)
            out = stack.enter_context(open(path, "a", encoding="utf-8"))
            stack.enter_context(contextlib.redirect_stdout(out))
            stack.enter_context(contextlib.redirect_stderr(out))
        print(f"training model {recipe.key} ({recipe.module}) on {threads} torch thread(s)", flush=True)
        store.make(recipe)
        print("stored", flush=True)
    return recipe.key


# -- the driver's side: a cluster for a run, its progress ------------------------------------------------------------


class Progress(SchedulerPlugin):
    """Each training task's last state on the scheduler (waiting, running, done, failed), kept after the kernel that
    asked lets it go, so that the driver can draw a bar and count the tasks per chapter."""

    name = "cpath-repro-progress"

    def __init__(self) -> None:
        self.states: dict[str, str] = {}

    def transition(self, key: Any, start: str, finish: str, *args: Any, **kwargs: Any) -> None:
        if not str(key).startswith(PREFIX + "-"):
            return
        state = {"processing": "running", "memory": "done", "erred": "failed"}.get(finish)
        if state is None and self.states.get(str(key)) not in ("done", "failed") and finish != "forgotten":
            state = "waiting"
        if state is not None:
            self.states[str(key)] = state


def _states(dask_scheduler: Any) -> dict[str, str]:
    plugin = dask_scheduler.plugins.get(Progress.name)
    return dict(plugin.states) if plugin is not None else {}


def summary(states: dict[str, str]) -> dict[str, Counter[str]]:
    """``{chapter: Counter(state)}`` of the tasks the scheduler has seen."""
    out: dict[str, Counter[str]] = {}
    for key, state in states.items():
        out.setdefault(key.split("-")[1], Counter())[state] += 1
    return dict(sorted(out.items()))


def describe(per_chapter: dict[str, Counter[str]]) -> str:
    """``paper_a 4/15 (1 running, 10 waiting), paper_b ...``: done of seen per chapter."""
    def state(c: Counter[str]) -> str:
        parts = [f"{c[s]} {s}" for s in ("running", "waiting", "failed") if c[s]]
        return f" ({', '.join(parts)})" if parts else ""

    return ", ".join(f"{name} {c['done']}/{sum(c.values())}{state(c)}" for name, c in per_chapter.items())


@dataclass
class RunCluster:
    """A run's cluster as the driver sees it: its client and the training tasks seen so far."""

    client: Client
    stopping: threading.Event = field(default_factory=threading.Event)

    def states(self) -> dict[str, str]:
        try:
            return self.client.run_on_scheduler(_states)
        except Exception:  # a scheduler that went away answers nothing more: the run reports its own failure
            return {}

    def watch(self, interval: float = 1.0) -> threading.Thread:
        """A bar over the training tasks (done of seen, with the chapters' counts) on stderr, until the run ends."""
        from tqdm import tqdm

        def draw() -> None:
            with tqdm(total=0, desc="trainings", unit="task", file=sys.stderr, dynamic_ncols=True) as bar:
                while True:
                    last = self.stopping.wait(interval)
                    per_chapter = summary(self.states())
                    bar.total = sum(sum(c.values()) for c in per_chapter.values())
                    bar.n = sum(c["done"] for c in per_chapter.values())
                    bar.set_postfix_str(describe(per_chapter), refresh=True)
                    if last:
                        return

        thread = threading.Thread(target=draw, name="cpath-repro-progress", daemon=True)
        thread.start()
        return thread


def local_workers(jobs: int, threads: int) -> int:
    """Workers of ``run --jobs N``'s local cluster: N, but no more than the cores hold at ``threads`` each."""
    return max(1, min(jobs, (os.cpu_count() or 1) // threads))


@contextlib.contextmanager
def for_run(jobs: int, scheduler: str | None, run_dir: Path, echo: Any, progress: bool,
            dashboard_address: str = ":8787") -> Iterator[RunCluster]:
    """The cluster a run's trainings go to: the scheduler at ``scheduler``, or a ``LocalCluster`` of
    :func:`local_workers` non-daemonic workers, one task each. Kernels started inside inherit its address, the
    training thread count and the log folder; the bar runs while they do; the count per chapter is echoed at the end."""
    import dask
    from distributed import Client, LocalCluster

    threads = store.threads()
    with contextlib.ExitStack() as stack:
        stack.enter_context(_quiet("distributed"))  # the scheduler's and workers' INFO lines drown the run's own
        if scheduler is None:
            stack.enter_context(dask.config.set({**WORKER_CONFIG, **ONE_AT_A_TIME}))
            workers = local_workers(jobs, threads)
            # memory_limit=0: the kernels share this machine's memory with the workers, so Dask's per-worker share
            # is the wrong budget; the operating system arbitrates.
            with _ctrl_c_here_only():
                local = stack.enter_context(LocalCluster(
                    n_workers=workers, threads_per_worker=1, processes=True, memory_limit=0,
                    dashboard_address=dashboard_address, env={v: str(threads) for v in ("OMP_NUM_THREADS",
                                                                                         "MKL_NUM_THREADS")}))
            address = local.scheduler_address
            echo(f"trainings: a local Dask cluster of {workers} worker(s), {threads} torch thread(s) per training")
        else:
            address = scheduler
        client = client_of(address) if scheduler is not None else stack.enter_context(
            Client(address, set_as_default=False))
        try:
            client.register_plugin(Progress(), name=Progress.name)
        except Exception as exc:  # a scheduler elsewhere that cannot import cpath_repro: the run goes on without a bar
            echo(f"the scheduler cannot load the progress plugin ({type(exc).__name__}): no bar over the trainings")
        link = client.dashboard_link if client.scheduler_info().get("services", {}).get("dashboard") else None
        echo(f"trainings go to the Dask scheduler at {address}" + (f"; dashboard: {link}" if link else ""))
        cluster = RunCluster(client)
        stack.enter_context(environment({store.SCHEDULER_ENV: address, store.THREADS_ENV: str(threads),
                                          LOGS_ENV: str(run_dir / "logs" / "trainings")}))
        watcher = cluster.watch() if progress else None
        try:
            yield cluster
        finally:
            cluster.stopping.set()
            if watcher is not None:
                watcher.join(timeout=10)
            per_chapter = summary(cluster.states())
            if per_chapter:
                echo("training tasks per chapter: " + describe(per_chapter))


@contextlib.contextmanager
def _ctrl_c_here_only() -> Iterator[None]:
    """Start processes that ignore SIGINT (they inherit it): Ctrl-C reaches the whole foreground process group, and
    only ``run`` should answer it, by closing the cluster; each Dask worker printed its own traceback."""
    if threading.current_thread() is not threading.main_thread():  # only the main thread may set a handler
        yield
        return
    before = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, before)


@contextlib.contextmanager
def _quiet(name: str) -> Iterator[None]:
    logger = logging.getLogger(name)
    before = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(before)


# -- recipes for the clusters people run ---------------------------------------------------------------------------



def worker_prologue() -> tuple[str, ...]:
    """The shell line that gives a worker started elsewhere :data:`WORKER_CONFIG` (Dask's own way to pass
    configuration to the processes it starts: ``DASK_INTERNAL_INHERIT_CONFIG``; environment variables named
    ``DASK_*`` would lose the case of ``MALLOC_TRIM_THRESHOLD_``)."""
    import dask.config

    return (f"export DASK_INTERNAL_INHERIT_CONFIG={dask.config.serialize(WORKER_CONFIG)}",)


def gpu_node(**kwargs: Any) -> Any:
    """A multi-GPU node: ``dask-cuda``'s ``LocalCUDACluster``, one worker per GPU (pinned by
    ``CUDA_VISIBLE_DEVICES``), each declaring one ``GPU`` resource (dask-cuda declares none, and a task that asks
    for one would wait forever) and running one task at a time. Needs the ``gpu`` extra."""
    import dask

    try:
        from dask_cuda import LocalCUDACluster
    except ImportError:
        raise UserError("The GPU-node cluster needs dask-cuda: pip install -e '.[gpu]'.") from None
    with dask.config.set(WORKER_CONFIG):
        return LocalCUDACluster(threads_per_worker=1, resources={"GPU": 1}, **kwargs)


def slurm(*, gpus_per_job: int = 1, cpus_per_job: int = 8, memory: str = "32GB", walltime: str = "24:00:00",
          queue: str | None = None, account: str | None = None, prologue: Sequence[str] = (), **kwargs: Any) -> Any:
    """A SLURM cluster (``dask-jobqueue``'s ``SLURMCluster``): each job one worker with ``gpus_per_job`` GPUs
    (``--gres``), ``cpus_per_job`` cores for its torch threads (set ``CPATH_REPRO_TRAIN_THREADS`` to match) and
    ``memory``, declaring its GPUs as resources, running one task at a time. ``prologue`` lines run before the
    worker (activate the environment, export the shared store's path). Scale it with ``cluster.scale(jobs=N)``.
    Needs the ``slurm`` extra."""
    try:
        from dask_jobqueue import SLURMCluster
    except ImportError:
        raise UserError("The SLURM cluster needs dask-jobqueue: pip install -e '.[slurm]'.") from None
    return SLURMCluster(
        cores=1, processes=1, job_cpu=cpus_per_job, memory=memory, walltime=walltime, queue=queue, account=account,
        job_extra_directives=[f"--gres=gpu:{gpus_per_job}"] if gpus_per_job else [],
        worker_extra_args=["--resources", f"GPU={gpus_per_job}"] if gpus_per_job else [],
        job_script_prologue=[*worker_prologue(), *prologue], **kwargs)
