"""The built book in headless Debian chromium: every page loads, figures decode, no traceback; each notebook
page shows what a reader needs (no papermill cell, code folded, every figure and table, the parameters)."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from urllib.parse import unquote, urlparse

import numpy as np
import pytest
from PIL import Image

from cpath_repro import catalog

pytestmark = pytest.mark.integration

CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        reason = "Debian chromium is not installed (`make browser` installs it where root and apt-get are available)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return path


def _redirect_target(path: Path) -> str | None:
    match = re.search(r'http-equiv="Refresh" content="0; url=([^"]+)"', path.read_text(), re.IGNORECASE)
    return match.group(1) if match else None


#: What a page of the book may load: its own files, and what it writes itself.
LOCAL = ("file:", "data:", "blob:", "about:")


def test_every_page_loads_and_renders_with_the_network_blocked(built_book: Path):
    """The book is read offline: every script, style, font and image comes from its own build; a request that
    would leave the machine is blocked and named."""
    from playwright.sync_api import Route, sync_playwright

    pages = sorted(p for p in built_book.rglob("*.html") if "_static" not in p.parts)
    assert len(pages) >= 5
    problems = []
    leaving: list[str] = []

    def local_only(route: Route) -> None:
        if route.request.url.startswith(LOCAL):
            route.continue_()
        else:
            leaving.append(route.request.url)
            route.abort()

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=_chromium(), args=CHROMIUM_FLAGS)
        page = browser.new_page()
        page.route("**/*", local_only)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        images = 0
        for path in pages:
            name = path.relative_to(built_book).as_posix()
            target = _redirect_target(path)
            if target is not None:  # Jupyter Book's root index.html only redirects to the front page
                if not (path.parent / target).is_file():
                    problems.append(f"{name}: redirects to a missing page {target}")
                continue
            response = page.goto(path.as_uri(), wait_until="load")
            if response is not None and not response.ok:
                problems.append(f"{name}: HTTP {response.status}")
            broken = page.evaluate("[...document.images].filter(i => !i.complete || i.naturalWidth === 0)"
                                   ".map(i => i.src)")
            images += page.evaluate("document.images.length")
            problems += [f"{name}: image does not decode: {src}" for src in broken]
            text = page.inner_text("body")
            if "Traceback (most recent call last)" in text or page.locator(".output.traceback, .output.error").count():
                problems.append(f"{name}: shows a traceback or an error output")
            if not page.title():
                problems.append(f"{name}: no title")
        browser.close()
    assert not problems, problems
    assert not errors, errors
    assert not leaving, f"requests that would leave the machine: {sorted(set(leaving))}"
    assert images >= 4  # the notebooks' figures


def _thumbnail(path: Path) -> np.ndarray:
    """A figure at 96 x 96 grey levels: the same figure drawn at another resolution looks the same."""
    with Image.open(path) as image:
        return np.asarray(image.convert("L").resize((96, 96), Image.Resampling.BOX), dtype=float)


def _matched(saved: dict[str, Path], shown: list[Path]) -> dict[str, Path]:
    """Each saved figure to the image on the page that is a drawing of it, each image standing for one figure at
    most (the closest pairs first; the same figure at another resolution and a different figure differ by far
    more)."""
    aspect, thumbs = {}, {}
    for path in [*saved.values(), *shown]:
        with Image.open(path) as image:
            aspect[path] = image.width / image.height
        thumbs[path] = _thumbnail(path)
    pairs = sorted((float(np.abs(thumbs[img] - thumbs[path]).mean()), name, img) for name, path in saved.items()
                   for img in shown if abs(aspect[img] - aspect[path]) < 0.03 * aspect[path])
    matched: dict[str, Path] = {}
    for diff, name, img in pairs:
        if diff < 8.0 and name not in matched and img not in matched.values():
            matched[name] = img
    return matched


def _unshown(saved: dict[str, Path], shown: list[Path]) -> list[str]:
    """The saved figures no image on the page is a drawing of."""
    matched = _matched(saved, shown)
    return [name for name in saved if name not in matched]


def test_each_notebook_page_shows_what_a_reader_needs(built_book: Path, ci_run: Path):
    """No injected-parameters cell; the code folded, one click away; every figure of the manifest drawn on the
    page; every saved table linked (and every shown table drawn); the parameters in the footer."""
    from playwright.sync_api import sync_playwright

    problems: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=_chromium(), args=CHROMIUM_FLAGS)
        page = browser.new_page()
        page.set_default_timeout(10_000)
        for name in catalog.NOTEBOOKS:
            manifest = json.loads((ci_run / name / "manifest.json").read_text())
            page.goto((built_book / "notebooks" / f"{name}.html").as_uri(), wait_until="load")
            text = page.inner_text("body")  # what is rendered: a folded cell's source is not
            if page.locator(".tag_injected-parameters").count() or "# Parameters" in text:
                problems.append(f"{name}: shows papermill's injected-parameters cell")
            if 'profile = "default"' in text:
                problems.append(f"{name}: the parameters cell is not folded")
            folded = page.locator("details.hide.above-input summary")
            if folded.count():
                folded.first.click()
            if 'profile = "default"' not in page.inner_text("body"):
                problems.append(f"{name}: one click does not show the parameters cell")
            shown = [Path(unquote(urlparse(src).path)) for src in page.evaluate(
                "[...document.querySelectorAll('.cell_output img')].filter(i => i.complete && i.naturalWidth > 0)"
                ".map(i => i.src)")]
            saved = {f: ci_run / name / "figures" / f"{f}.png" for f in manifest["figures"]}
            problems += [f"{name}: figure {f!r} is saved but not shown" for f in _unshown(saved, shown)]
            links = {Path(unquote(urlparse(href).path)).name: Path(unquote(urlparse(href).path)) for href in
                     page.evaluate("[...document.querySelectorAll('a.download')].map(a => a.href)")}
            for table in manifest["tables"]:
                link = links.get(f"{table}.csv")
                if link is None or link.read_bytes() != (ci_run / name / "tables" / f"{table}.csv").read_bytes():
                    problems.append(f"{name}: table {table!r} is not linked for download")
            executed = json.loads((ci_run / name / "notebook.ipynb").read_text())
            html_tables = sum("<table" in "".join(o.get("data", {}).get("text/html", "")) for c in executed["cells"]
                              for o in c.get("outputs", []))
            if page.locator(".cell_output table").count() < html_tables:
                problems.append(f"{name}: {html_tables} tables in the notebook, fewer on the page")
            footer = " ".join(page.locator(".provenance").all_inner_texts())
            problems += [f"{name}: the footer does not list {k}={v!r}" for k, v in manifest["params"].items()
                         if f"{k}={v!r}" not in footer]
        browser.close()
    assert not problems, problems


def test_the_front_page_opens_with_every_claim_at_a_glance(built_book: Path):
    from playwright.sync_api import sync_playwright

    from cpath_repro.claims.registry import CLAIMS

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=_chromium(), args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.goto((built_book / "book" / "index.html").as_uri(), wait_until="load")
        grid = page.locator("table.scorecard-grid")
        assert grid.count() == 1 and grid.is_visible()
        cells = grid.locator("a.claim-cell")
        assert cells.all_inner_texts() == list(CLAIMS)
        grid_box, first_detail = grid.bounding_box(), page.locator("details.claim-detail").first.bounding_box()
        assert grid_box and first_detail and grid_box["y"] < first_detail["y"]  # the grid opens the page
        rule = CLAIMS["A-C3"].rule.description
        assert rule not in page.inner_text("body")  # folded beneath the grid
        cells.nth(list(CLAIMS).index("A-C3")).click()  # a cell opens its claim's rule and evidence
        assert rule in page.inner_text("body")
        browser.close()


def test_figures_are_legible_in_the_column_and_verdict_cards_are_on_the_first_screen(built_book: Path, ci_run: Path):
    """At 1280 x 800: every verdict card's top edge on the first screen; every figure's smallest text at least
    8 px as shown (its record's smallest font, scaled by its shown width over its drawn width); no table or
    output wider than its column."""
    from playwright.sync_api import sync_playwright

    from cpath_repro.viz import MIN_FONT_PX

    problems: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=_chromium(), args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        for name in catalog.NOTEBOOKS:
            manifest = json.loads((ci_run / name / "manifest.json").read_text())
            page.goto((built_book / "notebooks" / f"{name}.html").as_uri(), wait_until="load")
            tops = page.evaluate("[...document.querySelectorAll('.verdict-card')]"
                                 ".map(c => [c.dataset.claim, c.getBoundingClientRect().top])")
            expected = set(catalog.get(name).claims)
            if {claim for claim, _ in tops} != expected:
                problems.append(f"{name}: verdict cards for {sorted(c for c, _ in tops)}, claims {sorted(expected)}")
            problems += [f"{name}: {claim}'s card starts {top:.0f} px down" for claim, top in tops if top > 800]
            shown = {Path(unquote(urlparse(src).path)): width for src, width in page.evaluate(
                "[...document.querySelectorAll('.cell_output img')].filter(i => i.complete && i.naturalWidth > 0)"
                ".map(i => [i.src, i.getBoundingClientRect().width])")}
            saved = {f: ci_run / name / "figures" / f"{f}.png" for f in manifest["figures"]}
            for figure, image in _matched(saved, list(shown)).items():
                size = manifest["figure_sizes"][figure]
                font = size["min_font_pt"] / 72 * shown[image] / size["width_in"]
                if font < MIN_FONT_PX - 0.05:
                    problems.append(f"{name}: figure {figure!r} shows text at {font:.1f} px "
                                    f"({size['min_font_pt']:g} pt in {size['width_in']:.1f} in shown {shown[image]:.0f} px)")
            wide = page.evaluate(
                "(() => { const right = document.querySelector('article').getBoundingClientRect().right;"
                " return [...document.querySelectorAll('.cell_output table, .cell_output pre')]"
                ".filter(e => e.offsetParent !== null"
                " && (e.scrollWidth > e.clientWidth + 1 || e.getBoundingClientRect().right > right + 1))"
                ".map(e => e.tagName + ': ' + e.innerText.slice(0, 60)); })()")
            problems += [f"{name}: overflows its column: {w}" for w in wide]
        browser.close()
    assert not problems, "\n".join(problems)


def test_search_opened_from_disk_shows_excerpts(built_book: Path):
    """Sphinx's search fetches each result's page for its excerpt, which a browser refuses on file://; the book
    embeds the pages' text for it, so results opened from disk come with their excerpts."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=_chromium(), args=CHROMIUM_FLAGS)
        page = browser.new_page()
        page.goto((built_book / "search.html").as_uri() + "?q=seeds", wait_until="load")
        excerpts = page.locator("#search-results li p.context")
        excerpts.first.wait_for(timeout=20_000)
        assert excerpts.count() >= 3 and all("seed" in text.lower() for text in excerpts.all_inner_texts()[:3])
        browser.close()
