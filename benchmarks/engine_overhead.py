"""The training engine vs a bare PyTorch loop: same model, data, batches and optimizer.

Both train the default-profile UNET (base 8, depth 3) on 64 px tiles for a few epochs,
alternating runs so that machine noise hits both alike; the ratio of the medians is the
engine's overhead (target <= 3 %). Run with ``python -m benchmarks.engine_overhead``.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from cpath_repro.models.unet import UNet
from cpath_repro.train.engine import TrainConfig, Trainer

EPOCHS, TILES, BATCH = 3, 256, 16


def _data() -> TensorDataset:
    g = torch.Generator().manual_seed(0)
    return TensorDataset(torch.rand(TILES, 3, 64, 64, generator=g), torch.randint(0, 4, (TILES, 64, 64), generator=g))


def bare(data: TensorDataset) -> float:
    torch.manual_seed(0)
    model = UNet(3, 4, base=8, depth=3)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    t0 = time.perf_counter()
    for epoch in range(EPOCHS):
        model.train()
        loader = DataLoader(data, BATCH, shuffle=True, generator=torch.Generator().manual_seed(epoch))
        for x, y in loader:
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
    return time.perf_counter() - t0


def engine(data: TensorDataset) -> float:
    torch.manual_seed(0)
    model = UNet(3, 4, base=8, depth=3)
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(model, nn.CrossEntropyLoss(), data, TrainConfig(EPOCHS, BATCH, 0.01), checkpoint_dir=Path(tmp),
                          progress=False)
        t0 = time.perf_counter()
        trainer.fit()  # checkpoints every epoch, history, progress bookkeeping
        return time.perf_counter() - t0


def main(repeats: int = 3) -> dict[str, float]:
    torch.set_num_threads(2)
    data = _data()
    bare(data)  # warm-up
    b, e = [], []
    for _ in range(repeats):
        b.append(bare(data))
        e.append(engine(data))
    result = {"bare_s": statistics.median(b), "engine_s": statistics.median(e)}
    result["overhead"] = result["engine_s"] / result["bare_s"] - 1
    return result


if __name__ == "__main__":
    r = main()
    print(f"bare loop {r['bare_s']:.2f} s, engine {r['engine_s']:.2f} s, overhead {r['overhead']:+.1%} "
          f"({EPOCHS} epochs x {TILES} tiles, median of 3, alternating)")
