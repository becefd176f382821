import numpy as np
from skimage import measure

from cpath_repro.synth.nuclei import (
    add_noise,
    count_crops,
    nuclei_image,
    nucleus_crops,
    nucleus_crops_with_masks,
    time_lapse,
)


def test_clean_image_is_the_expectation_of_the_noisy_one():
    field = nuclei_image(64, 1)
    assert 0 <= field.clean.min() and field.clean.max() <= 1
    mean = np.mean([add_noise(field.clean, s, photons=50.0, read_noise=0.0) for s in range(400)], axis=0)
    assert np.abs(mean - field.clean).mean() < 0.01  # Poisson noise is unbiased
    assert np.abs(add_noise(field.clean, 0, 50.0) - field.clean).mean() > 0.03  # and each draw is noisy


def test_fewer_photons_give_a_noisier_image():
    clean = nuclei_image(64, 2).clean
    errors = [np.abs(add_noise(clean, 0, photons) - clean).mean() for photons in (5.0, 50.0, 500.0)]
    assert errors[0] > errors[1] > errors[2]


def test_crop_masks_are_the_drawn_objects_and_crops_are_unchanged():
    crops, classes, masks = nucleus_crops_with_masks(60, 4)
    plain, plain_classes = nucleus_crops(60, 4)
    assert crops.tobytes() == plain.tobytes() and (classes == plain_classes).all()
    for crop, mask in zip(crops, masks, strict=True):
        assert crop[mask].mean() > crop[~mask].mean() + 0.2
    fragments = [measure.label(m).max() for m, c in zip(masks, classes, strict=True) if c == 2]
    assert np.mean(fragments) > 2  # fragmented nuclei are several objects


def test_count_crops_hold_the_labelled_number_of_nuclei():
    crops, labels = count_crops(30, 5)
    assert crops.shape == (30, 32, 32) and set(labels) <= {0, 1, 2}
    signal = np.array([np.clip(c - np.median(c), 0, None).sum() for c in crops])  # integrated nuclear signal
    means = [signal[labels == k].mean() for k in range(3)]
    assert means[0] < means[1] < means[2]  # more nuclei, more fluorescence


def test_time_lapse_positions_move_by_the_step_and_stay_inside():
    movie = time_lapse(50, 10, 6, size=24, step=1.0, radius=2.5)
    assert movie.frames.shape == (50, 10, 24, 24) and movie.positions.shape == (50, 10, 2)
    steps = np.diff(movie.positions, axis=1)
    assert 0.8 < steps.std() < 1.2  # per-axis random-walk step of about 1 px (reflection shortens a few)
    assert movie.positions.min() >= 3.5 and movie.positions.max() <= 24 - 4.5
    again = time_lapse(50, 10, 6, size=24)
    assert again.frames.tobytes() == movie.frames.tobytes()
