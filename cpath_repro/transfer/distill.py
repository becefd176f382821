"""Paper B's weight distillation (B-F4): several trained models of one architecture combined into one by an SVD.

The paper states the recipe and none of its properties; they are worked out here, tested in
``tests/unit/transfer/test_distill.py``, and belong on the chapter's page.

**Recipe.** Every weight of two or more dimensions (a convolution's ``(n_out, n_in, h, w)``, a linear
layer's ``(n_out, n_in)``) is unfolded to an ``(n_out x k)`` matrix; the sources' matrices are stacked
vertically into ``A`` (``m*n_out x k``); with the *full* SVD ``A = U Λ Vᵀ`` (``U`` square, ``Λ`` of
``A``'s shape) the distilled matrix is ``U[:n_out, :n_out] Λ[:n_out, :] Vᵀ``, folded back to the weight's
shape. One-dimensional tensors (batch-norm weights, biases and running statistics) are averaged. A thin
SVD would give ``Λ`` only ``k`` rows, so "its first ``n_out`` rows" would not exist where ``k < n_out``.

**What it computes.** The first ``n_out`` rows of ``A = U Λ Vᵀ`` give ``W₁ v_j = σ_j U[:n_out, j]``;
``Λ[:n_out, :]`` is non-zero only at ``(j, j)``, ``j < r = min(n_out, k)``, so the rebuild is
``Σ_{j<r} σ_j U[:n_out, j] v_jᵀ = W₁ V_r V_rᵀ``: the *first* source's matrix projected onto the top-``r``
right-singular subspace of the stack. Hence:

- one source, or a source stacked with itself, comes back exactly;
- where ``k <= n_out`` (ResNet18's 1x1 downsample convolutions) ``V_r`` is all of ``V`` and the first
  source comes back unchanged, whatever the others;
- the projector does not depend on the order of the stack, so the result depends on which source is
  *first* and not on the order of the rest: :func:`distill` returns the order it used, to be recorded;
- the order of the ``k`` columns does not matter (the paper unfolds TensorFlow's ``(h, w, n_in, n_out)``,
  this module PyTorch's ``(n_out, n_in, h, w)``): permuting columns permutes the result alike;
- where ``σ_r = σ_{r+1}`` the subspace is not unique and the result depends on the SVD routine (never
  for one source or ``k <= n_out``; almost never for trained weights).

**Choices the paper leaves open.** Integer buffers (batch norm's ``num_batches_tracked``) cannot be averaged
and are taken from the first source. The sources' classifiers have different class counts: they are left
out, and the target keeps a new head of its own. Computed in float64 on the CPU, cast back to each
tensor's dtype and device; deterministic.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from cpath_repro.errors import ParameterError


def distill_matrix(matrices: Sequence[Tensor]) -> Tensor:
    """The distilled ``(n_out x k)`` matrix of the sources' ``(n_out x k)`` matrices, in this order (first = projected)."""
    if len(matrices) == 0:
        raise ParameterError("Weight distillation needs at least one source matrix; none were given.")
    first = matrices[0]
    for i, w in enumerate(matrices):
        if w.ndim != 2 or w.shape != first.shape:
            msg = (f"Weight distillation needs matrices of one (n_out x k) shape; source {i} is {tuple(w.shape)}, "
                   f"source 0 {tuple(first.shape)}.")
            raise ParameterError(msg)
    n_out, k = first.shape
    stack = torch.cat([w.detach().to("cpu", torch.float64) for w in matrices])
    # The full SVD A = U Λ Vᵀ, taken as Aᵀ = V Λᵀ Uᵀ: the same factors, about twice as fast for LAPACK's layout.
    v, s, ut = torch.linalg.svd(stack.T, full_matrices=True)
    u, vh = ut.T, v.T
    r = min(n_out, k)
    # U[:n_out, :n_out] Λ[:n_out, :] Vᵀ, skipping Λ's zeros: only its (j, j), j < r, are non-zero.
    rebuilt = u[:n_out, :r] @ (s[:r, None] * vh[:r])
    return rebuilt.to(first.device, first.dtype)


def _skipped(key: str, skip: Collection[str]) -> bool:
    return any(key == name or key.startswith(name + ".") for name in skip)


def distill_state_dicts(states: Sequence[Mapping[str, Tensor]], skip: Collection[str] = ()) -> dict[str, Tensor]:
    """The distilled state of the sources' states, in this order (first = projected), without the entries in ``skip``.

    ``skip`` names modules (``"fc"`` or ``("fc",)`` leaves out ``fc.weight`` and ``fc.bias``) or single keys; each must name
    an entry. Floating tensors of 2+ dimensions go through :func:`distill_matrix` (unfolded to
    ``(shape[0], -1)`` and folded back); other floating tensors are averaged; integer ones come from the first.
    """
    if len(states) == 0:
        raise ParameterError("Weight distillation needs at least one source model; none were given.")
    first = states[0]
    skip = (skip,) if isinstance(skip, str) else tuple(skip)
    for name in skip:
        if not any(_skipped(key, (name,)) for key in first):
            raise ParameterError(f"Weight distillation was told to leave out {name!r}, which names no entry of the sources.")
    keys = [key for key in first if not _skipped(key, skip)]
    for i, state in enumerate(states[1:], start=1):
        extra = [key for key in state if key not in first]
        missing = [key for key in first if key not in state]
        if missing or extra:
            what = f"lacks {missing[0]!r}, which source 0 has" if missing else f"has {extra[0]!r}, which source 0 lacks"
            raise ParameterError(f"Weight distillation needs one architecture; source {i} {what}.")
        for key in keys:
            if state[key].shape != first[key].shape:
                msg = (f"Weight distillation needs one architecture; {key!r} is {tuple(state[key].shape)} in source {i} "
                       f"and {tuple(first[key].shape)} in source 0.")
                raise ParameterError(msg)
    out: dict[str, Tensor] = {}
    for key in keys:
        ref = first[key]
        tensors = [state[key] for state in states]
        if not ref.is_floating_point():
            out[key] = ref.detach().clone()
        elif ref.ndim >= 2:
            out[key] = distill_matrix([t.reshape(ref.shape[0], -1) for t in tensors]).reshape(ref.shape)
        else:
            mean = torch.stack([t.detach().to("cpu", torch.float64) for t in tensors]).mean(dim=0)
            out[key] = mean.to(ref.device, ref.dtype)
    return out


@dataclass(frozen=True)
class Distilled:
    """A distilled model and the order of its sources (the first is the one projected), for the run's manifest."""

    model: nn.Module
    order: tuple[str, ...]


def distill(sources: Mapping[str, nn.Module], target: nn.Module, head: str = "fc") -> Distilled:
    """Load the distillation of ``sources`` (name -> model, in the mapping's order) into ``target`` but its ``head``.

    The sources must share ``target``'s architecture except the classifier ``head``, which is left out of the
    distillation; ``target`` keeps its own (new) head and is returned, with the order used, ready to deep-tune.
    """
    own = target.state_dict()
    if not any(_skipped(key, (head,)) for key in own):
        raise ParameterError(f"The distillation target has no head {head!r} to keep; name its classifier module.")
    order = tuple(sources)
    body = distill_state_dicts([model.state_dict() for model in sources.values()], skip=(head,))
    for key, value in own.items():
        if _skipped(key, (head,)):
            continue
        if key not in body:
            raise ParameterError(f"The distillation target has {key!r}, which the sources lack; give it their architecture.")
        if value.shape != body[key].shape:
            msg = (f"The distillation target's {key!r} is {tuple(value.shape)} and the sources' "
                   f"{tuple(body[key].shape)}; give it their architecture.")
            raise ParameterError(msg)
    unexpected = [key for key in body if key not in own]
    if unexpected:
        msg = f"The distillation target lacks {unexpected[0]!r}, which the sources have; give it their architecture."
        raise ParameterError(msg)
    target.load_state_dict(body, strict=False)
    return Distilled(target, order)
