"""Two runs side by side: are their tables, claim tables and verdicts the same?

A refactoring that must not move a number is checked with this (``cpath-repro compare A B``):
every table and claim table both runs committed is compared byte for byte, and each claim's
verdict in one run is set beside the other's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from cpath_repro.errors import UserError
from cpath_repro.results.run import read_manifest

#: The folders of a result whose files carry its numbers.
NUMBERS = ("tables", "claims")


@dataclass
class Comparison:
    """What differs between two runs (empty lists: nothing)."""

    identical: list[str] = field(default_factory=list)  # "notebook/tables/x.csv"
    different: list[str] = field(default_factory=list)
    only_in_one: list[str] = field(default_factory=list)
    verdicts: list[tuple[str, str, str]] = field(default_factory=list)  # (claim, verdict in a, verdict in b) that differ

    @property
    def same(self) -> bool:
        return not (self.different or self.only_in_one or self.verdicts)


def _number_files(run_dir: Path) -> dict[str, Path]:
    files = {}
    for result in sorted(p for p in run_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if read_manifest(result) is None:
            continue
        for folder in NUMBERS:
            for path in sorted((result / folder).glob("*.csv")):
                files[f"{result.name}/{folder}/{path.name}"] = path
    return files


def compare(a: Path, b: Path) -> Comparison:
    """Compare the committed results of run directories ``a`` and ``b``."""
    from cpath_repro.claims import scorecard

    for run_dir in (a, b):
        if not Path(run_dir).is_dir():
            raise UserError(f"Run directory '{run_dir}' does not exist.")
    files_a, files_b = _number_files(Path(a)), _number_files(Path(b))
    out = Comparison()
    for name in sorted(files_a.keys() | files_b.keys()):
        if name not in files_a or name not in files_b:
            out.only_in_one.append(name)
        elif files_a[name].read_bytes() == files_b[name].read_bytes():
            out.identical.append(name)
        else:
            out.different.append(name)
    verdicts_b = {v.claim.id: v.status.value for v in scorecard.verdicts(Path(b))}
    for v in scorecard.verdicts(Path(a)):
        if v.status.value != verdicts_b[v.claim.id]:
            out.verdicts.append((v.claim.id, v.status.value, verdicts_b[v.claim.id]))
    return out


def as_text(result: Comparison, a: Path, b: Path) -> str:
    lines = [f"{len(result.identical)} table(s) identical, {len(result.different)} different, "
             f"{len(result.only_in_one)} in one run only; {len(result.verdicts)} verdict(s) differ"]
    lines += [f"  different: {name}" for name in result.different]
    lines += [f"  only in one run: {name}" for name in result.only_in_one]
    lines += [f"  verdict of {claim}: {va} in {a}, {vb} in {b}" for claim, va, vb in result.verdicts]
    return "\n".join(lines)
