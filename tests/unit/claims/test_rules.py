import itertools

import pytest

from cpath_repro.claims import registry
from cpath_repro.claims.rules import AllOf, Dominates, MostUnits, NotTestable, Status, Threshold, seed_table


def table(values: dict[tuple[str, str], list[float]], metric: str = "m") -> list[dict]:
    """{(arm, unit): [value per seed]} -> long rows."""
    return [{"seed": s, "arm": arm, "unit": unit, "metric": metric, "value": v}
            for (arm, unit), vs in values.items() for s, v in enumerate(vs)]


def test_dominates_supported_when_better_in_every_seed():
    out = Dominates("a", "b", "m").evaluate(table({("a", ""): [2, 3, 4], ("b", ""): [1, 2, 3]}))
    assert out.status is Status.SUPPORTED and "3/3" in out.evidence


def test_dominates_not_supported_when_one_seed_reverses():
    out = Dominates("a", "b", "m").evaluate(table({("a", ""): [2, 3, 1], ("b", ""): [1, 2, 3]}))
    assert out.status is Status.NOT_SUPPORTED and "2/3" in out.evidence


def test_dominates_on_means_ignores_a_single_reversal():
    rule = Dominates("a", "b", "m", every_seed=False)
    assert rule.evaluate(table({("a", ""): [5, 5, 1], ("b", ""): [1, 2, 3]})).status is Status.SUPPORTED


def test_dominates_lower_is_better():
    rule = Dominates("a", "b", "m", lower_is_better=True)
    assert rule.evaluate(table({("a", ""): [1, 1, 1], ("b", ""): [2, 2, 2]})).status is Status.SUPPORTED
    assert rule.evaluate(table({("a", ""): [3, 3, 3], ("b", ""): [2, 2, 2]})).status is Status.NOT_SUPPORTED


def test_dominates_tolerance_accepts_match_within_it_only():
    rule = Dominates("a", "b", "m", strict=False, tolerance=1.0)
    assert rule.evaluate(table({("a", ""): [1.5, 1.5, 1.5], ("b", ""): [2, 2, 2]})).status is Status.SUPPORTED
    assert rule.evaluate(table({("a", ""): [0.5, 0.5, 0.5], ("b", ""): [2, 2, 2]})).status is Status.NOT_SUPPORTED


def test_dominates_not_testable_with_too_few_seeds_or_a_missing_arm():
    few = Dominates("a", "b", "m").evaluate(table({("a", ""): [2, 3], ("b", ""): [1, 2]}))
    assert few.status is Status.NOT_TESTABLE and "2 paired seed" in few.evidence
    missing = Dominates("a", "c", "m").evaluate(table({("a", ""): [2, 3, 4], ("b", ""): [1, 2, 3]}))
    assert missing.status is Status.NOT_TESTABLE


def test_dominates_needs_every_unit():
    values = {("a", "u1"): [2, 2, 2], ("b", "u1"): [1, 1, 1], ("a", "u2"): [0, 0, 0], ("b", "u2"): [1, 1, 1]}
    assert Dominates("a", "b", "m").evaluate(table(values)).status is Status.NOT_SUPPORTED


def test_most_units_counts_units_on_seed_means():
    values = {}
    for unit, (a, b) in {"t1": (2, 1), "t2": (2, 1), "t3": (0, 1)}.items():
        values[("a", unit)] = [a] * 3
        values[("b", unit)] = [b] * 3
    out = MostUnits("a", "b", "m").evaluate(table(values))
    assert out.status is Status.SUPPORTED and out.evidence.startswith("2/3")
    assert MostUnits("b", "a", "m").evaluate(table(values)).status is Status.NOT_SUPPORTED


def test_most_units_not_testable_with_too_few_seeds():
    out = MostUnits("a", "b", "m").evaluate(table({("a", "t"): [1, 2], ("b", "t"): [0, 0]}))
    assert out.status is Status.NOT_TESTABLE


def test_threshold_every_seed():
    rule = Threshold("a", "m", ">", 0.5)
    assert rule.evaluate(table({("a", ""): [0.6, 0.7, 0.8]})).status is Status.SUPPORTED
    assert rule.evaluate(table({("a", ""): [0.6, 0.4, 0.8]})).status is Status.NOT_SUPPORTED
    assert rule.evaluate(table({("a", ""): [0.6]})).status is Status.NOT_TESTABLE


def test_all_of_combines_with_not_testable_first():
    yes = Threshold("a", "m", ">", 0)
    no = Threshold("a", "m", "<", 0)
    rows = table({("a", ""): [1, 1, 1]})
    assert AllOf((yes, yes)).evaluate(rows).status is Status.SUPPORTED
    assert AllOf((yes, no)).evaluate(rows).status is Status.NOT_SUPPORTED
    assert AllOf((no, NotTestable("why"))).evaluate(rows).status is Status.NOT_TESTABLE


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
