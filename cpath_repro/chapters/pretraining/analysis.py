"""What the pretraining page shows: where each backbone's weights come from, the stand-ins, and whether they pretrain."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from cpath_repro.claims.pretraining import USES
from cpath_repro.claims.registry import CLAIMS
from cpath_repro.models import backbones
from cpath_repro.synth import fractals
from cpath_repro.train import store
from cpath_repro.transfer import pretraining, probe
from cpath_repro.transfer.pretraining import StandIn

if TYPE_CHECKING:
    from cpath_repro.results.run import Run


@dataclass
class Outcome:
    """One backbone: ImageNet from a local file, or the stand-in with a probe table per use its claims make of it."""

    name: str
    source: str  # "imagenet" or "fractal"
    weights: str  # in words
    stand_in: StandIn | None = None
    probes: dict[str, pd.DataFrame] = field(default_factory=dict)  # use ("frozen", "fine-tuned") -> probe table


def uses(name: str) -> tuple[str, ...]:
    """How the registry's claims use backbone ``name`` (the probe measures exactly these), in :data:`USES` order."""
    wanted = {c.pretrained_use for c in CLAIMS.values() if name in c.pretrained}
    return tuple(u for u in USES if u in wanted)


def measure(profile: str, progress: bool = True) -> list[Outcome]:
    """Every backbone of papers B-D: ImageNet when its torchvision file is here, else the stand-in and its probes."""
    out = []
    store.ensure([pretraining.stand_in_recipe(name, profile, progress) for name in backbones.NAMES
                  if pretraining.resolve(name) == "fractal"])  # the stand-ins as one batch
    for name in backbones.NAMES:
        if pretraining.resolve(name) == "imagenet":
            found = backbones.imagenet_weights(name)
            assert found is not None
            out.append(Outcome(name, "imagenet", f"torchvision {type(found[0]).__name__}.{found[0].name} from {found[1]}"))
            continue
        stand_in = pretraining.stand_in(name, profile, progress)
        out.append(Outcome(name, "fractal", stand_in.source, stand_in,
                           {use: probe.measure(name, profile, profile, progress, use) for use in uses(name)}))
    return out


def record_weights(run: Run, outcomes: list[Outcome]) -> None:
    """Record on ``run`` the model-store keys of the stand-ins used and the pretraining each backbone starts from."""
    run.use_models(o.stand_in.key for o in outcomes if o.stand_in is not None)
    for o in outcomes:
        run.use_pretraining(o.name, o.source)


def sources(outcomes: list[Outcome]) -> dict[str, str]:
    """Backbone -> where its weights come from (``imagenet`` or ``fractal``)."""
    return {o.name: o.source for o in outcomes}


def settings_table(outcomes: list[Outcome]) -> pd.DataFrame:
    """What each stand-in was trained on and how well it learned its own task (ImageNet rows say so)."""
    rows: list[dict[str, object]] = []
    for o in outcomes:
        if o.stand_in is None:
            rows.append({"backbone": o.name, "weights": "ImageNet (local file)"})
            continue
        m = o.stand_in.meta
        rows.append({"backbone": o.name, "weights": "fractal stand-in", "input (px)": m["input_size"],
                     "fractal classes": m["classes"], "images": m["images"], "epochs": m["epochs"],
                     "images seen": m["images"] * m["epochs"],
                     "fractal accuracy % (chance %)": f"{100 * m['fractal_val_accuracy']:.1f} ({100 / m['classes']:.1f})",
                     "training (s)": round(float(m["seconds"]), 1)})
    return pd.DataFrame(rows)


def probe_long(outcomes: list[Outcome]) -> pd.DataFrame:
    """Every probe row with its backbone, as "backbone (use)" (per seed and arm)."""
    frames = [table.assign(backbone=f"{o.name} ({use})") for o in outcomes for use, table in o.probes.items()]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["backbone", "seed", "arm", "value"])


def probe_summary(outcomes: list[Outcome]) -> pd.DataFrame:
    """Per backbone and use: probe accuracy from the stand-in and from random initialization (mean ± sd), seeds
    won, verdict."""
    rows = []
    for o in outcomes:
        if not o.probes:
            rows.append({"backbone": o.name, "verdict": "not needed: ImageNet weights"})
            continue
        for use, table in o.probes.items():
            wide = table.pivot_table(index="seed", columns="arm", values="value")
            wins = int((wide["fractal"] > wide["random"]).sum())
            status = probe.RULE.evaluate(table).status
            rows.append({"backbone": o.name, "as the claims use it": use,
                         "accuracy from the stand-in (%)": _mean_sd(wide["fractal"]),
                         "accuracy from random init (%)": _mean_sd(wide["random"]), "seeds won": f"{wins} of {len(wide)}",
                         "verdict": probe.VERDICTS.get(status, f"cannot be judged ({len(wide)} seed(s))")})
    return pd.DataFrame(rows)


def _mean_sd(values: pd.Series) -> str:
    return f"{values.mean():.1f} ±\u00a0{values.std():.1f}" if len(values) > 1 else f"{values.mean():.1f}"


def manifest_metrics(outcomes: list[Outcome]) -> dict[str, object]:
    """What the scorecard reads (:mod:`cpath_repro.claims.pretraining`): each stand-in's verdict and evidence."""
    return {"stand_in": {o.name: {use: {"pretrains": probe.pretrains(table), "evidence": probe.evidence(table)}
                                  for use, table in o.probes.items()} for o in outcomes if o.probes},
            "imagenet": [o.name for o in outcomes if o.source == "imagenet"]}


def fractal_examples(profile: str, classes: int = 4, per_class: int = 3) -> dict[str, np.ndarray]:
    """A few images of the first fractal classes of the profile's stand-in set, for the page's figure."""
    s = pretraining.fractal_settings(profile)
    systems = pretraining.fractal_classes(s.classes, s.seed)[:classes]
    return {f"class {c + 1}, image {i + 1}": fractals.instance(list(systems), c, i, s.size, s.seed)
            for c in range(min(classes, len(systems))) for i in range(per_class)}
