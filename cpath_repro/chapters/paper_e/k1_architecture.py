"""E-K1, architecture: receptive field growth, activation functions and vanishing gradients, feature-map sizes.

Each concept is computed two ways (a formula, and a real PyTorch layer or autograd) so the page
shows the agreement, not just the formula.
"""

from __future__ import annotations

import pandas as pd
import torch
from torch import nn

from cpath_repro.chapters.paper_e.common import crops_dataset, flat_crops
from cpath_repro.concepts import networks

#: The activation functions paper E names (sigmoid and tanh "previously common", ReLU "mainstream").
ACTIVATIONS: dict[str, type[nn.Module]] = {"sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "ReLU": nn.ReLU}
#: Weight initializations compared: PyTorch's default for ``nn.Linear``, and the one each activation was
#: designed with (Glorot & Bengio 2010 for sigmoid and tanh, He et al. 2015 for ReLU).
INITS = ("PyTorch default", "matched to the activation")


def receptive_field_growth(max_depth: int) -> pd.DataFrame:
    """Receptive field (pixels) of stacks of 3x3 convolutions, without and with 2x2 pooling after each,
    by the formula and read off autograd."""
    rows = []
    for pooled in (False, True):
        for depth in range(1, max_depth + 1):
            layers = [(3, 1), (2, 2)] * depth if pooled else [(3, 1)] * depth
            formula = networks.receptive_field(layers)
            rows.append({"network": "conv3 + pool2 per layer" if pooled else "conv3 per layer", "depth": depth,
                         "formula": formula, "autograd": networks.receptive_field_by_gradient(layers, size=4 * formula + 1)})
    return pd.DataFrame(rows)


def activation_curves() -> pd.DataFrame:
    """Each activation and its derivative (by autograd) on [-5, 5]: the derivative bounds how much
    gradient survives each layer (sigmoid: at most 0.25)."""
    x = torch.linspace(-5, 5, 201, requires_grad=True)
    rows = []
    for name, activation in ACTIVATIONS.items():
        y = activation()(x)
        (slope,) = torch.autograd.grad(y.sum(), x)
        rows += [{"activation": name, "x": float(a), "value": float(b), "derivative": float(c)}
                 for a, b, c in zip(x.detach(), y.detach(), slope, strict=True)]
    return pd.DataFrame(rows)


def _matched_init(net: nn.Module, activation: str) -> None:
    for layer in net.modules():
        if isinstance(layer, nn.Linear):
            if activation == "ReLU":
                nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
            else:
                gain = nn.init.calculate_gain("tanh") if activation == "tanh" else nn.init.calculate_gain("sigmoid")
                nn.init.xavier_normal_(layer.weight, gain=gain)
            nn.init.zeros_(layer.bias)


def activation_gradients(depth: int, width: int, seed: int) -> pd.DataFrame:
    """Gradient norm of each layer's weights at initialization, per activation and initialization (same
    depth, width and seed), on one batch of nucleus crops."""
    x, y = crops_dataset(128, seed)
    flat = flat_crops(x)
    rows = []
    for init in INITS:
        for name, activation in ACTIVATIONS.items():
            torch.manual_seed(seed)
            net = networks.deep_net(depth, width, activation, residual=False, n_in=flat.shape[1])
            if init != INITS[0]:
                _matched_init(net, name)
            rows += [{"init": init, "activation": name, "layer": layer, "gradient_norm": float(norm)}
                     for layer, norm in enumerate(networks.gradient_norms(net, flat, y), start=1)]
    return pd.DataFrame(rows)


def vanishing_ratio(gradients: pd.DataFrame) -> pd.DataFrame:
    """Per initialization and activation: gradient norm of the first layer over that of the last
    (1 = every layer learns at the same pace)."""
    rows = []
    for (init, name), g in gradients.groupby(["init", "activation"], sort=False):
        first, last = g.sort_values("layer").gradient_norm.iloc[[0, -1]]
        rows.append({"init": init, "activation": name, "first_layer": first, "last_layer": last,
                     "first_over_last": first / last})
    return pd.DataFrame(rows)


#: Feature-map cases: input side, kernel, stride, padding (the hyper-parameters paper E names).
FEATURE_MAP_CASES = ((32, 3, 1, 0), (32, 3, 1, 1), (32, 3, 2, 1), (32, 5, 1, 2), (32, 5, 2, 0), (31, 3, 2, 1),
                     (64, 7, 2, 3), (17, 4, 3, 1))


def feature_map_sizes(channels: int = 8) -> pd.DataFrame:
    """Output side by ``floor((n + 2p - k) / s) + 1`` vs a real ``nn.Conv2d`` and ``nn.MaxPool2d``.

    ``channels`` (the "depth" of a layer: its number of kernels) sets the number of feature maps,
    not their size; the table shows both."""
    rows = []
    for n, k, s, p in FEATURE_MAP_CASES:
        x = torch.zeros(1, 1, n, n)
        conv = nn.Conv2d(1, channels, k, stride=s, padding=p)(x)
        pool = nn.MaxPool2d(k, stride=s, padding=min(p, k // 2))(x)
        rows.append({"input": n, "kernel": k, "stride": s, "padding": p,
                     "formula": networks.feature_map_size(n, k, s, p), "conv2d": conv.shape[-1],
                     "conv2d_maps": conv.shape[1],
                     "maxpool2d (padding <= k/2)": pool.shape[-1],
                     "formula_for_pool": networks.feature_map_size(n, k, s, min(p, k // 2))})
    return pd.DataFrame(rows)


def trace_network(model: nn.Module, side: int) -> pd.DataFrame:
    """Every convolution and pooling layer of ``model`` on a ``side x side`` input: the output side its
    hyper-parameters predict, and the side PyTorch produced (read with forward hooks)."""
    rows: list[dict[str, object]] = []

    def hook(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        def first(v: int | tuple[int, ...]) -> int:
            return v if isinstance(v, int) else v[0]

        assert isinstance(module, (nn.Conv2d, nn.MaxPool2d))
        k, s, p = (first(module.kernel_size), first(module.stride), first(module.padding))  # type: ignore[arg-type]
        n = inputs[0].shape[-1]
        rows.append({"layer": type(module).__name__, "input": n, "kernel": k, "stride": s, "padding": p,
                     "formula": networks.feature_map_size(n, k, s, p), "pytorch": output.shape[-1],
                     "maps": output.shape[1]})

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.MaxPool2d))]
    try:
        model.eval()
        with torch.no_grad():
            model(torch.zeros(1, 1, side, side))
    finally:
        for h in handles:
            h.remove()
    return pd.DataFrame(rows)
