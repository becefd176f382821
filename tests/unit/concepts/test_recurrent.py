import numpy as np
import torch

from cpath_repro.concepts import recurrent


def test_centroid_tracker_finds_a_bright_blob():
    yy, xx = np.mgrid[:24, :24]
    frames = np.stack([np.exp(-((yy - r) ** 2 + (xx - c) ** 2) / 8.0) for r, c in [(6.0, 9.0), (15.5, 12.0)]])
    found = recurrent.centroid_track(frames[None].astype(np.float32))
    np.testing.assert_allclose(found[0], [[6.0, 9.0], [15.5, 12.0]], atol=0.3)


def test_only_the_recurrent_tracker_remembers_earlier_frames():
    torch.manual_seed(0)
    frames = torch.rand(1, 5, 24, 24)
    changed = frames.clone()
    changed[0, 0] = torch.rand(24, 24)  # only the first frame differs
    for memory in (False, True):
        tracker = recurrent.Tracker(24, recurrent=memory).eval()
        with torch.no_grad():
            a, b = tracker(frames), tracker(changed)
        assert a.shape == (1, 5, 2)
        assert torch.equal(a[0, 1:], b[0, 1:]) != memory  # later outputs move only when there is memory
