"""Build the Jupyter Book from a run: check every result, stage a tree, run Sphinx strictly.

Execution is off in the book (papermill already ran the notebooks), so Jupyter Book's own
error options do not apply. This module refuses a notebook whose saved outputs hold an
error, whose run is incomplete, or whose result is stale (notebook, parameters or package
code changed since), and builds with warnings as errors. The build reads a generated
staging tree, never the work tree, so building does not dirty it.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import sys
import uuid
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import yaml

from cpath_repro import atomic, catalog
from cpath_repro.claims import card, choices, decides, registry, scorecard
from cpath_repro.claims.rules import Status
from cpath_repro.errors import IncompleteRunError, UserError
from cpath_repro.pipeline import performance, sweeps
from cpath_repro.pipeline.execute import EXECUTED, Job, cache_key, describe_reasons, notebook_problem, stale_reasons
from cpath_repro.profiles import Resolved
from cpath_repro.project import PROJECT_ROOT
from cpath_repro.results.run import STAGING, DamagedResultError, read_manifest

BOOK_FILES = ("_config.yml", "_toc.yml")
GENERATED = "book/_generated"
#: papermill's cell holding the values it was given: the footer lists them, so the page drops the cell
INJECTED = "injected-parameters"
#: Jupyter Book folds a code cell with this tag: its output shows, its source is one click away
FOLDED = "hide-input"
#: ... and with this one, source and output together: the page's setup (the cell that opens its run), whose
#: output is for developers (parameter counts, models loaded), not readers
FOLDED_WHOLE = "hide-cell"
#: ... and shows a cell's output alone with this one: the verdict cards the build inserts
OUTPUT_ONLY = "remove-input"
CARDS_SOURCE = "# the verdict cards of this page's claims, drawn when the book is built"
SETUP = re.compile(r"^\s*run, \w+ = start\(", re.MULTILINE)
#: Above a chapter's list of its claims' verdicts
CLAIM_LIST = ("**What our runs found**, claim by claim (each verdict computed from paired seeds by a rule fixed before "
              "the run; the pages below give the evidence):")
#: From a notebook page, the front page (whose "Papers" section the cards' citations link to)
FRONT_PAGE = "../book/index.html"
#: Where, beside the staged notebooks, each page's tables and figures are copied for download
FILES = "files"
#: The front page's section under the scorecard: each mapped verdict across its knob
ROBUSTNESS = ("\n### How robust each verdict is\n\nA claim whose verdict a knob of the synthetic world or of the "
              "budget could decide has a sensitivity map: the claim judged again at three values of that knob, "
              "5 paired seeds each (`make sweeps`). *Robust*: the same verdict at every value; *depends on*: the "
              "verdict is the knob's, and the map on the claim's page shows where it changes; a verdict that no "
              "value could test is marked so, not robust. The other claims' pages say what could decide them; "
              "none declares a single knob of the world that would.\n\n")


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
        rerun = f"`cpath-repro run {spec.name} --run-dir {run_dir}`"
        try:
            manifest = read_manifest(result)
        except DamagedResultError as exc:
            problems.append(f"'{spec.name}' is damaged ({exc.why}); run {rerun}.")
            continue
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
        reasons = stale_reasons(Job(spec, params, {}, cache_key(spec, params)), run_dir)
        if reasons:
            problems.append(f"'{spec.name}' is stale ({describe_reasons(reasons)}); run {rerun}.")
            continue
        results[spec.name] = result
    if problems:
        raise IncompleteRunError("The book was not built: " + " ".join(problems))
    return results


def stage(run_dir: Path, results: dict[str, Path], stage_dir: Path) -> None:
    """Lay out the book's sources: config, written chapters, executed notebooks, the generated pages."""
    shutil.rmtree(stage_dir, ignore_errors=True)
    stage_dir.mkdir(parents=True)
    for name in BOOK_FILES:
        shutil.copy2(PROJECT_ROOT / name, stage_dir / name)
    shutil.copytree(PROJECT_ROOT / "book", stage_dir / "book", ignore=shutil.ignore_patterns("_generated"))
    (stage_dir / "notebooks").mkdir()
    verdicts = scorecard.verdicts(run_dir)
    by_claim = {v.claim.id: v for v in verdicts}
    found = sweeps.maps(run_dir)
    for name, result in results.items():
        links = _copy_files(result, stage_dir / "notebooks" / FILES / name, f"{FILES}/{name}")
        page = for_reading(nbformat.read(result / EXECUTED, as_version=4), links, by_claim, found,
                           catalog.get(name).claims)
        atomic.write_text(stage_dir / "notebooks" / f"{name}.ipynb", nbformat.writes(page))
    missing = [spec for spec in catalog.NOTEBOOKS.values() if spec.name not in results]
    for spec in missing:
        atomic.write_text(stage_dir / "notebooks" / f"{spec.name}.md", _not_run_page(spec, run_dir))
    generated = stage_dir / GENERATED
    generated.mkdir(parents=True)
    partial = (f"**A partial book:** {len(results)} of {len(catalog.NOTEBOOKS)} notebooks were run for it "
               f"({', '.join(s.name for s in missing)} were not; their pages say so and their claims are "
               "*not yet reproduced*).\n\n" if missing else "")
    overview = scorecard.overview_html(verdicts)
    atomic.write_text(generated / "basis.md", partial + basis(results, verdicts) + "\n"
                      + (f"\n```{{raw}} html\n{overview}\n```\n" if overview else ""))
    atomic.write_text(generated / "scorecard.md", "```{raw} html\n" + scorecard.as_html(verdicts) + "\n```\n"
                      + ROBUSTNESS + "```{raw} html\n" + sweeps.robustness_html(found) + "\n```\n")
    atomic.write_text(generated / "papers.md", papers())
    atomic.write_text(generated / "performance.md", performance.page(results, performance.read()))
    atomic.write_text(generated / "chapters.md", chapters_page(book_order(PROJECT_ROOT / "_toc.yml")))
    atomic.write_text(generated / "choices.md", choices.as_markdown())
    for paper in registry.PAPERS:  # each chapter page shows its claims' verdicts and the choices that concern it
        atomic.write_text(generated / f"choices-{paper}.md", choices.as_markdown(paper=paper))
        mine = [v for v in verdicts if v.claim.paper == paper]
        if mine:
            atomic.write_text(generated / f"claims-{paper}.md", f"*The paper:* {registry.CITATIONS[paper]}\n\n"
                              f"{CLAIM_LIST}\n\n```{{raw}} html\n{card.claim_list(mine)}\n```\n")


def basis(results: dict[str, Path], verdicts: list[scorecard.Verdict]) -> str:
    """The front page's first paragraph after the title: what data and budget the verdicts rest on, from the
    run's own manifests (never more than they show)."""
    manifests = [m for m in (read_manifest(r) for r in results.values()) if m]
    judged = [v for v in verdicts if v.status is not Status.NOT_YET]
    if not manifests or not judged:
        return "**What these verdicts rest on.** Nothing yet: no chapter with claims was run for this book."
    synthetic = sum(v.data.startswith("synthetic") for v in judged)
    seeds = sorted({c.n for v in judged for c in v.comparisons if c.n})
    hours = sum(m.get("execution", {}).get("wall_time_s", 0.0) for m in manifests) / 3600
    profiles = ", ".join(f"`{p}`" for p in sorted({m["profile"] for m in manifests}))
    devices = Counter(m["provenance"].get("device", "an unrecorded machine").split(", torch")[0].rstrip(")") + ")"
                      for m in manifests)
    data = ("all on synthetic data drawn to carry each paper's mechanism" if synthetic == len(judged) else
            f"{synthetic} on synthetic data drawn to carry each paper's mechanism, {len(judged) - synthetic} on the "
            "small real samples their pages name")
    seed_words = (f"{seeds[0]}" if len(seeds) == 1 else f"{seeds[0]} to {seeds[-1]}") if seeds else "no"
    seed_words += " paired seed" + ("" if seeds == [1] else "s")
    took = f"{hours:.1f} hours" if hours >= 1 else f"{hours * 60:.0f} minutes"
    return (f"**What these verdicts rest on: our own small runs, not the papers' data.** {len(judged)} of "
            f"{len(verdicts)} claims judged, {data}; the {profiles} profile: {seed_words} per comparison, "
            f"{len(manifests)} notebooks, {took} on {devices.most_common(1)[0][0]}. "
            "*Inconclusive at this budget* means these seeds cannot decide; each page says what of its synthetic "
            "world could decide its verdict.")


def papers() -> str:
    """The front page's "Papers" section: each paper's citation as its own text prints it, with the anchor the
    verdict cards link to."""
    items = [f"<p id='{card.PAPERS_ANCHOR.format(paper=paper)}'><b>Paper {paper}.</b> {html.escape(str(citation))}</p>"
             for paper, citation in registry.CITATIONS.items()]
    return "```{raw} html\n" + "\n".join(items) + "\n```\n"


def for_reading(nb: nbformat.NotebookNode, files: str = "", verdicts: dict[str, scorecard.Verdict] | None = None,
                maps: dict[str, sweeps.Map] | None = None, claims: tuple[str, ...] = ()) -> nbformat.NotebookNode:
    """An executed notebook as a page that reads verdict, narrative, figure, table.

    The verdict card of each of ``claims`` (from ``verdicts``, the front page's) goes right under the page's title;
    papermill's injected-parameters cell is dropped (the provenance footer lists every parameter the page ran
    with); every code cell is folded, its outputs shown and its source one click away, and the setup cell folded
    whole; ``files`` (Markdown) is appended as a last paragraph; each verdict box shows ``verdicts``' verdict of its
    claim (one verdict everywhere), followed by what decides that verdict and its map from ``maps``.
    """
    page = nbformat.from_dict(nb)
    page.cells = [c for c in page.cells if INJECTED not in c.metadata.get("tags", [])]
    for cell in page.cells:
        if cell.cell_type == "code":
            if verdicts:
                scorecard.one_verdict(cell.outputs, verdicts)
            cell.outputs = what_decides(cell.outputs, maps or {})
            tags = cell.metadata.setdefault("tags", [])
            fold = FOLDED_WHOLE if SETUP.search(cell.source) else FOLDED
            tags[:] = [t for t in tags if t not in (FOLDED, FOLDED_WHOLE)] + [fold]
    shown = [verdicts[c] for c in claims if verdicts and c in verdicts]
    if shown:
        # a code cell with a source: MyST-NB skips empty ones; remove-input shows only its output
        _under_title(page, nbformat.v4.new_code_cell(CARDS_SOURCE, metadata={"tags": [OUTPUT_ONLY]}, outputs=[
            nbformat.v4.new_output("display_data", data={"text/html": card.cards(shown, FRONT_PAGE),
                                                         "text/plain": "\n".join(card.headline(v) for v in shown)})]))
    if files:
        page.cells.append(nbformat.v4.new_markdown_cell(files))
    return page


def _under_title(page: nbformat.NotebookNode, cell: nbformat.NotebookNode) -> None:
    """Insert ``cell`` right under the page's title (its first Markdown cell's first line, when that is a heading)."""
    first = next((i for i, c in enumerate(page.cells) if c.cell_type == "markdown"), None)
    if first is None or not page.cells[first].source.startswith("# "):
        page.cells.insert(0, cell)
        return
    title, _, rest = page.cells[first].source.partition("\n")
    page.cells[first].source = title
    page.cells[first + 1:first + 1] = [cell] + ([nbformat.v4.new_markdown_cell(rest.strip())] if rest.strip() else [])


def what_decides(outputs: list, maps: dict[str, sweeps.Map]) -> list:
    """``outputs`` with "What decides this verdict" after each registry claim's verdict box (its map from ``maps``,
    or how to compute it)."""
    out = []
    for output in outputs:
        out.append(output)
        found = scorecard.BOX_CLAIM.match(str(output.get("data", {}).get("text/html", "")))
        if found and found.group(1) in registry.CLAIMS:
            claim = found.group(1)
            out.append(nbformat.v4.new_output("display_data", data={
                "text/html": sweeps.decides_html(claim, maps.get(claim)),
                "text/plain": f"What decides {claim}: {decides.get(claim).mechanism}"}))
    return out


def _copy_files(result: Path, into: Path, link: str) -> str:
    """Copy a result's tables, claim tables and figures beside its page; a list of download links to them."""
    groups = (("Tables (CSV)", "tables", "csv"), ("Per-seed tables the verdicts are computed from (CSV)", "claims", "csv"),
              ("Figures (PNG, SVG)", "figures", "png"))
    lines = []
    for label, folder, ext in groups:
        found = sorted((result / folder).glob(f"*.{ext}"))
        if not found:
            continue
        shutil.copytree(result / folder, into / folder)
        items = []
        for path in found:
            item = f"[{path.stem}]({link}/{folder}/{path.name})"
            if (svg := path.with_suffix(".svg")).is_file():
                item += f" ([SVG]({link}/{folder}/{svg.name}))"
            items.append(item)
        lines.append(f"- {label}: " + " · ".join(items))
    return "**This page's results as files**, from the run the book was built from:\n\n" + "\n".join(lines) if lines else ""


def book_order(toc: Path) -> list[catalog.NotebookSpec]:
    """The catalog's notebooks in the order the table of contents shows them (any it leaves out, last)."""
    files: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("file"), str):
                files.append(node["file"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(yaml.safe_load(toc.read_text(encoding="utf-8")))
    position = {f: i for i, f in enumerate(files)}
    return sorted(catalog.NOTEBOOKS.values(), key=lambda s: position.get(f"notebooks/{s.name}", len(files)))


def chapters_page(specs: list[catalog.NotebookSpec]) -> str:
    """What each chapter reproduces, in the project's own words (the notebooks' declarations and the claim
    registry), so that the "how to read" page cannot drift from the catalog."""
    lines: list[str] = []
    for part in dict.fromkeys(s.part for s in specs):
        lines += [f"### {part}", ""]
        for spec in (s for s in specs if s.part == part):
            judged = f"; claims {', '.join(spec.claims)}" if spec.claims else ""
            lines.append(f"- {{doc}}`/notebooks/{spec.name}` ({', '.join(spec.artifacts)}{judged}): {spec.description}")
        lines.append("")
    declared = {c for s in specs for c in s.claims}
    waiting = []
    for paper, title in registry.PAPERS.items():
        ids = [c.id for c in registry.CLAIMS.values() if c.paper == paper]
        if ids and not declared & set(ids):
            waiting.append(f"- Paper {paper}, {title}: claims {ids[0]} to {ids[-1]}")
    if waiting:
        lines += ["### Papers without a chapter yet", "",
                  "Their claims are on the front page, each with its rule, as *not yet reproduced*:", "", *waiting, ""]
    return "\n".join(lines) + "\n"


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
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    if not jupyter_book.is_file():
        raise UserError(f"Jupyter Book is not installed beside this Python (expected '{jupyter_book}'); run `make book`, "
                        "which installs the project's environment.")
    stage_dir, scratch = out_dir / "stage", out_dir / f".build-{uuid.uuid4().hex[:8]}"
    try:
        return _build(run_dir, results, stage_dir, scratch, jupyter_book, quiet)
    except OSError as exc:  # a full disk, an unwritable --out: the previous book stays, no half-written stage
        shutil.rmtree(stage_dir, ignore_errors=True)
        raise UserError(f"The book could not be written to {out_dir} ({exc.strerror or type(exc).__name__}); the "
                        "previous book there, if any, is unchanged.") from None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _build(run_dir: Path, results: dict[str, Path], stage_dir: Path, scratch: Path, jupyter_book: Path,
           quiet: bool) -> Path:
    """Stage the book's sources, build them into ``scratch`` and move the new ``html/`` into place in one rename."""
    stage(run_dir, results, stage_dir)
    out_dir = stage_dir.parent
    command = [str(jupyter_book), "build", str(stage_dir),
               "--path-output", str(scratch), "--builder", "html", "--warningiserror", "--keep-going"]
    if quiet:
        command.append("--quiet")
    proc = subprocess.run(command, capture_output=True, text=True)
    html = scratch / "_build" / "html"
    if proc.returncode != 0 or not (html / "index.html").is_file():
        lines = [ln for ln in (proc.stdout + proc.stderr).splitlines() if "WARNING" in ln or "ERROR" in ln]
        detail = lines[0].strip() if lines else (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise UserError(f"Jupyter Book failed ({len(lines)} warning(s) or error(s)); the first: {detail}")
    offline_search(html)
    atomic.replace_dir(html, out_dir / "html")
    return out_dir / "html" / "index.html"


#: HTML elements without an end tag
VOID_TAGS = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class _MainText(HTMLParser):
    """The text of a page's ``role="main"`` element, as Sphinx's search reads it (no scripts, styles or ¶ links)."""

    def __init__(self) -> None:
        super().__init__()
        self.open: list[bool] = []  # the elements open inside the main one (itself first): whether each is skipped
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag not in VOID_TAGS and (self.open or found.get("role") == "main"):
            self.open.append(tag in ("script", "style") or "headerlink" in (found.get("class") or ""))

    def handle_endtag(self, tag: str) -> None:
        if self.open and tag not in VOID_TAGS:
            self.open.pop()

    def handle_data(self, data: str) -> None:
        if self.open and not any(self.open):
            self.parts.append(data)


def offline_search(html_dir: Path) -> None:
    """Let the book's search show excerpts when it is opened from disk: each page's main text, embedded in
    ``_static/page-texts.js`` for ``search-offline.js`` to answer the page requests a browser refuses on file://
    (Sphinx's search has no such mode; served over HTTP, nothing changes)."""
    texts = {}
    for page in sorted(html_dir.rglob("*.html")):
        if "_static" in page.parts or page.name in ("search.html", "genindex.html"):
            continue
        reader = _MainText()
        reader.feed(page.read_text(encoding="utf-8"))
        text = " ".join(" ".join(reader.parts).split())
        if text:
            texts[page.relative_to(html_dir).as_posix()] = f'<div role="main">{html.escape(text)}</div>'
    atomic.write_text(html_dir / "_static" / "page-texts.js", f"window.CPATH_PAGE_TEXTS = {json.dumps(texts)};\n")
    search = html_dir / "search.html"
    if search.is_file():
        scripts = ('<script src="_static/page-texts.js"></script>'
                   '<script src="_static/search-offline.js"></script>')
        atomic.write_text(search, search.read_text(encoding="utf-8").replace("</head>", scripts + "</head>", 1))
