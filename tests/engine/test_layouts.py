"""One layout vocabulary: every output is NCHW, NHWC or NLC (or nothing to explain), and the CAM
classes lay channels-last stages out by themselves, as the explorer does."""

from __future__ import annotations

import numpy as np
import torch

import camwidgets as cw
from camwidgets.engine.reshape import Layout, layout_of


def test_layouts_of_grids_channels_last_tokens_and_pooled_outputs():
    image = (224, 224)
    assert layout_of(torch.zeros(2, 64, 56, 56), image) is Layout.NCHW
    assert layout_of(torch.zeros(2, 7, 7, 768), image) is Layout.NHWC
    assert layout_of(torch.zeros(2, 197, 768), image) is Layout.NLC  # a class token and 14 x 14 patches
    assert layout_of(torch.zeros(2, 56, 56, 56), image) is Layout.NCHW  # ambiguous: channels first
    assert layout_of(torch.zeros(2, 512, 1, 1), image) is None and layout_of(torch.zeros(2, 1000), image) is None
    assert layout_of(torch.zeros(2, 3, 7, 7, dtype=torch.long), image) is None


def test_cam_classes_lay_a_swin_stage_out_without_a_reshape_transform():
    from torchvision.models.swin_transformer import SwinTransformer

    torch.manual_seed(0)
    model = SwinTransformer(
        patch_size=[4, 4], embed_dim=16, depths=[1, 1], num_heads=[1, 2], window_size=[2, 2], num_classes=3
    ).eval()
    torch.nn.init.normal_(model.head.weight)
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    for cam_class in (cw.GradCAM, cw.EigenCAM, cw.LayerCAM):
        plain = cam_class(model, ["features.1"])(x)
        explicit = cam_class(model, ["features.1"], reshape_transform=cw.swin_reshape_transform)(x)
        np.testing.assert_allclose(plain, explicit, atol=1e-6)
        assert plain.std() > 0.01  # a map, not stripes of one value
