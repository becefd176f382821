"""Every notebook under the ``ci`` profile, timed in one run: each one's wall time beside the quickest's.

The ``ci`` profile promises seconds per notebook. That is measured here, not asserted in a test
(a timed test fails on a busy machine): the ratio to the quickest notebook of the same run,
mostly a kernel start, says which notebook does more than exercise its code.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from cpath_repro.chapters.paper_d.data import SLIDES_ENV
from cpath_repro.pipeline import execute
from cpath_repro.project import environment
from cpath_repro.train.store import STORE_ENV


def main() -> list[tuple[str, float]]:
    """``(notebook, wall seconds)`` of a fresh ``ci`` run (its own model store and slides), in book order."""
    with tempfile.TemporaryDirectory() as tmp:
        with environment({STORE_ENV: f"{tmp}/models", SLIDES_ENV: f"{tmp}/slides"}):
            done = execute.run(["all"], "ci", [], Path(tmp) / "run", progress=False, echo=lambda *_: None)
    return [(name, seconds) for name, _, seconds in done]


def rows(walls: list[tuple[str, float]]) -> list[tuple[str, str]]:
    quickest = min(seconds for _, seconds in walls)
    out = [(f"ci notebook {name}", f"{seconds:.1f} s, {seconds / quickest:.1f}x the quickest") for name, seconds in walls]
    return [*out, ("ci notebooks, all", f"{sum(s for _, s in walls):.0f} s")]


if __name__ == "__main__":
    for key, value in rows(main()):
        print(f"{key:40}  {value}")
