"""Paper E's inputs: the synthetic nucleus crops, counting crops, fluorescence images and their low-light copies.

Every demo draws its own data from :mod:`cpath_repro.synth.nuclei` with a seed; a seed's test or
validation data come from its own stream (:func:`test_seed`), so that training and test data never share a
generator seed.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from cpath_repro import seeds
from cpath_repro.data.nuclei import percentile_normalize
from cpath_repro.synth.nuclei import add_noise, count_crops, nuclei_image, nucleus_crops, nucleus_crops_with_masks

#: The shape task's difficulty (0 = obvious, 1 = hard) for every demo that does not study difficulty itself.
SHAPE_DIFFICULTY = 0.5


def test_seed(seed: int) -> int:
    """The generator seed of seed ``seed``'s test or validation crops (its own stream)."""
    return seeds.derive(seed, "test crops")


def crops_dataset(n: int, seed: int, difficulty: float = SHAPE_DIFFICULTY,
                  weights: tuple[float, ...] = (1 / 3, 1 / 3, 1 / 3)) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` synthetic nucleus crops ``(n, 1, 32, 32)`` in [0, 1] and their shape classes."""
    x, y = nucleus_crops(n, seed, difficulty=difficulty, weights=weights)
    return torch.from_numpy(x)[:, None], torch.from_numpy(y)


def crops_with_masks(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    """Crops and classes as :func:`crops_dataset`, with each crop's true object mask ``(n, 32, 32)``."""
    x, y, masks = nucleus_crops_with_masks(n, seed, difficulty=SHAPE_DIFFICULTY)
    return torch.from_numpy(x)[:, None], torch.from_numpy(y), masks


def count_dataset(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` crops of 1-3 nuclei ``(n, 1, 32, 32)`` and their counts as classes 0-2 (the transfer target task)."""
    x, y = count_crops(n, seed)
    return torch.from_numpy(x)[:, None], torch.from_numpy(y)


def flat_crops(x: torch.Tensor) -> torch.Tensor:
    """Crops as 64 numbers each (4 x 4 average pooling): the input of the fully connected demos."""
    return nn.functional.avg_pool2d(x, 4).flatten(1)


def nuclei_batch(n: int, size: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Synthetic nuclei images ``(n, 1, size, size)`` and their foreground masks, at the generator's own scale
    and density (its defaults): nothing about them is read off the real image the U-Net is evaluated on.
    Both domains get the same percentile normalization."""
    images = [nuclei_image(size, seeds.derive(seed, i)) for i in range(n)]
    x = torch.from_numpy(np.stack([percentile_normalize(im.image) for im in images]))[:, None]
    return x, torch.from_numpy(np.stack([(im.labels > 0) for im in images])).long()


def low_light_pairs(n: int, size: int, seed: int, photons: float) -> tuple[np.ndarray, np.ndarray]:
    """``(noisy, clean)``: ``n`` synthetic nuclei images ``(n, size, size)`` (the generator's expected intensity)
    and the same images with camera noise at ``photons`` per pixel at full intensity."""
    clean = np.stack([nuclei_image(size, seeds.derive(seed, i)).clean for i in range(n)])
    noisy = np.stack([add_noise(c, seeds.derive(seed, "noise", i), photons) for i, c in enumerate(clean)])
    return noisy, clean
