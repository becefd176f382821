"""The stains page's summaries: what deconvolving with the textbook vectors costs, and the printed IHC numbers."""

import pandas as pd
import pytest

from cpath_repro.chapters.stains import analysis
from cpath_repro.synth.fields import cell_field


def test_jitter_summary_averages_over_slides_per_assay_in_the_library_order():
    jitter = pd.DataFrame({"assay": ["H&E", "H&E", "CD8/CD3", "CD8/CD3"], "slide": [0, 1, 0, 1],
                           "max_vector_angle_deg": [2.0, 4.0, 1.0, 3.0],
                           "mean_abs_error_true_vectors": [0.01, 0.03, 0.02, 0.02],
                           "mean_abs_error_nominal_vectors": [0.05, 0.07, 0.02, 0.04]})
    summary = analysis.jitter_summary(jitter)
    assert list(summary.index) == ["H&E", "CD8/CD3"] and list(summary.columns) == list(analysis.JITTER_COLUMNS)
    assert summary.loc["H&E"].tolist() == pytest.approx([3.0, 0.02, 0.06])
    assert analysis.nominal_over_true_error(summary) == pytest.approx(0.045 / 0.02)


def test_nominal_vectors_cost_accuracy_on_jittered_slides():
    table = analysis.jitter_table(cell_field(32, 0), n_slides=2, max_angle_deg=8.0, seed=0)
    assert analysis.nominal_over_true_error(analysis.jitter_summary(table)) > 1.0


def test_rounded_keeps_the_names_and_rounds_the_values():
    assert analysis.rounded({"a": 0.123456, "b": 2.0}) == {"a": 0.1235, "b": 2.0}
    assert analysis.rounded({"a": 0.123456}, digits=2) == {"a": 0.12}
