"""Paper E's measurements, and the numbers its pages quote from the trainings' long tables.

- Concepts measured two ways, without training: a dense layer's gradients (E-F4), gradient norms at
  initialization, plain vs residual (E-F5), and E-K1's architecture concepts (receptive fields,
  activations and vanishing gradients, feature-map sizes), each a formula beside a real PyTorch
  layer or autograd, so that a page shows the agreement, not just the formula.
- Summaries over seeds of :mod:`.training`'s long tables (:func:`mean_sd`): the table a page shows
  and the metrics it saves, named here (a :class:`Summary`), for E-F1, E-K1 (training) and E-K3.
- The measurements of a trained CNN: E-K4's interpretations (:func:`interpret`), E-K5's calibration
  and conformal coverage (:func:`uncertainty`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from scipy import ndimage
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.manifold import TSNE
from sklearn.metrics import silhouette_score
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from torch import nn

from cpath_repro.chapters.paper_e.data import crops_dataset, flat_crops
from cpath_repro.chapters.paper_e.training import CNN_WORKFLOW, FEATURES_WORKFLOW, Trained, predict
from cpath_repro.concepts import features, networks, uncertainty
from cpath_repro.explain.actmax import maximize_class
from cpath_repro.explain.attribution import mass_inside
from cpath_repro.metrics.segmentation import epochs_to_fraction_of_final
from cpath_repro.synth.nuclei import CROP_CLASSES

#: The columns of E's tables as a reader reads them (accuracies in percent: :func:`in_percent`)
COLUMNS = {"n_train": "training crops", "fit_seconds": "fitting time (s)",
           "accuracy_lost": "accuracy lost, most to fewest crops (points)", "train_accuracy": "training accuracy (%)",
           "val_accuracy": "validation accuracy (%)", "source_accuracy": "accuracy on the source task (%)",
           "gap": "training minus validation accuracy (points)",
           "epochs_to_90pct": "epochs to 90 % of the final validation accuracy",
           "linear_probe_accuracy": "linear-probe accuracy (%)", "silhouette_2d": "silhouette in 2-D",
           "balanced_accuracy": "balanced accuracy (%)", **{f"recall_{c}": f"recall, {c} crops (%)" for c in CROP_CLASSES},
           "alpha": "α (the miss rate allowed)", "target": "coverage aimed at", "coverage_mean": "coverage measured",
           "coverage_std": "coverage sd", "mean_set_size": "mean set size", "ECE": "expected calibration error"}
#: The scores this chapter computes as fractions of 1 and shows as percentages (their differences in points).
PERCENT = ("accuracy", "train_accuracy", "val_accuracy", "gap", "accuracy_lost", "source_accuracy",
           "linear_probe_accuracy", "balanced_accuracy")
PER_SIZE = "accuracy, "  # the prefix of :func:`degradation_summary`'s columns, one per training-set size


def in_percent(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` to show: its accuracies and recalls (:data:`PERCENT`, ``recall_*``, and their ``_mean`` and
    ``_sd``) times 100, the per-size accuracy columns named with their unit. Saved tables keep fractions of 1."""
    out = frame.copy()
    for column in frame.columns:
        base = str(column).removesuffix("_mean").removesuffix("_sd")
        if base in PERCENT or base.startswith("recall_") or str(column).startswith(PER_SIZE):
            out[column] = frame[column] * 100
    return out.rename(columns=lambda c: f"accuracy (%), {c.removeprefix(PER_SIZE)}" if str(c).startswith(PER_SIZE)
                      else c)


# -- summaries over seeds -------------------------------------------------------------------------------------------

def mean_sd(frame: pd.DataFrame, by: str | list[str], columns: Sequence[str]) -> pd.DataFrame:
    """Mean and standard deviation over seeds of ``columns``, per group (the numbers a page quotes)."""
    grouped = frame.groupby(by, sort=False)[list(columns)]
    out = grouped.mean().add_suffix("_mean").join(grouped.std().fillna(0.0).add_suffix("_sd")).reset_index()
    keys = [by] if isinstance(by, str) else by
    return out[keys + [f"{c}_{s}" for c in columns for s in ("mean", "sd")]]


@dataclass(frozen=True)
class Summary:
    """What a page section quotes from a per-seed table: the table it shows, and the metrics it saves."""

    table: pd.DataFrame
    metrics: dict[str, float]


# -- E-F1 -----------------------------------------------------------------------------------------------------------

def degradation(results: pd.DataFrame) -> pd.DataFrame:
    """Per workflow: mean accuracy with the most and the fewest training crops, and the accuracy lost between them."""
    mean = results.groupby(["workflow", "n_train"], sort=False).accuracy.mean().unstack()
    smallest, largest = mean.columns.min(), mean.columns.max()
    return pd.DataFrame({
        "workflow": mean.index,
        f"{PER_SIZE}{largest} crops": mean[largest].to_numpy(),
        f"{PER_SIZE}{smallest} crops": mean[smallest].to_numpy(),
        "accuracy_lost": (mean[largest] - mean[smallest]).to_numpy(),
    })


def degradation_summary(results: pd.DataFrame) -> Summary:
    """:func:`degradation`, and the accuracies E-F1 quotes: each workflow's with the most and the fewest crops."""
    table = degradation(results)
    most_least = table.set_index("workflow").iloc[:, :2]
    cnn, forest = most_least.loc[CNN_WORKFLOW].to_numpy(), most_least.loc[FEATURES_WORKFLOW].to_numpy()
    return Summary(table, {"cnn_accuracy_most_data": float(cnn[0]), "cnn_accuracy_least_data": float(cnn[1]),
                           "features_accuracy_most_data": float(forest[0]),
                           "features_accuracy_least_data": float(forest[1])})


# -- E-F4 -----------------------------------------------------------------------------------------------------------

def gradient_checks(seed: int) -> pd.DataFrame:
    """The largest disagreements between the three ways of computing a dense layer's gradient (one row each):
    by hand, by autograd, by finite differences."""
    g = networks.dense_layer_gradients(seed)
    return pd.DataFrame([{"quantity": k.replace("_", " "), "value": v} for k, v in g.items()])


def gradient_check_metrics(checks: pd.DataFrame) -> dict[str, float]:
    """Each row of :func:`gradient_checks` as a metric, named by its quantity (spaces as underscores)."""
    return {r.quantity.replace(" ", "_"): float(r.value) for r in checks.itertuples()}


# -- E-F5 -----------------------------------------------------------------------------------------------------------

def residual_gradients(depth: int, width: int, seed: int) -> pd.DataFrame:
    """Per-layer gradient norms at initialization, plain vs residual, on one batch of crops."""
    x, y = crops_dataset(128, seed)
    rows = []
    for residual in (False, True):
        torch.manual_seed(seed)
        net = networks.deep_net(depth, width, nn.ReLU, residual, n_in=64)
        for layer, norm in enumerate(networks.gradient_norms(net, flat_crops(x), y), start=1):
            rows.append({"network": "residual" if residual else "plain", "layer": layer, "gradient_norm": norm})
    return pd.DataFrame(rows)


# -- E-K1, architecture ---------------------------------------------------------------------------------------------

#: The activation functions paper E names (sigmoid and tanh "previously common", ReLU "mainstream").
ACTIVATIONS: dict[str, type[nn.Module]] = {"sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "ReLU": nn.ReLU}
#: Weight initializations compared: PyTorch's default for ``nn.Linear``, and the one each activation was
#: designed with (Glorot & Bengio 2010 for sigmoid and tanh, He et al. 2015 for ReLU).
INITS = ("PyTorch default", "matched to the activation")


def receptive_field_growth(max_depth: int) -> pd.DataFrame:
    """Receptive field (pixels) of stacks of 3x3 convolutions, without and with 2x2 pooling after each,
    by the formula and read off autograd."""
    rows = []
    for pooled in (False, True):
        for depth in range(1, max_depth + 1):
            layers = [(3, 1), (2, 2)] * depth if pooled else [(3, 1)] * depth
            formula = networks.receptive_field(layers)
            rows.append({"network": "conv3 + pool2 per layer" if pooled else "conv3 per layer", "depth": depth,
                         "formula": formula, "autograd": networks.receptive_field_by_gradient(layers, size=4 * formula + 1)})
    return pd.DataFrame(rows)


def activation_curves() -> pd.DataFrame:
    """Each activation and its derivative (by autograd) on [-5, 5]: the derivative bounds how much
    gradient survives each layer (sigmoid: at most 0.25)."""
    x = torch.linspace(-5, 5, 201, requires_grad=True)
    rows = []
    for name, activation in ACTIVATIONS.items():
        y = activation()(x)
        (slope,) = torch.autograd.grad(y.sum(), x)
        rows += [{"activation": name, "x": float(a), "value": float(b), "derivative": float(c)}
                 for a, b, c in zip(x.detach(), y.detach(), slope, strict=True)]
    return pd.DataFrame(rows)


def _matched_init(net: nn.Module, activation: str) -> None:
    for layer in net.modules():
        if isinstance(layer, nn.Linear):
            if activation == "ReLU":
                nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
            else:
                gain = nn.init.calculate_gain("tanh") if activation == "tanh" else nn.init.calculate_gain("sigmoid")
                nn.init.xavier_normal_(layer.weight, gain=gain)
            nn.init.zeros_(layer.bias)


def activation_gradients(depth: int, width: int, seed: int) -> pd.DataFrame:
    """Gradient norm of each layer's weights at initialization, per activation and initialization (same
    depth, width and seed), on one batch of nucleus crops."""
    x, y = crops_dataset(128, seed)
    flat = flat_crops(x)
    rows = []
    for init in INITS:
        for name, activation in ACTIVATIONS.items():
            torch.manual_seed(seed)
            net = networks.deep_net(depth, width, activation, residual=False, n_in=flat.shape[1])
            if init != INITS[0]:
                _matched_init(net, name)
            rows += [{"init": init, "activation": name, "layer": layer, "gradient_norm": float(norm)}
                     for layer, norm in enumerate(networks.gradient_norms(net, flat, y), start=1)]
    return pd.DataFrame(rows)


def vanishing_ratio(gradients: pd.DataFrame) -> pd.DataFrame:
    """Per initialization and activation: gradient norm of the first layer over that of the last
    (1 = every layer learns at the same pace)."""
    rows = []
    for (init, name), g in gradients.groupby(["init", "activation"], sort=False):
        first, last = g.sort_values("layer").gradient_norm.iloc[[0, -1]]
        rows.append({"init": init, "activation": name, "first_layer": first, "last_layer": last,
                     "first_over_last": first / last})
    return pd.DataFrame(rows)


#: Feature-map cases: input side, kernel, stride, padding (the hyper-parameters paper E names).
FEATURE_MAP_CASES = ((32, 3, 1, 0), (32, 3, 1, 1), (32, 3, 2, 1), (32, 5, 1, 2), (32, 5, 2, 0), (31, 3, 2, 1),
                     (64, 7, 2, 3), (17, 4, 3, 1))


def feature_map_sizes(channels: int = 8) -> pd.DataFrame:
    """Output side by ``floor((n + 2p - k) / s) + 1`` vs a real ``nn.Conv2d`` and ``nn.MaxPool2d``.

    ``channels`` (the "depth" of a layer: its number of kernels) sets the number of feature maps,
    not their size; the table shows both."""
    rows = []
    for n, k, s, p in FEATURE_MAP_CASES:
        x = torch.zeros(1, 1, n, n)
        conv = nn.Conv2d(1, channels, k, stride=s, padding=p)(x)
        pool = nn.MaxPool2d(k, stride=s, padding=min(p, k // 2))(x)
        rows.append({"input": n, "kernel": k, "stride": s, "padding": p,
                     "formula": networks.feature_map_size(n, k, s, p), "conv2d": conv.shape[-1],
                     "conv2d_maps": conv.shape[1],
                     "maxpool2d (padding <= k/2)": pool.shape[-1],
                     "formula_for_pool": networks.feature_map_size(n, k, s, min(p, k // 2))})
    return pd.DataFrame(rows)


def trace_network(model: nn.Module, side: int) -> pd.DataFrame:
    """Every convolution and pooling layer of ``model`` on a ``side x side`` input: the output side its
    hyper-parameters predict, and the side PyTorch produced (read with forward hooks)."""
    rows: list[dict[str, object]] = []

    def hook(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        def first(v: int | tuple[int, ...]) -> int:
            return v if isinstance(v, int) else v[0]

        assert isinstance(module, (nn.Conv2d, nn.MaxPool2d))
        k, s, p = (first(module.kernel_size), first(module.stride), first(module.padding))  # type: ignore[arg-type]
        n = inputs[0].shape[-1]
        rows.append({"layer": type(module).__name__, "input": n, "kernel": k, "stride": s, "padding": p,
                     "formula": networks.feature_map_size(n, k, s, p), "pytorch": output.shape[-1],
                     "maps": output.shape[1]})

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.MaxPool2d))]
    try:
        model.eval()
        with torch.no_grad():
            model(torch.zeros(1, 1, side, side))
    finally:
        for h in handles:
            h.remove()
    return pd.DataFrame(rows)


def receptive_field_metrics(fields: pd.DataFrame) -> dict[str, int | bool]:
    """Whether the formula matched autograd in every stack of :func:`receptive_field_growth`, and the receptive
    field of its deepest stacks (``receptive_field_depth_<depth>_conv3`` and ``..._conv3_pool``)."""
    deepest_depth = fields.depth.max()
    deepest = fields[fields.depth == deepest_depth].set_index("network").formula
    return {"receptive_field_formula_matches_autograd": bool((fields.formula == fields.autograd).all()),
            **{f"receptive_field_depth_{deepest_depth}_{k.split()[0]}{'_pool' if 'pool' in k else ''}": int(v)
               for k, v in deepest.items()}}


def vanishing_metrics(ratios: pd.DataFrame) -> dict[str, float]:
    """Each first-over-last ratio of :func:`vanishing_ratio`, as ``first_over_last_gradient_<activation>_<matched |
    default>_init``."""
    return {f"first_over_last_gradient_{r.activation}_{'matched' if r.init == INITS[1] else 'default'}_init":
            float(r.first_over_last) for r in ratios.itertuples()}


def feature_map_metrics(sizes: pd.DataFrame, trace: pd.DataFrame) -> dict[str, int]:
    """How many layers :func:`feature_map_sizes` (a convolution and a pooling per case) and :func:`trace_network`
    checked, and in how many the formula gave PyTorch's output side."""
    checked = len(sizes) * 2 + len(trace)
    matches = int((sizes.formula == sizes.conv2d).sum()
                  + (sizes.formula_for_pool == sizes["maxpool2d (padding <= k/2)"]).sum()
                  + (trace.formula == trace.pytorch).sum())
    return {"feature_map_sizes_checked": checked, "feature_map_sizes_matching": matches}


# -- E-K1, training -------------------------------------------------------------------------------------------------

def convergence(curves: pd.DataFrame) -> pd.DataFrame:
    """Per arm and seed: final accuracies, the train/validation gap, and convergence (the first epoch
    reaching 90 % of the final validation accuracy)."""
    rows = []
    for (arm, seed), g in curves.groupby(["arm", "seed"], sort=False):
        last = g.iloc[-1]
        rows.append({"arm": arm, "seed": seed, "train_accuracy": last.train_accuracy, "val_accuracy": last.val_accuracy,
                     "gap": last.train_accuracy - last.val_accuracy,
                     "epochs_to_90pct": epochs_to_fraction_of_final(g.epoch.to_numpy(), g.val_accuracy.to_numpy())})
    return pd.DataFrame(rows)


def fitting_summary(fit: pd.DataFrame) -> Summary:
    """:func:`~.training.fitting` over seeds: parameters, accuracies and gap per width (mean ± sd); the training
    accuracy and gap of the narrowest and the widest network."""
    gap = mean_sd(fit, "width", ["parameters", "train_accuracy", "val_accuracy", "gap"])
    metrics = {"train_accuracy_narrowest": float(gap.train_accuracy_mean.iloc[0]),
               "gap_narrowest": float(gap.gap_mean.iloc[0]),
               "train_accuracy_widest": float(gap.train_accuracy_mean.iloc[-1]),
               "gap_widest": float(gap.gap_mean.iloc[-1])}
    return Summary(gap.drop(columns=["parameters_sd"]).rename(columns={"parameters_mean": "parameters"}), metrics)


def dropout_summary(drop: pd.DataFrame) -> Summary:
    """:func:`~.training.dropout` over seeds, per rate; the mean gap at each rate (``gap_dropout_<rate>``)."""
    table = mean_sd(drop, "dropout", ["train_accuracy", "val_accuracy", "gap"])
    return Summary(table, {f"gap_dropout_{r.dropout}": float(r.gap_mean) for r in table.itertuples()})


def batch_norm_summary(curves: pd.DataFrame) -> Summary:
    """:func:`convergence` of :func:`~.training.batch_norm`'s curves over seeds, per arm; each arm's mean final
    validation accuracy (``val_accuracy_with_batch_norm``, ``val_accuracy_without_batch_norm``)."""
    table = mean_sd(convergence(curves), "arm", ["train_accuracy", "val_accuracy", "gap", "epochs_to_90pct"])
    return Summary(table, {f"val_accuracy_{r.arm.replace(' ', '_')}": float(r.val_accuracy_mean)
                           for r in table.itertuples()})


def augmentation_summary(aug: pd.DataFrame) -> Summary:
    """:func:`~.training.augmentation` over seeds, per arm; the mean validation accuracy without and with
    augmentation (``val_accuracy_plain``, ``val_accuracy_augmented``)."""
    table = mean_sd(aug, "arm", ["train_accuracy", "val_accuracy", "gap"])
    return Summary(table, {f"val_accuracy_{'augmented' if 'rotation' in r.arm else 'plain'}": float(r.val_accuracy_mean)
                           for r in table.itertuples()})


def transfer_summary(transfer: pd.DataFrame) -> Summary:
    """:func:`~.training.transfer` over seeds, per arm; each arm's mean target accuracy, named by the arm's first
    word (``target_accuracy_from``, ``target_accuracy_fine-tuned``, ``target_accuracy_frozen``), and the source
    CNN's mean accuracy on its own task (``source_accuracy``)."""
    table = mean_sd(transfer, "arm", ["val_accuracy"])
    metrics = {f"target_accuracy_{r.arm.split()[0]}": float(r.val_accuracy_mean) for r in table.itertuples()}
    return Summary(table, {**metrics, "source_accuracy": float(transfer.source_accuracy.mean())})


# -- E-K3 -----------------------------------------------------------------------------------------------------------

#: The columns of :func:`~.training.imbalance` a page summarizes: each class's recall, and balanced accuracy.
RECALLS = tuple(f"recall_{name}" for name in CROP_CLASSES)
IMBALANCE_SCORES = (*RECALLS, "balanced_accuracy")


def imbalance_summary(results: pd.DataFrame) -> Summary:
    """:func:`~.training.imbalance` over seeds, per arm; each arm's mean balanced accuracy
    (``balanced_accuracy_<arm>``, spaces and hyphens as underscores) and the rarest class's recall with nothing done."""
    summary = mean_sd(results, "arm", IMBALANCE_SCORES)
    metrics = {f"balanced_accuracy_{r.arm.replace(' ', '_').replace('-', '_')}": float(r.balanced_accuracy_mean)
               for r in summary.itertuples()}
    return Summary(summary, {**metrics, "recall_fragmented_nothing": float(summary.recall_fragmented_mean.iloc[0])})


# -- E-K4: interpretability -----------------------------------------------------------------------------------------
# The synthetic crops keep what real ones cannot give: the true object mask of each nucleus (or its fragments). So
# saliency (captum ``Saliency``) and occlusion (captum ``Occlusion``, Zeiler & Fergus's sliding grey square) are
# scored by the fraction of their mass on the object, beside the object's share of the image (what an uninformative
# map would score). Activation maximization is judged by an independent classifier: E-F1's hand-engineered-feature
# forest, which never saw the CNN. The last-layer embedding is scored by how linearly separable the classes are in
# it (paper E: last-layer features "tend to be the most linearly separable").

#: Occlusion: side of the square hidden, its stride (pixels), and what it is filled with (the crops' background).
OCCLUSION_WINDOW, OCCLUSION_STRIDE, OCCLUSION_FILL = 6, 2, 0.05
#: The object mask is grown by this many pixels: the drawn nucleus is blurred by the optics (sigma 1 px).
MASK_MARGIN = 1


@dataclass(frozen=True)
class Interpretation:
    """One CNN explained four ways, each with its score."""

    metrics: dict[str, float]
    attribution: pd.DataFrame  # per method: mass on the object vs the object's area
    maximizing: dict[str, np.ndarray]  # per class: the input maximizing its logit
    maximizing_table: pd.DataFrame  # per class: the CNN's and the feature forest's verdict on that input
    embedding: pd.DataFrame  # per test crop: class, PCA and t-SNE coordinates
    separability: pd.DataFrame  # linear-probe accuracy and silhouette per representation
    examples: dict[str, np.ndarray]  # crops, masks, saliency and occlusion maps (a few test crops)


def interpret(cnn: Trained, n_explain: int, actmax_steps: int, seed: int) -> Interpretation:
    """Saliency, occlusion, activation maximization and the last-layer embedding of
    :func:`~.training.cnn_to_explain`'s CNN, each scored."""
    model, x, y, xt, yt = cnn.model, cnn.x, cnn.y, cnn.xt, cnn.yt
    assert cnn.masks is not None, "interpretations are scored against the test crops' object masks"
    masks = cnn.masks

    # Saliency and occlusion, for the true class, on the first n_explain test crops
    from captum.attr import Occlusion, Saliency

    xe, ye = xt[:n_explain].clone().requires_grad_(True), yt[:n_explain]  # captum wants inputs that need gradients
    objects = np.stack([ndimage.binary_dilation(m, iterations=MASK_MARGIN) for m in masks[:n_explain]])
    saliency = Saliency(model).attribute(xe, target=ye, abs=True).detach().numpy()[:, 0]
    occlusion = Occlusion(model).attribute(
        xe, target=ye, sliding_window_shapes=(1, OCCLUSION_WINDOW, OCCLUSION_WINDOW),
        strides=(1, OCCLUSION_STRIDE, OCCLUSION_STRIDE), baselines=OCCLUSION_FILL).detach().numpy()[:, 0]
    area = float(objects.mean())
    attribution = pd.DataFrame([
        {"method": name, "mass_on_object": float(np.mean([mass_inside(a, m) for a, m in zip(maps, objects, strict=True)])),
         "object_area_fraction": area}
        for name, maps in (("saliency (|gradient|)", saliency), ("occlusion", occlusion))])

    # Activation maximization, judged by the hand-engineered-feature forest trained on the same crops
    forest = features.feature_classifier(seed).fit(features.feature_table(x[:, 0].numpy()), y.numpy())
    maximizing, verdicts = {}, []
    for cls, name in enumerate(CROP_CLASSES):
        image = maximize_class(model, cls, (1, *x.shape[2:]), steps=actmax_steps, seed=seed)
        with torch.no_grad():
            cnn_probability = float(torch.softmax(model(torch.from_numpy(image)[None]), 1)[0, cls])
        forest_class = CROP_CLASSES[int(forest.predict(features.feature_table(image))[0])]
        maximizing[name] = image[0]
        verdicts.append({"class maximized": name, "CNN probability of that class": cnn_probability,
                         "feature forest says": forest_class})

    # The last-layer embedding, and how separable the classes are in it vs in the raw pixels
    with torch.no_grad():
        last = model.features(xt).numpy()
    pixels = xt.flatten(1).numpy()
    labels = yt.numpy()
    tsne = TSNE(2, random_state=seed, init="pca", perplexity=30).fit_transform(last)
    pca = PCA(2, random_state=seed).fit_transform(last)
    embedding = pd.DataFrame({"class": [CROP_CLASSES[c] for c in labels], "pca_1": pca[:, 0], "pca_2": pca[:, 1],
                              "tsne_1": tsne[:, 0], "tsne_2": tsne[:, 1]})
    separability = pd.DataFrame([
        {"representation": "raw pixels", "dimensions": pixels.shape[1],
         "linear_probe_accuracy": _probe(pixels, labels, seed),
         "silhouette_2d": float(silhouette_score(PCA(2, random_state=seed).fit_transform(pixels), labels))},
        {"representation": "last CNN layer", "dimensions": last.shape[1],
         "linear_probe_accuracy": _probe(last, labels, seed), "silhouette_2d": float(silhouette_score(tsne, labels))},
    ])
    pred = predict(model, xe.detach())
    metrics = {
        "test_accuracy": cnn.val_accuracy,
        "saliency_mass_on_object": float(attribution.mass_on_object[0]),
        "occlusion_mass_on_object": float(attribution.mass_on_object[1]),
        "object_area_fraction": area,
        "actmax_recognized_by_forest": int(sum(v["feature forest says"] == v["class maximized"] for v in verdicts)),
        "linear_probe_pixels": float(separability.linear_probe_accuracy[0]),
        "linear_probe_last_layer": float(separability.linear_probe_accuracy[1]),
    }
    examples = {"crops": xe[:4, 0].detach().numpy(), "objects": objects[:4], "saliency": saliency[:4],
                "occlusion": occlusion[:4], "classes": np.array([CROP_CLASSES[c] for c in ye[:4]]),
                "predicted": np.array([CROP_CLASSES[c] for c in pred[:4]])}
    return Interpretation(metrics, attribution, maximizing, pd.DataFrame(verdicts), embedding, separability, examples)


def _probe(representation: np.ndarray, labels: np.ndarray, seed: int) -> float:
    """5-fold cross-validated accuracy of a logistic regression: how linearly separable the classes are."""
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    return float(cross_val_score(probe, representation, labels, cv=5).mean())


# -- E-K5: uncertainty ----------------------------------------------------------------------------------------------

#: The conformal miscoverage levels measured (90 % and 95 % prediction sets).
ALPHAS = (0.10, 0.05)

#: A reliability diagram: (mean confidence, accuracy, count) of each non-empty confidence bin.
Diagram = list[tuple[float, float, int]]


@dataclass(frozen=True)
class Calibration:
    """A dropout CNN's calibration with one pass and with MC dropout, and its conformal prediction sets."""

    table: pd.DataFrame  # accuracy and expected calibration error per prediction
    conformal: pd.DataFrame  # measured coverage and set size per miscoverage level
    diagrams: dict[str, Diagram]  # reliability diagram per prediction

    @property
    def metrics(self) -> dict[str, float]:
        """The expected calibration error of the single pass and of MC dropout."""
        return {"ece_single": float(self.table.ECE[0]), "ece_mc_dropout": float(self.table.ECE[1])}

    @property
    def coverage_metrics(self) -> dict[str, float]:
        """The measured coverage of each prediction set, as ``coverage_at_<1 - alpha as a percentage>``."""
        return {f"coverage_at_{1 - a:.0%}": float(c) for a, c in zip(self.conformal.alpha, self.conformal.coverage_mean,
                                                                      strict=True)}


def calibrate(cnn: Trained, passes: int, repeats: int, seed: int) -> Calibration:
    """:func:`~.training.dropout_cnn`'s CNN on its test crops: calibration with one pass and with ``passes`` MC-dropout
    passes; split conformal prediction sets (on the MC-dropout probabilities) over ``repeats`` random splits."""
    model, xt, yt = cnn.model, cnn.xt, cnn.yt
    model.eval()
    with torch.no_grad():
        single = torch.softmax(model(xt), 1).numpy()
    mc = uncertainty.mc_dropout_probabilities(model, xt, passes)
    labels = yt.numpy()
    ece_single, diagram_single = uncertainty.expected_calibration_error(single, labels)
    ece_mc, diagram_mc = uncertainty.expected_calibration_error(mc, labels)
    conformal = pd.DataFrame([{"alpha": a, **uncertainty.conformal_coverage(mc, labels, a, repeats, seed)}
                              for a in ALPHAS])
    table = pd.DataFrame([
        {"prediction": "single pass", "accuracy": float((single.argmax(1) == labels).mean()), "ECE": ece_single},
        {"prediction": f"MC dropout ({passes} passes)", "accuracy": float((mc.argmax(1) == labels).mean()),
         "ECE": ece_mc},
    ])
    return Calibration(table, conformal, {"single pass": diagram_single, "MC dropout": diagram_mc})
