"""Data augmentation with torchvision.transforms.v2: paper A's (label-aware) and paper E's (dihedral).

Paper A, section 2: hue, brightness and scale jitter, uniform noise on the intensity,
random occlusion, flips and small random affine transforms. Geometric transforms move the
label map with the image (nearest-neighbour for the mask); pixels brought in from outside
the tile are labelled "exclude" so they carry no loss. Paper E: mirroring and rotation,
for classification crops (:func:`dihedral`, applied by :class:`Augmented`).
"""

from __future__ import annotations

import warnings

import torch
from torch.utils.data import Dataset
from torchvision import tv_tensors
from torchvision.transforms import v2

from cpath_repro.data.tiles import EXCLUDE

NOISE_AMPLITUDE = 0.03  # uniform noise on intensities in [0, 1]

# Occlusion hides part of the image and keeps the label (the net must infer what is hidden):
# RandomErasing passing masks through is exactly what we want, so its warning is silenced.
warnings.filterwarnings("ignore", message=r"RandomErasing\(\) is currently passing through", category=UserWarning)


def _uniform_noise(image: torch.Tensor) -> torch.Tensor:
    # torchvision has Gaussian noise but not uniform noise on the intensity, as the paper uses
    noisy = image + (torch.rand_like(image) * 2 - 1) * NOISE_AMPLITUDE
    return tv_tensors.wrap(noisy.clamp(0, 1), like=image) if isinstance(image, tv_tensors.Image) else noisy.clamp(0, 1)


def augmentation(colour: bool = True) -> v2.Compose:
    """The training transform for ``(tv_tensors.Image float [0,1], tv_tensors.Mask)`` pairs."""
    geometric: list[v2.Transform] = [
        v2.RandomHorizontalFlip(),
        v2.RandomVerticalFlip(),
        v2.RandomAffine(degrees=10, translate=(0.05, 0.05), scale=(0.9, 1.1),
                        fill={tv_tensors.Image: 1.0, tv_tensors.Mask: EXCLUDE}),  # type: ignore[dict-item]
    ]
    photometric: list[v2.Transform] = [
        v2.ColorJitter(brightness=0.1, hue=0.03),
        v2.Lambda(_uniform_noise, tv_tensors.Image),
        v2.RandomErasing(p=0.3, scale=(0.01, 0.05), value=1.0),  # occlusion of the image only
    ]
    return v2.Compose(geometric + (photometric if colour else []))


def dihedral() -> v2.Compose:
    """Paper E's generic augmentation for microscopy (no preferred orientation): mirroring and rotation
    by multiples of 90 degrees, which move pixels without interpolating them."""
    return v2.Compose([
        v2.RandomHorizontalFlip(),
        v2.RandomVerticalFlip(),
        v2.RandomApply([v2.Lambda(lambda image: torch.rot90(image, 1, (-2, -1)))], p=0.5),
    ])


class Augmented(Dataset):
    """``(image, label)`` pairs from tensors, each image transformed afresh every time it is drawn."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, transform: v2.Transform) -> None:
        self.tensors = (images, labels)  # the un-augmented data, as a TensorDataset holds it
        self.transform = transform

    def __len__(self) -> int:
        return len(self.tensors[0])

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.transform(self.tensors[0][index]), self.tensors[1][index]
