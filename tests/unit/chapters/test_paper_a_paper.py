"""Paper A's tables as shown: the paper's F1 beside ours per class; formatting keys no trained model."""

from __future__ import annotations

import pandas as pd

from cpath_repro.chapters.paper_a import paper, training
from cpath_repro.project import import_closure


def test_side_by_side_puts_the_papers_f1_beside_our_mean_and_sd_per_class():
    per_seed = pd.DataFrame([{"seed": s, "arm": arm, "metric": m, "value": 0.5 + 0.1 * s}
                             for s in range(2) for arm in paper.PAPER_T2 for m in training.F1_NAMES])
    table = paper.side_by_side(per_seed, paper.PAPER_T2, "synthetic data")
    assert list(table["class"]) == ["background", "tumour", "tissue", "necrosis"]
    assert list(table["unet: paper"]) == list(paper.PAPER_T2["unet"])
    assert table["cd-unet: ours_mean"].round(6).tolist() == [0.55] * 4
    assert table["cd-unet: ours_sd"].round(4).tolist() == [0.0707] * 4
    assert table.attrs["caption"].endswith("(synthetic data, mean ± sd over 2 paired seeds)")


def test_the_recipe_reads_neither_the_pages_nor_the_words_a_reader_sees():
    """A model's store key follows the recipe's import closure: how a number is measured, drawn or set beside the
    paper's, and how a parameter is worded, retrain nothing."""
    closure = import_closure(training.__name__)
    assert "cpath_repro.chapters.paper_a.data" in closure
    for module in ("analysis", "figures", "paper", "settings", "notebooks"):
        assert f"cpath_repro.chapters.paper_a.{module}" not in closure, module
    assert "cpath_repro.results.tables" not in closure and "cpath_repro.viz" not in closure
