"""Paper B's tables, claim tables and figure data, from the models of :mod:`.training`.

Each function trains what it needs through the model store (or loads it), so the notebooks share
models: B-T2's baselines and deep-tuned cells are B-T4's deep arm, B-F4's single sources and B-F2's
transferred model. Every claim table has one row per (seed, arm, unit, metric), as the registry's
rules read them; accuracies are in percent.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from cpath_repro.chapters.paper_b import paper
from cpath_repro.chapters.paper_b.data import counts_row, draw, prepare
from cpath_repro.chapters.paper_b.settings import FOCUS, LARGE, SMALL, Settings
from cpath_repro.chapters.paper_b.training import (
    TOP1,
    Start,
    Trained,
    baseline,
    ensure_baselines,
    ensure_tuned,
    features,
    tuned,
    tuned_at,
    tuned_recipe,
)
from cpath_repro.claims.metrics import paper_b as metrics
from cpath_repro.data import histokt, standardize
from cpath_repro.data.layout import available
from cpath_repro.metrics import chance
from cpath_repro.metrics.segmentation import plateaued
from cpath_repro.results import tables
from cpath_repro.train import store

PAIR = "{} → {}"
CHANCE, PAPER = chance.COLUMN, "paper"
#: A claim table's columns: the rules' five, each arm's chance level (the sanity gate) and the paper's value.
CLAIM_COLUMNS = ["seed", "arm", "unit", "metric", "value", CHANCE, PAPER]


def _printed(published: Mapping[Any, tuple[float, float]], key: Any) -> float:
    """The paper's mean for ``key``, NaN where it printed none."""
    return published[key][0] if key in published else float("nan")


def _printed_mean(published: Mapping[tuple[str, str], tuple[float, float]], sources: Iterable[str], target: str) -> float:
    """The mean of the paper's values over ``sources`` into ``target`` (NaN unless it printed every one)."""
    values = [_printed(published, (source, target)) for source in sources]
    return float(np.mean(values)) if values else float("nan")


#: The backbone and the weights B-T3's two-stage transfer and B-F2 start from (claim B-C4 rests on them).
PRETRAINED = {"resnet18": "auto"}


# -- the run's data ------------------------------------------------------------------------------------------------------

def usable(s: Settings) -> tuple[Settings, list[str]]:
    """The settings restricted to the datasets present under ``data_root`` (all, for synthetic data), and the
    names of the datasets left out because they are absent (the page lists them)."""
    if s.data_root is None:
        return s, []
    present = set(available(s.data_root, histokt.NAMES))
    absent = [n for n in s.datasets if n not in present]
    keep = [n for n in s.sources if n in present], [n for n in s.targets if n in present]
    trimmed = dataclasses.replace(s, sources=tuple(keep[0]), targets=tuple(keep[1]),
                                  two_stage=tuple(n for n in s.two_stage if n in present),
                                  pretrained_targets=tuple(n for n in s.pretrained_targets if n in present),
                                  distilled=tuple(c for c in s.distilled if set(c) <= present))
    return trimmed, absent


def record_data(run: Any, s: Settings) -> None:
    """Tell the run what data its numbers rest on: the generator and its settings, or each real dataset's
    index files (label CSVs, split files, HDF5 files) with their checksums."""
    if s.data_root is None:
        from cpath_repro.synth import histokt as synthetic

        run.use_synthetic(f"{synthetic.__name__} (HistoKT-like datasets, Beer-Lambert H&E)", s.seeds,
                          scale=round(s.scale, 4), crop=s.crop, large_crops=s.large_crops, difficulty=s.difficulty,
                          datasets=",".join(s.datasets))
        return
    for folder in available(s.data_root, s.datasets).values():
        index = sorted(p for p in folder.rglob("*") if p.suffix.lower() in (".csv", ".tsv", ".npy", ".h5"))
        run.use_files(folder, index)


def crop_counts() -> pd.DataFrame:
    """B-T1 from Table 1 alone: crops per image and per dataset at the code's and the text's overlap, beside
    the published count, and which overlap the published count follows."""
    rows = []
    for c in standardize.count_table():
        row: dict[str, Any] = {"dataset": c.dataset, "published patches": c.published}
        for stride in (standardize.stride_for(standardize.CODE_OVERLAP), standardize.stride_for(standardize.PAPER_OVERLAP)):
            overlap = "25 %" if stride == standardize.CODE_STRIDE else "50 %"
            row[f"{overlap} overlap: per image"] = c.per_image[stride] if c.per_image else None
            row[f"{overlap} overlap: all images"] = c.expected[stride] if c.expected else None
        matches = ["25 %" if m == standardize.CODE_STRIDE else "50 %" for m in c.matching]
        row["published count follows"] = ("either (one crop per image)" if len(matches) == 2 else matches[0]
                                          if matches else "neither (a subset of the dataset)" if c.expected
                                          else "sizes not given")
        rows.append(row)
    table = pd.DataFrame(rows)
    counts = [c for c in table.columns if "overlap:" in c]
    table[counts] = table[counts].astype("Int64")  # counts stay whole numbers beside the missing ones
    return table


def table1_datasets(s: Settings) -> tuple[str, ...]:
    """The datasets B-T1 shows: all nine synthetic ones, or those present under ``data_root``."""
    return histokt.NAMES if s.data_root is None else tuple(available(s.data_root, histokt.NAMES))


EXAMPLES_PER_DATASET = 6


def example_crops(s: Settings, names: Iterable[str], seed: int = 0) -> dict[str, np.ndarray]:
    """The first standardized training crops of each dataset (for the B-T1 figure)."""
    return {n: prepare(s, n, seed).splits["train"].images[:EXAMPLES_PER_DATASET] for n in names}


def pipeline_counts(s: Settings, names: Iterable[str], seed: int = 0) -> pd.DataFrame:
    """B-T1 on this run's data: per dataset, source images, crops made, flagged by each contrast rule, kept."""
    return pd.DataFrame([counts_row(prepare(s, n, seed)) for n in names])


#: B-T1's pipeline table in two readable halves (column -> its shown name): the source images, then the crops.
PIPELINE_SOURCES = {"dataset": "dataset", "classes": "classes", "native um/px": "native µm/px",
                    "images": "source images", "unreadable": "unreadable images"}
PIPELINE_CROPS = {"dataset": "dataset", "made": "crops: made", "low_contrast_code": "crops: low contrast (code's rule)",
                  "low_contrast_paper": "crops: low contrast (text's rule)", "kept": "crops: kept",
                  "unlabelled": "crops: unlabelled", "train crops": "split: train", "val crops": "split: validation",
                  "test crops": "split: test"}


#: The plateau rule, revised before the next run (2026-12-04, the record of choices): a training levelled off when
#: its last quarter of epochs brought no new best validation accuracy over the best before them by more than one
#: validation crop (its smallest step; 1 point where a crop is worth less). The kept model is the best epoch, so a
#: fall after the peak costs nothing.
PLATEAU_TAIL, PLATEAU_MIN_POINTS = 0.25, 1.0


def plateau_points(val_crops: int) -> float:
    """The plateau rule's tolerance (points) for a validation split of ``val_crops`` crops."""
    return max(PLATEAU_MIN_POINTS, 100.0 / max(val_crops, 1))


def _row(seed: int, source: str, target: str, arm: str, trained: Trained) -> dict[str, Any]:
    curve = trained.curve
    return {"seed": seed, "source": source, "target": target, "arm": arm, "val": trained.val, "test": trained.test,
            CHANCE: trained.chance,
            "plateaued": plateaued(curve, PLATEAU_TAIL, plateau_points(trained.val_crops)),
            "curve": " ".join(f"{v:.2f}" for v in curve), "key": trained.key, "keys": " ".join(trained.keys)}


def validation_curves(long: pd.DataFrame) -> pd.DataFrame:
    """Every model's validation top-1 (%) per epoch (long: target, arm, source, seed, epoch, value)."""
    rows = [{"target": r.target, "arm": r.arm, "source": r.source, "seed": r.seed, "epoch": e + 1, "value": float(v)}
            for r in long.itertuples() for e, v in enumerate(str(r.curve).split())]
    return pd.DataFrame(rows, columns=["target", "arm", "source", "seed", "epoch", "value"])


def target_chance(long: pd.DataFrame) -> dict[str, float]:
    """Each target's chance level (percent; the highest over trials), for the curves' dashed line."""
    return long[long.arm == "baseline"].groupby("target")[CHANCE].max().to_dict()


def _unsettled(long: pd.DataFrame, targets: Iterable[str] | None = None) -> dict[str, list[int]]:
    """Target -> the trials whose baseline did not level off by the plateau rule."""
    base = long[(long.arm == "baseline") & (long.source == long.target)]
    if targets is not None:
        base = base[base.target.isin(list(targets))]
    return {t: sorted(int(x) for x in g.seed) for t, g in base[~base.plateaued.astype(bool)].groupby("target")}


_PLATEAU_WORDS = (f"by the rule fixed before the run (no new best validation accuracy in the last {PLATEAU_TAIL:.0%} "
                  f"of epochs beyond one validation crop, at least {PLATEAU_MIN_POINTS:g} point; one epoch cannot "
                  "show it)")


def _named(unsettled: Mapping[str, list[int]]) -> str:
    return ", ".join(f"{t} (trial {', '.join(map(str, seeds))})" for t, seeds in unsettled.items())


def _why_undecidable(unsettled: Mapping[str, list[int]]) -> str:
    return (f"the baselines of {_named(unsettled)} did not level off {_PLATEAU_WORDS}: a comparison with them "
            "measures the budget, not transfer")


def baselines_unsettled(long: pd.DataFrame, targets: Iterable[str] | None = None) -> str | None:
    """Why a claim comparing with the baselines cannot be decided at this budget (None: every baseline of
    ``targets`` plateaued in every trial, by :data:`PLATEAU_TAIL` and :func:`plateau_points`)."""
    unsettled = _unsettled(long, targets)
    return _why_undecidable(unsettled) if unsettled else None


@dataclasses.dataclass(frozen=True)
class Settled:
    """A pair claim's table restricted to the units whose target baseline levelled off in every trial, a
    sentence for the page on what was left out, and why the claim is undecidable when no unit is left."""

    table: pd.DataFrame
    note: str
    undecidable: str | None


def settled_pairs(claim: pd.DataFrame, long: pd.DataFrame) -> Settled:
    """B-C1/B-C2 over the source → target pairs whose target baseline levelled off (a rule fixed before the run,
    2026-12-04): a pair with a baseline still improving measures the budget, not transfer, so it is left out and
    named, not counted. With no pair left the whole table is kept and the claim is undecidable."""
    targets = claim.unit.str.split(" → ").str[1]
    unsettled = _unsettled(long, set(targets))
    if not unsettled:
        return Settled(claim, "Every compared baseline levelled off: every pair counts.", None)
    out = targets.isin(list(unsettled))
    left_out, kept = sorted(set(claim.unit[out])), claim[~out]
    note = (f"Left out: {', '.join(left_out)}, since the baselines of {_named(unsettled)} did not level off "
            f"{_PLATEAU_WORDS}.")
    if kept.empty:
        return Settled(claim, note, _why_undecidable(unsettled))
    return Settled(kept.reset_index(drop=True), note, None)


def epochs_to_plateau(curve: Iterable[float], within: float) -> int | None:
    """The fewest epochs from which a training levels off by the plateau rule and stays so at every longer
    budget up to the curve's length (a shorter training's curve is this one's start: nothing in a baseline's
    schedule depends on the epochs it is given); None when even the whole curve has not levelled off. A curve
    that is flat at its start (not yet learning) passes the rule there, hence "stays"."""
    values = list(curve)
    unsettled = [e for e in range(2, len(values) + 1) if not plateaued(values[:e], PLATEAU_TAIL, within)]
    if len(values) < 2 or (unsettled and unsettled[-1] == len(values)):
        return None
    return unsettled[-1] + 1 if unsettled else 2


def plateau_pilot(s: Settings, seed: int, progress: bool = True) -> pd.DataFrame:
    """How many epochs each dataset's baseline needs to level off, from one training of ``s.epochs`` epochs per
    dataset of ``s``, trial ``seed``: the measurement that sets the profile's epochs on a seed outside its trials
    (``benchmarks/paper_b_plateau.py``; the record of choices gives the run)."""
    rows = []
    ensure_baselines(s, s.datasets, [seed], progress)
    for name in s.datasets:
        trained = baseline(s, name, seed, progress)
        rows.append({"dataset": name, "train_crops": trained.stored.meta["train_crops"], "val_crops": trained.val_crops,
                     "epochs_to_plateau": epochs_to_plateau(trained.curve, plateau_points(trained.val_crops)),
                     "best_val": max(trained.curve), "chance": trained.chance,
                     "curve": " ".join(f"{v:.1f}" for v in trained.curve)})
    return pd.DataFrame(rows)


def model_keys(*tables: pd.DataFrame) -> list[str]:
    """Every store key the tables' models rest on (their own and their lineage's), for ``Run.use_models``."""
    return list(dict.fromkeys(k for table in tables for keys in table["keys"] for k in keys.split()))


# -- B-T2 / B-T3: transfer matrices -----------------------------------------------------------------------------------

def single_stage(s: Settings, progress: bool = True) -> pd.DataFrame:
    """B-T2, long: every dataset's baseline (source = target) and every source → target deep-tuned from
    the source's baseline of the same trial."""
    draw(s, s.datasets)  # every dataset the chapter's notebooks read, drawn at once
    ensure_baselines(s, dict.fromkeys((*s.sources, *s.targets)), s.seeds, progress)  # the baselines, then the cells
    ensure_tuned(s, [(target, seed, Start("baseline", (source,)), "deep") for seed in s.seeds for source in s.sources
                     for target in s.targets if source != target], progress)
    rows = []
    for seed in s.seeds:
        for name in dict.fromkeys((*s.sources, *s.targets)):
            rows.append(_row(seed, name, name, "baseline", baseline(s, name, seed, progress)))
        for source in s.sources:
            for target in s.targets:
                if source != target:
                    rows.append(_row(seed, source, target, "deep-tuned",
                                     tuned(s, target, seed, Start("baseline", (source,)), "deep", progress)))
    return pd.DataFrame(rows)


def two_stage(s: Settings, progress: bool = True) -> pd.DataFrame:
    """B-T3, long: each of ``pretrained_targets`` deep-tuned from the pretrained backbone (the diagonal), and
    every target deep-tuned from it on a source first (pretraining → source → target)."""
    ensure_tuned(s, [(target, seed, start, "deep") for seed in s.seeds for target in s.targets
                     for start in ([Start("pretrained")] if target in s.pretrained_targets else [])
                     + [Start("two-stage", (source,)) for source in s.two_stage if source != target]], progress)
    rows = []
    for seed in s.seeds:
        for target in s.targets:
            if target in s.pretrained_targets:
                rows.append(_row(seed, target, target, "pretrained", tuned(s, target, seed, Start("pretrained"),
                                                                            "deep", progress)))
            for source in s.two_stage:
                if source != target:
                    rows.append(_row(seed, source, target, "two-stage",
                                     tuned(s, target, seed, Start("two-stage", (source,)), "deep", progress)))
    return pd.DataFrame(rows)


def mean_sd(values: Iterable[float]) -> tuple[float, float]:
    v = np.asarray(list(values), dtype=float)
    return float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else 0.0


def matrix(long: pd.DataFrame, paper_values: dict[tuple[str, str], tuple[float, float]]) -> pd.DataFrame:
    """One row per (source, target) cell: ours (mean, sd over trials), the paper's, whether each is better
    than the target's own diagonal (baseline or pretrained) in ours and in the paper, and whether they agree."""
    diagonal = long[long.source == long.target].groupby("target").test.mean()
    rows = []
    for (source, target), g in long.groupby(["source", "target"], sort=False):
        mean, sd = mean_sd(g.test)
        ours_vs = None if source == target or target not in diagonal else bool(mean > diagonal[target])
        p = paper_values.get((source, target))
        p_diag = paper_values.get((target, target))
        paper_vs = None if source == target or p is None or p_diag is None else bool(p[0] > p_diag[0])
        rows.append({"source": source, "target": target, "ours_mean": mean, "ours_sd": sd, "trials": len(g),
                     "paper_mean": p[0] if p else np.nan, "paper_sd": p[1] if p else np.nan,
                     "ours_better": ours_vs, "paper_better": paper_vs,
                     "agree": None if ours_vs is None or paper_vs is None else ours_vs == paper_vs})
    return pd.DataFrame(rows)


def paper_matrix(published: Mapping[tuple[str, str], tuple[float, float]]) -> pd.DataFrame:
    """The paper's whole matrix as text (rows: source, columns: target; "mean ± sd" as printed), for the page to
    show beside the figure so that every value can be checked against the paper."""
    sources = list(dict.fromkeys(src for src, _ in published))
    targets = list(dict.fromkeys(tgt for _, tgt in published))
    rows = [{"source": src, **{tgt: tables.printed(*published[(src, tgt)]) if (src, tgt) in published else "–"
                                for tgt in targets}} for src in sources]
    return pd.DataFrame(rows, columns=["source", *targets])


def pair_claim(long: pd.DataFrame, sources: Iterable[str]) -> pd.DataFrame:
    """B-C1/B-C2: per source → target pair (unit), the deep-tuned target against the target's baseline."""
    base = long[long.arm == "baseline"].set_index(["seed", "target"])
    rows = []
    for r in long[(long.arm == "deep-tuned") & long.source.isin(list(sources))].itertuples():
        unit, b = PAIR.format(r.source, r.target), base.loc[(r.seed, r.target)]
        rows += [{"seed": r.seed, "arm": "deep-tuned", "unit": unit, "metric": TOP1, "value": r.test, CHANCE: r.chance,
                  PAPER: _printed(paper.B_T2, (r.source, r.target))},
                 {"seed": r.seed, "arm": "baseline", "unit": unit, "metric": TOP1, "value": b.test, CHANCE: b.chance,
                  PAPER: _printed(paper.B_T2, (r.target, r.target))}]
    return pd.DataFrame(rows, columns=CLAIM_COLUMNS)


def large_source_claim(long: pd.DataFrame) -> pd.DataFrame:
    return pair_claim(long, LARGE)


def small_source_claim(long: pd.DataFrame) -> pd.DataFrame:
    return pair_claim(long, SMALL)


def two_stage_claim(two: pd.DataFrame, single: pd.DataFrame) -> pd.DataFrame:
    """B-C4: per target (unit), two-stage transfer against single-stage transfer from the same sources (the
    paper's Table 3 against its Table 2), each the mean over the sources both have in that trial. Against the
    baseline from random initialization, the source stage alone would pass it."""
    staged = two[two.arm == "two-stage"].set_index(["seed", "source", "target"])
    once = single[single.arm == "deep-tuned"].set_index(["seed", "source", "target"])
    both = staged.index.intersection(once.index)
    rows = []
    for (seed, target), g in staged.loc[both].reset_index().groupby(["seed", "target"]):
        alone = once.loc[[(seed, source, target) for source in g.source]]
        rows += [{"seed": seed, "arm": "two-stage", "unit": target, "metric": TOP1, "value": float(g.test.mean()),
                  CHANCE: float(g.chance.max()), PAPER: _printed_mean(paper.B_T3, g.source, target)},
                 {"seed": seed, "arm": "single-stage", "unit": target, "metric": TOP1,
                  "value": float(alone.test.mean()), CHANCE: float(alone.chance.max()),
                  PAPER: _printed_mean(paper.B_T2, g.source, target)}]
    return pd.DataFrame(rows, columns=CLAIM_COLUMNS)


# -- B-T4: deep vs fine from ADP ---------------------------------------------------------------------------------------

TUNING_SOURCE = "ADP"


def tuning_modes(s: Settings, progress: bool = True) -> pd.DataFrame:
    """B-T4 / B-C3: every target (but ADP) deep- and fine-tuned from ADP's baseline of the same trial."""
    start = Start("baseline", (TUNING_SOURCE,))
    ensure_tuned(s, [(target, seed, start, mode) for seed in s.seeds for target in s.targets if target != TUNING_SOURCE
                     for mode in ("deep", "fine")], progress)
    rows = []
    for seed in s.seeds:
        for target in s.targets:
            if target == TUNING_SOURCE:
                continue
            for mode, arm in (("deep", "deep-tuning"), ("fine", "fine-tuning")):
                trained = tuned(s, target, seed, start, mode, progress)
                rows.append({**_row(seed, TUNING_SOURCE, target, arm, trained), "lr": trained.stored.meta["lr"]})
    return pd.DataFrame(rows)


#: The small learning-rate search that fixed the ``default`` profile's rates (ADP's trial 0 tuned on BACH).
LR_GRID = {"deep": (3e-4, 1e-3, 3e-3), "fine": (1e-3, 3e-3, 1e-2)}


def lr_search(s: Settings, target: str = FOCUS, seed: int = 0, progress: bool = True) -> pd.DataFrame:
    """Validation accuracy (%) of each learning rate of :data:`LR_GRID`, tuning ``target`` from ADP (trial ``seed``)."""
    start = Start("baseline", (TUNING_SOURCE,))
    store.ensure([tuned_recipe(s, target, seed, start, mode, lr, progress)[0] for mode, grid in LR_GRID.items()
                  for lr in grid])
    rows = []
    for mode, grid in LR_GRID.items():
        for lr in grid:
            trained = tuned_at(s, target, seed, start, mode, lr, progress)
            rows.append({"mode": mode, "lr": lr, "val": trained.val, "keys": " ".join(trained.keys)})
    return pd.DataFrame(rows)


def tuning_claim(modes: pd.DataFrame) -> pd.DataFrame:
    """B-C3: per target (unit), deep-tuning against fine-tuning."""
    published = {"deep-tuning": paper.B_T4_DEEP, "fine-tuning": paper.B_T4_FINE}
    return pd.DataFrame([{"seed": r.seed, "arm": r.arm, "unit": r.target, "metric": TOP1, "value": r.test,
                          CHANCE: r.chance, PAPER: _printed(published[r.arm], r.target)} for r in modes.itertuples()],
                        columns=CLAIM_COLUMNS)


def tuning_table(modes: pd.DataFrame) -> pd.DataFrame:
    """B-T4 beside the paper's Table 4: mean ± sd per target and mode."""
    rows = []
    for target, g in modes.groupby("target", sort=False):
        row: dict[str, Any] = {"target": target}
        for arm, paper_values in (("deep-tuning", paper.B_T4_DEEP), ("fine-tuning", paper.B_T4_FINE)):
            row[f"{arm}: paper_mean"], row[f"{arm}: paper_sd"] = paper_values.get(target, (np.nan, np.nan))
            row[f"{arm}: ours_mean"], row[f"{arm}: ours_sd"] = mean_sd(g[g.arm == arm].test)
        rows.append(row)
    return pd.DataFrame(rows)


# -- B-F2 / B-C6: representations ---------------------------------------------------------------------------------------

def best_source(single: pd.DataFrame, target: str = FOCUS, among: Iterable[str] | None = None) -> str:
    """The source whose deep-tuned models reach the highest mean *validation* accuracy on ``target`` (the
    single-stage matrix's ranking, without looking at test accuracy)."""
    cells = single[(single.arm == "deep-tuned") & (single.target == target)]
    if among is not None:
        cells = cells[cells.source.isin(list(among))]
    if cells.empty:
        raise ValueError(f"No deep-tuned cell for {target} to rank sources by.")
    return str(cells.groupby("source").val.mean().idxmax())


#: B-C6's measures of disentanglement, in the encoder's feature space of the target's test crops.
KNN_NEIGHBOURS = 5
KNN_FOLDS = 5


def disentanglement(x: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """k-NN accuracy (%, cross-validated on the test features) and silhouette of the true classes (cosine)."""
    from sklearn.metrics import silhouette_score
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.neighbors import KNeighborsClassifier

    y = labels.argmax(1) if labels.ndim == 2 else labels
    folds = min(KNN_FOLDS, int(np.bincount(y).max()), int(np.bincount(y)[np.bincount(y) > 0].min()))
    knn = KNeighborsClassifier(n_neighbors=min(KNN_NEIGHBOURS, max(1, len(y) // 2)), metric="cosine")
    accuracy = (100.0 * float(cross_val_score(knn, x, y, cv=StratifiedKFold(folds, shuffle=True, random_state=0)).mean())
                if folds >= 2 else float("nan"))
    silhouette = float(silhouette_score(x, y, metric="cosine")) if len(np.unique(y)) > 1 else float("nan")
    return {metrics.KNN_ACCURACY: accuracy, metrics.SILHOUETTE: silhouette}


def representations(s: Settings, single: pd.DataFrame, progress: bool = True
                    ) -> tuple[pd.DataFrame, dict[tuple[str, int], np.ndarray], str, str, list[str]]:
    """B-F2: the focus target's test features under four models per trial (baseline; deep-tuned from the best
    source; deep-tuned from pretraining; pretraining → best two-stage source → target), their disentanglement
    (long table), the features, the best source, the best two-stage source and the models' store keys."""
    source = best_source(single)
    staged = best_source(single, among=s.two_stage) if set(s.two_stage) & set(s.sources) else s.two_stage[0]
    arms = {"baseline": None, "transferred": Start("baseline", (source,)), "pretrained": Start("pretrained"),
            "two-stage": Start("two-stage", (staged,))}
    rows: list[dict[str, Any]] = []
    found: dict[tuple[str, int], np.ndarray] = {}
    keys: list[str] = []
    ensure_baselines(s, [FOCUS], s.seeds, progress)
    ensure_tuned(s, [(FOCUS, seed, start, "deep") for seed in s.seeds for start in arms.values() if start is not None],
                 progress)
    for seed in s.seeds:
        test = prepare(s, FOCUS, seed).splits["test"]
        for arm, start in arms.items():
            trained = baseline(s, FOCUS, seed, progress) if start is None else tuned(s, FOCUS, seed, start, "deep",
                                                                                     progress)
            keys += trained.keys
            x = features(trained.model, test, trained.normalization)
            found[(arm, seed)] = x
            rows += [{"seed": seed, "arm": arm, "metric": k, "value": v} for k, v in
                     disentanglement(x, test.labels).items()]
    return pd.DataFrame(rows), found, source, staged, list(dict.fromkeys(keys))


def tsne(x: np.ndarray, seed: int = 0) -> np.ndarray:
    """A 2-D t-SNE map of features (scikit-learn; perplexity capped for small test sets)."""
    from sklearn.manifold import TSNE

    return TSNE(2, perplexity=min(30.0, max(2.0, (len(x) - 1) / 3)), init="pca", random_state=seed).fit_transform(x)


def tsne_panels(found: Mapping[tuple[str, int], np.ndarray], labels: np.ndarray, arms: Mapping[str, str],
                seed: int = 0) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """B-F2's panels: trial ``seed``'s test features of each arm (:func:`representations`) mapped by :func:`tsne`,
    with the crops' labels, under the arm's caption (``arms``: arm -> caption)."""
    return {caption: (tsne(found[(arm, seed)]), labels) for arm, caption in arms.items()}


def by_arm(table: pd.DataFrame, names: dict[str, str] | None = None, label: str = "model") -> pd.DataFrame:
    """Mean and sd over trials per arm and metric, one row per arm (``X_mean``/``X_sd`` columns)."""
    stats = table.groupby(["arm", "metric"], sort=False).value.agg(["mean", "std"]).reset_index()
    rows = []
    for arm, g in stats.groupby("arm", sort=False):
        row: dict[str, Any] = {label: (names or {}).get(str(arm), arm)}
        for r in g.itertuples():
            row[f"{r.metric}_mean"], row[f"{r.metric}_sd"] = r.mean, 0.0 if pd.isna(r.std) else r.std
        rows.append(row)
    return pd.DataFrame(rows)


def disentanglement_claim(table: pd.DataFrame) -> pd.DataFrame:
    """B-C6: the transferred model against the baseline, on k-NN accuracy and silhouette."""
    return table[table.arm.isin(["transferred", "baseline"])].reset_index(drop=True)


# -- B-F4 / B-C5: weight distillation -----------------------------------------------------------------------------------

def combo_label(combo: Iterable[str]) -> str:
    return " + ".join(combo)


def distillation(s: Settings, single: pd.DataFrame, progress: bool = True) -> pd.DataFrame:
    """B-F4: the focus target deep-tuned from each distilled combination, per trial, beside its baseline and
    each constituent deep-tuned alone (from the single-stage matrix)."""
    ensure_tuned(s, [(FOCUS, seed, Start("distilled", combo), "deep") for seed in s.seeds for combo in s.distilled],
                 progress)
    rows = []
    for seed in s.seeds:
        for combo in s.distilled:
            trained = tuned(s, FOCUS, seed, Start("distilled", combo), "deep", progress)
            rows.append({**_row(seed, combo_label(combo), FOCUS, "distilled", trained),
                         "order": ", ".join(trained.stored.meta["config"]["start"]["order"])})
    return pd.DataFrame(rows)


def distillation_claim(distilled: pd.DataFrame, single: pd.DataFrame, combos: Iterable[tuple[str, ...]]) -> pd.DataFrame:
    """B-C5: per combination (unit), distilled against single-source: of the combination's constituents
    deep-tuned alone on the target, the one with the best validation accuracy in that trial."""
    cells = single[(single.arm == "deep-tuned") & (single.target == FOCUS)]
    rows = []
    for combo in combos:
        unit = combo_label(combo)
        for seed, d in distilled[distilled.source == unit].groupby("seed"):
            alone = cells[(cells.seed == seed) & cells.source.isin(list(combo))]
            if alone.empty:
                continue
            best = alone.loc[alone.val.idxmax()]
            rows += [{"seed": seed, "arm": "distilled", "unit": unit, "metric": TOP1, "value": float(d.test.iloc[0]),
                      CHANCE: float(d.chance.iloc[0])},
                     {"seed": seed, "arm": "single-source", "unit": unit, "metric": TOP1, "value": float(best.test),
                      CHANCE: float(best.chance)}]
    return pd.DataFrame(rows, columns=CLAIM_COLUMNS)


def distillation_summary(distilled: pd.DataFrame, single: pd.DataFrame, s: Settings) -> pd.DataFrame:
    """B-F4's bars: the focus target's baseline, each source deep-tuned alone, each distilled combination."""
    parts = [single[(single.arm == "baseline") & (single.target == FOCUS)].assign(model=f"{FOCUS} baseline")]
    used = dict.fromkeys(n for c in s.distilled for n in c)
    cells = single[(single.arm == "deep-tuned") & (single.target == FOCUS) & single.source.isin(list(used))]
    parts.append(cells.assign(model=cells.source.map(lambda n: f"from {n} alone")))
    parts.append(distilled.assign(model=distilled.source.map(lambda c: f"distilled {c}")))
    long = pd.concat(parts, ignore_index=True)
    return pd.DataFrame([{"model": m, "ours_mean": mean_sd(g.test)[0], "ours_sd": mean_sd(g.test)[1], "trials": len(g)}
                         for m, g in long.groupby("model", sort=False)])


# -- B-F3: Grad-CAM ----------------------------------------------------------------------------------------------------

#: Grad-CAM needs a feature map of at least this many cells a side: the deepest ResNet18 stage that has one.
MIN_CAM_CELLS = 4
CAM_EXAMPLES = 8
#: B-F3's measure (no claim rests on it): the share of a crop's Grad-CAM heat inside its true class region.
HEAT_IN_TRUE_REGION = "heat_in_true_region"


def cam_layer(model: Any, crop: int) -> tuple[str, Any]:
    """The deepest ResNet18 stage whose map over a ``crop``-pixel input has at least MIN_CAM_CELLS a side
    (layer4 at 272 px: 9 x 9; layer2 at 32 px: 4 x 4)."""
    for name, stride in (("layer4", 32), ("layer3", 16), ("layer2", 8), ("layer1", 4)):
        if crop // stride >= MIN_CAM_CELLS:
            return name, getattr(model, name)[-1]
    return "layer1", model.layer1[-1]


def grad_cams(trained: Trained, images: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """pytorch-grad-cam's Grad-CAM of each crop's true class, with augmentation and eigen smoothing
    (as in paper B, section 3); ``(N, S, S)`` in [0, 1]."""
    import torch

    from cpath_repro.chapters.paper_b.training import encoder_of
    from cpath_repro.explain import cams

    model = encoder_of(trained.model).eval()
    _, layer = cam_layer(model, images.shape[1])
    x = trained.normalization(torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255.0)
    y = labels.argmax(1) if labels.ndim == 2 else labels
    return cams.grad_cam(model, layer, x, y.tolist(), aug_smooth=True, eigen_smooth=True)


def heat_inside(cams: np.ndarray, regions: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per crop, the fraction of its Grad-CAM heat inside its true class's region (synthetic ground truth)."""
    y = labels.argmax(1) if labels.ndim == 2 else labels
    inside = regions == y[:, None, None]
    total = cams.reshape(len(cams), -1).sum(1)
    return np.where(total > 0, (cams * inside).reshape(len(cams), -1).sum(1) / np.maximum(total, 1e-12), np.nan)


def gradcam_study(s: Settings, single: pd.DataFrame, progress: bool = True
                  ) -> tuple[pd.DataFrame, dict[str, np.ndarray], np.ndarray]:
    """B-F3: Grad-CAM of the baseline and the transferred (best source) model on the focus target's first test
    crops; per trial the mean heat fraction inside the true class region (synthetic data only), the maps of
    trial 0 and its crops."""
    source = best_source(single)
    rows, maps = [], {}
    shown = prepare(s, FOCUS, 0).splits["test"].images[:CAM_EXAMPLES]
    for seed in s.seeds:
        test = prepare(s, FOCUS, seed).splits["test"]
        images, labels = test.images[:CAM_EXAMPLES], test.labels[:CAM_EXAMPLES]
        for arm, trained in (("baseline", baseline(s, FOCUS, seed, progress)),
                             ("transferred", tuned(s, FOCUS, seed, Start("baseline", (source,)), "deep", progress))):
            cams = grad_cams(trained, images, labels)
            if seed == 0:
                maps[arm] = cams
            if test.regions is not None:
                rows.append({"seed": seed, "arm": arm, "metric": HEAT_IN_TRUE_REGION,
                             "value": float(np.nanmean(heat_inside(cams, test.regions[:CAM_EXAMPLES], labels)))})
    return pd.DataFrame(rows, columns=["seed", "arm", "metric", "value"]), maps, shown
