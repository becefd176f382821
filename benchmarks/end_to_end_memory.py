"""Peak memory of one training step of paper D's two models: End-to-End Learning vs plain back-propagation.

Each (method, N) runs in a fresh process (:func:`cpath_repro.train.memory.measure`): N random 32 px patches in
mini-batches of 32, GoogLeNet (random initialization) -> 16-d features on a 128 x 128 map -> a narrow U-Net,
Adam, train mode. End-to-End Learning at N = 256, 1,024, 4,096 (16,384 with ``--large``, ~1 more minute);
plain back-propagation until its predicted peak would pass :data:`BACKPROP_LIMIT_MIB` (~0.9 MiB per patch).
Prints the table and the 4x ratios (claim D-C3: below 1.25 for End-to-End Learning). Run with
``python -m benchmarks.end_to_end_memory``; seconds are of one step, on a shared machine.
"""

from __future__ import annotations

import sys
from typing import Any

from cpath_repro.train.memory import measure, ratio_4x

PATCH_PX, BATCH = 32, 32
SIZES = (256, 1024, 4096)
LARGE = 16384
#: Stop plain back-propagation before its peak growth would pass ~8 GB (the machine is shared).
BACKPROP_LIMIT_MIB = 7500.0


def main(large: bool = False) -> dict[str, Any]:
    """The table rows (method, N, peak growth MiB, seconds) and the 4x ratios by method and N."""
    sizes = (*SIZES, LARGE) if large else SIZES
    rows: list[tuple[str, int, float, float]] = []
    for method in ("end-to-end", "backprop"):
        growth: dict[int, float] = {}
        for n in sizes:
            if method == "backprop" and growth:
                per_patch = max(growth.values()) / max(growth)  # growth per patch so far (over: it has a constant)
                if per_patch * n > BACKPROP_LIMIT_MIB:
                    print(f"{method:<11}  N={n:>6}  skipped: ~{per_patch * n:,.0f} MiB predicted", flush=True)
                    continue
            r = measure(method, n, PATCH_PX, BATCH, threads=2)
            growth[n] = r["peak_growth_mib"]
            rows.append((method, n, r["peak_growth_mib"], r["seconds"]))
            print(f"{method:<11}  N={n:>6}  peak growth {r['peak_growth_mib']:8.1f} MiB  {r['seconds']:6.1f} s", flush=True)
        for n in sizes:
            if n in growth and 4 * n in growth:
                print(f"{method:<11}  growth at N={4 * n} / at N={n}: {ratio_4x(growth, n):.3f}", flush=True)
    ratios = {(m, n): ratio_4x({k: g for mm, k, g, _ in rows if mm == m}, n)
              for m, n, _, _ in rows if any(mm == m and k == 4 * n for mm, k, _, _ in rows)}
    return {"rows": rows, "ratios": ratios}


if __name__ == "__main__":
    main(large="--large" in sys.argv[1:])
