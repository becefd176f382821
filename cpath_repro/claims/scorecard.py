"""The scorecard: every claim's verdict, computed from a run's per-seed tables."""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from cpath_repro.claims import pretraining
from cpath_repro.claims.registry import CLAIMS, PAPERS, Claim
from cpath_repro.claims.rules import Status
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
        outcome = claim.rule.evaluate(pd.read_csv(table_path, keep_default_na=False))
        status, evidence = outcome.status, outcome.evidence
        if claim.pretrained:
            untestable, label = pretraining.gate(claim.pretrained, manifest.get("pretraining", {}), probes)
            data = ", ".join(x for x in (data, label) if x)
            if untestable:
                status, evidence = Status.NOT_TESTABLE, f"{untestable}; its own numbers: {evidence}"
        out.append(Verdict(claim, status, rule, evidence, data, notebook))
    return out


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


_BADGE = {
    Status.SUPPORTED: "#2e7d32",
    Status.NOT_SUPPORTED: "#c62828",
    Status.NOT_TESTABLE: "#6d4c41",
    Status.NOT_YET: "#757575",
}


def as_html(items: list[Verdict]) -> str:
    """The front page's table (raw HTML, embedded in the book's Markdown)."""
    parts = []
    for paper, title in PAPERS.items():
        rows = [v for v in items if v.claim.paper == paper]
        if not rows:
            parts.append(f"<h3>Paper {paper}: {html.escape(title)}</h3><p>This paper's chapter reproduces "
                         "figures and concepts; it makes no claims to score.</p>")
            continue
        body = []
        for v in rows:
            colour = _BADGE[v.status]
            detail = (f"<br><small><b>Rule:</b> {html.escape(v.rule)}<br><b>Evidence</b> ({html.escape(v.data)}, "
                      f"page {html.escape(v.notebook or '')}): "
                      f"{html.escape(v.evidence)}</small>" if v.status is not Status.NOT_YET else "")
            body.append(
                f"<tr><td>{v.claim.id}</td><td>{html.escape(v.claim.statement)}{detail}</td>"
                f"<td><span style='color:{colour};font-weight:bold'>{v.status.value}</span></td></tr>"
            )
        parts.append(
            f"<h3>Paper {paper}: {html.escape(title)}</h3><table class='scorecard'>"
            "<thead><tr><th>Claim</th><th>The paper says</th><th>Our verdict</th></tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table>"
        )
    return "\n".join(parts)


def verdict_box(claim: str | Claim, table: pd.DataFrame, data: str) -> VerdictBox:
    """A notebook's verdict box for one claim, computed the same way as the scorecard (a :class:`Claim`
    not in the registry is a check beyond the paper: its page shows it, the scorecard does not)."""
    from cpath_repro.claims.registry import get

    claim = get(claim) if isinstance(claim, str) else claim
    outcome = claim.rule.evaluate(table)
    return VerdictBox(Verdict(claim, outcome.status, claim.rule.description, outcome.evidence, data, None))


class VerdictBox:
    """HTML verdict box: the paper's statement, our verdict, the rule and the evidence."""

    def __init__(self, verdict: Verdict) -> None:
        self.verdict = verdict

    def _repr_html_(self) -> str:
        v = self.verdict
        colour = _BADGE[v.status]
        return (
            f"<div style='border-left:4px solid {colour};padding:6px 12px;margin:8px 0'>"
            f"<b>{v.claim.id}</b> — {html.escape(v.claim.statement)}<br>"
            f"<b>Verdict:</b> <span style='color:{colour};font-weight:bold'>{v.status.value}</span> "
            f"(on {html.escape(v.data)})<br><small><b>Rule (fixed before the run):</b> {html.escape(v.rule)}<br>"
            f"<b>Evidence:</b> {html.escape(v.evidence)}</small></div>"
        )

    def __repr__(self) -> str:
        v = self.verdict
        return f"{v.claim.id}: {v.status.value} ({v.data}); rule: {v.rule}; evidence: {v.evidence}"
