"""Paper A's chapter page states every deviation the code makes, with the code's own values."""

from __future__ import annotations

from cpath_repro.data.transforms import NOISE_AMPLITUDE
from cpath_repro.project import PROJECT_ROOT

PAGE = (PROJECT_ROOT / "book" / "paper-a.md").read_text()


def test_the_deviations_list_names_each_departure():
    section = PAGE.split("**Where the code departs from the paper.**")[1].split("**Distributed training.**")[0]
    for words in ("BGR", "non-overlapping", "intensity channel", "probabilities of each tissue region's class",
                  "PreciseBN", "Layer order", f"±{NOISE_AMPLITUDE:g}"):
        assert words in section, words


def test_the_step_count_is_the_papers_own_arithmetic():
    assert "190,000" not in PAGE
    tiles, per_step, epochs = 16_834, 15 * 16, 200  # paper A, sections 2 and 3 (its tiles include the test slides)
    assert f"{round(tiles / per_step * epochs, -3):,.0f}" in PAGE  # "at most about 14,000"
