"""Class-score explanations of classifiers: Grad-CAM (pytorch-grad-cam) and saliency (captum), per image.

Shared by the chapters that show where a classifier looks (paper B's Fig. 3, paper C's Figs. 7-8):
each returns one ``(N, H, W)`` map per input image for the class given for it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn


def grad_cam(model: nn.Module, layer: nn.Module, inputs: torch.Tensor, classes: Sequence[int], *,
             aug_smooth: bool = False, eigen_smooth: bool = False) -> np.ndarray:
    """pytorch-grad-cam's Grad-CAM of ``classes`` at ``layer``, upsampled to the input: ``(N, H, W)`` in [0, 1]."""
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    model.eval()
    with GradCAM(model=model, target_layers=[layer]) as cam:
        return np.asarray(cam(input_tensor=inputs, targets=[ClassifierOutputTarget(int(c)) for c in classes],
                              aug_smooth=aug_smooth, eigen_smooth=eigen_smooth))


def saliency(model: nn.Module, inputs: torch.Tensor, classes: Sequence[int]) -> np.ndarray:
    """captum's saliency (Simonyan et al. 2013): |∂ class score / ∂ pixel|, the maximum over channels (their
    Fig. 1's choice), ``(N, H, W)``."""
    from captum.attr import Saliency

    model.eval()
    x = inputs.detach().clone().requires_grad_(True)
    grads = Saliency(model).attribute(x, target=torch.as_tensor(list(classes)), abs=True)
    return grads.detach().amax(1).numpy()
