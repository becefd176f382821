"""Every notebook under the ``ci`` profile, timed in one run, and what re-running the book costs afterwards.

The ``ci`` profile promises seconds per notebook. That is measured here, not asserted in a test
(a timed test fails on a busy machine): the ratio to the quickest notebook of the same run,
mostly a kernel start, says which notebook does more than exercise its code. Then, in the same
run folder, ``run all`` again with nothing changed, and once more after one notebook's record of a
module's code was changed as an edit of a module only it uses would change it: the staleness
check must re-execute that notebook alone.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

from cpath_repro.chapters.paper_d.data import SLIDES_ENV
from cpath_repro.pipeline import execute
from cpath_repro.project import environment
from cpath_repro.results.run import MANIFEST
from cpath_repro.train.store import STORE_ENV

#: The notebook whose code "changes" for the one-notebook rebuild.
CHANGED = "E-F2"


def main() -> dict[str, Any]:
    """Per notebook ``(name, wall seconds)`` of a fresh ``ci`` run (its own model store and slides), in book order,
    and the seconds of ``run all``: the full run, nothing changed, :data:`CHANGED` changed."""
    quiet = {"progress": False, "echo": lambda *_: None}
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / "run"
        with environment({STORE_ENV: f"{tmp}/models", SLIDES_ENV: f"{tmp}/slides"}):
            t0 = time.perf_counter()
            done = execute.run(["all"], "ci", [], run_dir, **quiet)
            full = time.perf_counter() - t0
            t0 = time.perf_counter()
            execute.run(["all"], "ci", [], run_dir, **quiet)
            nothing = time.perf_counter() - t0
            manifest_path = run_dir / CHANGED / MANIFEST
            manifest = json.loads(manifest_path.read_text())
            module = sorted(m for m in manifest["code"]["modules"] if "paper_e" in m)[-1]
            manifest["code"]["modules"][module] = "the fingerprint of an older version"
            manifest_path.write_text(json.dumps(manifest))
            t0 = time.perf_counter()
            again = execute.run(["all"], "ci", [], run_dir, **quiet)
            one = time.perf_counter() - t0
    ran = [name for name, how, _ in again if how == "ran"]
    assert ran == [CHANGED], f"a change to one notebook's code re-ran {ran}"
    return {"walls": [(name, seconds) for name, _, seconds in done],
            "rebuild": {"full_s": full, "nothing_s": nothing, "one_s": one, "notebook": CHANGED}}


def rows(result: dict[str, Any]) -> list[tuple[str, str]]:
    walls, rebuild = result["walls"], result["rebuild"]
    quickest = min(seconds for _, seconds in walls)
    out = [(f"ci notebook {name}", f"{seconds:.1f} s, {seconds / quickest:.1f}x the quickest") for name, seconds in walls]
    return [*out, ("ci notebooks, all", f"{sum(s for _, s in walls):.0f} s"),
            ("run all again, nothing changed", f"{rebuild['nothing_s']:.1f} s"),
            (f"run all again, {CHANGED}'s code changed / full run",
             f"{rebuild['one_s'] / rebuild['full_s']:.3f} ({rebuild['one_s']:.1f} s)")]


if __name__ == "__main__":
    for key, value in rows(main()):
        print(f"{key:48}  {value}")
