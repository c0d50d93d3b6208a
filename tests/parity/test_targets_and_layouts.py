"""Parity with grad-cam 1.5.7 for every target type and for non-CNN layouts: ViT tokens (grid and
class token inferred, no hard-coded size), Swin channels-last stages, a segmentation model with a
dict output (our output_selector vs the reference's wrapper module), and a detector's FPN dict.
Small seeded models keep it fast; no COCO or segmentation weights exist offline."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torchvision
from torch import nn

import camwidgets as cw
from tests.conftest import hook_count, seeded

TOLERANCE = 1e-4
pytestmark = pytest.mark.parity


def images(count: int, size: int, seed: int = 5) -> torch.Tensor:
    return torch.randn(count, 3, size, size, generator=torch.Generator().manual_seed(seed))


def assert_close_to_reference(ours: np.ndarray, theirs: np.ndarray) -> None:
    assert ours.shape == theirs.shape
    assert float(np.abs(ours - theirs).max()) <= TOLERANCE
    assert ours.max() > 0.5, "a meaningful (non-zero) map"


@pytest.fixture(scope="module")
def resnet():
    return seeded(torchvision.models.resnet18)


@pytest.mark.parametrize(
    "ours_target, reference_target",
    [
        ("ClassifierOutputSoftmaxTarget", "ClassifierOutputSoftmaxTarget"),
        ("ClassifierOutputReST", "ClassifierOutputReST"),
        ("ClassifierOutputTarget", "ClassifierOutputTarget"),
    ],
)
def test_classifier_targets(reference, resnet, ours_target, reference_target):
    from pytorch_grad_cam.utils import model_targets

    batch = images(2, 64)
    with torch.no_grad():
        classes = resnet(batch).argmax(dim=1).tolist()
    ours = cw.GradCAM(resnet, ["layer4.1"])(batch, [getattr(cw, ours_target)(c) for c in classes])
    theirs = reference.GradCAM(resnet, [resnet.layer4[-1]])(
        batch, [getattr(model_targets, reference_target)(c) for c in classes]
    )
    assert_close_to_reference(ours, theirs)


def test_binary_and_raw_score_targets(reference):
    from pytorch_grad_cam.utils import model_targets

    torch.manual_seed(0)
    net = torchvision.models.resnet18(num_classes=1).eval()
    batch = images(2, 64)
    for ours_target, theirs_target in [
        (
            [cw.BinaryClassifierOutputTarget(1), cw.BinaryClassifierOutputTarget(0)],
            [model_targets.BinaryClassifierOutputTarget(1), model_targets.BinaryClassifierOutputTarget(0)],
        ),
        ([cw.RawScoresOutputTarget()] * 2, [model_targets.RawScoresOutputTarget()] * 2),
    ]:
        ours = cw.GradCAM(net, ["layer4.1"])(batch, ours_target)
        theirs = reference.GradCAM(net, [net.layer4[-1]])(batch, theirs_target)
        assert_close_to_reference(ours, theirs)


def test_similarity_to_concept(reference, resnet):
    """Embedding model: explain what makes image 0 similar to image 1's embedding."""

    class ReferenceSimilarity:  # the reference's documented recipe for this target
        def __init__(self, features):
            self.features = features

        def __call__(self, output):
            return torch.nn.CosineSimilarity(dim=0)(output, self.features)

    embedder = seeded(torchvision.models.resnet18)
    embedder.fc = nn.Identity()
    batch = images(2, 64)
    with torch.no_grad():
        concept = embedder(batch[1:2])[0]
    ours = cw.GradCAM(embedder, ["layer4.1"])(batch[:1], [cw.SimilarityToConceptTarget(concept)])
    theirs = reference.GradCAM(embedder, [embedder.layer4[-1]])(batch[:1], [ReferenceSimilarity(concept)])
    assert_close_to_reference(ours, theirs)


def tiny_vit() -> nn.Module:
    from torchvision.models.vision_transformer import VisionTransformer

    torch.manual_seed(0)
    model = VisionTransformer(
        image_size=32, patch_size=8, num_layers=2, num_heads=2, hidden_dim=16, mlp_dim=32, num_classes=10
    )
    nn.init.normal_(model.heads.head.weight, std=0.5)  # torchvision zero-initialises the head
    return model.eval()


@pytest.mark.parametrize("method", ["GradCAM", "GradCAMPlusPlus", "LayerCAM", "EigenCAM"])
def test_vit_tokens(reference, method):
    model = tiny_vit()
    layer = "encoder.layers.encoder_layer_1.ln_1"
    batch = images(2, 32)
    theirs = getattr(reference, method)(
        model,
        [dict(model.named_modules())[layer]],
        reshape_transform=lambda t: t[:, 1:, :].reshape(t.size(0), 4, 4, t.size(2)).permute(0, 3, 1, 2),
    )(batch, None)
    automatic = getattr(cw, method)(model, [layer])(batch)
    explicit = getattr(cw, method)(model, [layer], reshape_transform=cw.vit_reshape_transform)(batch)
    assert_close_to_reference(automatic, theirs)
    np.testing.assert_array_equal(automatic, explicit)
    assert cw.suggest_target_layer(model, batch) == layer


def test_vit_with_register_tokens_on_a_non_square_image():
    """1 class + 4 register tokens before a 3 x 5 grid: the grid and prefix come from the image size."""
    from camwidgets.engine.reshape import infer_token_grid, to_spatial

    assert infer_token_grid(5 + 15, (24, 40)) == (5, 3, 5)
    assert infer_token_grid(197) == (1, 14, 14)
    tokens = torch.arange(2 * 20 * 6, dtype=torch.float32).reshape(2, 20, 6)
    grid = to_spatial(tokens, None, (24, 40))
    assert grid.shape == (2, 6, 3, 5)
    torch.testing.assert_close(grid[:, :, 0, 0], tokens[:, 5, :])
    with pytest.raises(ValueError, match="cannot read 1000 tokens"):
        infer_token_grid(1000, (224, 224))  # 984..1000 patches: no square grid


def tiny_swin() -> nn.Module:
    from torchvision.models.swin_transformer import SwinTransformer

    torch.manual_seed(0)
    return SwinTransformer(
        patch_size=[4, 4], embed_dim=16, depths=[2, 2], num_heads=[2, 2], window_size=[2, 2], num_classes=10
    ).eval()


def test_swin_channels_last(reference):
    model = tiny_swin()
    batch = images(2, 32)
    theirs = reference.GradCAM(model, [model.features[-1]], reshape_transform=lambda t: t.permute(0, 3, 1, 2))(
        batch, None
    )
    ours = cw.GradCAM(model, ["features.3"], reshape_transform=cw.swin_reshape_transform)(batch)
    assert_close_to_reference(ours, theirs)
    # torchvision's Swin permutes to NCHW before pooling: that layer needs no reshape and is suggested
    assert cw.suggest_target_layer(model, batch) == "permute"
    np.testing.assert_allclose(
        cw.GradCAM(model, ["permute"])(batch),
        cw.GradCAM(model, ["norm"], reshape_transform=cw.swin_reshape_transform)(batch),
        atol=1e-5,
    )


def test_segmentation_dict_output(reference):
    model = seeded(
        torchvision.models.segmentation.deeplabv3_mobilenet_v3_large,
        weights=None,
        weights_backbone=None,
        num_classes=3,
        aux_loss=False,
    )
    batch = images(1, 64)
    with torch.no_grad():
        prediction = model(batch)["out"][0].argmax(0)
    mask = (prediction == 1).numpy().astype(np.float32)
    if mask.sum() == 0:
        mask[:32] = 1.0

    class OutWrapper(nn.Module):  # what the reference needs for dict outputs
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, x):
            return self.inner(x)["out"]

    from pytorch_grad_cam.utils.model_targets import SemanticSegmentationTarget as ReferenceTarget

    layer = model.backbone["16"]
    theirs = reference.GradCAM(OutWrapper(model), [layer])(batch, [ReferenceTarget(1, mask)])
    ours = cw.GradCAM(model, ["backbone.16"], output_selector="out")(batch, [cw.SemanticSegmentationTarget(1, mask)])
    assert_close_to_reference(ours, theirs)
    with pytest.warns(UserWarning, match=r"holds its scores in output\['out'\]; explaining those"):
        unselected = cw.GradCAM(model, ["backbone.16"])(batch, [cw.SemanticSegmentationTarget(1, mask)])
    np.testing.assert_array_equal(unselected, ours)  # a dict with 'out' is unambiguous


@pytest.mark.slow
def test_detector_fpn_dict(reference):
    model = seeded(
        torchvision.models.detection.fasterrcnn_mobilenet_v3_large_320_fpn,
        weights=None,
        weights_backbone=None,
        num_classes=5,
        box_score_thresh=0.0,
    )
    batch = images(1, 96)
    with torch.no_grad():
        detections = model(batch)[0]
    assert len(detections["boxes"]) > 0
    boxes, labels = detections["boxes"][:3].numpy(), detections["labels"][:3].tolist()
    from pytorch_grad_cam.utils.model_targets import FasterRCNNBoxScoreTarget as ReferenceTarget
    from pytorch_grad_cam.utils.reshape_transforms import fasterrcnn_reshape_transform as reference_reshape

    theirs = reference.EigenCAM(model, [model.backbone], reshape_transform=reference_reshape)(
        batch, [ReferenceTarget(labels, boxes)]
    )
    ours = cw.EigenCAM(model, ["backbone"], reshape_transform=cw.fasterrcnn_reshape_transform)(
        batch, [cw.FasterRCNNBoxScoreTarget(labels, boxes)]
    )
    assert_close_to_reference(ours, theirs)
    # gradients through the FPN dict, which the reference cannot follow (its hooks skip dicts)
    graded = cw.GradCAM(model, ["backbone"], reshape_transform=cw.fasterrcnn_reshape_transform)(
        batch, [cw.FasterRCNNBoxScoreTarget(labels, boxes)]
    )
    assert np.isfinite(graded).all() and graded.max() > 0.5
    assert hook_count(model) == 0
