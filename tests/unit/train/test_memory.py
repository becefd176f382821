"""Peak memory of one training step, measured in a fresh process: plain back-propagation grows with the number
of patches, End-to-End Learning does not (claim D-C3's 4x ratio)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from cpath_repro.claims.metrics.paper_d import PEAK_MEMORY_RATIO_4X_PATCHES
from cpath_repro.claims.registry import get
from cpath_repro.errors import ParameterError
from cpath_repro.train.memory import grid_positions, measure, ratio_4x

#: small slides: 32 and 128 patches of 32 px (~0.9 MiB of activations each) in mini-batches of 16, a 16 x 16 map
N, BATCH, MAP = 32, 16, 16


def _limit() -> float:
    parts = get("D-C3").rule.parts  # type: ignore[attr-defined]
    return next(p.value for p in parts if p.metric == PEAK_MEMORY_RATIO_4X_PATCHES)


def test_back_propagation_fails_the_4x_memory_rule_and_end_to_end_passes_it():
    runs = [(m, n) for m in ("end-to-end", "backprop") for n in (N, 4 * N)]
    with ThreadPoolExecutor(2) as pool:  # four fresh processes, two at a time: memory is per process
        results = list(pool.map(lambda r: measure(r[0], r[1], batch=BATCH, map_size=MAP, threads=1), runs))
    growth: dict[str, dict[int, float]] = {"end-to-end": {}, "backprop": {}}
    for result in results:
        assert result["peak_growth_mib"] > 0 and result["seconds"] > 0
        if Path("/proc/self/clear_refs").exists():
            assert result["peak_method"].startswith("VmHWM")
        growth[result["method"]][result["n"]] = result["peak_growth_mib"]
    limit = _limit()
    assert limit == 1.25
    assert ratio_4x(growth["backprop"], N) >= limit, growth
    assert ratio_4x(growth["end-to-end"], N) < limit, growth


def test_the_ratio_needs_both_sizes_and_bad_input_never_starts_a_process():
    assert ratio_4x({10: 2.0, 40: 3.0}, 10) == 1.5
    with pytest.raises(ParameterError, match="N=40"):
        ratio_4x({10: 2.0}, 10)
    with pytest.raises(ParameterError, match="method"):
        measure("checkpoint", 16)
    with pytest.raises(ParameterError, match="hold all 300"):
        measure("backprop", 300, map_size=16)


def test_patches_fill_a_near_square_block_row_by_row():
    assert grid_positions(5).tolist() == [[0, 0], [0, 1], [0, 2], [1, 0], [1, 1]]
