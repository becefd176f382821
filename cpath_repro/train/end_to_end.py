"""Paper D's two-model training: a patch feature extractor and a whole-slide segmenter (Takahama et al., 3.1-3.2).

The extractor turns each of a slide's N patches into a feature vector; the vectors are placed at their
patches' grid positions, centred in a zero map of fixed size (:func:`feature_map`); the segmenter (a U-Net)
reads that map and predicts a tumour/normal map, scored by softmax cross entropy over the labelled
positions (:data:`IGNORE_INDEX` marks "nolabel" patches and empty positions, section 4.1).

End-to-End Learning (section 3.2.2, steps 1-5) trains both with the memory of one mini-batch of patches:

1. forward the extractor over the N patches in mini-batches, keeping only the features ``x`` (no graph);
2. build the feature map (and label map) from ``x``;
3. forward and backward the segmenter; keep ``g = dL/dx``;
4-5. for each mini-batch again: forward the extractor, back-propagate ``L' = g . x`` (eq. 3), whose gradient
   is ``dL/dw_f`` (eq. 4); the gradients of the mini-batches add up to that of the whole slide.

The re-forward must compute the same function as the first forward, or ``g . x`` is the gradient of another
network. Three things could differ, and each is handled here:

- **randomness** (GoogLeNet's dropout, random augmentation drawn from torch's generator inside a lazy mini-batch):
  torch's random state is saved before each mini-batch's first forward (before its patches are made) and
  restored before its re-forward; after step 5 it is set to where step 3 left it, so the re-forwards consume no
  randomness;
- **data**: mini-batches are tensors, or made again by a deterministic function of their index
  (:class:`LazyBatches`; the epoch goes into the function);
- **batch norm** (torchvision's GoogLeNet has one after every convolution): in train mode the output is
  normalized with the mini-batch's own statistics, so the re-forward's output does not depend on the running
  statistics, but each forward also *updates* them. Chosen: snapshot every buffer of the extractor after
  step 1 and copy it back after step 5, so the running statistics (and ``num_batches_tracked``) are exactly
  those of one plain forward pass. (Setting ``momentum = 0`` for the re-forward would leave the means but
  still count ``num_batches_tracked`` up, and with ``momentum=None`` -- a cumulative average -- that count is
  the weight; the snapshot is exact whatever the module does with its buffers.)

:func:`end_to_end_backward` checks that every re-forward gives bit-for-bit the features of the first forward
(``verify``) and raises :class:`ReforwardMismatchError` otherwise.

Why not ``torch.utils.checkpoint``: checkpointing each mini-batch would also recompute activations, but
still runs *one* backward from the loss through the whole graph, so every checkpointed segment's inputs
(all N patches) stay alive until that backward reaches them, and the segmenter's backward and the N patches'
recomputation are one engine call. The paper instead splits the backward at ``x``: the segmenter's backward
ends at ``g`` (N x 16 numbers), and the extractor's is a separate, independent backward per mini-batch whose
patches are made again only then. That split is what torch does not provide, hence the code below.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, overload

import torch
from torch import nn
from torch.nn import functional

from cpath_repro.errors import ParameterError, UserError

#: Label of "nolabel" patches and of map positions without a patch: no loss there (section 4.1: "we do not
#: calculate the loss for the 'nolabel' patches").
IGNORE_INDEX = -1
#: Parameter name -> gradient tensor; names are ``extractor.<name>`` and ``segmenter.<name>``.
Gradients = dict[str, torch.Tensor]
LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class ReforwardMismatchError(UserError):
    """The extractor's re-forward of a mini-batch did not reproduce its first forward."""


class LazyBatches(Sequence[torch.Tensor]):
    """Mini-batches made on demand by ``make(index)``, never held together; ``make`` must be deterministic in
    its index (or draw only from torch's global generator, which the end-to-end step restores)."""

    def __init__(self, make: Callable[[int], torch.Tensor], count: int) -> None:
        self.make, self.length = make, count

    def __len__(self) -> int:
        return self.length

    @overload
    def __getitem__(self, index: int) -> torch.Tensor: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[torch.Tensor]: ...

    def __getitem__(self, index: int | slice) -> torch.Tensor | Sequence[torch.Tensor]:
        if isinstance(index, slice):
            return [self.make(i) for i in range(*index.indices(self.length))]
        if not 0 <= index < self.length:
            raise IndexError(index)
        return self.make(index)

    def __iter__(self) -> Iterator[torch.Tensor]:
        return (self.make(i) for i in range(self.length))


@dataclass
class SlideBatch:
    """One slide (or tissue lump): its patches in mini-batches, and per patch its grid position and label.

    ``positions`` is ``(N, 2)`` integer (row, col) in patch units and ``labels`` ``(N,)`` (0 normal, 1 tumour,
    :data:`IGNORE_INDEX` nolabel), both in the order of the mini-batches' patches, concatenated. ``map_size``
    is the side of the segmenter's square input, in patches.
    """

    patches: Sequence[torch.Tensor]
    positions: torch.Tensor
    labels: torch.Tensor
    map_size: int

    def __post_init__(self) -> None:
        if self.positions.ndim != 2 or self.positions.shape[1] != 2 or self.labels.shape != self.positions.shape[:1]:
            msg = (f"A slide needs positions of shape (N, 2) and labels of shape (N,); got {tuple(self.positions.shape)} "
                   f"and {tuple(self.labels.shape)}.")
            raise ParameterError(msg)
        if self.map_size < 1:
            raise ParameterError(f"The feature map size must be a positive number of patches; got {self.map_size}.")


# -- feature and label maps -----------------------------------------------------------------------------------------


def map_offset(positions: torch.Tensor, map_size: int) -> tuple[int, int]:
    """(row, col) to add to grid positions so that their bounding box is centred in a ``map_size`` square map
    (section 3.1: the feature map is placed "so that they come to the center of white map"); negative or past
    the map where the tissue is larger than the map (4.1: "the edge area of the tissue protrudes")."""
    if len(positions) == 0:
        raise ParameterError("A slide needs at least one patch to place in the feature map; got none.")
    low, high = positions.min(0).values, positions.max(0).values
    extent = high - low + 1
    top_left = (map_size - extent).div(2, rounding_mode="floor")
    offset = top_left - low
    return int(offset[0]), int(offset[1])


def _placement(positions: torch.Tensor, map_size: int) -> tuple[torch.Tensor, torch.Tensor, tuple[int, int]]:
    """Which patches fall inside the map, their flat map index (row * map_size + col), and the offset."""
    offset = map_offset(positions, map_size)
    rc = positions.long() + torch.tensor(offset, device=positions.device)
    inside = ((rc >= 0) & (rc < map_size)).all(1)
    flat = rc[inside, 0] * map_size + rc[inside, 1]
    if flat.numel() != flat.unique().numel():
        raise ParameterError("Two patches of a slide have the same grid position; each position holds one patch.")
    return inside, flat, offset


def feature_map(features: torch.Tensor, positions: torch.Tensor, map_size: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """``(N, C)`` patch features -> ``(C, map_size, map_size)`` map, zero where no patch is, and the (row, col)
    offset used (map position = grid position + offset). Patches outside the map are cut off. Differentiable
    w.r.t. ``features`` (``index_put``: the gradient of a placed feature is the map's gradient at its place)."""
    if features.ndim != 2 or len(features) != len(positions):
        msg = f"Features must be (N, C), one row per position; got {tuple(features.shape)} for {len(positions)} positions."
        raise ParameterError(msg)
    inside, flat, offset = _placement(positions.to(features.device), map_size)
    channels = features.shape[1]
    placed = features.new_zeros(map_size * map_size, channels).index_put((flat,), features[inside])
    return placed.t().reshape(channels, map_size, map_size), offset


def label_map(labels: torch.Tensor, positions: torch.Tensor, map_size: int,
              ignore_index: int = IGNORE_INDEX) -> tuple[torch.Tensor, tuple[int, int]]:
    """``(N,)`` patch labels -> ``(map_size, map_size)`` long map placed as :func:`feature_map` places features,
    ``ignore_index`` where no patch is; and the offset used."""
    if len(labels) != len(positions):
        raise ParameterError(f"A slide needs one label per position; got {len(labels)} labels for {len(positions)}.")
    inside, flat, offset = _placement(positions.to(labels.device), map_size)
    placed = torch.full((map_size * map_size,), ignore_index, dtype=torch.long, device=labels.device)
    placed[flat] = labels[inside].long()
    return placed.reshape(map_size, map_size), offset


def segmentation_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Softmax cross entropy over the map's labelled positions (mean; section 3.1), nolabel/empty excluded."""
    return functional.cross_entropy(logits, target, ignore_index=IGNORE_INDEX)


# -- random state and buffers ---------------------------------------------------------------------------------------


def _rng_state() -> tuple[torch.Tensor, list[torch.Tensor] | None]:
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() and torch.cuda.is_initialized() else None
    return torch.get_rng_state(), cuda


def _set_rng_state(state: tuple[torch.Tensor, list[torch.Tensor] | None]) -> None:
    torch.set_rng_state(state[0])
    if state[1] is not None:
        torch.cuda.set_rng_state_all(state[1])


def _device(module: nn.Module) -> torch.device:
    first = next(module.parameters(), None)
    return first.device if first is not None else torch.device("cpu")


def _features_of(extractor: nn.Module, patches: torch.Tensor) -> torch.Tensor:
    out: torch.Tensor = extractor.features(patches.to(_device(extractor)))  # type: ignore[operator]
    return out


# -- the forward passes ---------------------------------------------------------------------------------------------


def _forward(extractor: nn.Module, batches: Sequence[torch.Tensor] | Callable[[], Iterator[torch.Tensor]], grad: bool,
             rng_states: list[Any] | None = None) -> list[torch.Tensor]:
    source = batches() if callable(batches) else iter(batches)
    out: list[torch.Tensor] = []
    with torch.set_grad_enabled(grad):
        while True:
            if rng_states is not None:
                rng_states.append(_rng_state())  # before the patches are made: covers random augmentation too
            batch = next(source, None)
            if batch is None:
                if rng_states is not None:
                    rng_states.pop()
                return out
            out.append(_features_of(extractor, batch))


def extract_features(extractor: nn.Module, batches: Sequence[torch.Tensor] | Callable[[], Iterator[torch.Tensor]], *,
                     grad: bool = False) -> torch.Tensor:
    """``extractor.features`` over mini-batches (a sequence, or a callable returning an iterator of them), one
    ``(N, C)`` tensor. ``grad=False`` keeps no activations (step 1: memory of one mini-batch); ``grad=True`` keeps
    the whole graph (plain back-propagation). The extractor's mode (train/eval) is the caller's."""
    return torch.cat(_forward(extractor, batches, grad))


def _map_inputs(features: torch.Tensor, slide: SlideBatch) -> tuple[torch.Tensor, torch.Tensor]:
    if len(features) != len(slide.positions):
        msg = (f"The slide's mini-batches hold {len(features)} patches but it has {len(slide.positions)} positions; "
               "give one position and label per patch, in the mini-batches' order.")
        raise ParameterError(msg)
    fmap, _ = feature_map(features, slide.positions, slide.map_size)
    target, _ = label_map(slide.labels.to(features.device), slide.positions, slide.map_size)
    if not bool((target != IGNORE_INDEX).any()):
        raise ParameterError("No labelled patch of the slide falls inside the feature map, so there is no loss to learn.")
    return fmap.unsqueeze(0), target.unsqueeze(0)


def end_to_end_backward(extractor: nn.Module, segmenter: nn.Module, slide: SlideBatch,
                        loss_fn: LossFn = segmentation_loss, *, verify: bool = True) -> float:
    """Steps 1-5 of End-to-End Learning: accumulates ``dL/dw`` into the ``.grad`` of both models and returns the
    loss ``L``. Memory: one mini-batch's activations plus the ``(N, C)`` features and their gradient. The
    extractor's final layer (``classifier``) is not used (section 3.2.2: "f_n is removed"). ``verify`` raises
    :class:`ReforwardMismatchError` if a re-forward is not bit-for-bit the first forward."""
    batches = slide.patches
    # step 1: features of every mini-batch, no graph kept; train-mode batch norm updates its running statistics
    rng_states: list[Any] = []
    x = torch.cat(_forward(extractor, batches, grad=False, rng_states=rng_states))
    buffers = {name: b.detach().clone() for name, b in extractor.named_buffers()}
    # step 2: feature map and label map; x is a leaf whose .grad becomes g = dL/dx
    x.requires_grad_(True)
    fmap, target = _map_inputs(x, slide)
    # step 3: the segmenter's forward and backward, which ends at x
    loss = loss_fn(segmenter(fmap), target)
    loss.backward()
    g = x.grad if x.grad is not None else torch.zeros_like(x)
    after_segmenter = _rng_state()
    # steps 4-5: per mini-batch, the same forward again and the backward of L' = g . x (eq. 3-4)
    start = 0
    for index, state in enumerate(rng_states):
        _set_rng_state(state)
        xi = _features_of(extractor, batches[index])
        stop = start + len(xi)
        if verify and not torch.equal(xi.detach(), x.detach()[start:stop]):
            msg = (f"The re-forward of mini-batch {index} gave other features than its first forward, so its gradient "
                   "would be another network's; make the mini-batches deterministic in their index (or pass verify=False "
                   "where the hardware is not bit-reproducible).")
            raise ReforwardMismatchError(msg)
        (g[start:stop] * xi).sum().backward()
        start = stop
    with torch.no_grad():  # the running statistics as one plain forward pass left them (step 1's)
        for name, b in extractor.named_buffers():
            b.copy_(buffers[name])
    _set_rng_state(after_segmenter)
    return float(loss.detach())


def end_to_end_step(extractor: nn.Module, segmenter: nn.Module, slide: SlideBatch, opt_extractor: torch.optim.Optimizer,
                    opt_segmenter: torch.optim.Optimizer, loss_fn: LossFn = segmentation_loss, *,
                    verify: bool = True) -> float:
    """One End-to-End Learning update on one slide (gradients zeroed, steps 1-5, both optimizers stepped); the loss
    before the update (section 4.1: Adam, learning rates 1e-9 for the extractor and 1e-7 for the segmenter)."""
    opt_extractor.zero_grad(set_to_none=True)
    opt_segmenter.zero_grad(set_to_none=True)
    loss = end_to_end_backward(extractor, segmenter, slide, loss_fn, verify=verify)
    opt_segmenter.step()
    opt_extractor.step()
    return loss


def full_backprop_loss(extractor: nn.Module, segmenter: nn.Module, slide: SlideBatch,
                       loss_fn: LossFn = segmentation_loss) -> torch.Tensor:
    """The loss with the whole graph kept: every mini-batch's activations live until its backward (memory N x M)."""
    fmap, target = _map_inputs(extract_features(extractor, slide.patches, grad=True), slide)
    return loss_fn(segmenter(fmap), target)


def backprop_step(extractor: nn.Module, segmenter: nn.Module, slide: SlideBatch, opt_extractor: torch.optim.Optimizer,
                  opt_segmenter: torch.optim.Optimizer, loss_fn: LossFn = segmentation_loss) -> float:
    """One plain back-propagation update (the memory baseline of End-to-End Learning); the loss before it."""
    opt_extractor.zero_grad(set_to_none=True)
    opt_segmenter.zero_grad(set_to_none=True)
    loss = full_backprop_loss(extractor, segmenter, slide, loss_fn)
    loss.backward()
    opt_segmenter.step()
    opt_extractor.step()
    return float(loss.detach())


# -- gradients and their comparison ---------------------------------------------------------------------------------


def gradients(extractor: nn.Module, segmenter: nn.Module) -> Gradients:
    """Copies of the ``.grad`` of both models' parameters that have one, named ``extractor.*`` / ``segmenter.*``."""
    out: Gradients = {}
    for prefix, module in (("extractor", extractor), ("segmenter", segmenter)):
        for name, p in module.named_parameters():
            if p.grad is not None:
                out[f"{prefix}.{name}"] = p.grad.detach().clone()
    return out


def _zero_grad(*modules: nn.Module) -> None:
    for module in modules:
        module.zero_grad(set_to_none=True)


def end_to_end_gradients(extractor: nn.Module, segmenter: nn.Module, slide: SlideBatch,
                         loss_fn: LossFn = segmentation_loss) -> Gradients:
    """``dL/dw`` of both models by End-to-End Learning's steps 1-5 (the ``.grad`` are zeroed first and left set)."""
    _zero_grad(extractor, segmenter)
    end_to_end_backward(extractor, segmenter, slide, loss_fn)
    return gradients(extractor, segmenter)


def full_backprop_gradients(extractor: nn.Module, segmenter: nn.Module, slide: SlideBatch,
                            loss_fn: LossFn = segmentation_loss) -> Gradients:
    """The reference ``dL/dw``: plain back-propagation, all activations kept, one backward (``.grad`` zeroed
    first and left set).

    It runs over the SAME mini-batches as End-to-End Learning, not one batch of all N patches: torchvision's
    GoogLeNet has batch norm after every convolution (the paper's Chainer GoogLeNet had none), and in train mode
    batch norm normalizes with the batch's statistics, so one batch of N patches would be a different function
    of the weights, with a different gradient.
    """
    _zero_grad(extractor, segmenter)
    full_backprop_loss(extractor, segmenter, slide, loss_fn).backward()
    return gradients(extractor, segmenter)


def gradient_error(extractor: nn.Module, segmenter: nn.Module, slide: SlideBatch, seed: int = 0,
                   loss_fn: LossFn = segmentation_loss) -> float:
    """D-C3's check: :func:`relative_gradient_error` of End-to-End Learning against full back-propagation, each on
    its own copy of the two models from the same random state (the same dropout masks), so that the two
    computations of one gradient are compared and nothing else."""
    import copy

    pair = copy.deepcopy(extractor), copy.deepcopy(segmenter)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        reference = full_backprop_gradients(*pair, slide, loss_fn)
        torch.manual_seed(seed)
        got = end_to_end_gradients(extractor, segmenter, slide, loss_fn)
    return relative_gradient_error(reference, got)


def relative_gradient_error(reference: Gradients, other: Gradients) -> float:
    """Max over parameter tensors of ``||other - reference|| / ||reference||`` (Frobenius norms; dimensionless).

    Per tensor rather than per element: an element's relative error is unstable where the gradient is near zero.
    A tensor whose reference gradient is exactly zero counts 0 if the other's is zero too, else infinity (no
    scale to be relative to). Both must name the same parameters.
    """
    if reference.keys() != other.keys():
        missing, extra = sorted(reference.keys() - other.keys()), sorted(other.keys() - reference.keys())
        msg = f"Gradients to compare must name the same parameters; missing {missing[:3]}, extra {extra[:3]}."
        raise ParameterError(msg)
    worst = 0.0
    for name, ref in reference.items():
        ref64, oth64 = ref.detach().double(), other[name].detach().double().to(ref.device)
        scale = float(ref64.norm())
        diff = float((oth64 - ref64).norm())
        if scale == 0.0:
            error = 0.0 if diff == 0.0 else float("inf")
        else:
            error = diff / scale
        worst = max(worst, error)
    return worst
