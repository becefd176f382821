"""The built book in headless Debian chromium: every page loads, figures decode, no traceback; each notebook
page shows what a reader needs (no papermill cell, code folded, every figure and table, the parameters).

Chromium visits every page once (:func:`shown`), and the tests judge what it recorded: a page load costs about
half a second, and three passes over the book's pages cost the suite some 50 s."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import numpy as np
import pytest
from PIL import Image

from cpath_repro import catalog
from tests.support import once

pytestmark = pytest.mark.integration

CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
#: The height of the 1280-px-wide screen the pages are read on: every verdict card's top edge is on the first.
SCREEN_HEIGHT = 800


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

#: What each page shows, read by one script as the page loads (before any click, which moves the layout).
READ_PAGE = """() => {
  const decoded = [...document.querySelectorAll('.cell_output img')].filter(i => i.complete && i.naturalWidth > 0);
  const right = document.querySelector('article')?.getBoundingClientRect().right ?? Infinity;
  return {
    images: document.images.length,
    broken: [...document.images].filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src),
    error_outputs: document.querySelectorAll('.output.traceback, .output.error').length,
    injected: document.querySelectorAll('.tag_injected-parameters').length,
    figures: decoded.map(i => [i.src, i.getBoundingClientRect().width]),
    downloads: [...document.querySelectorAll('a.download')].map(a => a.href),
    tables: document.querySelectorAll('.cell_output table').length,
    footer: [...document.querySelectorAll('.provenance')].map(e => e.innerText).join(' '),
    cards: [...document.querySelectorAll('.verdict-card')]
      .map(c => [c.dataset.claim, c.getBoundingClientRect().top]),
    overflowing: [...document.querySelectorAll('.cell_output table, .cell_output pre')]
      .filter(e => e.offsetParent !== null
              && (e.scrollWidth > e.clientWidth + 1 || e.getBoundingClientRect().right > right + 1))
      .map(e => e.tagName + ': ' + e.innerText.slice(0, 60)),
  };
}"""


def _show_every_page(book: Path) -> dict[str, Any]:
    """Each page of ``book`` as chromium shows it at 1280 x :data:`SCREEN_HEIGHT` px with the network blocked: what
    :data:`READ_PAGE` reads, its title, status, script errors and rendered text, and its text once the first
    folded cell is opened; Jupyter Book's redirecting root page by its target; and every request that would
    have left the machine."""
    from playwright.sync_api import Route, sync_playwright

    shown: dict[str, Any] = {"pages": {}, "redirects": {}, "leaving": []}

    def local_only(route: Route) -> None:
        if route.request.url.startswith(LOCAL):
            route.continue_()
        else:
            shown["leaving"].append(route.request.url)
            route.abort()

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=_chromium(), args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": SCREEN_HEIGHT})
        page.set_default_timeout(10_000)
        page.route("**/*", local_only)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        for path in sorted(p for p in book.rglob("*.html") if "_static" not in p.parts):
            name = path.relative_to(book).as_posix()
            target = _redirect_target(path)
            if target is not None:  # Jupyter Book's root index.html only redirects to the front page
                shown["redirects"][name] = target
                continue
            errors.clear()
            response = page.goto(path.as_uri(), wait_until="load")
            seen = page.evaluate(READ_PAGE)
            seen.update(ok=response is None or response.ok, status=response and response.status, title=page.title(),
                        text=page.inner_text("body"))  # what is rendered: a folded cell's source is not
            folded = page.locator("details.hide.above-input summary")
            if folded.count():
                folded.first.click()
            seen.update(unfolded=page.inner_text("body"), errors=list(errors))
            shown["pages"][name] = seen
        browser.close()
    return shown


@pytest.fixture(scope="session")
def shown(built_book: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """:func:`_show_every_page` of the built book, once per session, whichever worker asks first."""
    def make(folder: Path) -> None:
        (folder / "shown.json").write_text(json.dumps(_show_every_page(built_book)))

    return json.loads((once(tmp_path_factory, "browser", make) / "shown.json").read_text())


def _notebook_page(shown: dict[str, Any], name: str) -> dict[str, Any]:
    return shown["pages"][f"notebooks/{name}.html"]


def _local(url: str) -> Path:
    return Path(unquote(urlparse(url).path))


def test_every_page_loads_and_renders_with_the_network_blocked(built_book: Path, shown: dict[str, Any]):
    """The book is read offline: every script, style, font and image comes from its own build; a request that
    would leave the machine is blocked and named."""
    assert len(shown["pages"]) >= 5
    problems = [f"{name}: redirects to a missing page {target}" for name, target in shown["redirects"].items()
                if not (built_book / name).parent.joinpath(target).is_file()]
    images = 0
    for name, seen in shown["pages"].items():
        if not seen["ok"]:
            problems.append(f"{name}: HTTP {seen['status']}")
        images += seen["images"]
        problems += [f"{name}: image does not decode: {src}" for src in seen["broken"]]
        if "Traceback (most recent call last)" in seen["text"] or seen["error_outputs"]:
            problems.append(f"{name}: shows a traceback or an error output")
        if not seen["title"]:
            problems.append(f"{name}: no title")
        problems += [f"{name}: script error: {error}" for error in seen["errors"]]
    assert not problems, problems
    assert not shown["leaving"], f"requests that would leave the machine: {sorted(set(shown['leaving']))}"
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


def test_each_notebook_page_shows_what_a_reader_needs(shown: dict[str, Any], ci_run: Path):
    """No injected-parameters cell; the code folded, one click away; every figure of the manifest drawn on the
    page; every saved table linked (and every shown table drawn); the parameters in the footer."""
    problems: list[str] = []
    for name in catalog.NOTEBOOKS:
        manifest = json.loads((ci_run / name / "manifest.json").read_text())
        seen = _notebook_page(shown, name)
        if seen["injected"] or "# Parameters" in seen["text"]:
            problems.append(f"{name}: shows papermill's injected-parameters cell")
        if 'profile = "default"' in seen["text"]:
            problems.append(f"{name}: the parameters cell is not folded")
        if 'profile = "default"' not in seen["unfolded"]:
            problems.append(f"{name}: one click does not show the parameters cell")
        saved = {f: ci_run / name / "figures" / f"{f}.png" for f in manifest["figures"]}
        figures = [_local(src) for src, _ in seen["figures"]]
        problems += [f"{name}: figure {f!r} is saved but not shown" for f in _unshown(saved, figures)]
        links = {_local(href).name: _local(href) for href in seen["downloads"]}
        for table in manifest["tables"]:
            link = links.get(f"{table}.csv")
            if link is None or link.read_bytes() != (ci_run / name / "tables" / f"{table}.csv").read_bytes():
                problems.append(f"{name}: table {table!r} is not linked for download")
        executed = json.loads((ci_run / name / "notebook.ipynb").read_text())
        html_tables = sum("<table" in "".join(o.get("data", {}).get("text/html", "")) for c in executed["cells"]
                          for o in c.get("outputs", []))
        if seen["tables"] < html_tables:
            problems.append(f"{name}: {html_tables} tables in the notebook, fewer on the page")
        problems += [f"{name}: the footer does not list {k}={v!r}" for k, v in manifest["params"].items()
                     if f"{k}={v!r}" not in seen["footer"]]
    assert not problems, problems


def test_figures_are_legible_in_the_column_and_verdict_cards_are_on_the_first_screen(shown: dict[str, Any],
                                                                                      ci_run: Path):
    """At 1280 x 800: every verdict card's top edge on the first screen; every figure's smallest text at least
    8 px as shown (its record's smallest font, scaled by its shown width over its drawn width); no table or
    output wider than its column."""
    from cpath_repro.viz import MIN_FONT_PX

    problems: list[str] = []
    for name in catalog.NOTEBOOKS:
        manifest = json.loads((ci_run / name / "manifest.json").read_text())
        seen = _notebook_page(shown, name)
        tops = seen["cards"]
        expected = set(catalog.get(name).claims)
        if {claim for claim, _ in tops} != expected:
            problems.append(f"{name}: verdict cards for {sorted(c for c, _ in tops)}, claims {sorted(expected)}")
        problems += [f"{name}: {claim}'s card starts {top:.0f} px down" for claim, top in tops
                     if top > SCREEN_HEIGHT]
        widths = {_local(src): width for src, width in seen["figures"]}
        saved = {f: ci_run / name / "figures" / f"{f}.png" for f in manifest["figures"]}
        for figure, image in _matched(saved, list(widths)).items():
            size = manifest["figure_sizes"][figure]
            font = size["min_font_pt"] / 72 * widths[image] / size["width_in"]
            if font < MIN_FONT_PX - 0.05:
                problems.append(f"{name}: figure {figure!r} shows text at {font:.1f} px "
                                f"({size['min_font_pt']:g} pt in {size['width_in']:.1f} in shown {widths[image]:.0f} px)")
        problems += [f"{name}: overflows its column: {w}" for w in seen["overflowing"]]
    assert not problems, "\n".join(problems)


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
