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
    clip = torch.randn(1, 3, 16, 64, 64, generator=torch.Generator().manual_seed(1))
    suggestion = suggest_layer(model, clip)
    assert suggestion.name == "layer4.1", (
        suggestion
    )  # layer4.1.conv2 returns the tensor the block then adds the residual to, in place
    block = cw.GradCAM(model, ["layer4.1"])(clip)
    inner = cw.GradCAM(model, ["layer4.1.conv2"])(clip)
    assert not torch.allclose(
        torch.as_tensor(block), torch.as_tensor(inner), atol=1e-3
    )  # the names give different maps
    assert hook_count(model) == 0


class Subtracting(torch.nn.Module):
    """conv -> ReLU -> conv -> ReLU -> mean -> linear with negative weights: every score falls as the
    last layer's (non-negative) activations rise, so GradCAM there is all zero."""

    def __init__(self) -> None:
        super().__init__()
        self.first = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU())
        self.last = torch.nn.Sequential(torch.nn.Conv2d(8, 8, 3, padding=1), torch.nn.ReLU())
        self.fc = torch.nn.Linear(8, 3)
        with torch.no_grad():
            self.fc.weight.copy_(-self.fc.weight.abs() - 0.1)

    def forward(self, x):
        return self.fc(self.last(self.first(x)).mean(dim=(2, 3)))


def test_a_layer_whose_gradcam_is_all_zero_is_passed_over_and_the_reason_says_so():
    torch.manual_seed(0)
    model = Subtracting().eval()
    x = torch.rand(1, 3, 24, 24, generator=torch.Generator().manual_seed(3))
    assert not cw.GradCAM(model, ["last"])(x).any()  # the last layer's map is blank
    suggestion = suggest_layer(model, x)
    assert suggestion.name not in ("last", "last.1") and "the later 'last' gives an all-zero map" in suggestion.reason
    assert cw.GradCAM(model, [suggestion.name])(x).any()
    assert hook_count(model) == 0


def test_token_models_get_the_last_norm_whose_patch_tokens_reach_the_score():
    import timm

    x = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    found = {}
    for pool in ("token", "avg"):
        torch.manual_seed(0)
        model = timm.create_model(
            "vit_tiny_patch16_224",
            pretrained=False,
            img_size=32,
            patch_size=8,
            depth=2,
            embed_dim=48,
            num_heads=2,
            num_classes=5,
            global_pool=pool,
        ).eval()
        found[pool] = suggest_layer(model, x).name
        assert hook_count(model) == 0
    assert found == {"token": "blocks.1.norm1", "avg": "blocks.1.norm2"}  # as the README says, and why
