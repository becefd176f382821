"""Paper C's ensemble (section 12, C-T8): weights (0.95 - validation loss), clipped at 0, and the weighted average."""

import numpy as np
import pytest

from cpath_repro.chapters.paper_c.ensemble import LOSS_CEILING, combine, ensemble_weights, paper_weights
from cpath_repro.errors import UserError


def test_weights_on_the_hand_example_are_the_normalised_differences_from_095():
    assert LOSS_CEILING == 0.95
    weights = paper_weights([0.75, 0.85, 0.90])
    np.testing.assert_allclose(weights.raw, [0.2, 0.1, 0.05])
    np.testing.assert_allclose(weights.weights, [4 / 7, 2 / 7, 1 / 7])
    assert not weights.clipped and not weights.equal and weights.deviation is None
    np.testing.assert_allclose(ensemble_weights([0.75, 0.85, 0.90]), [4 / 7, 2 / 7, 1 / 7])


def test_a_loss_above_095_gets_weight_zero_and_the_rest_are_renormalised():
    weights = paper_weights([0.75, 1.0, 0.85])
    np.testing.assert_allclose(weights.weights, [2 / 3, 0.0, 1 / 3])
    assert weights.clipped and not weights.equal
    assert weights.deviation is not None and "1.0000" in weights.deviation


def test_no_positive_weight_falls_back_to_equal_weights():
    weights = paper_weights([1.0, 1.1, 0.95])
    np.testing.assert_allclose(weights.weights, [1 / 3, 1 / 3, 1 / 3])
    assert weights.clipped and weights.equal and "equal weights" in (weights.deviation or "")
    at_ceiling = paper_weights([0.95, 0.95])
    assert at_ceiling.equal and not at_ceiling.clipped
    np.testing.assert_allclose(at_ceiling.weights, [0.5, 0.5])


def test_combine_is_the_weighted_average_and_keeps_rows_summing_to_one():
    rng = np.random.default_rng(0)
    probabilities = [rng.dirichlet(np.ones(3), size=5).astype(np.float32) for _ in range(3)]
    weights = ensemble_weights([0.75, 0.85, 0.90])
    combined = combine(probabilities, weights)
    assert combined.shape == (5, 3)
    np.testing.assert_allclose(combined.sum(axis=1), 1.0, atol=1e-12)
    expected = sum(w * p[2].astype(float) for w, p in zip(weights, probabilities, strict=True))
    np.testing.assert_allclose(combined[2], expected, atol=1e-6)
    np.testing.assert_allclose(combine(probabilities, [0.0, 1.0, 0.0]), probabilities[1], atol=1e-6)


@pytest.mark.parametrize("call, words", [
    (lambda: ensemble_weights([]), "non-empty"),
    (lambda: ensemble_weights([0.8, float("nan")]), "finite"),
    (lambda: ensemble_weights([0.8, -0.1]), ">= 0"),
    (lambda: combine([], []), "at least one model"),
    (lambda: combine([np.full((4, 3), 1 / 3), np.full((5, 3), 1 / 3)], [0.5, 0.5]), "same"),
    (lambda: combine([np.full(3, 1 / 3)], [1.0]), "same"),
    (lambda: combine([np.full((4, 3), 1 / 3)] * 2, [1.0]), "one weight per model"),
    (lambda: combine([np.full((4, 3), 1 / 3)] * 2, [0.7, 0.7]), "summing to 1"),
    (lambda: combine([np.full((4, 3), 1 / 3), np.full((4, 3), 2.0)], [0.5, 0.5]), "not a distribution"),
])
def test_degenerate_input_is_refused_with_one_sentence(call, words):
    with pytest.raises(UserError, match=words) as caught:
        call()
    message = str(caught.value)
    assert message.endswith(".") and message.replace("e.g.", "eg").count(". ") == 0


def test_c_c6_is_undecidable_when_a_trials_weights_leave_the_papers_rule_and_names_them():
    import pandas as pd

    from cpath_repro.chapters.paper_c.analysis import ensemble_undecidable

    def weights(losses_by_seed):
        rows = []
        for seed, losses in losses_by_seed.items():
            w = paper_weights(losses)
            rows += [{"seed": seed, "member": f"m{i}", "validation loss": loss, "0.95 - loss": raw, "weight": weight,
                      "deviation": w.deviation or ""}
                     for i, (loss, raw, weight) in enumerate(zip(losses, w.raw, w.weights, strict=True))]
        return pd.DataFrame(rows)

    assert ensemble_undecidable(weights({0: [0.7, 0.8, 0.9], 1: [0.6, 0.7, 0.8]})) is None
    why = ensemble_undecidable(weights({0: [0.7, 0.8, 0.9], 1: [0.9, 1.1, 1.2]}))
    assert why is not None and "in 1 of 2 trials" in why and "trial 1: m0 1.00, m1 0.00, m2 0.00" in why
