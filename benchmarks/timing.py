"""The benchmarks' timing rule is the package's (:func:`cpath_repro.results.timing.best_of`)."""

from __future__ import annotations

from cpath_repro.results.timing import best_of

__all__ = ["best_of"]
