"""Task models trained on the shapes scenes (``camwidgets.data.scenes``), built with torchvision's
ordinary API on the pretrained ImageNet mobilenet_v2, so that their explanations can be checked
against exact ground truth.

* ``load_shapes_segmenter()``: torchvision's ``LRASPP`` head on mobilenet_v2's features (low level:
  ``features.6``, stride 8, 32 channels; high level: ``features.13``, stride 16, 96 channels). The
  backbone stays frozen at its ImageNet weights; only the head was trained (by
  ``bench/train_shapes_segmenter.py``) and ships. Input: an ImageNet-normalised (B, 3, H, W) batch;
  output ``{"out": (B, 5, H, W)}`` scores over ``SCENE_CLASSES``.
* ``load_shapes_detector()``: torchvision's ``FasterRCNN`` on mobilenet_v2's ``features`` up to
  stride 16 (``backbone.features.13``, 96 channels, frozen at ImageNet), one feature map, anchors
  of 32, 64 and 128 pixels, at most 100 proposals per image (scenes hold at most 4 objects); the RPN
  and the box head (a two-layer MLP of 128 units) were trained by ``bench/train_shapes_detector.py``. Input:
  images in [0, 1] (the model normalises them itself, torchvision's convention); output: per image
  ``{"boxes", "labels", "scores"}`` with labels in ``SCENE_CLASSES`` numbering.

* ``load_shapes_vit()``: torchvision's ``VisionTransformer`` (64 px input, 8 px patches: an 8 x 8
  token grid and a class token; 4 layers, 4 heads, width 96, MLP 192; the patches embedded by
  torchvision's convolutional stem, three 3 x 3 stride-2 convolutions of 24, 48, 96 channels, as in
  Xiao et al., "Early Convolutions Help Transformers See Better", 2021), trained from scratch on the
  one-shape images (``camwidgets.data.shapes``) by ``bench/train_shapes_vit.py``; the whole model
  ships. Input: ``shapes.normalise``d images; output ``(B, 4)`` scores over ``shapes.CLASSES``.
  Its token layers are explained without reshape code (``SHAPES_VIT_LAYER``).

The ImageNet weights come through ``torchvision.models.mobilenet_v2(weights="IMAGENET1K_V1")``
(offline from torch's hub cache after ``make install``; see ``camwidgets.pretrained``).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from .scenes import SCENE_CLASSES
from .shapes import CLASSES

__all__ = [
    "SEGMENTER_WEIGHTS", "SEGMENTER_LAYERS", "DETECTOR_WEIGHTS", "FROZEN", "build_shapes_segmenter", "build_shapes_detector",
    "load_shapes_segmenter", "load_shapes_detector", "trained_state", "VIT_WEIGHTS", "VIT_CONFIG", "VIT_STEM", "SHAPES_VIT_LAYER",
    "build_shapes_vit", "load_shapes_vit",
]  # fmt: skip

_DATA = Path(__file__).resolve().parent
#: The trained head of the segmenter (the ``classifier`` of LRASPP), float32.
SEGMENTER_WEIGHTS: Path = _DATA / "shapes_segmenter_head.pt"
#: The mobilenet_v2 stages the segmenter reads: ``{features index: LRASPP input name}``.
SEGMENTER_LAYERS: dict[str, str] = {"6": "low", "13": "high"}
#: The trained parts of the detector (all but ``backbone.features``), float32.
DETECTOR_WEIGHTS: Path = _DATA / "shapes_detector_heads.pt"
#: The shapes ViT, all of it, float32.
VIT_WEIGHTS: Path = _DATA / "shapes_vit.pt"
#: The ViT's size (torchvision ``VisionTransformer`` arguments).
VIT_CONFIG: dict[str, int] = {
    "image_size": 64,
    "patch_size": 8,
    "num_layers": 4,
    "num_heads": 4,
    "hidden_dim": 96,
    "mlp_dim": 192,
}
#: The ViT's convolutional stem: output channels of its stride-2 3 x 3 convolutions (8 px in all).
VIT_STEM: tuple[int, ...] = (24, 48, 96)
#: The suggested layer of the ViT: the last block's first LayerNorm (its tokens, before attention mixes them).
SHAPES_VIT_LAYER: str = "encoder.layers.encoder_layer_3.ln_1"
#: What of each task model stays at ImageNet weights (and does not ship).
FROZEN = {"segmenter": "backbone.", "detector": "backbone.features."}


def _mobilenet_features(pretrained: bool) -> nn.Module:
    from torchvision.models import mobilenet_v2

    return mobilenet_v2(weights="IMAGENET1K_V1" if pretrained else None).features


def build_shapes_segmenter(pretrained: bool = True) -> nn.Module:
    """The untrained segmenter: LRASPP over the (frozen) ImageNet mobilenet_v2 stages of
    ``SEGMENTER_LAYERS``, ``len(SCENE_CLASSES)`` outputs."""
    from torchvision.models._utils import IntermediateLayerGetter
    from torchvision.models.segmentation.lraspp import LRASPP

    backbone = IntermediateLayerGetter(_mobilenet_features(pretrained), return_layers=SEGMENTER_LAYERS)
    backbone.requires_grad_(False)
    return LRASPP(backbone, low_channels=32, high_channels=96, num_classes=len(SCENE_CLASSES), inter_channels=128)


def build_shapes_detector(pretrained: bool = True) -> nn.Module:
    """The untrained detector (see the module docstring): FasterRCNN over the frozen ImageNet
    mobilenet_v2 up to ``features.13``, at 224 px."""
    from collections import OrderedDict

    from torchvision.models.detection import FasterRCNN
    from torchvision.models.detection.anchor_utils import AnchorGenerator
    from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
    from torchvision.ops import MultiScaleRoIAlign

    features = _mobilenet_features(pretrained)[:14]
    features.requires_grad_(False)
    backbone = nn.Sequential(OrderedDict(features=features))
    backbone.out_channels = 96
    anchors = AnchorGenerator(sizes=((32, 64, 128),), aspect_ratios=((0.5, 1.0, 2.0),))
    pooler = MultiScaleRoIAlign(featmap_names=["0"], output_size=7, sampling_ratio=2)
    return FasterRCNN(
        backbone, rpn_anchor_generator=anchors, box_roi_pool=pooler, box_head=TwoMLPHead(96 * 7 * 7, 128),
        box_predictor=FastRCNNPredictor(128, len(SCENE_CLASSES)), min_size=224, max_size=224,
        rpn_pre_nms_top_n_train=600, rpn_post_nms_top_n_train=300, rpn_pre_nms_top_n_test=300, rpn_post_nms_top_n_test=100,
        box_batch_size_per_image=128, box_detections_per_img=20,
    )  # fmt: skip


def build_shapes_vit() -> nn.Module:
    """The shapes ViT, untrained (torchvision's initialisation)."""
    from torchvision.models.vision_transformer import ConvStemConfig, VisionTransformer

    stem = [ConvStemConfig(out_channels=channels, kernel_size=3, stride=2) for channels in VIT_STEM]
    return VisionTransformer(**VIT_CONFIG, num_classes=len(CLASSES), conv_stem_configs=stem)


def trained_state(model: nn.Module, frozen: str = "") -> dict[str, torch.Tensor]:
    """What ships of a model: its state without the entries under ``frozen`` (a name prefix), float32."""
    return {
        k: v.detach().float() if v.is_floating_point() else v
        for k, v in model.state_dict().items()
        if not (frozen and k.startswith(frozen))
    }


def _load_trained(model: nn.Module, path: Path, script: str, frozen: str = "") -> nn.Module:
    if not path.is_file():
        raise FileNotFoundError(f"no weights at {path}; train them with bench/{script}")
    state = torch.load(path, map_location="cpu", weights_only=True)
    missing, unexpected = model.load_state_dict(state, strict=False)
    trained_missing = [name for name in missing if not (frozen and name.startswith(frozen))]
    if trained_missing or unexpected:
        raise ValueError(
            f"{path} does not fit the model: missing {trained_missing[:3]}, unexpected {unexpected[:3]}; retrain with bench/{script}"
        )
    return model.eval()


def load_shapes_segmenter() -> tuple[nn.Module, list[str]]:
    """The trained segmenter in eval mode on the CPU, and its class names (``SCENE_CLASSES``)."""
    return _load_trained(
        build_shapes_segmenter(), SEGMENTER_WEIGHTS, "train_shapes_segmenter.py", FROZEN["segmenter"]
    ), list(SCENE_CLASSES)


def load_shapes_detector() -> tuple[nn.Module, list[str]]:
    """The trained detector in eval mode on the CPU, and its class names (``SCENE_CLASSES``; label 0
    is the background, never predicted)."""
    return _load_trained(
        build_shapes_detector(), DETECTOR_WEIGHTS, "train_shapes_detector.py", FROZEN["detector"]
    ), list(SCENE_CLASSES)


def load_shapes_vit() -> tuple[nn.Module, list[str]]:
    """The trained shapes ViT in eval mode on the CPU, and its class names (``shapes.CLASSES``)."""
    return _load_trained(build_shapes_vit(), VIT_WEIGHTS, "train_shapes_vit.py"), list(CLASSES)
