"""The training engine every chapter uses.

Seeds everything and is deterministic on CPU (same seed, same metrics); picks CUDA when
present; optional mixed precision on GPU. Writes a checkpoint atomically at the end of
every epoch and resumes from it automatically (a run killed mid-epoch restarts that epoch
and ends with the same metrics as an uninterrupted one). Checkpoints hold only tensors and
plain Python values, so they load with ``torch.load(..., weights_only=True)``. Progress is
a text tqdm bar on stderr: it renders in a terminal and in Jupyter and becomes plain text
lines under papermill (the book hides stderr).
"""

from __future__ import annotations

import io
import math
import random
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler, WeightedRandomSampler
from tqdm import tqdm

from cpath_repro.results import atomic
from cpath_repro.train import distributed

CHECKPOINT = "last.pt"


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
    optimizer: str = "sgd"

    def __post_init__(self) -> None:
        if self.optimizer not in ("sgd", "adam"):
            raise ValueError(f"TrainConfig.optimizer must be 'sgd' or 'adam', got {self.optimizer!r}.")


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
    """Load a checkpoint without unpickling arbitrary objects."""
    return torch.load(path, map_location="cpu", weights_only=True)


class Trainer:
    """Train ``model`` with SGD + momentum (or Adam) on ``train_set``; validate with ``validate`` every ``val_every`` epochs.

    ``loss_fn(outputs, targets)`` returns a scalar; ``validate(model)`` returns a dict of
    floats. With ``checkpoint_dir`` set, training resumes from the last finished epoch. With
    ``sample_weights`` (one per training sample), each epoch draws its samples with replacement in
    proportion to them (resampling, e.g. for class imbalance) instead of shuffling.
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
    ) -> None:
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
        self.optimizer: torch.optim.Optimizer = (
            torch.optim.SGD(self.model.parameters(), lr=config.lr, momentum=config.momentum,
                            weight_decay=config.weight_decay)
            if config.optimizer == "sgd" else
            torch.optim.Adam(self.model.parameters(), lr=config.lr, betas=(config.momentum, 0.999),
                             weight_decay=config.weight_decay))
        self.scaler = torch.amp.GradScaler("cuda", enabled=config.amp and self.device.type == "cuda")
        self.history = History()
        self.start_epoch = 0

    @property
    def module(self) -> nn.Module:
        """The model without its DDP wrapper."""
        return self.model.module if isinstance(self.model, nn.parallel.DistributedDataParallel) else self.model

    def _loader(self, epoch: int) -> DataLoader:
        # The shuffle of epoch e depends only on (seed, e), so a resumed run sees the same batches.
        generator = torch.Generator().manual_seed(self.config.seed * 100_003 + epoch)
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
        return DataLoader(self.train_set, self.config.batch_size, shuffle=True, generator=generator)

    def _resume(self) -> None:
        path = self.checkpoint_dir / CHECKPOINT if self.checkpoint_dir else None
        if path is None or not path.is_file():
            return
        state = load_checkpoint(path)
        self.module.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.history = History(list(state["history"]))
        torch.set_rng_state(state["torch_rng"])
        self.start_epoch = int(state["epoch"]) + 1

    def _checkpoint(self, epoch: int) -> None:
        if self.checkpoint_dir is None or not self.ctx.is_main:
            return
        _save(self.checkpoint_dir / CHECKPOINT, {
            "model": self.module.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "epoch": epoch,
            "history": self.history.epochs,
            "torch_rng": torch.get_rng_state(),
            "config": asdict(self.config),
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
        (our CPU budgets) instead of paper A's ~190,000, evaluation with lagging statistics
        flips whole classes from one epoch to the next.
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
            validating = (epoch + 1) % cfg.val_every == 0 or epoch + 1 == cfg.epochs
            if self.recalibrate_bn is not None and (validating or epoch + 1 == cfg.epochs):
                self._recalibrate_bn()
            if self.validate is not None and validating:
                self.model.eval()
                with torch.no_grad():
                    record["val"] = self.validate(self.module)
            record["seconds"] = time.perf_counter() - t0
            self.history.epochs.append(record)
            self._checkpoint(epoch)
            postfix = {"loss": f"{record['train_loss']:.3f}"}
            if "val" in record:
                postfix.update({k: f"{v:.3f}" for k, v in list(record["val"].items())[:2]})
            bar.set_postfix(postfix)
        bar.close()
        return self.history
