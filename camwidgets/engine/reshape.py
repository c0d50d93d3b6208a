"""Bring layer outputs into the (B, C, *spatial) layout the methods work on.

Three layouts occur in vision models (named as in timm): ``NCHW`` (CNNs), ``NHWC`` (Swin
stages, ConvNeXt blocks) and ``NLC`` (token sequences of ViT-like models, possibly led by class
and register tokens). The transforms here take a layer's output (or its gradient, which has the
same structure) and return NCHW.
"""

from __future__ import annotations

import enum
import math
import warnings
from collections.abc import Callable, Mapping, Sequence

import torch
import torch.nn.functional as F

__all__ = [
    "Layout",
    "layout_of",
    "describe_layout",
    "channels_of",
    "feature_levels",
    "common_grid",
    "looks_channels_last",
    "infer_token_grid",
    "infer_volume_token_grid",
    "token_grid",
    "tokens_to_grid",
    "vit_reshape_transform",
    "swinT_reshape_transform",
    "swin_reshape_transform",
    "fasterrcnn_reshape_transform",
    "to_spatial",
]

MAX_PREFIX_TOKENS = 16


class Layout(str, enum.Enum):
    """How a layer's output holds its spatial positions (timm's names where it has them); the one
    vocabulary of the engine, the layer suggestion, the CAM classes and the explorer's tree.

    The first four can be explained (:attr:`spatial`); the last three are recognised so that they are
    never read as a grid: attention internals, detection heads' decoded rows and object queries."""

    NCHW = "NCHW"  # channels first (CNNs; NCDHW for volumes)
    NHWC = "NHWC"  # channels last (Swin stages, ConvNeXt blocks)
    NLC = "NLC"  # a token sequence, possibly led by class and register tokens (ViT)
    FPN = "FPN"  # a dict or list of NCHW feature levels (detector backbones), resized to one grid
    HEADS = "heads"  # per-head attention tensors (B, heads, tokens, dim) or attention maps (B, heads, N, N)
    ANCHORS = "anchors"  # rows without a grid: boxes or scores per anchor (B, k, anchors)
    QUERIES = "queries"  # a DETR decoder's object queries (B, queries, C) (token_sources)

    @property
    def spatial(self) -> bool:
        """Whether outputs of this layout have positions the engine lays out as a map."""
        return self in (Layout.NCHW, Layout.NHWC, Layout.NLC, Layout.FPN)


MAX_PATCH_SIZE = 32  # a token grid coarser than this many pixels per token is not a ViT's patch grid


def _is_grid(height: int, width: int, image_size: tuple[int, ...]) -> bool:
    """Whether (height, width) can be a grid of the image: the image's aspect ratio (a detector may
    resize the image inside, so the grid may be finer than the input)."""
    return height > 0 and width > 0 and abs(height / width - image_size[0] / image_size[1]) < 0.05


def _token_grid(count: int, image_size: tuple[int, ...]) -> tuple[int, tuple[int, ...]] | None:
    """:func:`token_grid` for a plausible patch grid (patches of at most MAX_PATCH_SIZE pixels), or None."""
    try:
        prefix, grid = token_grid(count, image_size)
    except ValueError:
        return None
    return (prefix, grid) if math.prod(grid) > 1 and image_size[-2] / grid[-2] <= MAX_PATCH_SIZE else None


def _channels_first_grid(shape: Sequence[int], image_size: tuple[int, ...]) -> bool:
    """Whether the axes after (B, C) of an output can be a grid of the input: the image's aspect
    ratio in the last two (a volume's or clip's first axis no longer than the input's); for a signal
    any length up to the signal's."""
    if len(shape) != 2 + len(image_size):
        return False
    if len(image_size) == 1:
        return 1 <= shape[2] <= image_size[0]
    return _is_grid(shape[-2], shape[-1], image_size[-2:]) and (len(image_size) == 2 or shape[2] <= image_size[0])


def _channels_last_grid(shape: Sequence[int], image_size: tuple[int, ...]) -> bool:
    """:func:`_channels_first_grid` for the axes between the batch and a last channel axis."""
    return len(shape) == 2 + len(image_size) and _channels_first_grid((shape[0], shape[-1], *shape[1:-1]), image_size)


def looks_channels_last(shape: Sequence[int], image_size: tuple[int, ...]) -> bool:
    """(B, *grid, C) rather than (B, C, *grid): the axes before the last look like a grid of the
    input and those after the channels do not (an ambiguous shape counts as channels-first). For
    signals, channels last means more channels than the signal has samples."""
    if len(image_size) == 1:
        return len(shape) == 3 and 1 <= shape[1] <= image_size[0] < shape[2]
    return _channels_last_grid(shape, image_size) and not _channels_first_grid(shape, image_size)


def _ambiguous_grid(shape: Sequence[int], image_size: tuple[int, ...]) -> bool:
    """Both readings of an image's output look like a grid of the image ((B, 8, 8, 8)). A volume's
    or clip's (B, C, d, h, w) with C no larger than its depth is read channels first without a
    warning: channels-last volumes (Swin3D's) have more channels than any grid axis."""
    return (
        len(image_size) == 2
        and math.prod(shape[2:-1]) * shape[-1] > 1
        and _channels_first_grid(shape, image_size)
        and _channels_last_grid(shape, image_size)
    )


def feature_levels(output: object) -> list[torch.Tensor] | None:
    """The levels of an FPN-style output (a dict, list or tuple of two or more 4-D float tensors with
    one batch), or None."""
    values = (
        list(output.values())
        if isinstance(output, Mapping)
        else list(output)
        if isinstance(output, (list, tuple))
        else []
    )
    if len(values) < 2 or not all(
        isinstance(v, torch.Tensor) and v.ndim == 4 and v.is_floating_point() for v in values
    ):
        return None
    return values if len({v.shape[0] for v in values}) == 1 else None


def layout_of(output: object, image_size: tuple[int, ...]) -> Layout | None:
    """The layout of a layer's output for images of ``image_size``, or None when it is nothing the
    engine recognises (not float tensors, pooled to one position, an unrecognised shape).

    4-D outputs of 2-D images: axis 2 counting a class (and distillation) token plus patches, with
    square last axes (attention maps) or no grid in them ((B, heads, tokens, dim)), is ``HEADS``;
    otherwise a grid in axes 2-3 is NCHW, one only in axes 1-2 NHWC, and tokens without a class
    token in axis 2 ``HEADS`` (windowed attention). 3-D: a ViT-like token grid is NLC, other rows
    ``ANCHORS``."""
    levels = feature_levels(output)
    if levels is not None:  # each level a grid of the image (not a decoder's stacked boxes and scores)
        return (
            Layout.FPN
            if len(image_size) != 2 or all(_is_grid(*level.shape[-2:], image_size) for level in levels)
            else None
        )
    if not isinstance(output, torch.Tensor) or not output.is_floating_point():
        return None
    if len(image_size) != 2:
        return _layout_beyond_images(output, image_size)
    if output.ndim == 4:
        _, first, second, third = output.shape
        tokens = _token_grid(second, image_size)
        grid = second * third > 1 and _is_grid(second, third, image_size)
        if (
            tokens is not None and tokens[0] in (1, 2) and (second == third or not grid)
        ):  # after a class (and distillation) token
            return Layout.HEADS
        if grid:
            return Layout.NCHW
        if first * second > 1 and _is_grid(first, second, image_size):
            return Layout.NHWC
        return Layout.HEADS if tokens is not None else None
    if output.ndim == 3:
        return Layout.NLC if _token_grid(output.shape[1], image_size) is not None else Layout.ANCHORS
    return None


def _layout_beyond_images(output: torch.Tensor, image_size: tuple[int, ...]) -> Layout | None:
    """:func:`layout_of` for signals, volumes and clips: an output with one axis per input axis is
    NHWC when only its channels-last reading is a grid of the input (Swin3D's (B, T, H, W, C)), else
    NCHW; (B, N, C) tokens of a volume or clip are NLC when they lie on a (T, h, w) grid."""
    if output.ndim == 2 + len(image_size):
        channels_last = looks_channels_last(output.shape, image_size)
        positions = output.shape[1:-1] if channels_last else output.shape[2:]
        if positions.numel() <= 1:
            return None  # pooled to one position
        return Layout.NHWC if channels_last else Layout.NCHW
    if output.ndim == 3 and len(image_size) == 3:
        return Layout.NLC if _token_grid(output.shape[1], image_size) is not None else Layout.ANCHORS
    return None


def describe_layout(output: object, image_size: tuple[int, ...], layout: Layout | None = None) -> str:
    """A short account of how an output is read (in ``layout``, else :func:`layout_of`'s), for messages
    and the explorer's tree: ``"NLC: 1 prefix token + 14x14 patches"``, ``"NHWC 7x7 grid"``, ``"FPN: 5 levels"``."""
    layout = layout or layout_of(output, image_size)
    if layout is None:
        return "no spatial layout"
    if layout is Layout.FPN:
        levels = feature_levels(output) or []
        return f"FPN: {len(levels)} levels resized to one {'x'.join(map(str, levels_grid(output)))} grid"  # type: ignore[arg-type]
    assert isinstance(output, torch.Tensor)
    if layout is Layout.NLC:
        prefix, grid = token_grid(output.shape[1], image_size)
        lead = f"{prefix} prefix token{'s' if prefix != 1 else ''} + " if prefix else ""
        return f"NLC: {lead}{'x'.join(map(str, grid))} patches"
    if layout is Layout.NCHW:
        return f"NCHW {'x'.join(map(str, output.shape[2:]))} grid"
    if layout is Layout.NHWC:
        return f"NHWC {'x'.join(map(str, output.shape[1:-1]))} grid"
    return f"{layout.value} {tuple(output.shape)}, not a grid"


def channels_of(output: object, image_size: tuple[int, ...], layout: Layout | None = None) -> int:
    """The channels a CAM weighs in an output (in ``layout``, else :func:`layout_of`'s): axis 1 of
    NCHW, the last axis of NHWC and NLC, the sum over FPN levels; 0 for layouts without a grid."""
    layout = layout or layout_of(output, image_size)
    if layout is Layout.FPN:
        return sum(int(level.shape[1]) for level in feature_levels(output) or [])
    if layout is None or not layout.spatial or not isinstance(output, torch.Tensor):
        return 0
    return int(output.shape[1] if layout is Layout.NCHW else output.shape[-1])


def _patch_grid(patches: int, image_size: tuple[int, int]) -> tuple[int, int] | None:
    """(rows, cols) with ``rows * cols == patches``, the image's aspect ratio and square cells that
    tile it evenly, or None."""
    height, width = image_size
    rows = round(math.sqrt(patches * height / width))
    if rows < 1 or patches % rows:
        return None
    cols = patches // rows
    if height % rows == 0 and width % cols == 0 and height // rows == width // cols:
        return rows, cols
    return None


def infer_token_grid(num_tokens: int, image_size: tuple[int, int] | None = None) -> tuple[int, int, int]:
    """Split ``num_tokens`` into ``prefix + h * w``: (prefix tokens, grid height, grid width).

    The prefix (class and register tokens) is the smallest count, up to 16, that leaves a grid with
    the image's aspect ratio (square without an image size) whose cells tile the image evenly when
    the size is known. ValueError when no such split exists.
    """
    for prefix in range(min(MAX_PREFIX_TOKENS, num_tokens - 1) + 1):
        patches = num_tokens - prefix
        if image_size is None:
            side = math.isqrt(patches)
            if side * side == patches:
                return prefix, side, side
            continue
        grid = _patch_grid(patches, image_size)
        if grid is not None:
            return prefix, *grid
    where = f" for a {image_size[0]}x{image_size[1]} image" if image_size else ""
    raise ValueError(
        f"cannot read {num_tokens} tokens as a grid of patches{where} (after up to {MAX_PREFIX_TOKENS} class/register "
        "tokens); pass reshape_transform with explicit height and width"
    )


def infer_volume_token_grid(num_tokens: int, image_size: tuple[int, int, int]) -> tuple[int, int, int, int]:
    """Split ``num_tokens`` into ``prefix + t * h * w`` for a volume or clip of ``(D, H, W)``:
    (prefix tokens, t, h, w).

    As :func:`infer_token_grid` in each slice, with ``t`` dividing ``D``; among the splits of the
    smallest prefix, the largest ``t`` whose stride ``D / t`` is at most the patches' side (video
    transformers downsample time no more than space: MViT's last stage at 16x224 is 8x7x7 tokens,
    not 2x14x14). ValueError when no split exists."""
    depth, height, width = image_size
    for prefix in range(min(MAX_PREFIX_TOKENS, num_tokens - 1) + 1):
        patches = num_tokens - prefix
        for frames in range(depth, 0, -1):
            if depth % frames or patches % frames:
                continue
            grid = _patch_grid(patches // frames, (height, width))
            if grid is not None and depth // frames <= height // grid[0]:
                return prefix, frames, *grid
    raise ValueError(
        f"cannot read {num_tokens} tokens as a grid of patches of a {'x'.join(map(str, image_size))} input (after up to "
        f"{MAX_PREFIX_TOKENS} class/register tokens); pass a reshape_transform that makes (B, C, t, h, w)"
    )


def token_grid(num_tokens: int, image_size: tuple[int, ...]) -> tuple[int, tuple[int, ...]]:
    """(prefix tokens, grid) of a token sequence: (h, w) for an image, (t, h, w) for a volume or clip."""
    if len(image_size) == 3:
        prefix, *grid = infer_volume_token_grid(num_tokens, image_size)  # type: ignore[arg-type]
    elif len(image_size) == 2:
        prefix, *grid = infer_token_grid(num_tokens, image_size)  # type: ignore[arg-type]
    else:
        raise ValueError("a signal's outputs are read as (B, C, L) or (B, L, C), not as tokens")
    return prefix, tuple(grid)


def tokens_to_grid(
    tensor: torch.Tensor, height: int | None = None, width: int | None = None, image_size: tuple[int, ...] | None = None
) -> torch.Tensor:
    """(B, N, C) tokens -> (B, C, h, w) (or (B, C, t, h, w) for a volume's or clip's ``image_size``),
    dropping the leading class/register tokens."""
    if tensor.ndim != 3:
        raise ValueError(f"expected tokens of shape (B, N, C); got {tuple(tensor.shape)}")
    batch, count, channels = tensor.shape
    if height is not None and width is not None:
        prefix, grid = count - height * width, (height, width)
        if prefix < 0:
            raise ValueError(f"{count} tokens cannot hold a {height}x{width} grid")
    elif image_size is not None:
        prefix, grid = token_grid(count, image_size)
    else:
        prefix, *square = infer_token_grid(count)
        grid = tuple(square)
    return tensor[:, prefix:, :].reshape(batch, *grid, channels).movedim(-1, 1)


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


MIN_COMMON_GRID = 7  # positions on the shorter side of the grid that feature levels are resized to


def common_grid(levels: Sequence[torch.Tensor]) -> tuple[int, int]:
    """The grid feature levels are brought to: the coarsest level with at least MIN_COMMON_GRID
    positions on its shorter side (SSD's 1x1 and 3x3 levels are too coarse to show anything), else
    the finest level."""
    sizes = sorted((tuple(level.shape[-2:]) for level in levels), key=lambda size: size[0] * size[1])
    fine_enough = [size for size in sizes if min(size) >= MIN_COMMON_GRID]
    return fine_enough[0] if fine_enough else sizes[-1]  # type: ignore[return-value]


def levels_grid(features: Mapping[str, torch.Tensor] | Sequence[torch.Tensor]) -> tuple[int, int]:
    """The grid FPN levels are resized to: the 'pool' level's where there is one (torchvision's FPN,
    as the reference does), else :func:`common_grid`'s."""
    if isinstance(features, Mapping) and "pool" in features:
        return tuple(features["pool"].shape[-2:])  # type: ignore[return-value]
    return common_grid(feature_levels(features) or [])


def fasterrcnn_reshape_transform(features: Mapping[str, torch.Tensor] | Sequence[torch.Tensor]) -> torch.Tensor:
    """FPN levels (a dict, or a list) -> one (B, sum C, h, w) map: each level's absolute value
    resized (bilinear) to one grid (:func:`levels_grid`) and concatenated along channels."""
    levels = feature_levels(features)
    if levels is None:
        raise TypeError(
            "fasterrcnn_reshape_transform expects the FPN's dict (or list) of (B, C, h, w) feature maps; "
            f"got {type(features).__name__}"
        )
    size = levels_grid(features)
    return torch.cat([F.interpolate(level.abs(), size=tuple(size), mode="bilinear") for level in levels], dim=1)


def to_spatial(
    tensor: object,
    reshape_transform: Callable | None,
    image_size: tuple[int, ...],
    layer_name: str = "",
    single_position: str = "refuse",
) -> torch.Tensor:
    """Apply the user's reshape transform (without one, a channels-last (B, h, w, C) output is
    permuted to channels first), then read (B, N, C) tokens as a grid; check the result is
    (B, C, *spatial) with as many spatial axes as the image. A grid of one position is refused
    (ValueError), or with ``single_position="blank"`` kept with a warning: its map is blank, as the
    reference's is (the drop-in classes)."""
    where = f"layer {layer_name!r}" if layer_name else "the layer"
    if reshape_transform is not None:
        tensor = reshape_transform(tensor)
    elif feature_levels(tensor) is not None:
        tensor = fasterrcnn_reshape_transform(tensor)  # type: ignore[arg-type]
    elif isinstance(tensor, torch.Tensor) and layout_of(tensor, image_size) in (Layout.HEADS, Layout.ANCHORS):
        raise ValueError(
            f"{where} has output shape {tuple(tensor.shape)}, {describe_layout(tensor, image_size)}: it has no grid to map. "
            "Explain the block around it instead (for a ViT block, its norm1: model.blocks[-1].norm1), "
            "or pass a reshape_transform that makes a (B, C, h, w) map"
        )
    elif isinstance(tensor, torch.Tensor) and looks_channels_last(tensor.shape, image_size):
        tensor = tensor.movedim(-1, 1)
    elif isinstance(tensor, torch.Tensor) and _ambiguous_grid(tensor.shape, image_size):
        grid = "h, w" if len(image_size) == 2 else "d, h, w"
        permute = "t.permute(0, 3, 1, 2)" if len(image_size) == 2 else "t.movedim(-1, 1)"
        warnings.warn(
            f"{where} has output shape {tuple(tensor.shape)}, which reads as channels-first (B, C, {grid}) and as channels-last "
            f"(B, {grid}, C); reading it as channels-first. If it is channels-last, pass reshape_transform=lambda t: {permute}",
            stacklevel=2,
        )
    if isinstance(tensor, (Mapping, tuple, list)):
        raise ValueError(
            f"{where} returns a {type(tensor).__name__} of tensors; pass a reshape_transform that makes one map "
            "(for a torchvision detector's FPN: fasterrcnn_reshape_transform)"
        )
    if not isinstance(tensor, torch.Tensor):
        raise TypeError(f"{where} returned {type(tensor).__name__}, not a tensor")
    spatial_axes = len(image_size)
    if tensor.ndim == 3 and spatial_axes in (2, 3):
        tensor = tokens_to_grid(tensor, image_size=image_size)
    if tensor.ndim != 2 + spatial_axes:
        raise ValueError(
            f"{where} has output shape {tuple(tensor.shape)}, which has no spatial grid; explain a layer before "
            "global pooling (suggest_target_layer(model) finds the last spatial one), or pass a reshape_transform"
        )
    if tensor.shape[2:].numel() == 1:
        grid = "x".join(str(size) for size in tensor.shape[2:])
        message = (
            f"{where} has a {grid} output grid at this input size ({'x'.join(map(str, image_size))}), so its map {{}} "
            "blank: a single position has no spatial detail. Explain an earlier layer (before global pooling), or use larger images"
        )
        if single_position != "blank":
            raise ValueError(message.format("would be"))
        warnings.warn(message.format("is"), stacklevel=2)
    return tensor
