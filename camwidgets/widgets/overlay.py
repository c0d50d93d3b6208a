"""The overlay view: photo, heatmap and their blend on a canvas, with a value readout.

The kernel sends the photo (RGB) and the map (8-bit grey levels) once each, as binary buffers;
colormap, opacity and mode are applied in the browser (``js/overlay.js``) with the tables in
``colormap_tables``, so changing them needs no round trip. The formula is
:func:`~camwidgets.core.colormaps.compose_view`. Front end -> kernel: trait changes of
``opacity``, ``colormap``, ``mode``, ``theme`` (validated here; every other trait is the kernel's),
``{"type": "cancel", "id"}``, ``{"type": "pick_box", "id", "index"}`` (a drawn box was clicked) and
``{"type": "region", "id", "box": [x1, y1, x2, y2] | null}`` (a rectangle dragged on the image, in
image pixels, or cleared). The two last are checked for form here and for meaning by the explorer;
a refusal is answered with ``{"error"}`` and changes nothing.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import traitlets

from ..core.colormaps import COLORMAPS, MODES, colormap_tables
from .messages import MessageRouter, is_finite_number, require
from .parts import Part

__all__ = ["OverlayView"]


class OverlayView(Part):
    browser_writable = frozenset({"opacity", "colormap", "mode", "theme"})
    """Traits the front end may change; the others are the kernel's (a change from the browser is refused)."""

    kind = "overlay"

    width = traitlets.Int(0).tag(sync=True)
    """Width of the photo and map in pixels."""
    height = traitlets.Int(0).tag(sync=True)
    """Height of the photo and map in pixels."""
    photo = traitlets.Bytes(b"").tag(sync=True)
    """The photo as the model sees it: RGB uint8, ``height * width * 3`` bytes (a binary buffer)."""
    heatmap = traitlets.Bytes(b"").tag(sync=True)
    """The map as grey levels 0..255, ``height * width`` bytes (a binary buffer)."""
    value_range = traitlets.List(traitlets.Float(), default_value=[0.0, 1.0], minlen=2, maxlen=2).tag(sync=True)
    """Map values at grey levels 0 and 255 (the readout shows ``low + level / 255 * (high - low)``)."""
    revision = traitlets.Int(0).tag(sync=True)
    """Counts map updates."""
    colormap_names = traitlets.List(traitlets.Unicode(), default_value=list(COLORMAPS)).tag(sync=True)
    """Colormaps offered, in the order of ``colormap_tables``."""
    colormap_tables = traitlets.Bytes(b"").tag(sync=True)
    """``len(colormap_names)`` tables of 256 RGB entries, uint8."""
    colormap = traitlets.Enum(list(COLORMAPS), default_value="jet").tag(sync=True)
    """The colormap in use (set in the browser)."""
    opacity = traitlets.Float(0.5, min=0.0, max=1.0).tag(sync=True)
    """Share of the heatmap in the overlay blend, 0..1 (set in the browser)."""
    mode = traitlets.Enum(list(MODES), default_value="overlay").tag(sync=True)
    """'overlay', 'heatmap' or 'photo' (set in the browser)."""
    theme = traitlets.Enum(["light", "dark"], default_value="light").tag(sync=True)
    """The notebook's theme, as the browser reports it (charts are drawn in it)."""
    status = traitlets.Unicode("").tag(sync=True)
    """'method · layer(s) · target' of the map shown, or what is being computed."""
    error = traitlets.Unicode("").tag(sync=True)
    """The last error, for people; empty when the last change worked."""
    busy = traitlets.Bool(False).tag(sync=True)
    """True while a slow method runs (the progress bar and Cancel button show)."""
    stale = traitlets.Bool(False).tag(sync=True)
    """True while the map shown is the previous view's, a new one being computed (drawn dimmed)."""
    progress = traitlets.Float(0.0, min=0.0, max=1.0).tag(sync=True)
    """Fraction done of the slow method."""
    progress_label = traitlets.Unicode("").tag(sync=True)
    """What the slow method is doing; after a cancel, that it was cancelled (shown without the bar)."""
    annotations = traitlets.Dict(default_value={"boxes": [], "outlines": [], "region": None, "draw": ""}).tag(sync=True)
    """Drawn over the image, in its pixels: ``boxes`` ([{index, box: [x1, y1, x2, y2], label, chosen}],
    clickable), ``outlines`` (polygons as flat [x, y, ...] lists), ``region`` (a rectangle or None) and
    ``draw`` ('region': a drag on the unzoomed image proposes a rectangle)."""

    def __init__(
        self,
        on_cancel: Callable[[], None] | None = None,
        on_pick_box: Callable[[int], None] | None = None,
        on_region: Callable[[tuple[int, int, int, int] | None], None] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(colormap_tables=colormap_tables(), **kwargs)
        self._on_cancel, self._on_pick_box, self._on_region = on_cancel, on_pick_box, on_region
        self.router = MessageRouter(self, {"cancel": self._cancel, "pick_box": self._pick_box, "region": self._region})

    @traitlets.validate("opacity")
    def _finite_opacity(self, proposal: dict) -> float:
        if not math.isfinite(proposal["value"]):
            raise traitlets.TraitError("opacity must be a number from 0 to 1")
        return proposal["value"]

    def _cancel(self, content: dict) -> dict:
        if self._on_cancel is not None:
            self._on_cancel()
        return {}

    def _pick_box(self, content: dict) -> dict:
        index = require(content, "index", int)
        if not any(item.get("index") == index for item in self.annotations.get("boxes", [])):
            raise ValueError(f"no box {index} is drawn")
        if self._on_pick_box is not None:
            self._on_pick_box(index)
        return {}

    def _region(self, content: dict) -> dict:
        box = content.get("box")
        if box is not None:
            if not isinstance(box, list) or len(box) != 4 or not all(is_finite_number(v) for v in box):
                raise ValueError("message field 'box' must be four finite numbers [x1, y1, x2, y2] or null")
            if self.annotations.get("draw") != "region":
                raise ValueError("this view takes no rectangle")
        if self._on_region is not None:
            self._on_region(None if box is None else tuple(box))
        return {}

    def show(self, photo: np.ndarray, levels: np.ndarray, value_range: tuple[float, float], status: str) -> None:
        """Send a new photo (H, W, 3) uint8 and map (H, W) uint8 in one update."""
        height, width = levels.shape
        with self.hold_sync():
            self.width, self.height = int(width), int(height)
            self.photo = np.ascontiguousarray(photo, dtype=np.uint8).tobytes()
            self.heatmap = np.ascontiguousarray(levels, dtype=np.uint8).tobytes()
            self.value_range = [float(value_range[0]), float(value_range[1])]
            self.status = status
            self.error = ""
            self.revision += 1

    def saved_item(self, buffers: list[bytes], photo: np.ndarray, levels: np.ndarray) -> dict[str, Any]:
        """The traits that show ``photo`` and ``levels`` on a page without a kernel, the bytes appended
        to ``buffers`` and named by their index there."""
        buffers.append(np.ascontiguousarray(photo, dtype=np.uint8).tobytes())
        buffers.append(np.ascontiguousarray(levels, dtype=np.uint8).tobytes())
        height, width = np.asarray(levels).shape
        return {"photo": {"buffer": len(buffers) - 2}, "heatmap": {"buffer": len(buffers) - 1}, "width": int(width), "height": int(height)}  # fmt: skip

    def levels(self) -> np.ndarray:
        """The map shown, as (H, W) uint8."""
        return np.frombuffer(self.heatmap, dtype=np.uint8).reshape(self.height, self.width)
