"""The four speed-ups that brought papers B and D towards their `default` budgets, each as a ratio measured in
one run (new time / old time, best of a few repeats, 2 threads):

- AdamP's step: :class:`cpath_repro.train.optimizers.QuickAdamP` against the ``adamp`` package's own, on a
  ResNet18's gradients at paper B's 32-px crops;
- GoogLeNet's patch features for inference with batch norms folded (:func:`cpath_repro.models.patch_features.folded`)
  against the model as trained, on 256 patches of paper D's 32 px;
- a paper B dataset read back from the crops on disk against drawing and standardizing it again (BACH, trial 0,
  ``default`` settings);
- a synthetic slide tile pyramid compressed at zlib level 1 against level 6 (with the sizes).

Run with ``python -m benchmarks.chapter_speedups``.
"""

from __future__ import annotations

import io
import os
import tempfile
from typing import Any

import tifffile
import torch
from adamp import AdamP
from torch import nn

from benchmarks.timing import best_of
from cpath_repro.models import backbones
from cpath_repro.models.patch_features import folded, from_backbone
from cpath_repro.train.optimizers import QuickAdamP


def adamp_step() -> tuple[float, float]:
    model = backbones.build("resnet18", "none", 4, seed=0).model
    nn.functional.cross_entropy(model(torch.rand(32, 3, 32, 32)), torch.randint(0, 4, (32,))).backward()
    times = []
    for kind in (AdamP, QuickAdamP):
        optimizer = kind(model.parameters(), lr=3e-4, weight_decay=5e-4)
        optimizer.step()  # the state is allocated in the first step
        times.append(best_of(optimizer.step, repeat=5))
    return times[0], times[1]


def folded_features() -> tuple[float, float]:
    extractor = from_backbone(backbones.build("googlenet", "none", 0, seed=0), seed=0).eval()
    x = torch.rand(256, 3, 32, 32)
    fast: Any = folded(extractor)
    with torch.no_grad():
        return best_of(lambda: extractor.features(x), repeat=4), best_of(lambda: fast.features(x), repeat=4)


def crops_on_disk() -> tuple[float, float]:
    from cpath_repro.chapters.paper_b import data
    from cpath_repro.chapters.paper_b.settings import Settings

    s = Settings.of_profile("default")
    with tempfile.TemporaryDirectory() as tmp:
        os.environ[data.CROPS_ENV] = tmp
        try:
            drawn = best_of(lambda: data._prepared(s, "BACH", 0), repeat=1)
            data.prepare.cache_clear()
            data.prepare(s, "BACH", 0)  # written once

            def read() -> None:
                data.prepare.cache_clear()
                data.prepare(s, "BACH", 0)

            return drawn, best_of(read, repeat=3)
        finally:
            os.environ.pop(data.CROPS_ENV, None)
            data.prepare.cache_clear()


def zlib_levels() -> dict[int, tuple[float, int]]:
    from cpath_repro.synth.slides import Geometry, make_slide

    image = make_slide("stomach-like", 0, 0, Geometry(2.0, 36)).image
    out = {}
    for level in (6, 1):
        def write(lv: int = level) -> io.BytesIO:
            buffer = io.BytesIO()
            tifffile.imwrite(buffer, image, tile=(256, 256), photometric="rgb", compression="zlib",
                             compressionargs={"level": lv}, predictor="horizontal")
            return buffer

        out[level] = (best_of(write, repeat=3), len(write().getvalue()))
    return out


def main() -> list[tuple[str, str]]:
    torch.set_num_threads(2)
    package, quick = adamp_step()
    plain, fast = folded_features()
    drawn, read = crops_on_disk()
    zlib = zlib_levels()
    return [
        ("AdamP step, ResNet18: QuickAdamP / adamp", f"{quick / package:.2f} ({quick * 1e3:.0f} vs {package * 1e3:.0f} ms)"),
        ("GoogLeNet features, 256 x 32 px: folded / as trained", f"{fast / plain:.2f} ({fast * 1e3:.0f} vs "
                                                                  f"{plain * 1e3:.0f} ms)"),
        ("paper B BACH (default, trial 0): read from disk / drawn",
         f"{read / drawn:.3f} ({read * 1e3:.0f} ms vs {drawn:.1f} s)"),
        ("slide pyramid, zlib level 1 / 6: time", f"{zlib[1][0] / zlib[6][0]:.2f}"),
        ("slide pyramid, zlib level 1 / 6: bytes", f"{zlib[1][1] / zlib[6][1]:.3f}"),
    ]


if __name__ == "__main__":
    for key, value in main():
        print(f"{key:58s}  {value}")
