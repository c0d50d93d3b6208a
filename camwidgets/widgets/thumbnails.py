"""A strip, a wrapping grid or a labelled grid of small pictures that can be clicked: the image
gallery, the layer sweep and the compare grid.

Pixels travel as one binary buffer of ``len(item_keys) * size * size * 3`` RGB bytes. Front end ->
kernel: ``{"type": "pick", "id", "key"}``, accepted only for one of ``item_keys``; the front end
cannot change any trait.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import traitlets

from .messages import MessageRouter, require
from .parts import Part

__all__ = ["ThumbnailGrid"]


class ThumbnailGrid(Part):
    browser_writable = frozenset()
    """Traits the front end may change; the others are the kernel's (a change from the browser is refused)."""

    kind = "thumbs"

    testid = traitlets.Unicode("cw-thumbnails").tag(sync=True)
    """``data-testid`` of the root element."""
    item_testid = traitlets.Unicode("cw-thumbnail").tag(sync=True)
    """``data-testid`` of each item (items also carry ``data-path`` = their key)."""
    title = traitlets.Unicode("").tag(sync=True)
    """Heading shown above the pictures."""
    item_keys = traitlets.List(traitlets.Unicode()).tag(sync=True)
    """One key per picture (a layer path, an image index, ...). Not ``keys``: ipywidgets uses that name
    for the list of synced traits, and overriding it syncs nothing."""
    captions = traitlets.List(traitlets.Unicode()).tag(sync=True)
    """One caption per picture."""
    row_labels = traitlets.List(traitlets.Unicode()).tag(sync=True)
    """Labels of the rows of a grid (empty for a strip)."""
    column_labels = traitlets.List(traitlets.Unicode()).tag(sync=True)
    """Labels of the columns of a grid."""
    columns = traitlets.Int(0, min=0).tag(sync=True)
    """Pictures per row; 0 for one strip (or, with ``wrap``, as many as fit)."""
    wrap = traitlets.Bool(False).tag(sync=True)
    """With ``columns`` 0: the pictures wrap onto as many rows as they need (scrolling down past
    about three rows, ``widgets.css``) instead of one strip scrolling sideways."""
    size = traitlets.Int(64, min=1).tag(sync=True)
    """Side of each (square) picture in pixels."""
    pixels = traitlets.Bytes(b"").tag(sync=True)
    """All pictures, RGB uint8, one after another."""
    selected = traitlets.Unicode("").tag(sync=True)
    """Key of the highlighted picture ('' for none)."""
    message = traitlets.Unicode("").tag(sync=True)
    """A note or error shown instead of (or above) the pictures."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.router = MessageRouter(self, {"pick": self._on_pick})

    @traitlets.validate("selected")
    def _known_key(self, proposal: dict) -> str:
        if proposal["value"] and proposal["value"] not in self.item_keys:
            raise traitlets.TraitError(f"{proposal['value'][:80]!r} is not one of the pictures")
        return proposal["value"]

    def _on_pick(self, content: dict) -> dict:
        key = require(content, "key", str)
        if key not in self.item_keys:
            raise ValueError(f"{key[:80]!r} is not one of the pictures")
        self.selected = key
        return {"selected": key}

    def set_pictures(
        self, keys: Sequence[str], pictures: np.ndarray, captions: Sequence[str] | None = None, **labels: Any
    ) -> None:
        """Replace the pictures: ``pictures`` (N, size, size, 3) uint8, one per key."""
        if pictures.ndim != 4 or pictures.shape[0] != len(keys) or pictures.shape[1] != pictures.shape[2]:
            raise ValueError(f"pictures must be (N, size, size, 3) with N = {len(keys)}; got {pictures.shape}")
        with self.hold_sync():
            if self.selected not in keys:
                self.selected = ""
            self.item_keys = list(keys)
            self.captions = list(captions) if captions is not None else [""] * len(keys)
            self.size = int(pictures.shape[1])
            self.pixels = np.ascontiguousarray(pictures, dtype=np.uint8).tobytes()
            self.message = ""
            for name, value in labels.items():
                setattr(self, name, value)
