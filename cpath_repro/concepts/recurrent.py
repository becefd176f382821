"""E-K2's recurrent family: following a nucleus through a noisy time-lapse, with and without memory.

Both trackers share a small convolutional encoder of each frame. The frame-by-frame tracker
reads the position off each frame's code alone; the recurrent tracker passes the codes
through a GRU, whose hidden state carries what earlier frames showed (paper E: "RNNs build
memory into the network by feedback loops").
"""

from __future__ import annotations

import numpy as np
import torch
from scipy import ndimage
from torch import nn


class FrameEncoder(nn.Module):
    """A ``1 x H x W`` frame to a ``code``-long vector (two conv blocks, then a dense layer)."""

    def __init__(self, size: int, code: int = 32, width: int = 8) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(2 * width * (size // 4) ** 2, code), nn.ReLU(),
        )

    def forward(self, frames: torch.Tensor) -> torch.Tensor:  # (n, T, H, W) -> (n, T, code)
        n, t = frames.shape[:2]
        return self.net(frames.reshape(n * t, 1, *frames.shape[2:])).reshape(n, t, -1)


class Tracker(nn.Module):
    """Positions ``(n, T, 2)`` (row, col as fractions of the frame side) from frames ``(n, T, H, W)``."""

    def __init__(self, size: int, recurrent: bool, code: int = 32) -> None:
        super().__init__()
        self.encoder = FrameEncoder(size, code)
        self.memory = nn.GRU(code, code, batch_first=True) if recurrent else None
        self.head = nn.Linear(code, 2)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        codes = self.encoder(frames)
        if self.memory is not None:
            codes, _ = self.memory(codes)
        return self.head(codes)


def centroid_track(frames: np.ndarray, sigma: float = 1.5) -> np.ndarray:
    """The conventional tracker: each frame smoothed (Gaussian), background removed, intensity centroid.

    Returns positions ``(n, T, 2)`` in pixels.
    """
    out = np.zeros((*frames.shape[:2], 2), np.float32)
    for i, movie in enumerate(frames):
        for t, frame in enumerate(movie):
            smooth = ndimage.gaussian_filter(frame.astype(np.float64), sigma)
            weight = np.clip(smooth - np.median(smooth), 0, None)
            out[i, t] = ndimage.center_of_mass(weight) if weight.sum() > 0 else np.array(frame.shape) / 2
    return out
