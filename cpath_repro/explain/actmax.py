"""Activation maximization, made meaningful for colour filters and output pixels.

Maximizing a 1x1 convolution over the RGB cube ends in a corner, and a "white" (background)
filter has zero optical density. So first-layer filters are maximized over optical-density
*directions* at a fixed OD norm (``rgb = 10^-od``, ``od = norm * unit(softplus(v))``), and a
filter is called a glass (background) filter when clear glass (OD 0) excites it more than
its best stained colour; glass filters are left out of the stain-angle score.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from cpath_repro.synth import stains

#: OD norm of the searched colours (a moderately stained pixel).
OD_NORM = 1.0


@dataclass(frozen=True)
class FilterColours:
    od: np.ndarray  # (k, 3) unit OD direction maximizing each filter
    best_response: np.ndarray  # (k,) response at that colour
    glass_response: np.ndarray  # (k,) response to clear glass

    @property
    def glass(self) -> np.ndarray:
        return self.glass_response >= self.best_response

    @property
    def rgb(self) -> np.ndarray:
        """Swatch colours in [0, 1]; glass filters are shown white."""
        colours = np.power(10.0, -OD_NORM * self.od)
        colours[self.glass] = 1.0
        return colours

    def stain_angles(self, vectors: np.ndarray) -> np.ndarray:
        """Angle (degrees) from each non-glass filter's colour to the nearest true stain vector."""
        return np.array([stains.angle_deg(v[None], vectors).min() for v in self.od[~self.glass]])


def first_layer_colours(conv: nn.Conv2d, bn: nn.BatchNorm2d, steps: int = 300, seed: int = 0) -> FilterColours:
    """Maximize each filter's batch-normalized response (before the ReLU) over OD directions."""
    conv, bn = conv.eval(), bn.eval()
    k = conv.out_channels
    generator = torch.Generator().manual_seed(seed)
    v = torch.randn(k, 3, generator=generator).mul_(0.1).requires_grad_(True)
    optimizer = torch.optim.Adam([v], lr=0.05)

    def response(rgb: torch.Tensor) -> torch.Tensor:  # (k, 3) colours -> (k, k) responses
        return bn(conv(rgb[:, :, None, None]))[:, :, 0, 0]

    def colours() -> torch.Tensor:
        direction = nn.functional.softplus(v)
        return torch.pow(10.0, -OD_NORM * direction / direction.norm(dim=1, keepdim=True))

    for _ in range(steps):
        optimizer.zero_grad()
        (-response(colours()).diagonal().sum()).backward()
        optimizer.step()
    with torch.no_grad():
        best = response(colours()).diagonal().numpy()
        glass = response(torch.ones(1, 3))[0].numpy()
        direction = nn.functional.softplus(v)
        od = (direction / direction.norm(dim=1, keepdim=True)).numpy()
    return FilterColours(od, best, glass)


def _ascend(score: Callable[[torch.Tensor], torch.Tensor], shape: tuple[int, ...], steps: int, seed: int,
            decay: float) -> torch.Tensor:
    """Gradient ascent on ``score(image)`` from noise (Simonyan et al. 2014), the image parametrized
    through a sigmoid to stay in [0, 1], with a small L2 pull toward grey."""
    generator = torch.Generator().manual_seed(seed)
    logits = torch.randn(1, *shape, generator=generator).mul_(0.5).requires_grad_(True)
    optimizer = torch.optim.Adam([logits], lr=0.05)
    for _ in range(steps):
        optimizer.zero_grad()
        (-score(torch.sigmoid(logits)) + decay * logits.pow(2).sum()).backward()
        optimizer.step()
    return torch.sigmoid(logits)[0].detach()


def maximize_output_pixel(model: nn.Module, cls: int, size: int, steps: int = 150, seed: int = 0,
                          decay: float = 1e-3) -> np.ndarray:
    """An input (``size`` x ``size``, RGB in [0, 1]) maximizing class ``cls`` at the centre pixel (paper A
    section 4.2); ``(H, W, 3)``."""
    model.eval()
    centre = size // 2
    image = _ascend(lambda x: model(x)[0, cls, centre, centre], (3, size, size), steps, seed, decay)
    return image.permute(1, 2, 0).numpy()


def maximize_class(model: nn.Module, cls: int, shape: tuple[int, ...], steps: int = 200, seed: int = 0,
                   decay: float = 1e-3) -> np.ndarray:
    """An input of ``shape`` (channels, H, W), values in [0, 1], maximizing a classifier's logit for ``cls``
    (paper E: "finding an image ... that maximally activates a specific neuron")."""
    model.eval()
    return _ascend(lambda x: model(x)[0, cls], shape, steps, seed, decay).numpy()
