import torch
from torch import nn

from cpath_repro.models.unet import CD_FILTERS, CDUNet, UNet, build


def test_cd_segment_is_two_1x1_convs_each_followed_by_batch_norm_then_relu():
    cd = CDUNet(4, base=4, depth=2).cd
    kinds = [type(m) for m in cd]
    assert kinds == [nn.Conv2d, nn.BatchNorm2d, nn.ReLU] * 2
    assert [m.out_channels for m in cd if isinstance(m, nn.Conv2d)] == list(CD_FILTERS) == [6, 3]
    assert all(m.kernel_size == (1, 1) for m in cd if isinstance(m, nn.Conv2d))


def test_unet_keeps_the_input_size_and_has_batch_norm_after_every_conv():
    net = UNet(3, 4, base=4, depth=3)
    assert net(torch.rand(2, 3, 64, 64)).shape == (2, 4, 64, 64)
    modules = list(net.modules())
    for i, m in enumerate(modules):
        if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3):
            assert isinstance(modules[i + 1], nn.BatchNorm2d)
            assert m.padding == (1, 1)


def test_paper_width_is_half_the_original():
    net = build("unet", 4, 32, 4)
    assert net.down[0][0].out_channels == 32 and net.down[-1][0].out_channels == 512
