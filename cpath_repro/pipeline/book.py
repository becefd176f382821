"""Build the Jupyter Book from a run: check every result, stage a tree, run Sphinx strictly.

Execution is off in the book (papermill already ran the notebooks), so Jupyter Book's own
error options do not apply. This module refuses a notebook whose saved outputs hold an
error, whose run is incomplete, or whose result is stale (notebook, parameters or package
code changed since), and builds with warnings as errors. The build reads a generated
staging tree, never the work tree, so building does not dirty it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import uuid
from pathlib import Path

from cpath_repro import catalog
from cpath_repro.claims import scorecard
from cpath_repro.errors import IncompleteRunError, UserError
from cpath_repro.pipeline.execute import EXECUTED, cache_key, is_current, notebook_problem
from cpath_repro.profiles import Resolved
from cpath_repro.project import PROJECT_ROOT
from cpath_repro.results import atomic
from cpath_repro.results.run import STAGING, read_manifest
from cpath_repro.train import store

BOOK_FILES = ("_config.yml", "_toc.yml")
GENERATED = "book/_generated"


def check_run(run_dir: Path) -> dict[str, Path]:
    """The complete, error-free, current results in ``run_dir``, by notebook.

    A notebook that was never run is left out (its page says "not run", its claims stay "not yet
    reproduced"); one whose result is interrupted, failed, stale or lost its model refuses the build.
    """
    if not run_dir.is_dir():
        raise IncompleteRunError(
            f"Run directory '{run_dir}' does not exist; create it with `cpath-repro run all --run-dir {run_dir}`."
        )
    staged = [p.name for p in (run_dir / STAGING).glob("*")]
    problems: list[str] = []
    results: dict[str, Path] = {}
    for spec in catalog.NOTEBOOKS.values():
        result = run_dir / spec.name
        manifest = read_manifest(result)
        rerun = f"`cpath-repro run {spec.name} --run-dir {run_dir}`"
        if manifest is None or manifest.get("status") != "complete":
            interrupted = any(n.startswith((f"{spec.name}-", f"cli-{spec.name}-")) for n in staged)
            if interrupted or result.exists():
                note = " (an interrupted run left an incomplete result, which is ignored)" if interrupted else ""
                problems.append(f"'{spec.name}' has no complete result{note}; run {rerun}.")
            continue  # never run: a partial book shows its page as not run
        if not (result / EXECUTED).is_file():
            problems.append(f"'{spec.name}' has results but no executed notebook (a run from Jupyter?); run {rerun}.")
            continue
        problem = notebook_problem(result / EXECUTED)
        if problem:
            problems.append(f"'{spec.name}' {problem}; fix it and run {rerun}.")
            continue
        params = Resolved(spec.name, manifest["profile"], manifest["params"])
        if not is_current(manifest, cache_key(spec, params)):
            problems.append(f"'{spec.name}' is stale (its notebook, parameters, data or the package code changed "
                            f"since it ran); run {rerun}.")
            continue
        missing = [k for k in manifest.get("models", []) if not store.exists(k)]
        if missing:
            problems.append(f"'{spec.name}' used model {missing[0]}, which is no longer in the model store "
                            f"({store.store_root()}); run {rerun}.")
            continue
        results[spec.name] = result
    if problems:
        raise IncompleteRunError("The book was not built: " + " ".join(problems))
    return results


def stage(run_dir: Path, results: dict[str, Path], stage_dir: Path) -> None:
    """Lay out the book's sources: config, written chapters, executed notebooks, the scorecard."""
    shutil.rmtree(stage_dir, ignore_errors=True)
    stage_dir.mkdir(parents=True)
    for name in BOOK_FILES:
        shutil.copy2(PROJECT_ROOT / name, stage_dir / name)
    shutil.copytree(PROJECT_ROOT / "book", stage_dir / "book", ignore=shutil.ignore_patterns("_generated"))
    (stage_dir / "notebooks").mkdir()
    for name, result in results.items():
        shutil.copy2(result / EXECUTED, stage_dir / "notebooks" / f"{name}.ipynb")
    missing = [spec for spec in catalog.NOTEBOOKS.values() if spec.name not in results]
    for spec in missing:
        atomic.write_text(stage_dir / "notebooks" / f"{spec.name}.md", _not_run_page(spec, run_dir))
    generated = stage_dir / GENERATED
    generated.mkdir(parents=True)
    verdicts = scorecard.verdicts(run_dir)
    partial = (f"**A partial book:** {len(results)} of {len(catalog.NOTEBOOKS)} notebooks were run for it "
               f"({', '.join(s.name for s in missing)} were not; their pages say so and their claims are "
               "*not yet reproduced*).\n\n" if missing else "")
    atomic.write_text(generated / "scorecard.md", partial + "```{raw} html\n" + scorecard.as_html(verdicts) + "\n```\n")


def _not_run_page(spec: catalog.NotebookSpec, run_dir: Path) -> str:
    """The page of a notebook this build's run did not include."""
    return (f"# {', '.join(spec.artifacts)} · {spec.title}\n\n{spec.description}\n\n"
            f"**Not run for this book.** The run it was built from (`{run_dir}`) has no result for this notebook; "
            f"`cpath-repro run {spec.name} --run-dir {run_dir}` runs it, then `cpath-repro build --run-dir {run_dir}` "
            "builds the book again.\n")


def build(run_dir: Path, out_dir: Path | None = None, quiet: bool = True) -> Path:
    """Check, stage and build; the new ``html/`` replaces the old one only when the build succeeded."""
    run_dir = Path(run_dir).resolve()
    out_dir = Path(out_dir or PROJECT_ROOT / "_build").resolve()
    results = check_run(run_dir)
    stage_dir = out_dir / "stage"
    stage(run_dir, results, stage_dir)
    scratch = out_dir / f".build-{uuid.uuid4().hex[:8]}"
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    if not jupyter_book.is_file():
        raise UserError(f"Jupyter Book is not installed beside this Python (expected '{jupyter_book}'); run `make book`, "
                        "which installs the project's environment.")
    command = [str(jupyter_book), "build", str(stage_dir),
               "--path-output", str(scratch), "--builder", "html", "--warningiserror", "--keep-going"]
    if quiet:
        command.append("--quiet")
    proc = subprocess.run(command, capture_output=True, text=True)
    html = scratch / "_build" / "html"
    if proc.returncode != 0 or not (html / "index.html").is_file():
        shutil.rmtree(scratch, ignore_errors=True)
        lines = [ln for ln in (proc.stdout + proc.stderr).splitlines() if "WARNING" in ln or "ERROR" in ln]
        detail = lines[0].strip() if lines else (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise UserError(f"Jupyter Book failed ({len(lines)} warning(s) or error(s)); the first: {detail}")
    atomic.replace_dir(html, out_dir / "html")
    shutil.rmtree(scratch, ignore_errors=True)
    return out_dir / "html" / "index.html"
