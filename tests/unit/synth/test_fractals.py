"""FractalDB-style images: deterministic, one class per accepted IFS, varied within a class, consistent across it."""

from __future__ import annotations

import numpy as np

from cpath_repro.synth import fractals

SQUARE = fractals.IFS(np.array([[0.5, 0, 0, 0.5, x, y] for x in (0, 0.5) for y in (0, 0.5)]))  # fills the square
LINE = fractals.IFS(np.array([[0.5, 0, 0, 0, 0, 0], [0.5, 0, 0, 0, 0.5, 0]]))  # collapses onto y = 0
SIERPINSKI = fractals.IFS(np.array([[0.5, 0, 0, 0.5, 0, 0], [0.5, 0, 0, 0.5, 0.5, 0], [0.5, 0, 0, 0.5, 0.25, 0.5]]))
DIVERGING = fractals.IFS(np.array([[1.5, 0, 0, 1.5, 0.1, 0], [1.2, 0.3, 0, 1.4, 0, 0.2]]))


def test_same_seed_same_bytes_and_another_seed_other_images():
    a = fractals.dataset(3, 2, 32, seed=5)
    b = fractals.dataset(3, 2, 32, seed=5)
    assert a.images.tobytes() == b.images.tobytes()
    assert not np.array_equal(a.images, fractals.dataset(3, 2, 32, seed=6).images)


def test_class_count_shape_and_labels():
    d = fractals.dataset(4, 3, 24, seed=1)
    assert d.images.shape == (12, 24, 24, 3) and d.images.dtype == np.uint8
    assert np.bincount(d.labels).tolist() == [3, 3, 3, 3]
    assert all(img.max() > 0 for img in d.images)  # nothing rendered empty
    classes = fractals.search_classes(4, seed=1)
    assert len(classes) == 4 and all(fractals.MAPS[0] <= len(c.maps) <= fractals.MAPS[1] for c in classes)
    assert all(fractals.filling_rate(c, seed=99) > 0.9 * fractals.FILL_THRESHOLD for c in classes)  # any seed of the rule


def test_probabilities_are_proportional_to_the_determinants():
    ifs = fractals.IFS(np.array([[1.0, 0, 0, 0.5, 0, 0], [0.5, 0, 0, 0.5, 0, 0]]))
    assert np.allclose(ifs.probabilities, [2 / 3, 1 / 3])


def test_the_filling_rate_rule_keeps_a_filled_square_and_rejects_degenerate_systems():
    assert fractals.accepted(SQUARE)
    assert fractals.filling_rate(SQUARE) > 0.3  # 100,000 uniform points in 512 x 512 pixels cover ~32 %
    for degenerate in (LINE, DIVERGING, SIERPINSKI):  # a line, an exploding spiral, a too-thin attractor
        assert not fractals.accepted(degenerate)
    assert fractals.filling_rate(LINE) == 0.0


def _shape(images: np.ndarray, cells: int = 8) -> np.ndarray:
    """Colour-free, flip-invariant shape: occupancy, averaged over the four flips, pooled to cells x cells."""
    occupied = (images.max(-1) > 0).astype(float)
    sym = (occupied + occupied[:, ::-1] + occupied[:, :, ::-1] + occupied[:, ::-1, ::-1]) / 4
    n, size = len(images), images.shape[1]
    return sym.reshape(n, cells, size // cells, cells, size // cells).mean((2, 4)).reshape(n, -1)


def test_images_vary_within_a_class_but_a_nearest_centroid_tells_the_classes_apart():
    n_classes, per_class = 5, 12
    d = fractals.dataset(n_classes, per_class, 32, seed=3)
    for c in range(n_classes):
        assert len({img.tobytes() for img in d.images[d.labels == c]}) == per_class
    features, labels = _shape(d.images), d.labels
    fit = np.tile(np.arange(per_class) < per_class // 2, n_classes)
    centroids = np.stack([features[fit & (labels == c)].mean(0) for c in range(n_classes)])
    predicted = np.argmin(((features[~fit][:, None] - centroids[None]) ** 2).sum(-1), axis=1)
    accuracy = float((predicted == labels[~fit]).mean())
    assert accuracy >= 0.7, accuracy  # chance is 0.2


def test_an_instance_depends_only_on_seed_class_and_index():
    classes = fractals.search_classes(2, seed=0)
    assert np.array_equal(fractals.instance(classes, 1, 7, 32, 0), fractals.dataset(2, 8, 32, 0).images[15])
    assert np.array_equal(fractals.dataset(2, 2, 32, 0, first=3).images[0], fractals.instance(classes, 0, 3, 32, 0))
