"""What a notebook's cells call: open its run from the parameters cell, show verdicts and tables.

The one module notebooks import for the page's plumbing. It sits above the results store
(:mod:`cpath_repro.results.run`, which knows nothing of the catalog or the claims) and the
claims (:mod:`cpath_repro.claims`), so neither imports the other. A notebook starts with::

    run, s = start("D-T1", vars())

which reads the notebook's parameters from its own namespace (the ``parameters`` cell papermill
fills in), validates them against the notebook's declaration, and opens the run.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cpath_repro.claims.registry import CLAIMS, get
from cpath_repro.claims.rules import Status
from cpath_repro.claims.scorecard import Verdict, VerdictBox, verdict_box
from cpath_repro.errors import ParameterError
from cpath_repro.profiles import COMMON_NAMES
from cpath_repro.project import default_run_dir
from cpath_repro.results import tables
from cpath_repro.results.run import Run

if TYPE_CHECKING:
    import pandas as pd
    from pandas.io.formats.style import Styler

__all__ = ["Pretraining", "not_testable", "readable", "record_pretraining", "report_claim", "start", "verdict_box"]


def readable(table: pd.DataFrame, decimals: int | Mapping[str, int | str] = tables.DEFAULT_DECIMALS,
             names: Mapping[str, str] | None = None, caption: str | None = None, index: bool = False) -> Styler:
    """:func:`cpath_repro.results.tables.readable`, with every declared metric's key in its words and unit
    (``validation accuracy (%)``; not ``test F1 (F1)``, whose words name its unit already)."""
    from cpath_repro.claims.metrics import METRICS

    terms = {k: f"{m.words} ({m.unit})" if m.unit and m.unit not in m.words.split() else m.words
             for k, m in METRICS.items()}
    return tables.readable(table, decimals, names, caption, index, terms=terms)


def start(name: str, namespace: Mapping[str, Any]) -> tuple[Run, Any]:
    """Validate notebook ``name``'s parameters, read from ``namespace`` (the notebook's ``vars()``), and open its run.

    Returns ``(run, settings)``: the chapter's settings object (:class:`cpath_repro.profiles.Settings`),
    or the validated parameters for a notebook whose settings are just its parameters. ``None`` for a
    parameter means "the profile's value"; a parameter the declaration has but the namespace lacks is
    an error naming it (the parameters cell and the declaration must agree).
    """
    from cpath_repro import catalog  # a lookup only: the catalog is not part of the result's cache key

    _figures_for_the_book()
    _training_threads()
    spec = catalog.get(name)
    missing = [p for p in (*COMMON_NAMES, *spec.params) if p not in namespace]
    if missing:
        raise ParameterError(f"Notebook '{spec.name}' has no parameters-cell entry for {', '.join(missing)}; "
                             "its parameters cell must name every declared parameter.")
    params = spec.resolve(str(namespace["profile"]), {p: namespace[p] for p in spec.params})
    run_dir = namespace["run_dir"]
    run = Run(spec.name, params, Path(os.fspath(run_dir)) if run_dir else default_run_dir(params.profile),
              claim_ids=CLAIMS, ignore_modules=catalog.lookup_modules(spec.name))
    return run, params if isinstance(spec.settings, Mapping) else spec.settings.from_resolved(params)


def _training_threads() -> None:
    """Run the kernel's torch work on the trainings' thread count (:func:`cpath_repro.train.store.threads`), not on
    the share of the cores ``run --jobs N`` gave the kernel: its own trainings and optimisations (paper E's tables,
    the pretraining probe, A-F6's filter colours) then give the same numbers serially and with ``--jobs 2``."""
    import torch

    from cpath_repro.train.store import threads

    torch.set_num_threads(threads())


def _figures_for_the_book() -> None:
    """Inline figures as PNG at twice their shown resolution (IPython's "retina"), shown at their drawn size:
    sharp when a reader zooms (:data:`cpath_repro.viz.DPI`). Outside IPython, nothing to set."""
    from IPython import get_ipython

    if get_ipython() is not None:
        from matplotlib_inline.backend_inline import set_matplotlib_formats

        set_matplotlib_formats("retina")


def not_testable(run: Run, claim_id: str, reason: str) -> VerdictBox:
    """Record that this run cannot test a claim, and why; returns the page's verdict box."""
    run.mark_not_testable(claim_id, reason)
    claim = get(claim_id)
    return VerdictBox(Verdict(claim, Status.NOT_TESTABLE, claim.rule.description, reason, run.claim_data[claim_id],
                              None))


def report_claim(run: Run, claim_id: str, table: pd.DataFrame, data: str, untestable: str | None = None,
                 undecidable: str | None = None) -> VerdictBox:
    """Save a claim's per-seed table and return its verdict box; when ``untestable`` gives a reason (e.g. real data
    has no ground truth for it), record that instead. ``undecidable``: why the saved numbers cannot decide it at
    this budget (the verdict is *not testable at this budget*, the numbers still shown)."""
    if untestable is not None:
        return not_testable(run, claim_id, untestable)
    run.save_claim_table(claim_id, table, data=data, undecidable=undecidable)
    return verdict_box(claim_id, table, data, undecidable)


#: Where a backbone's starting weights came from, in words: the page's line and a short label for captions.
PRETRAINING_WORDS = {
    "imagenet": ("ImageNet weights (torchvision's file, found locally)", "ImageNet"),
    "fractal": ("the formula-driven (fractal) stand-in of the pretraining page: ImageNet's weights are not on "
                "this machine", "fractal stand-in"),
    "none": ("random initialization (no pretraining)", "random initialization"),
}


@dataclass(frozen=True)
class Pretraining:
    """Where each backbone of a page starts from: backbone name -> "imagenet", "fractal" or "none"."""

    sources: Mapping[str, str]

    def __str__(self) -> str:
        return "\n".join(f"{name} starts from {PRETRAINING_WORDS[source][0]}." for name, source in self.sources.items())

    def short(self, name: str) -> str:
        """A caption's name for backbone ``name``'s starting weights (e.g. "fractal stand-in")."""
        return PRETRAINING_WORDS[self.sources[name]][1]


def record_pretraining(run: Run, asked: Mapping[str, str]) -> Pretraining:
    """Resolve and record where each backbone's weights come from (``asked``: backbone -> "auto", "imagenet",
    "fractal" or "none"; "auto" is ImageNet when torchvision's file is here, else the stand-in): the verdicts
    that rest on pretraining read it from the run. ``print`` the result for the page's line."""
    from cpath_repro.transfer.pretraining import resolve  # only the pages that use a pretrained backbone load it

    sources = {name: resolve(name, choice) for name, choice in asked.items()}
    for name, source in sources.items():
        run.use_pretraining(name, source)
    return Pretraining(sources)
