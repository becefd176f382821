"""Paper A's published numbers (Lahiani et al., Tables 1 and 2), and our tables beside them.

Kept out of the training recipe (:mod:`cpath_repro.chapters.paper_a.training`), whose import
closure keys the trained models: changing how a table reads re-draws the pages and retrains nothing.
"""

from __future__ import annotations

import pandas as pd

from cpath_repro.claims.metrics.paper_a import F1
from cpath_repro.results import tables

#: Paper A's test F1 (background, tumour, tissue, necrosis), Tables 1 and 2.
PAPER_T1 = {"multistain": (0.63, 0.20, 0.78, 0.44), "he-only": (0.99, 0.85, 0.71, 0.88)}
PAPER_T2 = {"unet": (0.92, 0.52, 0.89, 0.60), "cd-unet": (0.99, 0.88, 0.90, 0.80)}


def side_by_side(per_seed: pd.DataFrame, paper: dict[str, tuple[float, ...]], data_label: str) -> pd.DataFrame:
    """One row per class: for each arm, the paper's F1 beside our mean and sd over seeds (numbers, so the saved
    table keeps every digit; :func:`cpath_repro.results.tables.readable` shows "paper | ours" under each arm)."""
    classes = [name.removeprefix("f1_") for name in F1]
    ours = per_seed.assign(metric=per_seed.metric.str.removeprefix("f1_"))
    values = {arm: dict(zip(classes, row, strict=True)) for arm, row in paper.items()}
    table = tables.paper_vs_ours(ours, values, "metric").rename(columns={"metric": "class"})
    seeds = per_seed.seed.nunique()
    table.attrs["caption"] = (f"Test F1 per class: the paper's beside ours ({data_label}, mean ± sd over {seeds} "
                              f"paired seed{'s' if seeds != 1 else ''})")
    return table
