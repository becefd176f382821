"""A small CNN for single-cell crops (paper E's demos): conv blocks, global pooling, optional dropout."""

from __future__ import annotations

import torch
from torch import nn


class SmallCNN(nn.Module):
    """Three conv blocks (conv 3x3, optional batch norm, ReLU, 2x2 max pooling), global average pooling,
    dropout, one dense layer: ``(n, 1, H, W)`` crops to ``n_classes`` logits."""

    def __init__(self, n_classes: int = 3, width: int = 16, dropout: float = 0.0, batch_norm: bool = True) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in = 1
        for c_out in (width, 2 * width, 4 * width):
            layers += [nn.Conv2d(c_in, c_out, 3, padding=1), *( [nn.BatchNorm2d(c_out)] if batch_norm else []),
                       nn.ReLU(), nn.MaxPool2d(2)]
            c_in = c_out
        self.features = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(c_in, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def mlp(n_in: int, hidden: int, n_classes: int = 3, dropout: float = 0.0) -> nn.Sequential:
    """One hidden layer on the flattened pixels: its width sets the capacity (E-K1's over/underfitting);
    optional dropout on the hidden units."""
    return nn.Sequential(nn.Flatten(), nn.Linear(n_in, hidden), nn.ReLU(), nn.Dropout(dropout),
                         nn.Linear(hidden, n_classes))
