"""The layer suggestion names the module whose output it explains: a block whose in-place residual
add changed its last layer's output is named, not that layer."""

from __future__ import annotations

import torch
import torchvision

import camwidgets as cw
from camwidgets.engine.suggest import suggest_layer
from tests.conftest import hook_count


def test_a_video_resnet_gets_its_last_block_not_the_conv_inside_it():
    torch.manual_seed(0)
    model = torchvision.models.video.r3d_18(weights=None, num_classes=4).eval()
    clip = torch.randn(1, 3, 4, 32, 32, generator=torch.Generator().manual_seed(1))
    suggestion = suggest_layer(model, clip)
    assert suggestion.name == "layer4.1", suggestion  # layer4.1.conv2 returns the tensor the block then adds the residual to, in place
    block = cw.GradCAM(model, ["layer4.1"])(clip)
    inner = cw.GradCAM(model, ["layer4.1.conv2"])(clip)
    assert not torch.allclose(torch.as_tensor(block), torch.as_tensor(inner), atol=1e-3)  # the names give different maps
    assert hook_count(model) == 0
