"""Two runs side by side: are their tables, claim tables, quoted metrics and verdicts the same?

A refactoring that must not move a number is checked with this (``cpath-repro compare A B``):
every table and claim table both runs committed is compared byte for byte, so are the metrics
each page quotes (its manifest's ``metrics``, shown as ``<notebook>/metrics``), and each claim's
verdict in one run is set beside the other's. A table that differs only in model-store keys
(a change of how keys are made renames every model without moving a number) counts as
the same numbers; for any other difference the columns that differ are named, so that a
measurement of the machine (seconds, MiB) is told apart from a moved result.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from cpath_repro.errors import UserError
from cpath_repro.results.run import read_manifest

#: The folders of a result whose files carry its numbers.
NUMBERS = ("tables", "claims")
#: A cell that names model-store keys (:func:`cpath_repro.train.store.model_key`: 24 hex digits), space-separated.
_KEYS = re.compile(r"[0-9a-f]{24}( [0-9a-f]{24})*")


def _differing_columns(a: Path, b: Path) -> tuple[list[str], bool]:
    """``(columns whose values differ, whether every difference is between model-store keys)``."""
    ta, tb = (pd.read_csv(p, dtype=str, keep_default_na=False) for p in (a, b))
    if list(ta.columns) != list(tb.columns) or len(ta) != len(tb):
        return ["(the table's shape)"], False
    columns = [c for c in ta.columns if not ta[c].equals(tb[c])]
    keys_only = all(ta[c].str.fullmatch(_KEYS).all() and tb[c].str.fullmatch(_KEYS).all() for c in columns)
    return columns, keys_only


@dataclass
class Comparison:
    """What differs between two runs (empty lists: nothing)."""

    identical: list[str] = field(default_factory=list)  # "notebook/tables/x.csv"
    other_keys: list[str] = field(default_factory=list)  # the same numbers, other model-store keys
    different: dict[str, list[str]] = field(default_factory=dict)  # file -> the columns that differ
    only_in_one: list[str] = field(default_factory=list)
    verdicts: list[tuple[str, str, str]] = field(default_factory=list)  # (claim, verdict in a, verdict in b) that differ

    @property
    def same(self) -> bool:
        return not (self.different or self.only_in_one or self.verdicts)


def _number_files(run_dir: Path) -> tuple[dict[str, Path], dict[str, dict[str, object]]]:
    """A run's committed table files by name, and each result's quoted metrics by ``<notebook>/metrics``."""
    files, metrics = {}, {}
    for result in sorted(p for p in run_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if (manifest := read_manifest(result)) is None:
            continue
        for folder in NUMBERS:
            for path in sorted((result / folder).glob("*.csv")):
                files[f"{result.name}/{folder}/{path.name}"] = path
        if manifest.get("metrics"):
            metrics[f"{result.name}/metrics"] = dict(manifest["metrics"])
    return files, metrics


def compare(a: Path, b: Path) -> Comparison:
    """Compare the committed results of run directories ``a`` and ``b``."""
    from cpath_repro.claims import scorecard

    for run_dir in (a, b):
        if not Path(run_dir).is_dir():
            raise UserError(f"Run directory '{run_dir}' does not exist.")
    (files_a, metrics_a), (files_b, metrics_b) = _number_files(Path(a)), _number_files(Path(b))
    out = Comparison()
    for name in sorted(files_a.keys() | files_b.keys()):
        if name not in files_a or name not in files_b:
            out.only_in_one.append(name)
        elif files_a[name].read_bytes() == files_b[name].read_bytes():
            out.identical.append(name)
        else:
            columns, keys_only = _differing_columns(files_a[name], files_b[name])
            if keys_only:
                out.other_keys.append(name)
            else:
                out.different[name] = columns
    for name in sorted(metrics_a.keys() | metrics_b.keys()):
        if name not in metrics_a or name not in metrics_b:
            out.only_in_one.append(name)
        elif metrics_a[name] == metrics_b[name]:
            out.identical.append(name)
        else:
            ma, mb = metrics_a[name], metrics_b[name]
            out.different[name] = sorted(k for k in ma.keys() | mb.keys() if ma.get(k) != mb.get(k))
    verdicts_b = {v.claim.id: v.status.value for v in scorecard.verdicts(Path(b))}
    for v in scorecard.verdicts(Path(a)):
        if v.status.value != verdicts_b[v.claim.id]:
            out.verdicts.append((v.claim.id, v.status.value, verdicts_b[v.claim.id]))
    return out


def as_text(result: Comparison, a: Path, b: Path) -> str:
    lines = [f"{len(result.identical)} table(s) or metric sets identical, {len(result.other_keys)} the same apart "
             f"from model-store keys, {len(result.different)} different, {len(result.only_in_one)} in one run only; "
             f"{len(result.verdicts)} verdict(s) differ"]
    lines += [f"  other model keys only: {name}" for name in result.other_keys]
    lines += [f"  different: {name} (columns: {', '.join(columns)})" for name, columns in result.different.items()]
    lines += [f"  only in one run: {name}" for name in result.only_in_one]
    lines += [f"  verdict of {claim}: {va} in {a}, {vb} in {b}" for claim, va, vb in result.verdicts]
    return "\n".join(lines)
