"""A small CNN trained on the synthetic shapes (``camwidgets.data.shapes``), shipped with its weights.

With exact object masks for every image, it gives CAM methods a ground truth to be scored against.

>>> import camwidgets as cw
>>> from camwidgets.data.shapes import make_shapes, normalise
>>> from camwidgets.data.shapes_cnn import load_shapes_cnn, SHAPES_CNN_LAYER
>>> model = load_shapes_cnn()
>>> batch = make_shapes(4, seed=3)
>>> maps = cw.GradCAM(model, [SHAPES_CNN_LAYER])(normalise(batch.images))
>>> maps.shape
(4, 64, 64)

The weights are trained by ``bench/train_shapes_cnn.py``.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from .shapes import CLASSES

__all__ = [
    "ShapesCNN",
    "load_shapes_cnn",
    "load_shortcut_cnn",
    "SHAPES_CNN_LAYER",
    "SHAPES_CNN_WEIGHTS",
    "SHORTCUT_CNN_WEIGHTS",
]

#: The trained weights (a float32 state_dict).
SHAPES_CNN_WEIGHTS: Path = Path(__file__).resolve().parent / "shapes_cnn.pt"

#: The same network trained on shapes with a planted shortcut (``camwidgets.data.shortcut``).
SHORTCUT_CNN_WEIGHTS: Path = Path(__file__).resolve().parent / "shortcut_cnn.pt"

#: The suggested target layer: the last conv block, 8 x 8 at 64 px input.
SHAPES_CNN_LAYER: str = "features.3"


def _block(in_channels: int, out_channels: int, pool: bool) -> nn.Sequential:
    layers: list[nn.Module] = [
        nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=False),
    ]
    if pool:
        layers.append(nn.MaxPool2d(2))
    return nn.Sequential(*layers)


class ShapesCNN(nn.Module):
    """Four conv blocks (3 -> 16 -> 32 -> 64 -> 64, BN + ReLU, max-pool after the first three),
    global average pooling and a linear classifier over ``CLASSES``."""

    def __init__(self, num_classes: int = len(CLASSES)) -> None:
        super().__init__()
        self.features = nn.Sequential(
            _block(3, 16, pool=True),
            _block(16, 32, pool=True),
            _block(32, 64, pool=True),
            _block(64, 64, pool=False),
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(64, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.pool(self.features(x)), 1))


def load_shapes_cnn(path: str | Path | None = None) -> ShapesCNN:
    """The trained ``ShapesCNN`` in eval mode, on the CPU. Its input is ``normalise(images)``."""
    weights = Path(path) if path is not None else SHAPES_CNN_WEIGHTS
    if not weights.is_file():
        script = "train_shortcut_cnn.py" if weights.name == SHORTCUT_CNN_WEIGHTS.name else "train_shapes_cnn.py"
        raise FileNotFoundError(f"no weights at {weights}; train them with bench/{script}")
    model = ShapesCNN()
    model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    return model.eval()


def load_shortcut_cnn() -> ShapesCNN:
    """The ``ShapesCNN`` trained by ``bench/train_shortcut_cnn.py`` on shapes where most squares
    carry a marker (``camwidgets.data.shortcut``), in eval mode, on the CPU."""
    return load_shapes_cnn(SHORTCUT_CNN_WEIGHTS)
