"""The work behind paper E's demo notebooks: small models trained with the shared engine."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.utils.data import TensorDataset

from cpath_repro.concepts import networks, uncertainty
from cpath_repro.models.small import SmallCNN
from cpath_repro.synth.nuclei import nucleus_crops
from cpath_repro.train.engine import TrainConfig, Trainer


def crops_dataset(n: int, seed: int, difficulty: float = 0.5) -> tuple[torch.Tensor, torch.Tensor]:
    x, y = nucleus_crops(n, seed, difficulty=difficulty)
    return torch.from_numpy(x)[:, None], torch.from_numpy(y)


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    with torch.no_grad():
        return float((model(x).argmax(1) == y).float().mean())


def train_classifier(model: nn.Module, x: torch.Tensor, y: torch.Tensor, val: tuple[torch.Tensor, torch.Tensor],
                     epochs: int, seed: int, lr: float = 0.05, name: str = "classifier"):  # type: ignore[no-untyped-def]
    """Train with the shared engine; validation accuracy every epoch. Returns the history."""
    trainer = Trainer(model, nn.CrossEntropyLoss(), TensorDataset(x, y), TrainConfig(epochs, 32, lr, seed=seed),
                      validate=lambda m: {"accuracy": accuracy(m, *val), "train_accuracy": accuracy(m, x, y)},
                      name=name)
    return trainer.fit()


def skip_connection_gradients(depth: int, width: int, seed: int) -> pd.DataFrame:
    """E-F5: per-layer gradient norms at initialization, plain vs residual, on one batch of crops."""
    x, y = crops_dataset(128, seed)
    flat = nn.functional.avg_pool2d(x, 4).flatten(1)  # 64 features per crop
    rows = []
    for residual in (False, True):
        torch.manual_seed(seed)
        net = networks.deep_net(depth, width, nn.ReLU, residual, n_in=flat.shape[1])
        for layer, norm in enumerate(networks.gradient_norms(net, flat, y), start=1):
            rows.append({"network": "residual" if residual else "plain", "layer": layer, "gradient_norm": norm})
    return pd.DataFrame(rows)


def skip_connection_training(depth: int, width: int, n_train: int, epochs: int, seed: int) -> pd.DataFrame:
    """E-F5: validation accuracy per epoch of the same deep network, plain vs residual."""
    x, y = crops_dataset(n_train, seed)
    xv, yv = crops_dataset(400, seed + 10_000)
    pool = lambda t: nn.functional.avg_pool2d(t, 4).flatten(1)  # noqa: E731
    rows = []
    for residual in (False, True):
        torch.manual_seed(seed)
        net = networks.deep_net(depth, width, nn.ReLU, residual, n_in=64)
        label = "residual" if residual else "plain"
        history = train_classifier(net, pool(x), y, (pool(xv), yv), epochs, seed, lr=0.01, name=f"{label} depth {depth}")
        rows += [{"network": label, "epoch": e["epoch"], "train_loss": e["train_loss"],
                  "val_accuracy": e["val"]["accuracy"]} for e in history.epochs]
    return pd.DataFrame(rows)


#: E-K5 uses hard crops (classes overlap), so that a classifier has uncertainty worth calibrating.
UNCERTAIN_DIFFICULTY = 0.7


def uncertainty_demo(n_train: int, epochs: int, seed: int, passes: int, repeats: int):  # type: ignore[no-untyped-def]
    """E-K5: a dropout CNN on hard crops; calibration with and without MC dropout; conformal coverage."""
    x, y = crops_dataset(n_train, seed, difficulty=UNCERTAIN_DIFFICULTY)
    xt, yt = crops_dataset(1000, seed + 10_000, difficulty=UNCERTAIN_DIFFICULTY)
    torch.manual_seed(seed)
    model = SmallCNN(dropout=0.5, width=8)
    train_classifier(model, x, y, (xt[:200], yt[:200]), epochs, seed, name="dropout CNN")
    model.eval()
    with torch.no_grad():
        single = torch.softmax(model(xt), 1).numpy()
    mc = uncertainty.mc_dropout_probabilities(model, xt, passes)
    labels = yt.numpy()
    ece_single, diagram_single = uncertainty.expected_calibration_error(single, labels)
    ece_mc, diagram_mc = uncertainty.expected_calibration_error(mc, labels)
    conformal = pd.DataFrame([{"alpha": a, **uncertainty.conformal_coverage(mc, labels, a, repeats, seed)}
                              for a in (0.10, 0.05)])
    calibration = pd.DataFrame([
        {"prediction": "single pass", "accuracy": float((single.argmax(1) == labels).mean()), "ECE": ece_single},
        {"prediction": f"MC dropout ({passes} passes)", "accuracy": float((mc.argmax(1) == labels).mean()),
         "ECE": ece_mc},
    ])
    return calibration, conformal, {"single pass": diagram_single, "MC dropout": diagram_mc}


def dense_checks(seed: int) -> pd.DataFrame:
    g = networks.dense_layer_gradients(seed)
    return pd.DataFrame([{"quantity": k.replace("_", " "), "value": v} for k, v in g.items()])


def receptive_field_table(max_depth: int) -> pd.DataFrame:
    rows = []
    for depth in range(1, max_depth + 1):
        for pooled in (False, True):
            layers = [(3, 1)] * depth if not pooled else [(3, 1), (2, 2)] * depth
            rows.append({"layers": f"{depth} x conv3" + (" + pool2" if pooled else ""),
                         "formula": networks.receptive_field(layers),
                         "autograd": networks.receptive_field_by_gradient(layers)})
    return pd.DataFrame(rows)


def reliability_points(diagram: list[tuple[float, float, int]]) -> np.ndarray:
    return np.array([(c, a) for c, a, _ in diagram])


#: E-K2: synthetic nuclei at the scale of the real sample, read off its mask (median nucleus area 440 px,
#: i.e. radius ~12 px; ~20 % foreground in 512 x 512).
REAL_SCALE_RADIUS = (8.0, 15.0)
REAL_SCALE_PIXELS_PER_NUCLEUS = 2300
#: E-K2: predicted objects smaller than this (pixels) are noise, not nuclei.
MIN_OBJECT_AREA = 30


def _nuclei_batch(n: int, size: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Synthetic nuclei images scaled like the real sample (same percentile normalization)."""
    from cpath_repro.data.nuclei import percentile_normalize
    from cpath_repro.synth.nuclei import nuclei_image

    images = [nuclei_image(size, seed + i, n=size * size // REAL_SCALE_PIXELS_PER_NUCLEUS, radius=REAL_SCALE_RADIUS)
              for i in range(n)]
    x = torch.from_numpy(np.stack([percentile_normalize(im.image) for im in images]))[:, None]
    return x, torch.from_numpy(np.stack([(im.labels > 0) for im in images])).long()


def dice_iou(pred: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    inter = float(np.logical_and(pred, truth).sum())
    total = float(pred.sum() + truth.sum())
    union = float(np.logical_or(pred, truth).sum())
    return 2 * inter / max(total, 1.0), inter / max(union, 1.0)


def unet_on_real_nuclei(n_images: int, size: int, epochs: int, seed: int, base: int = 8, depth: int = 3):  # type: ignore[no-untyped-def]
    """E-K2: a small U-Net trained on synthetic fluorescence nuclei only, evaluated on the real DSB 2018 sample."""
    from skimage import measure, morphology

    from cpath_repro.data.nuclei import read_dsb_sample
    from cpath_repro.models.unet import UNet

    x, y = _nuclei_batch(n_images, size, seed * 100_000)
    xv, yv = _nuclei_batch(8, size, seed * 100_000 + 50_000)
    torch.manual_seed(seed)
    model = UNet(in_channels=1, n_classes=2, base=base, depth=depth)

    def validate(m: nn.Module) -> dict[str, float]:
        pred = m(xv).argmax(1).numpy().astype(bool)
        return {"synthetic_dice": dice_iou(pred, yv.numpy().astype(bool))[0]}

    Trainer(model, nn.CrossEntropyLoss(), TensorDataset(x, y), TrainConfig(epochs, 8, 0.05, seed=seed),
            validate=validate, name="U-Net on synthetic nuclei", recalibrate_bn=TensorDataset(x, y)).fit()
    image, labels = read_dsb_sample()
    model.eval()
    with torch.no_grad():
        pred = model(torch.from_numpy(image)[None, None]).argmax(1)[0].numpy().astype(bool)
    pred = morphology.remove_small_objects(pred, max_size=MIN_OBJECT_AREA - 1)
    dice, iou = dice_iou(pred, labels > 0)
    synthetic = validate(model)["synthetic_dice"]
    metrics = {"real_dice": dice, "real_iou": iou, "synthetic_val_dice": synthetic,
               "real_nuclei": len(np.unique(labels)) - 1, "predicted_objects": int(measure.label(pred).max())}
    return metrics, image, labels, pred
