"""The scorecard: every claim's verdict, computed from a run's per-seed tables."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from cpath_repro.claims import card, forest, pretraining
from cpath_repro.claims.registry import CLAIMS, PAPERS, Claim
from cpath_repro.claims.rules import Comparison, Status
from cpath_repro.results.provenance import data_kind
from cpath_repro.results.run import read_manifest


@dataclass(frozen=True)
class Verdict:
    claim: Claim
    status: Status
    rule: str
    evidence: str
    data: str  # what the verdict rests on: "synthetic data ..." or "real data ..."
    notebook: str | None
    comparisons: tuple[Comparison, ...] = ()  # what the rule decided from: effect and interval of each


def cost(comparisons: tuple[Comparison, ...], minutes_per_seed: float | None) -> str:
    """For the reader's planning, what the seeds an inconclusive verdict would need cost at the page's measured
    time per seed (never a reason to add seeds to a run already seen: that is a recorded choice)."""
    needs = [c.seeds_needed for c in comparisons if c.seeds_needed is not None]
    if not needs or not minutes_per_seed:
        return ""
    most = max(needs)
    per_seed = f"{minutes_per_seed:.1f}" if minutes_per_seed < 10 else f"{minutes_per_seed:,.0f}"
    return (f" For planning: the largest of these, about {most} paired seeds, would take about "
            f"{most * minutes_per_seed:,.0f} CPU-minutes at this page's {per_seed} min per seed.")


def judge(claim: Claim, table: pd.DataFrame, data: str, notebook: str | None = None,
          used: dict[str, str] | None = None, probes: dict[str, Any] | None = None,
          undecidable: str | None = None, minutes_per_seed: float | None = None) -> Verdict:
    """A claim's verdict from its per-seed table, the pretraining gate included: the one function the front page
    and a page's verdict box both call. ``used``: backbone -> the pretraining the chapter recorded; ``probes``:
    the stand-in probe's results (:func:`cpath_repro.claims.pretraining.probe_results`); ``undecidable``: why
    the chapter found its own numbers unable to decide the claim (:meth:`Run.save_claim_table`)."""
    outcome = claim.rule.evaluate(table)
    status, evidence = outcome.status, outcome.evidence
    if status is Status.INCONCLUSIVE:
        evidence += cost(outcome.comparisons, minutes_per_seed)
    if undecidable is not None:
        status, evidence = Status.UNDECIDABLE, f"{undecidable}; its own numbers: {evidence}"
    if claim.pretrained and used is not None:
        untestable, label = pretraining.gate(claim.pretrained, used, probes or {}, claim.pretrained_use)
        data = ", ".join(x for x in (data, label) if x)
        if untestable:
            status, evidence = Status.NOT_TESTABLE, f"{untestable}; its own numbers: {evidence}"
    return Verdict(claim, status, claim.rule.description, evidence, data, notebook, outcome.comparisons)


def verdicts(run_dir: Path | None) -> list[Verdict]:
    """Evaluate every claim of the registry against the committed results in ``run_dir``."""
    found: dict[str, tuple[str, Path, dict]] = {}
    if run_dir is not None and Path(run_dir).is_dir():
        for result in sorted(Path(run_dir).iterdir()):
            manifest = read_manifest(result) if result.is_dir() and not result.name.startswith(".") else None
            for claim_id in (manifest or {}).get("claims", []):
                found[claim_id] = (result.name, result / "claims" / f"{claim_id}.csv", manifest or {})
    probes = pretraining.probe_results(run_dir)
    out = []
    for claim in CLAIMS.values():
        rule = claim.rule.description
        if claim.id not in found:
            out.append(Verdict(claim, Status.NOT_YET, rule, "its chapter has not been run", "", None))
            continue
        notebook, table_path, manifest = found[claim.id]
        data = manifest.get("claim_data", {}).get(claim.id) or data_kind(manifest["provenance"]["data_sources"])
        reason = manifest.get("not_testable", {}).get(claim.id)
        if reason is not None:  # the chapter said why this run cannot test it (e.g. no ground truth in real data)
            out.append(Verdict(claim, Status.NOT_TESTABLE, rule, reason, data, notebook))
            continue
        table = pd.read_csv(table_path, keep_default_na=False)
        out.append(judge(claim, table, data, notebook, manifest.get("pretraining", {}), probes,
                         manifest.get("undecidable", {}).get(claim.id), minutes_per_seed(manifest, table)))
    return out


def minutes_per_seed(manifest: dict[str, Any], table: pd.DataFrame) -> float | None:
    """The page's measured wall time per seed of its claim table (None: not recorded). Measured on the run that
    made the page, so it is the cost of training when the models were trained in it, less when they were loaded."""
    wall = manifest.get("execution", {}).get("wall_time_s")
    seeds = table["seed"].nunique() if "seed" in table else 0
    return wall / 60.0 / seeds if wall and seeds else None


def as_text(items: list[Verdict]) -> str:
    lines = []
    for v in items:
        lines.append(f"{v.claim.id:6} {v.status.value:20} {v.claim.statement}")
        if v.status is not Status.NOT_YET:
            lines.append(f"{'':27}rule: {v.rule}")
            lines.append(f"{'':27}evidence ({v.data}): {v.evidence}")
    counts = pd.Series([v.status.value for v in items]).value_counts()
    lines.append("")
    lines.append(", ".join(f"{n} {status}" for status, n in counts.items()))
    return "\n".join(lines)


_BADGE = forest.COLOURS


#: The front page's grid: one coloured cell per claim, the claim's rule and evidence folded beneath.
_GRID_CSS = (
    ".scorecard-grid{border-collapse:collapse;margin:0.5em 0 1.5em}"
    ".scorecard-grid th,.scorecard-grid td{padding:0.3em 0.6em;border:none;text-align:left;vertical-align:middle}"
    ".scorecard-grid tr+tr th,.scorecard-grid tr+tr td{border-top:1px solid rgba(127,127,127,0.25)}"
    ".scorecard-grid .paper-row th{padding-top:0.8em}.scorecard-grid .counts{font-weight:normal;font-size:0.85em;"
    "margin-left:0.8em;color:#555}.scorecard-grid td:last-child{white-space:nowrap;font-size:0.9em}"
    ".claim-cell{display:inline-block;min-width:3.4em;margin:2px;padding:0.15em 0.3em;border-radius:3px;"
    "color:#fff!important;text-align:center;font-size:0.85em;font-weight:600;text-decoration:none!important}"
    ".scorecard-legend .claim-cell{min-width:0;padding:0.15em 0.5em}"
    ".claim-detail{margin:0.2em 0;padding:0.2em 0.6em;scroll-margin-top:4em}"
    ".claim-detail summary{cursor:pointer}"
    ".claim-detail p{margin:0.3em 0 0.6em 1.2em;font-size:0.9em}"
)


def counts(items: list[Verdict]) -> dict[Status, int]:
    """How many claims have each verdict (every status, in the enum's order)."""
    return {status: sum(v.status is status for v in items) for status in Status}


def as_html(items: list[Verdict]) -> str:
    """The front page's scorecard (raw HTML in the book's Markdown): every claim of every paper at a glance, a
    row per claim with its coloured id, what the paper claims and our verdict, papers' counts in their headers;
    beneath it, per paper, the forest plot and each claim's rule and evidence, folded."""
    legend = " ".join(_cell(status.value, status, status.value) for status in Status)
    rows, details = [], []
    for paper, title in PAPERS.items():
        claims = [v for v in items if v.claim.paper == paper]
        tally = " · ".join(f"{n} {status.value}" for status, n in counts(claims).items() if n)
        rows.append(f"<tr class='paper-row'><th colspan='3'>Paper {paper}: {html.escape(title)}"
                    f"<span class='counts'>{tally or 'figures and concepts, no claims to score'}</span></th></tr>")
        for v in claims:
            rows.append(f"<tr><td>{_cell(v.claim.id, v.status, v.status.value, f'#claim-{v.claim.id}')}</td>"
                        f"<td>{html.escape(v.claim.statement)}</td>"
                        f"<td style='color:{_BADGE[v.status]};font-weight:600'>{v.status.value}</td></tr>")
        if claims:
            details.append(f"<h3>Paper {paper}: {html.escape(title)}</h3>" + _forest(claims)
                           + "".join(_detail(v) for v in claims))
    total = " · ".join(f"{n} {status.value}" for status, n in counts(items).items() if n)
    return (f"<style>{_GRID_CSS}</style><div class='scorecard'>"
            f"<p class='scorecard-legend'>{legend}</p>"
            f"<table class='scorecard-grid'><tbody>{''.join(rows)}</tbody></table>"
            f"<p><b>{len(items)} claims:</b> {total}. Each claim below opens to its rule and evidence.</p>"
            f"{''.join(details)}</div>")


def overview_html(items: list[Verdict]) -> str:
    """Every claim's weakest comparison on one standardized axis (inline SVG): the front page's first figure."""
    rows = [(f"{v.claim.id} · {v.status.value}", v.status, forest.weakest(v.comparisons)) for v in items
            if v.status is not Status.NOT_YET]
    drawn = any(c is not None for _, _, c in rows)  # with no interval at all (one seed), there is nothing to plot
    return f"<div class='claim-overview'>{forest.as_svg(forest.overview(rows))}</div>" if drawn else ""


def _forest_rows(items: list[Verdict]) -> list[tuple[str, Status, tuple[Comparison, ...], str]]:
    return [(f"{v.claim.id}: {v.status.value}", v.status, v.comparisons,
             v.evidence if len(v.evidence) < 110 else v.evidence[:107] + "...") for v in items]


def _forest(items: list[Verdict]) -> str:
    """The claims' forest plot (inline SVG), when some claim has an interval to show."""
    if not any(c.status is not Status.UNDECIDABLE for v in items for c in v.comparisons):
        return ""
    return f"<div class='claim-forest'>{forest.svg(_forest_rows(items))}</div>"


def _cell(text: str, status: Status, title: str, href: str | None = None) -> str:
    """One coloured cell of the grid (a link to the claim's detail when ``href``)."""
    style = f"background:{_BADGE[status]}"
    attrs = f"class='claim-cell' data-status='{status.value}' style='{style}' title='{html.escape(title, quote=True)}'"
    if href is None:
        return f"<span {attrs}>{html.escape(text)}</span>"
    target = href.removeprefix("#")
    return (f"<a {attrs} href='{href}' onclick=\"document.getElementById('{target}').open=true\">"
            f"{html.escape(text)}</a>")


def _comparison(claim: Claim) -> str:
    """The registry's reason for the claim's comparator, as a line after its rule (nothing when none is given)."""
    return f"<br><b>Why this comparison:</b> {html.escape(claim.comparison)}" if claim.comparison else ""


def _detail(v: Verdict) -> str:
    """A claim's statement and verdict; its rule and evidence one click beneath."""
    colour = _BADGE[v.status]
    summary = (f"<summary><b>{v.claim.id}</b> {html.escape(v.claim.statement)} "
               f"<span style='color:{colour};font-weight:bold'>{v.status.value}</span></summary>")
    if v.status is Status.NOT_YET:
        body = f"<p><b>Rule:</b> {html.escape(v.rule)}<br><b>Evidence:</b> none yet ({html.escape(v.evidence)}).</p>"
    else:
        page = (f", page <a href='../notebooks/{html.escape(v.notebook)}.html'>{html.escape(v.notebook)}</a>"
                if v.notebook else "")
        body = (f"<p><b>Rule:</b> {html.escape(v.rule)}{_comparison(v.claim)}<br><b>Evidence</b> "
                f"({html.escape(v.data)}{page}): {html.escape(v.evidence)}</p>")
    return (f"<details class='claim-detail' id='claim-{v.claim.id}' data-status='{v.status.value}' "
            f"style='border-left:4px solid {colour}'>{summary}{body}</details>")


def verdict_box(claim: str | Claim, table: pd.DataFrame, data: str, undecidable: str | None = None) -> VerdictBox:
    """A notebook's verdict box for one claim, computed the same way as the scorecard (a :class:`Claim`
    not in the registry is a check beyond the paper: its page shows it, the scorecard does not)."""
    from cpath_repro.claims.registry import get

    claim = get(claim) if isinstance(claim, str) else claim
    return VerdictBox(judge(claim, table, data, undecidable=undecidable))


#: How a page's verdict box names its claim in the executed notebook (the book replaces the box by the front
#: page's verdict: :func:`one_verdict`).
BOX_CLAIM = re.compile(r"<div class='verdict-box' data-claim='([^']+)'")


def one_verdict(outputs: list[dict[str, Any]], verdicts: dict[str, Verdict]) -> list[dict[str, Any]]:
    """A page's outputs with each registry claim's verdict box redrawn from ``verdicts`` (the front page's), so
    that a gate the page could not apply when it ran (the pretraining probe, run by another page) shows on both."""
    for output in outputs:
        data = output.get("data", {})
        found = BOX_CLAIM.match(str(data.get("text/html", "")))
        verdict = verdicts.get(found.group(1)) if found else None
        if verdict is not None and verdict.status is not Status.NOT_YET:
            box = VerdictBox(verdict)
            data["text/html"], data["text/plain"] = box._repr_html_(), repr(box)
    return outputs


class VerdictBox:
    """HTML verdict box: the paper's statement, our verdict, the rule and the evidence."""

    def __init__(self, verdict: Verdict) -> None:
        self.verdict = verdict

    def _repr_html_(self) -> str:
        v = self.verdict
        colour = _BADGE[v.status]
        return (
            f"<div class='verdict-box' data-claim='{html.escape(v.claim.id, quote=True)}' "
            f"data-status='{v.status.value}' style='border-left:4px solid {colour};padding:6px 12px;margin:8px 0'>"
            f"<b>{v.claim.id}</b> — {html.escape(v.claim.statement)}<br>"
            f"<b>Verdict:</b> <span style='color:{colour};font-weight:bold'>{v.status.value}</span> "
            f"(on {html.escape(v.data)})<br><small><b>Rule (fixed before the run):</b> {html.escape(v.rule)}"
            f"{_comparison(v.claim)}</small><small>{card.evidence_table(v)}</small>{_forest([v])}</div>"
        )

    def __repr__(self) -> str:
        v = self.verdict
        return f"{v.claim.id}: {v.status.value} ({v.data}); rule: {v.rule}; evidence: {v.evidence}"
