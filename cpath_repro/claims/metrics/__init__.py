"""The metrics the claims are judged on, one module per paper: one declaration each, imported by the registry
and by the chapter that measures it, so that a rename cannot silently turn a verdict into "not testable".
A quantity a page shows but no claim judges is a :class:`Metric` too, declared beside the code that measures it
(e.g. the stain library's deconvolution errors), so that its table column is named in words like any other.

A :class:`Metric` is its key (the ``metric`` column of a claim table: a plain string everywhere a string is
expected) declared together with what a reader reads: its name in words, its unit and how many decimals it is
shown with. Tables, evidence, verdict cards and figures take them from here, so a metric is named once.

One module per paper, because a chapter's recipes import its names: renaming one paper's metric changes that
paper's model keys only.
"""

from __future__ import annotations

from typing import Any

#: Every declared metric by key: a claim table read back from CSV has plain strings, looked up here.
METRICS: dict[str, Metric] = {}


class Metric(str):
    """A claim metric: the key, its ``words`` ("test F1 of the tumour class"), its ``unit`` ("%", "px", "epochs",
    "" for a plain number) and the ``digits`` shown (significant digits in scientific notation when
    ``scientific``). A percentage's differences read in percentage points. (Which way is better is the rule's.)"""

    words: str
    unit: str
    digits: int
    scientific: bool

    def __new__(cls, key: str, words: str, unit: str = "", digits: int = 2, scientific: bool = False) -> Metric:
        metric = super().__new__(cls, key)
        metric.words, metric.unit, metric.digits, metric.scientific = words, unit, digits, scientific
        METRICS.setdefault(key, metric)
        return metric

    def __getnewargs__(self) -> tuple[Any, ...]:  # pickled (e.g. to a Dask worker) with its words
        return str(self), self.words, self.unit, self.digits, self.scientific

    def number(self, value: float, sign: bool = False) -> str:
        """``value`` in this metric's one format (``+0.021``, ``−1.2``, ``7.4e−08``), without its unit."""
        spec = ("+" if sign else "") + (f".{self.digits - 1}e" if self.scientific else f",.{self.digits}f")
        return format(value, spec).replace("-", "−")

    def amount(self, value: float) -> str:
        """A value with its unit, e.g. ``54.5 %``, ``29.0 px``, ``0.79``, ``7.4e−08``."""
        return self.number(value) + _unit(self.unit)

    def gap(self, difference: float) -> str:
        """A difference's size in words, e.g. ``1.2 percentage points``, ``0.021 F1``, ``3.5 px``."""
        return self.number(abs(difference)) + _unit("percentage points" if self.unit == "%" else self.unit)


def _unit(unit: str) -> str:
    return "" if not unit else unit if unit in ("°", "×") else f" {unit}"


def words(key: str) -> str:
    """A metric key in words (the key itself when it is not a declared metric: a check beyond the paper)."""
    metric = METRICS.get(key)
    return metric.words if metric is not None else key.replace("_", " ")


def amount(key: str, value: float) -> str:
    """A value of metric ``key`` with its unit (four significant digits when the metric is not declared)."""
    metric = METRICS.get(key)
    return metric.amount(value) if metric is not None else f"{value:.4g}"
