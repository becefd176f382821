"""Tables as shown: fixed decimals per column, named columns, mean ± sd in one column, paper beside ours."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from cpath_repro.results import tables


def _cells(html: str) -> list[list[str]]:
    rows = re.findall(r"<tr>(.*?)</tr>", html, re.S)
    return [[re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", r, re.S)] for r in rows]


def test_fixed_decimals_per_column_readable_names_and_mean_sd_in_one_column():
    frame = pd.DataFrame({"arm": ["plain", "weighted"], "recall_round_mean": [0.91234, 1.0],
                          "recall_round_sd": [0.01, np.nan], "ece": [0.12345, 0.2], "steps": [100, 2000],
                          "matches": [True, False]})
    shown = _cells(tables.readable(frame, decimals={"recall_round": 2, "ece": 4}).to_html())
    assert shown[0] == ["arm", "recall round", "ece", "steps", "matches"]  # no index column, no underscores
    assert shown[1] == ["plain", "0.91 ±\u00a00.01", "0.1235", "100", "yes"]
    assert shown[2] == ["weighted", "1.00 ±\u00a00.00", "0.2000", "2,000", "no"]


def test_numbers_are_right_aligned_and_text_left_aligned():
    html = tables.readable(pd.DataFrame({"assay": ["H&E"], "error": [0.5]}), names={"error": "mean error (OD)"}).to_html()
    ids = dict(re.findall(r'<td id="(T_\w+_row0_col\d)"[^>]*>([^<]*)</td>', html))
    styles = re.findall(r"(#T_\w+_row0_col\d)[^{]*\{([^}]*)\}", html)
    align = {ids[sel.lstrip("#")]: body for sel, body in styles if sel.lstrip("#") in ids}
    assert "right" in align["0.500"] and "left" in align["H&E"]
    assert "mean error (OD)" in html and "padding" in html  # named, and the columns do not run together


def test_paper_beside_ours_under_each_arm_with_the_caption_its_maker_set():
    per_seed = pd.DataFrame({"seed": [0, 1, 0, 1], "arm": ["unet", "unet", "cd-unet", "cd-unet"],
                             "metric": ["tumour"] * 4, "value": [0.5, 0.7, 0.8, 0.8]})
    table = tables.paper_vs_ours(per_seed, {"unet": {"tumour": 0.52}, "cd-unet": {"tumour": 0.88}}, "metric")
    assert tables.arms(table) == ["unet", "cd-unet"]
    assert table.loc[0, "unet: ours_mean"] == 0.6 and table.loc[0, "cd-unet: ours_sd"] == 0.0
    table.attrs["caption"] = "F1 per class (synthetic data)"
    shown = _cells(tables.readable(table, decimals=2).to_html())
    assert shown[0] == ["", "unet", "cd-unet"]  # the group header spans its two columns
    assert shown[1] == ["metric", "paper", "ours", "paper", "ours"]
    assert shown[2] == ["tumour", "0.52", "0.60 ±\u00a00.14", "0.88", "0.80 ±\u00a00.00"]
    assert "<caption>F1 per class (synthetic data)</caption>" in tables.readable(table).to_html()


def test_a_pivot_table_keeps_its_rows_and_its_column_levels():
    long = pd.DataFrame({"seed": [0, 0, 1, 1], "arm": ["a", "b", "a", "b"], "value": [1.0, 2.0, 3.0, 4.0]})
    pivot = long.pivot_table(index="seed", columns="arm", values="value")
    shown = _cells(tables.readable(pivot, decimals=1, index=True).to_html())
    assert shown[0] == ["seed", "a", "b"] and shown[1] == ["0", "1.0", "2.0"]


def test_the_papers_values_show_as_printed_whatever_the_pages_decimals():
    table = pd.DataFrame({"model": ["vanilla CNN", "ResNet"], "val loss: paper": [0.9723, 1.0963],
                          "val loss: ours_mean": [0.97114, 1.2], "val loss: ours_sd": [0.01, 0.02],
                          "paper_mean": [90.44, 88.0], "paper_sd": [0.5, 1.25]})
    shown = _cells(tables.readable(table, decimals={"val loss: paper": 2, "val loss: ours": 2, "paper": 1}).to_html())
    # the paper printed a mean and an sd: two columns, not our "±"
    assert shown[2] == ["vanilla CNN", "0.9723", "0.97 ±\u00a00.01", "90.44", "0.5"]
    assert shown[3] == ["ResNet", "1.0963", "1.20 ±\u00a00.02", "88", "1.25"]
    assert tables.is_paper_column("unet: paper") and tables.is_paper_column("paper memory (MiB)")
    assert not tables.is_paper_column("paperless") and not tables.is_paper_column("ours")


def test_a_claim_metric_reads_as_its_words_in_a_page_table():
    from cpath_repro.notebook import readable

    table = pd.DataFrame({"metric": ["f1_tumour"], "stain_od_angle_deg": [12.5]})
    shown = _cells(readable(table).to_html())
    assert shown[0] == ["metric", "angle between a filter's optimal colour and the nearest stain's colour (°)"]
    assert shown[1] == ["test F1 of the tumour class", "12.500"]  # F1, its unit, is in its words already


def test_a_pivot_by_metric_names_each_metric_in_words_over_its_arms():
    from cpath_repro.notebook import readable

    long = pd.DataFrame({"seed": [0, 0, 0, 0], "metric": ["f1_tumour"] * 2 + ["stain_od_angle_deg"] * 2,
                         "arm": ["trained", "untrained"] * 2, "value": [0.5, 0.4, 10.0, 20.0]})
    shown = _cells(readable(long.pivot_table(index="seed", columns=["metric", "arm"], values="value"),
                            index=True).to_html())
    assert shown[0][1:] == ["test F1 of the tumour class",
                            "angle between a filter's optimal colour and the nearest stain's colour (°)"]
    assert shown[1][-4:] == ["trained", "untrained", "trained", "untrained"]
