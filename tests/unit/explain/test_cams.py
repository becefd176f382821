"""Grad-CAM and saliency maps, on networks whose answer is known."""

from __future__ import annotations

import torch
from torch import nn

from cpath_repro.explain import cams


def _net() -> nn.Sequential:
    conv = nn.Conv2d(3, 1, 1, bias=False)
    head = nn.Linear(1, 2, bias=False)
    with torch.no_grad():
        conv.weight.fill_(1.0)
        head.weight.copy_(torch.tensor([[1.0], [-1.0]]))
    return nn.Sequential(conv, nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), head)


def test_grad_cam_lights_up_where_the_class_evidence_is() -> None:
    x = torch.zeros(1, 3, 8, 8)
    x[..., :4, :4] = 1.0  # evidence for class 0 in the top-left quadrant only
    net = _net()
    heat = cams.grad_cam(net, net[1], x, [0])
    assert heat.shape == (1, 8, 8) and 0.0 <= heat.min() and heat.max() <= 1.0
    assert heat[0, :4, :4].mean() > 0.9 and heat[0, 4:, 4:].mean() < 0.1


def test_saliency_is_the_gradient_magnitude_of_the_class_score_per_pixel() -> None:
    x = torch.zeros(2, 3, 6, 6)
    x[:, :, 0, 0] = 1.0
    maps = cams.saliency(_net(), x, [0, 1])
    assert maps.shape == (2, 6, 6)
    # class score = mean over pixels of relu(sum of channels): only the lit pixel passes the ReLU's gradient
    assert torch.allclose(torch.from_numpy(maps[:, 0, 0]), torch.tensor([1 / 36, 1 / 36]))
    assert maps[:, 1:, 1:].max() == 0.0
