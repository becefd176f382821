"""The decision layer is calibrated: with no arm effect a registered rule says *supported* in at most 5 % and
*contradicted* in at most 5 % of simulated tables, at 3, 5 and 10 seeds; with a large effect it says
*supported*; and every rule reaches each of its outcomes.

The tables are simulated, never the ``ci`` run's (one seed: every rule is *not testable at this budget*
there, so a test on them would pass with nothing checked): bounded values (accuracies in [0, 1]), a
shared effect per seed (seeds are paired), a spread per unit, and units at the ceiling in every seed
(zero variance), as paper C's majority-class arms and paper B's saturated targets are.
"""

from __future__ import annotations

import numpy as np
import pytest

from cpath_repro.claims import registry
from cpath_repro.claims.metrics.paper_b import TOP1_ACCURACY
from cpath_repro.claims.rules import AllOf, Dominates, MostUnits, Paired, Status, Threshold
from cpath_repro.transfer import probe

DRAWS = 1000
LIMIT = 0.05
COMPARATIVE = {cid: c.rule for cid, c in registry.CLAIMS.items() if not isinstance(c.rule, Threshold)
               and not (isinstance(c.rule, AllOf) and any(isinstance(p, Threshold) for p in c.rule.parts))}
COMPARATIVE["probe"] = probe.RULE
#: Metrics in percent (paper B's, as the paper prints them); the others are fractions or losses of that size.
PERCENT = {TOP1_ACCURACY}


def _parts(rule) -> list[Dominates | MostUnits]:
    return list(rule.parts) if isinstance(rule, AllOf) else [rule]


def _arms(rule) -> tuple[dict[str, int], list[str], bool]:
    """(each arm's rank: how many arms it must beat in a chain, e.g. C-C3's unweighted 2, moderate 1, inverse 0;
    the metrics; lower is better) over the rule's parts."""
    pairs, metrics = [], []
    for part in _parts(rule):
        b = (part.better,) if isinstance(part.better, str) else part.better
        w = (part.worse,) if isinstance(part.worse, str) else part.worse
        m = (part.metric,) if isinstance(part, MostUnits) else ((part.metrics,) if isinstance(part.metrics, str)
                                                                 else part.metrics)
        pairs += [(x, y) for x in b for y in w]
        metrics += [x for x in m if x not in metrics]
    rank = {a: 0 for pair in pairs for a in pair}
    for _ in rank:  # longest chain below each arm (the rules' orders have no cycles)
        for better, worse in pairs:
            rank[better] = max(rank[better], rank[worse] + 1)
    return rank, metrics, _parts(rule)[0].lower_is_better


def simulate(rule, seeds: int, rng: np.random.Generator, effect: float = 0.0, ceiling_share: float = 0.2) -> Paired:
    """One table: per unit a level, per seed a shared shift, per (seed, arm) noise; the favoured arms ``effect``
    (a fraction of the metric's range) better, in the claim's direction, than the claim's margin (for "matches
    or beats within a tolerance", no effect is the favoured arm exactly that tolerance worse); with no effect,
    some units pinned at the ceiling in every seed and arm."""
    rank, metrics, lower = _arms(rule)
    tolerance = max((getattr(p, "tolerance", 0.0) for p in _parts(rule)), default=0.0)
    n_units = 6 if any(isinstance(p, MostUnits) for p in _parts(rule)) else 1  # most claims compare one unit
    values: dict[tuple[str, str, str], dict[int, float]] = {}
    for unit in (f"u{k}" for k in range(n_units)):
        ceiling = effect == 0 and rng.random() < ceiling_share
        for metric in metrics:
            scale = 100.0 if metric in PERCENT else 1.0
            level, spread = rng.uniform(0.3, 0.8), rng.uniform(0.01, 0.1)
            x = scale * (level + rng.normal(0, 0.05, seeds) + rng.normal(0, spread, (len(rank), seeds)))
            x += (effect * scale - tolerance) * (-1 if lower else 1) * np.array(list(rank.values()))[:, None]
            x = np.full_like(x, scale) if ceiling else np.clip(x, 0.0, scale)
            for arm, row in zip(rank, x.tolist(), strict=True):
                values[(arm, unit, metric)] = dict(enumerate(row))
    return Paired(values)


@pytest.mark.parametrize("seeds", [3, 5, 10])
@pytest.mark.parametrize("claim_id", list(COMPARATIVE))
def test_with_no_arm_effect_a_rule_rarely_decides(claim_id: str, seeds: int):
    rule, rng = COMPARATIVE[claim_id], np.random.default_rng([seeds, len(claim_id), ord(claim_id[-1])])
    statuses = [rule.decide(simulate(rule, seeds, rng)).status for _ in range(DRAWS)]
    supported = statuses.count(Status.SUPPORTED) / DRAWS
    contradicted = statuses.count(Status.CONTRADICTED) / DRAWS
    assert supported <= LIMIT and contradicted <= LIMIT, (supported, contradicted)


@pytest.mark.parametrize("claim_id", list(COMPARATIVE))
def test_with_a_large_effect_a_rule_is_supported(claim_id: str):
    rule, rng = COMPARATIVE[claim_id], np.random.default_rng(len(claim_id))
    statuses = [rule.decide(simulate(rule, 10, rng, effect=0.3)).status for _ in range(100)]
    assert statuses.count(Status.SUPPORTED) >= 90, statuses


def constant(rule, difference: list[float]) -> Paired:
    """Each arm ``difference[s]`` times its rank better than the rank-0 arms in seed s, in every unit and metric."""
    rank, metrics, lower = _arms(rule)
    values = {}
    for unit in ("u0", "u1", "u2"):
        for metric in metrics:
            for arm, r in rank.items():
                gain = r * np.asarray(difference)
                values[(arm, unit, metric)] = dict(enumerate((0.5 + (-gain if lower else gain)).tolist()))
    return Paired(values)


@pytest.mark.parametrize("claim_id", list(COMPARATIVE))
def test_every_rule_reaches_each_of_its_outcomes(claim_id: str):
    rule = COMPARATIVE[claim_id]
    assert rule.decide(constant(rule, [0.2, 0.3, 0.25, 0.2, 0.3])).status is Status.SUPPORTED
    assert rule.decide(constant(rule, [-3.2, -3.3, -3.25, -3.2, -3.3])).status is Status.CONTRADICTED
    assert rule.decide(constant(rule, [2.0, -3.0, 1.0, -1.0, 0.5])).status is Status.INCONCLUSIVE
    same = rule.decide(constant(rule, [0.2] * 5))
    assert same.status is Status.UNDECIDABLE and "zero width" in same.evidence
    nan = rule.decide(constant(rule, [0.2, float("nan"), 0.25, 0.2, 0.3]))
    assert nan.status is Status.UNDECIDABLE and "not a number" in nan.evidence
    few = rule.decide(constant(rule, [0.2, 0.3]))
    assert few.status is Status.UNDECIDABLE


def test_thresholds_hold_in_every_seed_in_none_or_in_some():
    rule = registry.CLAIMS["D-C3"].rule
    parts = rule.parts

    def table(memory: list[float], error: list[float]) -> Paired:
        return Paired({("end-to-end", "", parts[0].metric): dict(enumerate(memory)),
                       ("end-to-end", "", parts[1].metric): dict(enumerate(error))})

    small = [parts[1].value / 10] * 3
    assert rule.decide(table([1.0, 1.1, 1.05], small)).status is Status.SUPPORTED
    assert rule.decide(table([2.0, 2.1, 2.05], small)).status is Status.CONTRADICTED
    assert rule.decide(table([1.0, 2.1, 1.05], small)).status is Status.INCONCLUSIVE
