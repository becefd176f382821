"""Training throughput of the four torchvision backbones at small inputs, and fractal rendering speed.

The fractal stand-in's budget (``cpath_repro.transfer.pretraining``) is set from these numbers:
forward + backward + SGD step of a batch of random images (10 classes, train mode), best of a few
repeats after a warm-up, with 2 threads; evaluation (forward, no grad) for the probe; and the time to
render one fractal image and to find one fractal class. Run with
``python -m benchmarks.backbone_throughput``.
"""

from __future__ import annotations

import time

import numpy as np
import torch
from torch import nn

from benchmarks.timing import best_of
from cpath_repro.models.backbones import build
from cpath_repro.synth import fractals

SIZES = {"resnet18": (32, 48, 64), "resnet50": (32, 48, 64), "googlenet": (32, 48, 64), "inception_v3": (75, 96)}
BATCH = 32


def throughput(name: str, size: int, batch: int = BATCH, repeat: int = 4) -> tuple[float, float]:
    """(train, eval) images per second of ``name`` at ``size`` px."""
    model = build(name, "none", 10, seed=0).model
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x, y = torch.rand(batch, 3, size, size), torch.randint(0, 10, (batch,))

    def step() -> None:
        model.train()
        optimizer.zero_grad(set_to_none=True)
        nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()

    def forward() -> None:
        model.eval()
        with torch.no_grad():
            model(x)

    return batch / best_of(step, repeat, warmup=True), batch / best_of(forward, repeat, warmup=True)


def main() -> list[tuple[str, str]]:
    torch.set_num_threads(2)
    rows = []
    for name, sizes in SIZES.items():
        for size in sizes:
            train, evaluate = throughput(name, size)
            rows.append((f"{name} {size} px, batch {BATCH}", f"train {train:.0f} img/s, eval {evaluate:.0f} img/s"))
    classes = fractals.search_classes(4, 0)
    for size in (32, 64, 75):
        t = best_of(lambda s=size: [fractals.instance(classes, i % 4, i, s, 0) for i in range(40)], 2, warmup=True) / 40  # type: ignore[misc]
        rows.append((f"fractal image, {size} px", f"{t * 1000:.1f} ms"))
    rng = np.random.default_rng(0)
    candidates = [fractals.random_ifs(rng) for _ in range(100)]
    t0 = time.perf_counter()
    accepted = sum(fractals.accepted(c, i) for i, c in enumerate(candidates))
    per = (time.perf_counter() - t0) / len(candidates)
    rows.append(("fractal class candidate (filling-rate rule)", f"{per * 1000:.1f} ms, {accepted}/100 accepted"))
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key.ljust(width)}  {value}", flush=True)
    return rows


if __name__ == "__main__":
    main()
