"""Paper E's notebooks: the review's concepts as live, measured demos."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cpath_repro.profiles import SEED, NotebookSpec, Param, at_least, between, each_between, params, same

PART = "Paper E - Deep learning in image cytometry"


def _n_seeds(default: int) -> Param:
    return Param("n_seeds", int, "seeds (each makes its own crops and initial weights)",
                 {"ci": 1, "default": default, "paper": 5}, between(1, 20))


def _kernel_check(value: Any) -> str | None:
    if len(value) != 9 or set(value) - {"0", "1"}:
        return "must be nine characters of 0 and 1 (a 3x3 kernel, row by row)"
    return None


def _conv_position(values: Mapping[str, Any]) -> str | None:
    out = values["image_size"] - 2
    if not (0 <= values["row"] < out and 0 <= values["col"] < out):
        return (
            f"output position ({values['row']}, {values['col']}) lies outside the "
            f"{out}x{out} feature map of a {values['image_size']}x{values['image_size']} image"
        )
    return None


def _even_size(values: Mapping[str, Any]) -> str | None:
    if values["image_size"] % values["window"]:
        return f"image_size {values['image_size']} must be a multiple of window {values['window']}"
    return None


NOTEBOOKS: tuple[NotebookSpec, ...] = (
    NotebookSpec(
        name="E-F1",
        title="Conventional vs deep-learning workflow",
        part=PART,
        artifacts=("E-F1",),
        description="Hand-engineered features (scikit-image region properties and texture) with a random forest "
        "vs a small CNN on the same nucleus-shape task: test accuracy as the training set shrinks, over seeds.",
        settings=params(
            _n_seeds(3),
            Param("sizes", list, "training-set sizes (each set is part of the next)",
                  {"ci": [20, 60], "default": [20, 60, 200], "paper": [20, 60, 200, 600, 2000]},
                  each_between(10, 100_000)),
            Param("n_test", int, "test crops per seed", {"ci": 100, "default": 300, "paper": 2000},
                  between(30, 10**6)),
            Param("steps", int, "CNN optimizer steps at every training-set size",
                  {"ci": 10, "default": 200, "paper": 1000}, between(1, 10**6)),
        ),
    ),
    NotebookSpec(
        name="E-F2",
        title="Convolution, kernel and receptive field",
        part=PART,
        artifacts=("E-F2",),
        description="A small 0/1 image convolved with a 0/1 3x3 kernel; receptive field and output "
        "position highlighted; the sum checked against torch and the receptive field against autograd.",
        settings=params(
            SEED,
            Param("image_size", int, "side of the input image", same(7), between(3, 64)),
            Param("kernel", str, "3x3 kernel of 0 and 1, row by row", same("101010101"), _kernel_check),
            Param("row", int, "output row to highlight", same(1), at_least(0)),
            Param("col", int, "output column to highlight", same(2), at_least(0)),
        ),
        constraint=_conv_position,
    ),
    NotebookSpec(
        name="E-F3",
        title="Max pooling with stride 2",
        part=PART,
        artifacts=("E-F3",),
        description="Max pooling of a small image with a window equal to the stride; each output traced "
        "to the input value it kept; size formula and shift invariance measured.",
        settings=params(
            SEED,
            Param("image_size", int, "side of the input image", same(4), between(2, 64)),
            Param("window", int, "pooling window (= stride)", same(2), between(2, 8)),
            Param("trials", int, "random images for the shift-invariance measurement",
                  {"ci": 50, "default": 2000, "paper": 2000}, between(1, 100_000)),
        ),
        constraint=_even_size,
    ),
    NotebookSpec(
        name="E-F4",
        title="A dense layer: forward pass, back-propagation, gradient descent",
        part=PART,
        artifacts=("E-F4",),
        description="Gradients of a dense layer written out by hand, checked against autograd and finite "
        "differences; gradient descent drawn on a 2-D loss surface.",
        settings=params(
            SEED,
            Param("lr", float, "gradient-descent step size", same(0.3), between(1e-4, 2.0)),
            Param("steps", int, "gradient-descent steps", same(40), between(1, 10_000)),
        ),
    ),
    NotebookSpec(
        name="E-F5",
        title="Skip connections and gradient flow",
        part=PART,
        artifacts=("E-F5",),
        description="Per-layer gradient norms at initialization in a deep plain network vs a residual one, "
        "and the training curves of both on synthetic nucleus crops.",
        settings=params(
            SEED,
            Param("depth", int, "hidden layers", {"ci": 8, "default": 20, "paper": 20}, between(2, 200)),
            Param("width", int, "units per layer", same(32), between(2, 1024)),
            Param("n_train", int, "training crops", {"ci": 128, "default": 1000, "paper": 1000}, between(16, 10**6)),
            Param("epochs", int, "training epochs", {"ci": 2, "default": 10, "paper": 10}, between(1, 1000)),
        ),
    ),
    NotebookSpec(
        name="E-K1-architecture",
        title="Key concepts I: receptive fields, activations, feature-map sizes",
        part=PART,
        artifacts=("E-K1",),
        description="Receptive field growth with depth (formula vs autograd); activation functions and vanishing "
        "gradients in a deep network; feature-map sizes from kernel, stride and padding checked against PyTorch.",
        settings=params(
            SEED,
            Param("max_depth", int, "deepest stack for the receptive-field table", {"ci": 3, "default": 6, "paper": 6},
                  between(1, 8)),
            Param("depth", int, "hidden layers of the network for vanishing gradients",
                  {"ci": 6, "default": 20, "paper": 20}, between(2, 200)),
            Param("width", int, "units per hidden layer", same(32), between(2, 1024)),
        ),
    ),
    NotebookSpec(
        name="E-K1-training",
        title="Key concepts II: fitting, dropout, batch norm, augmentation, transfer",
        part=PART,
        artifacts=("E-K1",),
        description="Over- and underfitting vs model size; dropout and batch norm (gap and convergence); data "
        "augmentation; transfer learning from a shape task to a counting task, vs from scratch; over seeds.",
        settings=params(
            _n_seeds(2),
            Param("n_train", int, "training crops (deliberately few)", {"ci": 48, "default": 150, "paper": 150},
                  between(16, 10**6)),
            Param("mlp_epochs", int, "epochs of the fully connected networks", {"ci": 2, "default": 60, "paper": 60},
                  between(1, 10_000)),
            Param("cnn_steps", int, "optimizer steps of each CNN", {"ci": 6, "default": 150, "paper": 1000},
                  between(1, 10**6)),
            Param("n_source", int, "crops of the source (shape) task for transfer learning",
                  {"ci": 64, "default": 600, "paper": 2000}, between(16, 10**6)),
        ),
    ),
    NotebookSpec(
        name="E-K2",
        title="Method families: U-Net, autoencoder, GAN, RNN",
        part=PART,
        artifacts=("E-K2",),
        description="A small U-Net trained only on synthetic fluorescence nuclei, evaluated on a real image with "
        "125 labelled nuclei (DSB 2018, from the stardist wheel); a denoising autoencoder (PSNR); a GAN on nucleus "
        "crops (classifier two-sample test); a recurrent tracker over a noisy time-lapse (position error).",
        settings=params(
            SEED,
            Param("n_images", int, "synthetic training images for the U-Net", {"ci": 4, "default": 24, "paper": 24},
                  between(1, 10_000)),
            Param("size", int, "side of a synthetic image", {"ci": 64, "default": 128, "paper": 128}, between(32, 2048)),
            Param("epochs", int, "U-Net training epochs", {"ci": 1, "default": 10, "paper": 10}, between(1, 1000)),
            Param("dae_images", int, "64x64 training images for the denoising autoencoder",
                  {"ci": 8, "default": 256, "paper": 1024}, between(4, 10**6)),
            Param("dae_epochs", int, "autoencoder training epochs", {"ci": 1, "default": 20, "paper": 40},
                  between(1, 1000)),
            Param("gan_crops", int, "real crops the GAN learns from", {"ci": 64, "default": 1000, "paper": 5000},
                  between(16, 10**6)),
            Param("gan_epochs", int, "GAN training epochs", {"ci": 1, "default": 15, "paper": 50}, between(1, 1000)),
            Param("sequences", int, "training time-lapse sequences", {"ci": 32, "default": 300, "paper": 2000},
                  between(8, 10**6)),
            Param("rnn_epochs", int, "tracker training epochs", {"ci": 1, "default": 10, "paper": 20}, between(1, 1000)),
        ),
        constraint=lambda v: None if v["size"] % 8 == 0 else f"size {v['size']} must be a multiple of 8",
    ),
    NotebookSpec(
        name="E-K3",
        title="Class imbalance: resampling vs a class-weighted loss",
        part=PART,
        artifacts=("E-K3",),
        description="A CNN trained on deliberately imbalanced crops (90 / 8 / 2 %) with nothing done, undersampling, "
        "oversampling or a class-weighted loss: per-class recall and balanced accuracy on balanced test crops.",
        settings=params(
            _n_seeds(3),
            Param("n_train", int, "imbalanced training crops (at least 200, so the 2 % class appears)",
                  {"ci": 200, "default": 1000, "paper": 5000}, between(200, 10**6)),
            Param("steps", int, "optimizer steps of every arm", {"ci": 6, "default": 150, "paper": 1000},
                  between(1, 10**6)),
        ),
    ),
    NotebookSpec(
        name="E-K4",
        title="Interpretability: activation maximization, saliency, occlusion, embedding",
        part=PART,
        artifacts=("E-K4",),
        description="One CNN explained four ways, each scored: saliency and occlusion mass on the true nucleus, "
        "class-maximizing inputs judged by an independent feature classifier, last-layer embedding separability.",
        settings=params(
            SEED,
            Param("n_train", int, "training crops", {"ci": 128, "default": 1000, "paper": 5000}, between(16, 10**6)),
            Param("epochs", int, "training epochs", {"ci": 1, "default": 10, "paper": 20}, between(1, 1000)),
            Param("n_explain", int, "test crops explained", {"ci": 16, "default": 200, "paper": 1000},
                  between(4, 10**5)),
            Param("actmax_steps", int, "gradient-ascent steps of activation maximization",
                  {"ci": 5, "default": 200, "paper": 500}, between(1, 10**5)),
        ),
    ),
    NotebookSpec(
        name="E-K5",
        title="Uncertainty: Monte-Carlo dropout and conformal prediction",
        part=PART,
        artifacts=("E-K5",),
        description="A dropout CNN on hard nucleus crops: reliability diagram and expected calibration error "
        "with one pass vs MC dropout; split conformal prediction sets with their measured coverage at 90 % and 95 %.",
        settings=params(
            SEED,
            Param("n_train", int, "training crops", {"ci": 128, "default": 1000, "paper": 1000}, between(16, 10**6)),
            Param("epochs", int, "training epochs", {"ci": 2, "default": 10, "paper": 10}, between(1, 1000)),
            Param("passes", int, "MC-dropout forward passes", {"ci": 5, "default": 30, "paper": 30}, between(1, 1000)),
            Param("repeats", int, "random calibration/test splits", {"ci": 10, "default": 200, "paper": 200},
                  between(1, 10_000)),
        ),
    ),
)
