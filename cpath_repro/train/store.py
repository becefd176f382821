"""A content-addressed store of trained models.

A model's key hashes its training config (architecture, data generator and seed, or the
data's checksum), the source of its training recipe's static import closure (the module
that defines the recipe and every package module it can import: model, data generator,
engine; not the plotting code a notebook imports beside it) and the locked library
versions. So any notebook that needs "UNET trained on multistain data, seed 1" gets the
same model, trained once; a changed engine retrains it, a changed figure does not.

A chapter declares each model as a :class:`Recipe` and asks for the ones it needs as a batch (:func:`ensure`), then
reads them (:func:`get`). A missing model is trained in the asking process, or as a task of the Dask cluster that
``$CPATH_REPRO_SCHEDULER`` names (:mod:`cpath_repro.pipeline.cluster`); it resumes from its last checkpoint if an
earlier attempt was interrupted. Whoever trains a model holds its key's lock, so processes that need one model at
once train it once: the others wait and load it. Under ``torchrun`` every process trains (DDP needs them all) but
only rank 0 writes the store; the others wait for it, then load.
"""

from __future__ import annotations

import hashlib
import importlib
import io
import json
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

import torch
from torch import nn

from cpath_repro import atomic
from cpath_repro.errors import UserError
from cpath_repro.project import PROJECT_ROOT, changed_modules, import_closure, lock_hash, module_fingerprints, modules_hash
from cpath_repro.train import distributed

STORE_ENV = "CPATH_REPRO_MODEL_STORE"
#: A Dask scheduler's address: :func:`ensure` trains missing models as tasks there (set by ``cpath-repro run``)
SCHEDULER_ENV = "CPATH_REPRO_SCHEDULER"
#: Torch threads per training (:func:`threads`)
THREADS_ENV = "CPATH_REPRO_TRAIN_THREADS"
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


@dataclass(frozen=True, eq=False)
class Recipe:
    """One model, declared without training it: its ``config`` (with the code of ``module``'s import closure, its
    store key), ``build()`` for its initial weights, ``train(model, checkpoint_dir)`` (trains in place and returns
    JSON-able metadata such as the history) and the recipes of the models it starts from (``needs``, trained first).

    ``module`` is the module that defines the training (pass ``__name__``). The callables run only where the model
    is trained, which may be another process (:func:`ensure` with a Dask scheduler), so they read their data
    themselves rather than holding it.
    """

    config: dict[str, Any]
    build: Callable[[], nn.Module]
    train: Callable[[nn.Module, Path], dict[str, Any]]
    module: str
    needs: tuple[Recipe, ...] = ()

    @cached_property
    def key(self) -> str:
        return model_key(self.config, self.module)


def exists(key: str) -> bool:
    return (store_root() / key / META).is_file()


def missing(recipes: Iterable[Recipe]) -> list[Recipe]:
    """The recipes among ``recipes`` and their ``needs`` whose models are not stored, each once, every recipe after
    the ones it starts from."""
    out: dict[str, Recipe] = {}

    def visit(recipe: Recipe) -> None:
        if recipe.key in out or exists(recipe.key):
            return
        for need in recipe.needs:
            visit(need)
        out[recipe.key] = recipe

    for recipe in recipes:
        visit(recipe)
    return list(out.values())


def ensure(recipes: Iterable[Recipe]) -> None:
    """Make sure the models of ``recipes`` (and of what they start from) are stored: trained here one after another,
    or, when ``$CPATH_REPRO_SCHEDULER`` names a Dask scheduler, as tasks on its workers (waited for)."""
    todo = missing(recipes)
    if not todo:
        return
    if os.environ.get(SCHEDULER_ENV):
        # Imported by name: where a model trains is not part of its key (the task calls make() below, which is).
        importlib.import_module("cpath_repro.pipeline.cluster").train(todo)
        return
    for recipe in todo:
        make(recipe)


def get(recipe: Recipe) -> StoredModel:
    """The model of ``recipe``, loaded (``weights_only=True``) from the store, after :func:`ensure` trained it if
    it was missing."""
    ensure([recipe])
    final = store_root() / recipe.key
    model = recipe.build()
    try:
        model.load_state_dict(torch.load(final / WEIGHTS, map_location="cpu", weights_only=True))
        meta = json.loads((final / META).read_text())
    except Exception as exc:  # a truncated or corrupt entry: say which, and how to get a good one
        raise UserError(f"Model-store entry '{final}' cannot be read ({type(exc).__name__}); delete that folder and "
                        "the model is trained again.") from None
    model.eval()
    return StoredModel(recipe.key, model, meta)


def make(recipe: Recipe) -> None:
    """Train ``recipe``'s model and store it, unless it is stored (or another process stores it while we wait for its
    lock: one trains, the others wait and find it). A training killed midway leaves its checkpoints, never an
    entry that reads as complete; the next attempt resumes from them."""
    root = store_root()
    ctx = distributed.init()
    if (root / recipe.key / META).is_file():
        return
    with _training_lock(ctx, root / ".locks" / recipe.key):
        if not (root / recipe.key / META).is_file():  # trained by the process that held the lock before us
            with training_threads():
                _train_and_store(ctx, recipe)


@contextmanager
def training_threads() -> Iterator[int]:
    """Train on :func:`threads` torch threads, wherever the training runs (the thread count changes the last bits
    of the weights: 1 and 2 threads train different models), then give the caller its own count back."""
    before, wanted = torch.get_num_threads(), threads()
    torch.set_num_threads(wanted)
    try:
        yield wanted
    finally:
        torch.set_num_threads(before)


def threads() -> int:
    """Torch threads per training: ``$CPATH_REPRO_TRAIN_THREADS``, else this process's torch default. ``cpath-repro
    run`` sets the variable once, from its own default, for every notebook and task it starts."""
    value = os.environ.get(THREADS_ENV, "")
    if value:
        if not value.isdigit() or int(value) < 1:
            raise UserError(f"${THREADS_ENV} must be a whole number of at least 1, got {value!r}.")
        return int(value)
    return torch.get_num_threads()


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


def _train_and_store(ctx: distributed.Context, recipe: Recipe) -> None:
    root, key = store_root(), recipe.key
    work = root / ".work" / key  # the engine's checkpoints: an interrupted training resumes here
    if ctx.is_main:
        work.mkdir(parents=True, exist_ok=True)
    distributed.barrier(ctx)
    model = recipe.build()
    meta = {"key": key, "recipe": recipe.module, "config": recipe.config, **recipe.train(model, work),
            "threads": torch.get_num_threads(),
            "code_modules": module_fingerprints(_closure(recipe.module))}  # what `outdated` names when it changes
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
