"""The record of every default or rule changed after a result was seen: one entry per change.

A verdict is only worth reading if its rule and its settings were fixed before the numbers came
in. When one of them changes after a run has been seen (a bug fixed, a seed derivation unified, a
budget equalised), the change is written here - its date, the setting, old → new, why, and the
verdicts before and after, with the run they come from - and the book prints the whole record on
its "How to read" page. An entry is never edited to make the record look better; a later change
gets its own entry.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Choice:
    """One change made after a result was seen."""

    date: str  # ISO date, e.g. 2026-12-02
    setting: str
    old: str
    new: str
    why: str
    #: which run the verdicts below come from (profile, seeds)
    measured_on: str
    #: claim id -> verdict before and after the change, for the claims whose verdict moved
    moved: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    #: how many claims kept their verdict
    unchanged: int = 0

    def __post_init__(self) -> None:
        datetime.date.fromisoformat(self.date)  # a malformed date fails at import, not on the page
        if self.old == self.new or not self.why.strip():
            raise ValueError(f"The choice on {self.setting!r} needs an old and a different new value, and a reason.")


CHOICES: tuple[Choice, ...] = ()


def as_markdown(choices: tuple[Choice, ...] = CHOICES) -> str:
    """The record as the book's "How to read" page shows it: one section per change, newest last."""
    if not choices:
        return "No default or rule has been changed after a result was seen.\n"
    lines: list[str] = []
    for c in choices:
        lines += [f"#### {c.date}: {c.setting}", "", f"- **Before:** {c.old}", f"- **After:** {c.new}",
                  f"- **Why:** {c.why}", f"- **Measured on:** {c.measured_on}"]
        if c.moved:
            moves = "; ".join(f"{claim} {before} → {after}" for claim, (before, after) in c.moved.items())
            lines.append(f"- **Verdicts that moved:** {moves} ({c.unchanged} unchanged)")
        else:
            lines.append(f"- **Verdicts that moved:** none ({c.unchanged} unchanged)")
        lines.append("")
    return "\n".join(lines)
