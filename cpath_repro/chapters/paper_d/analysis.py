"""Paper D's experiments as the notebooks call them: each table's methods over paired seeds, the claims'
tables, the tumour points, the Camelyon17 staging and the memory and gradient measurements.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from cpath_repro.chapters.paper_d import data, paper, training
from cpath_repro.claims.metrics.paper_d import (
    ACCURACY,
    ISOLATED_FALSE_TUMOUR_POINTS,
    MAX_RELATIVE_GRADIENT_ERROR,
    PEAK_MEMORY_RATIO_4X_PATCHES,
    PR_AUC,
    QUADRATIC_KAPPA,
)
from cpath_repro.errors import ParameterError, UserError
from cpath_repro.metrics import chance
from cpath_repro.metrics.heatmaps import isolated_false_tumour_points, patch_chance, patch_scores
from cpath_repro.results import tables

CHANCE = chance.COLUMN

if TYPE_CHECKING:
    from cpath_repro.chapters.paper_d.settings import Settings  # read, never imported: reader text

METHODS = training.METHODS
SEPARATE_LONGER = training.SEPARATE_LONGER
CONTROL_LABEL = "Separate learning, trained on (control)"
#: D-T1's arms: the paper's five methods and D-C2's control.
T1_ARMS = (*METHODS, SEPARATE_LONGER)

#: The table columns of the two patch metrics, in percent as the paper prints them.
METRIC_NAMES = {ACCURACY: "accuracy (%)", PR_AUC: "PR-AUC (%)"}
DECIMALS = {"accuracy (%)": 2, "PR-AUC (%)": 2}
#: Labels of the patches that have no label grid entry (no tissue): never tumour, never normal.
NO_PATCH = -2


def record_data(run: Any, s: Settings) -> None:
    """Tell the run what its numbers rest on: the slide generator and its settings, or the real folders."""
    if s.data_root is None:
        from cpath_repro.synth import slides as synthetic

        run.use_synthetic(f"{synthetic.__name__} (stomach-like and camelyon-like whole slides with their annotations)",
                          s.seeds, mpp=s.mpp, patch_px=s.patch_px, stomach_slides=s.stomach_slides,
                          camelyon16_slides=s.camelyon16_slides, camelyon17_patients=s.camelyon17_patients,
                          camelyon_map=s.camelyon_map, difficulty=s.difficulty,
                          lowres_contrast=s.lowres_contrast)
        return
    run.use_files(s.data_root, [])


def geometry_table(s: Settings) -> pd.DataFrame:
    """The synthetic slides' geometry beside the paper's: what a patch covers, and the Camelyon17 thresholds."""
    from cpath_repro.metrics.staging import MACRO_MM, MICRO_MM
    from cpath_repro.synth.slides import PAPER_GEOMETRY

    ours = data.geometry(s)
    rows = [("microns per pixel", PAPER_GEOMETRY.mpp, ours.mpp),
            ("patch side (px)", PAPER_GEOMETRY.patch_px, ours.patch_px),
            ("patch side (um)", PAPER_GEOMETRY.patch_um, ours.patch_um),
            ("crop (px)", 224, s.crop_px),
            ("stomach map (patches)", 32, s.stomach_map), ("Camelyon map (patches)", 512, s.camelyon_map),
            ("macro-metastasis above (mm)", MACRO_MM, MACRO_MM * ours.scale),
            ("micro-metastasis above (mm)", MICRO_MM, MICRO_MM * ours.scale)]
    return pd.DataFrame(rows, columns=["", "paper", "ours"])


# -- patch-level results (D-T1, D-T2) -------------------------------------------------------------------------------

@dataclass
class Results:
    """Every method's per-patch tumour probabilities on the test slides, by seed; the long score table."""

    task: str
    long: pd.DataFrame
    keys: list[str]
    probabilities: dict[tuple[int, str], list[np.ndarray]] = field(default_factory=dict)
    slides: dict[int, list[data.SlideData]] = field(default_factory=dict)
    moved: pd.DataFrame | None = None
    #: the store key of each seed's end-to-end model: what ``cpath-repro heatmap --model`` takes
    end_to_end_models: dict[int, str] = field(default_factory=dict)

    def heatmap_command(self) -> str:
        """How to apply this page's end-to-end models to a slide of one's own."""
        from cpath_repro.project import PROJECT_ROOT
        from cpath_repro.train.store import store_root

        root = store_root()
        shown = root.relative_to(PROJECT_ROOT) if root.is_relative_to(PROJECT_ROOT) else root
        lines = [f"cpath-repro heatmap YOUR_SLIDE --model {shown / key}   # trial {seed}"
                 for seed, key in sorted(self.end_to_end_models.items())]
        return "\n".join(lines)


def run_methods(s: Settings, task_name: str, methods: Sequence[str], progress: bool = True) -> Results:
    """Each method trained for each seed and scored on the test slides' labelled patches (pooled)."""
    rows, keys = [], []
    out = Results(task_name, pd.DataFrame(), [])
    moved = []
    data.write_slides(s)
    tasks = {seed: training.task(s, task_name, seed) for seed in s.seeds}
    training.ensure(s, tasks, methods, progress)
    for seed, t in tasks.items():
        if not t.test:
            raise ParameterError(f"The {task_name} set of seed {seed} has no test slides; give it more slides.")
        out.slides[seed] = t.test
        labels = np.concatenate([sd.labels for sd in t.test])
        for method in methods:
            model = training.trained(s, t, seed, method, progress)
            keys += used_keys(s, t, seed, model)
            per_slide = [model(sd) for sd in t.test]
            out.probabilities[(seed, method)] = per_slide
            p = np.concatenate(per_slide)
            scored = ~np.isnan(p)
            levels = patch_chance(np.concatenate([sd.labels for sd in t.train]), labels[scored])
            for metric, value in patch_scores(p[scored], labels[scored]).items():
                rows.append({"seed": seed, "arm": method, "metric": metric, "value": value, CHANCE: levels[metric]})
        if "end-to-end" in methods:
            stored = training.end_to_end(s, t, seed, progress=False)
            out.end_to_end_models[seed] = stored.key
            meta = stored.meta
            moved.append({"seed": seed, **meta["moved"], "training loss, first epoch": meta["losses"][0],
                          "training loss, last epoch": meta["losses"][-1]})
    out.long = pd.DataFrame(rows, columns=["seed", "arm", "metric", "value", CHANCE])
    out.keys = sorted(set(keys))
    out.moved = pd.DataFrame(moved) if moved else None
    return out


def used_keys(s: Settings, t: training.Task, seed: int, model: training.Trained) -> list[str]:
    """The store keys a method's numbers rest on: its own models and, for end-to-end learning, the separate
    models it started from (so that ``cpath-repro store prune`` keeps them while a run uses it)."""
    keys = list(model.keys)
    if model.method == "end-to-end":
        config = training.end_to_end(s, t, seed, progress=False).meta["config"]
        keys += [config["extractor"], config["segmenter"]]
    return keys


def beside_paper(long: pd.DataFrame, published: Mapping[str, tuple[float, float, float, float]]) -> pd.DataFrame:
    """One row per method: the paper's accuracy and PR-AUC (mean ± sd of its 3 runs) beside ours over seeds."""
    rows = []
    for method, (acc, acc_sd, auc, auc_sd) in published.items():
        ours = long[long.arm == method]
        if ours.empty:
            continue
        row: dict[str, Any] = {"method": paper.LABELS[method]}
        for metric, (p_mean, p_sd) in ((ACCURACY, (acc, acc_sd)), (PR_AUC, (auc, auc_sd))):
            values = ours[ours.metric == metric].value
            name = METRIC_NAMES[metric]
            row[f"{name}: paper_mean"], row[f"{name}: paper_sd"] = p_mean, p_sd
            row[f"{name}: ours_mean"] = values.mean()
            row[f"{name}: ours_sd"] = values.std(ddof=1) if len(values) > 1 else 0.0
        rows.append(row)
    return pd.DataFrame(rows)


def control_table(long: pd.DataFrame) -> pd.DataFrame:
    """D-C2's three arms on PR-AUC (mean ± sd over trials): separate learning, its control trained as many more
    epochs as end-to-end learning adds, and end-to-end learning."""
    arms = ("separate", SEPARATE_LONGER, "end-to-end")
    rows = []
    for arm in arms:
        values = long[(long.arm == arm) & (long.metric == PR_AUC)].value
        rows.append({"arm": paper.LABELS.get(arm, CONTROL_LABEL), f"{METRIC_NAMES[PR_AUC]}: ours_mean": values.mean(),
                     f"{METRIC_NAMES[PR_AUC]}: ours_sd": values.std(ddof=1) if len(values) > 1 else 0.0})
    return pd.DataFrame(rows)


#: The paper's value per (method, metric) for the claims' tables: Table 1's stomach-biopsy accuracy and PR-AUC
#: (D-C1) and Table 3's kappa (D-C5). D-C2's control and D-C4's tumour points have none.
PAPER_VALUES = {**{(arm, metric): v[i] for arm, v in paper.D_T1.items() for metric, i in ((ACCURACY, 0), (PR_AUC, 2))},
                **{(arm, QUADRATIC_KAPPA): paper.kappa(arm) for arm in paper.D_T3}}


def claim_table(long: pd.DataFrame, arms: Iterable[str], metrics: Iterable[str] = (ACCURACY, PR_AUC)) -> pd.DataFrame:
    """The rows of ``arms`` (methods) on ``metrics``, with the paper's value where it printed one: what the
    registry's D rules read."""
    rows = tables.claim_rows(long, arms, metrics)
    return rows.assign(paper=[PAPER_VALUES.get((a, m), np.nan) for a, m in zip(rows.arm, rows.metric, strict=True)])


# -- heatmaps and tumour points (D-F5, D-F6, D-C4) ---------------------------------------------------------------------

def heatmap(sd: data.SlideData, probability: np.ndarray) -> np.ndarray:
    """Per-patch probabilities on the slide's patch grid (NaN where no tissue patch is)."""
    return sd.grid_of(probability)


def label_grid(sd: data.SlideData) -> np.ndarray:
    return sd.grid_of(sd.labels.astype(np.float64), fill=NO_PATCH).astype(np.int64)


def tumour_points(results: Results, methods: Sequence[str]) -> pd.DataFrame:
    """Isolated false tumour points (:func:`cpath_repro.metrics.heatmaps.isolated_false_tumour_points`) summed
    over each seed's test slides: the long table D-C4 reads."""
    rows = []
    for (seed, method), per_slide in results.probabilities.items():
        if method not in methods:
            continue
        count = sum(isolated_false_tumour_points(heatmap(sd, p), label_grid(sd))
                    for sd, p in zip(results.slides[seed], per_slide, strict=True))
        rows.append({"seed": seed, "arm": method, "metric": ISOLATED_FALSE_TUMOUR_POINTS, "value": float(count)})
    return pd.DataFrame(rows, columns=["seed", "arm", "metric", "value"])


# -- Camelyon17 staging (D-T3, D-C5) -------------------------------------------------------------------------------------

FOLDS = 5


def staging(s: Settings, methods: Sequence[str] = ("classifier-only", "end-to-end"), progress: bool = True
            ) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Section 4.2.3: each method's heatmaps of the Camelyon17 slides (models trained on Camelyon16), slide
    classes from heatmap features by a random forest in 5-fold cross-validation over patients, each patient's
    pN-stage by the challenge's rules, and the quadratic-weighted kappa against the true stages.

    Returns the long kappa table (on the kappa's own scale, -1 to 1), the per-patient predictions and the model
    keys."""
    from sklearn.model_selection import KFold

    from cpath_repro.metrics import staging as rules

    rows, predictions, keys = [], [], []
    tasks = {seed: training.task(s, "camelyon16", seed) for seed in s.seeds}
    training.ensure(s, tasks, methods, progress)
    for seed, t in tasks.items():
        cohort = data.camelyon17(s, seed)
        patients = sorted(cohort.patients)
        if len(patients) < FOLDS:
            raise ParameterError(f"Camelyon17 staging needs at least {FOLDS} patients for {FOLDS}-fold cross-validation; "
                                 f"seed {seed} has {len(patients)}.")
        by_patient = {p: [sd for sd in cohort.slides if sd.patient == p] for p in patients}
        truth = {p: cohort.patients[p] for p in patients}
        for method in methods:
            model = training.trained(s, t, seed, method, progress)
            keys += used_keys(s, t, seed, model)
            feats = {sd.name: rules.heatmap_features(np.nan_to_num(heatmap(sd, model(sd))), label_grid(sd) != NO_PATCH,
                                                     s.patch_um) for sd in cohort.slides}
            predicted: dict[str, str] = {}
            folds = KFold(FOLDS, shuffle=True, random_state=seed).split(patients)
            for train_idx, test_idx in folds:
                train_slides = [sd for i in train_idx for sd in by_patient[patients[i]]]
                clf = rules.SlideClassifier().fit([feats[sd.name] for sd in train_slides],
                                                  [str(sd.slide_class) for sd in train_slides])
                for i in test_idx:
                    slides = by_patient[patients[i]]
                    classes = list(clf.predict([feats[sd.name] for sd in slides]))
                    predicted[patients[i]] = rules.pn_stage(classes)
                    predictions.append({"seed": seed, "method": method, "patient": patients[i],
                                        "true stage": truth[patients[i]], "predicted stage": predicted[patients[i]],
                                        "true slide classes": ", ".join(str(sd.slide_class) for sd in slides),
                                        "predicted slide classes": ", ".join(classes)})
            kappa = rules.kappa([truth[p] for p in patients], [predicted[p] for p in patients])
            # a kappa of 0 is agreement at chance (a constant stage scores 0 too)
            rows.append({"seed": seed, "arm": method, "metric": QUADRATIC_KAPPA, "value": kappa, CHANCE: 0.0})
    return (pd.DataFrame(rows, columns=["seed", "arm", "metric", "value", CHANCE]), pd.DataFrame(predictions),
            sorted(set(keys)))


def kappa_beside_paper(long: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for method in paper.D_T3:
        values = long[long.arm == method].value
        rows.append({"method": paper.LABELS[method], "kappa: paper": paper.kappa(method),
                     "kappa: ours_mean": values.mean(), "kappa: ours_sd": values.std(ddof=1) if len(values) > 1 else 0.0})
    return pd.DataFrame(rows)


# -- memory and gradients (D-M1, D-C3) ----------------------------------------------------------------------------------

def memory_study(s: Settings, progress: bool = True) -> pd.DataFrame:
    """Peak memory growth of one training step on a slide of N patches, one fresh process each
    (:func:`cpath_repro.train.memory.measure`): end-to-end learning at N and 4N for the largest N of
    ``memory_patches`` in every seed (D-C3's ratio), and both methods at every N of ``memory_patches`` and 4N in
    the first seed (the curve). Plain back-propagation is skipped where it would not fit this machine."""
    from tqdm.auto import tqdm

    from cpath_repro.train import memory

    top = max(s.memory_patches)
    curve = sorted({n for base in s.memory_patches for n in (base, 4 * base)})
    jobs = [(s.seeds[0], method, n) for method in ("end-to-end", "backprop") for n in curve]
    jobs += [(seed, "end-to-end", n) for seed in s.seeds[1:] for n in (top, 4 * top)]
    rows = []
    for seed, method, n in tqdm(jobs, desc="D-M1 memory", disable=not progress):
        if method == "backprop" and not memory.fits(n, s.crop_px):
            rows.append({"seed": seed, "method": method, "patches": n, "peak growth (MiB)": np.nan,
                         "seconds": np.nan, "note": "skipped: would not fit in memory"})
            continue
        result = memory.measure(method, n, patch_px=s.crop_px, batch=min(s.extractor_batch, 32), seed=seed)
        rows.append({"seed": seed, "method": method, "patches": n, "peak growth (MiB)": result["peak_growth_mib"],
                     "seconds": result["seconds"], "note": result["peak_method"]})
    return pd.DataFrame(rows)


def memory_claim_rows(table: pd.DataFrame, s: Settings, gradients: pd.DataFrame) -> pd.DataFrame:
    """D-C3's table: per seed, end-to-end growth at 4N over growth at N (N the largest of ``memory_patches``), and
    the gradient rows of :func:`gradient_study`."""
    n = max(s.memory_patches)
    rows = []
    for seed, group in table[table.method == "end-to-end"].groupby("seed"):
        growth = dict(zip(group.patches, group["peak growth (MiB)"], strict=True))
        rows.append({"seed": int(seed), "arm": "end-to-end", "metric": PEAK_MEMORY_RATIO_4X_PATCHES,
                     "value": growth[4 * n] / growth[n]})
    return pd.concat([pd.DataFrame(rows, columns=["seed", "arm", "metric", "value"]), gradients], ignore_index=True)


def gradient_study(s: Settings, n: int = 48, batch: int = 16) -> pd.DataFrame:
    """D-C3's gradient half per seed (:func:`cpath_repro.train.end_to_end.gradient_error`): end-to-end learning's
    extractor and segmenter gradients against full back-propagation through the same mini-batches, on ``n``
    patches of the extractor's input size (randomly initialised GoogLeNet in training mode: dropout and batch
    norm active)."""
    from cpath_repro.train import end_to_end as e2e
    from cpath_repro.train import memory

    rows = []
    for seed in s.seeds:
        ext, seg, slide = memory.problem(n, s.crop_px, batch, map_size=8, seed=seed)
        rows.append({"seed": seed, "arm": "end-to-end", "metric": MAX_RELATIVE_GRADIENT_ERROR,
                     "value": e2e.gradient_error(ext, seg, slide, seed)})
    return pd.DataFrame(rows, columns=["seed", "arm", "metric", "value"])


# -- what a page needs besides the tables --------------------------------------------------------------------------------

def present(run: Any, s: Settings, dataset: str, claims: Sequence[str] = ()) -> bool:
    """Whether ``dataset`` is there (always, on synthetic data); when a real data root lacks it, the page's claims
    are recorded as not testable, with the reason, and the page says so."""
    if s.data_root is None:
        return True
    from cpath_repro.data.layout import DATASETS, available

    if dataset in available(s.data_root, (dataset,)):
        return True
    reason = f"data_root '{s.data_root}' holds no {dataset}/ folder ({DATASETS[dataset].layout})"
    for claim in claims:
        run.mark_not_testable(claim, reason)
    print(f"Not run: {reason}.")
    return False


def extraction_inputs(s: Settings, sd: data.SlideData) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """D-F4's panels of one slide at its tissue mask's resolution: the thumbnail, the Otsu mask and the label mask
    (0 unannotated, 1 normal, 2 tumour) rasterized from its ASAP annotation."""
    import cpath_repro.wsi.annotations as asap
    from cpath_repro.wsi import open_slide
    from cpath_repro.wsi.patches import mask_downsample
    from cpath_repro.wsi.tissue import tissue_mask

    xml = sd.path.parent.parent / "annotations" / f"{sd.name}.xml"
    with open_slide(sd.path) as slide:
        tissue = tissue_mask(slide, mask_downsample(slide, sd.level, s.patch_px))
        thumb = slide.thumbnail(max(tissue.mask.shape))
    regions = asap.read_asap(xml) if xml.is_file() else []
    labels = asap.label_mask(regions, tissue.mask.shape, tissue.downsample, tissue.mask)
    h, w = tissue.mask.shape
    return thumb[:h, :w], tissue.mask, labels


def thumbnail(sd: data.SlideData, size: int = 512) -> np.ndarray:
    from cpath_repro.wsi import open_slide

    with open_slide(sd.path) as slide:
        return slide.thumbnail(size)


def cohort_counts(s: Settings, seed: int = 0) -> pd.DataFrame:
    """Slides and patches of each dataset (seed ``seed``), by label: what the patch rules made of them."""
    rows = []
    for name, load in ((data.STOMACH, data.stomach), (data.CAMELYON16, data.camelyon16),
                       (data.CAMELYON17, data.camelyon17)):
        if s.data_root is not None:
            from cpath_repro.data.layout import available

            if name not in available(s.data_root, (name,)):
                continue
        rows.append({"dataset": name, **load(s, seed).counts()})
    return pd.DataFrame(rows)


def examples(results: Results, seed: int = 0, n: int = 2) -> list[int]:
    """Indices of the test slides of ``seed`` with the most tumour patches (the heatmaps worth looking at)."""
    tumour = [int((sd.labels == 1).sum()) for sd in results.slides[seed]]
    return sorted(range(len(tumour)), key=lambda i: -tumour[i])[:n]


def method_costs(s: Settings, task_name: str, memory: pd.DataFrame) -> pd.DataFrame:
    """D-M1's table: each method's training time here (seconds, mean over seeds: its own models' and those it
    starts from, from the model store's records) and our peak memory growth beside the paper's MiB and hours."""
    builds_on = {"classifier-only": ("classifier-only",), "segmentation-only": ("segmentation-only",),
                 "separate": ("classifier-only", "separate"),
                 "end-to-end": ("classifier-only", "separate", "end-to-end")}
    spent: dict[str, list[float]] = {m: [] for m in builds_on}
    tasks = {seed: training.task(s, task_name, seed) for seed in s.seeds}
    training.ensure(s, tasks, builds_on, progress=False)
    for seed, t in tasks.items():
        own = {"classifier-only": training.extractor(s, t, seed, False).meta,
               "segmentation-only": training.segmentation_only(s, t, seed, False).meta,
               "separate": training.separate(s, t, seed, "trained", False)[0].meta,
               "end-to-end": training.end_to_end(s, t, seed, False).meta}
        seconds = {m: sum(float(e.get("seconds", 0.0)) for e in meta.get("history") or []) + float(meta.get("seconds", 0.0))
                   for m, meta in own.items()}
        for method, parts in builds_on.items():
            spent[method].append(sum(seconds[p] for p in parts))
    growth = memory.groupby(["method", "patches"])["peak growth (MiB)"].mean()
    largest = int(memory.patches.max())
    rows = []
    for method in builds_on:
        mib, what = paper.D_M1_MEMORY_MIB[method]
        rows.append({"method": paper.LABELS[method], "paper memory (MiB)": mib, "paper measured at": what,
                     "paper hours": paper.D_M1_HOURS.get(method, np.nan),
                     "our training seconds": float(np.mean(spent[method]))})
    out = pd.DataFrame(rows)
    out["our peak memory growth (MiB)"] = np.nan
    out.loc[out.method == paper.LABELS["end-to-end"], "our peak memory growth (MiB)"] = growth.get(("end-to-end", largest))
    return out


def first_with_tumour(s: Settings, seed: int = 0) -> data.SlideData:
    """D-F4's example: the first stomach slide (else Camelyon16 slide) with tumour patches."""
    for load in (data.stomach, data.camelyon16):
        try:
            slides = load(s, seed).slides
        except UserError:
            continue
        for sd in slides:
            if (sd.labels == 1).any():
                return sd
    raise ParameterError("No slide of this run has a tumour patch to show.")


def points_by_method(points: pd.DataFrame) -> pd.DataFrame:
    """The tumour points per method, mean ± sd over seeds."""
    stats = points.groupby("arm", sort=False).value.agg(["mean", "std"]).reset_index()
    return stats.rename(columns={"arm": "method", "mean": "tumour points_mean", "std": "tumour points_sd"}).assign(
        method=lambda f: f.method.map(lambda m: paper.LABELS.get(m, m)))


def throughput(s: Settings) -> pd.DataFrame:
    """Patch extraction at the chapter's patch size: each reader's patches/s in its median round and its ratio to a
    bare OpenSlide loop (the median of the rounds' paired ratios, :func:`cpath_repro.wsi.throughput.main`)."""
    from cpath_repro.wsi import throughput as bench

    result = bench.main(repeat=3, patch_px=s.patch_px)
    return pd.DataFrame([{"reader": label, "patches/s": result[f"{key}_per_s"],
                          "ratio to the bare loop": result[f"{key}_ratio"]} for key, label in bench.READERS.items()])
