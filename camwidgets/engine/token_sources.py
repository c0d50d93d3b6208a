"""Where a layer's tokens come from, for token sequences whose shape alone misleads.

:func:`~.reshape.layout_of` reads ``(B, N, C)`` as a grid of patches when ``N`` (after up to 16
class or register tokens) tiles the image with cells of at most 32 pixels. Three kinds of model
break that rule, and each says so in its own modules, which is what is read here:

- **Object queries.** A DETR decoder's N tokens are learned queries, not places: at a 320-pixel
  input DETR's 100 queries would read as 10x10 patches. A model declares its query count
  (``config.num_queries``, a module's ``num_queries``); tokens of that count computed inside a
  module named ``decoder`` are queries, with no grid (:attr:`Layout.QUERIES`).
- **Coarse grids.** LeViT's last stage is a true 4x4 grid of 56-pixel cells. Modules declare their
  grid (``resolution``, ``resolution_out``, ``grid_size``, ``feat_size``, ``patches_resolution``);
  a token count equal to a declared grid is that grid whatever the size of its cells.
- **Their own token order.** Hiera keeps its tokens "unrolled" so that pooling is a reshape; a
  stage's tokens in raster order would give column stripes. Its ``reroll(tokens, block)`` puts the
  tokens of block ``i`` back on their grid, and every layer inside ``blocks.i`` is read through it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from .reshape import Layout, layout_of, tokens_to_grid

__all__ = ["TokenSources", "token_sources"]

GRID_ATTRIBUTES = ("resolution", "resolution_out", "grid_size", "feat_size", "patches_resolution")


def _pair(value: Any) -> tuple[int, int] | None:
    if isinstance(value, int) and not isinstance(value, bool) and value > 1:
        return value, value
    if (
        isinstance(value, (tuple, list))
        and len(value) == 2
        and all(isinstance(v, int) and v > 0 for v in value)
        and value[0] * value[1] > 1
    ):
        return int(value[0]), int(value[1])
    return None


@dataclass(frozen=True)
class TokenSources:
    """What a model declares about its tokens (see the module docstring)."""

    queries: frozenset[int]
    grids: frozenset[tuple[int, int]]
    reroll: Callable | None = None

    def layout(self, name: str, output: Any, image_size: tuple[int, ...]) -> Layout | None:
        """:func:`~.reshape.layout_of`, corrected by what the model declares."""
        if self.is_queries(name, output):
            return Layout.QUERIES
        layout = layout_of(output, image_size)
        if layout is Layout.ANCHORS and self.declared_grid(output) is not None:
            return Layout.NLC
        return layout

    def is_queries(self, name: str, output: Any) -> bool:
        """Tokens of a declared query count computed inside a decoder."""
        return (isinstance(output, torch.Tensor) and output.ndim == 3 and int(output.shape[1]) in self.queries
                and any("decoder" in part for part in name.lower().split(".")))  # fmt: skip

    def declared_grid(self, output: Any) -> tuple[int, int] | None:
        """The declared grid whose cell count is the token count, if any."""
        if not (isinstance(output, torch.Tensor) and output.ndim == 3):
            return None
        return next((grid for grid in sorted(self.grids) if grid[0] * grid[1] == output.shape[1]), None)

    def transform(self, name: str, output: Any, image_size: tuple[int, ...]) -> Callable | None:
        """How layer ``name``'s token output becomes (B, C, h, w) when the shape rule would misread it
        (None: the shape rule reads it right); ValueError for object queries."""
        if self.is_queries(name, output):
            raise ValueError(
                f"layer {name!r} outputs {output.shape[1]} object queries of the decoder (the model declares {output.shape[1]} queries), "
                "not a grid of the image: explain the backbone or the encoder, whose tokens are places (suggest_target_layer finds one)"
            )
        reroll = self._reroll(name, output)
        if reroll is not None:
            return reroll
        grid = self.declared_grid(output)
        if grid is not None and layout_of(output, image_size) is Layout.ANCHORS:
            return lambda tokens: tokens_to_grid(tokens, *grid)
        return None

    def _reroll(self, name: str, output: Any) -> Callable | None:
        """Hiera's ``reroll`` for a layer inside ``blocks.i``: block i's order (its output), or block
        i - 1's (its input, before the block pools)."""
        match = re.match(r"(?:.*\.)?blocks\.(\d+)(?:\.|$)", name)
        if self.reroll is None or match is None or not isinstance(output, torch.Tensor) or output.ndim != 3:
            return None
        schedule = self.reroll.schedule
        block = int(match.group(1))
        for index in (block, block - 1):
            if index in schedule and math.prod(schedule[index][1]) == output.shape[1] and schedule[index][0]:
                return lambda tokens, index=index: self.reroll(tokens, index).permute(0, 3, 1, 2)
        return None


def token_sources(model: nn.Module) -> TokenSources:
    """Read what ``model`` declares about its tokens (see the module docstring)."""
    queries, grids = set(), set()
    config = getattr(model, "config", None)
    for source in [config, *model.modules()]:
        count = getattr(source, "num_queries", None)
        if isinstance(count, int) and not isinstance(count, bool) and count > 0:
            queries.add(count)
    for module in model.modules():
        for attribute in GRID_ATTRIBUTES:
            grid = _pair(module.__dict__.get(attribute))
            if grid is not None:
                grids.add(grid)
    reroll = getattr(model, "reroll", None)
    usable = isinstance(reroll, nn.Module) and isinstance(getattr(reroll, "schedule", None), dict)
    return TokenSources(frozenset(queries), frozenset(grids), reroll if usable else None)
