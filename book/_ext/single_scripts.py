"""Sphinx extension: drop duplicated inline scripts from each page.

sphinx-thebe (loaded by Jupyter Book 1.x) registers its configuration script twice, so each
page declares ``const THEBE_JS_URL`` twice and the browser reports a JavaScript error. No
configuration option turns it off; de-duplicating the page's script list fixes it at the source.
"""

from __future__ import annotations

from typing import Any


def _dedupe(app: Any, pagename: str, templatename: str, context: dict[str, Any], doctree: Any) -> None:
    seen: set[tuple[str, str]] = set()
    kept = []
    for script in context.get("script_files", []):
        body = getattr(script, "attributes", {}).get("body")
        # inline scripts are registered with filename None or "": compare them by their body
        key = ("body", str(body)) if body else ("file", str(getattr(script, "filename", script)))
        if key not in seen:
            seen.add(key)
            kept.append(script)
    context["script_files"] = kept


def setup(app: Any) -> dict[str, Any]:
    app.connect("html-page-context", _dedupe, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
