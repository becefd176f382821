"""Notebooks running at once share the model store: one trains a model they both need, the other waits and loads
it; a lock held by a killed process is free again."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

from cpath_repro import atomic

RACER = textwrap.dedent("""
    import json, os, sys, time
    from pathlib import Path
    import torch
    from torch import nn
    from cpath_repro.train import store

    out = Path(sys.argv[1])
    while not (out / "go").exists():  # both racers start their request at the same moment
        time.sleep(0.01)

    def build():
        torch.manual_seed(0)
        return nn.Linear(4, 2)

    def train(model, work):
        with open(out / "trainings.txt", "a") as fh:
            fh.write(f"{os.getpid()}\\n")
        time.sleep(1.0)  # long enough for the other racer to arrive while this one trains
        with torch.no_grad():
            model.weight.add_(float(os.getpid()))  # a second training would store different weights
        return {"history": []}

    stored = store.get(store.Recipe({"test": "race"}, build, train, "cpath_repro.train.engine"))
    weights = [float(v) for v in stored.model.weight.flatten()]
    (out / f"report-{os.getpid()}.json").write_text(json.dumps({"key": stored.key, "weights": weights}))
""")


def test_two_processes_that_need_one_model_train_it_once_and_load_the_same_weights(tmp_path: Path):
    script = tmp_path / "racer.py"
    script.write_text(RACER)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CPATH_REPRO_MODEL_STORE": str(tmp_path / "store")}
    racers = [subprocess.Popen([sys.executable, str(script), str(tmp_path)], env=env, stderr=subprocess.PIPE, text=True)
              for _ in range(2)]
    (tmp_path / "go").write_text("")
    for racer in racers:
        _, err = racer.communicate(timeout=300)
        assert racer.returncode == 0, err[-2000:]
    assert len((tmp_path / "trainings.txt").read_text().split()) == 1
    reports = [json.loads(p.read_text()) for p in sorted(tmp_path.glob("report-*.json"))]
    assert len(reports) == 2 and reports[0] == reports[1]


def test_a_lock_held_by_a_killed_process_can_be_taken(tmp_path: Path):
    lock, held = tmp_path / "locks" / "key", tmp_path / "held"
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import time
        from pathlib import Path
        from cpath_repro import atomic
        with atomic.exclusive(Path({str(lock)!r})):
            Path({str(held)!r}).write_text("")
            time.sleep(600)
    """)])
    try:
        while not held.exists():
            assert holder.poll() is None, "the holder died before taking the lock"
            time.sleep(0.05)
        taken = threading.Event()

        def take() -> None:
            with atomic.exclusive(lock):
                taken.set()

        waiter = threading.Thread(target=take, daemon=True)
        waiter.start()
        assert not taken.wait(0.5)  # held: the waiter waits
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        assert taken.wait(60)  # a deadlock guard, not a timing: the lock is free once its holder is dead
    finally:
        if holder.poll() is None:
            holder.kill()
