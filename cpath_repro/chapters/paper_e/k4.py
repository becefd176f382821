"""E-K4: interpretability of one trained classifier, each method with a number.

The synthetic crops keep what real ones cannot give: the true object mask of each nucleus (or
its fragments). So saliency (captum ``Saliency``) and occlusion (captum ``Occlusion``, Zeiler &
Fergus's sliding grey square) are scored by the fraction of their mass on the object, beside
the object's share of the image (what an uninformative map would score). Activation
maximization is judged by an independent classifier: E-F1's hand-engineered-feature forest,
which never saw the CNN. The last-layer embedding is scored by how linearly separable the
classes are in it (paper E: last-layer features "tend to be the most linearly separable").
"""

from __future__ import annotations

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
from torch.utils.data import TensorDataset

from cpath_repro.chapters.paper_e.common import SHAPE_DIFFICULTY, TEST_OFFSET, final_scores, predict, train_classifier
from cpath_repro.concepts import features
from cpath_repro.explain.actmax import maximize_class
from cpath_repro.explain.attribution import mass_inside
from cpath_repro.models.small import SmallCNN
from cpath_repro.synth.nuclei import CROP_CLASSES, nucleus_crops_with_masks

#: Occlusion: side of the square hidden, its stride (pixels), and what it is filled with (the crops' background).
OCCLUSION_WINDOW, OCCLUSION_STRIDE, OCCLUSION_FILL = 6, 2, 0.05
#: The object mask is grown by this many pixels: the drawn nucleus is blurred by the optics (sigma 1 px).
MASK_MARGIN = 1


@dataclass(frozen=True)
class Interpretation:
    metrics: dict[str, float]
    attribution: pd.DataFrame  # per method: mass on the object vs the object's area
    maximizing: dict[str, np.ndarray]  # per class: the input maximizing its logit
    maximizing_table: pd.DataFrame  # per class: the CNN's and the feature forest's verdict on that input
    embedding: pd.DataFrame  # per test crop: class, PCA and t-SNE coordinates
    separability: pd.DataFrame  # linear-probe accuracy and silhouette per representation
    examples: dict[str, np.ndarray]  # crops, masks, saliency and occlusion maps (a few test crops)


def run(n_train: int, epochs: int, seed: int, n_explain: int, actmax_steps: int = 200) -> Interpretation:
    x, y, _ = _crops(n_train, seed)
    xt, yt, masks = _crops(max(n_explain, 200), seed + TEST_OFFSET)
    torch.manual_seed(seed)
    model = SmallCNN(width=8)
    history = train_classifier(model, TensorDataset(x, y), (xt, yt), epochs, seed, val_every=epochs,
                               name="CNN to explain")
    model.eval()
    test_accuracy = final_scores(history)["accuracy"]

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
        "test_accuracy": test_accuracy,
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


def _crops(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    x, y, masks = nucleus_crops_with_masks(n, seed, difficulty=SHAPE_DIFFICULTY)
    return torch.from_numpy(x)[:, None], torch.from_numpy(y), masks


def _probe(representation: np.ndarray, labels: np.ndarray, seed: int) -> float:
    """5-fold cross-validated accuracy of a logistic regression: how linearly separable the classes are."""
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    return float(cross_val_score(probe, representation, labels, cv=5).mean())
