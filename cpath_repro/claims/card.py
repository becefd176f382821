"""A verdict for readers: the card at the top of every page that feeds a claim, and its parts in words.

The card says what the paper claims (with its citation), what we measured (one sentence: who is ahead, by how
much, in what, with the 95 % interval and the seeds), the verdict with its flags (the data it rests on, an arm
at chance, a stand-in for ImageNet), and folds the rule and the evidence table beneath. Everything comes from one
:class:`~cpath_repro.claims.scorecard.Verdict`, the front page's, so a card cannot disagree with the scorecard.
"""

from __future__ import annotations

import html
import re
from typing import TYPE_CHECKING

from cpath_repro.claims.forest import COLOURS
from cpath_repro.claims.metrics import METRICS, words
from cpath_repro.claims.registry import CITATIONS, arm_words
from cpath_repro.claims.rules import Comparison, MostUnits, Status

if TYPE_CHECKING:
    from cpath_repro.claims.scorecard import Verdict

#: The longest reason a card's face shows whole (a longer one is cut at a word, and given in full in the fold)
FACE_CHARS = 180
#: Where a page links a paper's citation: the front page's "Papers" section, one anchor per paper.
PAPERS_ANCHOR = "paper-{paper}"

CSS = (
    ".verdict-card{border:1px solid rgba(127,127,127,.35);border-left:6px solid var(--vc);border-radius:4px;"
    "padding:.5em .9em;margin:.6em 0 1em;font-size:.93em}.verdict-card p{margin:.25em 0}"
    ".vc-status{display:inline-block;padding:.05em .5em;border-radius:3px;color:#fff;"
    "background:var(--vc);font-weight:600}.verdict-card .vc-flag{display:inline-block;margin:.1em .4em .1em 0;"
    "padding:0 .45em;border-radius:3px;background:rgba(127,127,127,.15);font-size:.85em}"
    ".verdict-card details summary{cursor:pointer;font-size:.9em}.verdict-card table{font-size:.85em;margin:.4em 0}"
    ".verdict-card td,.verdict-card th{padding:.1em .5em;text-align:left}"
)


def _gap(c: Comparison, value: float) -> str:
    metric = METRICS.get(c.metric)
    return metric.gap(value) if metric is not None else f"{abs(value):.3g}"


def side(c: Comparison) -> str:
    """Who is ahead in one comparison, by how much, in words: ``CD-UNET ahead of UNET by 0.02 F1``."""
    if not any(digit in "123456789" for digit in _gap(c, c.mean).split()[0]):  # zero at the metric's decimals
        return f"{arm_words(c.better)} level with {arm_words(c.worse)}"
    ahead, behind = (c.better, c.worse) if c.mean > 0 else (c.worse, c.better)
    return f"{arm_words(ahead)} ahead of {arm_words(behind)} by {_gap(c, c.mean)}"


def interval(c: Comparison) -> str:
    """``95 % interval −0.010 to +0.050, + favouring CD-UNET; 5 paired seeds``."""
    low, high = c.interval
    return f"95 % interval {c.signed(low)} to {c.signed(high)}, + favouring {arm_words(c.better)}; {c.n} paired seeds"


def _what(c: Comparison) -> str:
    return words(c.metric) + (f", {c.unit}" if c.unit else "") + (", lower being better" if c.lower_is_better else "")


def headline(v: Verdict, short: bool = False) -> str:
    """What we measured, in one sentence: the comparison that decides the verdict, who is ahead and by how much
    (``short``: of many comparisons, how many went which way and the weakest's number, without its metric's unit
    and direction, which the fold gives)."""
    if v.status is Status.NOT_YET:
        return "Not measured yet: its chapter has not been run."
    shown = [c for c in v.comparisons if c.status is not Status.UNDECIDABLE and c.better]
    if not shown and v.comparisons:
        seeds = sorted({c.n for c in v.comparisons})
        if seeds[-1] < 2:
            return (f"{len(v.comparisons)} comparison{'s' if len(v.comparisons) > 1 else ''} on {seeds[-1]} paired "
                    "seed each: no interval to decide by.")
        return f"No comparison has an interval: {v.comparisons[0].why_undecidable}."
    if not shown:
        text = v.evidence.replace(" | ", "; ")
        return _capital(text) + "." if text else "No comparison could be made."
    if len(shown) == 1:
        c = shown[0]  # one comparison: its interval is part of the sentence, short or not
        return f"{_capital(side(c))} in {_what(c)} — {interval(c)}."
    what = v.claim.rule.units if isinstance(v.claim.rule, MostUnits) else "comparisons"
    ahead = sum(c.mean > c.margin for c in shown)
    decided = [f"{n} {way}" for n, way in ((sum(c.status is Status.SUPPORTED for c in shown), "for it"),
                                            (sum(c.status is Status.CONTRADICTED for c in shown), "against it")) if n]
    weakest = min(shown, key=lambda c: c.interval[0] - c.margin)
    count = (f"The claim's side is ahead in {ahead} of {len(shown)} {what}, "
             f"{' and '.join(decided) + ' by their intervals' if decided else 'none decided by its interval'}.")
    if short:  # the card's face: the count, and the number that decides it in a few words
        low, high = weakest.interval
        return (f"{count} Weakest: {side(weakest)} in {words(weakest.metric)} (95 % interval "
                f"{weakest.signed(low)} to {weakest.signed(high)}, + for the claim).")
    return f"{count} The weakest for the claim: {side(weakest)} in {_what(weakest)} — {interval(weakest)}."


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def flags(v: Verdict) -> list[str]:
    """What a reader must know before trusting the verdict: the data, an arm at chance, a pretraining stand-in,
    the seeds."""
    out = [v.data] if v.data else []
    if "chance level" in v.evidence:
        out.append("an arm at chance: it learned nothing to compare")
    seeds = {c.n for c in v.comparisons if c.n}
    if seeds:
        out.append(f"{min(seeds)}–{max(seeds)} paired seeds" if len(seeds) > 1 else
                   f"{min(seeds)} paired seed{'s' if min(seeds) > 1 else ''}")
    return out


def remark(v: Verdict) -> str:
    """The evidence beyond its comparisons (a tally, the sanity gate's reason, the cost of more seeds)."""
    text = v.evidence
    for c in v.comparisons:
        text = text.replace(c.describe(), "")
    return re.sub(r"(;\s*)+", "; ", text).strip(" ;:")


def evidence_table(v: Verdict) -> str:
    """The verdict's comparisons as a small HTML table (each: who is ahead, the interval, its own decision)."""
    if not v.comparisons:
        return f"<p>{html.escape(v.evidence)}</p>" if v.evidence else ""
    rows = []
    for c in v.comparisons:
        if c.status is Status.UNDECIDABLE:
            rows.append(f"<tr><td>{html.escape(c.label)}</td><td colspan='3'>{html.escape(c.why_undecidable)}</td>"
                        f"<td style='color:{COLOURS[c.status]}'>{c.status.value}</td></tr>")
            continue
        low, high = c.interval
        paper = f"{c.signed(c.paper_effect)}" if c.paper_effect is not None else "not given"
        rows.append(f"<tr><td>{html.escape(_what(c))}</td><td>{html.escape(side(c))}</td>"
                    f"<td>{c.signed(low)} to {c.signed(high)}</td><td>{html.escape(paper)}</td>"
                    f"<td style='color:{COLOURS[c.status]}'>{c.status.value}</td></tr>")
    note = remark(v)
    head = ("<tr><th>comparison</th><th>who is ahead (mean over seeds)</th><th>95 % interval (+: the claim's way)"
            "</th><th>the paper's effect</th><th>decision</th></tr>")
    return ((f"<p>{html.escape(note)}</p>" if note else "")
            + f"<table><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>")


def card(v: Verdict, papers_page: str = "") -> str:
    """The verdict card (HTML): the claim with its citation, what we measured, the verdict and its flags; the
    weakest comparison, the rule and the evidence folded. ``papers_page``: the front page's address from this
    page, for the citation link. Short enough that a page's cards open its first screen."""
    citation = CITATIONS[v.claim.paper]
    cite = html.escape(f"{citation.short}, paper {v.claim.paper}")
    if papers_page:
        cite = f"<a href='{papers_page}#{PAPERS_ANCHOR.format(paper=v.claim.paper)}'>{cite}</a>"
    chips = "".join(f"<span class='vc-flag'>{html.escape(f)}</span>" for f in flags(v))
    why = f"<p><b>Why this comparison:</b> {html.escape(v.claim.comparison)}</p>" if v.claim.comparison else ""
    face, full = headline(v, short=True), headline(v)
    reason, detail = _why_not(v)
    folded = (f"<p>{html.escape(full)}</p>" if full != face else "") + (f"<p>{html.escape(detail)}</p>" if detail else "")
    return (f"<div class='verdict-card' data-claim='{html.escape(v.claim.id, quote=True)}' "
            f"data-status='{v.status.value}' style='--vc:{COLOURS[v.status]}'>"
            f"<p><span class='vc-status'>{v.status.value}</span> <b>{v.claim.id}</b> {chips}</p>"
            f"<p><b>The paper claims:</b> {html.escape(v.claim.statement)} ({cite})</p>"
            f"<p><b>We measured:</b> {html.escape(face)}</p>{reason}"
            f"<details><summary>The weakest comparison, the rule fixed before the run, and the evidence</summary>"
            f"{folded}<p><b>Rule:</b> {html.escape(v.rule)}</p>{why}{evidence_table(v)}</details></div>")


def _why_not(v: Verdict) -> tuple[str, str]:
    """For a verdict the numbers could not reach: why, on the card's face (HTML; a long reason cut at a word), and
    the whole reason for the fold when it was cut."""
    if v.status not in (Status.NOT_TESTABLE, Status.UNDECIDABLE):
        return "", ""
    why = remark(v).split("; its own numbers")[0].strip(" ;:.")
    if not why:
        return "", ""
    short = why if len(why) <= FACE_CHARS else why[:why.rfind(" ", 0, FACE_CHARS)] + " …"
    face = f"<p><b>Why {v.status.value}:</b> {html.escape(short)}{'' if short.endswith('…') else '.'}</p>"
    return face, (f"Why, in full: {why}." if short != why else "")


def cards(verdicts: list[Verdict], papers_page: str = "") -> str:
    """A page's cards, one per claim it feeds, with the cards' style once."""
    return f"<style>{CSS}</style>" + "".join(card(v, papers_page) for v in verdicts)


def claim_list(verdicts: list[Verdict], pages: str = "../notebooks/") -> str:
    """A chapter landing page's list of its claims (HTML): each with its verdict, what we measured and its page."""
    rows = []
    for v in verdicts:
        page = (f"<a href='{pages}{html.escape(v.notebook)}.html'>{html.escape(v.notebook)}</a>" if v.notebook
                else "not run")
        rows.append(f"<tr data-claim='{v.claim.id}'><td><b>{v.claim.id}</b><br><span class='vc-status' "
                    f"style='--vc:{COLOURS[v.status]}'>{v.status.value}</span></td>"
                    f"<td>{html.escape(v.claim.statement)}</td><td>{html.escape(headline(v, short=True))}</td>"
                    f"<td>{page}</td></tr>")
    return (f"<style>{CSS}.claim-list td{{vertical-align:top;padding:.35em .5em;font-size:.9em}}"
            ".claim-list .vc-status{white-space:nowrap;font-size:.8em}</style>"
            "<table class='claim-list'><thead><tr><th>claim</th><th>the paper claims</th><th>we measured</th>"
            f"<th>page</th></tr></thead><tbody>{''.join(rows)}</tbody></table>")
