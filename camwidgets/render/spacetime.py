"""Still pictures of a volume's, a clip's or a signal's map: what a saved PNG, a notebook's static
output and an export show where the widget draws slices, frames or a plot.

* volume: the axial, coronal and sagittal slices through ``position`` (default: the middle),
  intensities through the window, side by side;
* clip: up to :data:`MAX_FRAMES` frames in a row (evenly spaced);
* signal: its drawing with the map as a band of colour below.
Each panel is the overlay's own blend (:func:`~camwidgets.core.colormaps.compose_view`).
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from ..core.colormaps import compose_view
from ..core.samples import signal_picture, window_of, windowed

__all__ = ["spacetime_picture", "MAX_FRAMES"]

MAX_FRAMES = 8
PANEL = 160  # a panel's height in pixels
GAP = 4
BAND = 12  # a signal's band of map colours, in pixels


def _side_by_side(panels: Sequence[np.ndarray]) -> np.ndarray:
    """Panels scaled to one height (nearest: cells stay sharp) and set in a row on white."""
    scaled = [
        cv2.resize(p, (max(1, round(p.shape[1] * PANEL / p.shape[0])), PANEL), interpolation=cv2.INTER_NEAREST)
        for p in panels
    ]
    width = sum(p.shape[1] for p in scaled) + GAP * (len(scaled) - 1)
    picture = np.full((PANEL, width, 3), 255, np.uint8)
    left = 0
    for panel in scaled:
        picture[:, left : left + panel.shape[1]] = panel
        left += panel.shape[1] + GAP
    return picture


def spacetime_picture(
    kind: str,
    item: np.ndarray,
    levels: np.ndarray,
    colormap: str = "jet",
    opacity: float = 0.5,
    mode: str = "overlay",
    position: Sequence[int] | None = None,
    window: Sequence[float] | None = None,
) -> np.ndarray:
    """(h, w, 3) uint8 picture of one item and its map's grey levels (see the module docstring)."""
    if kind == "volume":
        at = list(position) if position else [s // 2 for s in levels.shape]
        level, width = window if window else window_of(item)
        panels = []
        for axis in range(3):
            cut = tuple(at[axis] if a == axis else slice(None) for a in range(3))
            grey = windowed(item[cut], level, width)
            panels.append(compose_view(np.repeat(grey[..., None], 3, axis=-1), levels[cut], colormap, opacity, mode))
        return _side_by_side(panels)
    if kind == "clip":
        frames = np.unique(np.linspace(0, len(item) - 1, min(MAX_FRAMES, len(item))).round().astype(int))
        return _side_by_side([compose_view(item[t], levels[t], colormap, opacity, mode) for t in frames])
    if kind == "signal":
        drawing = signal_picture(item)
        band = np.repeat(levels[None, :], BAND, axis=0)
        shown = compose_view(drawing, np.repeat(levels[None, :], drawing.shape[0], axis=0), colormap, opacity, mode)
        strip = compose_view(np.full((BAND, len(levels), 3), 255, np.uint8), band, colormap, 1.0, "heatmap")
        return np.concatenate([shown, np.full((2, len(levels), 3), 255, np.uint8), strip])
    raise ValueError(f"kind must be 'volume', 'clip' or 'signal'; got {kind!r}")
