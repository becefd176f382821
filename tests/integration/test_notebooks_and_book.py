"""Every notebook under the ci profile through papermill, the book built from that run."""

from __future__ import annotations

import html
import json
import re
import shutil
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_output

from cpath_repro import catalog
from cpath_repro.errors import IncompleteRunError
from cpath_repro.pipeline import book, execute
from tests.support import JOBS

pytestmark = pytest.mark.integration
NOTEBOOKS = list(catalog.NOTEBOOKS)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_each_notebook_commits_a_complete_result(ci_run: Path, name: str):
    result = ci_run / name
    manifest = json.loads((result / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["profile"] == "ci"
    assert manifest["execution"]["cache_key"]
    assert manifest["figures"] and all((result / "figures" / f"{f}.png").stat().st_size > 1000
                                       for f in manifest["figures"])
    assert all((result / "tables" / f"{t}.csv").is_file() for t in manifest["tables"])
    assert manifest["provenance"]["data_sources"], "every page says what data it rests on"
    assert execute.notebook_problem(result / "notebook.ipynb") is None


def test_measured_numbers_are_what_the_package_computes(ci_run: Path):
    e_f2 = json.loads((ci_run / "E-F2" / "manifest.json").read_text())["metrics"]
    assert e_f2 == {"matches_torch": True, "receptive_field_by_autograd": True}
    stains = json.loads((ci_run / "stains" / "manifest.json").read_text())["metrics"]
    assert stains["worst_mean_abs_error_od"] < 0.005
    assert stains["nominal_over_true_error"] > 1.0
    concepts = json.loads((ci_run / "E-K1-architecture" / "manifest.json").read_text())["metrics"]
    assert concepts["receptive_field_formula_matches_autograd"] is True
    assert concepts["feature_map_sizes_matching"] == concepts["feature_map_sizes_checked"] > 20
    families = json.loads((ci_run / "E-K2" / "manifest.json").read_text())["metrics"]
    assert families["real_nuclei"] == 125  # the real DSB 2018 mask was read, not a synthetic stand-in


def test_rerun_with_nothing_changed_executes_nothing(ci_run: Path):
    done = execute.run(["all"], "ci", [], ci_run, progress=False, echo=lambda *_: None)
    assert [how for _, how, _ in done] == ["cached"] * len(NOTEBOOKS)


def test_each_run_records_the_package_modules_it_imported(ci_run: Path):
    modules = {name: set(json.loads((ci_run / name / "manifest.json").read_text())["code"]["modules"])
               for name in NOTEBOOKS}
    assert "cpath_repro.chapters.paper_a.training" in modules["A-T1"]
    assert "cpath_repro.chapters.paper_a.analysis" in modules["A-F6"]
    assert "cpath_repro.explain.actmax" in modules["A-F6"]
    assert "cpath_repro.explain.actmax" not in modules["A-T1"], "a module imported when a function runs, if it runs"
    assert not modules["E-F2"] & {"cpath_repro.chapters.paper_a.training", "cpath_repro.chapters.paper_a.analysis"}


def test_a_changed_module_makes_stale_only_the_results_that_imported_it(ci_run: Path,
                                                                         monkeypatch: pytest.MonkeyPatch):
    changed = "cpath_repro.chapters.paper_a.analysis"
    monkeypatch.setattr(execute, "changed_modules", lambda recorded: [changed] if changed in recorded else [])
    stale = {j.spec.name for j in execute.plan(["all"], "ci", []) if not execute.is_fresh(j, ci_run)}
    assert stale == {"A-T1", "A-T2", "A-F6", "A-F8"}
    with pytest.raises(IncompleteRunError, match="'A-F6' is stale .changed: module cpath_repro.chapters.paper_a.analysis"):
        book.check_run(ci_run)


def test_a_chapters_declarations_key_only_its_own_pages(ci_run: Path):
    for name in NOTEBOOKS:
        modules = json.loads((ci_run / name / "manifest.json").read_text())["code"]["modules"]
        own = catalog.chapter_of(name).__name__.rpartition(".")[0]
        foreign = [m for m in modules if m.startswith("cpath_repro.chapters.") and not m.startswith(own)
                   and m != "cpath_repro.chapters"]
        assert "cpath_repro.catalog" not in modules and foreign == [], name


def test_notebooks_executed_at_once_commit_the_numbers_of_a_serial_run(ci_run: Path, tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch):
    """The shared run executed two notebooks at a time, their trainings tasks of a local Dask cluster of two
    workers; paper A's four notebooks all ask for one model, and share its task. One after another, into an empty
    model store, the two that read the model's outputs most (A-F6, A-F8) train it in the first kernel and commit
    the same numbers."""
    from cpath_repro.pipeline import cluster
    from cpath_repro.pipeline.compare import compare
    from cpath_repro.train.store import STORE_ENV, threads

    pages = ["A-F6", "A-F8"]
    assert cluster.local_workers(JOBS, threads()) == 2
    shared = [json.loads((ci_run / p / "manifest.json").read_text())["models"] for p in ("A-F6", "A-F8")]
    assert shared[0] == shared[1] and shared[0]
    logged = {p.stem for p in (ci_run / "logs" / "trainings").glob("train-paper_a-*.log")}
    assert {f"train-paper_a-{key}" for key in shared[0]} <= logged, "each training's log is in the run directory"
    monkeypatch.setenv(STORE_ENV, str(tmp_path / "empty-store"))
    serial, parallel = tmp_path / "serial", tmp_path / "parallel"
    for page in pages:
        shutil.copytree(ci_run / page, parallel / page)
    done = execute.run(pages, "ci", [], serial, progress=False, echo=lambda *_: None, jobs=1)
    assert [how for _, how, _ in done] == ["ran"] * len(pages)
    assert not (serial / "logs").exists(), "serially, nothing went to a cluster"
    result = compare(serial, parallel)
    assert result.same and not result.other_keys and len(result.identical) >= 8, result
    device = json.loads((ci_run / "A-F6" / "manifest.json").read_text())["provenance"]["device"]
    assert "torch on 1 thread" in device, "the kernel inherited the session's one thread"


def test_changed_parameter_reexecutes_only_that_notebook(ci_run: Path, tmp_path: Path):
    run_dir = tmp_path / "run"
    shutil.copytree(ci_run, run_dir)
    done = execute.run(["E-F2", "E-F3"], "ci", [("seed", "1")], run_dir, progress=False, echo=lambda *_: None)
    assert [how for _, how, _ in done] == ["ran", "ran"]
    done = execute.run(["all"], "ci", [], run_dir, progress=False, echo=lambda *_: None)
    ran = {n for n, how, _ in done if how == "ran"}
    assert ran == {"E-F2", "E-F3"}


def test_a_failing_notebook_stops_the_build(ci_run: Path, tmp_path: Path):
    run_dir = tmp_path / "run"
    shutil.copytree(ci_run, run_dir)
    executed = run_dir / "E-F3" / "notebook.ipynb"
    nb = nbformat.read(executed, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    code[-1].outputs.append(new_output("error", ename="RuntimeError", evalue="boom", traceback=["boom"]))
    nbformat.write(nb, executed)
    with pytest.raises(IncompleteRunError, match=r"'E-F3' has an error output in cell \d+ \(RuntimeError: boom\)"):
        book.build(run_dir, tmp_path / "out")
    assert not (tmp_path / "out" / "html").exists()


def test_an_interrupted_run_is_refused_by_name(ci_run: Path, tmp_path: Path):
    run_dir = tmp_path / "run"
    shutil.copytree(ci_run, run_dir)
    shutil.move(run_dir / "E-F2", run_dir / ".staging" / "cli-E-F2-0123456789ab")
    (run_dir / ".staging" / "cli-E-F2-0123456789ab" / "manifest.json").unlink()
    with pytest.raises(IncompleteRunError, match="'E-F2' has no complete result \\(an interrupted run"):
        book.check_run(run_dir)


def test_front_page_is_the_scorecard(built_book: Path):
    assert "book/index.html" in (built_book / "index.html").read_text()  # the root redirects to the front page
    index = (built_book / "book" / "index.html").read_text()
    assert "Scorecard" in index
    for claim in ("A-C1", "B-C6", "C-C7", "D-C5"):
        assert claim in index
    assert "not yet reproduced" in index


def test_the_performance_page_shows_this_books_time_per_chapter(built_book: Path):
    page = (built_book / "book" / "performance.html").read_text()
    assert "This book’s time" in page or "This book's time" in page
    assert "<td>Paper A</td>" in page and "<svg" in page
    assert "Not measured on this machine yet" in page or "Measured by" in page  # `make bench`'s, or none


def test_front_page_opens_with_one_grid_of_every_claim(built_book: Path):
    from cpath_repro.claims.registry import CLAIMS

    index = (built_book / "book" / "index.html").read_text()
    assert index.count("class='scorecard-grid'") == 1
    assert index.index("scorecard-grid") < index.index("claim-detail")
    assert len(re.findall(r"<a class='claim-cell'", index)) == len(CLAIMS)
    assert index.count("<details class='claim-detail'") == len(CLAIMS)


def test_staged_pages_drop_the_injected_cell_and_fold_the_code(built_book: Path):
    for name in NOTEBOOKS:
        page = nbformat.read(built_book.parent / "stage" / "notebooks" / f"{name}.ipynb", as_version=4)
        cells = [c for c in page.cells if c.cell_type == "code"]
        cards = [c for c in cells if c.source == book.CARDS_SOURCE]
        assert len(cards) == bool(catalog.get(name).claims) and all(c.metadata.tags == [book.OUTPUT_ONLY] for c in cards)
        tags = [c.metadata.get("tags", []) for c in cells if c not in cards]
        assert not any("injected-parameters" in t for t in tags), name
        assert "parameters" in tags[0] and "hide-input" in tags[0] and "hide-cell" in tags[1], name  # setup: whole
        assert all("hide-input" in t for t in tags[:1] + tags[2:]), name
        assert "This page's results as files" in page.cells[-1].source, name


def test_how_to_read_says_what_each_chapter_reproduces(built_book: Path):
    page = html.unescape(re.sub(r"<[^>]+>", "", (built_book / "book" / "how-to-read.html").read_text()))
    text = re.sub(r"\s+", " ", page).replace("\u2019", "'").replace("\u2018", "'")  # Sphinx's smart quotes
    for spec in catalog.NOTEBOOKS.values():
        assert " ".join(spec.description.split()) in text, spec.name
    assert "not yet reproduced" in text and "supported" in text


def test_each_pages_verdict_box_shows_the_front_pages_verdict(built_book: Path):
    front = dict(re.findall(r"<details class='claim-detail' id='claim-([^']+)' data-status='([^']+)'",
                            (built_book / "book" / "index.html").read_text()))
    boxes = {}
    for page in (built_book / "notebooks").glob("*.html"):
        boxes.update(re.findall(r"class=(?:'|&#39;|\")verdict-box(?:'|&#39;|\") data-claim=(?:'|&#39;|\")([^'&\"]+)"
                                r"(?:'|&#39;|\") data-status=(?:'|&#39;|\")([^'&\"]+)", page.read_text()))
    registered = {claim: status for claim, status in boxes.items() if claim in front}
    assert len(registered) >= 20, sorted(boxes)
    assert registered == {claim: front[claim] for claim in registered}


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_every_notebook_page_shows_provenance(built_book: Path, name: str):
    page = (built_book / "notebooks" / f"{name}.html").read_text()
    assert "Provenance of the numbers on this page" in page
    assert "ci" in page and "Device" in page and "git" in page


def test_building_does_not_dirty_the_work_tree(built_book: Path):
    status = json.loads(built_book.parent.with_name("book.git-status.json").read_text())  # written by the fixture
    if status["before"] is None:
        pytest.skip("not a git checkout")
    assert status["before"] == status["after"]


def test_own_tiles_are_read_checksummed_and_bad_ones_counted(tmp_path: Path):
    import numpy as np
    from skimage import io

    tiles = tmp_path / "tiles"
    tiles.mkdir()
    rng = np.random.default_rng(0)
    for i in range(2):
        io.imsave(tiles / f"tile{i}.png", rng.integers(0, 256, (32, 32, 3), dtype=np.uint8), check_contrast=False)
    io.imsave(tiles / "gray.png", np.zeros((32, 32), np.uint8), check_contrast=False)
    run_dir = tmp_path / "run"
    execute.run(["stains"], "ci", [("data_root", str(tiles))], run_dir, progress=False, echo=lambda *_: None)
    manifest = json.loads((run_dir / "stains" / "manifest.json").read_text())
    real = [s for s in manifest["provenance"]["data_sources"] if s["kind"] == "real" and s["root"] == str(tiles)]
    assert len(real) == 1 and sorted(real[0]["files"]) == ["tile0.png", "tile1.png"]
    assert "own_tiles" in manifest["figures"]
    page = nbformat.read(run_dir / "stains" / "notebook.ipynb", as_version=4)
    assert "2 tiles read, 1 skipped" in json.dumps(page)


def test_a_page_whose_model_left_the_store_is_refused(ci_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from cpath_repro.train import store

    keys = json.loads((ci_run / "A-F6" / "manifest.json").read_text())["models"]
    assert keys, "the explanation page lists the models it used"
    assert set(keys) <= set(json.loads((ci_run / "A-T2" / "manifest.json").read_text())["models"]), \
        "A-F6 reuses the CD-UNET models that A-T2 trained"
    empty = tmp_path / "empty-store"
    empty.mkdir()
    monkeypatch.setenv(store.STORE_ENV, str(empty))
    with pytest.raises(IncompleteRunError, match="is stale .changed: model [0-9a-f]{24} .not in the model store"):
        book.check_run(ci_run)


def test_paper_a_claims_reach_the_scorecard(ci_run: Path):
    from cpath_repro.claims import scorecard

    verdicts = {v.claim.id: v for v in scorecard.verdicts(ci_run)}
    for claim in ("A-C1", "A-C2", "A-C3", "A-C4", "A-C5", "A-C6", "A-C7"):
        assert verdicts[claim].notebook is not None
        assert "synthetic data" in verdicts[claim].data
    assert verdicts["A-C3"].status.value == "not testable at this budget"  # one seed under the ci profile


def test_a_run_of_some_notebooks_builds_a_partial_book_that_says_so(ci_run: Path, tmp_path: Path):
    run_dir = tmp_path / "mine"
    run_dir.mkdir()
    for name in ("stains", "E-F2"):
        shutil.copytree(ci_run / name, run_dir / name)
    index = book.build(run_dir, tmp_path / "out")
    front = (index.parent / "book" / "index.html").read_text()
    assert "A partial book" in front and f"2 of {len(NOTEBOOKS)} notebooks were run" in front

    not_run = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", (index.parent / "notebooks" / "A-T1.html").read_text()))
    assert "Not run for this book" in not_run and "cpath-repro run A-T1" in not_run
    assert "Provenance of the numbers on this page" in (index.parent / "notebooks" / "E-F2.html").read_text()
    from cpath_repro.claims import scorecard

    assert {v.status.value for v in scorecard.verdicts(run_dir)} == {"not yet reproduced"}


def test_every_claim_page_says_what_decides_its_verdict(built_book: Path):
    pages = "".join(p.read_text() for p in (built_book / "notebooks").glob("*.html"))
    declared = set(re.findall(r"class=(?:'|&#39;|\")what-decides(?:'|&#39;|\") data-claim=(?:'|&#39;|\")([^'&\"]+)",
                              pages))
    assert len(declared) >= 20, sorted(declared)
    assert "cpath-repro sweep D-C1" in pages  # a map not computed says how to compute it
    front = (built_book / "book" / "index.html").read_text()
    assert "How robust each verdict is" in front and "not computed yet" in front


def test_a_sweep_runs_the_claims_notebook_beside_the_run_and_the_book_shows_its_map(ci_run: Path, tmp_path: Path):
    """C-C7's map under ci: os_mucus 0 and 1 run into RUN_DIR/sweeps, the ci value's cell is the run's own."""
    from cpath_repro.pipeline import sweeps

    run_dir = tmp_path / "run"
    shutil.copytree(ci_run, run_dir)
    done = sweeps.run(["C-C7"], run_dir, "ci", echo=lambda *_: None)
    assert [how for _, how, _ in done] == ["ran", "cached", "ran"]
    assert (run_dir / "sweeps" / "os_mucus=0" / "C-F7" / "claims" / "C-C7.csv").is_file()
    assert sweeps.run(["C-C7"], run_dir, "ci", echo=lambda *_: None)[0][1] == "cached"  # through the cache
    m = sweeps.read_map("C-C7", run_dir)
    assert m.profile == "ci" and m.robust is not None and all(c.verdict is not None for c in m.cells)
    import argparse

    from cpath_repro import cli

    kept = cli._run_dirs(argparse.Namespace(run_dir=[run_dir]))  # the runs whose models `store prune` keeps
    assert run_dir / "sweeps" / "os_mucus=0" in kept and run_dir / "sweeps" / "os_mucus=1" in kept
    index = book.build(run_dir, tmp_path / "out")
    page = (index.parent / "notebooks" / "C-F7.html").read_text()
    assert "Sensitivity map over os_mucus" in page
    assert ("at every os_mucus tried" in page) == bool(m.robust) != ("(it changes between" in page)
    assert ("sweep-map" in page) == m.has_intervals  # one ci seed gives no interval to draw
    front = (index.parent / "book" / "index.html").read_text().split("<th>Across its map</th>")[1]  # the table
    assert sum(mark in front for mark in ("depends on os_mucus", "<b>robust</b>", "not testable at any value")) >= 1


def test_a_maps_cell_at_the_runs_own_value_is_judged_as_the_front_page_judges_it(ci_run: Path):
    from cpath_repro.claims import scorecard
    from cpath_repro.pipeline import sweeps

    front = {v.claim.id: v for v in scorecard.verdicts(ci_run)}
    checked = 0
    for claim, knob in sweeps.decides.mapped().items():
        cells = sweeps.read_map(claim, ci_run).cells
        own = [c for c in cells if c.verdict is not None]
        if knob.default("ci") not in knob.values:  # no cell is the run's own (B's and A's epochs under ci)
            assert own == [], claim
            continue
        assert len(own) == 1, claim  # the other values have no run yet
        planning = front[claim].evidence.split(" For planning:")[0]  # the front page adds the seeds' cost
        assert (own[0].verdict.status, own[0].verdict.evidence) == (front[claim].status, planning), claim
        checked += 1
    assert checked >= 4
