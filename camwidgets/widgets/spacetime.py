"""The map view of a volume, a clip or a signal (``js/spacetime.js``).

As :class:`~camwidgets.widgets.overlay.OverlayView` (whose mode, colormap, opacity, notices,
progress and Cancel it keeps), but the kernel sends a whole item at once: ``sample`` (a volume's
intensities, float32 (D, H, W); a clip's frames, RGB uint8 (T, H, W, 3); a signal, float32 (C, L))
and ``heatmap`` (the map's grey levels, uint8, one per position). Which slice, frame or interval
is shown is the browser's business: ``position`` ([d, h, w] the crosshair; [t] the frame; [start,
end) the samples shown), ``window`` ([level, width] of a volume's intensities) and ``projection``
('slice' or 'mip') are written there and checked here.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import traitlets

from ..core.samples import window_of
from .overlay import OverlayView

__all__ = ["SpaceTimeView", "SAMPLE_KINDS"]

SAMPLE_KINDS = ("volume", "clip", "signal")


class SpaceTimeView(OverlayView):
    browser_writable = OverlayView.browser_writable | {"position", "window", "projection"}
    """Traits the front end may change; the others are the kernel's."""

    kind = "spacetime"

    sample_kind = traitlets.Enum(list(SAMPLE_KINDS), default_value="volume").tag(sync=True)
    """What is shown: 'volume', 'clip' or 'signal' (fixed for a view)."""
    shape = traitlets.List(traitlets.Int(), default_value=[]).tag(sync=True)
    """The map's shape: (D, H, W), (T, H, W), or (C, L) for a signal (its channels, its length)."""
    sample = traitlets.Bytes(b"").tag(sync=True)
    """The item (a binary buffer): float32 intensities, RGB uint8 frames or float32 channels."""
    position = traitlets.List(traitlets.Int(), default_value=[]).tag(sync=True)
    """The crosshair [d, h, w], the frame [t], or the samples shown [start, end) (set in the browser)."""
    window = traitlets.List(traitlets.Float(), default_value=[0.5, 1.0], minlen=2, maxlen=2).tag(sync=True)
    """A volume's intensity window [level, width] (set in the browser; reset for each new volume)."""
    projection = traitlets.Enum(["slice", "mip"], default_value="slice").tag(sync=True)
    """A volume's views: slices through the crosshair, or maximum intensity projections."""
    spacing = traitlets.List(traitlets.Float(), default_value=[1.0, 1.0, 1.0], minlen=3, maxlen=3).tag(sync=True)
    """A volume's voxel size along (D, H, W) (a NIfTI file's zooms): each slice is drawn with the
    aspect of its physical extent."""

    def __init__(self, sample_kind: str, **kwargs: Any) -> None:
        super().__init__(sample_kind=sample_kind, **kwargs)
        self._item_key: Any = None

    @traitlets.validate("position")
    def _position_inside(self, proposal: dict) -> list[int]:
        position, shape = list(proposal["value"]), list(self.shape)
        if not shape:
            return position
        if self.sample_kind == "signal":
            length = shape[1]
            if len(position) != 2 or not 0 <= position[0] < position[1] <= length:
                raise traitlets.TraitError(f"position must be [start, end) with 0 <= start < end <= {length}")
        elif self.sample_kind == "clip":
            if len(position) != 1 or not 0 <= position[0] < shape[0]:
                raise traitlets.TraitError(f"position must be [frame] with 0 <= frame < {shape[0]}")
        elif len(position) != 3 or not all(0 <= p < s for p, s in zip(position, shape)):
            raise traitlets.TraitError(f"position must be [d, h, w] inside {tuple(shape)}")
        return position

    @traitlets.validate("window")
    def _window_width_positive(self, proposal: dict) -> list[float]:
        level, width = proposal["value"]
        if not (np.isfinite(level) and np.isfinite(width) and width > 0):
            raise traitlets.TraitError("window must be [level, width] with a finite level and a positive width")
        return [float(level), float(width)]

    def show(self, item: np.ndarray, levels: np.ndarray, value_range: tuple[float, float], status: str) -> None:
        """Send an item (a volume (D, H, W), frames (T, H, W, 3) or a signal (C, L)) and its map's grey
        levels ((D, H, W), (T, H, W), (L,)) in one update. A new item starts at its middle slice or
        frame, the whole signal and its own intensity window; a new map of the same item keeps them."""
        shape = self._shape(item, levels)
        key = (item.__array_interface__["data"][0], tuple(shape))  # the same item, whatever view of it
        with self.hold_sync():
            if key != self._item_key or list(self.shape) != shape:
                self.shape = shape
                self.sample = self._sample_bytes(item)
                for name, value in self._start(shape, item).items():
                    setattr(self, name, value)
                self._item_key = key
            self.width, self.height = (shape[-1], 1) if self.sample_kind == "signal" else (shape[-1], shape[-2])
            self.heatmap = np.ascontiguousarray(levels, dtype=np.uint8).tobytes()
            self.value_range = [float(value_range[0]), float(value_range[1])]
            self.status = status
            self.error = ""
            self.revision += 1

    def saved_item(self, buffers: list[bytes], item: np.ndarray, levels: np.ndarray) -> dict[str, Any]:
        """As :meth:`OverlayView.saved_item`: the item and its map from their start (middle slice or
        frame, the whole signal, the volume's own window)."""
        shape = self._shape(item, levels)
        buffers.append(self._sample_bytes(item))
        buffers.append(np.ascontiguousarray(levels, dtype=np.uint8).tobytes())
        return {"sample": {"buffer": len(buffers) - 2}, "heatmap": {"buffer": len(buffers) - 1}, "shape": shape,
                **self._start(shape, item)}  # fmt: skip

    def _shape(self, item: np.ndarray, levels: np.ndarray) -> list[int]:
        """The ``shape`` trait of an item: its map's, a signal's (C, L)."""
        return [int(s) for s in (item.shape if self.sample_kind == "signal" else levels.shape)]

    def _sample_bytes(self, item: np.ndarray) -> bytes:
        """The ``sample`` buffer: a clip's frames as uint8, anything else as float32."""
        return np.ascontiguousarray(item, dtype=np.uint8 if self.sample_kind == "clip" else np.float32).tobytes()

    def _start(self, shape: list[int], item: np.ndarray) -> dict[str, Any]:
        """Where a new item's view starts: the middle slice or frame, the whole signal, and a volume's
        own intensity window."""
        if self.sample_kind == "signal":
            return {"position": [0, shape[1]]}
        if self.sample_kind == "clip":
            return {"position": [shape[0] // 2]}
        return {"position": [s // 2 for s in shape], "window": list(window_of(item))}

    def levels(self) -> np.ndarray:
        """The map shown, as uint8 of the map's shape ((L,) for a signal)."""
        shape = (self.shape[1],) if self.sample_kind == "signal" else tuple(self.shape)
        return np.frombuffer(self.heatmap, dtype=np.uint8).reshape(shape)
