"""Forest plots of verdicts: each comparison's mean paired difference and 95 % interval against the claim's margin.

A claim's comparisons share one axis (one metric's scale); claims do not (a validation loss, an accuracy in
points and an F1 are not one scale), so a paper's figure is one small panel per claim, stacked. A point is
coloured by its comparison's own decision, the panel's title by the claim's verdict; an open diamond marks the
paper's own effect where the paper gives both arms' values.
"""

from __future__ import annotations

import io
import textwrap
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from cpath_repro.claims.rules import Comparison, Status
from cpath_repro.viz import COLUMN_INCHES

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: One colour per verdict, shared by the front page's grid, the verdict boxes and the forest plots.
COLOURS = {
    Status.SUPPORTED: "#2e7d32",
    Status.CONTRADICTED: "#c62828",
    Status.INCONCLUSIVE: "#a66300",
    Status.UNDECIDABLE: "#8d6e63",
    Status.NOT_TESTABLE: "#6d4c41",
    Status.NOT_YET: "#757575",
}
ROW_INCHES, HEADER_INCHES = 0.28, 0.55


def _panel(ax: Any, title: str, status: Status, comparisons: Sequence[Comparison], note: str) -> None:
    ax.set_title(title, loc="left", fontsize=9, color=COLOURS[status])
    shown = [c for c in comparisons if c.status is not Status.UNDECIDABLE]
    if not shown:
        ax.text(0.0, 0.5, textwrap.fill(note, 110), transform=ax.transAxes, fontsize=7, va="center", color="#555555")
        ax.set_axis_off()
        return
    papers = [(y, c.paper_effect) for y, c in enumerate(shown) if c.paper_effect is not None]
    for y, c in enumerate(shown):
        low, high = c.interval
        ax.plot([low, high], [y, y], color=COLOURS[c.status], lw=2)
        ax.plot([c.mean], [y], "o", color=COLOURS[c.status], ms=4)
    if papers:
        ax.plot([x for _, x in papers], [y for y, _ in papers], "D", ls="none", mfc="none", mec="#212121", ms=5,
                mew=1.0, label="the paper's effect")
        ax.legend(loc="lower right", fontsize=7, frameon=False, handletextpad=0.3)
    ax.axvline(shown[0].margin, color="#333333", lw=0.8, ls="--")
    ax.set_yticks(range(len(shown)), [c.label for c in shown], fontsize=7)
    ax.set_ylim(len(shown) - 0.5, -0.5)
    ax.tick_params(axis="x", labelsize=7)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def figure(rows: Sequence[tuple[str, Status, Sequence[Comparison], str]]) -> Figure:
    """Rows of ``(title, verdict, comparisons, note shown when there is no interval)``, one panel each."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    heights = [HEADER_INCHES + ROW_INCHES * max(1, sum(c.status is not Status.UNDECIDABLE for c in comps))
               for _, _, comps, _ in rows]
    fig = Figure(figsize=(COLUMN_INCHES, sum(heights)), layout="constrained")
    axes = fig.subplots(len(rows), 1, squeeze=False, gridspec_kw={"height_ratios": heights})[:, 0]
    for ax, (title, status, comps, note) in zip(axes, rows, strict=True):
        _panel(ax, title, status, comps, note)
    fig.supxlabel("mean paired difference, favouring the claim (95 % interval); dashed: the claim's margin; "
                  "◇: the paper's", fontsize=8)
    return fig


def svg(rows: Sequence[tuple[str, Status, Sequence[Comparison], str]]) -> str:
    """:func:`figure` as an SVG document (for a page's verdict box or the front page)."""
    return as_svg(figure(rows))


#: The overview's axis, in standard deviations of the paired difference: an effect beyond it is drawn at the edge.
OVERVIEW_LIMIT = 6.0
OVERVIEW_ROW_INCHES = 0.17


def weakest(comparisons: Sequence[Comparison]) -> Comparison | None:
    """The comparison that most limits a claim: the lowest interval over its margin (None: no interval)."""
    shown = [c for c in comparisons if c.status is not Status.UNDECIDABLE and c.sd > 0]
    return min(shown, key=lambda c: (c.interval[0] - c.margin) / c.sd) if shown else None


def overview(rows: Sequence[tuple[str, Status, Comparison | None]]) -> Figure:
    """Every claim on one axis, one row each (``(label, verdict, its weakest comparison or None)``): the
    comparison's mean paired difference over its margin, in standard deviations of the difference across seeds
    (the standardized effect d_z), with its 95 % interval; right of 0 favours the claim. Claims measure different
    things on different scales; standardized, their intervals can share one axis."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(COLUMN_INCHES, 0.7 + OVERVIEW_ROW_INCHES * len(rows)), layout="constrained")
    ax = fig.subplots()
    limit = OVERVIEW_LIMIT
    for y, (_, status, c) in enumerate(rows):
        colour = COLOURS[status]
        if c is None:
            ax.text(-limit, y, "  no interval (see its page)", fontsize=8, va="center", color="#555555")
            continue
        low, high, mean = ((v - c.margin) / c.sd for v in (*c.interval, c.mean))
        ax.plot([max(low, -limit), min(high, limit)], [y, y], color=colour, lw=2.5, solid_capstyle="butt")
        ax.plot([min(max(mean, -limit), limit)], [y], "o", color=colour, ms=4.5)
    ax.axvline(0, color="#333333", lw=0.8, ls="--")
    ax.set_xlim(-limit, limit)
    ax.set_yticks(range(len(rows)), [label for label, _, _ in rows], fontsize=8)
    for tick, (_, status, _) in zip(ax.get_yticklabels(), rows, strict=True):
        tick.set_color(COLOURS[status])
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.tick_params(axis="x", labelsize=8)
    ax.set_xlabel("each claim's weakest comparison: mean paired difference over its margin ÷ its spread across\n"
                  "seeds, with its 95 % interval; right of the dashed line favours the claim; beyond ±6 at the edge",
                  fontsize=7)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return fig


def as_svg(fig: Figure) -> str:
    """A figure as an inline SVG element (for a page's HTML)."""
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg")
    text = buffer.getvalue()
    return text[text.index("<svg"):]
