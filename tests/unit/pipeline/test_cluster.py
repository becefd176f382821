"""Trainings as Dask tasks: keyed by store key, on non-daemonic one-task workers, at the thread count of the process
that asked; a worker killed mid-training leaves nothing complete-looking and its task's retry ends where an
uninterrupted training ends; the GPU and SLURM recipes declare what their workers need."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from cpath_repro.errors import UserError
from cpath_repro.pipeline import cluster
from cpath_repro.project import environment
from cpath_repro.train import store
from cpath_repro.train.engine import TrainConfig, Trainer

distributed = pytest.importorskip("distributed")

RECIPE_MODULE = "cpath_repro.train.engine"


def slow_recipe(tag: str, epochs: int = 6, pause: float = 0.0) -> store.Recipe:
    """A small model trained by the engine with a checkpoint every epoch (``pause`` seconds each, to be caught
    midway); its data depend on the seed alone."""

    def build() -> nn.Module:
        torch.manual_seed(0)
        return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2))

    def train(model: nn.Module, work: Path) -> dict[str, Any]:
        g = torch.Generator().manual_seed(1)
        x = torch.randn(256, 8, generator=g)
        data = torch.utils.data.TensorDataset(x, (x.sum(1) > 0).long())

        def hook(epoch: int, record: dict[str, Any], trainer: Trainer) -> None:
            time.sleep(pause)

        trainer = Trainer(model, nn.functional.cross_entropy, data, TrainConfig(epochs=epochs, batch_size=32, lr=0.05,
                                                                               seed=3),
                          checkpoint_dir=work, progress=False, on_epoch_end=hook)
        return {"history": trainer.fit().epochs}

    return store.Recipe({"test": "cluster", "tag": tag, "epochs": epochs}, build, train, RECIPE_MODULE)


@pytest.fixture
def local(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[distributed.Client]:
    """The local cluster ``run --jobs 2`` starts (two one-thread workers at one training thread each), with the store
    in ``tmp_path``; its client."""
    monkeypatch.setenv(store.STORE_ENV, str(tmp_path / "store"))
    monkeypatch.setenv(store.THREADS_ENV, "1")
    said: list[str] = []
    with cluster.for_run(2, None, tmp_path / "run", said.append, progress=False, dashboard_address=":0") as started:
        assert os.environ[store.SCHEDULER_ENV] == started.client.scheduler.address
        assert os.environ[cluster.LOGS_ENV] == str(tmp_path / "run" / "logs" / "trainings")
        assert said[0] == "trainings: a local Dask cluster of 2 worker(s), 1 torch thread(s) per training"
        assert "; dashboard: http://" in said[1]
        yield started.client
    assert store.SCHEDULER_ENV not in os.environ, "the run's cluster is gone: kernels started later train here"
    cluster.client_of.cache_clear()


def _weights(key: str) -> dict[str, torch.Tensor]:
    return torch.load(store.store_root() / key / store.WEIGHTS, weights_only=True)


def test_missing_models_train_as_tasks_keyed_by_store_key_and_log_to_the_run(local: Any, tmp_path: Path):
    source = slow_recipe("source", epochs=2)
    tuned = store.Recipe({"test": "tuned", "from": source.key}, lambda: store.get(source).model,
                         source.train, RECIPE_MODULE, (source,))
    assert store.missing([tuned]) == [source, tuned]  # what it starts from first
    store.ensure([tuned, source])
    assert store.exists(source.key) and store.exists(tuned.key) and not store.missing([tuned])
    logs = sorted(p.name for p in (tmp_path / "run" / "logs" / "trainings").iterdir())
    assert logs == sorted(f"{cluster.task_key(r)}.log" for r in (source, tuned))
    assert cluster.task_key(source) == f"train-engine-{source.key}"
    meta = store.get(tuned).meta
    assert meta["threads"] == 1


def test_workers_are_not_daemons_and_keep_glibcs_malloc(local: Any):
    """A training's DataLoader can start processes; Dask's MALLOC_TRIM_THRESHOLD_ (which made every large tensor a
    fresh mmap, and the training twice as slow) is not set."""
    def worker() -> tuple[bool, str | None]:
        return multiprocessing.current_process().daemon, os.environ.get("MALLOC_TRIM_THRESHOLD_")

    assert set(local.run(worker).values()) == {(False, None)}


def test_a_worker_killed_mid_training_leaves_no_complete_entry_and_the_retry_trains_the_same_model(
        local: Any, tmp_path: Path):
    recipe = slow_recipe("killed", pause=0.4)
    future = local.submit(cluster._task, recipe, 1, str(store.store_root()), None, key=cluster.task_key(recipe),
                          pure=False)
    checkpoint = store.store_root() / ".work" / recipe.key / "last.pt"
    deadline = time.monotonic() + 120
    while not checkpoint.exists():
        assert time.monotonic() < deadline and not future.done(), "the training never wrote a checkpoint"
        time.sleep(0.05)
    (worker,) = [addr for addr, keys in local.processing().items() if keys]
    os.kill(local.run(os.getpid, workers=[worker])[worker], signal.SIGKILL)
    assert not store.exists(recipe.key), "a killed training must not leave an entry that reads as complete"
    assert future.result(timeout=180) == recipe.key  # Dask gave the task to a worker again; it resumed
    resumed = _weights(recipe.key)

    with environment({store.STORE_ENV: str(tmp_path / "uninterrupted"), store.SCHEDULER_ENV: None}):
        store.ensure([slow_recipe("killed")])  # the same model, trained here without a stop
        assert all(torch.equal(resumed[k], v) for k, v in _weights(recipe.key).items())


def test_a_gpu_cluster_gets_trainings_that_ask_for_one_gpu_each(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The GPU-node recipe's workers declare GPU=1 (dask-cuda declares none); a LocalCluster with the same
    resources runs the tasks that ask for it."""
    import dask

    monkeypatch.setenv(store.STORE_ENV, str(tmp_path / "store"))
    with dask.config.set(cluster.WORKER_CONFIG), distributed.LocalCluster(
            n_workers=1, threads_per_worker=1, resources={"GPU": 1}, dashboard_address=":0", memory_limit=0) as lc:
        monkeypatch.setenv(store.SCHEDULER_ENV, lc.scheduler_address)
        client = cluster.client_of(lc.scheduler_address)
        try:
            assert cluster._asks_for(client) == {"GPU": 1}
            recipe = slow_recipe("gpu", epochs=1)
            store.ensure([recipe])
            assert store.exists(recipe.key)
        finally:
            client.close()
            cluster.client_of.cache_clear()


def test_workers_that_run_several_tasks_at_once_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(store.STORE_ENV, str(tmp_path / "store"))
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=":0") as lc:
        monkeypatch.setenv(store.SCHEDULER_ENV, lc.scheduler_address)
        try:
            with pytest.raises(UserError, match=r"run several tasks at once; start workers with one thread each"):
                store.ensure([slow_recipe("crowded", epochs=1)])
        finally:
            cluster.client_of(lc.scheduler_address).close()
            cluster.client_of.cache_clear()


def test_no_scheduler_at_the_address_is_one_sentence(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(cluster, "CONNECT_TIMEOUT", 1)
    with pytest.raises(UserError, match=r"^No Dask scheduler answers at tcp://127\.0\.0\.1:9 \("):
        cluster.client_of("tcp://127.0.0.1:9")


def test_the_progress_plugin_keeps_each_training_task_last_state():
    plugin = cluster.Progress()
    a, b, other = "train-paper_a-0123abcd", "train-paper_b-4567ef01", "sum-123"
    for key, start, finish in [(a, "released", "waiting"), (a, "waiting", "processing"), (a, "processing", "memory"),
                               (a, "memory", "released"), (a, "released", "forgotten"), (b, "released", "waiting"),
                               (other, "released", "waiting")]:
        plugin.transition(key, start, finish)
    assert plugin.states == {a: "done", b: "waiting"}
    assert cluster.describe(cluster.summary(plugin.states)) == "paper_a 1/1, paper_b 0/1 (1 waiting)"


def test_the_slurm_recipe_asks_for_gpus_memory_and_one_task_per_non_daemonic_worker():
    import dask.config

    pytest.importorskip("dask_jobqueue")
    with cluster.slurm(gpus_per_job=2, cpus_per_job=8, memory="32GB", queue="gpu", account="lab",
                       prologue=["source .venv/bin/activate"]) as slurm:
        script = slurm.job_script()
    assert "#SBATCH --gres=gpu:2" in script
    assert "#SBATCH --cpus-per-task=8" in script
    assert "#SBATCH --mem=30G" in script
    assert "#SBATCH -p gpu" in script and "#SBATCH -A lab" in script
    (inherit,) = [line.split("=", 1)[1] for line in script.splitlines() if "DASK_INTERNAL_INHERIT_CONFIG=" in line]
    assert dask.config.deserialize(inherit) == cluster.WORKER_CONFIG and "source .venv/bin/activate" in script
    command = script.strip().splitlines()[-1]
    assert "distributed.cli.dask_worker" in command
    assert "--nthreads 1" in command and "--resources GPU=2" in command


def test_the_gpu_node_recipe_names_its_extra_when_dask_cuda_is_missing():
    try:
        import dask_cuda  # noqa: F401
    except ImportError:
        with pytest.raises(UserError, match=r"needs dask-cuda: pip install -e '\.\[gpu\]'"):
            cluster.gpu_node()
    else:
        pytest.skip("dask-cuda is installed: the recipe would start a cluster on this machine's GPUs")


def test_local_workers_fit_the_cores_at_the_training_thread_count(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 16)
    assert [cluster.local_workers(jobs, threads) for jobs, threads in [(2, 1), (8, 4), (2, 16), (1, 1)]] == [2, 4, 1, 1]


def test_environment_sets_and_unsets_for_the_block_then_restores(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CPATH_REPRO_TEST_A", "before")
    monkeypatch.delenv("CPATH_REPRO_TEST_B", raising=False)
    with pytest.raises(RuntimeError), environment({"CPATH_REPRO_TEST_A": None, "CPATH_REPRO_TEST_B": "during"}):
        assert "CPATH_REPRO_TEST_A" not in os.environ and os.environ["CPATH_REPRO_TEST_B"] == "during"
        raise RuntimeError("the block fails")
    assert os.environ["CPATH_REPRO_TEST_A"] == "before" and "CPATH_REPRO_TEST_B" not in os.environ
