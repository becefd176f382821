"""Convolution and max pooling on tiny images, each checked three ways.

Paper E (Figs. 2 and 3) explains a convolution as the element-wise product of a kernel
with the receptive field, summed into one output position, and max pooling as keeping the
largest value of each window. Here the operations are run by torch (the layers a CNN
uses), recomputed by hand, and the receptive field is read off autograd, so the picture
on the page is a measurement rather than a drawing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class ConvolutionDemo:
    image: np.ndarray  # (n, n) of 0/1
    kernel: np.ndarray  # (3, 3) of 0/1
    output: np.ndarray  # (n-2, n-2), torch's conv2d (cross-correlation, as in CNNs)
    row: int
    col: int
    by_hand: int  # sum of kernel * receptive field at (row, col)
    gradient: np.ndarray  # d output[row, col] / d image

    @property
    def receptive_field(self) -> tuple[slice, slice]:
        return slice(self.row, self.row + 3), slice(self.col, self.col + 3)

    @property
    def matches_torch(self) -> bool:
        return bool(self.output[self.row, self.col] == self.by_hand)

    @property
    def gradient_is_kernel_in_field(self) -> bool:
        """Autograd finds exactly the kernel's weights inside the 3x3 field and zero outside."""
        expected = np.zeros_like(self.gradient)
        expected[self.receptive_field] = self.kernel
        return bool(np.array_equal(self.gradient, expected))

    def checks(self) -> pd.DataFrame:
        """The numbers behind the figure, one row per check."""
        return pd.DataFrame([
            {"check": "output at the green position, by torch", "value": int(self.output[self.row, self.col])},
            {"check": "sum of kernel x receptive field, by hand", "value": self.by_hand},
            {"check": "the two agree", "value": self.matches_torch},
            {"check": "autograd: gradient = kernel inside the 3x3 field, 0 outside",
             "value": self.gradient_is_kernel_in_field},
            {"check": "feature map side (n - 3 + 1)", "value": self.output.shape[0]},
        ])


def parse_kernel(text: str) -> np.ndarray:
    """``"101010101"`` -> a 3x3 array of 0/1, row by row."""
    return np.array([int(ch) for ch in text], dtype=np.int64).reshape(3, 3)


def convolution_demo(image_size: int, kernel: str, row: int, col: int, seed: int) -> ConvolutionDemo:
    """Convolve a random 0/1 image with a 0/1 kernel and check one output three ways."""
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 2, size=(image_size, image_size))
    k = parse_kernel(kernel)
    x = torch.tensor(image, dtype=torch.float64, requires_grad=True)
    out = F.conv2d(x[None, None], torch.tensor(k, dtype=torch.float64)[None, None])[0, 0]
    out[row, col].backward()
    assert x.grad is not None
    by_hand = int((image[row : row + 3, col : col + 3] * k).sum())
    return ConvolutionDemo(
        image, k, out.detach().numpy().round().astype(np.int64), row, col, by_hand, x.grad.numpy().copy()
    )


@dataclass(frozen=True)
class PoolingDemo:
    image: np.ndarray  # (n, n)
    window: int
    output: np.ndarray  # (n/w, n/w)
    kept: np.ndarray  # (n/w, n/w, 2): input (row, col) of each kept maximum

    @property
    def matches_by_hand(self) -> bool:
        n, w = self.image.shape[0], self.window
        blocks = self.image.reshape(n // w, w, n // w, w).max(axis=(1, 3))
        return bool(np.array_equal(blocks, self.output))

    @property
    def size_formula(self) -> int:
        """floor((n - window) / stride) + 1 with stride = window (no padding)."""
        return (self.image.shape[0] - self.window) // self.window + 1

    def checks(self, shift: dict[str, float]) -> pd.DataFrame:
        """The numbers behind the figure, with a :func:`shift_invariance` measurement."""
        return pd.DataFrame([
            {"check": "torch's output equals the window maxima by hand", "value": self.matches_by_hand},
            {"check": "output side, measured", "value": self.output.shape[0]},
            {"check": "output side, floor((n - w) / s) + 1", "value": self.size_formula},
            {"check": "share of input values discarded", "value": 1 - 1 / self.window**2},
            {"check": "images unchanged by a 1-px shift, no pooling", "value": round(shift["raw_unchanged_share"], 3)},
            {"check": "pooled maps unchanged by a 1-px shift", "value": round(shift["pooled_unchanged_share"], 3)},
            {"check": "expected: (w - 1) / w", "value": shift["pooled_unchanged_expected"]},
        ])


def pooling_demo(image_size: int, window: int, seed: int) -> PoolingDemo:
    """Max-pool a small random image of digits 0-9 with ``window = stride``."""
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 10, size=(image_size, image_size))
    x = torch.tensor(image, dtype=torch.float64)[None, None]
    out, idx = F.max_pool2d(x, window, stride=window, return_indices=True)
    flat = idx[0, 0].numpy()
    kept = np.stack([flat // image_size, flat % image_size], axis=-1)
    return PoolingDemo(image, window, out[0, 0].numpy().astype(np.int64), kept)


def shift_invariance(window: int, trials: int, seed: int) -> dict[str, float]:
    """How often a one-pixel shift leaves the representation unchanged, with and without pooling.

    Each trial puts one bright pixel (a detected nucleus, say) on a dark image and shifts it
    one pixel to the right. Without pooling the image always changes; after max pooling it is
    unchanged whenever the pixel stays in its window, i.e. in (window - 1) / window of trials.
    """
    rng = np.random.default_rng(seed)
    image_size = 8 * window  # a whole number of windows
    raw_same = pooled_same = 0
    for _ in range(trials):
        image = np.zeros((image_size, image_size))
        # columns 0 .. size-window-1: whole windows only, so every offset inside a window is equally likely
        image[rng.integers(0, image_size), rng.integers(0, image_size - window)] = 1.0
        shifted = np.zeros_like(image)
        shifted[:, 1:] = image[:, :-1]
        raw_same += int(np.array_equal(image, shifted))
        a = F.max_pool2d(torch.tensor(image)[None, None], window, stride=window)
        b = F.max_pool2d(torch.tensor(shifted)[None, None], window, stride=window)
        pooled_same += int(torch.equal(a, b))
    return {"raw_unchanged_share": raw_same / trials, "pooled_unchanged_share": pooled_same / trials,
            "pooled_unchanged_expected": (window - 1) / window}
