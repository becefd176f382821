"""Paper B's optimizers: RMSGD checkpoints that load with weights_only and resume exactly; AdamP."""

from __future__ import annotations

import functools
import io
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from adamp import AdamP
from rmsgd import RMSGD
from rmsgd.metrics import Metrics
from torch import nn
from torch.utils.data import TensorDataset

from cpath_repro.train import optimizers
from cpath_repro.train.engine import CHECKPOINT, EpochHook, TrainConfig, Trainer, load_checkpoint

CONFIG = TrainConfig(4, 16, optimizers.RMSGD_LR, momentum=optimizers.RMSGD_MOMENTUM,
                     weight_decay=optimizers.WEIGHT_DECAY, seed=2)
# linear=True: RMSGD also adapts the fully connected layer (LayerMetrics besides ConvLayerMetrics)
FACTORY = functools.partial(optimizers.rmsgd, linear=True)


def _task() -> tuple[TensorDataset, nn.Module]:
    x = torch.randn(64, 2, 6, 6, generator=torch.Generator().manual_seed(0))
    y = (x[:, 0, :3].mean((1, 2)) > 0).long()
    torch.manual_seed(1)
    layers: list[nn.Conv2d | nn.Linear] = [nn.Conv2d(2, 16, 3, padding=1), nn.Conv2d(16, 16, 3, padding=1), nn.Linear(16, 2)]
    model = nn.Sequential(layers[0], nn.ReLU(), layers[1], nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), layers[2])
    with torch.no_grad():  # low rank + noise, so that RMSGD finds a rank > 0 and adapts its rates from epoch 2 on
        for layer in layers:
            w = layer.weight.view(layer.weight.shape[0], -1)
            w.copy_(torch.randn(w.shape[0], 2) @ torch.randn(2, w.shape[1]) * 0.3 + 0.01 * torch.randn_like(w))
    return TensorDataset(x, y), model


class _Stop(Exception):
    pass


def _stop_after(epochs: int) -> EpochHook:
    def hook(epoch: int, record: dict, trainer: Trainer) -> None:
        if epoch == epochs:
            raise _Stop

    return hook


def _fit(checkpoints: Path | None, stop: int | None = None) -> Trainer:
    data, model = _task()

    def trainer(**kwargs: object) -> Trainer:
        return Trainer(model, nn.CrossEntropyLoss(), data, CONFIG, checkpoint_dir=checkpoints, progress=False,
                       optimizer=FACTORY, **kwargs)  # type: ignore[arg-type]

    if stop is not None:
        with pytest.raises(_Stop):
            trainer(on_epoch_end=_stop_after(stop)).fit()
    resumed = trainer()
    resumed.fit()
    return resumed


def _roundtrip(state: dict) -> dict:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


def test_paper_b_constants() -> None:
    assert (optimizers.RMSGD_LR, optimizers.RMSGD_MOMENTUM, optimizers.WEIGHT_DECAY) == (0.03, 0.9, 5e-4)


def test_rmsgd_state_dict_loads_with_weights_only_and_restores_all_of_rmsgds_state() -> None:
    trained = _fit(None).optimizer
    assert isinstance(trained, optimizers.ResumableRMSGD)
    assert trained.epoch == 4 and len(trained.metrics.history) == 4  # the engine called epoch_step once per epoch
    assert not np.allclose(trained.lr_vector, optimizers.RMSGD_LR)  # the rates did adapt
    with pytest.raises(pickle.UnpicklingError):  # why the wrapper exists: plain RMSGD's state needs full unpickling
        _roundtrip(RMSGD.state_dict(trained))
    _, model = _task()
    fresh = FACTORY(model.parameters(), CONFIG)
    fresh.load_state_dict(_roundtrip(trained.state_dict()))
    assert np.array_equal(fresh.lr_vector, trained.lr_vector) and fresh.lr_vector.dtype == trained.lr_vector.dtype
    assert np.array_equal(fresh.velocity, trained.velocity)
    assert np.array_equal(fresh.KG, trained.KG) and fresh.KG.dtype == trained.KG.dtype == np.float32
    assert (fresh.zeta, fresh.epoch, fresh.not_ready) == (trained.zeta, trained.epoch, trained.not_ready)
    assert fresh.metrics.history == trained.metrics.history
    kinds = {type(v) for epoch in fresh.metrics.history for _, m in epoch if m is not None
             for part in ([m.input_channel, m.output_channel] if hasattr(m, "input_channel") else [m])
             for v in (part.rank, part.KG, part.condition)}
    assert kinds == {type(v) for epoch in trained.metrics.history for _, m in epoch if m is not None
                     for part in ([m.input_channel, m.output_channel] if hasattr(m, "input_channel") else [m])
                     for v in (part.rank, part.KG, part.condition)} and np.float32 in kinds
    assert fresh.param_groups[0]["lr_vector"] is fresh.lr_vector and fresh.param_groups[0]["metrics"] is fresh.metrics
    for p, q in zip(model.parameters(), trained.metrics.params, strict=True):
        assert torch.equal(fresh.state[p]["momentum_buffer"], trained.state[q]["momentum_buffer"])


def test_an_interrupted_and_resumed_rmsgd_run_ends_where_an_uninterrupted_one_does(tmp_path: Path) -> None:
    straight = _fit(tmp_path / "straight")
    resumed = _fit(tmp_path / "resumed", stop=2)
    assert [e["train_loss"] for e in resumed.history.epochs] == [e["train_loss"] for e in straight.history.epochs]
    for a, b in zip(straight.module.parameters(), resumed.module.parameters(), strict=True):
        assert torch.equal(a, b)
    assert isinstance(resumed.optimizer, RMSGD) and isinstance(straight.optimizer, RMSGD)
    assert np.array_equal(resumed.optimizer.lr_vector, straight.optimizer.lr_vector)
    assert resumed.optimizer.epoch == straight.optimizer.epoch == 4
    assert load_checkpoint(tmp_path / "resumed" / CHECKPOINT)["optimizer"]["rmsgd"]["epoch"] == 4


def test_rmsgd_refuses_parameter_groups_in_one_sentence() -> None:
    with pytest.raises(TypeError, match="flat list of parameters, not parameter groups"):
        optimizers.rmsgd([{"params": nn.Linear(2, 2).parameters()}], CONFIG)  # type: ignore[list-item]


def test_adamp_factory_takes_the_config() -> None:
    config = TrainConfig(1, 16, 1e-3, weight_decay=optimizers.WEIGHT_DECAY)
    optimizer = optimizers.adamp(nn.Linear(2, 2).parameters(), config)
    assert isinstance(optimizer, AdamP)
    group = optimizer.param_groups[0]
    assert (group["lr"], group["betas"], group["weight_decay"]) == (1e-3, (0.9, 0.999), 5e-4)


def _resnet18_unfoldings() -> list[torch.Tensor]:
    """Both unfoldings RMSGD factorizes of every ResNet18 conv layer, at random init and with a low-rank part."""
    import torchvision

    torch.manual_seed(0)
    weights = [p.detach() for p in torchvision.models.resnet18(num_classes=4).parameters() if p.ndim == 4]
    out = []
    for w in weights[::3]:  # a third of the layers keeps the library's SVDs under a few seconds
        for y in (w.permute(1, 0, 2, 3).reshape(w.shape[1], -1), w.reshape(w.shape[0], -1)):
            decay = 0.8 ** torch.arange(12.0)  # a decaying spectrum: some components near EVBMF's threshold
            structured = y + (torch.randn(y.shape[0], 12) * decay) @ torch.randn(12, y.shape[1]) * y.std()
            out += [y, structured]
    return out


def test_gram_metrics_give_rmsgds_own_rank_gain_and_condition() -> None:
    library, ours = Metrics([], linear=False), optimizers.GramMetrics([], linear=False)
    checked = 0
    for y in _resnet18_unfoldings():
        expected, got = library.compute_low_rank(y, y.shape[0]), ours.compute_low_rank(y, y.shape[0])
        assert [type(v) for v in got] == [type(v) for v in expected]
        assert got[0] == expected[0]  # the rank EVBMF keeps
        assert got[1:] == pytest.approx(expected[1:], rel=1e-4)
        checked += expected[0] > 0
    assert checked >= 4  # the low-rank parts were found, so the gain and condition were compared on kept values


def test_singular_values_match_torch_svd_on_a_known_matrix() -> None:
    u, _ = torch.linalg.qr(torch.randn(5, 5, generator=torch.Generator().manual_seed(1)))
    v, _ = torch.linalg.qr(torch.randn(9, 5, generator=torch.Generator().manual_seed(2)))
    s = torch.tensor([40.0, 7.0, 1.0, 0.01, 1e-3])
    y = u @ torch.diag(s) @ v.T
    assert optimizers.singular_values(y) == pytest.approx(s, rel=1e-3)


def test_resumable_rmsgd_adapts_its_rates_as_rmsgd_does() -> None:
    rates = []
    for make in (lambda p: RMSGD(p, lr=CONFIG.lr, momentum=CONFIG.momentum, weight_decay=CONFIG.weight_decay,
                                 linear=True), lambda p: FACTORY(p, CONFIG)):
        data, model = _task()
        optimizer = make(list(model.parameters()))
        for _ in range(3):
            for x, y in torch.utils.data.DataLoader(data, batch_size=16):
                optimizer.zero_grad()
                nn.functional.cross_entropy(model(x), y).backward()
                optimizer.step()
            optimizer.epoch_step()
        rates.append(optimizer.lr_vector.copy())
    assert not np.allclose(rates[0], CONFIG.lr)  # the rates did adapt
    assert rates[1] == pytest.approx(rates[0], rel=1e-3)


def test_quick_adamp_projects_exactly_where_the_package_does_and_steps_alike():
    gen = torch.Generator().manual_seed(3)
    weight = torch.randn(8, 4, 3, 3, generator=gen)
    along = weight * 0.5  # parallel to the weights: no projection
    across = torch.randn(8, 4, 3, 3, generator=gen)
    across -= weight * (across * weight).sum((1, 2, 3), keepdim=True) / (weight * weight).sum((1, 2, 3), keepdim=True)
    package, quick = AdamP([nn.Parameter(weight)]), optimizers.QuickAdamP([nn.Parameter(weight)])
    for grad, projected in ((along, False), (across, True)):
        perturb = torch.randn(8, 4, 3, 3, generator=gen)
        got = quick._projection(weight, grad, perturb.clone(), 0.1, 0.1, 1e-8)
        want = package._projection(weight, grad, perturb.clone(), 0.1, 0.1, 1e-8)
        assert got[1] == want[1] == (0.1 if projected else 1)
        torch.testing.assert_close(got[0], want[0], rtol=1e-6, atol=1e-7)

    torch.manual_seed(0)  # a conv + batch-norm net, whose conv weights are scale-invariant: AdamP projects them
    net = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.Flatten(), nn.LazyLinear(2))
    x, y = torch.randn(16, 3, 6, 6), torch.randint(0, 2, (16,))
    net(x)
    twin = pickle.loads(pickle.dumps(net))
    steps = [AdamP(net.parameters(), lr=1e-2, weight_decay=5e-4), optimizers.QuickAdamP(twin.parameters(), lr=1e-2,
                                                                                         weight_decay=5e-4)]
    for _ in range(20):
        for model, opt in zip((net, twin), steps, strict=True):
            opt.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
    for a, b in zip(net.parameters(), twin.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_quick_adamp_takes_a_closure_that_back_propagates_as_torch_optimizers_do():
    torch.manual_seed(0)
    model, x = nn.Linear(3, 2), torch.randn(4, 3)
    optimizer = optimizers.QuickAdamP(model.parameters(), lr=1e-2)

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = model(x).pow(2).mean()
        loss.backward()
        return loss

    before = model.weight.detach().clone()
    assert optimizer.step(closure) is not None and not torch.equal(model.weight, before)
