import numpy as np
import torch
from skimage import draw

from cpath_repro.concepts import features, generative


def _crop_with(shapes: list[tuple[float, float, float, float]]) -> np.ndarray:
    crop = np.full((32, 32), 0.05)
    for r, c, a, b in shapes:
        rr, cc = draw.ellipse(r, c, a, b, shape=crop.shape)
        crop[rr, cc] = 0.8
    return crop


def test_shape_features_measure_what_their_names_say():
    names = list(features.FEATURES)
    disk = features.crop_features(_crop_with([(16, 16, 6, 6)]))
    ellipse = features.crop_features(_crop_with([(16, 16, 10, 4)]))
    fragments = features.crop_features(_crop_with([(8, 8, 2, 2), (20, 24, 2, 2), (24, 8, 2, 2)]))
    assert disk[names.index("objects")] == 1 and fragments[names.index("objects")] == 3
    assert abs(disk[names.index("axis_ratio")] - 1) < 0.1
    assert abs(ellipse[names.index("axis_ratio")] - 2.5) < 0.3
    assert abs(disk[names.index("area")] - np.pi * 36) < 15


def test_flat_crop_has_no_object_and_zero_shape_features():
    values = features.crop_features(np.full((32, 32), 0.3))
    assert (values[features.SHAPE] == 0).all() and values.shape == (len(features.FEATURES),)


def test_two_sample_accuracy_is_chance_for_one_distribution_and_high_for_two():
    rng = np.random.default_rng(0)
    same = generative.two_sample_accuracy(rng.normal(size=(300, 5)), rng.normal(size=(300, 5)), seed=0)
    shifted = generative.two_sample_accuracy(rng.normal(size=(300, 5)), rng.normal(2.0, 1.0, size=(300, 5)), seed=0)
    assert abs(same - 0.5) < 0.08 and shifted > 0.95


def test_generator_and_autoencoder_shapes_and_ranges():
    torch.manual_seed(0)
    generator = generative.Generator()
    crops = generator.sample(5, seed=1)
    assert crops.shape == (5, 1, 32, 32) and 0 <= float(crops.min()) and float(crops.max()) <= 1
    assert torch.equal(crops, generator.sample(5, seed=1)) and not torch.equal(crops, generator.sample(5, seed=2))
    dae = generative.DenoisingAutoencoder()
    out = dae(torch.rand(2, 1, 64, 64))
    assert out.shape == (2, 1, 64, 64) and 0 <= float(out.min()) and float(out.max()) <= 1


def test_gan_training_is_deterministic():
    real = torch.rand(64, 1, 32, 32)
    a, history = generative.train_gan(real, 1, seed=3)
    b, _ = generative.train_gan(real, 1, seed=3)
    assert torch.equal(a.sample(4, 0), b.sample(4, 0)) and len(history) == 1
