"""E-F5: skip connections: gradient norms per layer at initialization and training curves, plain vs residual."""

from __future__ import annotations

import pandas as pd
import torch
from torch import nn
from torch.utils.data import TensorDataset

from cpath_repro.chapters.paper_e.common import TEST_OFFSET, crops_dataset, flat_crops, train_classifier
from cpath_repro.concepts import networks


def gradients(depth: int, width: int, seed: int) -> pd.DataFrame:
    """Per-layer gradient norms at initialization, plain vs residual, on one batch of crops."""
    x, y = crops_dataset(128, seed)
    rows = []
    for residual in (False, True):
        torch.manual_seed(seed)
        net = networks.deep_net(depth, width, nn.ReLU, residual, n_in=64)
        for layer, norm in enumerate(networks.gradient_norms(net, flat_crops(x), y), start=1):
            rows.append({"network": "residual" if residual else "plain", "layer": layer, "gradient_norm": norm})
    return pd.DataFrame(rows)


def training(depth: int, width: int, n_train: int, epochs: int, seed: int) -> pd.DataFrame:
    """Validation accuracy per epoch of the same deep network, plain vs residual."""
    x, y = crops_dataset(n_train, seed)
    xv, yv = crops_dataset(400, seed + TEST_OFFSET)
    rows = []
    for residual in (False, True):
        torch.manual_seed(seed)
        net = networks.deep_net(depth, width, nn.ReLU, residual, n_in=64)
        label = "residual" if residual else "plain"
        history = train_classifier(net, TensorDataset(flat_crops(x), y), (flat_crops(xv), yv), epochs, seed, lr=0.01,
                                   name=f"{label} depth {depth}")
        rows += [{"network": label, "epoch": e["epoch"], "train_loss": e["train_loss"],
                  "val_accuracy": e["val"]["accuracy"]} for e in history.epochs]
    return pd.DataFrame(rows)
