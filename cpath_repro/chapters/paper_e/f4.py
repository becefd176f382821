"""E-F4: a dense layer's gradients by hand, by autograd and by finite differences; gradient descent on a surface."""

from __future__ import annotations

import pandas as pd

from cpath_repro.concepts import networks


def gradient_checks(seed: int) -> pd.DataFrame:
    """The largest disagreements between the three ways of computing the gradient (one row each)."""
    g = networks.dense_layer_gradients(seed)
    return pd.DataFrame([{"quantity": k.replace("_", " "), "value": v} for k, v in g.items()])
