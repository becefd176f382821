import itertools

import pytest

from cpath_repro.claims import registry
from cpath_repro.claims.rules import (
    AllOf,
    Dominates,
    MostUnits,
    NotTestable,
    Status,
    Threshold,
    holm_rejects,
    power,
    seed_table,
    seeds_needed,
    smallest_resolvable,
)


def table(values: dict[tuple[str, str], list[float]], metric: str = "m") -> list[dict]:
    """{(arm, unit): [value per seed]} -> long rows."""
    return [{"seed": s, "arm": arm, "unit": unit, "metric": metric, "value": v}
            for (arm, unit), vs in values.items() for s, v in enumerate(vs)]


def test_dominates_supported_when_the_interval_clears_zero():
    out = Dominates("a", "b", "m").evaluate(table({("a", ""): [2.0, 3.1, 4.0], ("b", ""): [1, 2, 3]}))
    assert out.status is Status.SUPPORTED
    low, high = out.comparisons[0].interval
    assert 0 < low < 1.033 < high  # the mean difference, inside its interval
    assert "+1.033 [" in out.evidence and "over 3 seeds" in out.evidence


def test_dominates_matches_scipys_paired_t_interval():
    from scipy import stats

    a, b = [0.61, 0.70, 0.64, 0.69, 0.66], [0.60, 0.62, 0.63, 0.61, 0.65]
    out = Dominates("a", "b", "m").evaluate(table({("a", ""): a, ("b", ""): b}))
    expected = stats.ttest_rel(a, b).confidence_interval(0.95)
    assert out.comparisons[0].interval == pytest.approx((expected.low, expected.high))


def test_dominates_inconclusive_when_one_seed_reverses():
    out = Dominates("a", "b", "m").evaluate(table({("a", ""): [2, 3, 1], ("b", ""): [1, 2, 3]}))
    assert out.status is Status.INCONCLUSIVE
    assert "resolve an effect of" in out.evidence and "at 80% power" in out.evidence


def test_dominates_contradicted_when_the_interval_lies_below():
    out = Dominates("a", "b", "m").evaluate(table({("a", ""): [0.9, 1.0, 1.1], ("b", ""): [2, 2.05, 2.1]}))
    assert out.status is Status.CONTRADICTED


def test_a_difference_of_zero_width_is_never_supported():
    out = Dominates("a", "b", "m").evaluate(table({("a", ""): [2, 2, 2], ("b", ""): [1, 1, 1]}))
    assert out.status is Status.UNDECIDABLE and "zero width" in out.evidence


def test_a_missing_value_makes_the_claim_undecidable_not_a_crash():
    out = Dominates("a", "b", "m").evaluate(table({("a", ""): [2, float("nan"), 4], ("b", ""): [1, 2, 3.5]}))
    assert out.status is Status.UNDECIDABLE and "not a number" in out.evidence
    rows = table({("a", ""): [2, 3, 4], ("b", ""): [1, 2, 3]})
    rows[1]["value"] = ""  # an empty cell, as a CSV with a missing value reads back
    assert Dominates("a", "b", "m").evaluate(rows).status is Status.UNDECIDABLE


def test_dominates_lower_is_better():
    rule = Dominates("a", "b", "m", lower_is_better=True)
    assert rule.evaluate(table({("a", ""): [1, 1.1, 1], ("b", ""): [2, 2, 2.1]})).status is Status.SUPPORTED
    assert rule.evaluate(table({("a", ""): [3, 3.1, 3], ("b", ""): [2, 2, 2.1]})).status is Status.CONTRADICTED


def test_dominates_tolerance_moves_the_margin():
    rule = Dominates("a", "b", "m", tolerance=1.0)
    assert rule.evaluate(table({("a", ""): [1.5, 1.6, 1.5], ("b", ""): [2, 2, 2]})).status is Status.SUPPORTED
    assert rule.evaluate(table({("a", ""): [0.5, 0.4, 0.5], ("b", ""): [2, 2, 2]})).status is Status.CONTRADICTED


def test_dominates_undecidable_with_too_few_seeds_and_not_testable_with_a_missing_arm():
    few = Dominates("a", "b", "m").evaluate(table({("a", ""): [2, 3], ("b", ""): [1, 2]}))
    assert few.status is Status.UNDECIDABLE and "2 paired seed" in few.evidence
    missing = Dominates("a", "c", "m").evaluate(table({("a", ""): [2, 3, 4], ("b", ""): [1, 2, 3]}))
    assert missing.status is Status.NOT_TESTABLE


def test_dominates_needs_every_unit():
    values = {("a", "u1"): [2, 2.1, 2], ("b", "u1"): [1, 1, 1], ("a", "u2"): [0.5, 0.4, 0.5], ("b", "u2"): [1, 1, 1]}
    assert Dominates("a", "b", "m").evaluate(table(values)).status is Status.CONTRADICTED


def test_contradicted_needs_the_holm_correction_over_every_comparison():
    """One comparison just below its margin among several: contradicted alone, not after Holm's correction."""
    worse = [0.3, 0.25, 0.35, 0.2, 0.3]
    below = {("a", "u0"): [w + d for w, d in zip(worse, [-0.1, -0.02, -0.18, -0.1, -0.1], strict=True)],
             ("b", "u0"): worse}
    alone = Dominates("a", "b", "m").evaluate(table(below))
    assert alone.status is Status.CONTRADICTED and 0.025 / 6 < alone.comparisons[0].p_against < 0.025
    rows = below | {(arm, f"u{k}"): v for k in range(1, 6) for arm, v in (("a", [1, 2, 0, 1, 1]), ("b", [1] * 5))}
    assert Dominates("a", "b", "m").evaluate(table(rows)).status is Status.INCONCLUSIVE


def test_holm_rejects_when_the_smallest_p_value_clears_its_share():
    assert holm_rejects([0.004, 0.5]) and not holm_rejects([0.02, 0.5]) and not holm_rejects([])


def test_power_figures_for_an_inconclusive_comparison():
    assert power(5, 0.0) == pytest.approx(0.025, abs=1e-3)  # no effect: the one-sided level
    assert power(10, 1.0) > power(5, 1.0) > power(3, 1.0)
    n = seeds_needed(0.5, 1.0)  # half a standard deviation: about 34 paired seeds for 80 % (two-sided 5 %)
    assert 30 <= n <= 36 and power(n, 0.5) >= 0.8 > power(n - 1, 0.5)
    assert seeds_needed(-0.1, 1.0) is None
    assert power(5, smallest_resolvable(5, 1.0)) == pytest.approx(0.8)


def test_most_units_counts_units_by_their_intervals():
    values = {}
    for unit, (a, b) in {"t1": (2, 1), "t2": (2, 1), "t3": (0.5, 1)}.items():
        values[("a", unit)] = [a, a + 0.1, a - 0.05]
        values[("b", unit)] = [b] * 3
    out = MostUnits("a", "b", "m").evaluate(table(values))
    assert out.status is Status.SUPPORTED and out.evidence.startswith("2 of 3 units supported, 1 contradicted")
    assert MostUnits("b", "a", "m").evaluate(table(values)).status is Status.CONTRADICTED


def test_most_units_inconclusive_while_the_undecided_units_could_still_tip_it():
    values = {}
    for unit, (a, b) in {"t1": ([2, 2.1, 1.9], 1), "t2": ([2, 0, 1.5], 1), "t3": ([0.9, 1.0, 0.8], 1)}.items():
        values[("a", unit)] = a
        values[("b", unit)] = [b] * 3
    assert MostUnits("a", "b", "m").evaluate(table(values)).status is Status.INCONCLUSIVE


def test_most_units_undecidable_with_too_few_seeds():
    out = MostUnits("a", "b", "m").evaluate(table({("a", "t"): [1, 2], ("b", "t"): [0, 0]}))
    assert out.status is Status.UNDECIDABLE


def test_threshold_in_every_seed_in_none_or_in_some():
    rule = Threshold("a", "m", ">", 0.5)
    supported = rule.evaluate(table({("a", ""): [0.6, 0.7, 0.8]}))
    assert supported.status is Status.SUPPORTED and "from 0.6 to 0.8" in supported.evidence
    assert rule.evaluate(table({("a", ""): [0.6, 0.4, 0.8]})).status is Status.INCONCLUSIVE
    assert rule.evaluate(table({("a", ""): [0.1, 0.4, 0.2]})).status is Status.CONTRADICTED
    assert rule.evaluate(table({("a", ""): [0.6]})).status is Status.UNDECIDABLE


def test_all_of_is_contradicted_by_any_part_and_otherwise_as_undecided_as_its_least_decided_part():
    yes = Threshold("a", "m", ">", 0)
    no = Threshold("a", "m", "<", 0)
    rows = table({("a", ""): [1, 1, 1]})
    assert AllOf((yes, yes)).evaluate(rows).status is Status.SUPPORTED
    assert AllOf((yes, no)).evaluate(rows).status is Status.CONTRADICTED
    assert AllOf((yes, NotTestable("why"))).evaluate(rows).status is Status.NOT_TESTABLE


def test_seed_table_rejects_missing_columns_and_duplicates():
    with pytest.raises(ValueError, match="missing"):
        seed_table([{"seed": 0, "arm": "a", "value": 1.0}])
    with pytest.raises(ValueError, match="two values"):
        seed_table([{"seed": 0, "arm": "a", "metric": "m", "value": 1.0}] * 2)


def test_registry_has_every_claim_of_the_spec_with_a_printable_rule():
    expected = {f"A-C{i}" for i in range(1, 8)} | {f"B-C{i}" for i in range(1, 7)} | \
        {f"C-C{i}" for i in range(1, 8)} | {f"D-C{i}" for i in range(1, 6)}
    assert set(registry.CLAIMS) == expected
    for claim in registry.CLAIMS.values():
        assert claim.statement and claim.rule.description
        assert claim.paper == claim.id[0]


def test_every_registered_rule_refuses_a_table_without_its_arms_or_metrics():
    arms = ["a", "b"]
    rows = [{"seed": s, "arm": a, "metric": "m", "value": 1.0} for s, a in itertools.product(range(3), arms)]
    for claim in registry.CLAIMS.values():
        outcome = claim.rule.evaluate(seed_table(rows))
        assert outcome.status is Status.NOT_TESTABLE, claim.id
        assert outcome.evidence, claim.id


def test_chapters_name_claim_metrics_only_through_the_shared_constants():
    from pathlib import Path

    from cpath_repro import catalog
    from cpath_repro.claims.metrics import paper_a, paper_b, paper_c, paper_d

    modules = (paper_a, paper_b, paper_c, paper_d)
    names = {v for m in modules for k, v in vars(m).items() if k.isupper() and isinstance(v, str)} | set(paper_a.F1)
    feeding = {Path(c.__file__).parent for c in catalog.CHAPTERS if any(s.claims for s in c.NOTEBOOKS)}
    assert feeding, "some chapter feeds claims"
    for path in (p for folder in feeding for p in folder.rglob("*.py")):
        source = path.read_text()
        typed = sorted(n for n in names if f'"{n}"' in source)
        assert typed == [], f"{path.name} types claim metric names instead of importing them: {typed}"


def test_an_arm_that_does_not_clear_its_chance_level_makes_the_claim_undecidable():
    rows = table({("tuned", "BACH"): [40, 45, 50], ("baseline", "BACH"): [19, 22, 18]})
    rule = MostUnits("tuned", "baseline", "m")
    assert rule.evaluate(rows).status is Status.SUPPORTED  # without chance levels, the gap decides
    for row in rows:
        row["chance"] = 25.0  # four classes
    out = rule.evaluate(rows)
    assert out.status is Status.UNDECIDABLE and "baseline, m [BACH] does not clear its chance level 25" in out.evidence


def test_a_loss_must_lie_below_its_class_prior_guess_and_a_constant_answer_never_clears_chance():
    rows = table({("a", ""): [0.70, 0.72, 0.69], ("b", ""): [0.98, 1.02, 1.05]})
    for row in rows:
        row["chance"] = 0.999  # the class-prior guess's loss
    out = Dominates("a", "b", "m", lower_is_better=True).evaluate(rows)
    assert out.status is Status.UNDECIDABLE and "b, m does not clear" in out.evidence
    majority = table({("a", ""): [60, 64, 62], ("b", ""): [53.3, 53.3, 53.3]})
    for row in majority:
        row["chance"] = 53.3 if row["arm"] == "b" else 53.3
    assert Dominates("a", "b", "m").evaluate(majority).status is Status.UNDECIDABLE


def test_the_papers_values_give_each_comparison_the_papers_effect_on_our_scale_and_sign():
    rows = table({("a", "u"): [0.70, 0.72, 0.69], ("b", "u"): [0.98, 1.02, 1.05], ("a", "v"): [1, 2, 3],
                  ("b", "v"): [0, 1, 2]})
    for row in rows:
        row["paper"] = {("a", "u"): 0.74517, ("b", "u"): 0.80}.get((row["arm"], row["unit"]), "")
    out = Dominates("a", "b", "m", lower_is_better=True).evaluate(rows)
    effects = {c.unit: c.paper_effect for c in out.comparisons}
    assert effects["u"] == pytest.approx(0.80 - 0.74517)  # lower is better: the paper's gain, positive
    assert effects["v"] is None  # the paper gives no value for unit v
