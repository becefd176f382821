"""E-K2: the method families paper E reviews, each trained here on its own data and measured.

- CNN segmentation: a small U-Net trained only on synthetic fluorescence nuclei, scored on the real
  DSB 2018 sample (Dice, IoU, object counts).
- Autoencoder: denoising low-light nuclei images (PSNR before/after, beside a tuned Gaussian filter),
  on synthetic images and on the real sample with the same camera noise added.
- GAN: nucleus crops generated from noise, checked by a classifier two-sample test on the
  hand-engineered features of E-F1.
- RNN: following a nucleus through a noisy time-lapse, with memory (GRU) and without.

Each family's training and its scoring share their data and models, so each is one function here
returning its tables and the metrics the page quotes (``.metrics``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from skimage import filters, measure, metrics, morphology
from torch import nn
from torch.utils.data import TensorDataset

from cpath_repro import seeds
from cpath_repro.chapters.paper_e.data import low_light_pairs, nuclei_batch
from cpath_repro.concepts import features, generative, recurrent
from cpath_repro.data.nuclei import DSB_DIR, FILES, read_dsb_sample
from cpath_repro.metrics.segmentation import dice_iou
from cpath_repro.models.unet import UNet
from cpath_repro.synth.nuclei import add_noise, nuclei_image, nucleus_crops, time_lapse
from cpath_repro.train.engine import TrainConfig, Trainer

#: Predicted objects smaller than this (pixels) are noise, not nuclei.
MIN_OBJECT_AREA = 30
#: The page's tables as a reader reads them: each column's name (and the U-Net's scores' decimals)
COLUMNS = {"real_dice": "Dice on the real image", "real_iou": "IoU on the real image",
           "synthetic_val_dice": "Dice on synthetic validation images",
           "real_median_nucleus_area_px": "median nucleus area, real image (px)",
           "synthetic_median_nucleus_area_px": "median nucleus area, generator (px)",
           "mean_error_px": "mean position error (px)", "last_frame_error_px": "position error in the last frame (px)"}
UNET_DECIMALS = {"real_dice": 3, "real_iou": 3, "synthetic_val_dice": 3, "real_median_nucleus_area_px": 0,
                 "synthetic_median_nucleus_area_px": 0}


# -- CNN segmentation -----------------------------------------------------------------------------------------------

def real_nuclei_source() -> tuple[Path, list[Path]]:
    """Where the real DSB 2018 sample lies, and its files (for the provenance checksum)."""
    return DSB_DIR, [DSB_DIR / f for f in FILES]


def _median_area(labels: np.ndarray) -> float:
    areas = np.bincount(labels.ravel())[1:]
    return float(np.median(areas[areas > 0]))


@dataclass(frozen=True)
class Segmentation:
    """The U-Net's scores on the real image (and its synthetic validation), and what the page draws."""

    metrics: dict[str, float]
    image: np.ndarray  # the real image, [0, 1]
    labels: np.ndarray  # its instance mask
    prediction: np.ndarray  # the U-Net's foreground, small objects removed

    @property
    def table(self) -> pd.DataFrame:
        """The metrics as a one-row table (what the page shows)."""
        return pd.DataFrame([self.metrics])


def unet_on_real_nuclei(n_images: int, size: int, epochs: int, seed: int, base: int = 8, depth: int = 3) -> Segmentation:
    """A small U-Net trained on synthetic fluorescence nuclei only, evaluated on the real DSB 2018 sample."""
    image, labels = read_dsb_sample()  # first: a missing sample stops the run before any training
    training_images = seeds.derive(seed, "training images")
    x, y = nuclei_batch(n_images, size, training_images)
    xv, yv = nuclei_batch(8, size, seeds.derive(seed, "validation images"))
    torch.manual_seed(seed)
    model = UNet(in_channels=1, n_classes=2, base=base, depth=depth)

    def validate(m: nn.Module) -> dict[str, float]:
        pred = m(xv).argmax(1).numpy().astype(bool)
        return {"synthetic_dice": dice_iou(pred, yv.numpy().astype(bool))[0]}

    Trainer(model, nn.CrossEntropyLoss(), TensorDataset(x, y), TrainConfig(epochs, 8, 0.05, seed=seed),
            validate=validate, name="U-Net on synthetic nuclei", recalibrate_bn=TensorDataset(x, y)).fit()
    model.eval()
    with torch.no_grad():
        pred = model(torch.from_numpy(image)[None, None]).argmax(1)[0].numpy().astype(bool)
        synthetic = validate(model)["synthetic_dice"]
    pred = morphology.remove_small_objects(pred, max_size=MIN_OBJECT_AREA - 1)
    dice, iou = dice_iou(pred, labels > 0)
    scores = {"real_dice": dice, "real_iou": iou, "synthetic_val_dice": synthetic,
              "real_nuclei": int(len(np.unique(labels)) - 1), "predicted_objects": int(measure.label(pred).max()),
              # after the fact, to explain the Dice: how large the nuclei of each domain are (never used in training)
              "real_median_nucleus_area_px": _median_area(labels),
              "synthetic_median_nucleus_area_px": _median_area(nuclei_image(size, seeds.derive(training_images, 0)).labels)}
    return Segmentation(scores, image, labels, pred)


# -- Autoencoder ----------------------------------------------------------------------------------------------------

#: Photons at full intensity of the low-light images the autoencoder learns to clean (fewer = noisier).
DENOISE_PHOTONS = 15.0
#: Gaussian-filter widths (pixels) the conventional baseline chooses from, on the training images.
GAUSSIAN_SIGMAS = (0.5, 0.75, 1.0, 1.5, 2.0, 3.0)


def _psnr(reference: np.ndarray, image: np.ndarray) -> float:
    return float(metrics.peak_signal_noise_ratio(reference, image, data_range=1.0))


def _mean_psnr(references: np.ndarray, images: np.ndarray) -> float:
    return float(np.mean([_psnr(r, i) for r, i in zip(references, images, strict=True)]))


@dataclass(frozen=True)
class Denoising:
    """The autoencoder and the tuned Gaussian filter beside the noisy input, by PSNR."""

    table: pd.DataFrame  # PSNR (dB) of noisy / Gaussian-filtered / autoencoder images, on synthetic and real images
    sigma: float  # width (pixels) of the Gaussian filter, the best on the training images
    examples: dict[str, np.ndarray]  # real sample: clean, noisy, Gaussian, autoencoder (crops)

    @property
    def metrics(self) -> dict[str, float]:
        """The filter width, and each PSNR as ``psnr_<images shown>_<synthetic | real>`` (e.g. ``psnr_noisy_real``)."""
        synthetic, real = self.table.to_dict("records")
        psnr = {f"psnr_{k}_{where}": v for where, row in (("synthetic", synthetic), ("real", real))
                for k, v in row.items() if k != "images"}
        return {"gaussian_sigma": self.sigma, **psnr}


def denoising(n_images: int, size: int, epochs: int, seed: int) -> Denoising:
    """A convolutional denoising autoencoder trained on synthetic low-light nuclei images.

    Ground truth is the generator's expected intensity; the real sample's "clean" image is the
    DSB 2018 image itself, with the same camera noise added (its own noise is much lower).
    """
    real_clean, _ = read_dsb_sample()
    noisy, clean = low_light_pairs(n_images, size, seeds.derive(seed, "low-light training images"), DENOISE_PHOTONS)
    noisy_t, clean_t = low_light_pairs(max(4, n_images // 4), size, seeds.derive(seed, "low-light test images"),
                                        DENOISE_PHOTONS)
    torch.manual_seed(seed)
    model = generative.DenoisingAutoencoder()
    tensor = lambda a: torch.from_numpy(a)[:, None]  # noqa: E731
    config = TrainConfig(epochs, 8, 1e-3, seed=seed, optimizer="adam")
    Trainer(model, nn.MSELoss(), TensorDataset(tensor(noisy), tensor(clean)), config, name="denoising autoencoder").fit()
    model.eval()

    def autoencoder(images: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return model(tensor(images)).numpy()[:, 0]

    def gaussian(images: np.ndarray, sigma: float) -> np.ndarray:
        return np.stack([filters.gaussian(i, sigma=sigma) for i in images])

    sigma = max(GAUSSIAN_SIGMAS, key=lambda s: _mean_psnr(clean, gaussian(noisy, s)))  # tuned on training images
    real_noisy = add_noise(real_clean, seeds.derive(seed, "noise on the real image"), DENOISE_PHOTONS)[None]
    rows = []
    for data, (ref, observed) in {"synthetic test images": (clean_t, noisy_t),
                                  "real DSB 2018 image + the same noise": (real_clean[None], real_noisy)}.items():
        rows.append({"images": data, "noisy": _mean_psnr(ref, observed),
                     "gaussian_filter": _mean_psnr(ref, gaussian(observed, sigma)),
                     "autoencoder": _mean_psnr(ref, autoencoder(observed))})
    window = np.s_[128:256, 128:256]
    examples = {"real image": real_clean[window], f"+ noise ({DENOISE_PHOTONS:.0f} photons)": real_noisy[0][window],
                f"Gaussian filter (sigma {sigma})": gaussian(real_noisy, sigma)[0][window],
                "autoencoder": autoencoder(real_noisy)[0][window]}
    return Denoising(pd.DataFrame(rows), sigma, examples)


# -- GAN ------------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Generated:
    """The GAN judged by a classifier two-sample test, its losses, and example crops."""

    table: pd.DataFrame  # two-sample test accuracy per comparison, on all features and on shape features only
    history: pd.DataFrame  # losses per epoch
    real: np.ndarray  # example real crops
    fake: np.ndarray  # example generated crops

    @property
    def metrics(self) -> dict[str, float]:
        """Two-sample accuracies the page quotes: GAN crops on all and on shape features; real and untrained
        generator crops (the two ends of the scale) on shape features."""
        two = self.table.set_index("real crops vs")
        return {"two_sample_all_gan": float(two.loc["GAN crops", "all features"]),
                "two_sample_shape_gan": float(two.loc["GAN crops", "shape features only"]),
                "two_sample_shape_real": float(two.loc["another set of real crops", "shape features only"]),
                "two_sample_shape_untrained": float(two.loc["untrained generator", "shape features only"])}


def gan(n_crops: int, epochs: int, seed: int, n_test: int = 400) -> Generated:
    """A DCGAN on nucleus crops; a classifier two-sample test on E-F1's hand-engineered features says how
    well generated crops pass for real ones (0.5: indistinguishable; 1.0: always told apart). Shape
    features alone ask whether the generated nuclei are shaped right, whatever their pixel noise."""
    real, _ = nucleus_crops(n_crops, seeds.derive(seed, "real crops"))
    torch.manual_seed(seed)
    untrained = generative.Generator()  # train_gan starts from these very weights (same seed)
    generator, history = generative.train_gan(torch.from_numpy(real)[:, None], epochs, seed)
    held_out, _ = nucleus_crops(2 * n_test, seeds.derive(seed, "held-out crops"))
    reference = features.feature_table(held_out[:n_test])
    samples = {
        "another set of real crops": held_out[n_test:],
        "GAN crops": generator.sample(n_test, seed).numpy()[:, 0],
        "untrained generator": untrained.sample(n_test, seed).numpy()[:, 0],
    }
    rows = []
    for name, crops in samples.items():
        table = features.feature_table(crops)
        rows.append({"real crops vs": name,
                     "all features": generative.two_sample_accuracy(reference, table, seed),
                     "shape features only": generative.two_sample_accuracy(reference[:, features.SHAPE],
                                                                           table[:, features.SHAPE], seed)})
    return Generated(pd.DataFrame(rows), pd.DataFrame(history), held_out[:8], samples["GAN crops"][:8])


# -- RNN ------------------------------------------------------------------------------------------------------------

#: The time-lapse: frames per sequence, frame side (pixels) and photons per frame (very low light).
FRAMES, FRAME_SIZE, FRAME_PHOTONS = 12, 24, 3.0


@dataclass(frozen=True)
class Tracking:
    """Each tracker's position error, overall and per frame, and one test sequence with its tracks."""

    table: pd.DataFrame  # position error (pixels) per tracker
    per_frame: pd.DataFrame  # error per frame index and tracker
    example: np.ndarray  # one test sequence (T, H, W)
    tracks: dict[str, np.ndarray]  # each tracker's positions on it (T, 2), and the truth

    @property
    def metrics(self) -> dict[str, float]:
        """Mean position error (pixels) of the centroid, the CNN and the CNN + GRU trackers."""
        errors = self.table.set_index("tracker").mean_error_px
        return {"tracking_error_centroid": float(errors.iloc[0]), "tracking_error_cnn": float(errors.iloc[1]),
                "tracking_error_gru": float(errors.iloc[2])}


def tracking(n_train: int, epochs: int, seed: int, n_test: int = 200) -> Tracking:
    """Following one nucleus through a low-light time-lapse: intensity centroid per frame, a CNN per frame,
    and the same CNN followed by a GRU (memory across frames); error in pixels from the true centre."""
    train = time_lapse(n_train, FRAMES, seeds.derive(seed, "training time-lapses"), FRAME_SIZE, FRAME_PHOTONS)
    test = time_lapse(n_test, FRAMES, seeds.derive(seed, "test time-lapses"), FRAME_SIZE, FRAME_PHOTONS)
    data = TensorDataset(torch.from_numpy(train.frames), torch.from_numpy(train.positions / FRAME_SIZE))
    tracks = {"intensity centroid (per frame)": recurrent.centroid_track(test.frames)}
    for label, memory in (("CNN per frame", False), ("CNN + GRU (memory)", True)):
        torch.manual_seed(seed)
        model = recurrent.Tracker(FRAME_SIZE, recurrent=memory)
        Trainer(model, nn.MSELoss(), data, TrainConfig(epochs, 16, 1e-3, seed=seed, optimizer="adam"), name=label).fit()
        model.eval()
        with torch.no_grad():
            tracks[label] = model(torch.from_numpy(test.frames)).numpy() * FRAME_SIZE
    errors = {k: np.linalg.norm(v - test.positions, axis=-1) for k, v in tracks.items()}  # (n, T) pixels
    table = pd.DataFrame([{"tracker": k, "mean_error_px": float(e.mean()), "last_frame_error_px": float(e[:, -1].mean())}
                          for k, e in errors.items()])
    per_frame = pd.DataFrame([{"tracker": k, "frame": t + 1, "error_px": float(e[:, t].mean())}
                              for k, e in errors.items() for t in range(FRAMES)])
    return Tracking(table, per_frame, test.frames[0], {"truth": test.positions[0], **{k: v[0] for k, v in tracks.items()}})
