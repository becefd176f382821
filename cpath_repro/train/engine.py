"""The training engine every chapter uses.

Seeds everything and is deterministic on CPU (same seed, same metrics); picks CUDA when
present; optional mixed precision on GPU. Writes a checkpoint atomically at the end of
every epoch and resumes from it automatically (a run killed mid-epoch restarts that epoch
and ends with the same metrics as an uninterrupted one). Checkpoints hold only tensors and
plain Python values, so they load with ``torch.load(..., weights_only=True)``. The optimizer
is pluggable (a factory), with an optional per-epoch learning-rate scheduler, an end-of-epoch
hook and a best-by-validation checkpoint besides the last. Progress is
a text tqdm bar on stderr: it renders in a terminal and in Jupyter and becomes plain text
lines under papermill (the book hides stderr).
"""

from __future__ import annotations

import io
import math
import random
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler, WeightedRandomSampler
from tqdm import tqdm

from cpath_repro import atomic, seeds
from cpath_repro.errors import UserError
from cpath_repro.train import distributed

CHECKPOINT = "last.pt"
BEST = "best.pt"


@dataclass(frozen=True)
class TrainConfig:
    epochs: int
    batch_size: int
    lr: float
    momentum: float = 0.9
    weight_decay: float = 0.0
    val_every: int = 1
    seed: int = 0
    amp: bool = False  # mixed precision, CUDA only
    #: "sgd" (with ``momentum``; paper A's optimizer) or "adam" (``momentum`` is then Adam's beta1)
    #: ignored when ``Trainer`` gets an optimizer factory (which then reads lr, momentum and weight_decay from here)
    optimizer: str = "sgd"

    def __post_init__(self) -> None:
        if self.optimizer not in ("sgd", "adam"):
            raise ValueError(f"TrainConfig.optimizer must be 'sgd' or 'adam', got {self.optimizer!r}.")


#: Builds the optimizer from the model's parameters and the config. The learning rate, momentum and
#: weight decay come from the config (one place, recorded in the checkpoint, scaled there for DDP);
#: other settings by ``functools.partial``, e.g. ``lambda params, cfg: torch.optim.RMSprop(params, lr=cfg.lr)``.
OptimizerFactory = Callable[[Iterable[nn.Parameter], TrainConfig], torch.optim.Optimizer]
#: Builds a learning-rate scheduler on the optimizer, e.g. ``lambda opt: StepLR(opt, 20, 0.5)``; stepped once per epoch.
SchedulerFactory = Callable[[torch.optim.Optimizer], torch.optim.lr_scheduler.LRScheduler]
#: Called as ``hook(epoch, record, trainer)`` after every epoch's checkpoint (``epoch`` counts from 1, as in History).
EpochHook = Callable[[int, dict[str, Any], "Trainer"], None]


def sgd(params: Iterable[nn.Parameter], config: TrainConfig) -> torch.optim.Optimizer:
    """SGD with ``config.momentum`` (paper A's optimizer): ``TrainConfig(optimizer="sgd")``."""
    return torch.optim.SGD(params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)


def adam(params: Iterable[nn.Parameter], config: TrainConfig) -> torch.optim.Optimizer:
    """Adam with beta1 = ``config.momentum``: ``TrainConfig(optimizer="adam")``."""
    return torch.optim.Adam(params, lr=config.lr, betas=(config.momentum, 0.999), weight_decay=config.weight_decay)


_BUILT_IN: dict[str, OptimizerFactory] = {"sgd": sgd, "adam": adam}


@dataclass(frozen=True)
class Best:
    """The best validated epoch so far: ``metric``'s ``value`` after ``epoch`` (counting from 1, as in History)."""

    metric: str
    value: float
    epoch: int


@dataclass
class History:
    """Per-epoch training loss and the validation metrics of the epochs that were validated."""

    epochs: list[dict[str, Any]] = field(default_factory=list)  # epoch, train_loss, seconds, val (a dict)

    def validated(self) -> list[dict[str, Any]]:
        return [e for e in self.epochs if "val" in e]


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)


def device() -> torch.device:
    return torch.device("cuda", torch.cuda.current_device()) if torch.cuda.is_available() else torch.device("cpu")


def _save(path: Path, state: dict[str, Any]) -> None:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    atomic.write_bytes(path, buffer.getvalue())


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Load a checkpoint without unpickling arbitrary objects; an unreadable one is one sentence."""
    try:
        state: dict[str, Any] = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated, corrupt or not a checkpoint: torch's own message is pages long
        raise UserError(f"Checkpoint '{path}' cannot be read ({type(exc).__name__}); delete it to train this model "
                        "from the start.") from None
    return state


class Trainer:
    """Train ``model`` on ``train_set``; validate with ``validate`` every ``val_every`` epochs.

    ``loss_fn(outputs, targets)`` returns a scalar; ``validate(model)`` returns a dict of
    floats. With ``checkpoint_dir`` set, training resumes from the last finished epoch. With
    ``sample_weights`` (one per training sample), each epoch draws its samples with replacement in
    proportion to them (resampling, e.g. for class imbalance) instead of shuffling.

    ``optimizer`` (an OptimizerFactory) replaces ``config.optimizer``'s SGD/Adam; an optimizer with an
    ``epoch_step()`` method (RMSGD, see ``cpath_repro.train.optimizers``) has it called after every
    epoch's training steps, then ``scheduler`` (a SchedulerFactory) steps. Both states are checkpointed.
    With ``best_metric``, every validated epoch whose ``validate`` value of it beats the best so far
    (higher for ``best_mode="max"``, lower for ``"min"``) becomes the best: its weights go to ``best.pt``
    (written before ``last.pt``, so never older than it) and ``load_best()`` puts them in the model.
    ``on_epoch_end`` (an EpochHook) runs on every process after the checkpoint, so raising from it
    stops training with that epoch saved (with ``checkpoint_every`` > 1: the last checkpointed epoch).

    ``drop_last`` drops each epoch's last, incomplete batch (a batch of one image has no batch statistics in a
    network whose last feature maps are 1x1, e.g. GoogLeNet at 32 px).

    ``checkpoint_every`` writes ``last.pt`` (and ``best.pt`` when the best changed) every that many epochs and
    after the last one. A resumed run repeats at most ``checkpoint_every - 1`` epochs, and ends exactly where an
    uninterrupted one does. Models that train in seconds take it above 1: each write of a ResNet with its
    optimizer state is 100 MB or more, and costs more than their epoch.
    """

    def __init__(
        self,
        model: nn.Module,
        loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
        train_set: Dataset,
        config: TrainConfig,
        validate: Callable[[nn.Module], dict[str, float]] | None = None,
        checkpoint_dir: Path | None = None,
        progress: bool = True,
        name: str = "training",
        recalibrate_bn: Dataset | None = None,
        sample_weights: torch.Tensor | None = None,
        optimizer: OptimizerFactory | None = None,
        scheduler: SchedulerFactory | None = None,
        on_epoch_end: EpochHook | None = None,
        best_metric: str | None = None,
        best_mode: str = "max",
        checkpoint_every: int = 1,
        drop_last: bool = False,
    ) -> None:
        if optimizer is not None and config.optimizer != "sgd":
            raise ValueError(f"{name}: give either TrainConfig.optimizer={config.optimizer!r} or an optimizer factory, "
                             "not both.")
        if best_mode not in ("max", "min"):
            raise ValueError(f"{name}: best_mode must be 'max' or 'min', got {best_mode!r}.")
        if checkpoint_every < 1:
            raise ValueError(f"{name}: checkpoint_every must be at least 1, got {checkpoint_every}.")
        if best_metric is not None and validate is None:
            raise ValueError(f"{name}: best_metric={best_metric!r} needs a validate function.")
        self.ctx = distributed.init()
        self.device = device()
        seed_everything(config.seed)
        self.model = distributed.wrap(model.to(self.device), self.ctx, self.device)
        self.loss_fn = loss_fn
        self.train_set = train_set
        self.config = config
        self.validate = validate
        self.checkpoint_dir = checkpoint_dir
        self.progress = progress and self.ctx.is_main
        self.name = name
        self.recalibrate_bn = recalibrate_bn
        if sample_weights is not None and self.ctx.active:
            raise ValueError(f"{name}: weighted resampling is not supported with several processes.")
        self.sample_weights = sample_weights
        self.optimizer: torch.optim.Optimizer = (optimizer or _BUILT_IN[config.optimizer])(self.model.parameters(), config)
        self.scheduler = scheduler(self.optimizer) if scheduler is not None else None
        self.on_epoch_end = on_epoch_end
        self.best_metric = best_metric
        self.best_mode = best_mode
        self.best: Best | None = None
        self._best_weights: dict[str, torch.Tensor] | None = None
        self._best_unsaved = False
        self.checkpoint_every = checkpoint_every
        self.drop_last = drop_last
        self.scaler = torch.amp.GradScaler("cuda", enabled=config.amp and self.device.type == "cuda")
        self.history = History()
        self.start_epoch = 0

    @property
    def module(self) -> nn.Module:
        """The model without its DDP wrapper."""
        return self.model.module if isinstance(self.model, nn.parallel.DistributedDataParallel) else self.model

    def _loader(self, epoch: int) -> DataLoader:
        # The shuffle of epoch e depends only on (seed, e), so a resumed run sees the same batches.
        generator = torch.Generator().manual_seed(seeds.derive(self.config.seed, "batch order", epoch))
        if self.ctx.active:
            sampler: DistributedSampler[Any] = DistributedSampler(
                self.train_set, self.ctx.world_size, self.ctx.rank, seed=self.config.seed
            )
            sampler.set_epoch(epoch)
            return DataLoader(self.train_set, self.config.batch_size, sampler=sampler)
        if self.sample_weights is not None:  # resampling: as many draws per epoch as samples, with replacement
            weighted = WeightedRandomSampler(self.sample_weights.tolist(), len(self.sample_weights),
                                             generator=generator)
            return DataLoader(self.train_set, self.config.batch_size, sampler=weighted)
        return DataLoader(self.train_set, self.config.batch_size, shuffle=True, generator=generator,
                          drop_last=self.drop_last)

    def _resume(self) -> None:
        path = self.checkpoint_dir / CHECKPOINT if self.checkpoint_dir else None
        if path is None or not path.is_file():
            return
        state = load_checkpoint(path)
        self.module.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        saved_scheduler = state.get("scheduler")
        if self.scheduler is not None and saved_scheduler is not None:
            self.scheduler.load_state_dict(saved_scheduler)
        elif self.scheduler is not None or saved_scheduler is not None:
            raise ValueError(f"{self.name}: {path} was saved {'without' if saved_scheduler is None else 'with'} a "
                             f"learning-rate scheduler but this trainer has {'one' if self.scheduler else 'none'}.")
        self.history = History(list(state["history"]))
        torch.set_rng_state(state["torch_rng"])
        self.start_epoch = int(state["epoch"]) + 1
        if self.best_metric is not None:
            self._resume_best(path.parent / BEST, state.get("best"))

    def _resume_best(self, path: Path, recorded: dict[str, Any] | None) -> None:
        # best.pt is written before last.pt: when they disagree (a kill between the two writes) best.pt is newer.
        if not path.is_file():
            if recorded is not None:
                raise FileNotFoundError(f"{self.name}: {path} is missing although the last checkpoint records "
                                        f"a best epoch ({recorded}).")
            return
        saved = load_checkpoint(path)
        if saved["metric"] != self.best_metric:
            raise ValueError(f"{self.name}: {path} holds the best {saved['metric']!r}, not {self.best_metric!r}.")
        self.best = Best(saved["metric"], float(saved["value"]), int(saved["epoch"]))
        self._best_weights = saved["model"]

    def _update_best(self, epoch: int, metrics: dict[str, float]) -> None:
        assert self.best_metric is not None
        if self.best_metric not in metrics:
            raise ValueError(f"{self.name}: validate returned no {self.best_metric!r} (only {sorted(metrics)}).")
        value = float(metrics[self.best_metric])
        if math.isnan(value) or (self.best is not None and not (
                value > self.best.value if self.best_mode == "max" else value < self.best.value)):
            return
        self.best = Best(self.best_metric, value, epoch + 1)
        self._best_weights = {k: v.detach().to("cpu", copy=True) for k, v in self.module.state_dict().items()}
        self._best_unsaved = True

    def load_best(self) -> Best:
        """Put the best validated epoch's weights into the model (e.g. after ``fit``) and say which epoch that was."""
        if self.best is None or self._best_weights is None:
            raise ValueError(f"{self.name}: there is no best epoch (it needs best_metric, validate and a validated epoch).")
        self.module.load_state_dict(self._best_weights)
        return self.best

    def _checkpoint(self, epoch: int) -> None:
        due = (epoch + 1) % self.checkpoint_every == 0 or epoch + 1 == self.config.epochs
        if self.checkpoint_dir is None or not self.ctx.is_main or not due:
            return
        if self._best_unsaved and self.best is not None and self._best_weights is not None:
            _save(self.checkpoint_dir / BEST, {"model": self._best_weights, **asdict(self.best)})  # before last.pt
            self._best_unsaved = False
        _save(self.checkpoint_dir / CHECKPOINT, {
            "model": self.module.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "epoch": epoch,
            "history": self.history.epochs,
            "torch_rng": torch.get_rng_state(),
            "config": asdict(self.config),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "best": asdict(self.best) if self.best is not None else None,
        })

    def _epoch(self, epoch: int) -> float:
        self.model.train()
        total, count = 0.0, 0
        for inputs, targets in self._loader(epoch):
            inputs, targets = inputs.to(self.device), targets.to(self.device)
            self.optimizer.zero_grad(set_to_none=True)
            with torch.autocast(self.device.type, enabled=self.scaler.is_enabled()):
                loss = self.loss_fn(self.model(inputs), targets)
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
            total += float(loss.detach()) * len(inputs)
            count += len(inputs)
        return total / max(count, 1)

    def _recalibrate_bn(self) -> None:
        """Recompute batch-norm statistics over ``recalibrate_bn`` (PreciseBN, via torch's ``update_bn``).

        Running averages lag behind weights that still move fast: with a few hundred steps
        (our CPU budgets) instead of paper A's thousands (at most ~14,000: 16,834 tiles at 240
        per step for 200 epochs), evaluation with lagging statistics flips whole classes from
        one epoch to the next.
        """
        assert self.recalibrate_bn is not None
        loader = DataLoader(self.recalibrate_bn, self.config.batch_size)
        inputs = ([x.to(self.device) for x, *_ in loader])
        torch.optim.swa_utils.update_bn(inputs, self.module)

    def fit(self) -> History:
        self._resume()
        cfg = self.config
        bar = tqdm(range(self.start_epoch, cfg.epochs), desc=self.name, initial=self.start_epoch, total=cfg.epochs,
                   unit="epoch", disable=not self.progress, file=sys.stderr, mininterval=1.0, dynamic_ncols=False,
                   ncols=100)
        for epoch in bar:
            t0 = time.perf_counter()
            record: dict[str, Any] = {"epoch": epoch + 1, "train_loss": self._epoch(epoch)}
            if not math.isfinite(record["train_loss"]):
                raise FloatingPointError(f"{self.name}: training loss became {record['train_loss']} in epoch {epoch + 1}.")
            epoch_step = getattr(self.optimizer, "epoch_step", None)
            if callable(epoch_step):  # RMSGD (AdaS) adapts its per-layer learning rates once per epoch
                epoch_step()
            if self.scheduler is not None:
                self.scheduler.step()
            validating = (epoch + 1) % cfg.val_every == 0 or epoch + 1 == cfg.epochs
            if self.recalibrate_bn is not None and (validating or epoch + 1 == cfg.epochs):
                self._recalibrate_bn()
            if self.validate is not None and validating:
                self.model.eval()
                with torch.no_grad():
                    record["val"] = self.validate(self.module)
                if self.best_metric is not None:
                    self._update_best(epoch, record["val"])
            record["seconds"] = time.perf_counter() - t0
            self.history.epochs.append(record)
            self._checkpoint(epoch)
            postfix = {"loss": f"{record['train_loss']:.3f}"}
            if "val" in record:
                postfix.update({k: f"{v:.3f}" for k, v in list(record["val"].items())[:2]})
            bar.set_postfix(postfix)
            if self.on_epoch_end is not None:
                self.on_epoch_end(epoch + 1, record, self)
        bar.close()
        return self.history
