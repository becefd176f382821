"""A notebook's run: typed parameters in, tables/figures/claims out, committed whole.

This is the results store, a leaf: it knows nothing of the catalog or of the claims (the
notebook facade, :mod:`cpath_repro.notebook`, opens a run with the notebook's validated
parameters and the claim ids it may record). A notebook saves what it measures and calls
:meth:`Run.finish` in its last cell. Everything is written to a private staging
folder; ``finish`` writes ``manifest.json`` last and moves the folder into
``<run_dir>/<notebook>/`` in one rename, so an interrupted run never leaves a result the
book would read as complete. Jupyter and papermill runs write exactly the same files.
Under ``torchrun`` only rank 0 writes results: the other ranks stage into a private
temporary folder that is dropped, and wait at :meth:`Run.finish` until rank 0 has committed.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cpath_repro import atomic
from cpath_repro.errors import IncompleteRunError, UserError
from cpath_repro.profiles import Resolved
from cpath_repro.project import file_hash, module_fingerprints, package_modules
from cpath_repro.results import provenance

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

MANIFEST = "manifest.json"
STAGING = ".staging"
#: Where a run folder keeps its per-result commit locks (hidden: never read as a result).
COMMIT_LOCKS = ".commit-locks"
SCHEMA = 2  # 2: the code block records each module's fingerprint
#: The pretraining a backbone can start from, as a run records it (``Run.use_pretraining``).
PRETRAINING_SOURCES = ("imagenet", "fractal", "none")


def ensure_writable(run_dir: Path) -> Path:
    """Create ``run_dir`` if needed and prove a file can be written there, or say why not."""
    run_dir = Path(run_dir).expanduser().resolve()
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        probe = run_dir / f".write-test-{uuid.uuid4().hex[:8]}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise UserError(
            f"Run directory '{run_dir}' is not writable ({reason}); choose another (`cpath-repro run --run-dir DIR`, "
            "or the notebook's run_dir parameter in Jupyter)."
        ) from None
    return run_dir


class Run:
    """The results of one notebook execution, staged until :meth:`finish`."""

    def __init__(self, name: str, params: Resolved, run_dir: Path, claim_ids: Collection[str] | None = None,
                 ignore_modules: Collection[str] = ()) -> None:
        """``claim_ids``: the claims this run may record (others are refused at once, not at build time);
        ``ignore_modules``: package modules imported only to find the notebook's declaration (the catalog,
        other chapters' declarations), left out of the result's cache key."""
        self.name = name
        self.params = params
        self.claim_ids = None if claim_ids is None else frozenset(claim_ids)
        self.ignore_modules = frozenset(ignore_modules)
        self.run_dir = ensure_writable(run_dir)
        self.is_main = int(os.environ.get("RANK", "0")) == 0  # torchrun sets RANK; rank 0 alone commits
        if self.is_main:
            self.staging = self.run_dir / STAGING / f"{name}-{uuid.uuid4().hex[:12]}"
            self.staging.mkdir(parents=True)
        else:
            self.staging = Path(tempfile.mkdtemp(prefix=f"cpath-repro-rank-{name}-"))
        self.started = provenance.now_iso()
        self._t0 = time.perf_counter()
        self.data_sources: list[dict[str, Any]] = []
        self.tables: list[str] = []
        self.figures: list[str] = []
        self.figure_sizes: dict[str, dict[str, float]] = {}  # figure -> its width and smallest text (viz.measure)
        self.claims: list[str] = []
        self.claim_data: dict[str, str] = {}  # claim -> the data its numbers rest on ("synthetic data", ...)
        self.not_testable: dict[str, str] = {}  # claim -> why this run cannot test it
        self.undecidable: dict[str, str] = {}  # claim -> why its saved numbers cannot decide it at this budget
        self.models: list[str] = []
        self.pretraining: dict[str, str] = {}
        self.metrics: dict[str, Any] = {}
        self.finished = False

    # -- inputs -----------------------------------------------------------------------
    @property
    def profile(self) -> str:
        return self.params.profile

    def use_synthetic(self, generator: str, seed: int | list[int], **settings: Any) -> None:
        """Record that this run uses synthetic data (generator, settings, seed)."""
        self.data_sources.append(provenance.synthetic_source(generator, seed, **settings))

    def use_files(self, root: Path, files: Iterable[Path]) -> None:
        """Record the real files this run read, each with its SHA-256 (part of the data's identity)."""
        root = Path(root).resolve()
        checksums = {str(Path(f).resolve().relative_to(root)): file_hash(Path(f)) for f in files}
        digest = hashlib.sha256(json.dumps(checksums, sort_keys=True).encode()).hexdigest()
        self.data_sources.append({"kind": "real", "root": str(root), "files": checksums, "sha256": digest})

    # -- outputs ----------------------------------------------------------------------
    def save_table(self, name: str, table: pd.DataFrame) -> pd.DataFrame:
        """Save a table as CSV and JSON (records); returns it for display."""
        atomic.write_text(self.staging / "tables" / f"{name}.csv", table.to_csv(index=False))
        atomic.write_text(
            self.staging / "tables" / f"{name}.json", table.to_json(orient="records", indent=2, double_precision=6)
        )
        self.tables.append(name)
        return table

    def save_figure(self, name: str, fig: Figure) -> Figure:
        """Save a figure as PNG (at :data:`cpath_repro.viz.DPI`) and SVG, and record its width and smallest text;
        returns it so the notebook shows it inline, once.

        The figure is closed in pyplot, so Jupyter's inline backend does not show it a second time.
        """
        import matplotlib.pyplot as plt

        from cpath_repro import viz

        for fmt in ("png", "svg"):
            buffer = io.BytesIO()
            fig.savefig(buffer, format=fmt, dpi=viz.DPI, bbox_inches="tight")
            atomic.write_bytes(self.staging / "figures" / f"{name}.{fmt}", buffer.getvalue())
        plt.close(fig)
        self.figures.append(name)
        self.figure_sizes[name] = viz.measure(fig)
        return fig

    def save_figures(self, figures: Mapping[str, Figure]) -> list[Figure]:
        """:meth:`save_figure` for each named figure; returns them in order, for ``display(*...)``."""
        return [self.save_figure(name, fig) for name, fig in figures.items()]

    def save_metrics(self, **metrics: Any) -> dict[str, Any]:
        """Record scalar measurements (numbers the page quotes)."""
        self.metrics.update(metrics)
        return metrics

    def use_models(self, keys: Iterable[str]) -> None:
        """Record the model-store keys this page's numbers come from (the book checks they still exist)."""
        self.models.extend(k for k in keys if k not in self.models)

    def use_pretraining(self, backbone: str, source: str) -> None:
        """Record which pretraining a backbone started from (``imagenet``, ``fractal`` or ``none``): the claims
        resting on pretraining are judged with it (:mod:`cpath_repro.claims.pretraining`)."""
        if source not in PRETRAINING_SOURCES:
            raise UserError(f"Pretraining of {backbone} must be one of {', '.join(PRETRAINING_SOURCES)}; "
                            f"got {source!r}.")
        self.pretraining[backbone] = source

    def _claim(self, claim_id: str, data: str | None) -> None:
        if self.claim_ids is not None and claim_id not in self.claim_ids:
            raise UserError(f"Unknown claim {claim_id!r}; the registry's claims are {', '.join(sorted(self.claim_ids))}.")
        if claim_id not in self.claims:
            self.claims.append(claim_id)
        self.claim_data[claim_id] = data or provenance.data_kind(self.data_sources)

    def save_claim_table(self, claim_id: str, table: pd.DataFrame, data: str | None = None,
                         undecidable: str | None = None) -> None:
        """Save the per-seed results a claim's verdict is computed from (see :mod:`cpath_repro.claims`).

        ``data`` labels what these numbers rest on when it is not all of the page's data (a page that
        also reads a real slide may judge a claim on synthetic ground truth alone). ``undecidable`` says
        why these numbers cannot decide the claim at this budget although they were measured (e.g. the
        ensemble's weights left the paper's rule): the verdict is then *not testable at this budget*.
        """
        self._claim(claim_id, data)
        if undecidable is not None:
            self.undecidable[claim_id] = undecidable
        atomic.write_text(self.staging / "claims" / f"{claim_id}.csv", table.to_csv(index=False))

    def mark_not_testable(self, claim_id: str, reason: str) -> None:
        """Record that this run cannot test a claim, and why (the scorecard shows the reason)."""
        self._claim(claim_id, None)
        self.not_testable[claim_id] = reason

    # -- commit -----------------------------------------------------------------------
    def finish(self) -> provenance.Footer:
        """Write the manifest last and move the result into place; returns the provenance footer."""
        if self.finished:
            raise UserError(f"Run of '{self.name}' is already finished.")
        record = provenance.collect(self.started, time.perf_counter() - self._t0, self.data_sources)
        # the package code this notebook used, each module's fingerprint: part of its cache key
        modules = module_fingerprints(m for m in package_modules(sys.modules) if m not in self.ignore_modules)
        manifest = {
            "schema": SCHEMA,
            "notebook": self.name,
            "status": "complete",
            "profile": self.profile,
            "params": self.params.values,
            "tables": self.tables,
            "figures": self.figures,
            "figure_sizes": self.figure_sizes,
            "claims": self.claims,
            "claim_data": self.claim_data,
            "not_testable": self.not_testable,
            "undecidable": self.undecidable,
            "models": self.models,
            "pretraining": self.pretraining,
            "metrics": self.metrics,
            "provenance": record,
            "code": {"modules": modules},
            "files": checksums(self.staging),  # a file edited or deleted after the run is then found
        }
        if self.is_main:
            try:
                atomic.write_json(self.staging / MANIFEST, manifest)
                commit(self.staging, self.run_dir / self.name)
            except OSError as exc:  # a full disk: nothing half-committed, the previous result intact
                self.abandon()
                raise UserError(f"The results of '{self.name}' could not be committed to {self.run_dir} "
                                f"({exc.strerror or type(exc).__name__}); the previous result, if any, is "
                                "unchanged.") from None
        else:
            shutil.rmtree(self.staging, ignore_errors=True)
        _wait_for_all_ranks()
        self.finished = True
        return provenance.Footer(manifest)

    def abandon(self) -> None:
        """Drop the staged files (used by tests and error paths)."""
        shutil.rmtree(self.staging, ignore_errors=True)


def commit(staged: Path, final: Path) -> None:
    """Move a finished result into place (:func:`atomic.replace_dir`), one process at a time per result: two runs
    of one notebook into one folder each commit whole, one after the other (without the lock, the second's rename
    could find the first's folder in place, fail, and leave a hidden old copy behind)."""
    with atomic.exclusive(final.parent / COMMIT_LOCKS / final.name):
        atomic.replace_dir(staged, final)


def _wait_for_all_ranks() -> None:
    """Under torchrun, every rank leaves :meth:`Run.finish` only once rank 0 has committed."""
    if "RANK" in os.environ:
        from cpath_repro.train import distributed

        distributed.barrier(distributed.init())


def model_references(run_dirs: Iterable[Path]) -> dict[str, list[str]]:
    """Model-store key -> the committed results (``run_dir/notebook``) whose numbers come from that model."""
    refs: dict[str, list[str]] = {}
    for run_dir in run_dirs:
        if not Path(run_dir).is_dir():
            continue
        for result in sorted(p for p in Path(run_dir).iterdir() if p.is_dir() and not p.name.startswith(".")):
            models = (read_manifest(result) or {}).get("models", [])
            if not isinstance(models, list) or not all(isinstance(k, str) for k in models):
                raise DamagedResultError(result, "its list of models cannot be read")
            for key in models:
                refs.setdefault(key, []).append(f"{run_dir}/{result.name}")
    return refs


def read_manifest(result_dir: Path) -> dict[str, Any] | None:
    """The manifest of a committed result, or ``None`` when there is none (never committed). A manifest that is
    there but cannot be read as a JSON object (truncated, edited, not an object) is one sentence
    (:class:`DamagedResultError`), never taken for "not run": a command that would act on it must not guess."""
    path = Path(result_dir) / MANIFEST
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DamagedResultError(Path(result_dir), f"its {MANIFEST} cannot be read ({type(exc).__name__})") from None
    if not isinstance(data, dict) or not isinstance(data.get("status"), str):
        raise DamagedResultError(Path(result_dir), f"its {MANIFEST} is not a result's manifest")
    return data


class DamagedResultError(IncompleteRunError):
    """A committed result whose manifest or listed files are not as its run wrote them."""

    def __init__(self, result_dir: Path, why: str) -> None:
        self.result_dir, self.why = result_dir, why
        super().__init__(f"The result '{result_dir}' is damaged: {why}; run `cpath-repro run {result_dir.name} "
                         f"--run-dir {result_dir.parent}` to execute it again.")


#: Files of a result that its manifest does not list by checksum: the manifest itself.
UNLISTED = frozenset({MANIFEST})


def checksums(result_dir: Path) -> dict[str, str]:
    """SHA-256 of every file of a result (its path inside the result, with ``/``), the manifest aside: recorded
    when the result is committed, so that a file edited, replaced or deleted afterwards is found."""
    root = Path(result_dir)
    return {p.relative_to(root).as_posix(): file_hash(p) for p in sorted(root.rglob("*"))
            if p.is_file() and p.relative_to(root).as_posix() not in UNLISTED}


def check_files(run_dir: Path) -> None:
    """Refuse, in one sentence naming the file, a run holding a result whose manifest cannot be read or whose files
    are not as its run wrote them (what ``claims`` checks before it judges; ``build`` checks more). A result from
    before checksums were recorded has nothing to check against."""
    for result in sorted(p for p in Path(run_dir).iterdir() if p.is_dir() and not p.name.startswith(".")):
        manifest = read_manifest(result)
        changed = changed_files(result, manifest) if manifest is not None and "files" in manifest else []
        if changed:
            raise DamagedResultError(result, "; ".join(changed))


def changed_files(result_dir: Path, manifest: Mapping[str, Any]) -> list[str]:
    """The files of a committed result that are not as its run wrote them, each with what happened to it
    (``claims/A-C1.csv edited since its run``, ``tables/t.csv deleted since its run``); one entry when no
    checksums were recorded. A file added beside them is not the run's and is left alone."""
    recorded = manifest.get("files")
    if not isinstance(recorded, Mapping):
        return ["no checksums of its files recorded"]
    now = checksums(result_dir)
    return [f"{name} {'deleted' if name not in now else 'edited'} since its run" for name, digest in recorded.items()
            if now.get(name) != digest]
