"""Multi-GPU and multi-node training through torchrun and torch.distributed (DDP).

Paper A, section 3: synchronous SGD over 15 GPUs, batch 16 per GPU, with the learning rate
scaled by the number of GPUs (base 0.001 for one). Start with
``torchrun --nproc-per-node N script.py``; :func:`init` reads the environment torchrun sets.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

#: Paper A, section 3: base learning rate for one GPU.
PAPER_A_BASE_LR = 0.001


def scaled_lr(base_lr: float, world_size: int) -> float:
    """Paper A's rule: learning rate = base x number of processes (GPUs)."""
    if world_size < 1:
        raise ValueError(f"world_size must be at least 1, got {world_size}.")
    return base_lr * world_size


@dataclass(frozen=True)
class Context:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return dist.is_available() and dist.is_initialized()


def init(backend: str | None = None) -> Context:
    """Join the process group torchrun describes (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``), if any.

    NCCL on GPUs, gloo on CPUs. Without torchrun's variables this is a single process.
    """
    if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
        return Context()
    if not dist.is_initialized():
        backend = backend or ("nccl" if torch.cuda.is_available() else "gloo")
        dist.init_process_group(backend)
    local = int(os.environ.get("LOCAL_RANK", 0))
    if torch.cuda.is_available():
        torch.cuda.set_device(local)
    return Context(dist.get_rank(), dist.get_world_size(), local)


def barrier(ctx: Context) -> None:
    """Wait until every process gets here (nothing to wait for in a single process)."""
    if ctx.active:
        dist.barrier()


def wrap(model: nn.Module, ctx: Context, device: torch.device) -> nn.Module:
    """DDP around the model when distributed. Batch norm becomes SyncBatchNorm on GPUs (NCCL);
    on CPU (gloo) SyncBatchNorm is not supported, so each process keeps its own batch statistics."""
    if not ctx.active:
        return model
    if device.type == "cuda":
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        return nn.parallel.DistributedDataParallel(model, device_ids=[device.index])
    return nn.parallel.DistributedDataParallel(model)
