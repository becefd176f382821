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
from dataclasses import dataclass


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
    #: claim id -> verdict before and after the change, for the claims whose verdict moved; None while no run
    #: that can decide the verdicts has been made on both sides (the page says so)
    moved: Mapping[str, tuple[str, str]] | None = None
    #: how many claims kept their verdict
    unchanged: int = 0

    def __post_init__(self) -> None:
        datetime.date.fromisoformat(self.date)  # a malformed date fails at import, not on the page
        if self.old == self.new or not self.why.strip():
            raise ValueError(f"The choice on {self.setting!r} needs an old and a different new value, and a reason.")


CHOICES: tuple[Choice, ...] = (
    Choice(
        date="2026-12-02",
        setting="how random state is derived from a trial's seed",
        old="three ways: hand offsets (the engine's batch order from seed * 100_003 + epoch, paper D's memory "
            "patches from seed * 1_000_003 + index, the GAN's batches from seed * 1000 + epoch, paper E's data "
            "from seed * 100_000 + k and its test crops from seed + 10_000), SeedSequence tuples with numbered "
            "salts ([seed, 7], [seed, split number, 100, k], [seed, dataset number, index, stream]) and a named "
            "offset (the probe's slides, stream 7001)",
        new="one way: named streams of numpy's SeedSequence (cpath_repro.seeds: rng(seed, \"test split\"), "
            "derive(seed, \"batch order\", epoch)); a trial's seed itself still sets its initial weights",
        why="Hand offsets collide (under seed * 100_003 + stream, seed 1's stream 0 is seed 0's stream 100,003) "
            "and shift every later draw when one is added; named streams do neither. Asked for by the platform "
            "redesign (issue 20) as its own commit; the names were chosen for what each stream draws, and no "
            "verdict was looked at to choose them.",
        measured_on="the ci profile (1 seed) before and after (cpath-repro compare): 26 tables or metric sets "
                    "identical, 110 moved; every claim is not testable at 1 seed on both sides, so ci cannot "
                    "show a verdict move. The default runs before and after are still to be made.",
    ),
)


def as_markdown(choices: tuple[Choice, ...] = CHOICES) -> str:
    """The record as the book's "How to read" page shows it: one section per change, newest last."""
    if not choices:
        return "No default or rule has been changed after a result was seen.\n"
    lines: list[str] = []
    for c in choices:
        lines += [f"#### {c.date}: {c.setting}", "", f"- **Before:** {c.old}", f"- **After:** {c.new}",
                  f"- **Why:** {c.why}", f"- **Measured on:** {c.measured_on}"]
        if c.moved is None:
            lines.append("- **Verdicts that moved:** not measured yet (no run that can decide them on both sides)")
        elif c.moved:
            moves = "; ".join(f"{claim} {before} → {after}" for claim, (before, after) in c.moved.items())
            lines.append(f"- **Verdicts that moved:** {moves} ({c.unchanged} unchanged)")
        else:
            lines.append(f"- **Verdicts that moved:** none ({c.unchanged} unchanged)")
        lines.append("")
    return "\n".join(lines)
