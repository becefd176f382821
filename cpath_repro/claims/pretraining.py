"""The claims that compare pretrained with not-pretrained models rest on the pretraining they had.

No ImageNet weights can be downloaded here. When a user has torchvision's weight files the
backbones start from them; otherwise they start from the stand-in (formula-driven
pretraining on fractal images). Whether the stand-in *pretrains* a backbone is measured
once, before any chapter relies on it, by a rule fixed in advance (the ``pretraining``
notebook: the stand-in vs random initialization on a probe task, paired seeds, fine-tuned or frozen as
the claim uses the backbone; it pretrains when the 95 % paired interval of its gain lies above 0). A
claim that rests on a stand-in that did not pretrain is *not testable here*, whatever its own numbers say.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cpath_repro.results.run import PRETRAINING_SOURCES, read_manifest

#: The notebook that trains the stand-in and runs the probe; its manifest's metrics hold the probe's verdicts.
NOTEBOOK = "pretraining"
#: Where a chapter records which pretraining each backbone started from (``Run.use_pretraining``).
SOURCES = PRETRAINING_SOURCES
NO_PRETRAINING = "no ImageNet weights, and the stand-in did not beat random initialization"
#: How a claim uses a pretrained backbone, and so how the probe measures the stand-in for it: "frozen" (features
#: read as they are, a linear classifier on top) or "fine-tuned" (every layer trained on).
USES = ("frozen", "fine-tuned")
LABELS = {"imagenet": "ImageNet pretraining", "fractal": "fractal pretraining"}


def probe_results(run_dir: Path | None) -> dict[str, Mapping[str, Any]]:
    """Backbone -> use -> ``{"pretrains": bool, "evidence": str}`` from the run's pretraining notebook (empty if
    not run)."""
    manifest = read_manifest(Path(run_dir) / NOTEBOOK) if run_dir is not None else None
    return dict((manifest or {}).get("metrics", {}).get("stand_in", {}))


def gate(backbones: tuple[str, ...], used: Mapping[str, str], probes: Mapping[str, Mapping[str, Any]],
         use: str = "frozen") -> tuple[str | None, str]:
    """``(why the claim is not testable, or None; the data label's words on pretraining)``.

    ``used`` is what the chapter recorded: backbone -> ``"imagenet"`` or ``"fractal"``; ``use`` how the claim
    uses the backbone (one of :data:`USES`): the stand-in must pretrain it *that* way.
    """
    missing = [b for b in backbones if b not in used]
    if missing:
        return f"its chapter did not record which pretraining {', '.join(missing)} started from", ""
    sources = [used[b] for b in backbones]
    label = " and ".join(dict.fromkeys(LABELS.get(s, f"{s} pretraining") for s in sources))
    for backbone, source in zip(backbones, sources, strict=True):
        if source == "fractal":
            probe = probes.get(backbone, {}).get(use)
            if probe is None:
                return (f"the stand-in's probe for {backbone}, {use}, has not been run (notebook '{NOTEBOOK}')",
                        label)
            if not probe["pretrains"]:
                return f"{NO_PRETRAINING} ({backbone}, {use}: {probe['evidence']})", label
        elif source != "imagenet":
            return f"{backbone} started from no pretraining ({source})", label
    return None, label
