"""Under torchrun, every rank trains but only rank 0 writes the model store and the results."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

SCRIPT = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    import torch
    from torch import nn
    from torch.utils.data import TensorDataset
    from cpath_repro import atomic
    from cpath_repro import catalog
    from cpath_repro.notebook import start
    from cpath_repro.train import distributed, store
    from cpath_repro.train.engine import TrainConfig, Trainer

    ctx = distributed.init("gloo")
    log = Path(sys.argv[2]) / f"writes-rank{ctx.rank}.txt"
    log.write_text("")
    for name in ("write_bytes", "write_text", "write_json"):  # record every atomic write this rank makes
        def spy(path, *args, _real=getattr(atomic, name), **kwargs):
            with open(log, "a") as fh:
                fh.write(f"{path}\\n")
            return _real(path, *args, **kwargs)
        setattr(atomic, name, spy)

    x = torch.randn(64, 4, generator=torch.Generator().manual_seed(0))
    y = (x[:, 0] > 0).long()

    def build():
        torch.manual_seed(0)
        return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))

    def train(model, work):
        history = Trainer(model, nn.CrossEntropyLoss(), TensorDataset(x, y), TrainConfig(2, 8, 0.1, seed=1),
                          checkpoint_dir=work, progress=False).fit()
        return {"history": history.epochs}

    stored = store.get(store.Recipe({"test": "ddp"}, build, train, "cpath_repro.train.engine"))
    run, _ = start("E-F2", {"profile": "ci", "run_dir": sys.argv[1], **dict.fromkeys(catalog.get("E-F2").params)})
    run.save_metrics(rank=ctx.rank)
    run.finish()
    weights = torch.cat([p.detach().flatten() for p in stored.model.parameters()])
    report = {"rank": ctx.rank, "key": stored.key, "weights": weights.tolist()}
    (Path(sys.argv[2]) / f"report-rank{ctx.rank}.json").write_text(json.dumps(report))  # stdout is shared
""")


def test_only_rank_zero_writes_the_store_and_results_and_the_others_load_them(tmp_path: Path):
    script = tmp_path / "ddp_store.py"
    script.write_text(SCRIPT)
    store_dir, run_dir = tmp_path / "store", tmp_path / "run"
    # TMPDIR: torchrun leaves a torchelastic_* folder in the temporary directory; this one is the test's own
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TMPDIR": str(tmp_path), "CPATH_REPRO_MODEL_STORE": str(store_dir)}
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port",
                           "29523", str(script), str(run_dir), str(tmp_path)], capture_output=True, text=True,
                          env=env, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    reports = [json.loads((tmp_path / f"report-rank{rank}.json").read_text()) for rank in (0, 1)]
    assert [r["rank"] for r in reports] == [0, 1]
    assert reports[0]["key"] == reports[1]["key"] and reports[0]["weights"] == reports[1]["weights"]
    assert (tmp_path / "writes-rank1.txt").read_text() == "", "rank 1 wrote nothing"
    assert (tmp_path / "writes-rank0.txt").read_text().count("model.pt") == 1
    stored = [p.name for p in store_dir.iterdir() if not p.name.startswith(".")]
    assert stored == [reports[0]["key"]]
    assert not list((store_dir / ".work").iterdir()) and not list((store_dir / ".staging").iterdir())
    manifest = json.loads((run_dir / "E-F2" / "manifest.json").read_text())
    assert manifest["metrics"] == {"rank": 0}
    assert not list((run_dir / ".staging").iterdir())
