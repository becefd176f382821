"""Tables as a reader sees them: fixed decimals per column, named columns, numbers right-aligned.

A notebook saves its tables raw (the CSV keeps every digit) and shows them through
:func:`readable`, so that every page formats numbers the same way. Two naming conventions make
the shown table compact: a pair of columns ``X_mean`` and ``X_sd`` (what ``mean_sd`` and
:func:`paper_vs_ours` make) reads as one column ``X``, "mean ± sd" (but a paper's mean and sd keep a column
each, as the paper printed them); a column named
``"group: column"`` goes under a two-level header (``"unet: paper"`` and ``"unet: ours"`` side
by side under ``unet``).
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from cpath_repro.errors import ParameterError

if TYPE_CHECKING:
    from pandas.io.formats.style import Styler

MEAN, SD = "_mean", "_sd"
#: Separates a column's group from its name: ``"unet: paper"``.
GROUP = ": "
PAPER, OURS = "paper", "ours"
#: Decimals of a float column no one named (``decimals`` may name columns, or give one number for all).
DEFAULT_DECIMALS = 3
#: The one style of every shown table (the same in Jupyter and in the book).
STYLES: list[dict[str, Any]] = [
    {"selector": "", "props": "border-collapse: collapse; margin: 0.5em 0 1em; font-size: 0.9em;"},
    {"selector": "th, td", "props": "padding: 0.25em 0.5em; border: none;"},
    {"selector": "thead tr:last-child th", "props": "border-bottom: 1px solid #888;"},
    {"selector": "thead th", "props": "font-weight: 600; white-space: normal; vertical-align: bottom;"},
    {"selector": "tbody tr:nth-child(even)", "props": "background: rgba(127, 127, 127, 0.08);"},
    {"selector": "caption", "props": "caption-side: top; text-align: left; font-size: 0.95em; padding: 0 0 0.4em;"},
]
#: More columns than this and the table is set smaller, so that it fits the page's text column.
WIDE = 7
COMPACT = [{"selector": "", "props": "font-size: 0.8em;"}]
#: A group's header (``unet`` over ``paper | ours``): centred, underlined.
GROUP_HEADER = [{"selector": "th[colspan]", "props": "text-align: center; border-bottom: 1px solid #bbb;"}]
NUMERIC = "text-align: right; font-variant-numeric: tabular-nums;"
TEXT = "text-align: left;"


def readable(table: pd.DataFrame, decimals: int | Mapping[str, int | str] = DEFAULT_DECIMALS,
             names: Mapping[str, str] | None = None, caption: str | None = None, index: bool = False,
             terms: Mapping[str, str] | None = None) -> Styler:
    """``table`` formatted for reading (the saved table is unchanged).

    ``decimals``: one number for every float column, or per column (its name in ``table``, or the
    ``X`` of an ``X_mean``/``X_sd`` pair), where a string is a format spec (``".2e"``); unnamed float
    columns get :data:`DEFAULT_DECIMALS`. ``names`` renames shown columns; other names lose their
    underscores. ``index``: show the index (a pivot table's rows) as the first columns. ``terms``: words for
    keys that may appear as a cell or a column's name (the claims' metrics: :func:`cpath_repro.notebook.readable`
    gives them). The caption defaults to ``table.attrs["caption"]`` (set by the function that made the table).
    """
    terms = dict(terms or {})
    if index:  # an unnamed index shows as an unnamed column, not as pandas' "index"
        table = table.rename_axis(index=[n if n is not None else "" for n in table.index.names])
    frame = table.reset_index() if index else table.reset_index(drop=True)
    if isinstance(frame.columns, pd.MultiIndex):  # a pivot table: its upper levels become the group
        frame.columns = [_flat(c) for c in frame.columns]
    shown: dict[str, pd.Series] = {}
    numeric: set[str] = set()
    for column in frame.columns:
        column = str(column)
        if column.endswith(SD) and column.removesuffix(SD) + MEAN in frame.columns and not is_paper_column(column):
            continue  # shown with its mean (a paper's sd keeps its own column: the paper printed two numbers)
        base = column.removesuffix(MEAN)
        spec = _spec(decimals, column, base)
        if column.endswith(MEAN) and base + SD in frame.columns and not is_paper_column(column):
            values = [_pm(m, s, spec) for m, s in zip(frame[column], frame[base + SD], strict=True)]
            shown[base] = pd.Series(values, dtype=object)
            numeric.add(base)
            continue
        shown[column] = frame[column].map(lambda v, spec=spec: terms.get(v, _cell(v, spec)) if isinstance(v, str)
                                          else _cell(v, spec)).astype(object)
        if all(_is_number(v) for v in frame[column] if not _missing(v)):
            numeric.add(column)
    names = dict(names or {})
    label = {c: names.get(c) or _name(c, terms) for c in shown}
    out = pd.DataFrame({label[c]: v for c, v in shown.items()})
    numeric_labels = [label[c] for c in shown if c in numeric]
    if any(GROUP in c for c in out.columns):
        out.columns = pd.MultiIndex.from_tuples([_split(c) for c in out.columns])
        numeric_labels = [_split(c) for c in numeric_labels]  # type: ignore[misc]
    styler = out.style.hide(axis="index").set_table_styles(STYLES)
    text = [c for c in out.columns if c not in numeric_labels]
    styler = styler.set_properties(subset=numeric_labels, **_css(NUMERIC)).set_properties(subset=text, **_css(TEXT))
    styler = styler.set_table_styles({c: [{"selector": "th", "props": NUMERIC if c in numeric_labels else TEXT}]
                                      for c in out.columns}, overwrite=False)
    styler = styler.set_table_styles(GROUP_HEADER, overwrite=False)  # after the columns' own: a group is centred
    if len(out.columns) > WIDE:
        styler = styler.set_table_styles(COMPACT, overwrite=False)
    caption = caption if caption is not None else table.attrs.get("caption")
    return styler.set_caption(caption) if caption else styler


def paper_vs_ours(ours: pd.DataFrame, paper: Mapping[str, Mapping[str, float]], by: str, arm: str = "arm",
                  value: str = "value") -> pd.DataFrame:
    """One row per value of ``by``; per arm, the paper's value beside our mean and sd over seeds.

    ``ours`` is long (one row per seed, arm and ``by``); ``paper[arm][key]`` is the paper's number. The
    columns ``"ARM: paper"``, ``"ARM: ours_mean"``, ``"ARM: ours_sd"`` show as "paper | ours" under ARM.
    """
    stats = ours.groupby([arm, by])[value].agg(["mean", "std"])
    keys = list(dict.fromkeys(k for values in paper.values() for k in values))
    rows = []
    for key in keys:
        row: dict[str, Any] = {by: key}
        for name, values in paper.items():
            mean, sd = stats.loc[(name, key)] if (name, key) in stats.index else (np.nan, np.nan)
            row[f"{name}{GROUP}{PAPER}"] = values.get(key, np.nan)
            row[f"{name}{GROUP}{OURS}{MEAN}"] = mean
            row[f"{name}{GROUP}{OURS}{SD}"] = 0.0 if pd.isna(sd) and not pd.isna(mean) else sd
        rows.append(row)
    return pd.DataFrame(rows)


def claim_rows(long: pd.DataFrame, arms: Iterable[str], metrics: Iterable[str]) -> pd.DataFrame:
    """The rows of ``arms`` on ``metrics`` of a long table (seed, arm, metric, value): what a claim's rule reads.
    An arm the run did not train is one sentence, not an empty table that a rule would call "not testable"."""
    wanted, which = list(arms), list(metrics)
    table = long[long.arm.isin(wanted) & long.metric.isin(which)].reset_index(drop=True)
    missing = sorted(set(wanted) - set(table.arm))
    if missing:
        raise ParameterError(f"The claim needs arms {', '.join(missing)}, which this run did not train.")
    return table


def arms(table: pd.DataFrame) -> list[str]:
    """The arms of a :func:`paper_vs_ours` table, in its column order."""
    return [c.removesuffix(f"{GROUP}{PAPER}") for c in table.columns if str(c).endswith(f"{GROUP}{PAPER}")]


#: The format of a paper's own value: as the paper printed it (every digit it gave), whatever the page's decimals.
PRINTED = "printed"


def is_paper_column(column: str) -> bool:
    """A column of the paper's own values: ``paper``, ``X: paper``, ``paper_mean``, ``paper memory (MiB)``."""
    name = column.rpartition(GROUP)[2]
    return name == PAPER or name.startswith((f"{PAPER}_", f"{PAPER} "))


def _spec(decimals: int | Mapping[str, int | str], column: str, base: str) -> str:
    if is_paper_column(column):
        return PRINTED
    if not isinstance(decimals, Mapping):
        return f".{decimals}f"
    chosen = decimals.get(column, decimals.get(base, DEFAULT_DECIMALS))
    return chosen if isinstance(chosen, str) else f".{chosen}f"


def _missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and np.isnan(v))


def _is_number(v: Any) -> bool:
    return isinstance(v, numbers.Number | np.bool_)


def _cell(v: Any, spec: str) -> str:
    """One value as shown: floats to ``spec``, integers whole, booleans yes/no, missing as a dash."""
    if _missing(v):
        return "–"
    if isinstance(v, bool | np.bool_):
        return "yes" if v else "no"
    if isinstance(v, numbers.Integral):
        return f"{int(v):,}"
    if isinstance(v, numbers.Real):
        return _number(float(v), spec)
    return str(v)


def _number(v: float, spec: str) -> str:
    """``v`` to ``spec``; a paper's value (:data:`PRINTED`) with the digits it was written with (a float keeps
    them: 0.9723 stays 0.9723, 90.44 stays 90.44; a trailing zero the paper printed is not kept)."""
    if spec == PRINTED:
        return np.format_float_positional(v, trim="-")
    return f"{v:{spec}}"


def printed(mean: float, sd: float | None = None) -> str:
    """A paper's value (and its sd) in text, with the digits the paper printed: "90.44 (0.4)", a mean and its sd
    as a paper prints them (not our "±", which marks our own numbers)."""
    return _number(float(mean), PRINTED) + ("" if sd is None else f" ({_number(float(sd), PRINTED)})")


def _pm(mean: Any, sd: Any, spec: str) -> str:
    if _missing(mean):
        return "–"
    # "± sd" never splits, but may go under its mean when the column is narrow: a wide table fits the page
    return f"{_number(float(mean), spec)} ±\u00a0{_number(0.0 if _missing(sd) else float(sd), spec)}"


def _default_name(column: str) -> str:
    return column.replace("_", " ")


def _name(column: str, terms: Mapping[str, str]) -> str:
    """A column's shown name: its words from ``terms``, else without underscores; the group of a ``"group: name"``
    column (a pivot's upper levels, joined by ", ") is named the same way, part by part."""
    if column in terms:
        return terms[column]
    group, _, name = column.rpartition(GROUP)
    if not group:
        return _default_name(column)
    groups = ", ".join(terms.get(g) or _default_name(g) for g in group.split(", "))
    return f"{groups}{GROUP}{terms.get(name) or _default_name(name)}"


def _flat(column: Sequence[Any]) -> str:
    parts = [str(p) for p in column if str(p) != ""]
    return GROUP.join([", ".join(parts[:-1]), parts[-1]]) if len(parts) > 1 else "".join(parts)


def _split(column: str) -> tuple[str, str]:
    group, _, name = column.rpartition(GROUP)
    return group, name


def _css(props: str) -> dict[str, str]:
    return dict(p.strip().split(": ", 1) for p in props.split(";") if p.strip())
