"""Decision rules: pure functions from a per-seed results table to a verdict.

A rule is fixed in code before any run and printed beside its verdict. Results come as a
long table with one row per (seed, arm, unit, metric): ``arm`` is what a comparison varies
(a model, a setting, a class), ``unit`` what it is repeated over (a target dataset, a
class; empty when there is one). Seeds are paired: seed s made the data every arm of seed
s was trained and measured on.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

import pandas as pd

COLUMNS = ("seed", "arm", "unit", "metric", "value")


class Status(StrEnum):
    SUPPORTED = "supported"
    NOT_SUPPORTED = "not supported"
    NOT_TESTABLE = "not testable here"
    NOT_YET = "not yet reproduced"


@dataclass(frozen=True)
class Outcome:
    """What a rule concluded, and the numbers it concluded it from."""

    status: Status
    evidence: str


class Rule(Protocol):
    @property
    def description(self) -> str: ...

    def evaluate(self, table: pd.DataFrame) -> Outcome: ...


def seed_table(rows: Sequence[dict[str, object]] | pd.DataFrame) -> pd.DataFrame:
    """Validate and normalise a per-seed results table (adds an empty ``unit`` if absent)."""
    table = pd.DataFrame(rows).copy()
    if "unit" not in table:
        table["unit"] = ""
    missing = [c for c in COLUMNS if c not in table]
    if missing:
        raise ValueError(f"A per-seed results table needs the columns {', '.join(COLUMNS)}; missing {', '.join(missing)}.")
    table = table[list(COLUMNS)]
    table["seed"] = table["seed"].astype(int)
    table["unit"] = table["unit"].fillna("").astype(str)
    table["arm"] = table["arm"].astype(str)
    table["metric"] = table["metric"].astype(str)
    table["value"] = table["value"].astype(float)
    if table.duplicated(["seed", "arm", "unit", "metric"]).any():
        raise ValueError("A per-seed results table has two values for one (seed, arm, unit, metric).")
    return table


def _paired_differences(
    table: pd.DataFrame, metric: str, better: str, worse: str, lower_is_better: bool
) -> pd.Series | None:
    """``better - worse`` per (unit, seed), signed so that positive favours ``better``; None if an arm is missing."""
    wide = table[table.metric == metric].pivot_table(index=["unit", "seed"], columns="arm", values="value")
    if better not in wide or worse not in wide:
        return None
    sign = -1.0 if lower_is_better else 1.0
    return (sign * (wide[better] - wide[worse])).dropna()


def _as_tuple(x: str | Sequence[str]) -> tuple[str, ...]:
    return (x,) if isinstance(x, str) else tuple(x)


def _arms(x: tuple[str, ...]) -> str:
    return " and ".join(x) if len(x) < 3 else ", ".join(x[:-1]) + " and " + x[-1]


@dataclass(frozen=True)
class Dominates:
    """Every arm in ``better`` beats every arm in ``worse`` on every metric and unit.

    ``every_seed=True``: the paired difference must hold in each seed (a sign criterion);
    ``False``: on the mean over paired seeds. ``strict=False`` accepts a difference down to
    ``-tolerance`` (for "matches or beats").
    """

    better: str | tuple[str, ...]
    worse: str | tuple[str, ...]
    metrics: str | tuple[str, ...]
    lower_is_better: bool = False
    every_seed: bool = True
    strict: bool = True
    tolerance: float = 0.0
    min_seeds: int = 3

    @property
    def description(self) -> str:
        rel = "lower" if self.lower_is_better else "higher"
        how = "in every paired seed" if self.every_seed else "on the mean over paired seeds"
        cmp = f"{rel} (strictly)" if self.strict else f"{rel} or within {self.tolerance:g}"
        return (
            f"{_arms(_as_tuple(self.better))} vs {_arms(_as_tuple(self.worse))}: {', '.join(_as_tuple(self.metrics))} "
            f"{cmp} {how}, for every unit; at least {self.min_seeds} paired seeds."
        )

    def evaluate(self, table: pd.DataFrame) -> Outcome:
        table = seed_table(table)
        checks: list[tuple[str, float, int, int]] = []  # label, mean diff, holds, seeds
        for b in _as_tuple(self.better):
            for w in _as_tuple(self.worse):
                for metric in _as_tuple(self.metrics):
                    diff = _paired_differences(table, metric, b, w, self.lower_is_better)
                    if diff is None:
                        return Outcome(Status.NOT_TESTABLE, f"no results for arm {b!r} or {w!r} on {metric}.")
                    for unit, d in diff.groupby(level="unit"):
                        n = len(d)
                        if n < self.min_seeds:
                            return Outcome(
                                Status.NOT_TESTABLE,
                                f"only {n} paired seed(s) for {b} vs {w} on {metric}; the rule needs {self.min_seeds}.",
                            )
                        values = d.to_numpy() if self.every_seed else [float(d.mean())]
                        ok = sum(self._holds(v) for v in values)
                        label = f"{b} vs {w}, {metric}" + (f" [{unit}]" if unit else "")
                        checks.append((label, float(d.mean()), ok, len(values)))
        failed = [c for c in checks if c[2] < c[3]]
        evidence = "; ".join(
            f"{label}: mean advantage {diff:+.4g}, holds in {ok}/{n}" + (" seeds" if self.every_seed else " (mean)")
            for label, diff, ok, n in checks
        )
        return Outcome(Status.NOT_SUPPORTED if failed else Status.SUPPORTED, evidence)

    def _holds(self, d: float) -> bool:
        return d > 0 if self.strict else d >= -self.tolerance


@dataclass(frozen=True)
class MostUnits:
    """``better`` beats ``worse`` (seed means) on more than ``fraction`` of the units."""

    better: str
    worse: str
    metric: str
    lower_is_better: bool = False
    fraction: float = 0.5
    min_seeds: int = 3

    @property
    def description(self) -> str:
        rel = "lower" if self.lower_is_better else "higher"
        return (
            f"{self.better} has {rel} {self.metric} than {self.worse} (mean over paired seeds) on more than "
            f"{self.fraction:.0%} of the units; at least {self.min_seeds} paired seeds per unit."
        )

    def evaluate(self, table: pd.DataFrame) -> Outcome:
        diff = _paired_differences(seed_table(table), self.metric, self.better, self.worse, self.lower_is_better)
        if diff is None:
            return Outcome(Status.NOT_TESTABLE, f"no results for arm {self.better!r} or {self.worse!r}.")
        per_unit = diff.groupby(level="unit").agg(["mean", "count"])
        if per_unit.empty or (per_unit["count"] < self.min_seeds).any():
            return Outcome(Status.NOT_TESTABLE, f"some unit has fewer than {self.min_seeds} paired seeds.")
        wins = int((per_unit["mean"] > 0).sum())
        share = wins / len(per_unit)
        detail = ", ".join(f"{u}: {m:+.3g}" for u, m in per_unit["mean"].items())
        status = Status.SUPPORTED if share > self.fraction else Status.NOT_SUPPORTED
        return Outcome(status, f"{wins}/{len(per_unit)} units ({share:.0%}); mean advantage per unit: {detail}")


_OPS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


@dataclass(frozen=True)
class Threshold:
    """``metric`` of ``arm`` is ``op value`` in every seed."""

    arm: str
    metric: str
    op: str
    value: float
    min_seeds: int = 3

    @property
    def description(self) -> str:
        return f"{self.metric} of {self.arm} {self.op} {self.value:g} in every seed; at least {self.min_seeds} seeds."

    def evaluate(self, table: pd.DataFrame) -> Outcome:
        table = seed_table(table)
        sub = table[(table.arm == self.arm) & (table.metric == self.metric)]
        if sub.seed.nunique() < self.min_seeds:
            return Outcome(
                Status.NOT_TESTABLE, f"{sub.seed.nunique()} seed(s) of {self.arm} {self.metric}; need {self.min_seeds}."
            )
        ok = sub.value.map(lambda v: _OPS[self.op](v, self.value))
        status = Status.SUPPORTED if bool(ok.all()) else Status.NOT_SUPPORTED
        return Outcome(
            status,
            f"{self.metric} = {sub.value.mean():.4g} ± {sub.value.std(ddof=0):.2g} over {len(sub)} seeds; "
            f"{int(ok.sum())}/{len(sub)} {self.op} {self.value:g}",
        )


@dataclass(frozen=True)
class AllOf:
    """Every part holds; not testable if any part is not testable."""

    parts: tuple[Rule, ...] = field(default=())

    @property
    def description(self) -> str:
        return " AND ".join(f"({p.description})" for p in self.parts)

    def evaluate(self, table: pd.DataFrame) -> Outcome:
        outcomes = [p.evaluate(table) for p in self.parts]
        evidence = " | ".join(o.evidence for o in outcomes)
        for status in (Status.NOT_TESTABLE, Status.NOT_SUPPORTED):
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
        return Outcome(Status.NOT_TESTABLE, self.reason)
