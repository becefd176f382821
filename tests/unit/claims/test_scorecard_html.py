"""The front page's scorecard: every claim in one grid coloured by verdict, counts per paper, details folded."""

from __future__ import annotations

import html as escaping
import re

from cpath_repro.claims import scorecard
from cpath_repro.claims.registry import CLAIMS, PAPERS
from cpath_repro.claims.rules import Status
from cpath_repro.claims.scorecard import Verdict


def _verdicts() -> list[Verdict]:
    statuses = {"A-C1": Status.SUPPORTED, "A-C2": Status.CONTRADICTED, "A-C3": Status.NOT_TESTABLE,
                "A-C4": Status.INCONCLUSIVE}
    return [Verdict(c, statuses.get(c.id, Status.NOT_YET), c.rule.description,
                    f"evidence of {c.id}" if c.id in statuses else "its chapter has not been run",
                    "synthetic data" if c.id in statuses else "", "A-T1" if c.id in statuses else None)
            for c in CLAIMS.values()]


def test_one_grid_with_a_cell_per_claim_coloured_by_its_verdict():
    html = scorecard.as_html(_verdicts())
    grids = re.findall(r"<table class='scorecard-grid'>(.*?)</table>", html, re.S)
    assert len(grids) == 1
    cells = re.findall(r"<a class='claim-cell' data-status='([^']+)' style='background:([^']+)'[^>]*>([^<]+)</a>",
                       grids[0])
    assert [c[2] for c in cells] == list(CLAIMS)
    by_id = {cid: (status, colour) for status, colour, cid in cells}
    assert by_id["A-C1"] == ("supported", scorecard._BADGE[Status.SUPPORTED])
    assert by_id["A-C2"][0] == "contradicted" and by_id["B-C1"][0] == "not yet reproduced"
    assert by_id["A-C4"][0] == "inconclusive at this budget"
    assert len({colour for _, colour in by_id.values()}) == 5


def test_counts_per_paper_and_in_all():
    html = scorecard.as_html(_verdicts())
    rows = dict(re.findall(r"<tr class='paper-row'><th colspan='3'>Paper (\w):(.*?)</th></tr>", html, re.S))
    assert set(rows) == set(PAPERS)
    n_a = sum(c.paper == "A" for c in CLAIMS.values())
    assert (f"1 supported · 1 contradicted · 1 inconclusive at this budget · 1 not testable here · "
            f"{n_a - 4} not yet reproduced") in rows["A"]
    n_b = sum(c.paper == "B" for c in CLAIMS.values())
    assert f"<span class='counts'>{n_b} not yet reproduced</span>" in rows["B"]
    assert "no claims to score" in rows["E"]
    assert f"<b>{len(CLAIMS)} claims:</b> 1 supported · 1 contradicted · 1 inconclusive at this budget" in html


def test_each_claims_text_and_verdict_sit_beside_its_badge_not_in_a_tooltip_only():
    html = scorecard.as_html(_verdicts())
    grid = re.findall(r"<table class='scorecard-grid'>(.*?)</table>", html, re.S)[0]
    row = re.search(r"<tr><td><a [^>]*>A-C2</a></td><td>(.*?)</td><td[^>]*>(.*?)</td></tr>", grid, re.S)
    assert row is not None
    assert row.group(1) == escaping.escape(CLAIMS["A-C2"].statement) and row.group(2) == "contradicted"


def test_each_claims_rule_and_evidence_are_folded_beneath_the_grid():
    html = scorecard.as_html(_verdicts())
    details = re.findall(r"<details class='claim-detail' id='claim-([^']+)'[^>]*><summary>(.*?)</summary>(.*?)</details>",
                         html, re.S)
    assert [d[0] for d in details] == list(CLAIMS)
    summary, body = {d[0]: d[1:] for d in details}["A-C1"]
    assert escaping.escape(CLAIMS["A-C1"].statement) in summary and "supported" in summary
    assert escaping.escape(CLAIMS["A-C1"].rule.description) in body and "evidence of A-C1" in body
    assert "href='../notebooks/A-T1.html'" in body
    assert html.index("scorecard-grid") < html.index("claim-detail")
    assert "href='#claim-A-C1'" in html  # a cell links to its claim's detail


def test_a_verdict_with_intervals_shows_its_forest_on_the_front_page_and_in_its_page_box():
    import pandas as pd

    rows = [{"seed": s, "arm": arm, "unit": "", "metric": metric, "value": v + 0.01 * s * (arm == "single-stain")}
            for s in range(5) for metric in CLAIMS["A-C1"].rule.metrics
            for arm, v in (("single-stain", 1.0), ("multistain", 2.0))]
    table = pd.DataFrame(rows)
    front = scorecard.judge(CLAIMS["A-C1"], table, "synthetic data", "A-T1")
    assert front.status is Status.SUPPORTED and len(front.comparisons) == 2
    page = scorecard.verdict_box("A-C1", table, "synthetic data")
    assert (page.verdict.status, page.verdict.evidence) == (front.status, front.evidence)
    assert "<svg" in page._repr_html_()
    others = [v for v in _verdicts() if v.claim.id != "A-C1"]
    assert "<svg" in scorecard.as_html([front, *others]) and "<svg" not in scorecard.as_html(_verdicts())


def test_numbers_a_chapter_found_unable_to_decide_a_claim_are_undecidable_on_both_pages_and_still_shown():
    import pandas as pd

    rows = [{"seed": s, "arm": arm, "unit": "", "metric": "val_loss", "value": v + 0.01 * s}
            for s in range(5) for arm, v in (("ensemble", 0.5), ("single", 0.9))]
    why = "in 2 of 5 trials the ensemble's weights left the paper's rule"
    front = scorecard.judge(CLAIMS["C-C6"], pd.DataFrame(rows), "synthetic data", "C-T8", undecidable=why)
    page = scorecard.verdict_box("C-C6", pd.DataFrame(rows), "synthetic data", undecidable=why)
    assert front.status is page.verdict.status is Status.UNDECIDABLE
    assert front.evidence == page.verdict.evidence and front.evidence.startswith(why) and front.comparisons
    assert "Why this comparison:" in page._repr_html_() and "0.95" in page._repr_html_()


def test_the_book_redraws_a_pages_box_with_the_front_pages_verdict_and_leaves_other_outputs():
    verdicts = {v.claim.id: v for v in _verdicts()}
    page_box = scorecard.VerdictBox(Verdict(CLAIMS["A-C1"], Status.INCONCLUSIVE, "rule", "page's own numbers",
                                            "synthetic data", "A-T1"))
    outputs = [{"output_type": "display_data", "data": {"text/html": page_box._repr_html_(), "text/plain": "x"}},
               {"output_type": "stream", "text": "data: synthetic"},
               {"output_type": "display_data", "data": {"text/html": "<table></table>"}}]
    redrawn = scorecard.one_verdict(outputs, verdicts)
    box = redrawn[0]["data"]["text/html"]
    assert "data-status='supported'" in box and "evidence of A-C1" in box
    assert redrawn[0]["data"]["text/plain"].startswith("A-C1: supported")
    assert redrawn[1] == {"output_type": "stream", "text": "data: synthetic"}
    assert redrawn[2]["data"] == {"text/html": "<table></table>"}


def test_an_inconclusive_verdict_says_what_the_seeds_it_would_need_cost_at_the_pages_time_per_seed():
    import pandas as pd

    wobble = {s: 0.05 if s % 2 else -0.04 for s in range(5)}  # the frozen arm's seeds scatter around a small gain
    rows = [{"seed": s, "arm": arm, "unit": "", "metric": "val_loss", "value": v + wobble[s] * (arm == "frozen")}
            for s in range(5) for arm, v in (("frozen", 0.70), ("fine-tuned", 0.71))]
    verdict = scorecard.judge(CLAIMS["C-C5"], pd.DataFrame(rows), "synthetic data", "C-T7", minutes_per_seed=2.0)
    assert verdict.status is Status.INCONCLUSIVE
    need = max(c.seeds_needed for c in verdict.comparisons)
    assert f"about {need} paired seeds, would take about {2 * need:,} CPU-minutes" in verdict.evidence
    assert "CPU-minutes" not in scorecard.judge(CLAIMS["C-C5"], pd.DataFrame(rows), "synthetic data").evidence
