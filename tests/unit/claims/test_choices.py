"""The record of choices made after seeing results: every entry complete, and all of it on the page."""

import pytest

from cpath_repro.claims import choices
from cpath_repro.claims.registry import CLAIMS


def test_every_entry_names_real_claims_and_the_page_shows_every_field():
    page = choices.as_markdown()
    for c in choices.CHOICES:
        named = {*(c.moved or {}), *(c.before or {}), *(c.after or {})}
        assert {k for k in named if not k.startswith(("probe: ", "target: "))} <= set(CLAIMS), c.setting
        for text in (c.date, c.setting, c.old, c.new, c.why, c.measured_on):
            assert text in page


def test_a_change_without_a_reason_or_a_real_date_is_refused():
    with pytest.raises(ValueError, match="a reason"):
        choices.Choice("2026-12-02", "seeds", "a", "b", " ", "ci")
    with pytest.raises(ValueError):
        choices.Choice("2 December", "seeds", "a", "b", "why", "ci")
    moved = {"A-C1": ("supported", "not supported")}
    entry = choices.Choice("2026-12-02", "x", "a", "b", "why", "default, 3 seeds", moved, 3)
    assert "A-C1 supported → not supported (3 unchanged)" in choices.as_markdown((entry,))
    pending = choices.Choice("2026-12-02", "x", "a", "b", "why", "ci, 1 seed")
    assert "not measured yet" in choices.as_markdown((pending,))
    half = choices.Choice("2026-12-03", "x", "a", "b", "why", "default, 3 seeds", before={"B-C4": "supported"})
    assert "under the old setting:** B-C4 supported; under the new one: not measured yet" in choices.as_markdown((half,))
    done = choices.Choice("2026-12-03", "x", "a", "b", "why", "default, 5 seeds", before={"B-C4": "supported"},
                          after={"B-C4": "inconclusive at this budget"})
    assert "B-C4 supported; under the new one: B-C4 inconclusive at this budget" in choices.as_markdown((done,))


def test_a_chapter_page_shows_its_own_entries_and_those_of_every_chapter():
    own = choices.Choice("2026-12-02", "paper B's epochs", "3", "5", "why", "default", papers=("B",))
    shared = choices.Choice("2026-12-02", "every rule", "a", "b", "why", "default")
    assert "paper B's epochs" in choices.as_markdown((own, shared), paper="B")
    page_c = choices.as_markdown((own, shared), paper="C")
    assert "paper B's epochs" not in page_c and "every rule" in page_c
