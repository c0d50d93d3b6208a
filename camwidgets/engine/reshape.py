"""Bring layer outputs into the (B, C, *spatial) layout the methods work on.

Three layouts occur in vision models (named as in timm): ``NCHW`` (CNNs), ``NHWC`` (Swin
stages, ConvNeXt blocks) and ``NLC`` (token sequences of ViT-like models, possibly led by class
and register tokens). The transforms here take a layer's output (or its gradient, which has the
same structure) and return NCHW.
"""

from __future__ import annotations

import enum
import math
from typing import Callable, Mapping, Sequence

import torch
import torch.nn.functional as F

__all__ = [
    "Layout",
    "layout_of",
    "looks_channels_last",
    "infer_token_grid",
    "tokens_to_grid",
    "vit_reshape_transform",
    "swinT_reshape_transform",
    "swin_reshape_transform",
    "fasterrcnn_reshape_transform",
    "to_spatial",
]

MAX_PREFIX_TOKENS = 16


class Layout(str, enum.Enum):
    """How a layer's output holds its spatial positions (timm's names); the one vocabulary of the
    engine, the layer suggestion, the CAM classes and the explorer's tree."""

    NCHW = "NCHW"  # channels first (CNNs; NCDHW for volumes)
    NHWC = "NHWC"  # channels last (Swin stages, ConvNeXt blocks)
    NLC = "NLC"  # a token sequence, possibly led by class and register tokens (ViT)


def _is_grid(height: int, width: int, image_size: tuple[int, ...]) -> bool:
    """Whether (height, width) can be a downsampled grid of the image: same aspect ratio, not larger."""
    return 0 < height <= image_size[0] and width > 0 and abs(height / width - image_size[0] / image_size[1]) < 0.05


def looks_channels_last(shape: Sequence[int], image_size: tuple[int, ...]) -> bool:
    """(B, h, w, C) rather than (B, C, h, w): axes 1-2 look like a grid of the image and axes 2-3 do
    not (an ambiguous shape counts as channels-first)."""
    if len(shape) != 4 or len(image_size) != 2:
        return False
    return _is_grid(shape[1], shape[2], image_size) and not _is_grid(shape[2], shape[3], image_size)


def layout_of(output: object, image_size: tuple[int, ...]) -> Layout | None:
    """The layout of a layer's output for images of ``image_size``, or None when it has no spatial
    positions to explain (not a float tensor, pooled to one position, or an unrecognised shape)."""
    if not isinstance(output, torch.Tensor) or not output.is_floating_point():
        return None
    if output.ndim == 2 + len(image_size) and output.shape[2:].numel() > 1:
        return Layout.NHWC if looks_channels_last(output.shape, image_size) else Layout.NCHW
    if output.ndim == 3 and len(image_size) == 2:
        try:
            infer_token_grid(output.shape[1], image_size)
        except ValueError:
            return None
        return Layout.NLC
    return None


def infer_token_grid(num_tokens: int, image_size: tuple[int, int] | None = None) -> tuple[int, int, int]:
    """Split ``num_tokens`` into ``prefix + h * w``: (prefix tokens, grid height, grid width).

    The prefix (class and register tokens) is the smallest count, up to 16, that leaves a grid with
    the image's aspect ratio (square without an image size) whose cells tile the image evenly when
    the size is known. ValueError when no such split exists.
    """
    for prefix in range(0, min(MAX_PREFIX_TOKENS, num_tokens - 1) + 1):
        patches = num_tokens - prefix
        if image_size is None:
            side = math.isqrt(patches)
            if side * side == patches:
                return prefix, side, side
            continue
        height, width = image_size
        rows = round(math.sqrt(patches * height / width))
        if rows < 1 or patches % rows:
            continue
        cols = patches // rows
        if height % rows == 0 and width % cols == 0 and height // rows == width // cols:
            return prefix, rows, cols
    where = f" for a {image_size[0]}x{image_size[1]} image" if image_size else ""
    raise ValueError(
        f"cannot read {num_tokens} tokens as a grid of patches{where} (after up to {MAX_PREFIX_TOKENS} class/register "
        "tokens); pass reshape_transform with explicit height and width"
    )


def tokens_to_grid(
    tensor: torch.Tensor, height: int | None = None, width: int | None = None, image_size: tuple[int, int] | None = None
) -> torch.Tensor:
    """(B, N, C) tokens -> (B, C, h, w), dropping the leading class/register tokens."""
    if tensor.ndim != 3:
        raise ValueError(f"expected tokens of shape (B, N, C); got {tuple(tensor.shape)}")
    batch, count, channels = tensor.shape
    if height is not None and width is not None:
        prefix = count - height * width
        if prefix < 0:
            raise ValueError(f"{count} tokens cannot hold a {height}x{width} grid")
    else:
        prefix, height, width = infer_token_grid(count, image_size)
    grid = tensor[:, prefix:, :].reshape(batch, height, width, channels)
    return grid.permute(0, 3, 1, 2)


def vit_reshape_transform(tensor: torch.Tensor, height: int | None = None, width: int | None = None) -> torch.Tensor:
    """ViT tokens (B, 1 + h*w, C) -> (B, C, h, w); the grid and the number of class/register tokens
    are inferred from the token count (square grid) unless ``height`` and ``width`` are given."""
    return tokens_to_grid(tensor, height, width)


def swin_reshape_transform(tensor: torch.Tensor, height: int | None = None, width: int | None = None) -> torch.Tensor:
    """Swin outputs -> (B, C, h, w): channels-last grids (B, h, w, C) are permuted; token
    sequences (B, h*w, C) are laid out on a grid (square unless ``height``/``width`` are given)."""
    if tensor.ndim == 4:
        return tensor.permute(0, 3, 1, 2)
    return tokens_to_grid(tensor, height, width)


def swinT_reshape_transform(tensor: torch.Tensor, height: int | None = None, width: int | None = None) -> torch.Tensor:
    """The reference's name for :func:`swin_reshape_transform`."""
    return swin_reshape_transform(tensor, height, width)


def fasterrcnn_reshape_transform(features: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """FPN dict of maps -> one (B, sum C, h, w) map: each level's absolute value resized (bilinear)
    to the coarsest level ('pool' in torchvision) and concatenated along channels."""
    if not isinstance(features, Mapping):
        raise TypeError(f"fasterrcnn_reshape_transform expects the FPN's dict of feature maps; got {type(features).__name__}")
    coarsest = features["pool"] if "pool" in features else min(features.values(), key=lambda t: t.shape[-2:].numel())
    size = coarsest.shape[-2:]
    levels = [F.interpolate(level.abs(), size=size, mode="bilinear") for level in features.values()]
    return torch.cat(levels, dim=1)


def to_spatial(
    tensor: object,
    reshape_transform: Callable | None,
    image_size: tuple[int, ...],
    layer_name: str = "",
) -> torch.Tensor:
    """Apply the user's reshape transform (without one, a channels-last (B, h, w, C) output is
    permuted to channels first), then read (B, N, C) tokens as a grid; check the result is
    (B, C, *spatial) with as many spatial axes as the image."""
    if reshape_transform is not None:
        tensor = reshape_transform(tensor)
    elif isinstance(tensor, torch.Tensor) and looks_channels_last(tensor.shape, image_size):
        tensor = tensor.permute(0, 3, 1, 2)
    where = f"layer {layer_name!r}" if layer_name else "the layer"
    if isinstance(tensor, Mapping) or isinstance(tensor, (tuple, list)):
        raise ValueError(
            f"{where} returns a {type(tensor).__name__} of tensors; pass a reshape_transform that makes one map "
            "(for a torchvision detector's FPN: fasterrcnn_reshape_transform)"
        )
    if not isinstance(tensor, torch.Tensor):
        raise TypeError(f"{where} returned {type(tensor).__name__}, not a tensor")
    spatial_axes = len(image_size)
    if tensor.ndim == 3 and spatial_axes == 2:
        tensor = tokens_to_grid(tensor, image_size=image_size)  # type: ignore[arg-type]
    if tensor.ndim != 2 + spatial_axes:
        raise ValueError(
            f"{where} has output shape {tuple(tensor.shape)}, which has no spatial grid; explain a layer before "
            "global pooling (suggest_target_layer(model) finds the last spatial one), or pass a reshape_transform"
        )
    if tensor.shape[2:].numel() == 1:
        grid = "x".join(str(size) for size in tensor.shape[2:])
        raise ValueError(
            f"{where} has a {grid} output grid at this input size ({'x'.join(map(str, image_size))}), so its map would be "
            "blank: a single position has no spatial detail. Explain an earlier layer (before global pooling), or use larger images"
        )
    return tensor
