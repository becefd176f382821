"""Labelled-patch extraction throughput: the project's readers vs a bare OpenSlide loop, in one run
(:mod:`cpath_repro.wsi.throughput`). Run with ``python -m benchmarks.patch_extraction``."""

from __future__ import annotations

from cpath_repro.wsi.throughput import main, rows

__all__ = ["main", "rows"]

if __name__ == "__main__":
    table = rows(main())
    width = max(len(k) for k, _ in table)
    for key, value in table:
        print(f"{key.ljust(width)}  {value}")
