"""Attribution maps: SmoothGrad for one output pixel (captum), the effective receptive field it reveals,
and how much of a map falls on the object it should explain."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


def smoothgrad_pixel(model: nn.Module, image: torch.Tensor, cls: int, row: int, col: int, samples: int = 16,
                     stdev: float = 0.1, seed: int = 0) -> np.ndarray:
    """Gradient of the class-``cls`` score at (row, col), averaged over noisy copies (``(3, H, W)``).

    Uses captum's ``NoiseTunnel(Saliency)`` with ``nt_type="smoothgrad"`` (Smilkov et al. 2017).
    """
    from captum.attr import NoiseTunnel, Saliency

    model.eval()

    def score(x: torch.Tensor) -> torch.Tensor:
        return model(x)[:, cls, row, col]

    torch.manual_seed(seed)
    tunnel = NoiseTunnel(Saliency(score))
    grads = tunnel.attribute(image[None], nt_type="smoothgrad", nt_samples=samples, stdevs=stdev, abs=False)
    return grads[0].detach().numpy()


def relu_gate_mask(gradient: np.ndarray, quantile: float = 0.9) -> tuple[np.ndarray, np.ndarray]:
    """Paper A's display: keep positive gradients (ReLU gate), then mask pixels below a threshold.

    Returns the gated map ``(H, W)`` (summed over channels) and the boolean mask of kept pixels.
    """
    gated = np.clip(gradient, 0, None).sum(0)
    threshold = np.quantile(gated, quantile)
    return gated, gated > threshold


def mass_radius(gradient: np.ndarray, row: int, col: int, fraction: float = 0.9) -> float:
    """Radius (pixels) around (row, col) holding ``fraction`` of the gradient magnitude.

    The effective receptive field of an output pixel (Luo et al. 2016): |gradient| summed
    over channels, accumulated outward from the target pixel.
    """
    mass = np.abs(gradient).sum(0)
    yy, xx = np.indices(mass.shape)
    dist = np.hypot(yy - row, xx - col).ravel()
    order = np.argsort(dist, kind="stable")
    cumulative = np.cumsum(mass.ravel()[order])
    if cumulative[-1] <= 0:
        return 0.0
    return float(dist[order][np.searchsorted(cumulative, fraction * cumulative[-1])])


def mass_inside(attribution: np.ndarray, mask: np.ndarray) -> float:
    """Fraction of an attribution map's mass (positive part; channels summed) that falls inside ``mask``.

    Compare with ``mask.mean()``, the fraction an attribution spread evenly over the image would give.
    """
    mass = np.clip(attribution, 0, None)
    mass = mass.sum(0) if mass.ndim == mask.ndim + 1 else mass
    total = mass.sum()
    return float(mass[mask].sum() / total) if total > 0 else 0.0
