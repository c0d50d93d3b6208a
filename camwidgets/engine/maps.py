"""From raw per-layer maps to the final (B, *image) maps: ReLU, normalise, upsample, aggregate.

The order follows the reference, so results agree with it to float precision:
for each layer ``m = normalise(relu(raw))`` then ``upsample(m)``; then the layers are combined
(mean, or max) and the result normalised once more.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
import torch.nn.functional as F

__all__ = [
    "upsample",
    "normalise_per_image",
    "normalise_per_batch",
    "normalise",
    "aggregate_layers",
    "finish_maps",
    "NORMALISATIONS",
    "AGGREGATIONS",
]

EPSILON = 1e-7
LINEAR_MODES = {1: "linear", 2: "bilinear", 3: "trilinear"}  # F.interpolate's name per number of axes
NORMALISATIONS = ("image", "batch", "none")
AGGREGATIONS = ("mean", "max")
Normalisation = Literal["image", "batch", "none"]
Aggregation = Literal["mean", "max"]


def upsample(maps: torch.Tensor, size: Sequence[int], mode: str | None = None) -> torch.Tensor:
    """Resize (B, *s) maps to (B, *size) with ``F.interpolate`` (linear for 1-D, bilinear for 2-D,
    trilinear for 3-D; half-pixel centres: the same numbers as OpenCV's INTER_LINEAR)."""
    size = tuple(int(s) for s in size)
    if tuple(maps.shape[1:]) == size:
        return maps
    if mode is None:
        mode = LINEAR_MODES[len(size)]
    return F.interpolate(maps.unsqueeze(1), size=size, mode=mode, align_corners=False).squeeze(1)


def normalise_per_image(maps: torch.Tensor) -> torch.Tensor:
    """``(m - min) / (max - min + 1e-7)`` per image; a constant map becomes zeros, never NaN."""
    flat = maps.reshape(maps.shape[0], -1)
    low = flat.min(dim=1).values
    shifted = flat - low[:, None]
    return (shifted / (shifted.max(dim=1).values[:, None] + EPSILON)).reshape(maps.shape)


def normalise_per_batch(maps: torch.Tensor) -> torch.Tensor:
    """``(m - min) / (max - min + 1e-7)`` with min and max taken over the whole batch (keeps the
    images' relative strength comparable)."""
    shifted = maps - maps.min()
    return shifted / (shifted.max() + EPSILON)


def normalise(maps: torch.Tensor, how: str) -> torch.Tensor:
    if how == "image":
        return normalise_per_image(maps)
    if how == "batch":
        return normalise_per_batch(maps)
    if how == "none":
        return maps
    raise ValueError(f"normalise must be one of {', '.join(NORMALISATIONS)}; got {how!r}")


def aggregate_layers(maps: Sequence[torch.Tensor], how: str = "mean") -> torch.Tensor:
    """Combine same-size maps of several layers: element-wise mean (the reference's) or max."""
    stacked = torch.stack(list(maps), dim=1)
    if how == "mean":
        return stacked.mean(dim=1)
    if how == "max":
        return stacked.amax(dim=1)
    raise ValueError(f"aggregate must be one of {', '.join(AGGREGATIONS)}; got {how!r}")


def finish_maps(
    raw_per_layer: Sequence[torch.Tensor],
    size: Sequence[int],
    normalisation: str = "image",
    aggregation: str = "mean",
) -> torch.Tensor:
    """``normalise(aggregate_l upsample(normalise(relu(raw_l)))``: the final (B, *size) maps."""
    per_layer = [upsample(normalise(torch.relu(raw.float()), normalisation), size) for raw in raw_per_layer]
    if len(per_layer) == 1:
        combined = torch.relu(per_layer[0])
    else:
        combined = aggregate_layers([torch.relu(m) for m in per_layer], aggregation)
    return normalise(combined, normalisation)
