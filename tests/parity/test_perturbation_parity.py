"""Parity with grad-cam 1.5.7 for ScoreCAM and AblationCAM: max |ours - reference| <= 1e-4 on maps
normalised to [0, 1].

Cases: seeded resnet18 at 64 px with batch 2 and explicit targets or batch 1 and the top class, at a
block output (ReLU, ablation to 0; the layers before it are skipped), inside a residual block
(negative values, the reference's running-minimum ablation value; full forwards since a skip
connection jumps over the layer), with ``ratio_channels_to_ablate`` and with ``eigen_smooth``; and the
pretrained mobilenet_v2 on the bundled photos at 224 px (one photo for ScoreCAM, two for AblationCAM),
at inverted-residual blocks with 64 and 96 channels (the 1280-channel last layer costs the reference
over a thousand forwards per image).

``ratio_channels_to_ablate`` below 1 picks channels by a score with many exact ties on small maps;
ours breaks them with numpy's sort, as the reference does, so the same channels are ablated.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torchvision
from torch import nn

import camwidgets as cw
from tests.conftest import seeded

TOLERANCE = 1e-4


def compare(
    reference, class_name: str, model, layer_names, batch, targets=None, eigen_smooth=False, **parameters
) -> float:
    """Max |ours - reference| for the same model, layers, batch, targets and method parameters."""
    modules = dict(model.named_modules())
    ours = getattr(cw, class_name)(model, layer_names, progress=False, **parameters)(
        batch, targets, eigen_smooth=eigen_smooth
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if class_name == "AblationCAM":
            theirs_cam = reference.AblationCAM(model, [modules[name] for name in layer_names], **parameters)
        else:
            theirs_cam = getattr(reference, class_name)(model, [modules[name] for name in layer_names])
            for name, value in parameters.items():
                setattr(theirs_cam, name, value)
        theirs = theirs_cam(batch, targets, eigen_smooth=eigen_smooth)
    assert ours.shape == theirs.shape
    return float(np.abs(ours - theirs).max())


@pytest.fixture(scope="module")
def resnet():
    return seeded(torchvision.models.resnet18)


@pytest.fixture(scope="module")
def small_images():
    return torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))


RESNET_CASES = {
    # id: (method, layer, batch size, explicit targets, eigen_smooth, parameters)
    "score-block-b2": ("ScoreCAM", "layer2.1", 2, True, False, {"batch_size": 64}),
    "score-conv-b1-eigen": ("ScoreCAM", "layer2.0.conv1", 1, False, True, {"batch_size": 64}),
    "ablation-block-b2": ("AblationCAM", "layer4.1", 2, True, False, {}),
    "ablation-in-residual-b2": ("AblationCAM", "layer3.1.conv2", 2, True, False, {"batch_size": 24}),
    "ablation-ratio-b1": ("AblationCAM", "layer4.1", 1, False, False, {"ratio_channels_to_ablate": 0.25}),
    "ablation-ratio-in-residual-b2": (
        "AblationCAM",
        "layer3.1.conv2",
        2,
        True,
        False,
        {"ratio_channels_to_ablate": 0.4},
    ),
    "ablation-block-b1-eigen": ("AblationCAM", "layer3.1", 1, False, True, {}),
}


@pytest.mark.parametrize("case", list(RESNET_CASES))
def test_resnet18_matches_reference(case, reference, resnet, small_images):
    method, layer, batch_size, explicit, eigen_smooth, parameters = RESNET_CASES[case]
    batch = small_images[:batch_size]
    targets = [cw.ClassifierOutputTarget(c) for c in (3, 917)[:batch_size]] if explicit else None
    assert compare(reference, method, resnet, [layer], batch, targets, eigen_smooth, **parameters) <= TOLERANCE


@pytest.mark.parametrize("method, layer", [("ScoreCAM", "features.10"), ("AblationCAM", "features.13")])
def test_pretrained_mobilenet_on_photos_matches_reference(method, layer, reference, pretrained_mobilenet, photo_batch):
    model, _ = pretrained_mobilenet
    batch = photo_batch[:1] if method == "ScoreCAM" else photo_batch[:2]
    targets = [cw.ClassifierOutputTarget(int(c)) for c in model(batch).argmax(dim=1)]
    parameters = {"batch_size": 64} if method == "ScoreCAM" else {}
    assert compare(reference, method, model, [layer], batch, targets, **parameters) <= TOLERANCE


class TinyTokens(nn.Module):
    """Patch embedding, a class token, a token-wise block (the target, (B, 1 + 16, 12) tokens) and a
    head on the class token after one mixing step: a ViT in miniature."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Conv2d(3, 12, 8, stride=8)
        self.class_token = nn.Parameter(torch.randn(1, 1, 12))
        self.block = nn.Sequential(nn.Linear(12, 12), nn.GELU())
        self.mix = nn.Linear(17, 17)
        self.head = nn.Linear(12, 5)

    def forward(self, x):
        tokens = self.embed(x).flatten(2).transpose(1, 2)
        tokens = torch.cat([self.class_token.expand(len(x), -1, -1), tokens], dim=1)
        tokens = self.block(tokens)
        return self.head(self.mix(tokens.transpose(1, 2)).transpose(1, 2)[:, 0])


def test_token_layer_with_the_vit_ablation_layer_matches_reference(reference):
    """AblationLayerVit ablates the last (channel) axis of (B, N, C) tokens; GELU leaves negative
    values, so the reference's running-minimum ablation value is used."""
    model, batch = seeded(TinyTokens), torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(4))
    targets = [cw.ClassifierOutputTarget(1), cw.ClassifierOutputTarget(4)]
    ours = cw.AblationCAM(
        model, ["block"], cw.vit_reshape_transform, ablation_layer=cw.AblationLayerVit(), batch_size=5, progress=False
    )(batch, targets)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        layer = reference.ablation_layer.AblationLayerVit()
        theirs = reference.AblationCAM(
            model, [model.block], _reference_vit_reshape, ablation_layer=layer, batch_size=5
        )(batch, targets)
    assert np.abs(ours - theirs).max() <= TOLERANCE


def _reference_vit_reshape(tensor):
    """The reference's documented ViT transform for a 4x4 grid after one class token."""
    return tensor[:, 1:, :].reshape(tensor.size(0), 4, 4, tensor.size(2)).permute(0, 3, 1, 2)
