"""The Otsu saturation tissue mask on generated pyramidal TIFFs (glass with tissue discs) and the real Aperio slide."""

from __future__ import annotations

import numpy as np
import pytest

from cpath_repro.errors import ParameterError, UserError
from cpath_repro.wsi import (
    CMU_SMALL_REGION,
    NoTissueError,
    TissueMask,
    mask_downsample,
    open_slide,
    require_tissue,
    tissue_mask,
)
from tests.unit.wsi.tiny import write_pyramid

WIDTH, HEIGHT = 1024, 768
DISCS = ((300, 380, 220), (780, 300, 150))  # (x, y, radius) in level-0 pixels


def glass(rng: np.random.Generator, shape=(HEIGHT, WIDTH)) -> np.ndarray:
    """Bright, unsaturated glass with a little scanner noise."""
    return np.clip(240 + rng.integers(-3, 4, (*shape, 3)), 0, 255).astype(np.uint8)


def discs(shape=(HEIGHT, WIDTH), centres=DISCS, scale: float = 1.0) -> np.ndarray:
    """Boolean disc mask; pixel centres sampled at ``scale`` level-0 pixels per pixel."""
    yy, xx = (np.mgrid[0 : shape[0], 0 : shape[1]] + 0.5) * scale
    return np.any([(xx - x) ** 2 + (yy - y) ** 2 < r**2 for x, y, r in centres], axis=0)


def pink(rng: np.random.Generator, image: np.ndarray, where: np.ndarray) -> np.ndarray:
    """Paint H&E-like pink-purple texture where ``where`` is True."""
    out = image.copy()
    n = int(where.sum())
    out[where] = np.clip(np.array([200, 110, 170]) + rng.integers(-25, 26, (n, 3)), 0, 255).astype(np.uint8)
    return out


@pytest.fixture(scope="module")
def disc_slide(tmp_path_factory):
    rng = np.random.default_rng(0)
    base = pink(rng, glass(rng), discs())
    path = tmp_path_factory.mktemp("tissue") / "discs.tif"
    write_pyramid(path, base)
    return path


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / (a | b).sum())


def test_otsu_mask_covers_the_discs_at_the_patch_mask_resolution(disc_slide):
    with open_slide(disc_slide) as slide:
        down = mask_downsample(slide, 0, 256)
        tissue = tissue_mask(slide, down)
    assert down == 16 and tissue.downsample == 16 and tissue.mask.shape == (HEIGHT // 16, WIDTH // 16)
    truth = discs(tissue.mask.shape, scale=16)
    assert _iou(tissue.mask, truth) > 0.9
    assert tissue.fraction == pytest.approx(truth.mean(), abs=0.02)


def test_default_mask_is_bounded_by_max_size_and_still_covers_the_discs(disc_slide):
    with open_slide(disc_slide) as slide:
        full = tissue_mask(slide)  # the longer side 1024 <= 2048: level-0 resolution
        small = tissue_mask(slide, max_size=256)
    assert full.downsample == 1 and full.mask.shape == (HEIGHT, WIDTH)
    assert small.downsample == 4 and small.mask.shape == (HEIGHT // 4, WIDTH // 4)
    assert _iou(full.mask, discs()) > 0.97 and _iou(small.mask, discs(small.mask.shape, scale=4)) > 0.95


def test_dust_and_small_holes_are_cleaned(tmp_path):
    rng = np.random.default_rng(1)
    image = pink(rng, glass(rng), discs(centres=((300, 380, 220),)))
    image[370:386, 290:310] = 240  # a 20 x 16 px glass hole inside the disc (a lumen)
    image[100:104, 900:904] = (90, 40, 120)  # a 4 x 4 px dark speck of dust on the glass
    path = tmp_path / "dust.tif"
    write_pyramid(path, image)
    with open_slide(path) as slide:
        tissue = tissue_mask(slide)
    assert tissue.mask[370:386, 290:310].all() and not tissue.mask[90:114, 890:914].any()


@pytest.mark.parametrize("kind", ["constant", "noisy", "tinted"])
def test_a_slide_of_glass_gives_an_empty_mask_and_require_tissue_refuses_it(tmp_path, kind):
    rng = np.random.default_rng(2)
    image = {"constant": np.full((HEIGHT, WIDTH, 3), 255, np.uint8), "noisy": glass(rng), "tinted": glass(rng)}[kind]
    if kind == "tinted":  # a colour cast growing across the glass (white balance): saturation 0 to 0.12, no step
        image[..., 0] -= np.linspace(0, 30, WIDTH).astype(np.uint8)
    path = tmp_path / f"{kind}.tif"
    write_pyramid(path, image)
    with open_slide(path) as slide:
        tissue = tissue_mask(slide, 8)
    assert tissue.mask.shape == (HEIGHT // 8, WIDTH // 8) and not tissue.mask.any() and tissue.fraction == 0
    with pytest.raises(NoTissueError, match="shows no tissue") as info:
        require_tissue(tissue, path)
    message = str(info.value)
    assert isinstance(info.value, UserError) and str(path) in message
    assert message.endswith(".") and "\n" not in message and message.count(". ") == 0
    assert info.value.__cause__ is None


def test_require_tissue_returns_a_non_empty_mask(disc_slide):
    with open_slide(disc_slide) as slide:
        tissue = tissue_mask(slide, 16)
    assert require_tissue(tissue, disc_slide) is tissue


def test_bad_masks_and_downsamples_are_parameter_errors(disc_slide):
    with pytest.raises(ParameterError, match="2-D boolean"):
        TissueMask(np.zeros((4, 4), np.uint8), 1.0)
    with pytest.raises(ParameterError, match="downsample"):
        TissueMask(np.zeros((4, 4), bool), 0.0)
    with open_slide(disc_slide) as slide:
        with pytest.raises(ParameterError, match="at least 1"):
            tissue_mask(slide, 0.5)
        with pytest.raises(ParameterError, match="max_size"):
            tissue_mask(slide, max_size=0)


def test_real_aperio_slide_has_tissue():
    if not CMU_SMALL_REGION.is_file():
        pytest.skip("run `make data` (make test does) to extract the CMU-1-Small-Region slide")
    with open_slide(CMU_SMALL_REGION) as slide:
        tissue = require_tissue(tissue_mask(slide, mask_downsample(slide, 0, 256)), CMU_SMALL_REGION)
    assert tissue.mask.shape == (185, 138)  # 2967 / 16.04 and 2220 / 16.04 (the longer side rounds to 185)
    assert 0.25 < tissue.fraction < 0.45  # one diagonal band of skin tissue on glass
