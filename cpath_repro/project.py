"""Where the project lives, what its code is, and which commit it is at.

Cache keys see the code a result depends on, not the whole package: a notebook's result is
keyed on the modules it imported (recorded at the end of its run), a trained model on the
static import closure of the module that defines its training recipe. So a fixed typo in
``viz.py`` re-executes the notebooks that import it and retrains nothing, while a change to
the training engine retrains every model trained with it. A module counts by its *code*
(:func:`code_fingerprint`: the syntax tree without docstrings), so a comment, a docstring or
a reformatting re-runs and retrains nothing. (Jupyter Book's own cache only sees notebook
cells, not the package they call.)
"""

from __future__ import annotations

import ast
import hashlib
import os
import subprocess
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
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


@contextmanager
def environment(values: Mapping[str, str | None]) -> Iterator[None]:
    """This process's environment variables set to ``values`` (None: unset) while the block runs, for the processes
    it starts (a notebook kernel, a cluster's workers), then as they were."""
    before = {name: os.environ.get(name) for name in values}
    try:
        for name, value in values.items():
            _set(name, value)
        yield
    finally:
        for name, value in before.items():
            _set(name, value)


def _set(name: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value


PACKAGE = PACKAGE_DIR.name
LOCK_FILE = PROJECT_ROOT / "constraints.txt"


def package_source_hash() -> str:
    """SHA-256 over every ``.py`` file of the package (path and bytes), in a stable order (provenance only)."""
    digest = hashlib.sha256()
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        digest.update(path.relative_to(PACKAGE_DIR).as_posix().encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def module_file(name: str, package_dir: Path | None = None) -> Path | None:
    """The source file of package module ``name`` (``cpath_repro.x.y``), or ``None`` if there is none."""
    base = package_dir or PACKAGE_DIR
    parts = name.split(".")
    if parts[0] != PACKAGE:
        return None
    stem = base.joinpath(*parts[1:])
    for candidate in (stem.with_suffix(".py") if len(parts) > 1 else None, stem / "__init__.py"):
        if candidate is not None and candidate.is_file():
            return candidate
    return None


def package_modules(names: Iterable[str]) -> list[str]:
    """The package's own modules among ``names`` (e.g. the keys of ``sys.modules``), sorted."""
    return sorted({n for n in names if n == PACKAGE or n.startswith(PACKAGE + ".")})


def _strip_docstrings(tree: ast.AST) -> ast.AST:
    """Drop the docstring of the module and of every class and function (they cannot change a result)."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            first = body[0].value if body and isinstance(body[0], ast.Expr) else None
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                node.body = body[1:] or [ast.Pass()]
    return tree


@lru_cache(maxsize=1024)
def _fingerprint(path: str, mtime_ns: int, size: int) -> str:
    # Keyed on the file's stat too, so an edit made while a process runs is seen (tests edit copies).
    source = Path(path).read_bytes()
    try:
        tree = ast.parse(source, filename=path)
    except SyntaxError:  # a module that does not parse cannot run: its bytes are its identity
        return hashlib.sha256(source).hexdigest()
    # ast.dump leaves out line and column numbers, and the tree has no comments or formatting
    return hashlib.sha256(ast.dump(_strip_docstrings(tree)).encode()).hexdigest()


def code_fingerprint(path: Path) -> str:
    """SHA-256 of a module's code: its syntax tree without docstrings, comments, formatting or positions.

    This is what a cache key sees of a module: an edit that cannot change what the code does (a
    comment, a docstring, a line wrapped) keeps every result and every trained model.
    """
    stat = path.stat()
    return _fingerprint(str(path), stat.st_mtime_ns, stat.st_size)


def module_fingerprints(names: Iterable[str], package_dir: Path | None = None) -> dict[str, str]:
    """Module name -> :func:`code_fingerprint` of its current source (``"<missing>"`` for one that is gone)."""
    out = {}
    for name in sorted(set(names)):
        path = module_file(name, package_dir)
        out[name] = code_fingerprint(path) if path is not None else "<missing>"
    return out


def modules_hash(names: Iterable[str], package_dir: Path | None = None) -> str:
    """SHA-256 over the names and code fingerprints of the given package modules.

    A module that no longer exists hashes as missing, so a result that used it goes stale.
    """
    digest = hashlib.sha256()
    for name, fingerprint in module_fingerprints(names, package_dir).items():
        digest.update(f"{name}\0{fingerprint}\0".encode())
    return digest.hexdigest()


def changed_modules(recorded: Mapping[str, str], package_dir: Path | None = None) -> list[str]:
    """The modules among ``recorded`` (name -> fingerprint) whose code is no longer what was recorded."""
    now = module_fingerprints(recorded, package_dir)
    return [name for name, fingerprint in recorded.items() if now[name] != fingerprint]


def _imported_names(tree: ast.Module, name: str, is_package: bool) -> set[str]:
    """Every module a module's import statements can name, at any depth (lazy imports included),
    except those under ``if TYPE_CHECKING:``, which never run."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for branch in node.orelse:
                visit(branch)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative import: resolve against this module's package
                package = name if is_package else name.rpartition(".")[0]
                for _ in range(node.level - 1):
                    package = package.rpartition(".")[0]
                base = f"{package}.{node.module}" if node.module else package
            else:
                base = node.module or ""
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)  # `from pkg import module`
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def import_closure(module: str, package_dir: Path | None = None) -> list[str]:
    """The package modules that importing ``module`` can execute, found statically (sorted).

    Follows every import statement of the package's own modules (names that are attributes,
    not modules, drop out) and includes each module's parent packages, whose ``__init__`` runs first.
    """
    seen: set[str] = set()
    todo = [module]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        path = module_file(name, package_dir)
        if path is None:
            continue
        seen.add(name)
        parts = name.split(".")
        todo += [".".join(parts[:i]) for i in range(1, len(parts))]
        tree = ast.parse(path.read_bytes(), filename=str(path))
        todo += package_modules(_imported_names(tree, name, path.name == "__init__.py"))
    return sorted(seen)


@lru_cache(maxsize=1)
def lock_hash() -> str:
    """SHA-256 of the locked versions of what a number can depend on, part of every key: the runtime
    dependencies of ``pyproject.toml`` and everything they require. A development tool (the ``dev`` extra:
    pytest, ruff, ...) cannot change a result, so locking a new one re-runs and retrains nothing."""
    if not LOCK_FILE.is_file():
        return "no lock file"
    if not (PROJECT_ROOT / "pyproject.toml").is_file():  # no declared dependencies to tell them apart: all of it
        return file_hash(LOCK_FILE)
    from packaging.utils import canonicalize_name

    pins: dict[str, str] = {canonicalize_name(line.split("==")[0]): line.strip()
            for line in LOCK_FILE.read_text(encoding="utf-8").splitlines() if "==" in line and not line.startswith("#")}
    needed = sorted(n for n in runtime_distributions() if n in pins)
    return hashlib.sha256("\n".join(pins[n] for n in needed).encode()).hexdigest()


@lru_cache(maxsize=1)
def runtime_distributions() -> frozenset[str]:
    """The normalised names of the project's runtime dependencies and, transitively, of what they require
    (as installed; extras and markers that do not apply here are left out)."""
    import tomllib
    from importlib import metadata

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    declared = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]
    todo, seen = [Requirement(r) for r in declared], set()
    while todo:
        requirement = todo.pop()
        name = canonicalize_name(requirement.name)
        if name in seen or (requirement.marker is not None and not requirement.marker.evaluate({"extra": ""})):
            continue
        seen.add(name)
        try:
            todo += [Requirement(r) for r in metadata.requires(requirement.name) or ()]
        except metadata.PackageNotFoundError:  # not installed here: its own pin still counts, its requirements cannot
            continue
    return frozenset(seen)


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
