import numpy as np
import pytest
from skimage import color

from cpath_repro.synth import stains
from cpath_repro.synth.fields import cell_field

FIELD = cell_field(96, seed=3)


def test_nine_assays_of_paper_a_all_with_haematoxylin():
    assert len(stains.ASSAYS) == 9
    assert all(a.stains[0] == "hematoxylin" for a in stains.ASSAYS.values())
    assert {s for a in stains.ASSAYS.values() for s in a.stains} == set(stains.STAINS)


def test_stain_vectors_are_scikit_image_ruifrok_johnston_rows():
    np.testing.assert_allclose(stains.STAINS["dab"], color.rgb_from_hed[2] / np.linalg.norm(color.rgb_from_hed[2]))
    assert all(np.isclose(np.linalg.norm(v), 1.0) for v in stains.STAINS.values())


@pytest.mark.parametrize("assay", list(stains.ASSAYS))
def test_separate_stains_recovers_concentrations_exactly_from_float_render(assay):
    a = stains.ASSAYS[assay]
    truth = FIELD.for_assay(a)
    recovered = stains.unmix(stains.render(truth, a.vectors), a.vectors)
    np.testing.assert_allclose(recovered, truth, atol=1e-6)


@pytest.mark.parametrize("assay", list(stains.ASSAYS))
def test_separate_stains_recovers_concentrations_from_8bit_within_tolerance(assay):
    """Tolerance: mean error < 0.005 OD, worst < 0.05 OD where total OD < 1.5 (8-bit quantisation)."""
    a = stains.ASSAYS[assay]
    truth = FIELD.for_assay(a)
    err = np.abs(stains.unmix(stains.to_uint8(stains.render(truth, a.vectors)), a.vectors) - truth)
    keep = truth.sum(-1) < 1.5
    assert err[keep].mean() < 0.005
    assert err[keep].max() < 0.05


def test_render_is_beer_lambert():
    c = np.array([[[0.5, 0.0]]])
    vectors = stains.ASSAYS["H&E"].vectors
    np.testing.assert_allclose(stains.render(c, vectors, i0=0.9)[0, 0], 0.9 * 10 ** (-0.5 * vectors[0]))


def test_same_seed_same_bytes_and_different_seed_differs():
    a = stains.ASSAYS["Ki67/CD8"]
    one = stains.to_uint8(stains.render(cell_field(64, 7).for_assay(a), a.vectors))
    two = stains.to_uint8(stains.render(cell_field(64, 7).for_assay(a), a.vectors))
    other = stains.to_uint8(stains.render(cell_field(64, 8).for_assay(a), a.vectors))
    assert one.tobytes() == two.tobytes()
    assert one.tobytes() != other.tobytes()
    s1 = stains.jitter_slide(a, np.random.default_rng(5))
    s2 = stains.jitter_slide(a, np.random.default_rng(5))
    assert s1.vectors.tobytes() == s2.vectors.tobytes() and s1.i0 == s2.i0


@pytest.mark.parametrize("max_angle", [0.0, 2.0, 8.0])
def test_jitter_stays_within_its_bounds(max_angle):
    rng = np.random.default_rng(0)
    for assay in stains.ASSAYS.values():
        for _ in range(50):
            s = stains.jitter_slide(assay, rng, max_angle, scale_range=(0.8, 1.2), i0_range=(0.9, 1.0))
            assert stains.angle_deg(s.vectors, assay.vectors).max() <= max_angle + 1e-6
            assert np.all((s.scales >= 0.8) & (s.scales <= 1.2))
            assert 0.9 <= s.i0 <= 1.0
            assert np.all(s.vectors >= 0)


def test_jitter_actually_moves_vectors():
    rng = np.random.default_rng(0)
    angles = [stains.angle_deg(stains.jitter_slide(stains.ASSAYS["H&E"], rng, 5.0).vectors,
                               stains.ASSAYS["H&E"].vectors).max() for _ in range(20)]
    assert max(angles) > 2.0


def test_stain_matrix_rejects_wrong_shape():
    with pytest.raises(ValueError, match="2 or 3 stain vectors"):
        stains.stain_matrix(np.ones((4, 3)))
