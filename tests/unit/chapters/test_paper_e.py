"""Paper E's demo pieces that can be checked without training: formulas against PyTorch, bookkeeping, and the
summaries and metric names its pages quote."""

import numpy as np
import pandas as pd
import pytest
import torch
from matplotlib.figure import Figure

from cpath_repro import seeds
from cpath_repro.chapters.paper_e import analysis, data, families, figures, training
from cpath_repro.models.small import SmallCNN


def test_feature_map_formula_matches_conv_and_pool_layers():
    sizes = analysis.feature_map_sizes()
    assert (sizes.formula == sizes.conv2d).all()
    assert (sizes.formula_for_pool == sizes["maxpool2d (padding <= k/2)"]).all()
    assert (sizes.conv2d_maps == 8).all()  # the number of kernels sets the number of maps, not their size


def test_trace_of_the_small_cnn_matches_pytorch_layer_by_layer():
    trace = analysis.trace_network(SmallCNN(width=4), 32)
    assert len(trace) == 6 and (trace.formula == trace.pytorch).all()
    assert trace.pytorch.tolist() == [32, 16, 16, 8, 8, 4]


def test_feature_map_metrics_count_every_layer_and_only_the_matching_ones():
    sizes, trace = analysis.feature_map_sizes(), analysis.trace_network(SmallCNN(width=4), 32)
    checked = 2 * len(sizes) + len(trace)
    assert analysis.feature_map_metrics(sizes, trace) == {"feature_map_sizes_checked": checked,
                                                          "feature_map_sizes_matching": checked}
    wrong = sizes.assign(conv2d=sizes.conv2d.where(sizes.index != 0, -1))  # one convolution disagrees
    assert analysis.feature_map_metrics(wrong, trace)["feature_map_sizes_matching"] == checked - 1


def test_receptive_field_growth_table_agrees_with_autograd():
    fields = analysis.receptive_field_growth(3)
    assert (fields.formula == fields.autograd).all()
    assert fields[fields.network == "conv3 per layer"].formula.tolist() == [3, 5, 7]


def test_receptive_field_metrics_name_the_deepest_stacks():
    fields = analysis.receptive_field_growth(2)
    deepest = fields[fields.depth == 2].set_index("network").formula
    assert analysis.receptive_field_metrics(fields) == {
        "receptive_field_formula_matches_autograd": True,
        "receptive_field_depth_2_conv3": 5,
        "receptive_field_depth_2_conv3_pool": int(deepest["conv3 + pool2 per layer"]),
    }
    off = fields.assign(autograd=fields.autograd + (fields.depth == 1))
    assert analysis.receptive_field_metrics(off)["receptive_field_formula_matches_autograd"] is False


def test_with_matched_init_relu_keeps_the_gradient_and_sigmoid_loses_it():
    ratios = analysis.vanishing_ratio(analysis.activation_gradients(12, 32, seed=0))
    matched = ratios[ratios.init == analysis.INITS[1]].set_index("activation").first_over_last
    assert matched["sigmoid"] < 0.01 * matched["ReLU"] and 0.1 < matched["ReLU"] < 10


def test_vanishing_metrics_name_each_activation_and_initialization():
    ratios = pd.DataFrame({"init": [analysis.INITS[0], analysis.INITS[1]], "activation": ["tanh", "tanh"],
                           "first_layer": [1.0, 2.0], "last_layer": [4.0, 2.0], "first_over_last": [0.25, 1.0]})
    assert analysis.vanishing_metrics(ratios) == {"first_over_last_gradient_tanh_default_init": 0.25,
                                                  "first_over_last_gradient_tanh_matched_init": 1.0}


def test_activation_derivatives_are_those_of_the_textbook():
    curves = analysis.activation_curves()
    sigmoid = curves[curves.activation == "sigmoid"]
    assert sigmoid.derivative.max() == pytest.approx(0.25, abs=1e-6)
    relu = curves[curves.activation == "ReLU"]
    assert set(relu.derivative.round(6)) == {0.0, 1.0}


def test_gradient_check_metrics_are_the_table_under_underscored_names():
    checks = analysis.gradient_checks(seed=0)
    metrics = analysis.gradient_check_metrics(checks)
    assert list(metrics) == [q.replace(" ", "_") for q in checks.quantity]
    assert all(" " not in name for name in metrics) and list(metrics.values()) == checks.value.tolist()


def test_residual_gradients_reach_the_first_layer_and_plain_ones_vanish():
    norms = analysis.residual_gradients(depth=12, width=16, seed=0)
    first = norms[norms.layer == 1].set_index("network").gradient_norm
    assert first["residual"] > 100 * first["plain"]


def test_undersampling_keeps_every_rare_example_and_as_many_of_each_class():
    y = torch.tensor([0] * 50 + [1] * 7 + [2] * 3)
    keep = training.undersample(y, seed=0)
    assert np.bincount(y[keep].numpy()).tolist() == [3, 3, 3]
    assert set(np.flatnonzero(y.numpy() == 2)) <= set(keep.tolist())


def test_imbalance_run_stops_with_a_sentence_when_a_class_is_missing(monkeypatch):
    monkeypatch.setattr(training, "IMBALANCE", (1.0, 0.0, 0.0))
    with pytest.raises(ValueError, match="hold no 'elongated, fragmented' crop"):
        training.imbalance(40, 1, 1)


def test_epochs_for_keeps_optimizer_steps_comparable():
    assert training.epochs_for(200, 32 * 200) == 1
    steps = [training.epochs_for(200, n) * -(-n // training.BATCH) for n in (20, 60, 200, 600)]
    assert max(steps) / min(steps) < 1.1  # a set smaller than a batch is one step per epoch


def test_degradation_is_the_drop_from_most_to_fewest_crops():
    results = pd.DataFrame({"workflow": ["a"] * 4 + ["b"] * 4, "n_train": [10, 10, 100, 100] * 2,
                            "seed": [0, 1] * 4, "accuracy": [0.5, 0.7, 0.9, 0.9, 0.8, 0.8, 0.85, 0.85]})
    table = analysis.degradation(results).set_index("workflow")
    assert table.accuracy_lost.to_dict() == pytest.approx({"a": 0.3, "b": 0.05})
    assert table["accuracy, 100 crops"]["a"] == pytest.approx(0.9)


def test_mean_sd_over_seeds():
    frame = pd.DataFrame({"arm": ["x", "x", "y"], "v": [1.0, 3.0, 5.0]})
    out = analysis.mean_sd(frame, "arm", ["v"]).set_index("arm")
    assert out.v_mean.tolist() == [2.0, 5.0] and out.v_sd["x"] == pytest.approx(np.sqrt(2)) and out.v_sd["y"] == 0.0


# -- E-K1 (training) and E-K3: what the pages quote from the per-seed tables ----------------------------------------

def _per_seed(key: str, values: list, **columns: list) -> pd.DataFrame:
    """Two seeds per ``key`` value, in the order of the trainings' long tables."""
    return pd.DataFrame({key: [v for v in values for _ in (0, 1)], "seed": [0, 1] * len(values), **columns})


def test_fitting_summary_quotes_the_narrowest_and_widest_network():
    fit = _per_seed("width", [1, 256], parameters=[10, 10, 900, 900], train_accuracy=[0.4, 0.6, 1.0, 1.0],
                    val_accuracy=[0.3, 0.5, 0.7, 0.8], gap=[0.1, 0.1, 0.3, 0.2])
    summary = analysis.fitting_summary(fit)
    assert summary.metrics == pytest.approx({"train_accuracy_narrowest": 0.5, "gap_narrowest": 0.1,
                                             "train_accuracy_widest": 1.0, "gap_widest": 0.25})
    assert list(summary.table.columns[:2]) == ["width", "parameters"] and "parameters_sd" not in summary.table
    assert summary.table.parameters.tolist() == [10, 900]


def test_dropout_summary_names_a_gap_per_rate():
    drop = _per_seed("dropout", [0.0, 0.5], train_accuracy=[1.0] * 4, val_accuracy=[0.6, 0.8, 0.7, 0.9],
                     gap=[0.4, 0.2, 0.3, 0.1])
    assert analysis.dropout_summary(drop).metrics == pytest.approx({"gap_dropout_0.0": 0.3, "gap_dropout_0.5": 0.2})


def test_batch_norm_summary_reads_the_last_validation_of_each_curve():
    curves = pd.DataFrame({"arm": ["without batch norm"] * 2 + ["with batch norm"] * 2, "seed": [0] * 4,
                           "epoch": [1, 2, 1, 2], "train_loss": [1.0, 0.9, 1.0, 0.5],
                           "train_accuracy": [0.3, 0.5, 0.6, 0.9], "val_accuracy": [0.3, 0.4, 0.7, 0.8]})
    summary = analysis.batch_norm_summary(curves)
    assert summary.metrics == pytest.approx({"val_accuracy_without_batch_norm": 0.4,
                                             "val_accuracy_with_batch_norm": 0.8})
    assert summary.table.set_index("arm").gap_mean.to_dict() == pytest.approx({"without batch norm": 0.1,
                                                                                "with batch norm": 0.1})


def test_augmentation_summary_tells_plain_from_augmented():
    aug = _per_seed("arm", ["no augmentation", "mirroring + 90-degree rotations"], train_accuracy=[1.0] * 4,
                    val_accuracy=[0.5, 0.7, 0.8, 0.8], gap=[0.5, 0.3, 0.2, 0.2])
    assert analysis.augmentation_summary(aug).metrics == pytest.approx({"val_accuracy_plain": 0.6,
                                                                        "val_accuracy_augmented": 0.8})


def test_transfer_summary_names_each_arm_by_its_first_word_and_quotes_the_source():
    arms = ["from scratch", "fine-tuned from the shape CNN", "frozen shape features + new classifier"]
    transfer = _per_seed("arm", arms, val_accuracy=[0.4, 0.6, 0.7, 0.9, 0.5, 0.5],
                         source_accuracy=[0.9, 0.7] * 3)
    summary = analysis.transfer_summary(transfer)
    assert summary.metrics == pytest.approx({"target_accuracy_from": 0.5, "target_accuracy_fine-tuned": 0.8,
                                             "target_accuracy_frozen": 0.5, "source_accuracy": 0.8})
    assert summary.table.arm.tolist() == arms


def test_imbalance_summary_names_each_arm_and_the_rare_class_recall():
    results = _per_seed("arm", list(training.ARMS), training_crops=[100] * 8,
                        recall_round=[1.0] * 8, recall_elongated=[0.5] * 8,
                        recall_fragmented=[0.0, 0.2, 0.5, 0.5, 0.6, 0.6, 0.7, 0.9],
                        balanced_accuracy=[0.5, 0.6, 0.6, 0.7, 0.7, 0.7, 0.8, 0.8])
    summary = analysis.imbalance_summary(results)
    assert summary.metrics == pytest.approx({
        "balanced_accuracy_nothing": 0.55, "balanced_accuracy_undersampling": 0.65,
        "balanced_accuracy_oversampling": 0.7, "balanced_accuracy_class_weighted_loss": 0.8,
        "recall_fragmented_nothing": 0.1})
    assert analysis.IMBALANCE_SCORES == ("recall_round", "recall_elongated", "recall_fragmented", "balanced_accuracy")
    assert [f"{c}_mean" for c in analysis.IMBALANCE_SCORES] == list(summary.table.columns[1::2])


# -- E-K2 and E-K5: the metrics of a family's or a CNN's results ----------------------------------------------------

def test_denoising_metrics_name_each_psnr_by_method_and_images():
    table = pd.DataFrame([{"images": "synthetic test images", "noisy": 10.0, "gaussian_filter": 20.0,
                           "autoencoder": 25.0},
                          {"images": "real DSB 2018 image + the same noise", "noisy": 11.0, "gaussian_filter": 21.0,
                           "autoencoder": 19.0}])
    metrics = families.Denoising(table, 1.5, {}).metrics
    assert metrics == {"gaussian_sigma": 1.5, "psnr_noisy_synthetic": 10.0, "psnr_gaussian_filter_synthetic": 20.0,
                       "psnr_autoencoder_synthetic": 25.0, "psnr_noisy_real": 11.0, "psnr_gaussian_filter_real": 21.0,
                       "psnr_autoencoder_real": 19.0}
    assert list(metrics)[0] == "gaussian_sigma"


def test_gan_metrics_read_each_comparison_by_name_not_position():
    table = pd.DataFrame({"real crops vs": ["GAN crops", "untrained generator", "another set of real crops"],
                          "all features": [0.8, 1.0, 0.5], "shape features only": [0.6, 0.9, 0.52]})
    assert families.Generated(table, pd.DataFrame(), np.zeros(1), np.zeros(1)).metrics == {
        "two_sample_all_gan": 0.8, "two_sample_shape_gan": 0.6, "two_sample_shape_real": 0.52,
        "two_sample_shape_untrained": 0.9}


def test_tracking_metrics_follow_the_trackers_in_order():
    table = pd.DataFrame({"tracker": ["intensity centroid (per frame)", "CNN per frame", "CNN + GRU (memory)"],
                          "mean_error_px": [3.0, 2.0, 1.0], "last_frame_error_px": [3.0, 2.0, 1.0]})
    tracking = families.Tracking(table, pd.DataFrame(), np.zeros((1, 2, 2)), {})
    assert tracking.metrics == {"tracking_error_centroid": 3.0, "tracking_error_cnn": 2.0, "tracking_error_gru": 1.0}


def test_the_segmentation_table_is_its_metrics_in_one_row():
    unet = families.Segmentation({"real_dice": 0.7, "real_nuclei": 125}, np.zeros(1), np.zeros(1), np.zeros(1))
    assert unet.table.to_dict("records") == [{"real_dice": 0.7, "real_nuclei": 125}]


def test_the_real_nuclei_source_names_both_files_of_the_sample():
    root, files = families.real_nuclei_source()
    assert [f.parent for f in files] == [root, root] and [f.name for f in files] == ["img2d.tif", "mask2d.tif"]


def test_calibration_metrics_and_coverage_names():
    table = pd.DataFrame({"prediction": ["single pass", "MC dropout (5 passes)"], "accuracy": [0.8, 0.81],
                          "ECE": [0.12, 0.05]})
    conformal = pd.DataFrame({"alpha": [0.10, 0.05], "coverage_mean": [0.91, 0.96]})
    calibration = analysis.Calibration(table, conformal, {})
    assert calibration.metrics == {"ece_single": 0.12, "ece_mc_dropout": 0.05}
    assert calibration.coverage_metrics == {"coverage_at_90%": 0.91, "coverage_at_95%": 0.96}


def test_reliability_points_drop_the_bin_counts():
    points = figures.reliability_points([(0.5, 0.4, 10), (0.9, 0.95, 30)])
    assert points.tolist() == [[0.5, 0.4], [0.9, 0.95]]


def test_attribution_maps_title_each_crop_with_its_class_and_prediction():
    maps = np.zeros((2, 8, 8))
    examples = {"crops": maps, "objects": maps, "saliency": maps, "occlusion": maps,
                "classes": np.array(["round", "elongated"]), "predicted": np.array(["round", "fragmented"])}
    fig = figures.attribution_maps(examples)
    images = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    assert isinstance(fig, Figure) and len(images) == 8 and len(fig.axes) == 8 + 2  # a colour bar per row of maps
    assert [ax.get_title() for ax in fig.axes[:2]] == ["round\n(predicted round)", "elongated\n(predicted fragmented)"]


def test_fitting_curves_draw_training_and_validation_accuracy():
    fit = _per_seed("width", [1, 4], parameters=[1] * 4, train_accuracy=[0.5, 0.5, 0.9, 0.9],
                    val_accuracy=[0.4, 0.4, 0.6, 0.6], gap=[0.1, 0.1, 0.3, 0.3])
    ax = figures.fitting_curves(fit, title="t").axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["train_accuracy", "val_accuracy"]
    assert ax.lines[0].get_ydata().tolist() == [0.5, 0.9]


# -- data -----------------------------------------------------------------------------------------------------------

def test_the_synthetic_nuclei_the_unet_trains_on_owe_nothing_to_the_real_evaluation_image():
    """E-K2's training images use the generator's own settings; the real mask is read only to score."""
    from cpath_repro.data import nuclei as real_nuclei
    from cpath_repro.synth.nuclei import nuclei_image

    x, y = data.nuclei_batch(2, 64, 5)
    for i in range(2):
        own = nuclei_image(64, seeds.derive(5, i))
        assert torch.equal(y[i], torch.from_numpy(own.labels > 0).long())
        assert torch.equal(x[i, 0], torch.from_numpy(real_nuclei.percentile_normalize(own.image)))


def test_low_light_pairs_are_noisy_copies_of_the_expected_intensity():
    from cpath_repro.synth.nuclei import nuclei_image

    noisy, clean = data.low_light_pairs(2, 32, 7, photons=15.0)
    assert noisy.shape == clean.shape == (2, 32, 32)
    assert np.array_equal(clean[1], nuclei_image(32, seeds.derive(7, 1)).clean) and not np.array_equal(noisy, clean)


def test_e_f1_quotes_each_workflow_with_the_most_and_the_fewest_crops():
    results = pd.DataFrame([{"workflow": w, "n_train": n, "seed": s, "accuracy": a + 0.01 * s}
                            for w, base in ((training.CNN_WORKFLOW, 0.5), (training.FEATURES_WORKFLOW, 0.7))
                            for n, a in ((20, base), (200, base + 0.2)) for s in (0, 1)])
    quoted = analysis.degradation_summary(results).metrics
    assert quoted["cnn_accuracy_most_data"] == pytest.approx(0.705)
    assert quoted["cnn_accuracy_least_data"] == pytest.approx(0.505)
    assert quoted["features_accuracy_most_data"] == pytest.approx(0.905)
    assert quoted["features_accuracy_least_data"] == pytest.approx(0.705)


def test_accuracies_are_shown_in_percent_and_saved_as_fractions():
    table = pd.DataFrame({"arm": ["a"], "val_accuracy_mean": [0.875], "val_accuracy_sd": [0.05], "gap_mean": [0.1],
                          "recall_round_mean": [0.5], "accuracy, 100 crops": [0.9], "epochs_to_90pct_mean": [3.0]})
    shown = analysis.in_percent(table)
    assert shown.val_accuracy_mean[0] == pytest.approx(87.5) and shown.val_accuracy_sd[0] == pytest.approx(5.0)
    assert shown.gap_mean[0] == pytest.approx(10.0) and shown.recall_round_mean[0] == pytest.approx(50.0)
    assert shown["accuracy (%), 100 crops"][0] == pytest.approx(90.0) and shown.epochs_to_90pct_mean[0] == 3.0
    assert table.val_accuracy_mean[0] == 0.875, "the table to save is unchanged"
    assert analysis.COLUMNS["val_accuracy"].endswith("(%)") and analysis.COLUMNS["gap"].endswith("(points)")
