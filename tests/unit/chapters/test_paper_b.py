"""Paper B's recipe: accuracy in percent, splits by source image, paired seeds through transfer, the claim tables."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import torch

from cpath_repro.chapters.paper_b import analysis, data, training
from cpath_repro.chapters.paper_b.notebooks import NOTEBOOKS
from cpath_repro.chapters.paper_b.settings import Settings
from cpath_repro.claims import registry
from cpath_repro.claims.metrics import paper_b as metrics
from cpath_repro.claims.rules import Status
from cpath_repro.data.histokt import SourceDataset, SourceImage
from cpath_repro.errors import ParameterError

CI = Settings.of_profile("ci")


def test_top1_is_in_percent_and_multilabel_counts_the_top_class_among_the_labels():
    logits = torch.tensor([[2.0, 1.0, 0.0], [0.0, 3.0, 1.0], [0.0, 1.0, 5.0], [4.0, 0.0, 0.0]])
    assert training.top1_percent(logits, torch.tensor([0, 1, 0, 0])) == pytest.approx(75.0)
    multi = torch.tensor([[1, 1, 0], [1, 0, 0], [0, 1, 1], [0, 0, 1]], dtype=torch.float32)
    assert training.top1_percent(logits, multi) == pytest.approx(50.0)  # rows 1 and 3: top class not a label
    assert metrics.TOP1_ACCURACY == training.TOP1


def _dataset(name: str, n: int, split: str | None = None) -> SourceDataset:
    images = [SourceImage(f"{i}.png", (0,), split, lambda: np.zeros((4, 4, 3), np.uint8)) for i in range(n)]
    return SourceDataset(name, ("a", "b"), 1.0, False, images)


def test_splits_are_drawn_by_source_image_in_table_1_shares_each_split_non_empty():
    splits = data.assign_splits(_dataset("BACH", 40), seed=0)
    counts = {k: splits.count(k) for k in data.SPLITS}
    assert counts == {"train": 16, "val": 4, "test": 20}  # Table 1: 958 / 240 / 1199
    assert data.assign_splits(_dataset("BACH", 40), seed=0) == splits  # deterministic
    assert data.assign_splits(_dataset("BACH", 40), seed=1) != splits
    tiny = data.assign_splits(_dataset("BACH", 3), seed=0)
    assert sorted(tiny) == ["test", "train", "val"]


def test_a_published_train_test_split_is_kept_and_validation_drawn_from_training_images():
    published = _dataset("MHIST", 10, "train")
    images = list(published.images) + [dataclasses.replace(published.images[0], id="t.png", split="test")]
    splits = data.assign_splits(dataclasses.replace(published, images=images), seed=0)
    assert splits[-1] == "test" and "val" in splits[:-1] and splits.count("test") == 1


def test_crops_of_one_source_image_never_sit_in_two_splits():
    prepared = data.prepare(CI, "BACH", 0)  # 6 crops per image
    owners = {split: set(c.sources.tolist()) for split, c in prepared.splits.items()}
    assert not (owners["train"] & owners["val"]) and not (owners["train"] & owners["test"])
    assert not (owners["val"] & owners["test"])
    assert prepared.counts["made"] == 6 * prepared.counts["images"]


def test_seeds_stay_paired_through_transfer_and_the_source_model_is_in_the_key():
    deep = training.tuned(CI, "BACH", 0, training.Start("baseline", ("GlaS",)), "deep", progress=False)
    start = deep.stored.meta["config"]["start"]
    assert start["kind"] == "baseline" and start["source"] == "GlaS"
    assert start["key"] == training.baseline(CI, "GlaS", 0, progress=False).key
    assert deep.stored.meta["config"]["seed"] == 0
    assert 0.0 <= deep.test <= 100.0


def test_fine_tuning_trains_the_head_only_and_keeps_the_encoders_statistics():
    model = training.backbones.build("resnet18", "none", 3, seed=0).model
    fine = training.FineTuned(model).train()
    before = {k: v.clone() for k, v in model.state_dict().items() if not k.startswith("fc.")}
    optimizer = torch.optim.SGD([p for p in fine.parameters() if p.requires_grad], lr=0.1)
    torch.nn.functional.cross_entropy(fine(torch.rand(4, 3, 32, 32)), torch.tensor([0, 1, 2, 0])).backward()
    optimizer.step()
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before), "the frozen encoder changed"
    assert [n for n, p in fine.named_parameters() if p.requires_grad] == ["model.fc.weight", "model.fc.bias"]


def _single(rows: list[tuple[int, str, str, str, float, float]]) -> pd.DataFrame:
    return pd.DataFrame([{"seed": s, "source": a, "target": b, "arm": arm, "val": v, "test": t, "chance": 25.0,
                          "key": ""} for s, a, b, arm, v, t in rows])


SINGLE = _single([
    (0, "BACH", "BACH", "baseline", 50, 60), (1, "BACH", "BACH", "baseline", 52, 58),
    (0, "ADP", "BACH", "deep-tuned", 70, 55), (1, "ADP", "BACH", "deep-tuned", 71, 57),
    (0, "CRC", "BACH", "deep-tuned", 60, 90), (1, "CRC", "BACH", "deep-tuned", 61, 91),
])


def test_the_best_source_is_ranked_on_validation_never_on_test():
    assert analysis.best_source(SINGLE) == "ADP"  # CRC has the better test accuracy, ADP the better validation


def test_b_c1_pairs_the_deep_tuned_target_with_its_own_baseline_per_trial():
    table = analysis.pair_claim(SINGLE, ("ADP",))
    assert set(table.unit) == {"ADP → BACH"} and set(table.arm) == {"deep-tuned", "baseline"}
    base = table[table.arm == "baseline"].set_index("seed").value
    assert base.to_dict() == {0: 60, 1: 58}
    rule = registry.get("B-C1").rule
    assert rule.evaluate(table).status is Status.UNDECIDABLE  # two trials: the rule needs three


def test_b_c4_compares_two_stage_with_single_stage_transfer_from_the_same_source():
    two = _single([(seed, source, "BACH", "two-stage", 0, value) for seed in (0, 1, 2)
                   for source, value in (("ADP", 62 + seed), ("OS", 99))]
                  + [(seed, "BACH", "BACH", "pretrained", 0, 40) for seed in (0, 1, 2)])
    single = _single([(seed, "ADP", "BACH", "deep-tuned", 0, 60 + 2 * seed) for seed in (0, 1, 2)]
                     + [(seed, "BACH", "BACH", "baseline", 0, 10) for seed in (0, 1, 2)])
    table = analysis.two_stage_claim(two, single)
    assert set(table.arm) == {"two-stage", "single-stage"} and set(table.unit) == {"BACH"}
    by_arm = table.pivot(index="seed", columns="arm", values="value")
    assert by_arm["single-stage"].tolist() == [60, 62, 64]  # never the random-init baseline (10)
    assert by_arm["two-stage"].tolist() == [62, 63, 64]  # OS has no single-stage cell in this run: left out
    assert set(table.chance) == {25.0}


def test_a_baseline_still_improving_makes_the_comparisons_with_it_undecidable_and_is_named():
    settled = SINGLE.assign(plateaued=True)
    assert analysis.baselines_unsettled(settled, ["BACH"]) is None
    climbing = settled.copy()
    climbing.loc[(climbing.arm == "baseline") & (climbing.seed == 1), "plateaued"] = False
    why = analysis.baselines_unsettled(climbing, ["BACH"])
    assert why is not None and "BACH (trial 1)" in why
    assert analysis.baselines_unsettled(climbing, ["MHIST"]) is None  # only the targets asked about


def test_pairs_into_a_target_whose_baseline_still_improves_are_left_out_and_named():
    two = pd.concat([SINGLE, SINGLE.assign(target="MHIST", source=SINGLE.source.replace("BACH", "MHIST"))],
                    ignore_index=True).assign(plateaued=True)
    claim = analysis.pair_claim(two, ("ADP", "CRC"))
    assert set(claim.unit) == {"ADP → BACH", "CRC → BACH", "ADP → MHIST", "CRC → MHIST"}
    every = analysis.settled_pairs(claim, two)
    assert every.undecidable is None and len(every.table) == len(claim)
    two.loc[(two.arm == "baseline") & (two.target == "MHIST") & (two.seed == 1), "plateaued"] = False
    some = analysis.settled_pairs(claim, two)
    assert set(some.table.unit) == {"ADP → BACH", "CRC → BACH"} and some.undecidable is None
    assert "ADP → MHIST, CRC → MHIST" in some.note and "MHIST (trial 1)" in some.note
    two.loc[(two.arm == "baseline") & (two.target == "BACH"), "plateaued"] = False
    none = analysis.settled_pairs(claim, two)
    assert none.undecidable is not None and "BACH (trial 0, 1)" in none.undecidable
    assert len(none.table) == len(claim)  # the numbers are still shown


def test_validation_curves_are_read_back_per_epoch():
    curves = analysis.validation_curves(SINGLE.assign(curve="10.00 20.50 21.00").head(1))
    assert curves.value.tolist() == [10.0, 20.5, 21.0] and curves.epoch.tolist() == [1, 2, 3]


def test_b_c5_single_source_is_the_constituent_best_on_validation_in_each_trial():
    distilled = pd.DataFrame([{"seed": s, "source": "ADP + CRC", "target": "BACH", "arm": "distilled", "val": 0,
                               "test": 80, "chance": 25.0, "key": ""} for s in (0, 1)])
    table = analysis.distillation_claim(distilled, SINGLE, [("ADP", "CRC")])
    single = table[table.arm == "single-source"].set_index("seed").value
    assert single.to_dict() == {0: 55, 1: 57}  # ADP's test accuracy: ADP wins on validation


def test_b_t4_and_the_matrix_keep_paper_and_ours_apart():
    cells = analysis.matrix(SINGLE, {("ADP", "BACH"): (93.11, 0.05), ("BACH", "BACH"): (90.44, 0.5)})
    adp = cells[(cells.source == "ADP") & (cells.target == "BACH")].iloc[0]
    assert adp.ours_mean == pytest.approx(56.0) and adp.paper_mean == pytest.approx(93.11)
    assert bool(adp.ours_better) is False and bool(adp.paper_better) is True and bool(adp.agree) is False


def test_disentanglement_rewards_separated_classes():
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1, 2], 20)
    apart = np.eye(3)[labels] * 5 + rng.normal(0, 0.1, (60, 3))
    mixed = rng.normal(0, 1, (60, 3))
    good, bad = analysis.disentanglement(apart, labels), analysis.disentanglement(mixed, labels)
    assert good[metrics.KNN_ACCURACY] > 90 > bad[metrics.KNN_ACCURACY]
    assert good[metrics.SILHOUETTE] > 0.5 > bad[metrics.SILHOUETTE]


def test_grad_cam_reads_a_map_of_at_least_four_cells_a_side():
    model = training.backbones.build("resnet18", "none", 2, seed=0).model
    assert analysis.cam_layer(model, 32)[0] == "layer2"
    assert analysis.cam_layer(model, 272)[0] == "layer4"


def test_a_cell_the_claims_need_is_refused_before_any_work():
    spec = NOTEBOOKS[0]
    with pytest.raises(ParameterError, match="sources must include ADP"):
        spec.resolve("ci", {"sources": "CRC,GlaS", "distilled": "CRC+GlaS"})
    with pytest.raises(ParameterError, match="must be made of sources"):
        spec.resolve("ci", {"distilled": "ADP+CRC"})
    with pytest.raises(ParameterError, match="unknown dataset 'ImageNet'"):
        spec.resolve("ci", {"sources": "ADP,ImageNet"})
    with pytest.raises(ParameterError, match="pretrained_targets must include BACH"):
        spec.resolve("ci", {"targets": "BACH,MHIST", "pretrained_targets": "MHIST"})
    with pytest.raises(ParameterError, match="must be among the targets"):
        spec.resolve("ci", {"pretrained_targets": "BACH,PCam"})


def test_a_target_without_its_diagonal_is_shown_uncoloured_not_as_worse():
    staged = SINGLE[SINGLE.source != SINGLE.target]  # the cells, without the targets' own models
    cells = analysis.matrix(staged, {})
    assert len(cells) and cells.ours_better.isna().all()


def test_b_c5s_tolerance_is_in_percentage_points_so_a_real_loss_fails_it():
    def table(distilled: float, single: float) -> pd.DataFrame:
        spread = (0.0, 0.1, -0.1)  # the seeds differ a little: a difference of zero width decides nothing
        return pd.DataFrame([{"seed": s, "arm": arm, "unit": "ADP + CRC", "metric": metrics.TOP1_ACCURACY,
                              "value": v + (spread[s] if arm == "distilled" else 0.0)}
                             for s in range(3) for arm, v in (("distilled", distilled), ("single-source", single))])

    rule = registry.get("B-C5").rule
    assert rule.evaluate(table(89.5, 90.0)).status is Status.SUPPORTED  # within 1 point: "matches"
    assert rule.evaluate(table(85.0, 90.0)).status is Status.CONTRADICTED  # 5 points worse
    # the same loss as a fraction (0.85 vs 0.90) would pass: accuracies must be percent, as training.score gives
    assert rule.evaluate(table(0.85, 0.90)).status is Status.SUPPORTED


def test_a_synthetic_test_split_holds_at_most_twice_the_training_crops():
    from cpath_repro.synth import histokt as synthetic

    pcam = data.prepare(CI, "PCam", 0)  # Table 1 puts 93 % of PCam's patches in test
    assert len(pcam.splits["test"]) <= data.SYNTHETIC_TEST_CAP * synthetic.training_crops(CI.large_crops)["PCam"]
    assert len(pcam.splits["train"]) > 0 and len(pcam.splits["val"]) > 0


def test_on_real_data_an_absent_dataset_is_skipped_and_named(tmp_path):
    (tmp_path / "ADP" / "img_res_1um_bicubic").mkdir(parents=True)
    (tmp_path / "BACH" / "Benign").mkdir(parents=True)
    real = dataclasses.replace(CI, data_root=tmp_path, sources=("ADP", "GlaS"), distilled=(("ADP", "GlaS"),))
    kept, absent = analysis.usable(real)
    assert kept.sources == ("ADP",) and kept.targets == ("BACH",) and kept.distilled == ()
    assert absent == ["GlaS"]
    assert analysis.usable(CI) == (CI, [])  # synthetic data: every dataset is there


def test_the_papers_matrices_are_shown_whole_with_the_digits_it_printed():
    from cpath_repro.chapters.paper_b import paper

    shown = analysis.paper_matrix(paper.B_T2).set_index("source")
    assert shown.loc["ADP", "MHIST"] == "78.74 (1.39)" and shown.loc["ADP", "ADP"] == "93.56 (0.4)"
    assert shown.notna().all().all() and len(shown) == len({s for s, _ in paper.B_T2})


def test_epochs_to_plateau_is_where_every_longer_budget_stays_levelled_off():
    climbing = [10.0, 20.0, 30.0, 40.0]
    assert analysis.epochs_to_plateau(climbing, 1.0) is None  # still rising at its end
    flat_then_learning = [50.0, 50.0, 50.0, 60.0, 70.0, 80.0]
    assert analysis.epochs_to_plateau(flat_then_learning, 1.0) is None  # flat at the start is not levelled off
    peaks_then_falls = [10.0, 30.0, 50.0, 50.0, 45.0, 44.0, 43.0, 43.0]
    assert analysis.epochs_to_plateau(peaks_then_falls, 1.0) == 4  # the best epoch is kept: a fall costs nothing
    settles = [10.0, 50.0, 40.0, 50.0, 49.5, 50.0, 50.0, 52.0]
    assert analysis.epochs_to_plateau(settles, 1.0) is None  # a new best by 2 points at its end
    assert analysis.epochs_to_plateau(settles, 2.5) == 3  # ... within one crop of a 40-crop validation split
    assert all(analysis.plateaued(settles[:e], analysis.PLATEAU_TAIL, 2.5) for e in range(3, 9))


def test_the_plateau_tolerance_is_one_validation_crop_and_at_least_one_point():
    assert analysis.plateau_points(30) == pytest.approx(100 / 30)
    assert analysis.plateau_points(400) == analysis.PLATEAU_MIN_POINTS


def test_baselines_and_tuning_share_one_epochs_parameter():
    s = Settings.of_profile("ci")
    assert "epochs" in {f.name for f in dataclasses.fields(s)}
    assert "tune_epochs" not in {f.name for f in dataclasses.fields(s)}


def test_a_synthetic_dataset_is_drawn_once_for_every_notebook_and_read_back_whole(tmp_path, monkeypatch):
    monkeypatch.setenv(data.CROPS_ENV, str(tmp_path))
    data.prepare.cache_clear()  # a new kernel
    drawn = data.prepare(CI, "BACH", 0)
    data.prepare.cache_clear()
    monkeypatch.setattr(data, "_prepared", lambda *a: pytest.fail("drawn again instead of read from disk"))
    read = data.prepare(CI, "BACH", 0)
    assert (read.name, read.classes, read.counts, read.skipped) == (drawn.name, drawn.classes, drawn.counts,
                                                                    drawn.skipped)
    for split, crops in drawn.splits.items():
        for field in ("images", "labels", "sources", "regions"):
            np.testing.assert_array_equal(getattr(read.splits[split], field), getattr(crops, field))
    data.prepare.cache_clear()
