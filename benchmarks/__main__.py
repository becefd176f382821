"""Measure, in one run, what a cache hit costs next to an execution, and stain rendering speed.

Prints a small table; results are ratios within this run, which survive a noisy machine.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from benchmarks.timing import best_of
from cpath_repro.pipeline import execute
from cpath_repro.synth import stains
from cpath_repro.synth.fields import cell_field


def main() -> None:
    quiet = {"progress": False, "echo": lambda *_: None}
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp)
        executed = best_of(lambda: execute.run(["E-F2"], "ci", [], run_dir, force=True, **quiet), repeat=2)
        cached = best_of(lambda: execute.run(["E-F2"], "ci", [], run_dir, **quiet))
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
    from benchmarks.engine_overhead import main as engine_overhead

    overhead = engine_overhead()
    rows += [
        ("training engine vs bare loop (UNET, 3 epochs)", f"{overhead['engine_s']:.2f} s vs {overhead['bare_s']:.2f} s"),
        ("engine overhead", f"{overhead['overhead']:+.1%}"),
    ]
    from benchmarks.patch_extraction import main as patch_extraction
    from benchmarks.patch_extraction import rows as patch_rows

    rows += patch_rows(patch_extraction())
    from benchmarks.end_to_end_memory import main as end_to_end_memory

    memory = end_to_end_memory()
    rows += [(f"paper D peak memory growth, {method}, N={4 * n} / N={n}", f"{ratio:.3f}")
             for (method, n), ratio in memory["ratios"].items()]
    from benchmarks.chapter_speedups import main as chapter_speedups

    rows += chapter_speedups()
    from benchmarks.ci_notebooks import main as ci_notebooks
    from benchmarks.ci_notebooks import rows as ci_rows

    rows += ci_rows(ci_notebooks())
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key.ljust(width)}  {value}")
    assert cached < 0.1 * executed, "an up-to-date notebook must not be executed again"
    assert np.isfinite(unmix) and unmix > 0


if __name__ == "__main__":
    main()
