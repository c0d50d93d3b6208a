"""LeGrad: parity with torchcam 0.5.0's ``torchcam.methods.LeGrad`` on torchvision's ``VisionTransformer``.

torchcam returns each image's map on the patch grid, min-max normalised; ours is at the input's size.
Its grid map, resized with our ``upsample`` (bilinear, half-pixel centres) and normalised per image,
equals ours within 1e-4. torchvision starts a ViT's head at zero (no gradient survives it), so the
head is drawn at random; the weights are otherwise torchvision's initialisation, batch of 3.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

import camwidgets as cw
from camwidgets.engine.maps import normalise_per_image, upsample
from tests.conftest import hook_count

torchcam_methods = pytest.importorskip("torchcam.methods")

TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def vit_b_16() -> nn.Module:
    from torchvision.models import vit_b_16

    torch.manual_seed(0)
    model = vit_b_16().eval()
    nn.init.normal_(model.heads.head.weight, std=0.02)
    return model


@pytest.mark.parity
@pytest.mark.slow
@pytest.mark.parametrize("blocks", [1, 4])
def test_legrad_equals_torchcams_on_torchvision_vit(vit_b_16, blocks):
    x = torch.randn(3, 3, 224, 224, generator=torch.Generator().manual_seed(blocks))
    classes = [3, 500, 999]
    layers = list(vit_b_16.encoder.layers)[-blocks:]
    with torchcam_methods.LeGrad(vit_b_16, layers) as extractor:
        theirs = extractor(classes, vit_b_16(x))[0]
    assert hook_count(vit_b_16) == 0
    theirs = normalise_per_image(upsample(theirs, (224, 224)))
    ours = torch.from_numpy(cw.LeGrad(vit_b_16, layers)(x, [cw.ClassifierOutputTarget(c) for c in classes]))
    assert (ours - theirs).abs().max() <= TOLERANCE
    assert ours.std() > 0.05  # a map, not zeros on both sides
    assert hook_count(vit_b_16) == 0
