"""Paper B's weight distillation: the rebuild is W₁·P (the first source projected on the stack's top right-singular
subspace), so one model comes back, the order matters, k <= n_out returns the first source; shapes survive ResNet18."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pytest
import torch
from torch import Tensor, nn
from torchvision.models import resnet18

from cpath_repro.errors import ParameterError
from cpath_repro.transfer.distill import Distilled, distill, distill_matrix, distill_state_dicts

#: (n_out, k, m): k > n_out with m·n_out below and above k, k = n_out, k < n_out, one source.
SHAPES = [(3, 10, 2), (3, 4, 2), (4, 10, 3), (2, 9, 4), (5, 5, 2), (6, 3, 2), (6, 3, 1), (8, 20, 1)]


def full_svd_definition(matrices: Sequence[Tensor]) -> Tensor:
    """The issue's recipe as written: full SVD of the stack, U[:n_out, :n_out] Λ[:n_out, :] Vᵀ, Λ of the stack's shape."""
    stack = torch.cat(list(matrices))
    n_out = matrices[0].shape[0]
    u, s, vh = torch.linalg.svd(stack, full_matrices=True)
    lam = torch.zeros_like(stack)
    lam[range(len(s)), range(len(s))] = s
    return u[:n_out, :n_out] @ lam[:n_out, :] @ vh


def projector(matrices: Sequence[Tensor]) -> Tensor:
    """V_r V_rᵀ, r = min(n_out, k): the projector on the top-r right-singular subspace of the stack."""
    n_out, k = matrices[0].shape
    vh = torch.linalg.svd(torch.cat(list(matrices)), full_matrices=True)[2]
    v_r = vh[: min(n_out, k)].T
    return v_r @ v_r.T


def randoms(n_out: int, k: int, m: int, seed: int = 0) -> list[Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(n_out, k, generator=g, dtype=torch.float64) for _ in range(m)]


def trained_like(seed: int) -> dict[str, Tensor]:
    """A ResNet18 state (1,000-class head) whose batch-norm parameters and statistics are not at their initial values."""
    torch.manual_seed(seed)
    state = resnet18(weights=None).state_dict()
    for key, value in state.items():
        if value.is_floating_point() and value.ndim == 1:
            state[key] = value + 0.1 * torch.randn_like(value).abs()
        elif key.endswith("num_batches_tracked"):
            state[key] = torch.tensor(100 + seed)
    return state


@pytest.fixture(scope="module")
def resnet() -> dict[str, Tensor]:
    return trained_like(0)


@pytest.fixture(scope="module")
def stacked_with_itself(resnet: dict[str, Tensor]) -> dict[str, Tensor]:
    return distill_state_dicts([resnet, resnet], skip=("fc",))


def test_one_source_and_a_source_stacked_with_itself_come_back_exactly(resnet, stacked_with_itself):
    body = {key: value for key, value in resnet.items() if not key.startswith("fc.")}
    for distilled in (distill_state_dicts([resnet], skip=("fc",)), stacked_with_itself):
        assert distilled.keys() == body.keys()
        for key, value in body.items():
            torch.testing.assert_close(distilled[key], value, rtol=0, atol=1e-6, msg=key)


@pytest.mark.parametrize(("n_out", "k", "m"), SHAPES)
def test_the_rebuild_is_the_full_svd_recipe_and_equals_the_first_source_projected(n_out, k, m):
    matrices = randoms(n_out, k, m)
    result = distill_matrix(matrices)
    assert result.shape == (n_out, k) and result.dtype == torch.float64
    torch.testing.assert_close(result, full_svd_definition(matrices), rtol=0, atol=1e-10)
    torch.testing.assert_close(result, matrices[0] @ projector(matrices), rtol=0, atol=1e-10)
    if k > n_out and m > 1:  # a genuine projection: the first source does not come back
        assert (result - matrices[0]).abs().max() > 1e-3


def test_the_result_depends_on_which_source_is_first_and_not_on_the_order_of_the_rest():
    w1, w2, w3 = randoms(4, 10, 3)
    p = projector([w1, w2])
    assert (distill_matrix([w1, w2]) - distill_matrix([w2, w1])).abs().max() > 1e-3
    # the stack's rows are permuted, its right-singular subspace is not: the swap projects the other source
    torch.testing.assert_close(distill_matrix([w2, w1]), w2 @ p, rtol=0, atol=1e-10)
    torch.testing.assert_close(distill_matrix([w1, w2, w3]), distill_matrix([w1, w3, w2]), rtol=0, atol=1e-10)


@pytest.mark.parametrize(("n_out", "k"), [(6, 3), (4, 4), (128, 64)])
def test_where_k_is_at_most_n_out_the_first_source_comes_back(n_out, k):
    matrices = randoms(n_out, k, 3)
    torch.testing.assert_close(distill_matrix(matrices), matrices[0], rtol=0, atol=1e-10)


def test_resnet18_downsample_convolutions_return_the_first_source_and_3x3_convolutions_do_not(resnet):
    other = trained_like(1)
    keys = ["layer2.0.downsample.0.weight", "layer3.0.downsample.0.weight", "layer4.0.downsample.0.weight",
            "layer2.0.conv1.weight"]
    assert resnet[keys[0]].shape == (128, 64, 1, 1)  # k = 64 <= n_out = 128
    distilled = distill_state_dicts([{k: resnet[k] for k in keys}, {k: other[k] for k in keys}])
    for key in keys[:3]:
        torch.testing.assert_close(distilled[key], resnet[key], rtol=0, atol=1e-6)
    assert (distilled[keys[3]] - resnet[keys[3]]).abs().max() > 1e-3  # 128 x 576: projected


def test_every_resnet18_parameter_and_buffer_keeps_its_shape_and_dtype_and_the_head_is_left_out(resnet, stacked_with_itself):
    body = [key for key in resnet if not key.startswith("fc.")]
    assert list(stacked_with_itself) == body and len(body) == len(resnet) - 2
    for key in body:
        assert stacked_with_itself[key].shape == resnet[key].shape, key
        assert stacked_with_itself[key].dtype == resnet[key].dtype, key


def test_hand_computed_cases():
    """By hand (singular values distinct, so the subspace is unique):

    - W₁=[[3,0]], W₂=[[0,1]]: the stack diag(3, 1) has U = V = I; n_out = 1 keeps σ₁=3, v₁=e₁: [[3, 0]].
      Swapped, the stack [[0,1],[3,0]] has u₁=e₂, so U[:1,:1] = [[0]]: [[0, 0]] (W₂=[[0,1]] projected on e₁).
    - W₁=[[1,1]], W₂=[[2,0]]: AᵀA = [[5,1],[1,1]], top eigenvalue 3+√5, v₁ ∝ (1, √5-2), |v₁|² = 10-4√5;
      W₁v₁v₁ᵀ = (√5-1)/(10-4√5)·(1, √5-2) = ((5+3√5)/10, (5-√5)/10).
    - n_out=2, k=1: W₁=[[1],[2]], W₂=[[3],[4]]: σ₁=√30, u₁=(1,2,3,4)/√30, V=[[1]]; U[:2,:2]Λ[:2,:] = (1,2)ᵀ: W₁.
    """
    def matrix(rows: list[list[float]]) -> Tensor:
        return torch.tensor(rows, dtype=torch.float64)

    r5 = math.sqrt(5)
    cases = [
        ([[[3, 0]], [[0, 1]]], [[3, 0]]),
        ([[[0, 1]], [[3, 0]]], [[0, 0]]),
        ([[[1, 1]], [[2, 0]]], [[(5 + 3 * r5) / 10, (5 - r5) / 10]]),
        ([[[1], [2]], [[3], [4]]], [[1], [2]]),
    ]
    for sources, expected in cases:
        torch.testing.assert_close(distill_matrix([matrix(s) for s in sources]), matrix(expected), rtol=0, atol=1e-12)


@pytest.mark.parametrize(("n_out", "k", "m"), SHAPES)
def test_full_svd_is_the_recipe_where_a_thin_one_has_too_few_rows_of_lambda(n_out, k, m):
    """The issue's warning, made precise. A thin SVD's Λ is q x q, q = min(m·n_out, k) (torch returns its diagonal):
    where k < n_out it has k rows, so "the first n_out rows of Λ" does not exist; the full Λ (m·n_out x k) has them.
    Sliced past its end (torch clips slices), the thin product U[:n_out,:n_out]·Λ[:n_out]·Vᵀ still equals the full one,
    since by W₁·P both are Σ_{j<min(n_out,k)} σ_j U[:n_out,j] v_jᵀ (m·n_out >= n_out always, so q >= min(n_out, k));
    the function follows the full SVD, which is the recipe as written."""
    matrices = randoms(n_out, k, m)
    u, s, vh = torch.linalg.svd(torch.cat(matrices), full_matrices=False)
    thin_lambda = torch.diag(s)
    assert thin_lambda.shape[0] == min(m * n_out, k)
    if k < n_out:
        assert thin_lambda[:n_out].shape[0] < n_out  # the rows the recipe keeps are not there
    clipped = u[:n_out, :n_out] @ thin_lambda[:n_out] @ vh
    torch.testing.assert_close(clipped, full_svd_definition(matrices), rtol=0, atol=1e-10)
    torch.testing.assert_close(distill_matrix(matrices), full_svd_definition(matrices), rtol=0, atol=1e-10)


def test_the_unfolding_order_of_k_does_not_matter():
    """The paper unfolds TensorFlow's (h, w, n_in, n_out) weights, PyTorch's are (n_out, n_in, h, w)."""
    g = torch.Generator().manual_seed(3)
    convs = [torch.randn(4, 3, 3, 3, generator=g, dtype=torch.float64) for _ in range(2)]
    ours = distill_state_dicts([{"w": c} for c in convs])["w"]
    channels_last = [c.permute(0, 2, 3, 1) for c in convs]  # columns ordered (h, w, n_in)
    theirs = distill_state_dicts([{"w": c} for c in channels_last])["w"].permute(0, 3, 1, 2)
    torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-10)
    assert (ours - convs[0]).abs().max() > 1e-3  # k = 27 > n_out = 4: a genuine projection


def test_one_dimensional_tensors_are_averaged_integers_come_from_the_first_and_dtypes_are_kept():
    a = {"bn.weight": torch.tensor([1.0, 2.0]), "bn.running_var": torch.tensor([1.0, 3.0]),
         "bn.num_batches_tracked": torch.tensor(5), "scale": torch.tensor(1.0), "w": torch.randn(3, 5)}
    b = {"bn.weight": torch.tensor([3.0, 4.0]), "bn.running_var": torch.tensor([5.0, 7.0]),
         "bn.num_batches_tracked": torch.tensor(9), "scale": torch.tensor(4.0), "w": torch.randn(3, 5)}
    out = distill_state_dicts([a, b])
    assert distill_state_dicts([a, b], skip="bn").keys() == {"scale", "w"}  # a module's name, not its letters
    torch.testing.assert_close(out["bn.weight"], torch.tensor([2.0, 3.0]))
    torch.testing.assert_close(out["bn.running_var"], torch.tensor([3.0, 5.0]))
    torch.testing.assert_close(out["scale"], torch.tensor(2.5))
    assert out["bn.num_batches_tracked"].item() == 5 and out["bn.num_batches_tracked"].dtype == torch.int64
    assert out["w"].dtype == torch.float32
    torch.testing.assert_close(out["w"], distill_matrix([a["w"].double(), b["w"].double()]).float())


class Tiny(nn.Module):
    def __init__(self, classes: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.bn = nn.BatchNorm2d(4)
        self.fc = nn.Linear(4, classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(self.bn(self.conv(x)).mean(dim=(2, 3)))


def test_distill_loads_the_body_into_a_target_that_keeps_its_own_head_and_returns_the_order():
    torch.manual_seed(0)
    sources = {"ADP": Tiny(3), "CRC": Tiny(5)}  # different class counts: the heads cannot be combined
    target = Tiny(4)
    head = {key: value.clone() for key, value in target.fc.state_dict().items()}
    result = distill(sources, target)
    assert isinstance(result, Distilled) and result.model is target and result.order == ("ADP", "CRC")
    expected = distill_state_dicts([m.state_dict() for m in sources.values()], skip=("fc",))
    for key, value in expected.items():
        torch.testing.assert_close(target.state_dict()[key], value, rtol=0, atol=0)
    for key, value in head.items():
        torch.testing.assert_close(target.fc.state_dict()[key], value, rtol=0, atol=0)
    assert target(torch.randn(2, 3, 8, 8)).shape == (2, 4)
    swapped = distill({"CRC": sources["CRC"], "ADP": sources["ADP"]}, Tiny(4))
    assert swapped.order == ("CRC", "ADP")
    assert not torch.allclose(swapped.model.conv.weight, target.conv.weight)


def test_wrong_inputs_are_refused_in_one_sentence_naming_the_key():
    with pytest.raises(ParameterError, match="at least one source"):
        distill_matrix([])
    with pytest.raises(ParameterError, match="at least one source"):
        distill_state_dicts([])
    with pytest.raises(ParameterError, match="at least one source"):
        distill({}, Tiny(2))
    with pytest.raises(ParameterError, match=r"source 1 is \(3, 4\)"):
        distill_matrix([torch.zeros(3, 5), torch.zeros(3, 4)])
    with pytest.raises(ParameterError, match=r"source 0 is \(3,\)"):
        distill_matrix([torch.zeros(3)])
    a, b = Tiny(2).state_dict(), Tiny(2).state_dict()
    with pytest.raises(ParameterError, match="source 1 lacks 'bn.bias'"):
        distill_state_dicts([a, {k: v for k, v in b.items() if k != "bn.bias"}])
    with pytest.raises(ParameterError, match="source 1 has 'extra'"):
        distill_state_dicts([a, {**b, "extra": torch.zeros(1)}])
    with pytest.raises(ParameterError, match="'conv.weight' is"):
        distill_state_dicts([a, {**b, "conv.weight": torch.zeros(5, 3, 3, 3)}])
    with pytest.raises(ParameterError, match="'classifier'"):
        distill_state_dicts([a, b], skip=("classifier",))
    with pytest.raises(ParameterError, match="no head 'classifier'"):
        distill({"a": Tiny(2)}, Tiny(2), head="classifier")
    with pytest.raises(ParameterError, match="no head 'fc'"):
        distill({"a": Tiny(2)}, nn.Sequential())
    extra, lacking = Tiny(2), Tiny(2)
    extra.more = nn.Linear(1, 1)
    lacking.bn = nn.Identity()  # type: ignore[assignment]
    with pytest.raises(ParameterError, match="target has 'more.weight'"):
        distill({"a": Tiny(2)}, extra)
    with pytest.raises(ParameterError, match="target lacks 'bn.weight'"):
        distill({"a": Tiny(2)}, lacking)
    wide = Tiny(2)
    wide.conv = nn.Conv2d(3, 4, 5)
    with pytest.raises(ParameterError, match="target's 'conv.weight'"):
        distill({"a": Tiny(2)}, wide)
    with pytest.raises(ParameterError) as refused:
        distill_state_dicts([a, {**b, "bn.weight": torch.zeros(7)}])
    assert str(refused.value).count(". ") == 0 and str(refused.value).endswith(".")
