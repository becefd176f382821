"""A content-addressed store of trained models.

A model's key hashes its training config (architecture, data generator and seed, or the
data's checksum), the package source and the locked library versions, so any notebook that
needs "UNET trained on multistain data, seed 1" gets the same model, trained once. Each
notebook still runs on its own: a missing model is trained (and resumes from its last
checkpoint if an earlier attempt was interrupted).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from cpath_repro.project import PROJECT_ROOT, file_hash, package_source_hash
from cpath_repro.results import atomic

STORE_ENV = "CPATH_REPRO_MODEL_STORE"
WEIGHTS = "model.pt"
META = "meta.json"


def store_root() -> Path:
    """``$CPATH_REPRO_MODEL_STORE`` or ``runs/models`` in the project."""
    return Path(os.environ.get(STORE_ENV) or PROJECT_ROOT / "runs" / "models")


def _locked_versions() -> str:
    lock = PROJECT_ROOT / "constraints.txt"
    return file_hash(lock) if lock.is_file() else "no lock file"


def model_key(config: dict[str, Any]) -> str:
    material = {"config": config, "package": package_source_hash(), "libraries": _locked_versions()}
    return hashlib.sha256(json.dumps(material, sort_keys=True, default=str).encode()).hexdigest()[:24]


@dataclass
class StoredModel:
    key: str
    model: nn.Module
    meta: dict[str, Any]


def exists(key: str) -> bool:
    return (store_root() / key / META).is_file()


def get_or_train(config: dict[str, Any], build: Callable[[], nn.Module],
                 train: Callable[[nn.Module, Path], dict[str, Any]]) -> StoredModel:
    """The model for ``config``: loaded (``weights_only=True``) if stored, else trained and stored.

    ``train(model, checkpoint_dir)`` trains in place and returns JSON-able metadata (history).
    """
    key = model_key(config)
    root = store_root()
    final = root / key
    model = build()
    if not (final / META).is_file():
        work = root / ".work" / key  # the engine's checkpoints: an interrupted training resumes here
        work.mkdir(parents=True, exist_ok=True)
        meta = {"key": key, "config": config, **train(model, work)}
        staged = root / ".staging" / f"{key}-{uuid.uuid4().hex[:8]}"
        staged.mkdir(parents=True)
        buffer = io.BytesIO()
        torch.save(model.state_dict(), buffer)
        atomic.write_bytes(staged / WEIGHTS, buffer.getvalue())
        atomic.write_json(staged / META, meta)  # written last: its presence marks a complete model
        atomic.replace_dir(staged, final)
        shutil.rmtree(work, ignore_errors=True)
    model.load_state_dict(torch.load(final / WEIGHTS, map_location="cpu", weights_only=True))
    model.eval()
    return StoredModel(key, model, json.loads((final / META).read_text()))
