"""A content-addressed store of trained models.

A model's key hashes its training config (architecture, data generator and seed, or the
data's checksum), the source of its training recipe's static import closure (the module
that defines the recipe and every package module it can import: model, data generator,
engine; not the plotting code a notebook imports beside it) and the locked library
versions. So any notebook that needs "UNET trained on multistain data, seed 1" gets the
same model, trained once; a changed engine retrains it, a changed figure does not. Each
notebook still runs on its own: a missing model is trained (and resumes from its last
checkpoint if an earlier attempt was interrupted); when two notebooks running at once need one
model, the one that takes its lock trains it and the other waits and loads it. Under ``torchrun`` every process trains
(DDP needs them all) but only rank 0 writes the store; the others wait for it, then load.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch
from torch import nn

from cpath_repro import atomic
from cpath_repro.errors import UserError
from cpath_repro.project import PROJECT_ROOT, changed_modules, import_closure, lock_hash, module_fingerprints, modules_hash
from cpath_repro.train import distributed

STORE_ENV = "CPATH_REPRO_MODEL_STORE"
WEIGHTS = "model.pt"
META = "meta.json"


def store_root() -> Path:
    """``$CPATH_REPRO_MODEL_STORE`` or ``runs/models`` in the project."""
    return Path(os.environ.get(STORE_ENV) or PROJECT_ROOT / "runs" / "models")


@lru_cache(maxsize=64)
def _closure(recipe: str) -> tuple[str, ...]:
    # The import graph only changes with the source, which a process does not edit under itself.
    modules = tuple(import_closure(recipe))
    if recipe not in modules:
        raise ValueError(f"Training recipe {recipe!r} is not a module of the package; pass the recipe's __name__.")
    return modules


def model_key(config: dict[str, Any], recipe: str) -> str:
    """The store key of a model: config, the source of ``recipe``'s import closure, the lock file."""
    material = {"config": config, "recipe": recipe, "code": modules_hash(_closure(recipe)), "libraries": lock_hash()}
    return hashlib.sha256(json.dumps(material, sort_keys=True, default=str).encode()).hexdigest()[:24]


@dataclass
class StoredModel:
    key: str
    model: nn.Module
    meta: dict[str, Any]


def exists(key: str) -> bool:
    return (store_root() / key / META).is_file()


def get_or_train(config: dict[str, Any], build: Callable[[], nn.Module],
                 train: Callable[[nn.Module, Path], dict[str, Any]], recipe: str) -> StoredModel:
    """The model for ``config``: loaded (``weights_only=True``) if stored, else trained and stored.

    ``train(model, checkpoint_dir)`` trains in place and returns JSON-able metadata (history).
    ``recipe`` is the module that defines the training (pass ``__name__``): its import closure keys the model.
    """
    key = model_key(config, recipe)
    root = store_root()
    final = root / key
    model = build()
    ctx = distributed.init()
    if not (final / META).is_file():
        with _training_lock(ctx, root / ".locks" / key):  # two notebooks that need it: one trains, one waits
            if not (final / META).is_file():  # trained by the process that held the lock before us
                _train_and_store(ctx, key, config, recipe, model, train)
    try:
        model.load_state_dict(torch.load(final / WEIGHTS, map_location="cpu", weights_only=True))
        meta = json.loads((final / META).read_text())
    except Exception as exc:  # a truncated or corrupt entry: say which, and how to get a good one
        raise UserError(f"Model-store entry '{final}' cannot be read ({type(exc).__name__}); delete that folder and "
                        "the model is trained again.") from None
    model.eval()
    return StoredModel(key, model, meta)


@contextmanager
def _training_lock(ctx: distributed.Context, lock_file: Path) -> Iterator[None]:
    """Rank 0 holds the key's lock (other processes' notebooks wait on it); under ``torchrun`` the other ranks wait
    for rank 0 to hold it, so that every rank then sees the same store."""
    if ctx.is_main:
        with atomic.exclusive(lock_file):
            distributed.barrier(ctx)
            yield
    else:
        distributed.barrier(ctx)
        yield


def _train_and_store(ctx: distributed.Context, key: str, config: dict[str, Any], recipe: str, model: nn.Module,
                     train: Callable[[nn.Module, Path], dict[str, Any]]) -> None:
    root = store_root()
    work = root / ".work" / key  # the engine's checkpoints: an interrupted training resumes here
    if ctx.is_main:
        work.mkdir(parents=True, exist_ok=True)
    distributed.barrier(ctx)
    meta = {"key": key, "recipe": recipe, "config": config, **train(model, work),
            "code_modules": module_fingerprints(_closure(recipe))}  # what `outdated` names when it changes
    if ctx.is_main:
        staged = root / ".staging" / f"{key}-{uuid.uuid4().hex[:8]}"
        staged.mkdir(parents=True)
        buffer = io.BytesIO()
        torch.save(model.state_dict(), buffer)
        atomic.write_bytes(staged / WEIGHTS, buffer.getvalue())
        atomic.write_json(staged / META, {**meta, "trained": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
        atomic.replace_dir(staged, root / key)  # meta.json inside marks a complete model
        shutil.rmtree(work, ignore_errors=True)
    distributed.barrier(ctx)  # the other ranks load what rank 0 wrote


def outdated(keys: Iterable[str]) -> dict[str, str]:
    """The models among ``keys`` a run would not find as they are, and why: missing from the store, unreadable,
    or their recipe's code changed since they were trained (they would be retrained)."""
    out: dict[str, str] = {}
    for key in keys:
        path = store_root() / key / META
        if not path.is_file():
            out[key] = f"not in the model store {store_root()}: it would be trained"
            continue
        try:
            meta = json.loads(path.read_text(encoding="utf-8"))
            current = model_key(meta["config"], meta["recipe"])
        except (OSError, ValueError, KeyError, TypeError):
            out[key] = "its store entry cannot be read: it would be trained again"
            continue
        if current != key:
            recorded = meta.get("code_modules")
            changed = changed_modules(recorded) if isinstance(recorded, Mapping) else []
            what = f"module {', '.join(changed)} changed" if changed else "its recipe's code or the locked versions changed"
            out[key] = f"{what}: it would be retrained"
    return out


# -- what is stored, and what a run still uses ----------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    key: str
    path: Path
    bytes: int
    recipe: str
    config: dict[str, Any]


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def entries(root: Path | None = None) -> Iterator[Entry]:
    """Every complete model in the store (unfinished trainings under ``.work`` are not entries)."""
    root = root or store_root()
    if not root.is_dir():
        return
    for path in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        try:
            meta = json.loads((path / META).read_text())
        except (OSError, json.JSONDecodeError):
            continue
        yield Entry(path.name, path, _size(path), str(meta.get("recipe", "")), dict(meta.get("config", {})))


def leftovers(keep: set[str], root: Path | None = None) -> list[Path]:
    """Checkpoints of unfinished trainings and staging folders of keys not in ``keep``, and folders
    without a readable ``meta.json`` (an unfinished training of a kept key stays: it resumes from them)."""
    root = root or store_root()
    if not root.is_dir():
        return []
    complete = {e.key for e in entries(root)}
    scratch = [p for name in (".work", ".staging") if (root / name).is_dir() for p in (root / name).iterdir()
               if p.name[:24] not in keep]
    broken = [p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".") and p.name not in complete]
    return sorted(scratch + broken)


def prune(keep: set[str], root: Path | None = None) -> tuple[list[Entry], int]:
    """Remove every stored model whose key is not in ``keep``, and the leftovers; returns (removed, bytes freed)."""
    root = root or store_root()
    removed = [e for e in entries(root) if e.key not in keep]
    scratch = leftovers(keep, root)
    freed = sum(e.bytes for e in removed) + sum(_size(p) for p in scratch)
    for path in [e.path for e in removed] + scratch:
        shutil.rmtree(path, ignore_errors=True)
    return removed, freed
