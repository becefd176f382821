"""A verdict in words: who is ahead, by how much, in what; the card with the paper's citation; metrics named once."""

from __future__ import annotations

import pickle

import pandas as pd

from cpath_repro.claims import card, scorecard
from cpath_repro.claims.metrics import METRICS
from cpath_repro.claims.metrics.paper_a import F1
from cpath_repro.claims.metrics.paper_d import MAX_RELATIVE_GRADIENT_ERROR
from cpath_repro.claims.registry import CLAIMS, Claim
from cpath_repro.claims.rules import Dominates, Status

#: A-C3 narrowed to the tumour class: one comparison
TUMOUR = Claim("A-X", "A", "CD-UNET beats UNET on tumour.", Dominates("cd-unet", "unet", F1[1]))


def _table(arms: dict[str, float], metrics: tuple[str, ...], spread: float = 0.01) -> pd.DataFrame:
    return pd.DataFrame([{"seed": s, "arm": arm, "unit": "", "metric": m, "value": v + spread * s * (i == 0)}
                         for s in range(5) for m in metrics for i, (arm, v) in enumerate(arms.items())])


def test_one_comparison_says_who_is_ahead_by_how_much_in_what_with_its_interval():
    table = _table({"cd-unet": 0.82, "unet": 0.80}, (F1[1],))
    v = scorecard.judge(TUMOUR, table, "synthetic data", "A-T2")
    text = card.headline(v)
    assert text.startswith("CD-UNET ahead of UNET by 0.040 F1 in test F1 of the tumour class — 95 % interval +0.")
    assert "+ favouring CD-UNET; 5 paired seeds" in text
    assert "f1_tumour" not in text


def test_the_other_side_ahead_is_said_so_and_lower_is_better_is_stated():
    claim = CLAIMS["D-C4"]  # end-to-end should have fewer isolated false tumour points than the classifier alone
    table = _table({"end-to-end": 12.0, "classifier-only": 5.0}, ("isolated_false_tumour_points",), 1.0)
    v = scorecard.judge(claim, table, "synthetic data", "D-F5")
    text = card.headline(v)
    assert v.status is Status.CONTRADICTED
    assert text.startswith("The classifier alone ahead of end-to-end learning by 9.0 points in isolated false tumour "
                           "points on the test slides, lower being better")
    assert "+ favouring end-to-end learning" in text


def test_many_comparisons_are_counted_and_the_weakest_named():
    claim = CLAIMS["A-C2"]  # three classes
    metrics = (F1[0], F1[1], F1[3])
    table = _table({"he-only": 0.9, "multistain": 0.8}, metrics)
    text = card.headline(scorecard.judge(claim, table, "synthetic data", "A-T1"))
    assert text.startswith("The claim's side is ahead in 3 of 3 comparisons, 3 for it by their intervals. "
                           "The weakest for the claim: the H&E-only model ahead of multistain training by")
    face = card.headline(scorecard.judge(claim, table, "synthetic data", "A-T1"), short=True)
    assert face.startswith("The claim's side is ahead in 3 of 3 comparisons, 3 for it by their intervals. Weakest: "
                           "the H&E-only model ahead of multistain training by")  # the card's face has a number too
    assert "(95 % interval +" in face and face.endswith(", + for the claim).")


def test_the_card_cites_the_paper_links_its_papers_entry_and_folds_the_rule():
    v = scorecard.judge(TUMOUR, _table({"cd-unet": 0.82, "unet": 0.80}, (F1[1],)), "synthetic data", "A-T2")
    html = card.card(v, "../book/index.html")
    assert "Lahiani et al., paper A" in html and "href='../book/index.html#paper-A'" in html
    assert html.index("We measured:") < html.index("<details>") < html.index("Rule:")
    assert "synthetic data" in html and "5 paired seeds" in html  # its flags


def test_a_metric_is_a_key_everywhere_a_key_is_expected_and_keeps_its_words_through_pickle():
    assert F1[1] == "f1_tumour" and {F1[1]: 1}["f1_tumour"] == 1
    assert METRICS["f1_tumour"].words == "test F1 of the tumour class"
    copy = pickle.loads(pickle.dumps(MAX_RELATIVE_GRADIENT_ERROR))
    assert copy == MAX_RELATIVE_GRADIENT_ERROR and copy.amount(7.4e-8) == "7.4e−08"
    assert METRICS["top1_accuracy"].gap(-1.25) == "1.2 percentage points"
