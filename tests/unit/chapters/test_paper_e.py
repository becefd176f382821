"""Paper E's demo pieces that can be checked without training: formulas against PyTorch, bookkeeping."""

import numpy as np
import pandas as pd
import pytest
import torch

from cpath_repro.chapters.paper_e import common, f1, k1_architecture, k3
from cpath_repro.models.small import SmallCNN


def test_feature_map_formula_matches_conv_and_pool_layers():
    sizes = k1_architecture.feature_map_sizes()
    assert (sizes.formula == sizes.conv2d).all()
    assert (sizes.formula_for_pool == sizes["maxpool2d (padding <= k/2)"]).all()
    assert (sizes.conv2d_maps == 8).all()  # the number of kernels sets the number of maps, not their size


def test_trace_of_the_small_cnn_matches_pytorch_layer_by_layer():
    trace = k1_architecture.trace_network(SmallCNN(width=4), 32)
    assert len(trace) == 6 and (trace.formula == trace.pytorch).all()
    assert trace.pytorch.tolist() == [32, 16, 16, 8, 8, 4]


def test_receptive_field_growth_table_agrees_with_autograd():
    fields = k1_architecture.receptive_field_growth(3)
    assert (fields.formula == fields.autograd).all()
    assert fields[fields.network == "conv3 per layer"].formula.tolist() == [3, 5, 7]


def test_with_matched_init_relu_keeps_the_gradient_and_sigmoid_loses_it():
    ratios = k1_architecture.vanishing_ratio(k1_architecture.activation_gradients(12, 32, seed=0))
    matched = ratios[ratios.init == k1_architecture.INITS[1]].set_index("activation").first_over_last
    assert matched["sigmoid"] < 0.01 * matched["ReLU"] and 0.1 < matched["ReLU"] < 10


def test_activation_derivatives_are_those_of_the_textbook():
    curves = k1_architecture.activation_curves()
    sigmoid = curves[curves.activation == "sigmoid"]
    assert sigmoid.derivative.max() == pytest.approx(0.25, abs=1e-6)
    relu = curves[curves.activation == "ReLU"]
    assert set(relu.derivative.round(6)) == {0.0, 1.0}


def test_undersampling_keeps_every_rare_example_and_as_many_of_each_class():
    y = torch.tensor([0] * 50 + [1] * 7 + [2] * 3)
    keep = k3._undersample(y, seed=0)
    assert np.bincount(y[keep].numpy()).tolist() == [3, 3, 3]
    assert set(np.flatnonzero(y.numpy() == 2)) <= set(keep.tolist())


def test_imbalance_run_stops_with_a_sentence_when_a_class_is_missing(monkeypatch):
    monkeypatch.setattr(k3, "IMBALANCE", (1.0, 0.0, 0.0))
    with pytest.raises(ValueError, match="hold no 'elongated, fragmented' crop"):
        k3.run(40, 1, 1)


def test_epochs_for_keeps_optimizer_steps_comparable():
    assert common.epochs_for(200, 32 * 200) == 1
    steps = [common.epochs_for(200, n) * -(-n // common.BATCH) for n in (20, 60, 200, 600)]
    assert max(steps) / min(steps) < 1.1  # a set smaller than a batch is one step per epoch


def test_degradation_is_the_drop_from_most_to_fewest_crops():
    results = pd.DataFrame({"workflow": ["a"] * 4 + ["b"] * 4, "n_train": [10, 10, 100, 100] * 2,
                            "seed": [0, 1] * 4, "accuracy": [0.5, 0.7, 0.9, 0.9, 0.8, 0.8, 0.85, 0.85]})
    table = f1.degradation(results).set_index("workflow")
    assert table.accuracy_lost.to_dict() == pytest.approx({"a": 0.3, "b": 0.05})
    assert table["accuracy_100_crops"]["a"] == pytest.approx(0.9)


def test_mean_sd_over_seeds():
    frame = pd.DataFrame({"arm": ["x", "x", "y"], "v": [1.0, 3.0, 5.0]})
    out = common.mean_sd(frame, "arm", ["v"]).set_index("arm")
    assert out.v_mean.tolist() == [2.0, 5.0] and out.v_sd["x"] == pytest.approx(np.sqrt(2)) and out.v_sd["y"] == 0.0


def test_the_synthetic_nuclei_the_unet_trains_on_owe_nothing_to_the_real_evaluation_image():
    """E-K2's training images use the generator's own settings; the real mask is read only to score."""
    from cpath_repro.chapters.paper_e import k2
    from cpath_repro.data import nuclei as real_nuclei
    from cpath_repro.synth.nuclei import nuclei_image

    x, y = k2._nuclei_batch(2, 64, 5)
    for i in range(2):
        own = nuclei_image(64, 5 + i)
        assert torch.equal(y[i], torch.from_numpy(own.labels > 0).long())
        assert torch.equal(x[i, 0], torch.from_numpy(real_nuclei.percentile_normalize(own.image)))
