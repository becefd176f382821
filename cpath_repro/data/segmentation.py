"""A torch Dataset over tiles and their label maps (inputs scaled to [0, 1], as in paper A)."""

from __future__ import annotations

import torch
from torch.utils.data import Dataset
from torchvision import tv_tensors
from torchvision.transforms import v2

from cpath_repro.data.tiles import Tiles


class SegmentationTiles(Dataset[tuple[torch.Tensor, torch.Tensor]]):
    def __init__(self, tiles: Tiles, transform: v2.Transform | None = None) -> None:
        self.images = torch.from_numpy(tiles.images).permute(0, 3, 1, 2).contiguous()
        self.labels = torch.from_numpy(tiles.labels)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        image = tv_tensors.Image(self.images[index].float() / 255.0)
        mask = tv_tensors.Mask(self.labels[index])
        if self.transform is not None:
            image, mask = self.transform(image, mask)
        return image.as_subclass(torch.Tensor), mask.as_subclass(torch.Tensor).long()
