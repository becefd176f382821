"""Paper C's experiments as the notebooks call them: each table's arms, their runs over paired seeds, the
claims' tables, the cleaning study, the ensemble and the attribution study.

The sweeps share one base model (:data:`BASE`: ResNet-50's first 3 layers frozen, the head, the
whole image, unweighted, initial data only), so the "100 % crop", "unweighted" and "initial-only"
arms are one model per seed. The paper ran its crop and weight sweeps before adding the additional
data, and its extractor, layer and training tables after (its 100 % crop gives 0.8168, C-T5's
ResNet 0.7157): the base here follows that order, and :data:`WITH_ADDITIONAL` (the same model on the
twice-filtered additional data) is C-T5's ResNet, C-T7's frozen arm, C-C4's treated arm and C-T8's
single model.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
from torch import nn

from cpath_repro.chapters.paper_c import cleaning, paper, training
from cpath_repro.chapters.paper_c.data import TYPES, Prepared, prepare
from cpath_repro.chapters.paper_c.models import LAYER_COUNTS
from cpath_repro.chapters.paper_c.settings import Settings
from cpath_repro.chapters.paper_c.training import VAL_ACCURACY, VAL_LOSS, Arm, Trained, scores, trained
from cpath_repro.claims.metrics.paper_c import MASS_IN_TRUE_ZONE
from cpath_repro.metrics import chance
from cpath_repro.results import tables

CHANCE = chance.COLUMN


def record_data(run: Any, s: Settings) -> None:
    """Tell the run what data its numbers rest on: the generator and its settings, or the Kaggle folder (no
    per-image checksums: thousands of 4096×3072 JPEGs; every model's store key holds the folder's fingerprint)."""
    if s.data_root is None:
        from cpath_repro.synth import cervix as synthetic

        run.use_synthetic(f"{synthetic.__name__} (cervix photographs with their transformation zones)", s.seeds,
                          size="x".join(map(str, s.size)), n_initial=s.n_initial, n_additional=s.n_additional,
                          n_test=s.n_test, difficulty=s.difficulty, zone_reach=s.zone_reach,
                          os_mucus=s.os_mucus)
        return
    from cpath_repro.data import cervix as kaggle
    from cpath_repro.data.layout import locate

    run.use_files(locate(s.data_root, kaggle.NAME), [])


BASE = Arm()
WITH_ADDITIONAL = replace(BASE, additional=True)

#: C-T2 (section 6): "on the raw training data, excluding additional data and image augmentation".
BASELINES = {"vanilla CNN": Arm("vanilla", None, augment=False), "ResNet": Arm("resnet50", None, augment=False),
             "Inception-v3": Arm("inception_v3", None, augment=False)}
#: C-T3 (section 8): the centred share of each side, in percent.
CROPS = {f"crop-{c}": replace(BASE, crop=c) for c in paper.C_T3}


def weighting_name(weights: tuple[float, float, float] | None) -> str:
    """The registry's arm name of a class weighting (C-C3), else the weights themselves."""
    if weights is None:
        return "unweighted"
    return paper.WEIGHT_NAMES.get(weights, " / ".join(f"{w:g}" for w in weights))


#: C-T4 (section 9), with the unweighted base that C-C3 compares against.
WEIGHTINGS = {weighting_name(w): replace(BASE, weights=w) for w in (None, *paper.C_T4)}
#: C-T5 (section 11.1): no extractor, or the first 3 layers of Inception-v3 or ResNet-50, frozen, with the
#: additional data.
EXTRACTOR_ARMS = {"none": replace(WITH_ADDITIONAL, extractor="none", layers=None),
                  "inception-v3": replace(WITH_ADDITIONAL, extractor="inception_v3"), "resnet": WITH_ADDITIONAL}
#: C-T6 (section 11.2): "we train all of the layers".
LAYER_ARMS = {f"{n} layers": replace(WITH_ADDITIONAL, layers=n, frozen=False) for n in LAYER_COUNTS}
#: C-T7 (section 11.3): the 3 layers trained (C-T6's first row, as in the paper: 0.7734 both) or frozen (C-T5's).
TRAINING_ARMS = {"fine-tuned": LAYER_ARMS["3 layers"], "frozen": WITH_ADDITIONAL}
#: C-C4 (section 10): the same model on the initial data, and with the twice-filtered additional data.
ADDITIONAL_ARMS = {"initial-only": BASE, "with-filtered-additional": WITH_ADDITIONAL}


def ensemble_members(factor: float) -> dict[str, Arm]:
    """C-T8 (section 12): three models, each weighting one type ``factor`` times the others."""
    def up(k: int) -> tuple[float, float, float]:
        return (factor if k == 0 else 1.0, factor if k == 1 else 1.0, factor if k == 2 else 1.0)

    return {f"{t} ×{factor:g}": replace(WITH_ADDITIONAL, weights=up(k)) for k, t in enumerate(TYPES)}


#: The paper's values under our arm names, for the tables whose keys are not the arms' names.
CROP_NAMES = {c: f"crop-{c}" for c in paper.C_T3}
LAYER_NAMES = {n: f"{n} layers" for n in paper.C_T6}
PAPER_WEIGHTINGS = {weighting_name(w): v for w, v in paper.C_T4.items()}
#: C-C4's arms: the paper gives no table, only "a gain of a couple hundredths" (section 10).
PAPER_ADDITIONAL: dict[str, tuple[float, float]] = {}
#: The pretrained backbones the chapter uses and the weights it asks for (claim C-C1 rests on them).
PRETRAINED = {"resnet50": "auto", "inception_v3": "auto"}


# -- runs over seeds -------------------------------------------------------------------------------------------------

def run_arms(s: Settings, arms: Mapping[str, Arm], trials: int | None = None, progress: bool = True
             ) -> tuple[pd.DataFrame, list[str]]:
    """Every arm trained for every seed (the first ``trials`` of them when given): a long table (seed, arm, metric,
    value) of validation loss and accuracy, and the store keys of the models behind it."""
    rows, keys = [], []
    seeds = list(s.seeds if trials is None else range(trials))
    training.ensure(s, arms.values(), seeds, progress)
    for seed in seeds:
        levels = chance_levels(s, seed)
        for name, arm in arms.items():
            t = trained(s, arm, seed, progress)
            keys.append(t.key)
            for metric in (VAL_LOSS, VAL_ACCURACY):
                rows.append({"seed": seed, "arm": name, "metric": metric, "value": t.stored.meta["val"][metric],
                             CHANCE: levels[metric]})
    return pd.DataFrame(rows, columns=["seed", "arm", "metric", "value", CHANCE]), sorted(set(keys))


def chance_levels(s: Settings, seed: int) -> dict[str, float]:
    """What a model that learned only the training split's type frequencies scores on the validation split: the
    class-prior guess's loss and the majority type's accuracy (the sanity gate's levels)."""
    splits = prepare(s, seed).splits
    train, val = splits["train"].labels, splits["val"].labels
    return {VAL_LOSS: chance.cross_entropy(train, val, len(TYPES)), VAL_ACCURACY: chance.accuracy(train, val, len(TYPES))}


LOSS_COLUMN, ACCURACY_COLUMN = "validation loss", "validation accuracy (%)"
METRIC_NAMES = {VAL_LOSS: LOSS_COLUMN, VAL_ACCURACY: ACCURACY_COLUMN, MASS_IN_TRUE_ZONE: "share of the map in the true zone"}
#: Decimals of the shown tables: losses to 3 places, accuracies (percent) to 1.
DECIMALS = {f"{LOSS_COLUMN}: paper": 3, f"{LOSS_COLUMN}: ours": 3, f"{ACCURACY_COLUMN}: paper": 1,
            f"{ACCURACY_COLUMN}: ours": 1, VAL_LOSS: 3, VAL_ACCURACY: 1, MASS_IN_TRUE_ZONE: 3}
#: C-T8's numbers are on the hold-out split.
HOLDOUT_NAMES = {VAL_LOSS: "hold-out loss", VAL_ACCURACY: "hold-out accuracy (%)"}


def beside_paper(long: pd.DataFrame, published: Mapping[Any, tuple[float, float]],
                 names: Mapping[Any, str] | None = None) -> pd.DataFrame:
    """One row per arm (``model``): the paper's loss and accuracy beside our mean and sd over seeds
    (:func:`cpath_repro.results.tables.paper_vs_ours`, shown as "paper | ours" under each metric)."""
    arm_of = {key: (names or {}).get(key, str(key)) for key in published}
    ours = long.assign(metric=long.metric.map(METRIC_NAMES)).rename(columns={"arm": "model"})
    paper_values = {LOSS_COLUMN: {arm_of[k]: v[0] for k, v in published.items()},
                    ACCURACY_COLUMN: {arm_of[k]: v[1] for k, v in published.items()}}
    table = tables.paper_vs_ours(ours, paper_values, by="model", arm="metric")
    return table[table.model.isin(set(long.arm))].reset_index(drop=True)


#: The paper's validation loss under each claim arm's name, where the paper's table is the claim's comparison
#: (C-T3's crops, C-T4's named weightings, C-T5's extractors, C-T7's frozen or trained layers); the unweighted
#: base, C-C4's arms and C-T8's single model have no printed loss.
PAPER_LOSS = {**{CROP_NAMES[c]: v[0] for c, v in paper.C_T3.items()},
              **{name: PAPER_WEIGHTINGS[name][0] for name in paper.WEIGHT_NAMES.values()},
              **{arm: v[0] for arm, v in paper.C_T5.items()}, **{arm: v[0] for arm, v in paper.C_T7.items()}}


def claim_table(long: pd.DataFrame, arms: Iterable[str]) -> pd.DataFrame:
    """The rows of ``arms`` on the validation loss, with the paper's loss of each arm where it printed one: what
    the registry's C rules read."""
    rows = tables.claim_rows(long, arms, [VAL_LOSS])
    return rows.assign(paper=rows.arm.map(PAPER_LOSS))


def spread(long: pd.DataFrame, arms: Iterable[str]) -> pd.DataFrame:
    """C-C2's "volatile" half: each arm's spread (sd and range) of the validation loss over seeds."""
    loss = long[(long.metric == VAL_LOSS) & long.arm.isin(list(arms))]
    out = loss.groupby("arm", sort=False).value.agg(["mean", "std", "min", "max"]).reset_index()
    return out.rename(columns={"std": "sd"})


# -- cleaning (C-F5, C-F6, C-C4) ---------------------------------------------------------------------------------------

def class_counts(s: Settings, seed: int = 0) -> pd.DataFrame:
    """C-T1: images per type in our initial and additional sets beside the paper's."""
    p = prepare(s, seed)
    initial = np.sum([np.bincount(p.splits[k].labels, minlength=3) for k in ("train", "val", "holdout")], axis=0)
    extra = np.bincount(p.splits["additional"].labels, minlength=3) if len(p.splits["additional"]) else np.zeros(3)
    out = paper.C_T1.rename(columns={"initial": "initial (paper)", "additional": "additional (paper)"})
    out["initial (ours)"], out["additional (ours)"] = initial.astype(int), extra.astype(int)
    for kind in ("initial", "additional"):
        out[f"{kind} share (ours)"] = out[f"{kind} (ours)"] / max(out[f"{kind} (ours)"].sum(), 1)
    return out


def unreadable(s: Settings) -> pd.DataFrame:
    """The images skipped because they do not decode (real data: Kaggle's set holds truncated JPEGs), named."""
    return pd.DataFrame(prepare(s, 0).skipped, columns=["file", "why"])


def unreadable_note(skipped: pd.DataFrame) -> str:
    """The page's line on :func:`unreadable` images: how many, then each file and why."""
    return f"unreadable images skipped: {len(skipped)}" + "".join(f"\n  {r.file}: {r.why}" for r in skipped.itertuples())


def filter_quality(s: Settings) -> pd.DataFrame:
    """Per seed and filter, precision and recall of the rejections against the known bad images (synthetic)."""
    rows = []
    for seed in s.seeds:
        p = prepare(s, seed)
        if p.cleaning is None or p.bad is None:
            continue
        for name, kept in (("distribution", p.cleaning.distribution_kept), ("sharpness", p.cleaning.sharpness_kept),
                           ("both", p.cleaning.kept)):
            q = cleaning.filter_quality(kept, p.bad)
            rows.append({"seed": seed, "filter": name, "rejected": q.n_rejected, "bad": q.n_bad,
                         "bad rejected": q.n_bad_rejected, "precision": q.precision, "recall": q.recall})
    return pd.DataFrame(rows)


def rejections_by_reason(p: Prepared) -> pd.DataFrame:
    """For one seed: how many images of each bad reason (and good ones) each filter rejected; on real data, where
    no image's truth is known, one row for all of them."""
    if p.cleaning is None:
        return pd.DataFrame(columns=["image", "images"])
    known = p.splits["additional"].bad
    reasons = np.array([b or "good" for b in known] if known is not None else ["all (truth unknown)"] * len(
        p.splits["additional"]))
    rows = []
    for reason in sorted(set(reasons), key=lambda r: (r != "good", r)):
        of = reasons == reason
        rows.append({"image": reason, "images": int(of.sum()),
                     "rejected by distribution": int((~p.cleaning.distribution_kept & of).sum()),
                     "rejected by sharpness": int((~p.cleaning.sharpness_kept & of).sum()),
                     "kept by both": int((p.cleaning.kept & of).sum())})
    return pd.DataFrame(rows)


def rejection_curves(p: Prepared) -> dict[str, pd.DataFrame]:
    """Precision and recall of each filter's rejections as the kept share varies (what the paper could not draw);
    none where the bad images are not known (real data)."""
    if p.cleaning is None or p.bad is None:
        return {}
    return {"distribution": cleaning.rejection_curve(p.cleaning.log_likelihood, p.bad),
            "sharpness": cleaning.rejection_curve(p.cleaning.sharpness, p.bad)}


def rejected_examples(p: Prepared, which: str, n: int = 6) -> tuple[np.ndarray, list[str]]:
    """C-F5 / C-F6: the additional images a filter rejected that are least like the initial set (lowest score),
    with their truth (synthetic) or names (real)."""
    assert p.cleaning is not None
    extra = p.splits["additional"]
    if which == "distribution":
        rejected = np.flatnonzero(~p.cleaning.distribution_kept)
        order = rejected[np.argsort(p.cleaning.log_likelihood[rejected])]
    else:
        rejected = np.flatnonzero(~p.cleaning.sharpness_kept & p.cleaning.distribution_kept)
        order = rejected[np.argsort(p.cleaning.sharpness[rejected])]
    chosen = order[:n]
    truth = [(extra.bad[i] or "good") if extra.bad is not None else extra.names[i] for i in chosen]
    return extra.images[chosen], truth


# -- the ensemble (C-T8, C-C6) ----------------------------------------------------------------------------------------

def ensemble_study(s: Settings, progress: bool = True) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Per seed: the three class-weighted members' validation losses, the paper's weights set on them, and the
    hold-out loss of the ensemble and of the single (unweighted) model - C-C6's table; and the weights per seed."""
    # imported here, not at the top: only C-T8 runs the ensemble, so only C-T8's result is keyed on its code
    from cpath_repro.chapters.paper_c import ensemble

    members = ensemble_members(s.ensemble_factor)
    rows, weight_rows, keys = [], [], []
    training.ensure(s, [*members.values(), WITH_ADDITIONAL], s.seeds, progress)
    for seed in s.seeds:
        p = prepare(s, seed)
        holdout = p.splits["holdout"]
        fitted = [trained(s, arm, seed, progress) for arm in members.values()]
        single = trained(s, WITH_ADDITIONAL, seed, progress)
        keys += [t.key for t in (*fitted, single)]
        w = ensemble.paper_weights([t.val_loss for t in fitted])
        combined = ensemble.combine([t.predict(holdout) for t in fitted], w.weights)
        for arm, probs in (("ensemble", combined), ("single", single.predict(holdout))):
            for metric, value in scores(probs, holdout.labels).items():
                rows.append({"seed": seed, "arm": arm, "metric": metric, "value": value})
        for (name, t), weight, raw in zip(zip(members, fitted, strict=True), w.weights, w.raw, strict=True):
            weight_rows.append({"seed": seed, "member": name, "validation loss": t.val_loss, "0.95 - loss": raw,
                                "weight": weight, "deviation": w.deviation or ""})
    return pd.DataFrame(rows), pd.DataFrame(weight_rows), sorted(set(keys))


def weight_deviations(weights: pd.DataFrame) -> str:
    """The page's lines on where the ensemble's weights departed from the paper's rule (none: empty)."""
    return "\n".join(sorted(set(weights.deviation) - {""}))


def ensemble_undecidable(weights: pd.DataFrame) -> str | None:
    """Why C-C6 cannot be decided (None: it can): in some trial the weights clipped at 0 or fell back to equal
    weights, so the ensemble compared is not the paper's (0.95 − validation loss); the weights are named."""
    departed = weights[weights.deviation != ""]
    if departed.empty:
        return None
    trials = sorted(set(departed.seed))
    shown = "; ".join(f"trial {seed}: " + ", ".join(f"{r.member} {r.weight:.2f}" for r in g.itertuples())
                      for seed, g in weights[weights.seed.isin(trials)].groupby("seed"))
    return (f"in {len(trials)} of {weights.seed.nunique()} trials the ensemble's weights left the paper's rule "
            f"(a validation loss at or above 0.95 clipped a weight to 0, or every weight to equal), so the "
            f"ensemble is not the paper's; weights {shown}")


def confusion(s: Settings, progress: bool = True) -> np.ndarray:
    """C-F4: the single model's validation confusion matrix, summed over seeds (rows: true type)."""
    from sklearn.metrics import confusion_matrix

    total = np.zeros((3, 3), int)
    for seed in s.seeds:
        val = prepare(s, seed).splits["val"]
        predicted = trained(s, WITH_ADDITIONAL, seed, progress).predict(val).argmax(1)
        total += confusion_matrix(val.labels, predicted, labels=[0, 1, 2])
    return total


def submission(s: Settings, progress: bool = True) -> tuple[list[str], np.ndarray]:
    """The test images' names and seed 0's single-model probabilities, for the Kaggle-format CSV."""
    test = prepare(s, 0).splits["test"]
    return list(test.names), trained(s, WITH_ADDITIONAL, 0, progress).predict(test)


def quality_summary(quality: pd.DataFrame) -> pd.DataFrame:
    """Per filter, precision and recall (mean ± sd over seeds) and how many images it rejected."""
    if quality.empty:
        return pd.DataFrame(columns=["filter", "rejected", "precision", "recall"])
    g = quality.groupby("filter", sort=False)
    out = g[["rejected", "bad", "bad rejected"]].mean()
    for metric in ("precision", "recall"):
        out[f"{metric}_mean"], out[f"{metric}_sd"] = g[metric].mean(), g[metric].std(ddof=1).fillna(0.0)
    return out.reset_index()


def by_arm(long: pd.DataFrame) -> pd.DataFrame:
    """Mean and sd over seeds per arm and metric, one row per arm."""
    stats = long.groupby(["arm", "metric"], sort=False).value.agg(["mean", "std"]).reset_index()
    rows = []
    for arm, g in stats.groupby("arm", sort=False):
        row: dict[str, Any] = {"arm": arm}
        for r in g.itertuples():
            row[f"{r.metric}_mean"], row[f"{r.metric}_sd"] = r.mean, 0.0 if pd.isna(r.std) else r.std
        rows.append(row)
    return pd.DataFrame(rows)


def examples(s: Settings, per_type: int = 6) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """C-T1's figure: initial images per type and bad additional images, their zones and their captions."""
    p = prepare(s, 0)
    train = p.splits["train"]
    rows = [np.flatnonzero(train.labels == k)[:per_type] for k in range(3)]
    images = [train.images[i] for r in rows for i in r]
    zones = [train.tz[i] if train.tz is not None else np.zeros(train.images.shape[1:3], bool) for r in rows for i in r]
    captions = [TYPES[train.labels[i]] for r in rows for i in r]
    extra = p.splits["additional"]
    if extra.bad is not None:
        bad = [i for i, b in enumerate(extra.bad) if b][:per_type]
        images += [extra.images[i] for i in bad]
        zones += [extra.tz[i] if extra.tz is not None else np.zeros(extra.images.shape[1:3], bool) for i in bad]
        captions += [f"bad: {extra.bad[i]}" for i in bad]
    return np.stack(images), np.stack(zones), captions


def submission_table(names: list[str], probabilities: np.ndarray) -> pd.DataFrame:
    """Kaggle's submission (``image_name,Type_1,Type_2,Type_3``), checked as the loader's writer checks it."""
    from cpath_repro.data import cervix as kaggle

    kaggle.check_submission(names, probabilities)
    return pd.DataFrame({"image_name": names, **{t: probabilities[:, k] for k, t in enumerate(TYPES)}})


def model_keys(*groups: Iterable[str]) -> list[str]:
    return sorted({k for g in groups for k in g})


def best(s: Settings, seed: int, progress: bool = True) -> Trained:
    return trained(s, WITH_ADDITIONAL, seed, progress)


def best_keys(s: Settings) -> list[str]:
    """The store keys of every seed's :func:`best` model."""
    return model_keys([best(s, seed).key for seed in s.seeds])


# -- attribution (C-F7, C-F8, C-C7) -----------------------------------------------------------------------------------

#: Validation images per seed whose maps C-C7 averages.
ATTRIBUTION_IMAGES = 24


def attribution_maps(t: Trained, images: np.ndarray, labels: np.ndarray) -> dict[str, np.ndarray]:
    """Saliency (captum) and Grad-CAM (pytorch-grad-cam, at the head's last stage) of each image's true type."""
    from cpath_repro.chapters.paper_c.data import Images
    from cpath_repro.chapters.paper_c.training import ImageSet
    from cpath_repro.explain import cams

    x = ImageSet(Images(images, labels, ("",) * len(images)), t.arm.crop, t.normalize, augment=False).x
    model = t.model.eval()
    layer: nn.Module = model.head.stages[-1]  # type: ignore[union-attr,index,assignment]
    return {"saliency": cams.saliency(model, x, labels.tolist()),
            "grad-cam": cams.grad_cam(model, layer, x, labels.tolist())}


def attribution_study(s: Settings, progress: bool = True) -> tuple[pd.DataFrame, dict[str, np.ndarray], np.ndarray,
                                                                    np.ndarray]:
    """C-C7: per seed, the mean share of each map's mass inside the true transformation zone, for saliency,
    Grad-CAM and a uniform map (the zone's share of the image); and seed 0's maps, images and zones."""
    from cpath_repro.explain.attribution import mass_inside

    rows, shown = [], {}
    images0 = zones0 = np.zeros(0)
    for seed in s.seeds:
        val = prepare(s, seed).splits["val"]
        n = min(ATTRIBUTION_IMAGES, len(val))
        images, labels = val.images[:n], val.labels[:n]
        zones = val.tz[:n] if val.tz is not None else np.zeros(images.shape[:3], bool)  # real photographs: unknown
        maps = attribution_maps(best(s, seed, progress), images, labels)
        maps["uniform-map"] = np.ones(zones.shape, np.float32)
        for arm, found in maps.items():
            if val.tz is not None:
                share = np.mean([mass_inside(m, z) for m, z in zip(found, zones, strict=True)])
                rows.append({"seed": seed, "arm": arm, "metric": MASS_IN_TRUE_ZONE, "value": float(share)})
        if seed == 0:  # the figure: two images of each type (section 13 shows the maps "for each type")
            order = np.concatenate([np.flatnonzero(labels == k)[:2] for k in range(3)])
            shown, images0, zones0 = {k: v[order] for k, v in maps.items()}, images[order], zones[order]
    return pd.DataFrame(rows, columns=["seed", "arm", "metric", "value"]), shown, images0, zones0


#: Claims measured against the generator's truth, and why real photographs cannot test them.
NEEDS_GROUND_TRUTH = {"C-C7": "needs the true transformation zone of each image, which real photographs do not have"}


def report_claim(run: Any, claim_id: str, table: pd.DataFrame, s: Settings) -> Any:
    """Save a claim's per-seed table and return its verdict box; on real data a claim that needs the generator's
    truth is not testable, and the run says why."""
    from cpath_repro import notebook

    return notebook.report_claim(run, claim_id, table, s.data,
                                 NEEDS_GROUND_TRUTH.get(claim_id) if s.data_root is not None else None)
