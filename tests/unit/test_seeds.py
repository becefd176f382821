"""Named seed streams: reproducible, independent of each other, and refusing words that could collide."""

import numpy as np
import pytest

from cpath_repro.seeds import derive, rng, sequence


def test_a_stream_is_the_same_in_every_call_and_differs_by_seed_and_name():
    assert np.array_equal(rng(3, "test split").random(5), rng(3, "test split").random(5))
    draws = {tuple(rng(seed, name, k).integers(0, 2**31, 4)) for seed in (0, 1) for name in ("a", "b") for k in (0, 1)}
    assert len(draws) == 8


def test_streams_do_not_collide_where_hand_offsets_do():
    # seed 1's stream 0 and seed 0's stream 100_003 are one number under "seed * 100_003 + stream"
    assert 1 * 100_003 + 0 == 0 * 100_003 + 100_003
    assert derive(1, "batch order", 0) != derive(0, "batch order", 100_003)


def test_names_are_stable_across_processes_and_numbers_must_be_whole_and_non_negative():
    assert sequence(0, "test split").entropy == [0, 1080001294]  # CRC-32 of the name, not Python's salted hash
    assert 0 <= derive(5, "init") < 2**63
    for bad in (-1, 1.5, True):
        with pytest.raises(ValueError, match="non-negative whole numbers"):
            rng(0, bad)
