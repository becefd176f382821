import numpy as np
import pytest
from torch import nn

from cpath_repro.concepts import networks, uncertainty


@pytest.mark.parametrize("layers", [[(3, 1)] * 4, [(3, 1), (2, 2)] * 3, [(5, 1), (3, 2), (3, 1)], [(7, 2), (3, 2)]])
def test_receptive_field_calculator_matches_gradients(layers):
    assert networks.receptive_field(layers) == networks.receptive_field_by_gradient(layers)


@pytest.mark.parametrize(("n", "k", "s", "p"), [(32, 3, 1, 1), (32, 3, 2, 0), (31, 5, 2, 2), (17, 7, 3, 1)])
def test_feature_map_size_formula_matches_a_real_layer(n, k, s, p):
    import torch

    out = nn.Conv2d(1, 1, k, stride=s, padding=p)(torch.zeros(1, 1, n, n))
    assert networks.feature_map_size(n, k, s, p) == out.shape[-1]


def test_dense_layer_gradients_agree_three_ways():
    g = networks.dense_layer_gradients(seed=3)
    assert g["hand_vs_autograd"] < 1e-12 and g["autograd_vs_finite_differences"] < 1e-8
    assert g["gradient_scale"] > 1e-4  # the agreement is not that of two zeros


def test_plain_deep_relu_net_loses_gradient_the_residual_one_keeps_it():
    import torch

    x, y = torch.randn(64, 64), torch.randint(0, 3, (64,))
    torch.manual_seed(0)
    plain = networks.gradient_norms(networks.deep_net(30, 32), x, y)
    torch.manual_seed(0)
    residual = networks.gradient_norms(networks.deep_net(30, 32, residual=True), x, y)
    assert plain[0] < 1e-3 * plain[-1] and residual[0] > 0.01 * residual[-1]


def test_conformal_coverage_on_a_known_distribution():
    """Labels drawn from the predicted probabilities themselves: split conformal must cover 1 - alpha."""
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(4), size=4000)
    labels = np.array([rng.choice(4, p=p) for p in probs])
    for alpha in (0.1, 0.05):
        result = uncertainty.conformal_coverage(probs, labels, alpha, repeats=50)
        assert abs(result["coverage_mean"] - (1 - alpha)) < 0.015


def test_ece_zero_for_calibrated_and_large_for_overconfident():
    rng = np.random.default_rng(1)
    probs = rng.dirichlet(np.ones(3) * 0.5, size=20000)
    labels = np.array([rng.choice(3, p=p) for p in probs])
    calibrated, _ = uncertainty.expected_calibration_error(probs, labels)
    overconfident = np.eye(3)[probs.argmax(1)] * 0.999 + 0.0005
    bad, _ = uncertainty.expected_calibration_error(overconfident, labels)
    assert calibrated < 0.02 and bad > 0.15


def test_mc_dropout_averages_stochastic_passes_and_restores_eval_mode():
    import torch

    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Dropout(0.5), nn.Linear(16, 3))
    probs = uncertainty.mc_dropout_probabilities(model, torch.randn(8, 4), passes=10)
    np.testing.assert_allclose(probs.sum(1), 1, atol=1e-6)
    assert not any(m.training for m in model.modules())
