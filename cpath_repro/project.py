"""Where the project lives, what its code is, and which commit it is at.

The package source hash is part of every cache key: changing any module re-executes the
notebooks (Jupyter Book's own cache only sees notebook cells, not the package they call).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from functools import lru_cache
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = PACKAGE_DIR.parent
NOTEBOOK_DIR = PROJECT_ROOT / "notebooks"
RUN_DIR_ENV = "CPATH_REPRO_RUN_DIR"


def default_run_dir(profile: str) -> Path:
    """The run directory used when none is given: ``$CPATH_REPRO_RUN_DIR`` or ``runs/<profile>``."""
    env = os.environ.get(RUN_DIR_ENV)
    return Path(env) if env else PROJECT_ROOT / "runs" / profile


def package_source_hash() -> str:
    """SHA-256 over every ``.py`` file of the package (path and bytes), in a stable order."""
    digest = hashlib.sha256()
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        digest.update(path.relative_to(PACKAGE_DIR).as_posix().encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def file_hash(path: Path) -> str:
    """SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def data_fingerprint(root: str | None) -> str | None:
    """A cheap identity of a data folder (relative paths, sizes, modification times)."""
    if not root:
        return None
    digest = hashlib.sha256()
    base = Path(root)
    for path in sorted(p for p in base.rglob("*") if p.is_file()):
        stat = path.stat()
        digest.update(f"{path.relative_to(base).as_posix()}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


@lru_cache(maxsize=1)
def git_state() -> tuple[str, bool]:
    """``(commit, dirty)`` of the project checkout, or ``("unknown", False)`` outside git."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return "unknown", False
    return commit, bool(status.strip())
