"""The engine: determinism, resume after SIGKILL, DDP equivalence, the learning-rate rule, the store; optimizer
factories, schedulers, the epoch hook and the best checkpoint."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

from cpath_repro.train import store
from cpath_repro.train.distributed import scaled_lr
from cpath_repro.train.engine import (
    BEST,
    CHECKPOINT,
    Best,
    EpochHook,
    TrainConfig,
    Trainer,
    adam,
    load_checkpoint,
    sgd,
)

SCRIPT = textwrap.dedent("""
    import sys, json, time, torch
    from torch import nn
    from torch.utils.data import TensorDataset
    from cpath_repro.train.engine import Trainer, TrainConfig
    torch.manual_seed(0)
    x = torch.randn(512, 8); y = (x[:, 0] > 0).long()
    class Slow(nn.Module):
        def __init__(self):
            super().__init__(); self.net = nn.Sequential(nn.Linear(8, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 2))
        def forward(self, v):
            time.sleep(float(sys.argv[2]))
            return self.net(v + 0.1 * torch.randn_like(v))  # uses the RNG, like augmentation
    model = Slow()
    config = TrainConfig(epochs=6, batch_size=32, lr=0.1, seed=3)
    trainer = Trainer(model, nn.CrossEntropyLoss(), TensorDataset(x, y), config,
                      validate=lambda m: {"acc": float((m(x).argmax(1) == y).float().mean())},
                      checkpoint_dir=__import__("pathlib").Path(sys.argv[1]), progress=False)
    history = trainer.fit()
    print(json.dumps([e["val"]["acc"] for e in history.epochs] + [e["train_loss"] for e in history.epochs]))
""")


def _run(tmp: Path, delay: float) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", SCRIPT, str(tmp), str(delay)], stdout=subprocess.PIPE, text=True)


def test_resume_after_sigkill_gives_the_same_final_metrics(tmp_path: Path):
    reference = _run(tmp_path / "reference", 0.0).communicate()[0]
    interrupted = _run(tmp_path / "killed", 0.01)
    checkpoint = tmp_path / "killed" / CHECKPOINT
    deadline = time.time() + 120
    while time.time() < deadline:
        if checkpoint.exists() and int(load_checkpoint(checkpoint)["epoch"]) >= 1:
            break
        time.sleep(0.05)
    time.sleep(0.1)  # somewhere in the middle of the next epoch
    interrupted.send_signal(signal.SIGKILL)
    interrupted.wait()
    assert interrupted.returncode == -signal.SIGKILL
    epoch_at_kill = int(load_checkpoint(checkpoint)["epoch"])
    assert epoch_at_kill < 5, "the run was killed before it finished"
    resumed = _run(tmp_path / "killed", 0.0).communicate()[0]
    assert resumed == reference


def test_checkpoints_load_with_weights_only(tmp_path: Path):
    x, y = torch.randn(64, 4), torch.randint(0, 2, (64,))
    Trainer(nn.Linear(4, 2), nn.CrossEntropyLoss(), TensorDataset(x, y), TrainConfig(1, 16, 0.1),
            checkpoint_dir=tmp_path, progress=False).fit()
    state = torch.load(tmp_path / CHECKPOINT, weights_only=True)
    assert state["epoch"] == 0 and "torch_rng" in state


def test_same_seed_same_metrics():
    x, y = torch.randn(128, 4), torch.randint(0, 2, (128,))

    def fit() -> list[float]:
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
        history = Trainer(model, nn.CrossEntropyLoss(), TensorDataset(x, y), TrainConfig(3, 16, 0.1, seed=5),
                          progress=False).fit()
        return [e["train_loss"] for e in history.epochs]

    assert fit() == fit()


def test_learning_rate_rule_scales_with_processes():
    assert scaled_lr(0.001, 1) == 0.001
    assert scaled_lr(0.001, 15) == pytest.approx(0.015)
    with pytest.raises(ValueError):
        scaled_lr(0.001, 0)


DDP_SCRIPT = textwrap.dedent("""
    import os, sys, torch, torch.distributed as dist
    from torch import nn
    from cpath_repro.train import distributed
    ctx = distributed.init("gloo")
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 2, 1))
    x = torch.randn(8, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    y = torch.randint(0, 2, (8, 8, 8), generator=torch.Generator().manual_seed(2))
    ddp = distributed.wrap(model, ctx, torch.device("cpu"))
    opt = torch.optim.SGD(ddp.parameters(), lr=0.1)
    half = slice(ctx.rank * 4, ctx.rank * 4 + 4)
    nn.functional.cross_entropy(ddp(x[half]), y[half]).backward()
    opt.step()
    if ctx.rank == 0:
        torch.save(model.state_dict(), sys.argv[1])
    dist.destroy_process_group()
""")


def test_one_ddp_step_on_two_halves_equals_one_step_on_the_whole_batch(tmp_path: Path):
    script = tmp_path / "ddp.py"
    script.write_text(DDP_SCRIPT)
    out = tmp_path / "ddp.pt"
    # TMPDIR: torchrun leaves a torchelastic_* folder in the temporary directory; this one is the test's own
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TMPDIR": str(tmp_path)}
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
                           "--master-port", "29517", str(script), str(out)], capture_output=True, text=True, env=env,
                          timeout=180)
    assert proc.returncode == 0, proc.stderr[-2000:]
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 2, 1))
    x = torch.randn(8, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    y = torch.randint(0, 2, (8, 8, 8), generator=torch.Generator().manual_seed(2))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    nn.functional.cross_entropy(model(x), y).backward()
    opt.step()
    ddp_state = torch.load(out, weights_only=True)
    for name, value in model.state_dict().items():
        torch.testing.assert_close(ddp_state[name], value, rtol=1e-5, atol=1e-6)


RECIPE = "cpath_repro.train.engine"  # a package module standing in for a chapter's training recipe


def test_model_store_trains_once_then_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(store.STORE_ENV, str(tmp_path))
    calls = []

    def train(model: nn.Module, checkpoints: Path) -> dict:
        calls.append(checkpoints)
        with torch.no_grad():
            model.weight.fill_(0.5)
        return {"history": []}

    first = store.get(store.Recipe({"a": 1}, lambda: nn.Linear(2, 2), train, RECIPE))
    second = store.get(store.Recipe({"a": 1}, lambda: nn.Linear(2, 2), train, RECIPE))
    assert len(calls) == 1 and first.key == second.key and store.exists(first.key)
    assert torch.all(second.model.weight == 0.5)
    assert store.model_key({"a": 2}, RECIPE) != first.key


def test_paper_a_models_do_not_depend_on_what_ran_before(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from cpath_repro.chapters.paper_a import training as paper_a
    from cpath_repro.chapters.paper_a.settings import Settings

    s = Settings.of_profile("ci", tile=16, base=2, depth=1, epochs=1)
    weights = []
    for i, noise in enumerate((0, 5)):
        monkeypatch.setenv(store.STORE_ENV, str(tmp_path / str(i)))
        torch.manual_seed(noise)  # a different global RNG state before training
        torch.rand(noise)
        model = paper_a.train_arm("unet-multistain", 0, s, progress=False).model
        weights.append(next(model.parameters()).detach().clone())
    torch.testing.assert_close(weights[0], weights[1])


def test_adam_is_an_option_and_a_wrong_optimizer_is_one_sentence():
    x, y = torch.randn(64, 4), torch.randint(0, 2, (64,))
    trainer = Trainer(nn.Linear(4, 2), nn.CrossEntropyLoss(), TensorDataset(x, y),
                      TrainConfig(1, 16, 1e-3, optimizer="adam"), progress=False)
    assert isinstance(trainer.optimizer, torch.optim.Adam)
    with pytest.raises(ValueError, match="must be 'sgd' or 'adam'"):
        TrainConfig(1, 16, 0.1, optimizer="lbfgs")


def test_weighted_resampling_draws_in_proportion_to_the_weights():
    x, y = torch.arange(100.0)[:, None], torch.zeros(100, dtype=torch.long)
    seen: list[float] = []

    class Spy(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.linear = nn.Linear(1, 2)

        def forward(self, v: torch.Tensor) -> torch.Tensor:
            seen.extend(v[:, 0].tolist())
            return self.linear(v)

    weights = torch.zeros(100, dtype=torch.double)
    weights[:10] = 1.0  # only the first ten samples may be drawn
    Trainer(Spy(), nn.CrossEntropyLoss(), TensorDataset(x, y), TrainConfig(3, 20, 0.01), progress=False,
            sample_weights=weights).fit()
    assert len(seen) == 300 and set(seen) <= set(range(10)) and len(set(seen)) == 10


# --- pluggable optimizer, scheduler, epoch hook, best checkpoint --------------------------------------------------


class _Stop(Exception):
    """Raised by an epoch hook: an interruption right after that epoch's checkpoint."""


def _stop_after(epochs: int, then: EpochHook | None = None) -> EpochHook:
    def hook(epoch: int, record: dict, trainer: Trainer) -> None:
        if then is not None:
            then(epoch, record, trainer)
        if epoch == epochs:
            raise _Stop

    return hook


def _small_task() -> tuple[TensorDataset, nn.Module]:
    x = torch.randn(64, 4, generator=torch.Generator().manual_seed(0))
    y = (x[:, 0] > 0).long()
    torch.manual_seed(0)
    return TensorDataset(x, y), nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))


def test_scheduler_state_resumes_like_an_uninterrupted_run(tmp_path: Path) -> None:
    def run(checkpoints: Path, stop: int | None) -> tuple[list[float], nn.Module]:
        data, model = _small_task()
        lrs: list[float] = []

        def log_lr(epoch: int, record: dict, trainer: Trainer) -> None:
            lrs.append(trainer.optimizer.param_groups[0]["lr"])

        def trainer(hook: EpochHook) -> Trainer:
            return Trainer(model, nn.CrossEntropyLoss(), data, TrainConfig(5, 16, 0.1, seed=1), checkpoint_dir=checkpoints,
                           progress=False, scheduler=lambda opt: torch.optim.lr_scheduler.StepLR(opt, 2, 0.5),
                           on_epoch_end=hook)

        if stop is not None:
            with pytest.raises(_Stop):
                trainer(_stop_after(stop, log_lr)).fit()
        trainer(log_lr).fit()
        return lrs, model

    straight_lrs, straight = run(tmp_path / "straight", None)
    resumed_lrs, resumed = run(tmp_path / "resumed", 3)
    assert straight_lrs == pytest.approx([0.1, 0.05, 0.05, 0.025, 0.025]) and resumed_lrs == straight_lrs
    assert load_checkpoint(tmp_path / "resumed" / CHECKPOINT)["scheduler"]["last_epoch"] == 5
    for a, b in zip(straight.parameters(), resumed.parameters(), strict=True):
        assert torch.equal(a, b)


def test_best_checkpoint_holds_the_best_epochs_weights_and_survives_resume(tmp_path: Path) -> None:
    scripted = iter([0.2, 0.7, 0.4, 0.5, 0.6])  # best after epoch 2; epoch 4 would be the best of the resumed part
    weights: dict[int, dict[str, torch.Tensor]] = {}

    def keep(epoch: int, record: dict, trainer: Trainer) -> None:
        weights[epoch] = {k: v.clone() for k, v in trainer.module.state_dict().items()}

    data, model = _small_task()

    def trainer(hook: EpochHook) -> Trainer:
        return Trainer(model, nn.CrossEntropyLoss(), data, TrainConfig(5, 16, 0.1),
                       validate=lambda m: {"acc": next(scripted)}, checkpoint_dir=tmp_path, progress=False,
                       on_epoch_end=hook, best_metric="acc")

    with pytest.raises(_Stop):
        trainer(_stop_after(3, keep)).fit()
    resumed = trainer(keep)
    resumed.fit()
    best = torch.load(tmp_path / BEST, weights_only=True)
    assert (best["metric"], best["value"], best["epoch"]) == ("acc", 0.7, 2)
    assert load_checkpoint(tmp_path / CHECKPOINT)["best"] == {"metric": "acc", "value": 0.7, "epoch": 2}
    assert not torch.equal(weights[2]["2.weight"], weights[5]["2.weight"])
    for name, value in weights[2].items():
        assert torch.equal(best["model"][name], value)
    assert resumed.load_best() == Best("acc", 0.7, 2)
    for name, value in model.state_dict().items():
        assert torch.equal(value, weights[2][name])


def test_best_mode_min_keeps_the_lowest_in_memory_and_bad_settings_are_one_sentence() -> None:
    scripted = iter([3.0, 1.0, 2.0])
    data, model = _small_task()
    kept: dict[int, torch.Tensor] = {}
    trainer = Trainer(model, nn.CrossEntropyLoss(), data, TrainConfig(3, 16, 0.1),
                      validate=lambda m: {"loss": next(scripted)}, progress=False, best_metric="loss", best_mode="min",
                      on_epoch_end=lambda e, r, t: kept.__setitem__(e, t.module.state_dict()["0.weight"].clone()))
    trainer.fit()
    assert not torch.equal(kept[2], kept[3])
    assert trainer.load_best() == Best("loss", 1.0, 2) and torch.equal(model.state_dict()["0.weight"], kept[2])
    with pytest.raises(ValueError, match="best_mode must be 'max' or 'min', got 'highest'"):
        Trainer(model, nn.CrossEntropyLoss(), data, TrainConfig(1, 16, 0.1), validate=lambda m: {}, best_metric="a",
                best_mode="highest")
    with pytest.raises(ValueError, match="needs a validate function"):
        Trainer(model, nn.CrossEntropyLoss(), data, TrainConfig(1, 16, 0.1), best_metric="acc")
    with pytest.raises(ValueError, match="there is no best epoch"):
        Trainer(model, nn.CrossEntropyLoss(), data, TrainConfig(1, 16, 0.1), progress=False).load_best()


def test_epoch_hook_is_called_once_per_epoch_after_the_checkpoint(tmp_path: Path) -> None:
    data, model = _small_task()
    calls: list[tuple[int, dict, int]] = []

    def hook(epoch: int, record: dict, trainer: Trainer) -> None:
        calls.append((epoch, record, int(load_checkpoint(tmp_path / CHECKPOINT)["epoch"])))

    history = Trainer(model, nn.CrossEntropyLoss(), data, TrainConfig(3, 16, 0.1), checkpoint_dir=tmp_path,
                      progress=False, on_epoch_end=hook).fit()
    assert [(e, saved) for e, _, saved in calls] == [(1, 0), (2, 1), (3, 2)]
    assert [record for _, record, _ in calls] == history.epochs


def test_an_optimizer_factory_replaces_sgd_and_gets_the_config() -> None:
    data, model = _small_task()
    trainer = Trainer(model, nn.CrossEntropyLoss(), data, TrainConfig(2, 16, 0.01), progress=False,
                      optimizer=lambda params, cfg: torch.optim.RMSprop(params, lr=cfg.lr, alpha=0.9))
    trainer.fit()
    assert isinstance(trainer.optimizer, torch.optim.RMSprop) and trainer.optimizer.param_groups[0]["lr"] == 0.01
    assert [sorted(trainer.optimizer.state[p]) for p in model.parameters()] == [["square_avg", "step"]] * 4
    assert all(int(trainer.optimizer.state[p]["step"]) == 8 for p in model.parameters())  # 2 epochs x 4 batches
    with pytest.raises(ValueError, match="either TrainConfig.optimizer='adam' or an optimizer factory"):
        Trainer(model, nn.CrossEntropyLoss(), data, TrainConfig(1, 16, 0.1, optimizer="adam"), optimizer=sgd)


def test_the_built_in_optimizers_are_the_factories_sgd_and_adam() -> None:
    data, _ = _small_task()

    def losses(**kwargs: Any) -> list[float]:
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
        config = TrainConfig(2, 16, kwargs.pop("lr"), weight_decay=1e-3, **kwargs.pop("config", {}))
        history = Trainer(model, nn.CrossEntropyLoss(), data, config, progress=False, **kwargs).fit()
        return [e["train_loss"] for e in history.epochs]

    assert losses(lr=0.1) == losses(lr=0.1, optimizer=sgd)
    assert losses(lr=1e-3, config={"optimizer": "adam"}) == losses(lr=1e-3, optimizer=adam)


def test_checkpoint_every_writes_less_often_and_a_resumed_run_still_ends_where_an_uninterrupted_one_does(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from cpath_repro.train import engine

    writes: list[str] = []
    save = engine._save
    monkeypatch.setattr(engine, "_save", lambda path, state: (writes.append(path.name), save(path, state)))

    def run(checkpoints: Path, stop: int | None) -> nn.Module:
        data, model = _small_task()
        scripted = iter([0.1, 0.5, 0.3, 0.9, 0.2] * 2)

        def trainer(hook: EpochHook | None) -> Trainer:
            return Trainer(model, nn.CrossEntropyLoss(), data, TrainConfig(5, 16, 0.1, seed=4), checkpoint_dir=checkpoints,
                           progress=False, validate=lambda m: {"acc": next(scripted)}, best_metric="acc",
                           checkpoint_every=2, on_epoch_end=hook)

        if stop is not None:
            with pytest.raises(_Stop):
                trainer(_stop_after(stop)).fit()
            assert load_checkpoint(checkpoints / CHECKPOINT)["epoch"] == 1  # epoch 2's; epoch 3 was not written
            scripted = iter([0.3, 0.9, 0.2])  # the validations of epochs 3-5 again
        trainer(None).fit()
        return model

    whole = run(tmp_path / "whole", None)
    assert writes == [BEST, CHECKPOINT, BEST, CHECKPOINT, CHECKPOINT]  # after epochs 2, 4 and the last (5)
    resumed = run(tmp_path / "resumed", 3)
    for (name, a), b in zip(whole.state_dict().items(), resumed.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    assert load_checkpoint(tmp_path / "resumed" / BEST)["epoch"] == 4
    with pytest.raises(ValueError, match="checkpoint_every must be at least 1"):
        Trainer(whole, nn.CrossEntropyLoss(), _small_task()[0], TrainConfig(1, 16, 0.1), checkpoint_every=0)
