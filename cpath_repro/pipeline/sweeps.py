"""Sensitivity maps: a claim's verdict at each value of the knob that could decide it.

A map re-runs the notebook that judges the claim with one parameter changed (``cpath-repro sweep CLAIM``,
``make sweeps`` for every declared map), each value into ``RUN_DIR/sweeps/SETTING=VALUE/`` through the same
executor, cache and model store as the book; the ``default`` value's cell is the book's own result in
``RUN_DIR``. Claims whose maps sweep the same knob of the same notebook (D-C1 and D-C2; B-C1 and B-C2) read
the same runs. Each cell is judged exactly as the front page judges the book (:func:`scorecard.judge`), and
the map's sentence is generated from the cells: the map, not the default, is the finding.
"""

from __future__ import annotations

import html
import io
import re
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from cpath_repro import catalog
from cpath_repro.claims import decides, pretraining, scorecard
from cpath_repro.claims.registry import CLAIMS, Claim, get
from cpath_repro.claims.rules import Comparison, Status
from cpath_repro.errors import UserError
from cpath_repro.results.provenance import data_kind
from cpath_repro.results.run import read_manifest

SWEEPS = "sweeps"


def notebook_of(claim: str) -> catalog.NotebookSpec:
    """The notebook whose claim table decides ``claim``."""
    return next(spec for spec in catalog.NOTEBOOKS.values() if claim in spec.claims)


def value_text(value: float | int) -> str:
    """A knob value as the command line and folder names write it (``0.5``, ``12``)."""
    return f"{value:g}"


def cell_dir(run_dir: Path, knob: decides.Knob, value: float | int, profile: str = "default") -> Path:
    """Where the run of ``knob`` at ``value`` goes: the book's run itself at the profile's value, else beside it."""
    if value == knob.default(profile):
        return Path(run_dir)
    return Path(run_dir) / SWEEPS / f"{knob.setting}={value_text(value)}"


def knob_of(claim: str) -> decides.Knob:
    """The knob ``claim``'s map sweeps, or one sentence naming the claims that have a map."""
    get(claim)  # an unknown id: the registry's sentence
    knob = decides.get(claim).knob
    if knob is None:
        raise UserError(f"{claim} declares no knob that could decide it, so it has no map; the claims with one: "
                        f"{', '.join(decides.mapped())}.")
    return knob


def wanted(claims: Sequence[str]) -> list[str]:
    """The claims a command names: ``["all"]`` is every claim with a declared map."""
    return list(decides.mapped()) if [c.lower() for c in claims] == ["all"] else list(claims)


def run(claims: Sequence[str], run_dir: Path, profile: str = "default", echo: Callable[[str], Any] = print,
        progress: bool = False) -> list[tuple[str, str, float]]:
    """Run every cell of the maps of ``claims`` (``["all"]``: every declared map) that is missing or stale;
    ``(cell, "ran"|"cached", seconds)`` for each. A knob shared by several claims runs once."""
    from cpath_repro.pipeline import execute

    cells: dict[tuple[str, str, float | int], decides.Knob] = {}  # every claim is checked before any work
    for claim in wanted(claims):
        knob = knob_of(claim)
        for value in knob.values:
            cells[(notebook_of(claim).name, knob.setting, value)] = knob
    done = []
    for i, ((notebook, setting, value), knob) in enumerate(cells.items(), start=1):
        where = cell_dir(run_dir, knob, value, profile)
        label = f"[{i}/{len(cells)}] {notebook} at {setting}={value_text(value)}"
        echo(f"{label} -> {where}")
        overrides = [] if where == Path(run_dir) else [(setting, value_text(value))]
        for name, how, seconds in execute.run([notebook], profile, overrides, where, progress=progress,
                                               echo=lambda line: echo(f"    {line}")):
            done.append((f"{name} {setting}={value_text(value)}", how, seconds))
    return done


@dataclass(frozen=True)
class Cell:
    """One value of a map: the claim's verdict there, the rule's own decision from its numbers (before any
    pretraining gate), or why the cell has none (not run, stale)."""

    value: float | int
    verdict: scorecard.Verdict | None = None
    own: Status | None = None
    missing: str = ""


@dataclass(frozen=True)
class Map:
    """A claim's sensitivity map over its knob."""

    claim: Claim
    knob: decides.Knob
    notebook: str
    cells: tuple[Cell, ...]
    profile: str = "default"

    @property
    def complete(self) -> bool:
        return all(c.verdict is not None for c in self.cells)

    @property
    def has_intervals(self) -> bool:
        """Whether some cell has a comparison with an interval to draw."""
        return any(c.status is not Status.UNDECIDABLE for cell in self.cells if cell.verdict
                   for c in cell.verdict.comparisons)

    @property
    def robust(self) -> bool | None:
        """The same verdict in every cell (None: some cell has no run yet)."""
        if not self.complete:
            return None
        return len({c.verdict.status for c in self.cells if c.verdict is not None}) == 1

    def summary(self) -> str:
        """The map in one sentence, generated from its cells (what a reader takes away)."""
        knob = self.knob.setting
        if not self.complete:
            missing = ", ".join(value_text(c.value) for c in self.cells if c.verdict is None)
            return (f"The map over {knob} is not complete: no current run at {missing}; "
                    f"`cpath-repro sweep {self.claim.id}` computes it.")
        statuses = [c.verdict.status for c in self.cells if c.verdict is not None]
        own = [c.own for c in self.cells]
        text = _by_value(knob, [c.value for c in self.cells], statuses)
        if own != statuses and all(o is not None for o in own):  # a gate decided some cell: what the rule said
            text += f"; the rule's own numbers, before the gates: {_by_value(knob, [c.value for c in self.cells], own)}"
        return text[0].upper() + text[1:] + "."


def _by_value(knob: str, values: Sequence[float | int], statuses: Sequence[Status | None]) -> str:
    """``supported at every lowres_contrast tried (0, 0.5, 1)`` or ``supported at lowres_contrast 0 and 0.5,
    inconclusive at this budget at 1 (it changes between 0.5 and 1)``."""
    names = [s.value if s is not None else "no verdict" for s in statuses]
    if len(set(names)) == 1:
        return f"{names[0]} at every {knob} tried ({', '.join(value_text(v) for v in values)})"
    groups: list[tuple[str, list[float | int]]] = []
    for value, name in zip(values, names, strict=True):
        if groups and groups[-1][0] == name:
            groups[-1][1].append(value)
        else:
            groups.append((name, [value]))
    parts = [f"{name} at {knob} {' and '.join(value_text(v) for v in vs)}" for name, vs in groups]
    flips = [f"{value_text(values[i])} and {value_text(values[i + 1])}" for i in range(len(values) - 1)
             if names[i] != names[i + 1]]
    return ", ".join(parts) + f" (it changes between {'; '.join(flips)})"


def _judge_cell(claim: Claim, result: Path, probes: dict[str, Any]) -> tuple[scorecard.Verdict, Status] | str:
    """A cell's verdict as the front page would give it, and the rule's own status; or why there is none.

    The per-result part of :func:`scorecard.verdicts` (which reads a whole run by claim). It is repeated here, not
    factored out of the scorecard, because the scorecard is in every page's import closure: an edit there
    re-executes the whole book. A test holds the two to the same verdict on the book's own run."""
    manifest = read_manifest(result)
    table_path = result / "claims" / f"{claim.id}.csv"
    if manifest is None or manifest.get("status") != "complete" or not table_path.is_file():
        return "not run"
    data = manifest.get("claim_data", {}).get(claim.id) or data_kind(manifest["provenance"]["data_sources"])
    reason = manifest.get("not_testable", {}).get(claim.id)
    if reason is not None:
        return scorecard.Verdict(claim, Status.NOT_TESTABLE, claim.rule.description, reason, data, result.name), \
            Status.NOT_TESTABLE
    table = pd.read_csv(table_path, keep_default_na=False)
    verdict = scorecard.judge(claim, table, data, result.name, manifest.get("pretraining", {}), probes,
                              manifest.get("undecidable", {}).get(claim.id))
    return verdict, claim.rule.evaluate(table).status


def read_map(claim_id: str, run_dir: Path) -> Map:
    """``claim_id``'s map from the runs in ``run_dir`` (a cell whose run is missing or stale has no verdict), under
    the profile of the book's result of its notebook (``default`` when there is none)."""
    from cpath_repro.pipeline import execute

    claim, knob, spec = CLAIMS[claim_id], knob_of(claim_id), notebook_of(claim_id)
    profile = (read_manifest(Path(run_dir) / spec.name) or {}).get("profile", "default")
    probes = pretraining.probe_results(run_dir)
    cells = []
    for value in knob.values:
        where = cell_dir(run_dir, knob, value, profile)
        overrides = [] if where == Path(run_dir) else [(knob.setting, value_text(value))]
        (job,) = execute.plan([spec.name], profile, overrides)
        reasons = execute.stale_reasons(job, where)
        if reasons:
            cells.append(Cell(value, missing="not run" if reasons == ["never run here"] else "stale"))
            continue
        judged = _judge_cell(claim, where / spec.name, probes)
        cells.append(Cell(value, missing=judged) if isinstance(judged, str) else Cell(value, *judged))
    return Map(claim, knob, spec.name, tuple(cells), profile)


def maps(run_dir: Path) -> dict[str, Map]:
    """Every declared map, read from ``run_dir``."""
    return {claim: read_map(claim, run_dir) for claim in decides.mapped()}


# -- drawing ---------------------------------------------------------------------------------------------------


def figure(m: Map) -> Any:
    """Small multiples, one per comparison: its mean paired difference and 95 % interval in each cell (x: the
    knob's values; colour: the comparison's own decision there), against the claim's margin (dashed)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    from cpath_repro.claims.forest import COLOURS
    from cpath_repro.viz import COLUMN_INCHES

    labels = list(dict.fromkeys(c.label for cell in m.cells if cell.verdict for c in cell.verdict.comparisons))
    columns = min(3, max(1, len(labels)))
    rows = max(1, -(-len(labels) // columns))
    fig = Figure(figsize=(min(COLUMN_INCHES, 2.6 * columns + 0.8), 2.0 * rows + 0.7), layout="constrained")
    axes = fig.subplots(rows, columns, squeeze=False).ravel()
    xs = range(len(m.cells))
    for ax, label in zip(axes, labels, strict=False):
        margin = 0.0
        for x, cell in zip(xs, m.cells, strict=True):
            found: list[Comparison] = [c for c in (cell.verdict.comparisons if cell.verdict else ()) if c.label == label]
            if not found or found[0].status is Status.UNDECIDABLE:
                continue
            c = found[0]
            margin = c.margin
            ax.plot([x, x], list(c.interval), color=COLOURS[c.status], lw=2)
            ax.plot([x], [c.mean], "o", color=COLOURS[c.status], ms=5)
        ax.axhline(margin, color="#333333", lw=0.8, ls="--")
        ax.set_xticks(list(xs), [value_text(c.value) for c in m.cells], fontsize=9)
        ax.set_xlim(-0.5, len(m.cells) - 0.5)
        ax.set_title(textwrap.fill(label, 34), fontsize=9)
        ax.tick_params(axis="y", labelsize=8)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    for ax in axes[len(labels):]:
        ax.set_axis_off()
    fig.supxlabel(f"{m.knob.setting} (this book: {value_text(m.knob.default(m.profile))})", fontsize=10)
    fig.supylabel("difference for the claim", fontsize=9)
    return fig


def svg(m: Map) -> str:
    """:func:`figure` as inline SVG that scales to the page's column (its viewBox kept, its fixed size dropped)."""
    buffer = io.StringIO()
    figure(m).savefig(buffer, format="svg")
    text = buffer.getvalue()
    text = text[text.index("<svg"):]
    return re.sub(r'<svg([^>]*?) width="[^"]*" height="[^"]*"', r'<svg\1 style="width:100%;height:auto"', text, count=1)


def decides_html(claim_id: str, m: Map | None = None) -> str:
    """A claim page's "What decides this verdict": the mechanism, the knobs, and its map ``m`` (or how to make it)."""
    d = decides.get(claim_id)
    parts = [f"<p><b>The world's mechanism.</b> {html.escape(d.mechanism)}</p>",
             f"<p><b>What could decide it by construction.</b> {html.escape(d.knobs)}</p>"]
    if d.knob is not None:
        seeds = {c.n for cell in (m.cells if m else ()) if cell.verdict for c in cell.verdict.comparisons}
        each = f"{max(seeds)} paired seeds per cell" if seeds else "the profile's paired seeds per cell"
        parts.append(f"<p><b>Sensitivity map over {html.escape(d.knob.setting)}</b>, "
                     f"{html.escape(d.knob.meaning)} "
                     f"({', '.join(value_text(v) for v in d.knob.values)}; {each}, the cell at the book's value is "
                     f"the book's own run). {_as_html(m.summary()) if m else ''}</p>")
        if m is not None and m.has_intervals:
            parts.append(f"<div class='sweep-map'>{svg(m)}</div><p><small>Each panel is one comparison of the "
                         "rule: its mean paired difference (favouring the claim) and 95 % interval at each value of "
                         "the knob, coloured by its own decision there; dashed, the claim's margin.</small></p>")
    return (f"<details class='what-decides' data-claim='{html.escape(claim_id, quote=True)}' open "
            "style='margin:4px 0 12px 16px;font-size:0.9em'><summary><b>What decides this verdict</b></summary>"
            + "".join(parts) + "</details>")


def robustness_html(found: dict[str, Map]) -> str:
    """The front page's table: each mapped claim's verdict in the book and across its map (robust, or depending on
    its knob), with the map in words."""
    from cpath_repro.claims.forest import COLOURS

    rows = []
    for claim_id, m in found.items():
        book = next((c.verdict for c in m.cells if c.verdict and c.value == m.knob.default(m.profile)), None)
        verdict = (f"<span style='color:{COLOURS[book.status]};font-weight:bold'>{book.status.value}</span>"
                   if book else "not run")
        untestable = {c.verdict.status for c in m.cells if c.verdict} <= {Status.NOT_TESTABLE, Status.UNDECIDABLE}
        mark = ("not computed yet" if m.robust is None else "not testable at any value" if m.robust and untestable
                else "<b>robust</b>" if m.robust else f"<b>depends on {html.escape(m.knob.setting)}</b>")
        rows.append(f"<tr><td><a href='#claim-{claim_id}'>{claim_id}</a></td><td>{verdict}</td><td>{mark}</td>"
                    f"<td>{_as_html(m.summary())}</td></tr>")
    return (f"<style>{_TABLE_CSS}</style><table class='robustness'><thead><tr><th>Claim</th><th>This book</th>"
            f"<th>Across its map</th><th>The map in words</th></tr></thead><tbody>{''.join(rows)}</tbody></table>")


#: The robustness table: the scorecard grid's rules (one line between rows, cells padded)
_TABLE_CSS = (".robustness{border-collapse:collapse;margin:0.5em 0 1.5em}"
              ".robustness th,.robustness td{padding:0.3em 0.6em;border:none;text-align:left;vertical-align:middle}"
              ".robustness tr+tr td,.robustness tbody tr:first-child td{border-top:1px solid rgba(127,127,127,0.25)}")


def _as_html(text: str) -> str:
    """Plain text with `code` spans, as HTML."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text))
