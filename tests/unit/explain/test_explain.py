import numpy as np
import torch
from torch import nn

from cpath_repro.explain.actmax import first_layer_colours, maximize_output_pixel
from cpath_repro.explain.attribution import mass_radius, relu_gate_mask, smoothgrad_pixel


def test_mass_radius_of_known_distributions():
    grad = np.zeros((1, 21, 21))
    grad[0, 10, 15] = 1.0
    assert mass_radius(grad, 10, 10) == 5.0
    grad[0, 10, 10] = 9.0  # 90 % of the mass at the centre
    assert mass_radius(grad, 10, 10) == 0.0


def test_smoothgrad_of_a_3x3_conv_stays_in_its_receptive_field():
    torch.manual_seed(0)
    model = nn.Conv2d(3, 2, 3, padding=1)
    grad = smoothgrad_pixel(model, torch.rand(3, 16, 16), cls=1, row=8, col=8, samples=4)
    assert grad.shape == (3, 16, 16)
    support = np.argwhere(np.abs(grad).sum(0) > 0)
    assert support.min(0).tolist() == [7, 7] and support.max(0).tolist() == [9, 9]
    assert mass_radius(grad, 8, 8) <= np.sqrt(2) + 1e-9
    gated, keep = relu_gate_mask(grad)
    assert (gated >= 0).all() and keep.sum() <= 9


def test_first_layer_colours_flags_a_brightness_filter_as_glass():
    conv = nn.Conv2d(3, 2, 1)
    with torch.no_grad():
        conv.weight[0, :, 0, 0] = torch.tensor([1.0, 1.0, 1.0])  # likes light: glass
        conv.weight[1, :, 0, 0] = torch.tensor([1.0, -1.0, -1.0])  # likes red light, absorbing green and blue
        conv.bias.zero_()
    bn = nn.BatchNorm2d(2).eval()
    found = first_layer_colours(conv, bn, steps=200)
    assert found.glass.tolist() == [True, False]
    od = found.od[1]
    assert od[1] > od[0] and od[2] > od[0]  # its colour absorbs green and blue, i.e. a red stain


def test_maximize_output_pixel_raises_the_score():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 3, 3, padding=1))
    image = maximize_output_pixel(model, cls=2, size=9, steps=60)
    assert image.shape == (9, 9, 3) and 0 <= image.min() and image.max() <= 1
    before = model(torch.full((1, 3, 9, 9), 0.5))[0, 2, 4, 4]
    after = model(torch.from_numpy(image).permute(2, 0, 1)[None])[0, 2, 4, 4]
    assert after > before


def test_maximize_class_raises_the_class_logit_and_stays_in_range():
    from cpath_repro.explain.actmax import maximize_class

    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 3))
    image = maximize_class(model, cls=1, shape=(1, 8, 8), steps=80)
    assert image.shape == (1, 8, 8) and 0 <= image.min() and image.max() <= 1
    assert model(torch.from_numpy(image)[None])[0, 1] > model(torch.full((1, 1, 8, 8), 0.5))[0, 1]


def test_mass_inside_by_hand():
    from cpath_repro.explain.attribution import mass_inside

    attribution = np.array([[3.0, 1.0], [-5.0, 0.0]])  # negative evidence is not mass
    mask = np.array([[True, False], [True, False]])
    assert mass_inside(attribution, mask) == 0.75
    assert mass_inside(attribution[None], mask) == 0.75  # a channel axis is summed
    assert mass_inside(np.zeros((2, 2)), mask) == 0.0
