"""A sensitivity map's cells judged like the book, its sentence generated from them, its figure drawn."""

from pathlib import Path

import numpy as np
import pandas as pd

from cpath_repro.claims import decides, scorecard
from cpath_repro.claims.registry import CLAIMS
from cpath_repro.claims.rules import Status
from cpath_repro.pipeline import sweeps


def _table(effect: float, seeds: int = 5) -> pd.DataFrame:
    """C-C7's arms: saliency and Grad-CAM mass in the zone ``effect`` above a uniform map's, with noise."""
    rng = np.random.default_rng(int(effect * 100) + 7)
    rows = []
    for seed in range(seeds):
        base = 0.1 + 0.01 * rng.standard_normal()
        rows.append((seed, "uniform-map", "", "mass_in_true_zone", base))
        for arm in ("saliency", "grad-cam"):
            rows.append((seed, arm, "", "mass_in_true_zone", base + effect + 0.02 * rng.standard_normal()))
    return pd.DataFrame(rows, columns=["seed", "arm", "unit", "metric", "value"])


def _map(effects: list[float]) -> sweeps.Map:
    claim, knob = CLAIMS["C-C7"], decides.get("C-C7").knob
    assert knob is not None
    cells = []
    for value, effect in zip(knob.values, effects, strict=True):
        table = _table(effect)
        verdict = scorecard.judge(claim, table, "synthetic data")
        cells.append(sweeps.Cell(value, verdict, claim.rule.evaluate(table).status))
    return sweeps.Map(claim, knob, "C-F7", tuple(cells))


def test_a_map_with_one_verdict_everywhere_is_robust_and_says_so():
    m = _map([0.3, 0.25, 0.2])
    assert m.robust is True
    assert m.summary() == "Supported at every os_mucus tried (0, 0.5, 1)."


def test_a_map_that_changes_says_where():
    m = _map([0.3, 0.2, 0.0])
    assert m.robust is False
    text = m.summary()
    assert text.startswith("Supported at os_mucus 0 and 0.5, ")
    assert "inconclusive at this budget at os_mucus 1" in text and "(it changes between 0.5 and 1)" in text


def test_a_map_whose_cells_a_gate_decided_also_says_what_the_rule_said():
    m = _map([0.3, 0.2, 0.0])
    gated = tuple(sweeps.Cell(c.value, scorecard.Verdict(c.verdict.claim, Status.NOT_TESTABLE, "", "", "", None),
                              c.own) for c in m.cells)
    text = sweeps.Map(m.claim, m.knob, m.notebook, gated).summary()
    assert text.startswith("Not testable here at every os_mucus tried (0, 0.5, 1); the rule's own numbers, before "
                           "the gates: supported at os_mucus 0 and 0.5, ")


def test_a_map_missing_a_cell_says_how_to_compute_it():
    m = _map([0.3, 0.2, 0.1])
    m = sweeps.Map(m.claim, m.knob, m.notebook, (m.cells[0], sweeps.Cell(0.5, missing="not run"), m.cells[2]))
    assert m.robust is None
    assert "no current run at 0.5" in m.summary() and "cpath-repro sweep C-C7" in m.summary()


def test_the_map_figure_has_a_panel_per_comparison_and_the_knob_on_x():
    m = _map([0.3, 0.2, 0.0])
    fig = sweeps.figure(m)
    panels = [ax for ax in fig.axes if ax.axison]
    assert len(panels) == len({c.label for c in m.cells[0].verdict.comparisons})
    assert [t.get_text() for t in panels[0].get_xticklabels()] == ["0", "0.5", "1"]
    assert sweeps.svg(m).startswith("<svg")


def test_a_page_says_what_decides_a_claim_with_or_without_its_map(tmp_path: Path):
    with_map = sweeps.decides_html("C-C7", _map([0.3, 0.2, 0.0]))
    assert "What decides this verdict" in with_map and "<svg" in with_map and "os_mucus" in with_map
    without = sweeps.decides_html("C-C7", sweeps.read_map("C-C7", tmp_path))  # an empty run: no cell
    assert "cpath-repro sweep C-C7" in without and "<svg" not in without
    unmapped = sweeps.decides_html("D-C3")
    assert "mechanism" in unmapped and "Sensitivity map" not in unmapped


def test_the_front_pages_table_marks_robust_and_dependent_verdicts():
    text = sweeps.robustness_html({"C-C7": _map([0.3, 0.2, 0.0])})
    assert "depends on os_mucus" in text and "#claim-C-C7" in text
    assert "<b>robust</b>" in sweeps.robustness_html({"C-C7": _map([0.3, 0.25, 0.2])})
    m = _map([0.3, 0.2, 0.0])  # a verdict no value can test is not called robust
    gated = tuple(sweeps.Cell(c.value, scorecard.Verdict(c.verdict.claim, Status.NOT_TESTABLE, "", "", "", None),
                              c.own) for c in m.cells)
    text = sweeps.robustness_html({"C-C7": sweeps.Map(m.claim, m.knob, m.notebook, gated)})
    assert "not testable at any value" in text and "<b>robust</b>" not in text


def test_cells_go_beside_the_run_and_the_default_is_the_books_own(tmp_path: Path):
    knob = decides.get("D-C1").knob
    assert knob is not None
    assert sweeps.cell_dir(tmp_path, knob, knob.default()) == tmp_path
    assert sweeps.cell_dir(tmp_path, knob, 0.0) == tmp_path / "sweeps" / "lowres_contrast=0"
    assert Status.SUPPORTED.value == "supported"
