"""Models users load, built offline with seeded random weights and small configs: torchvision's
classifiers, detectors and segmenters, timm, Hugging Face transformers and ultralytics YOLOv8 and YOLO11.

Each ``ZooCase`` says which layer the suggestion must pick, in which layout, and the explicit call a
pytorch-grad-cam user would write for it (layer plus reshape transform), which the suggested call
must equal. No pretrained weights exist offline for these; layouts and code paths do not need them.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
import torchvision
from torch import nn

import camwidgets as cw
from camwidgets.engine.reshape import tokens_to_grid

tv = torchvision.models


@dataclass(frozen=True)
class ZooCase:
    """``build()`` -> model in eval mode; ``layer`` and ``layout``: what the suggestion must give;
    ``explicit``: (module path as the user writes it, reshape transform) of the equivalent explicit
    call; ``targets(model, x)``: targets for GradCAM (None: the top class); ``size``: input side."""

    build: Callable[[], nn.Module]
    layer: str
    layout: str
    explicit: tuple[Callable[[nn.Module], nn.Module], Any] = (None, None)  # type: ignore[assignment]
    targets: Callable[[nn.Module, torch.Tensor], Any] = lambda model, x: None
    size: int = 224
    shape: tuple[int, ...] | None = None  # one input's (C, *axes) when it is not a (3, size, size) image
    task: str = "classification"
    slow: bool = False
    marks: tuple = field(default_factory=tuple)


def seeded(factory: Callable[..., nn.Module], *args: Any, **kwargs: Any) -> nn.Module:
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return factory(*args, **kwargs).eval()


def sample_shape(case: ZooCase) -> tuple[int, ...]:
    """One input's shape (C, *axes)."""
    return case.shape or (3, case.size, case.size)


def sample(case: ZooCase, batch: int = 1, seed: int = 3) -> torch.Tensor:
    return torch.randn(batch, *sample_shape(case), generator=torch.Generator().manual_seed(seed))


def calibrate_batchnorm(module: nn.Module, size: int | tuple[int, ...]) -> None:
    """Set every BatchNorm's running statistics from one forward of random images: at random
    initialisation some networks' activations otherwise shrink to 1e-9 within a few stages (in eval
    mode BN divides by its initial unit variance), and their maps are lost in the normalisation's epsilon."""
    norms = [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # a plain average
        norm.train()
    with torch.no_grad():
        shape = (3, size, size) if isinstance(size, int) else size
        module(torch.randn(4, *shape, generator=torch.Generator().manual_seed(7)))
    for norm in norms:
        norm.eval()


def small_vit() -> nn.Module:
    model = seeded(tv.VisionTransformer, 224, 16, 2, 2, 64, 128, num_classes=10)
    nn.init.normal_(model.heads.head.weight, std=0.1)  # torchvision zero-initialises the head: no gradient at all
    return model


def timm_model(name: str, **kwargs: Any) -> Callable[[], nn.Module]:
    def build() -> nn.Module:
        import timm

        return seeded(timm.create_model, name, pretrained=False, **kwargs)

    return build


def hugging_face(kind: str) -> Callable[[], nn.Module]:
    def build() -> nn.Module:
        import transformers as hf

        configs = {
            "vit": (
                hf.ViTConfig,
                hf.ViTForImageClassification,
                dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=2, intermediate_size=128),
            ),
            "swin": (
                hf.SwinConfig,
                hf.SwinForImageClassification,
                dict(embed_dim=24, depths=[1, 1, 1, 1], num_heads=[1, 1, 2, 2]),
            ),
            "convnext": (
                hf.ConvNextConfig,
                hf.ConvNextForImageClassification,
                dict(hidden_sizes=[16, 32, 48, 64], depths=[1, 1, 1, 1]),
            ),
            "resnet": (
                hf.ResNetConfig,
                hf.ResNetForImageClassification,
                dict(embedding_size=16, hidden_sizes=[16, 32, 48, 64], depths=[1, 1, 1, 1]),
            ),
        }
        config, model, options = configs[kind]
        return seeded(model, config(num_labels=10, **options))

    return build


def yolov8() -> nn.Module:
    from ultralytics.nn.tasks import DetectionModel

    model = seeded(DetectionModel, "yolov8n.yaml", verbose=False)
    calibrate_batchnorm(model, 224)
    return model


def yolo11() -> nn.Module:
    from ultralytics.nn.tasks import DetectionModel

    model = seeded(DetectionModel, "yolo11n.yaml", verbose=False)
    calibrate_batchnorm(model, 224)
    return model


def yolov8_seg() -> nn.Module:
    from ultralytics.nn.tasks import SegmentationModel

    model = seeded(SegmentationModel, "yolov8n-seg.yaml", verbose=False)
    calibrate_batchnorm(model, 224)
    return model


#: A small RT-DETR (ultralytics' RTDETRDecoder over three levels of a small backbone): hidden 32, 30 queries, one decoder layer.
RT_DETR = {"nc": 5, "backbone": [
    [-1, 1, "Conv", [16, 3, 2]], [-1, 1, "Conv", [32, 3, 2]], [-1, 1, "C2f", [32]],
    [-1, 1, "Conv", [64, 3, 2]], [-1, 1, "C2f", [64]], [-1, 1, "Conv", [64, 3, 2]], [-1, 1, "C2f", [64]],
    [-1, 1, "Conv", [64, 3, 2]], [-1, 1, "C2f", [64]],
], "head": [[[4, 6, 8], 1, "RTDETRDecoder", ["nc", 32, 30, 2, 2, 1, 64]]]}  # fmt: skip


def rt_detr() -> nn.Module:
    from ultralytics.nn.tasks import RTDETRDetectionModel

    model = seeded(RTDETRDetectionModel, RT_DETR, verbose=False)
    calibrate_batchnorm(model, 224)
    return model


def hf_detr(queries: int = 100) -> nn.Module:
    """Hugging Face DETR on a small ResNet backbone (no timm, no pretrained backbone), 5 classes."""
    import transformers as hf

    backbone = hf.ResNetConfig(
        embedding_size=16, hidden_sizes=[16, 32, 48, 64], depths=[1, 1, 1, 1], out_features=["stage4"]
    )
    config = hf.DetrConfig(use_timm_backbone=False, use_pretrained_backbone=False, backbone_config=backbone, d_model=32, encoder_layers=1,
                           decoder_layers=1, encoder_ffn_dim=64, decoder_ffn_dim=64, num_attention_heads=2, num_queries=queries, num_labels=5)  # fmt: skip
    model = seeded(hf.DetrForObjectDetection, config)
    with torch.no_grad():
        torch.manual_seed(1)
        for (
            name,
            parameter,
        ) in model.named_parameters():  # distinct queries: at DETR's initialisation they attend alike and score alike
            if (
                name.startswith(("model.query_position_embeddings", "model.decoder", "class_labels_classifier"))
                and parameter.ndim == 2
            ):
                nn.init.normal_(parameter, std=1.0 if "query" in name else 0.5)
        model(torch.zeros(1, 3, 64, 64))  # transformers adds its own output-recording hooks at the first forward
    return model


def hf_dinov2_registers() -> nn.Module:
    """A Hugging Face DINOv2 with 4 registers, as a backbone (its output has no logits)."""
    import transformers as hf

    config = hf.Dinov2WithRegistersConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                                          num_register_tokens=4, image_size=224, patch_size=14)  # fmt: skip
    model = seeded(hf.Dinov2WithRegistersModel, config)
    with torch.no_grad():
        model(torch.zeros(1, 3, 224, 224))
    return model


class ClipWrapper(nn.Module):
    """A CLIP model with fixed prompts, as the reference's CLIP tutorial wraps one: image in, the
    image's similarity to each prompt out."""

    def __init__(self, clip: nn.Module, input_ids: torch.Tensor) -> None:
        super().__init__()
        self.clip, self.input_ids = clip, input_ids

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.clip(pixel_values=x, input_ids=self.input_ids).logits_per_image


def clip_wrapper() -> nn.Module:
    import transformers as hf

    tower = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2)
    config = hf.CLIPConfig(
        text_config=dict(tower, vocab_size=100, max_position_embeddings=16, bos_token_id=0, eos_token_id=1),
        vision_config=dict(tower, image_size=224, patch_size=28),
        projection_dim=16,
    )
    clip = seeded(hf.CLIPModel, config)
    model = ClipWrapper(clip, torch.randint(1, 100, (3, 8), generator=torch.Generator().manual_seed(1))).eval()
    with torch.no_grad():
        model(torch.zeros(1, 3, 224, 224))
    return model


def levit() -> nn.Module:
    import timm

    model = seeded(timm.create_model, "levit_128s", pretrained=False)
    calibrate_batchnorm(model, 224)
    return model


def hiera() -> nn.Module:
    import timm

    model = seeded(timm.create_model, "hiera_tiny_224", pretrained=False, num_classes=10)
    nn.init.normal_(model.head.fc.weight, std=0.1)  # timm zero-initialises Hiera's head
    return model


def segformer() -> nn.Module:
    import transformers as hf

    config = hf.SegformerConfig(
        num_labels=4,
        hidden_sizes=[16, 32, 48, 64],
        depths=[1, 1, 1, 1],
        num_attention_heads=[1, 1, 2, 2],
        decoder_hidden_size=32,
    )
    model = seeded(hf.SegformerForSemanticSegmentation, config)
    with torch.no_grad():
        model(torch.zeros(1, 3, 64, 64))  # transformers adds its own output-recording hooks at the first forward
    return model


def segment_quarter(model: nn.Module, x: torch.Tensor) -> list:
    """Class 1 everywhere on a segmenter whose scores are at a quarter of the input (Segformer)."""
    return [cw.SemanticSegmentationTarget(1, torch.ones(x.shape[2] // 4, x.shape[3] // 4))] * x.shape[0]


def ssdlite() -> nn.Module:
    model = seeded(tv.detection.ssdlite320_mobilenet_v3_large, **DETECTOR)
    calibrate_batchnorm(model.backbone, 320)
    return model


def detection_scores(model: nn.Module, x: torch.Tensor) -> list:
    """Every detection's score, summed (random heads score everything low, so no threshold)."""
    return [lambda output: output["scores"].sum()] * x.shape[0]


def segment_everything(model: nn.Module, x: torch.Tensor) -> list:
    return [cw.SemanticSegmentationTarget(1, torch.ones(x.shape[2:]))] * x.shape[0]


def yolo_best_class(model: nn.Module, x: torch.Tensor) -> list:
    return [lambda output: output[4:].max()] * x.shape[0]  # (4 + classes, anchors): the best class score of any anchor


DETECTOR = dict(weights=None, weights_backbone=None, num_classes=5, box_score_thresh=0.0, detections_per_img=10)
SMALL_DETECTOR = dict(DETECTOR, min_size=224, max_size=224)
ONE_STAGE = dict(
    weights=None,
    weights_backbone=None,
    num_classes=5,
    score_thresh=0.0,
    detections_per_img=10,
    min_size=224,
    max_size=224,
)
SEGMENTER = dict(weights=None, weights_backbone=None, num_classes=3)
FPN = cw.fasterrcnn_reshape_transform
NHWC = lambda t: t.permute(0, 3, 1, 2)  # noqa: E731

CLIP = (3, 8, 112, 112)


def video(name: str) -> Callable[[], nn.Module]:
    def build() -> nn.Module:
        model = seeded(getattr(torchvision.models.video, name), num_classes=10)
        calibrate_batchnorm(model, (3, 16, 224, 224) if name == "s3d" else CLIP)
        return model

    return build


def small_mvit() -> nn.Module:
    """mvit_v2_s's design (pooled attention, relative positions, a class token) in three blocks,
    built for 8 frames of 112 px (mvit_v2_s itself is fixed to 16 x 224)."""
    from torchvision.models.video.mvit import MSBlockConfig, _mvit

    def block(heads: int, channels: tuple[int, int], stride_q: list[int], stride_kv: list[int]) -> MSBlockConfig:
        return MSBlockConfig(num_heads=heads, input_channels=channels[0], output_channels=channels[1], kernel_q=[3, 3, 3],
                             kernel_kv=[3, 3, 3], stride_q=stride_q, stride_kv=stride_kv)  # fmt: skip

    setting = [
        block(1, (32, 32), [1, 1, 1], [1, 4, 4]),
        block(2, (32, 64), [1, 2, 2], [1, 2, 2]),
        block(2, (64, 64), [1, 1, 1], [1, 2, 2]),
    ]
    torch.manual_seed(0)
    return _mvit(setting, 0.0, None, False, spatial_size=(112, 112), temporal_size=8, residual_pool=True,
                 residual_with_cls_embed=False, rel_pos_embed=True, proj_after_attn=True, num_classes=10).eval()  # fmt: skip


def _cnn(dimensions: int, channels: int) -> nn.Module:
    conv = {1: nn.Conv1d, 3: nn.Conv3d}[dimensions]
    norm = {1: nn.BatchNorm1d, 3: nn.BatchNorm3d}[dimensions]
    pool = {1: nn.AdaptiveAvgPool1d, 3: nn.AdaptiveAvgPool3d}[dimensions]

    class CNN(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.features = nn.Sequential(
                conv(channels, 8, 3, padding=1), norm(8), nn.ReLU(), conv(8, 16, 3, stride=2, padding=1), nn.ReLU()
            )
            self.head = nn.Sequential(pool(1), nn.Flatten(), nn.Linear(16, 4))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.head(self.features(x))

    return seeded(CNN)


def volume_cnn() -> nn.Module:
    return _cnn(3, 1)


def signal_cnn() -> nn.Module:
    return _cnn(1, 2)


CASES: dict[str, ZooCase] = {
    # torchvision classifiers, one of each family
    "tv-resnet18": ZooCase(lambda: seeded(tv.resnet18), "layer4.1", "NCHW", (lambda m: m.layer4[-1], None)),
    "tv-mobilenet_v3": ZooCase(
        lambda: seeded(tv.mobilenet_v3_small), "features.12", "NCHW", (lambda m: m.features[-1], None)
    ),
    "tv-efficientnet": ZooCase(
        lambda: seeded(tv.efficientnet_b0), "features.8", "NCHW", (lambda m: m.features[-1], None)
    ),
    "tv-regnet": ZooCase(
        lambda: seeded(tv.regnet_y_400mf),
        "trunk_output.block4.block4-5",
        "NCHW",
        (lambda m: m.trunk_output[-1][-1], None),
    ),
    "tv-densenet": ZooCase(lambda: seeded(tv.densenet121), "features", "NCHW", (lambda m: m.features, None), slow=True),
    "tv-shufflenet": ZooCase(lambda: seeded(tv.shufflenet_v2_x0_5), "conv5", "NCHW", (lambda m: m.conv5, None)),
    "tv-mnasnet": ZooCase(lambda: seeded(tv.mnasnet0_5), "layers", "NCHW", (lambda m: m.layers, None)),
    "tv-squeezenet": ZooCase(
        lambda: seeded(tv.squeezenet1_1), "classifier.1", "NCHW", (lambda m: m.classifier[1], None)
    ),
    "tv-googlenet": ZooCase(
        lambda: seeded(tv.googlenet, init_weights=True, aux_logits=False),
        "inception5b",
        "NCHW",
        (lambda m: m.inception5b, None),
    ),
    "tv-convnext": ZooCase(
        lambda: seeded(tv.convnext_tiny), "features.7.2", "NCHW", (lambda m: m.features[-1][-1], None), slow=True
    ),
    "tv-swin": ZooCase(lambda: seeded(tv.swin_t), "permute", "NCHW", (lambda m: m.permute, None), slow=True),
    "tv-maxvit": ZooCase(
        lambda: seeded(tv.maxvit_t),
        "blocks.3.layers.1.layers.grid_attention",
        "NCHW",
        (lambda m: m.blocks[-1].layers[-1], None),
        slow=True,
    ),
    "tv-alexnet": ZooCase(lambda: seeded(tv.alexnet), "features", "NCHW", (lambda m: m.features[-1], None), slow=True),
    "tv-vgg": ZooCase(lambda: seeded(tv.vgg11), "features", "NCHW", (lambda m: m.features[-1], None), slow=True),
    "tv-inception": ZooCase(
        lambda: seeded(tv.inception_v3, init_weights=True),
        "Mixed_7c",
        "NCHW",
        (lambda m: m.Mixed_7c, None),
        size=299,
        slow=True,
    ),
    "tv-mobilenet_v2": ZooCase(
        lambda: seeded(tv.mobilenet_v2), "features.18", "NCHW", (lambda m: m.features[-1], None)
    ),
    "tv-efficientnet_v2": ZooCase(
        lambda: seeded(tv.efficientnet_v2_s), "features.7", "NCHW", (lambda m: m.features[-1], None), slow=True
    ),
    "tv-wide_resnet": ZooCase(
        lambda: seeded(tv.wide_resnet50_2), "layer4.2", "NCHW", (lambda m: m.layer4[-1], None), slow=True
    ),
    "tv-swin_v2": ZooCase(lambda: seeded(tv.swin_v2_t), "permute", "NCHW", (lambda m: m.permute, None), slow=True),
    "tv-vit": ZooCase(
        small_vit,
        "encoder.layers.encoder_layer_1.ln_1",
        "NLC",
        (lambda m: m.encoder.layers[-1].ln_1, cw.vit_reshape_transform),
    ),
    # timm
    "timm-vit": ZooCase(
        timm_model("vit_tiny_patch16_224"),
        "blocks.11.norm1",
        "NLC",
        (lambda m: m.blocks[-1].norm1, cw.vit_reshape_transform),
    ),
    "timm-deit": ZooCase(
        timm_model("deit_tiny_distilled_patch16_224"),
        "blocks.11.norm1",
        "NLC",
        (lambda m: m.blocks[-1].norm1, cw.vit_reshape_transform),
    ),
    "timm-swin": ZooCase(
        timm_model("swin_tiny_patch4_window7_224", depths=(1, 1, 1, 1)), "norm", "NHWC", (lambda m: m.norm, NHWC)
    ),
    "timm-convnext": ZooCase(
        timm_model("convnext_atto"), "stages.3.blocks.1", "NCHW", (lambda m: m.stages[-1].blocks[-1], None)
    ),
    "timm-efficientnet": ZooCase(timm_model("efficientnet_b0"), "bn2", "NCHW", (lambda m: m.bn2, None)),
    "timm-resnet": ZooCase(timm_model("resnet18"), "layer4.1", "NCHW", (lambda m: m.layer4[-1], None)),
    # Hugging Face (their forward returns a ModelOutput with logits)
    "hf-vit": ZooCase(
        hugging_face("vit"),
        "vit.layers.1.layernorm_before",
        "NLC",
        (lambda m: m.vit.layers[-1].layernorm_before, cw.vit_reshape_transform),
    ),
    "hf-swin": ZooCase(
        hugging_face("swin"), "swin.layernorm", "NLC", (lambda m: m.swin.layernorm, cw.swin_reshape_transform)
    ),
    "hf-convnext": ZooCase(
        hugging_face("convnext"),
        "convnext.encoder.stages.3.layers.0",
        "NCHW",
        (lambda m: m.convnext.encoder.stages[-1].layers[-1], None),
    ),
    "hf-resnet": ZooCase(
        hugging_face("resnet"),
        "resnet.encoder.stages.3.layers.0",
        "NCHW",
        (lambda m: m.resnet.encoder.stages[-1].layers[-1], None),
    ),
    # torchvision detectors: the backbone/FPN output
    "tv-fasterrcnn": ZooCase(
        lambda: seeded(tv.detection.fasterrcnn_mobilenet_v3_large_320_fpn, **DETECTOR),
        "backbone.fpn",
        "FPN",
        (lambda m: m.backbone, FPN),
        detection_scores,
        task="detection",
    ),
    "tv-maskrcnn": ZooCase(
        lambda: seeded(tv.detection.maskrcnn_resnet50_fpn, **SMALL_DETECTOR),
        "backbone.fpn",
        "FPN",
        (lambda m: m.backbone, FPN),
        detection_scores,
        task="detection",
        slow=True,
    ),
    "tv-retinanet": ZooCase(
        lambda: seeded(tv.detection.retinanet_resnet50_fpn, **ONE_STAGE),
        "backbone.fpn",
        "FPN",
        (lambda m: m.backbone, FPN),
        detection_scores,
        task="detection",
        slow=True,
    ),
    "tv-fcos": ZooCase(
        lambda: seeded(tv.detection.fcos_resnet50_fpn, **ONE_STAGE),
        "backbone.fpn",
        "FPN",
        (lambda m: m.backbone, FPN),
        detection_scores,
        task="detection",
        slow=True,
    ),
    "tv-ssd": ZooCase(
        lambda: seeded(tv.detection.ssd300_vgg16, **DETECTOR),
        "backbone",
        "FPN",
        (lambda m: m.backbone, FPN),
        detection_scores,
        task="detection",
        slow=True,
    ),
    "tv-ssdlite": ZooCase(ssdlite, "backbone", "FPN", (lambda m: m.backbone, FPN), detection_scores, task="detection"),
    # torchvision segmenters: the feature before the class logits
    "tv-deeplabv3": ZooCase(
        lambda: seeded(tv.segmentation.deeplabv3_mobilenet_v3_large, **SEGMENTER),
        "classifier.3",
        "NCHW",
        (lambda m: m.classifier[3], None),
        segment_everything,
        task="segmentation",
    ),
    "tv-fcn": ZooCase(
        lambda: seeded(tv.segmentation.fcn_resnet50, **SEGMENTER),
        "classifier.2",
        "NCHW",
        (lambda m: m.classifier[2], None),
        segment_everything,
        task="segmentation",
        slow=True,
    ),
    "tv-lraspp": ZooCase(
        lambda: seeded(tv.segmentation.lraspp_mobilenet_v3_large, **SEGMENTER),
        "classifier.cbr",
        "NCHW",
        (lambda m: m.classifier.cbr, None),
        segment_everything,
        task="segmentation",
    ),
    # ultralytics YOLO, built from its yaml: the finest level its Detect head reads (P4 and P5 are made from it)
    "yolov8n": ZooCase(
        yolov8, "model.15.cv2", "NCHW", (lambda m: m.model[15], None), yolo_best_class, task="detection"
    ),
    "yolo11n": ZooCase(
        yolo11, "model.16.cv2", "NCHW", (lambda m: m.model[16], None), yolo_best_class, task="detection"
    ),
    # token models whose shape alone misleads: LeViT's 4x4 grid of 56 px cells, Hiera's own token order
    "timm-levit": ZooCase(
        levit, "stages.2.blocks.3", "NLC", (lambda m: m.stages[2].blocks[3], lambda t: tokens_to_grid(t, 4, 4))
    ),
    "timm-hiera": ZooCase(
        hiera, "blocks.11.norm2", "NLC", (lambda m: m.blocks[-1].norm2, cw.vit_reshape_transform), slow=True
    ),
    # torchvision's video classifiers on 8 frames of 112 px (s3d needs 16 of 224): the last layer whose grid
    # still has time in it (r3d_18 and r2plus1d_18 pool 8 frames to 1 in layer4), Swin3D's channels-last
    # norm, MViT's tokens on their (T, H, W) grid before the last block's attention
    **{
        f"tv-{name}": ZooCase(video(name), layer, layout, (explicit, None), shape=CLIP, slow=slow)
        for name, layer, layout, explicit, slow in (
            ("r3d_18", "layer3.1", "NCHW", lambda m: m.layer3[-1], False),
            ("mc3_18", "layer4.1", "NCHW", lambda m: m.layer4[-1], True),
            ("r2plus1d_18", "layer3.1", "NCHW", lambda m: m.layer3[-1], True),
            ("swin3d_t", "norm", "NHWC", lambda m: m.norm, False),
        )
    },
    "tv-s3d": ZooCase(
        video("s3d"), "features.15", "NCHW", (lambda m: m.features[15], None), shape=(3, 16, 224, 224), slow=True
    ),
    "tv-mvit_v2_s": ZooCase(
        small_mvit,
        "blocks.2.norm1",
        "NLC",
        (lambda m: m.blocks[2].norm1, lambda t: tokens_to_grid(t, image_size=(8, 112, 112))),
        shape=CLIP,
    ),
    # plain 3-D and 1-D CNNs: a volume classifier and a signal classifier
    "volume-cnn": ZooCase(volume_cnn, "features", "NCHW", (lambda m: m.features, None), shape=(1, 32, 48, 48)),
    "signal-cnn": ZooCase(signal_cnn, "features", "NCHW", (lambda m: m.features, None), shape=(2, 256)),
    # Hugging Face Segformer: the fused 56x56 feature before the class logits
    "hf-segformer": ZooCase(
        segformer,
        "decode_head.activation",
        "NCHW",
        (lambda m: m.decode_head.activation, None),
        segment_quarter,
        task="segmentation",
    ),
}
