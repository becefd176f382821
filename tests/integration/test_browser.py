"""The built book in headless Debian chromium: every page loads, figures decode, no traceback."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

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


def test_every_page_loads_and_renders(built_book: Path):
    from playwright.sync_api import sync_playwright

    pages = sorted(p for p in built_book.rglob("*.html") if "_static" not in p.parts)
    assert len(pages) >= 5
    problems = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=_chromium(), args=CHROMIUM_FLAGS)
        page = browser.new_page()
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
    assert images >= 4  # the notebooks' figures
