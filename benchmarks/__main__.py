"""``make bench``: every benchmark in one run, printed as a table and recorded for the book's Performance and
reliability page (:mod:`cpath_repro.pipeline.performance`), with the machine, commit and date.

Results are ratios within this run, which survive a noisy machine; run it alone on the machine all the same.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.timing import best_of
from cpath_repro.pipeline import execute, performance
from cpath_repro.project import PROJECT_ROOT
from cpath_repro.results import provenance
from cpath_repro.synth import stains
from cpath_repro.synth.fields import cell_field


def suite() -> dict[str, list[str]]:
    """The ids of the fault tests and of the bad-input tests, as pytest collects them (nothing is run)."""
    out = {}
    for key, paths in (("faults", (performance.FAULT_TESTS,)), ("bad_inputs", performance.BAD_INPUT_TESTS)):
        proc = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
                               *paths], capture_output=True, text=True, cwd=PROJECT_ROOT)
        out[key] = [line for line in proc.stdout.splitlines() if "::" in line]
    return out


def commit() -> str:
    proc = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=PROJECT_ROOT)
    return proc.stdout.strip() if proc.returncode == 0 else "unknown"


def main() -> None:
    from benchmarks import chapter_speedups, ci_notebooks, end_to_end_memory, engine_overhead, patch_extraction

    quiet = {"progress": False, "echo": lambda *_: None}
    measured: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp)
        executed = best_of(lambda: execute.run(["E-F2"], "ci", [], run_dir, force=True, **quiet), repeat=2)
        cached = best_of(lambda: execute.run(["E-F2"], "ci", [], run_dir, **quiet))
    measured["cache"] = {"executed_s": executed, "cached_s": cached}
    field = cell_field(512, 0)
    assay = stains.ASSAYS["CD8/CD3"]
    truth = field.for_assay(assay)
    render = best_of(lambda: stains.render(truth, assay.vectors))
    rgb = stains.to_uint8(stains.render(truth, assay.vectors))
    unmix = best_of(lambda: stains.unmix(rgb, assay.vectors))
    mpx = truth.shape[0] * truth.shape[1] / 1e6
    rows = [
        ("notebook E-F2 (ci): executed", f"{executed:.2f} s"),
        ("notebook E-F2 (ci): up to date", f"{cached * 1000:.0f} ms"),
        ("cache hit / execution", f"{cached / executed:.4f}"),
        ("render 3 stains, 512x512", f"{mpx / render:.1f} Mpx/s"),
        ("unmix (skimage.separate_stains), 512x512", f"{mpx / unmix:.1f} Mpx/s"),
        ("unmix / render time", f"{unmix / render:.2f}"),
    ]
    measured["engine"] = engine_overhead.main()
    rows += [("training engine vs bare loop (UNET, 3 epochs)",
              f"{measured['engine']['engine_s']:.2f} s vs {measured['engine']['bare_s']:.2f} s"),
             ("engine overhead", f"{measured['engine']['overhead']:+.1%}")]
    measured["patches"] = patch_extraction.main()
    rows += patch_extraction.rows(measured["patches"])
    memory = end_to_end_memory.main()
    measured["memory"] = {"ratios": [(method, n, ratio) for (method, n), ratio in memory["ratios"].items()]}
    rows += [(f"paper D peak memory growth, {method}, N={4 * n} / N={n}", f"{ratio:.3f}")
             for method, n, ratio in measured["memory"]["ratios"]]
    measured["speedups"] = chapter_speedups.main()
    rows += measured["speedups"]
    ci = ci_notebooks.main()
    measured["ci_notebooks"], measured["rebuild"] = ci["walls"], ci["rebuild"]
    rows += ci_notebooks.rows(ci)
    measured["suite"] = suite()
    rows += [("faults survived (tests)", str(len(measured["suite"]["faults"]))),
             ("bad inputs refused (tests)", str(len(measured["suite"]["bad_inputs"])))]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key.ljust(width)}  {value}")
    assert cached < 0.1 * executed, "an up-to-date notebook must not be executed again"
    assert np.isfinite(unmix) and unmix > 0
    path = performance.record(measured, provenance.device_description(), commit(), provenance.now_iso())
    print(f"recorded in {path}; `make book` shows it on the Performance and reliability page")


if __name__ == "__main__":
    main()
