"""Paper E's key concepts as measurements: dense layers, gradients through depth, receptive fields,
feature-map sizes. Each function returns numbers a page can quote."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

# -- E-F4: a dense layer by hand ----------------------------------------------------------------------------------

def dense_layer_gradients(seed: int = 0, n_in: int = 4, n_out: int = 3) -> dict[str, float]:
    """y = sigmoid(W x + b), loss = mean((y - t)^2): gradients by hand (back-propagation written out),
    by torch.autograd and by central finite differences; returns the largest disagreements."""
    g = torch.Generator().manual_seed(seed)
    x, t = torch.randn(n_in, generator=g, dtype=torch.float64), torch.rand(n_out, generator=g, dtype=torch.float64)
    W = torch.randn(n_out, n_in, generator=g, dtype=torch.float64, requires_grad=True)
    b = torch.randn(n_out, generator=g, dtype=torch.float64, requires_grad=True)

    def loss_of(W_: torch.Tensor, b_: torch.Tensor) -> torch.Tensor:
        return ((torch.sigmoid(W_ @ x + b_) - t) ** 2).mean()

    # by hand: dL/dy = 2 (y - t) / n; dy/dz = y (1 - y); dz/dW = x^T; dz/db = 1
    with torch.no_grad():
        y = torch.sigmoid(W @ x + b)
        delta = 2 * (y - t) / n_out * y * (1 - y)
        hand_W, hand_b = torch.outer(delta, x), delta
    loss_of(W, b).backward()
    assert W.grad is not None and b.grad is not None
    eps = 1e-6
    fd_W = torch.zeros_like(W)
    with torch.no_grad():
        for i in range(n_out):
            for j in range(n_in):
                d = torch.zeros_like(W)
                d[i, j] = eps
                fd_W[i, j] = (loss_of(W + d, b) - loss_of(W - d, b)) / (2 * eps)
    return {
        "hand_vs_autograd": float(max((hand_W - W.grad).abs().max(), (hand_b - b.grad).abs().max())),
        "autograd_vs_finite_differences": float((W.grad - fd_W).abs().max()),
        "gradient_scale": float(W.grad.abs().max()),
    }


def descent_path(start: Sequence[float], lr: float, steps: int, seed: int = 0):  # type: ignore[no-untyped-def]
    """Gradient descent on a 2-parameter problem (a line y = w x + b fitted by MSE), with the loss surface.

    Returns ``(path (steps+1, 2), losses, (W, B, L) grid)``."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, 50)
    y = 1.5 * x - 0.5 + rng.normal(0, 0.1, 50)
    p = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    xt, yt = torch.tensor(x), torch.tensor(y)
    path, losses = [p.detach().numpy().copy()], []
    for _ in range(steps):
        loss = ((p[0] * xt + p[1] - yt) ** 2).mean()
        losses.append(float(loss))
        (grad,) = torch.autograd.grad(loss, p)
        with torch.no_grad():
            p -= lr * grad
        path.append(p.detach().numpy().copy())
    w, b = np.meshgrid(np.linspace(-1, 3, 80), np.linspace(-2, 1.5, 80))
    surface = ((w[..., None] * x + b[..., None] - y) ** 2).mean(-1)
    return np.array(path), np.array(losses), (w, b, surface)


# -- E-F5 / E-K1: gradients through depth ---------------------------------------------------------------------------

class Block(nn.Module):
    """A fully connected layer with an activation, optionally with a skip connection around it."""

    def __init__(self, width: int, activation: type[nn.Module], residual: bool) -> None:
        super().__init__()
        self.linear, self.act, self.residual = nn.Linear(width, width), activation(), residual

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.act(self.linear(x))
        return x + out if self.residual else out


def deep_net(depth: int, width: int, activation: type[nn.Module] = nn.ReLU, residual: bool = False,
             n_in: int = 64, n_out: int = 3) -> nn.Sequential:
    return nn.Sequential(nn.Linear(n_in, width), *[Block(width, activation, residual) for _ in range(depth)],
                         nn.Linear(width, n_out))


def gradient_norms(model: nn.Sequential, x: torch.Tensor, y: torch.Tensor) -> np.ndarray:
    """The gradient norm of each Block's weights for one batch, input side first."""
    model.zero_grad()
    nn.functional.cross_entropy(model(x), y).backward()
    return np.array([float(m.linear.weight.grad.norm()) for m in model
                     if isinstance(m, Block) and m.linear.weight.grad is not None])


# -- E-K1: receptive fields and feature-map sizes ------------------------------------------------------------------

def receptive_field(layers: Sequence[tuple[int, int]]) -> int:
    """Theoretical receptive field of stacked (kernel, stride) layers: r += (k - 1) * jump; jump *= s."""
    r, jump = 1, 1
    for k, s in layers:
        r += (k - 1) * jump
        jump *= s
    return r


def receptive_field_by_gradient(layers: Sequence[tuple[int, int]], size: int = 129) -> int:
    """Width of the input region whose pixels change the centre output (read off autograd)."""
    torch.manual_seed(0)
    modules: list[nn.Module] = []
    for k, s in layers:
        conv = nn.Conv2d(1, 1, k, stride=s, padding=k // 2, bias=False)
        nn.init.constant_(conv.weight, 1.0)  # positive weights: no cancellation hides a pixel
        modules.append(conv)
    net = nn.Sequential(*modules)
    x = torch.zeros(1, 1, size, size, requires_grad=True)
    out = net(x)
    out[0, 0, out.shape[2] // 2, out.shape[3] // 2].backward()
    assert x.grad is not None
    cols = np.nonzero(x.grad[0, 0].abs().sum(0).numpy())[0]
    return int(cols.max() - cols.min() + 1)


def feature_map_size(n: int, kernel: int, stride: int = 1, padding: int = 0) -> int:
    """floor((n + 2p - k) / s) + 1."""
    return (n + 2 * padding - kernel) // stride + 1
