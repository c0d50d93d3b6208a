"""Colour lookup tables shared by the browser and the PNG export, and the one view formula.

The kernel sends each map once as 8-bit grey levels ``m`` (0..255); the browser colours it with a
256-entry table and blends it over the photo, so that colormap, opacity and mode need no round
trip. :func:`compose_view` is the same formula in numpy, for exports:

- ``"heatmap"``: ``lut[m]``
- ``"overlay"``: ``floor((1 - opacity) * photo + opacity * lut[m] + 0.5)`` (float64, as in JS)
- ``"photo"``: ``photo``
"""

from __future__ import annotations

from functools import cache

import numpy as np

__all__ = ["COLORMAPS", "MODES", "colormap_table", "colormap_tables", "compose_view", "to_gray_levels"]

#: names offered in the widget -> matplotlib colormap names
COLORMAPS: dict[str, str] = {"jet": "jet", "turbo": "turbo", "viridis": "viridis", "inferno": "inferno", "grey": "gray"}
MODES = ("overlay", "heatmap", "photo")


@cache
def colormap_table(name: str) -> np.ndarray:
    """(256, 3) uint8 RGB table for one of :data:`COLORMAPS`."""
    if name not in COLORMAPS:
        raise ValueError(f"unknown colormap {name!r}; choose one of {', '.join(COLORMAPS)}")
    import matplotlib

    rgba = matplotlib.colormaps[COLORMAPS[name]](np.linspace(0.0, 1.0, 256))
    table = np.rint(rgba[:, :3] * 255).astype(np.uint8)
    table.setflags(write=False)
    return table


def colormap_tables() -> bytes:
    """All tables in :data:`COLORMAPS` order, concatenated: ``len(COLORMAPS) * 256 * 3`` bytes."""
    return b"".join(colormap_table(name).tobytes() for name in COLORMAPS)


def to_gray_levels(maps):
    """Maps in [0, 1] (a tensor on any device) -> uint8 grey levels ``round(255 * clamp(m, 0, 1))``
    (stays on the device; the caller makes the one host copy)."""
    import torch

    return (maps.clamp(0, 1) * 255).round().to(dtype=torch.uint8)


def compose_view(
    photo: np.ndarray, levels: np.ndarray, colormap: str = "jet", opacity: float = 0.5, mode: str = "overlay"
) -> np.ndarray:
    """The picture the widget shows: ``photo`` (H, W, 3) uint8 and ``levels`` (H, W) uint8 -> (H, W, 3) uint8."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}; got {mode!r}")
    if not 0.0 <= float(opacity) <= 1.0:
        raise ValueError(f"opacity must lie in [0, 1]; got {opacity!r}")
    if mode == "photo":
        return photo.copy()
    heat = colormap_table(colormap)[levels]
    if mode == "heatmap":
        return heat
    blend = (1.0 - float(opacity)) * photo.astype(np.float64) + float(opacity) * heat.astype(np.float64)
    return np.clip(np.floor(blend + 0.5), 0, 255).astype(np.uint8)  # rounds halves up, as Math.round does
