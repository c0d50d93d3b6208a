"""Small trained models for volumes, clips and signals, shipped with their weights.

Each is trained on one of the synthetic sets with exact ground truth, so a CAM of it can be
scored: where in a volume (``camwidgets.data.solids``), where and when in a clip
(``camwidgets.data.motion``), where along a signal (``camwidgets.data.motifs``).

>>> import camwidgets as cw
>>> from camwidgets.data.spacetime_models import load_solids_cnn, SOLIDS_CNN_LAYER
>>> from camwidgets.data.solids import make_solids
>>> model, classes = load_solids_cnn()
>>> cw.GradCAM(model, [SOLIDS_CNN_LAYER])(torch.from_numpy(make_solids(2, seed=5).volumes)).shape
(2, 32, 32, 32)

The weights are trained by ``bench/train_solids_cnn.py``, ``bench/train_motion_cnn.py`` and
``bench/train_motifs_cnn.py``.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from .motifs import MOTIFS
from .motion import CLASSES as MOVING_SHAPES
from .solids import SOLIDS

__all__ = [
    "SolidsCNN",
    "MotionCNN",
    "MotifsCNN",
    "load_solids_cnn",
    "load_motion_cnn",
    "load_motifs_cnn",
    "SOLIDS_CNN_LAYER",
    "MOTION_CNN_LAYER",
    "MOTIFS_CNN_LAYER",
    "WEIGHTS",
]

_HERE = Path(__file__).resolve().parent
#: The shipped weights (float32 state_dicts) by model.
WEIGHTS: dict[str, Path] = {
    "solids": _HERE / "solids_cnn.pt",
    "motion": _HERE / "motion_cnn.pt",
    "motifs": _HERE / "motifs_cnn.pt",
}

#: Suggested target layers: the last blocks, an 8x8x8 grid of a 32^3 volume, 8 frames x 8x8 of a
#: 8 x 32 x 32 clip, 64 positions of a 256-sample signal.
SOLIDS_CNN_LAYER = "features.3"
MOTION_CNN_LAYER = "features.2"
MOTIFS_CNN_LAYER = "features.2"


def _conv_block(
    conv: type[nn.Module], norm: type[nn.Module], channels: tuple[int, int], kernel, padding
) -> list[nn.Module]:
    """Convolution (edges padded by repeating the border: zeros would make the frame's border an
    edge whose contrast changes with every frame's brightness), batch norm, ReLU."""
    return [
        conv(*channels, kernel, padding=padding, padding_mode="replicate", bias=False),
        norm(channels[1]),
        nn.ReLU(),
    ]


class _Classifier(nn.Module):
    """``features`` then global average pooling and a linear layer (CAM's own design)."""

    def __init__(self, features: nn.Sequential, pool: nn.Module, channels: int, classes: int) -> None:
        super().__init__()
        self.features = features
        self.head = nn.Sequential(pool, nn.Flatten(), nn.Linear(channels, classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class SolidsCNN(_Classifier):
    """Volumes (B, 1, D, H, W) -> one logit per solid (multi-label): four 3x3x3 conv blocks
    (1 -> 8 -> 16 -> 32 -> 32, BN + ReLU, max-pool after the first two)."""

    def __init__(self) -> None:
        def block(channels: tuple[int, int], pool: bool) -> nn.Sequential:
            layers = _conv_block(nn.Conv3d, nn.BatchNorm3d, channels, 3, 1)
            return nn.Sequential(*layers, *([nn.MaxPool3d(2)] if pool else []))

        features = nn.Sequential(
            block((1, 8), True), block((8, 16), True), block((16, 32), False), block((32, 32), False)
        )
        super().__init__(features, nn.AdaptiveAvgPool3d(1), 32, len(SOLIDS))


class MotionCNN(_Classifier):
    """Clips (B, 3, T, H, W) -> logits of the moving shape's kind: three (2+1)D blocks (a 1x3x3 spatial convolution,
    then a 3x1x1 temporal one; 3 -> 16 -> 32 -> 32; spatial max-pool after the first two, time
    never pooled)."""

    def __init__(self) -> None:
        def block(channels: tuple[int, int], pool: bool) -> nn.Sequential:
            spatial = _conv_block(nn.Conv3d, nn.BatchNorm3d, channels, (1, 3, 3), (0, 1, 1))
            temporal = _conv_block(nn.Conv3d, nn.BatchNorm3d, (channels[1], channels[1]), (3, 1, 1), (1, 0, 0))
            return nn.Sequential(*spatial, *temporal, *([nn.MaxPool3d((1, 2, 2))] if pool else []))

        features = nn.Sequential(block((3, 16), True), block((16, 32), False), block((32, 32), False))
        super().__init__(features, nn.AdaptiveAvgPool3d(1), 32, len(MOVING_SHAPES))


class MotifsCNN(_Classifier):
    """Signals (B, 1, L) -> motif logits: three 1-D conv blocks (kernels 7, 5, 5; 1 -> 16 -> 32 ->
    32; max-pool after the first two)."""

    def __init__(self) -> None:
        def block(channels: tuple[int, int], kernel: int, pool: bool) -> nn.Sequential:
            layers = _conv_block(nn.Conv1d, nn.BatchNorm1d, channels, kernel, kernel // 2)
            return nn.Sequential(*layers, *([nn.MaxPool1d(2)] if pool else []))

        features = nn.Sequential(block((1, 16), 7, True), block((16, 32), 5, True), block((32, 32), 5, False))
        super().__init__(features, nn.AdaptiveAvgPool1d(1), 32, len(MOTIFS))


def _load(model: nn.Module, name: str, script: str) -> nn.Module:
    path = WEIGHTS[name]
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing; train it with bench/{script}")
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return model.eval()


def load_solids_cnn() -> tuple[nn.Module, list[str]]:
    """The trained volume classifier in eval mode on the CPU, and its class names (``SOLIDS``)."""
    return _load(SolidsCNN(), "solids", "train_solids_cnn.py"), list(SOLIDS)


def load_motion_cnn() -> tuple[nn.Module, list[str]]:
    """The trained clip classifier in eval mode on the CPU, and its class names (``MOVING_SHAPES``)."""
    return _load(MotionCNN(), "motion", "train_motion_cnn.py"), list(MOVING_SHAPES)


def load_motifs_cnn() -> tuple[nn.Module, list[str]]:
    """The trained signal classifier in eval mode on the CPU, and its class names (``MOTIFS``)."""
    return _load(MotifsCNN(), "motifs", "train_motifs_cnn.py"), list(MOTIFS)
