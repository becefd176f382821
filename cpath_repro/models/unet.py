"""UNET and CD-UNET as in paper A (Lahiani et al., section 3).

UNET: the original of Ronneberger et al. with same padding (input and output sizes
match), half the original width (32 filters in the first level instead of 64), and batch
normalization after every convolution. ``base`` and ``depth`` are parameters so that the
``default`` profile can train a narrower, shallower net on a CPU; the ``paper`` profile
uses ``base=32, depth=4``.

CD-UNET: a colour-deconvolution segment of two 1x1 convolutions (6 filters, then 3) in
front of that UNET. The paper says "with ReLU and batch normalization" without fixing the
order; we use convolution -> batch norm -> ReLU, the same order as every UNET block.
"""

from __future__ import annotations

import torch
from torch import nn

#: Paper A: "half the number of filters compared to the original UNET" (64 -> 32), 4 poolings.
PAPER_BASE_WIDTH = 32
PAPER_DEPTH = 4
#: Paper A, section 3.2: 6 colours in the training set, then 3 channels for the UNET input.
CD_FILTERS = (6, 3)


def conv_bn_relu(c_in: int, c_out: int, kernel: int = 3) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, kernel, padding=kernel // 2, bias=False), nn.BatchNorm2d(c_out),
            nn.ReLU(inplace=True)]


class DoubleConv(nn.Sequential):
    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__(*conv_bn_relu(c_in, c_out), *conv_bn_relu(c_out, c_out))


class UNet(nn.Module):
    """Same-padding UNET with batch norm after every convolution."""

    def __init__(self, in_channels: int, n_classes: int, base: int = PAPER_BASE_WIDTH, depth: int = PAPER_DEPTH
                 ) -> None:
        super().__init__()
        widths = [base * 2**i for i in range(depth + 1)]
        self.down = nn.ModuleList([DoubleConv(in_channels, widths[0])])
        self.down.extend(DoubleConv(widths[i], widths[i + 1]) for i in range(depth))
        self.pool = nn.MaxPool2d(2)
        self.up = nn.ModuleList(nn.ConvTranspose2d(widths[i + 1], widths[i], 2, stride=2) for i in reversed(range(depth)))
        self.merge = nn.ModuleList(DoubleConv(2 * widths[i], widths[i]) for i in reversed(range(depth)))
        self.head = nn.Conv2d(widths[0], n_classes, 1)
        self.depth = depth

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for i, block in enumerate(self.down):
            x = block(x if i == 0 else self.pool(x))
            skips.append(x)
        skips.pop()
        for up, merge in zip(self.up, self.merge, strict=True):
            x = merge(torch.cat([skips.pop(), up(x)], dim=1))
        return self.head(x)


class CDSegment(nn.Sequential):
    """Two 1x1 convolutions (6 then 3 filters), each followed by batch norm and ReLU."""

    def __init__(self, filters: tuple[int, int] = CD_FILTERS) -> None:
        super().__init__(*conv_bn_relu(3, filters[0], kernel=1), *conv_bn_relu(filters[0], filters[1], kernel=1))


class CDUNet(nn.Module):
    """CD-UNET: the colour-deconvolution segment in front of the UNET."""

    def __init__(self, n_classes: int, base: int = PAPER_BASE_WIDTH, depth: int = PAPER_DEPTH) -> None:
        super().__init__()
        self.cd = CDSegment()
        self.unet = UNet(CD_FILTERS[1], n_classes, base, depth)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.unet(self.cd(x))


def build(arch: str, n_classes: int, base: int, depth: int) -> nn.Module:
    """``"unet"`` or ``"cd-unet"`` on RGB input, with one output channel per class."""
    if arch == "unet":
        return UNet(3, n_classes, base, depth)
    if arch == "cd-unet":
        return CDUNet(n_classes, base, depth)
    raise ValueError(f"Unknown architecture {arch!r}; choose 'unet' or 'cd-unet'.")


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
