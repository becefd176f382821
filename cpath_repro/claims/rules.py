"""Decision rules: pure functions from a per-seed results table to a verdict with its evidence.

A rule is fixed in code before any run and printed beside its verdict. Results come as a
long table with one row per (seed, arm, unit, metric): ``arm`` is what a comparison varies
(a model, a setting, a class), ``unit`` what it is repeated over (a target dataset, a
class; empty when there is one). Seeds are paired: seed s made the data every arm of seed
s was trained and measured on.

How a comparison is decided (the "How to read" page states the same):

* per unit, the paired difference over seeds, signed so that positive favours the claim; its
  mean and a 95 % paired t-interval (:func:`scipy.stats.t`);
* *supported* when the interval lies wholly above the claim's margin (0, or −tolerance for
  "matches or beats"), *contradicted* when it lies wholly below, otherwise *inconclusive at
  this budget*; an interval of zero width (the same difference in every seed) or a missing
  value decides nothing: *not testable at this budget*;
* a claim that needs every comparison (every arm, metric and unit) is supported when each one
  is; it is contradicted when a Holm correction over its comparisons (one-sided, α = 0.025
  each way, the level of the 95 % interval) still rejects one, so that twelve intervals do not
  make a false *contradicted* likely;
* "most units": supported when more than the stated share of units is supported, contradicted
  when even counting every undecided unit as supported could not reach that share;
* a threshold (D-C3) holds in every seed (supported), in none (contradicted), or in some;
* the sanity gate: where the table gives an arm's chance level (column ``chance``), an arm whose
  interval over seeds does not clear it makes the claim *not testable at this budget*.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from typing import Protocol

import numpy as np
import pandas as pd
from scipy import special, stats

from cpath_repro.claims.metrics import METRICS, amount, words
from cpath_repro.metrics import chance

COLUMNS = ("seed", "arm", "unit", "metric", "value")
#: An optional column: the chance level of that arm's metric on that unit (a classifier's best constant answer:
#: the larger of 1/classes and the majority class's share; a loss's class-prior guess). An arm whose interval
#: over seeds does not clear it learned nothing a rule could compare (the sanity gate).
CHANCE = chance.COLUMN  # levels computed by cpath_repro.metrics.chance
#: An optional column: the paper's own value for that arm, unit and metric, where the paper gives one; a
#: comparison whose two arms both have one carries the paper's effect beside ours (the forest plot marks it).
PAPER = "paper"
#: Two-sided level of every interval; each direction of a decision is tested at half of it.
LEVEL = 0.95
ALPHA_ONE_SIDED = (1 - LEVEL) / 2
#: The power at which the evidence states the smallest resolvable effect and the seeds an effect would need.
POWER = 0.8
#: Seeds beyond which "seeds needed" is reported as "more than".
MAX_SEEDS_REPORTED = 1000


class Status(StrEnum):
    SUPPORTED = "supported"
    CONTRADICTED = "contradicted"
    INCONCLUSIVE = "inconclusive at this budget"
    UNDECIDABLE = "not testable at this budget"
    NOT_TESTABLE = "not testable here"
    NOT_YET = "not yet reproduced"


@cache
def _t_critical(df: int) -> float:
    return float(stats.t.ppf(1 - ALPHA_ONE_SIDED, df))


def power(n: int, standardized_effect: float) -> float:
    """Probability that ``n`` paired seeds put the interval above the margin when the true effect is
    ``standardized_effect`` standard deviations of the paired difference above it (noncentral t)."""
    if n < 2:
        return 0.0
    return float(1.0 - special.nctdtr(n - 1, standardized_effect * math.sqrt(n), _t_critical(n - 1)))


def smallest_resolvable(n: int, sd: float) -> float:
    """The effect over the margin that ``n`` paired seeds with spread ``sd`` resolve with :data:`POWER`."""
    from scipy.optimize import brentq

    if n < 2 or not sd > 0:
        return math.nan
    return sd * float(brentq(lambda d: power(n, d) - POWER, 0.0, 100.0))


def seeds_needed(effect: float, sd: float) -> int | None:
    """The paired seeds an effect ``effect`` over the margin with spread ``sd`` needs for :data:`POWER`
    (None: more than :data:`MAX_SEEDS_REPORTED`, or no effect in the claim's direction)."""
    if not (effect > 0 and sd > 0):
        return None
    standardized = effect / sd
    n = 2
    while n <= MAX_SEEDS_REPORTED:  # power rises with n; a doubling search, then the first n that reaches it
        if power(n, standardized) >= POWER:
            lo = n // 2 + 1 if n > 2 else 2
            return next(k for k in range(lo, n + 1) if power(k, standardized) >= POWER)
        n *= 2
    return None


@dataclass(frozen=True)
class Comparison:
    """One paired comparison over seeds: ``differences`` (positive favours the claim) against ``margin``."""

    label: str
    differences: tuple[float, ...]
    margin: float = 0.0
    unit: str = ""
    #: the paper's own effect on the same scale and sign (None: the paper gives no value for one of the arms)
    paper_effect: float | None = None
    #: what is compared, for the reader's words: the arm the claim favours, the other arm, the metric's key and
    #: whether lower is better on it (a rule's own label says the same for developers)
    better: str = ""
    worse: str = ""
    metric: str = ""
    lower_is_better: bool = False
    # derived in __post_init__ (plain arithmetic: these are a handful of seeds, decided thousands of times)
    mean: float = field(init=False)
    sd: float = field(init=False)
    interval: tuple[float, float] = field(init=False)  # the 95 % paired t-interval of the mean difference
    status: Status = field(init=False)

    def __post_init__(self) -> None:
        n, d = len(self.differences), self.differences
        mean = math.fsum(d) / n if n else math.nan
        sd = math.sqrt(math.fsum((x - mean) ** 2 for x in d) / (n - 1)) if n > 1 else math.nan
        half = _t_critical(n - 1) * sd / math.sqrt(n) if n > 1 else math.nan
        low, high = mean - half, mean + half
        if not (math.isfinite(low) and math.isfinite(high)) or sd == 0:
            status = Status.UNDECIDABLE
        elif low > self.margin:
            status = Status.SUPPORTED
        elif high < self.margin:
            status = Status.CONTRADICTED
        else:
            status = Status.INCONCLUSIVE
        for name, value in (("mean", mean), ("sd", sd), ("interval", (low, high)), ("status", status)):
            object.__setattr__(self, name, value)

    @property
    def n(self) -> int:
        return len(self.differences)

    @property
    def p_against(self) -> float:
        """One-sided p-value of "the effect is at least the margin" (small: the claim's side is implausible)."""
        if self.status is Status.UNDECIDABLE:
            return 1.0
        return float(special.stdtr(self.n - 1, (self.mean - self.margin) / (self.sd / math.sqrt(self.n))))

    @property
    def why_undecidable(self) -> str:
        if any(not math.isfinite(d) for d in self.differences):
            return f"{self.label}: a value is missing or not a number"
        if self.n < 2:
            return f"{self.label}: {self.n} paired seed(s), no interval"
        return (f"{self.label}: the same difference ({self.signed(self.mean)}) in all {self.n} seeds, an interval of "
                "zero width")

    @property
    def seeds_needed(self) -> int | None:
        """The paired seeds this comparison's effect and spread would need for :data:`POWER` (None: none would)."""
        return seeds_needed(self.mean - self.margin, self.sd) if self.status is Status.INCONCLUSIVE else None

    def signed(self, value: float) -> str:
        """A difference on this comparison's scale, signed (``+0.03``, ``−1.2``): the metric's own decimals."""
        metric = METRICS.get(self.metric)
        return metric.number(value, sign=True) if metric is not None else f"{value:+.4g}".replace("-", "−")

    def describe(self) -> str:
        """``label: +0.031 [−0.010, +0.072] over 5 seeds, inconclusive; resolves ≥ 0.05; ≈ 14 seeds``."""
        if self.status is Status.UNDECIDABLE:
            return self.why_undecidable
        low, high = self.interval
        margin = f" (margin {self.signed(self.margin)})" if self.margin else ""
        text = (f"{self.label}: {self.signed(self.mean)} [{self.signed(low)}, {self.signed(high)}] over {self.n} "
                f"seeds{margin}, {self.status.value}")
        if self.status is Status.INCONCLUSIVE:
            need = self.seeds_needed
            text += (f"; {self.n} seeds resolve an effect of {self.signed(smallest_resolvable(self.n, self.sd))[1:]} at "
                     f"{POWER:.0%} power; this effect would need "
                     + (f"about {need} seeds" if need else "more seeds than are worth stating"
                        if self.mean > self.margin else "no number of seeds (it points the other way)"))
        return text


def holm_rejects(p_values: Sequence[float], alpha: float = ALPHA_ONE_SIDED) -> bool:
    """Whether Holm's step-down procedure rejects at least one hypothesis at family level ``alpha``.

    By hand: scipy.stats corrects for false discoveries (``false_discovery_control``) but has no
    family-wise correction. Holm rejects at least one exactly when its first step does.
    """
    return bool(p_values) and min(p_values) <= alpha / len(p_values)


@dataclass(frozen=True)
class Outcome:
    """What a rule concluded and the comparisons it concluded it from; :attr:`evidence` puts them in words
    (only when read: the power figures take milliseconds, and the calibration test decides thousands of tables)."""

    status: Status
    note: str = ""
    comparisons: tuple[Comparison, ...] = ()

    @property
    def evidence(self) -> str:
        return " ".join(x for x in (self.note, "; ".join(c.describe() for c in self.comparisons)) if x)


class Rule(Protocol):
    @property
    def description(self) -> str: ...

    def evaluate(self, table: pd.DataFrame) -> Outcome: ...

    def decide(self, paired: Paired) -> Outcome: ...


def seed_table(rows: Sequence[dict[str, object]] | pd.DataFrame) -> pd.DataFrame:
    """Validate and normalise a per-seed results table (adds an empty ``unit`` if absent)."""
    table = pd.DataFrame(rows).copy()
    if "unit" not in table:
        table["unit"] = ""
    missing = [c for c in COLUMNS if c not in table]
    if missing:
        raise ValueError(f"A per-seed results table needs the columns {', '.join(COLUMNS)}; missing {', '.join(missing)}.")
    table = table[[*COLUMNS, *(c for c in (CHANCE, PAPER) if c in table)]]
    table["seed"] = table["seed"].astype(int)
    table["unit"] = table["unit"].fillna("").astype(str)
    table["arm"] = table["arm"].astype(str)
    table["metric"] = table["metric"].astype(str)
    table["value"] = pd.to_numeric(table["value"].replace("", np.nan), errors="coerce").astype(float)
    if table.duplicated(["seed", "arm", "unit", "metric"]).any():
        raise ValueError("A per-seed results table has two values for one (seed, arm, unit, metric).")
    return table


class Paired:
    """A results table as per-seed value vectors: (arm, unit, metric) -> {seed: value}.

    The rules read only this, so that the calibration test can build it from simulated arrays
    a thousand times without going through pandas.
    """

    def __init__(self, values: Mapping[tuple[str, str, str], Mapping[int, float]],
                 chance: Mapping[tuple[str, str, str], float] | None = None,
                 paper: Mapping[tuple[str, str, str], float] | None = None) -> None:
        self.values = values
        self.chance = dict(chance or {})
        self.paper = dict(paper or {})

    @classmethod
    def from_table(cls, table: pd.DataFrame) -> Paired:
        table = seed_table(table)
        values: dict[tuple[str, str, str], dict[int, float]] = {}
        for seed, arm, unit, metric, value in table[list(COLUMNS)].itertuples(index=False):
            values.setdefault((arm, unit, metric), {})[seed] = value
        return cls(values, _per_arm(table, CHANCE), _per_arm(table, PAPER))

    def at_chance(self, arm: str, unit: str, metric: str, lower_is_better: bool) -> str | None:
        """Why ``arm`` on ``metric`` [``unit``] is no better than chance (its 95 % interval over seeds does not
        clear the chance level), or None (it does, or no chance level is given)."""
        level = self.chance.get((arm, unit, metric))
        if level is None:
            return None
        values = tuple((-1.0 if lower_is_better else 1.0) * v for v in self.values.get((arm, unit, metric), {}).values())
        spread = Comparison("", values, -level if lower_is_better else level)
        if spread.status is Status.SUPPORTED:
            return None
        mean = -spread.mean if lower_is_better else spread.mean
        where = f"{arm}, {words(metric)}" + (f" [{unit}]" if unit else "")
        side = "interval not below it" if lower_is_better else "interval not above it"
        return (f"{where} does not clear its chance level {amount(metric, level)} (mean {amount(metric, mean)} over "
                f"{spread.n} seeds, {side}): it learned nothing a comparison could use")

    def sanity(self, arms: Sequence[str], metrics: Sequence[str], lower_is_better: bool) -> str | None:
        """The first of ``arms`` that does not clear chance on one of ``metrics`` in some unit, in words."""
        for arm in arms:
            for metric in metrics:
                for unit in self.units(arm, metric):
                    if (why := self.at_chance(arm, unit, metric, lower_is_better)) is not None:
                        return why
        return None

    def units(self, arm: str, metric: str) -> list[str]:
        return sorted(u for a, u, m in self.values if a == arm and m == metric)

    def has(self, arm: str, metric: str) -> bool:
        return any(a == arm and m == metric for a, _, m in self.values)

    def comparison(self, better: str, worse: str, unit: str, metric: str, lower_is_better: bool, margin: float,
                   label: str) -> Comparison:
        """``better - worse`` on the seeds both have (NaN kept: it makes the comparison undecidable)."""
        b, w = self.values.get((better, unit, metric), {}), self.values.get((worse, unit, metric), {})
        sign = -1.0 if lower_is_better else 1.0
        seeds = sorted(b.keys() & w.keys())
        pb, pw = self.paper.get((better, unit, metric)), self.paper.get((worse, unit, metric))
        paper = sign * (pb - pw) if pb is not None and pw is not None else None
        return Comparison(label, tuple(sign * (b[s] - w[s]) for s in seeds), margin, unit, paper, better, worse, metric,
                          lower_is_better)


def _per_arm(table: pd.DataFrame, column: str) -> dict[tuple[str, str, str], float]:
    """An optional per-(arm, unit, metric) column of a claim table (:data:`CHANCE`, :data:`PAPER`): its finite
    values (the same on every seed's row)."""
    found: dict[tuple[str, str, str], float] = {}
    if column in table:
        levels = pd.to_numeric(table[column].replace("", np.nan), errors="coerce")
        for key, level in zip(table[["arm", "unit", "metric"]].itertuples(index=False), levels, strict=True):
            if math.isfinite(level):
                found[tuple(key)] = float(level)  # type: ignore[assignment]
    return found


def _as_tuple(x: str | Sequence[str]) -> tuple[str, ...]:
    return (x,) if isinstance(x, str) else tuple(x)


def _arms(x: tuple[str, ...]) -> str:
    return " and ".join(x) if len(x) < 3 else ", ".join(x[:-1]) + " and " + x[-1]


def _every(comparisons: Sequence[Comparison], min_seeds: int) -> Outcome:
    """A claim that needs every comparison: supported when each is, contradicted when Holm rejects one."""
    found = tuple(comparisons)
    few = [c for c in found if c.n < min_seeds]
    if few:
        return Outcome(Status.UNDECIDABLE, f"{few[0].n} paired seed(s) for {few[0].label}; the rule needs {min_seeds}.",
                       found)
    decidable = [c for c in found if c.status is not Status.UNDECIDABLE]
    if any(c.status is Status.CONTRADICTED for c in decidable) and holm_rejects([c.p_against for c in decidable]):
        return Outcome(Status.CONTRADICTED, "", found)
    if len(decidable) < len(found):
        return Outcome(Status.UNDECIDABLE, "", found)
    if all(c.status is Status.SUPPORTED for c in found):
        return Outcome(Status.SUPPORTED, "", found)
    return Outcome(Status.INCONCLUSIVE, "", found)


@dataclass(frozen=True)
class Dominates:
    """Every arm in ``better`` beats every arm in ``worse`` on every metric and unit, each by its interval.

    ``tolerance`` > 0 accepts a difference down to ``-tolerance`` (for "matches or beats").
    """

    better: str | tuple[str, ...]
    worse: str | tuple[str, ...]
    metrics: str | tuple[str, ...]
    lower_is_better: bool = False
    tolerance: float = 0.0
    min_seeds: int = 3

    @property
    def description(self) -> str:
        rel = "lower" if self.lower_is_better else "higher"
        cmp = f"{rel}" if not self.tolerance else f"{rel}, or worse by less than {self.tolerance:g}"
        return (
            f"{_arms(_as_tuple(self.better))} vs {_arms(_as_tuple(self.worse))}: "
            f"{'; '.join(words(m) for m in _as_tuple(self.metrics))} "
            f"{cmp}, by the 95 % paired interval, in every comparison and unit (Holm-corrected for "
            f"'contradicted'); at least {self.min_seeds} paired seeds."
        )

    def evaluate(self, table: pd.DataFrame) -> Outcome:
        return self.decide(Paired.from_table(table))

    def comparisons(self, paired: Paired) -> list[Comparison] | str:
        """Every comparison the claim needs, or why there are none."""
        out = []
        for b in _as_tuple(self.better):
            for w in _as_tuple(self.worse):
                for metric in _as_tuple(self.metrics):
                    if not (paired.has(b, metric) and paired.has(w, metric)):
                        return f"no results for arm {b!r} or {w!r} on {metric}."
                    for unit in paired.units(b, metric):
                        label = f"{b} vs {w}, {words(metric)}" + (f" [{unit}]" if unit else "")
                        out.append(paired.comparison(b, w, unit, metric, self.lower_is_better, -self.tolerance,
                                                     label))
        return out

    def at_chance(self, paired: Paired) -> str | None:
        """Why one of the claim's arms is no better than chance (the sanity gate), or None."""
        return paired.sanity([*_as_tuple(self.better), *_as_tuple(self.worse)], _as_tuple(self.metrics),
                             self.lower_is_better)

    def decide(self, paired: Paired) -> Outcome:
        comparisons = self.comparisons(paired)
        if isinstance(comparisons, str):
            return Outcome(Status.NOT_TESTABLE, comparisons)
        why = self.at_chance(paired)
        if why is not None:
            return Outcome(Status.UNDECIDABLE, why + ".", tuple(comparisons))
        return _every(comparisons, self.min_seeds)


@dataclass(frozen=True)
class MostUnits:
    """``better`` beats ``worse`` on more than ``fraction`` of the units, each unit by its interval."""

    better: str
    worse: str
    metric: str
    lower_is_better: bool = False
    fraction: float = 0.5
    min_seeds: int = 3
    #: what a unit is, in the reader's words ("target datasets")
    units: str = "units"

    @property
    def description(self) -> str:
        rel = "lower" if self.lower_is_better else "higher"
        return (
            f"{self.better} has {rel} {words(self.metric)} than {self.worse} by the 95 % paired interval on more than "
            f"{self.fraction:.0%} of the {self.units} (contradicted when the undecided ones could not lift it above "
            f"that share); at least {self.min_seeds} paired seeds per unit."
        )

    def evaluate(self, table: pd.DataFrame) -> Outcome:
        return self.decide(Paired.from_table(table))

    def decide(self, paired: Paired) -> Outcome:
        if not (paired.has(self.better, self.metric) and paired.has(self.worse, self.metric)):
            return Outcome(Status.NOT_TESTABLE, f"no results for arm {self.better!r} or {self.worse!r}.")
        found = tuple(paired.comparison(self.better, self.worse, u, self.metric, self.lower_is_better, 0.0, u or "-")
                      for u in paired.units(self.better, self.metric))
        why = paired.sanity([self.better, self.worse], [self.metric], self.lower_is_better)
        if why is not None:
            return Outcome(Status.UNDECIDABLE, why + ".", found)
        if any(c.n < self.min_seeds for c in found):
            return Outcome(Status.UNDECIDABLE, f"some unit has fewer than {self.min_seeds} paired seeds.", found)
        if all(c.status is Status.UNDECIDABLE for c in found):
            return Outcome(Status.UNDECIDABLE, "", found)
        n = len(found)
        supported = sum(c.status is Status.SUPPORTED for c in found)
        contradicted = sum(c.status is Status.CONTRADICTED for c in found)
        tally = (f"{supported} of {n} {self.units} supported, {contradicted} contradicted, "
                 f"{n - supported - contradicted} undecided.")
        if supported / n > self.fraction:
            return Outcome(Status.SUPPORTED, tally, found)
        if (n - contradicted) / n <= self.fraction:
            return Outcome(Status.CONTRADICTED, tally, found)
        return Outcome(Status.INCONCLUSIVE, tally, found)


_OPS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


@dataclass(frozen=True)
class Threshold:
    """``metric`` of ``arm`` is ``op value``: in every seed (supported), in none (contradicted), or in some."""

    arm: str
    metric: str
    op: str
    value: float
    min_seeds: int = 3

    @property
    def description(self) -> str:
        return (f"{words(self.metric)} of {self.arm} {self.op} {self.value:g} in every seed (in none: contradicted); "
                f"at least {self.min_seeds} seeds.")

    def evaluate(self, table: pd.DataFrame) -> Outcome:
        return self.decide(Paired.from_table(table))

    def decide(self, paired: Paired) -> Outcome:
        values = [v for (a, _, m), seeds in paired.values.items() if a == self.arm and m == self.metric
                  for v in seeds.values()]
        if not values:
            return Outcome(Status.NOT_TESTABLE, f"no results for arm {self.arm!r} on {self.metric}.")
        if len(values) < self.min_seeds:
            return Outcome(Status.UNDECIDABLE, f"{len(values)} seed(s) of {self.arm} {self.metric}; "
                           f"need {self.min_seeds}.")
        if any(not math.isfinite(v) for v in values):
            return Outcome(Status.UNDECIDABLE, f"{self.arm} {self.metric}: a value is missing or not a number.")
        holds = sum(_OPS[self.op](v, self.value) for v in values)
        status = (Status.SUPPORTED if holds == len(values) else Status.CONTRADICTED if holds == 0
                  else Status.INCONCLUSIVE)
        return Outcome(status, f"{words(self.metric)}: from {amount(self.metric, min(values))} to "
                               f"{amount(self.metric, max(values))} over "
                               f"{len(values)} seeds; {self.op} {self.value:g} in {holds} of {len(values)}")


@dataclass(frozen=True)
class AllOf:
    """Every part holds. Contradicted when a part is; otherwise as undecided as its least decided part."""

    parts: tuple[Rule, ...] = field(default=())

    @property
    def description(self) -> str:
        return " AND ".join(f"({p.description})" for p in self.parts)

    def evaluate(self, table: pd.DataFrame) -> Outcome:
        return self.decide(Paired.from_table(table))

    def decide(self, paired: Paired) -> Outcome:
        family = [p for p in self.parts if isinstance(p, Dominates)]
        if family and len(family) == len(self.parts):  # one family of comparisons: Holm over all of it
            found = [p.comparisons(paired) for p in family]
            missing = next((f for f in found if isinstance(f, str)), None)
            if missing is not None:
                return Outcome(Status.NOT_TESTABLE, missing)
            why = next((w for part in family if (w := part.at_chance(paired)) is not None), None)
            if why is not None:
                return Outcome(Status.UNDECIDABLE, why + ".")
            return _every([c for f in found if not isinstance(f, str) for c in f], max(p.min_seeds for p in family))
        outcomes = [p.decide(paired) for p in self.parts]
        evidence = " | ".join(o.evidence for o in outcomes)
        for status in (Status.CONTRADICTED, Status.NOT_TESTABLE, Status.UNDECIDABLE, Status.INCONCLUSIVE):
            if any(o.status is status for o in outcomes):
                return Outcome(status, evidence)
        return Outcome(Status.SUPPORTED, evidence)


@dataclass(frozen=True)
class NotTestable:
    """A claim this project cannot test, with the reason."""

    reason: str

    @property
    def description(self) -> str:
        return f"not testable here: {self.reason}"

    def evaluate(self, table: pd.DataFrame) -> Outcome:
        return self.decide(Paired({}))

    def decide(self, paired: Paired) -> Outcome:
        return Outcome(Status.NOT_TESTABLE, self.reason)
