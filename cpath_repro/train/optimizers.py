"""Paper B's optimizers for the engine: RMSGD (AdaS) made checkpointable, and AdamP.

RMSGD (package ``rmsgd``) keeps its adaptive state as Python attributes, not in torch's optimizer
state: a learning rate per parameter tensor, recomputed by ``epoch_step()`` from each layer's
"knowledge gain" (an SVD of the weights) and its history. Its own ``state_dict`` carries a
``Metrics`` object and numpy arrays (so ``torch.load(weights_only=True)`` refuses it) and its
``load_state_dict`` restores none of that, so a resumed run would restart from the initial rates.
``ResumableRMSGD`` fixes both; the engine calls ``epoch_step()`` once per epoch.

RMSGD's ``epoch_step()`` also runs a full ``torch.svd`` of both unfoldings of every conv layer and
keeps only the singular values: for ResNet18 on 2 CPU cores that is 2.5 s an epoch, more than a
small dataset's training epoch. ``ResumableRMSGD`` takes the same singular values from the
eigenvalues of the float64 Gram matrix (20 times faster, and more precise than float32 SVD) and
runs RMSGD's own EVBMF rank selection on them unchanged.

AdamP (package ``adamp``) decides per weight whether to project its update by two calls of
``F.cosine_similarity`` (per output channel, then over the whole layer). On a CPU those calls cost a
ResNet18 on 32-px crops as much as its forward pass; :class:`QuickAdamP` takes both cosines from one
pass of three row-wise dot products (a layer's dot products are its channels' summed), and computes the
package's Adam direction in place of its temporaries: the same steps, about a third of the time.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import torch
from adamp import AdamP
from rmsgd import RMSGD
from rmsgd.components import ConvLayerMetrics, LayerMetrics
from rmsgd.matrix_factorization import EVBsigma2
from rmsgd.metrics import Metrics
from scipy.optimize import minimize_scalar
from torch import nn

from cpath_repro.train.engine import TrainConfig

# paper B (HistoKT), section 3: RMSGD (AdaS) with these settings; AdamP with the same weight decay.
RMSGD_LR = 0.03
RMSGD_MOMENTUM = 0.9
WEIGHT_DECAY = 5e-4

# Param-group entries that RMSGD aliases to its attributes (live objects): not saved, relinked on load.
_ALIASED = ("metrics", "lr_vector", "velocity", "not_ready")
# The exact types RMSGD's layer metrics take (they decide numpy's promotions, hence the numbers); 0 = no value.
_NUMBER_TYPES: tuple[type, ...] = (int, float, np.float16, np.float32, np.float64)
_SLOTS = 6  # rank, KG, condition of the input and of the output channel unfolding


def singular_values(y: torch.Tensor) -> torch.Tensor:
    """Singular values of ``y`` (L×M, L ≤ M), largest first, as float32: the square roots of the eigenvalues of
    the L×L float64 Gram matrix (what ``torch.svd(y)[1]`` gives, without the vectors RMSGD never uses)."""
    y64 = y.double()
    eigenvalues = torch.linalg.eigvalsh(y64 @ y64.T).flip(0)
    return eigenvalues.clamp_min(0).sqrt().float()


def evbmf_values(y: torch.Tensor) -> torch.Tensor:
    """The singular values EVBMF keeps for ``y`` (L×M, L ≤ M): ``rmsgd.matrix_factorization.EVBMF(y)[1]``'s
    diagonal, computed line for line as that function does (empirical noise variance by its free energy,
    ``EVBsigma2``, then its threshold and shrinkage), but from :func:`singular_values`. RMSGD's function
    cannot be given the values: it runs the SVD itself."""
    L, M = y.shape
    alpha = L / M
    tauubar = 2.5129 * np.sqrt(alpha)
    s = singular_values(y)
    residual = 0.0  # EVBMF's maximum rank H is L: nothing is left out of the factorization
    xubar = (1 + tauubar) * (1 + alpha / tauubar)
    eH_ub = int(np.min([np.ceil(L / (1 + alpha)) - 1, L])) - 1
    upper_bound = torch.sum(s ** 2) / (L * M)
    lower_bound = torch.max(torch.stack([s[eH_ub + 1] ** 2 / (M * xubar), torch.mean(s[eH_ub + 1:] ** 2) / M]))
    sigma2 = minimize_scalar(EVBsigma2, args=(L, M, s.numpy(), residual, xubar),
                             bounds=[lower_bound.numpy(), upper_bound.numpy()], method="Bounded").x
    threshold = np.sqrt(M * sigma2 * (1 + tauubar) * (1 + alpha / tauubar))
    kept = s[:int(torch.sum(s > threshold))]
    shrink = (L + M) * sigma2 / kept ** 2
    return (kept / 2) * (1 - shrink + torch.sqrt((1 - shrink) ** 2 - 4 * L * M * sigma2 ** 2 / kept ** 4))


class GramMetrics(Metrics):
    """RMSGD's layer metrics (rank, knowledge gain, mapping condition), with :func:`evbmf_values` for EVBMF."""

    def compute_low_rank(self, tensor: torch.Tensor, normalizer: float) -> Any:
        """``Metrics.compute_low_rank`` with the SVD-free EVBMF; same numbers, same number types."""
        tensor = tensor.detach()
        size = tensor.shape
        try:
            kept = evbmf_values(tensor.T if size[0] > size[1] else tensor).numpy()
        except (RuntimeError, ValueError):  # as RMSGD: a failed factorization keeps the last epoch's metrics
            return None, None, None
        rank = kept.shape[0] / size[0]
        if len(kept):
            condition = kept[0] / kept[-1]
            gain = np.sum(kept / max(kept))
        else:
            condition, gain = 0, 0
        return rank, gain / size[0], condition


class ResumableRMSGD(RMSGD):
    """RMSGD whose ``state_dict`` is tensors and plain Python and whose ``load_state_dict`` restores all of it.

    Besides torch's state (momentum buffers, groups) it saves the learning-rate vector, velocity,
    knowledge gain, zeta, epoch counter, not-ready layers, the settings (init_lr, beta, gamma,
    step_size) and the per-epoch layer metrics (``epoch_step`` indexes them by epoch and falls back
    to the last ones when an SVD fails). Its rates come from that vector, not ``group["lr"]``, so
    torch LR schedulers do not affect it: use ``step_size`` and ``gamma``.
    """

    def __init__(self, params: Iterable[nn.Parameter], *args: Any, linear: bool = False, **kwargs: Any) -> None:
        params = list(params)
        super().__init__(params, *args, linear=linear, **kwargs)
        self.metrics: Metrics = GramMetrics(params, linear=linear)
        for group in self.param_groups:
            group["metrics"] = self.metrics

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        state["param_groups"] = [{k: v for k, v in g.items() if k not in _ALIASED} for g in state["param_groups"]]
        values, kinds = _encode_history(self.metrics.history, len(self.metrics.params))
        state["rmsgd"] = {
            "lr_vector": torch.from_numpy(self.lr_vector.copy()),
            "velocity": torch.from_numpy(self.velocity.copy()),
            "KG": torch.from_numpy(self.KG.copy()) if isinstance(self.KG, np.ndarray) else float(self.KG),
            "zeta": float(self.zeta),
            "epoch": int(self.epoch),
            "not_ready": [int(i) for i in self.not_ready],
            "init_lr": float(self.init_lr),
            "beta": float(self.beta),
            "gamma": float(self.gamma),
            "step_size": self.step_size,
            "history_values": values,
            "history_kinds": kinds,
        }
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state = dict(state_dict)
        saved = state.pop("rmsgd")
        super().load_state_dict(state)
        self.lr_vector = saved["lr_vector"].numpy().copy()
        self.velocity = saved["velocity"].numpy().copy()
        self.KG = saved["KG"].numpy().copy() if isinstance(saved["KG"], torch.Tensor) else saved["KG"]
        self.zeta, self.epoch, self.not_ready = saved["zeta"], saved["epoch"], list(saved["not_ready"])
        self.init_lr, self.beta, self.gamma, self.step_size = (saved["init_lr"], saved["beta"], saved["gamma"],
                                                               saved["step_size"])
        self.metrics.history = _decode_history(saved["history_values"], saved["history_kinds"])
        for group in self.param_groups:
            group.update({name: getattr(self, name) for name in _ALIASED})


def _encode_history(history: list[list[tuple[int, Any]]], n_params: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Layer metrics per epoch as float64 values and int8 type codes, both shaped (epochs, parameters, 6)."""
    values, kinds = [], []
    for layers in history:
        if [index for index, _ in layers] != list(range(n_params)):
            raise ValueError("RMSGD's metrics history does not list every parameter in order.")
        epoch_values, epoch_kinds = [], []
        for _, metric in layers:
            parts = ([] if metric is None else [metric.input_channel, metric.output_channel]
                     if isinstance(metric, ConvLayerMetrics) else [metric])
            numbers = [n for part in parts for n in (part.rank, part.KG, part.condition)]
            codes = [_NUMBER_TYPES.index(type(n)) + 1 if type(n) in _NUMBER_TYPES else -1 for n in numbers]
            if -1 in codes:
                raise TypeError(f"RMSGD layer metric of unexpected type {[type(n).__name__ for n in numbers]}.")
            pad = _SLOTS - len(numbers)
            epoch_values.append([float(n) for n in numbers] + [0.0] * pad)
            epoch_kinds.append(codes + [0] * pad)
        values.append(epoch_values)
        kinds.append(epoch_kinds)
    shape = (len(history), n_params, _SLOTS)
    return (torch.tensor(values, dtype=torch.float64).reshape(shape), torch.tensor(kinds, dtype=torch.int8).reshape(shape))


def _decode_history(values: torch.Tensor, kinds: torch.Tensor) -> list[list[tuple[int, Any]]]:
    history = []
    for epoch_values, epoch_kinds in zip(values.tolist(), kinds.tolist(), strict=True):
        layers: list[tuple[int, Any]] = []
        for index, (numbers, codes) in enumerate(zip(epoch_values, epoch_kinds, strict=True)):
            n = [_NUMBER_TYPES[c - 1](v) for v, c in zip(numbers, codes, strict=True) if c]
            metric = (None if not n else LayerMetrics(*n) if len(n) == 3
                      else ConvLayerMetrics(LayerMetrics(*n[:3]), LayerMetrics(*n[3:])))
            layers.append((index, metric))
        history.append(layers)
    return history


def rmsgd(params: Iterable[nn.Parameter], config: TrainConfig, *, beta: float = 0.8, step_size: int | None = None,
          gamma: float = 1.0, linear: bool = False) -> ResumableRMSGD:
    """An OptimizerFactory: RMSGD with ``config``'s lr, momentum and weight decay (paper B: RMSGD_LR, ...).

    ``beta``, ``step_size``, ``gamma``, ``linear`` are RMSGD's (by ``functools.partial``); it takes a flat
    list of parameters, not parameter groups.
    """
    params = list(params)
    if any(isinstance(p, dict) for p in params):
        raise TypeError("RMSGD takes a flat list of parameters, not parameter groups.")
    return ResumableRMSGD(params, lr=config.lr, beta=beta, step_size=step_size, linear=linear, gamma=gamma,
                          momentum=config.momentum, weight_decay=config.weight_decay)


class QuickAdamP(AdamP):  # type: ignore[misc]
    """``adamp.AdamP`` with the same projection test computed in one pass: its cosines are the package's
    (``x·y / (max(‖x‖, eps) · max(‖y‖, eps))``, as ``F.cosine_similarity``) up to float summation order."""

    def _projection(self, p: torch.Tensor, grad: torch.Tensor, perturb: torch.Tensor, delta: float,
                    wd_ratio: float, eps: float) -> tuple[torch.Tensor, float]:
        weights, grads = p.data.reshape(p.size(0), -1), grad.reshape(grad.size(0), -1)
        dot = torch.linalg.vecdot(grads, weights)
        grad_sq, weight_sq = torch.linalg.vecdot(grads, grads), torch.linalg.vecdot(weights, weights)
        views = ((self._channel_view, dot, grad_sq, weight_sq),
                 (self._layer_view, dot.sum(), grad_sq.sum(), weight_sq.sum()))
        for view_func, d, g2, w2 in views:  # the package's order: per channel first, then the layer
            cosine = d.abs() / (g2.sqrt().clamp_min(eps) * w2.sqrt().clamp_min(eps))
            if cosine.max() < delta / math.sqrt(view_func(p.data).size(1)):
                expand_size = [-1] + [1] * (len(p.shape) - 1)
                p_n = p.data / view_func(p.data).norm(dim=1).view(expand_size).add_(eps)
                perturb -= p_n * view_func(p_n * perturb).sum(dim=1).view(expand_size)
                return perturb, wd_ratio
        return perturb, 1

    @torch.no_grad()
    def step(self, closure: Any = None) -> Any:
        """The package's step, line for line, with the Adam direction computed in place of its two temporaries."""
        loss = None
        if closure is not None:
            with torch.enable_grad():  # the closure re-evaluates the model and back-propagates (torch's contract)
                loss = closure()
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad, state = p.grad, self.state[p]
                if not state:
                    state.update(step=0, exp_avg=torch.zeros_like(p), exp_avg_sq=torch.zeros_like(p))
                exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
                state["step"] += 1
                bias_correction1 = 1 - beta1 ** state["step"]
                bias_correction2 = 1 - beta2 ** state["step"]
                exp_avg.mul_(beta1).add_(grad, alpha=1 - beta1)
                exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
                denom = exp_avg_sq.sqrt().div_(math.sqrt(bias_correction2)).add_(group["eps"])
                if group["nesterov"]:
                    perturb = (beta1 * exp_avg + (1 - beta1) * grad).div_(denom)
                else:
                    perturb = torch.div(exp_avg, denom, out=denom)
                wd_ratio: float = 1
                if len(p.shape) > 1:
                    perturb, wd_ratio = self._projection(p, grad, perturb, group["delta"], group["wd_ratio"],
                                                         group["eps"])
                if group["weight_decay"] > 0:
                    p.mul_(1 - group["lr"] * group["weight_decay"] * wd_ratio)
                p.add_(perturb, alpha=-group["lr"] / bias_correction1)
        return loss


def adamp(params: Iterable[nn.Parameter], config: TrainConfig) -> torch.optim.Optimizer:
    """An OptimizerFactory: AdamP with ``config``'s lr, beta1 = momentum and weight decay (paper B: WEIGHT_DECAY)."""
    optimizer: torch.optim.Optimizer = QuickAdamP(params, lr=config.lr, betas=(config.momentum, 0.999),
                                                  weight_decay=config.weight_decay)
    return optimizer
