"""Shapes with a planted shortcut: a small marker that most images of one class carry.

A model trained on such data can score well while looking at the marker instead of the shape, the
"right for the wrong reason" failure that class activation maps are meant to expose. The marker is
an 8 x 8 pixel black-and-white checkerboard (at 64 px images; it scales with the image) placed where
it does not touch the object, so the object mask and the marker mask never overlap.

>>> from camwidgets.data.shortcut import make_shortcut_shapes
>>> batch = make_shortcut_shapes(8, seed=0, marked="shortcut")
>>> batch.markers.shape, bool((batch.markers & batch.masks).any())
((8, 64, 64), False)

Splits used by ``bench/train_shortcut_cnn.py`` and ``notebooks/09_debugging_a_dataset.ipynb``:
``marked="shortcut"`` (the training distribution: ``rate`` of the shortcut class's images are
marked, no other image is), ``marked="others"`` (the marker moved: every image of the other
classes is marked and none of the shortcut class) and ``marked="none"``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .shapes import CLASSES, ShapesBatch, make_shapes

__all__ = ["SHORTCUT_CLASS", "MARKED", "ShortcutBatch", "make_shortcut_shapes", "stamp_marker"]

#: The class whose images carry the marker in the training data.
SHORTCUT_CLASS: str = "square"
#: Which images a split marks.
MARKED = ("shortcut", "others", "none")
#: Share of the shortcut class's training images that carry the marker.
DEFAULT_RATE = 0.9
#: Marker side as a fraction of the image side (8 px at 64 px).
_MARKER_SIDE = 0.125
#: Smallest gap, in pixels at 64 px, between the marker and the object's box.
_GAP = 2


@dataclass(frozen=True)
class ShortcutBatch(ShapesBatch):
    """A :class:`~camwidgets.data.shapes.ShapesBatch` with ``markers``: bool (N, S, S), the marker's
    pixels (all False on an unmarked image), and ``marked``: bool (N,)."""

    markers: np.ndarray = None  # type: ignore[assignment]
    marked: np.ndarray = None  # type: ignore[assignment]


def stamp_marker(image: np.ndarray, box: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Draw the marker on ``image`` (3, S, S) float in [0, 1], in place, at a random spot at least
    ``_GAP`` pixels clear of ``box`` (x1, y1, x2, y2); returns its (S, S) bool mask."""
    size = image.shape[-1]
    side = max(4, int(round(_MARKER_SIDE * size)) // 2 * 2)
    gap = max(1, int(round(_GAP * size / 64)))
    x1, y1, x2, y2 = (int(v) for v in box)
    spots = [
        (x, y)
        for y in range(size - side + 1)
        for x in range(size - side + 1)
        if x + side + gap <= x1 or x >= x2 + gap or y + side + gap <= y1 or y >= y2 + gap
    ]
    if not spots:  # the object fills the image: no room for a marker that does not touch it
        return np.zeros((size, size), bool)
    x, y = spots[int(rng.integers(len(spots)))]
    half = side // 2
    cells = np.kron(np.array([[1.0, 0.0], [0.0, 1.0]]), np.ones((half, half)))
    image[:, y : y + side, x : x + side] = cells
    mask = np.zeros((size, size), bool)
    mask[y : y + side, x : x + side] = True
    return mask


def make_shortcut_shapes(
    count: int, size: int = 64, seed: int = 0, marked: str = "shortcut", rate: float = DEFAULT_RATE
) -> ShortcutBatch:
    """``make_shapes(count, size, seed)`` with the marker stamped on the images that ``marked``
    names (see the module docstring); the same arguments always give the same arrays."""
    if marked not in MARKED:
        raise ValueError(f"marked must be one of {', '.join(MARKED)}; got {marked!r}")
    if not 0.0 <= float(rate) <= 1.0:
        raise ValueError(f"rate must be a share from 0 to 1; got {rate!r}")
    batch = make_shapes(count, size, seed)
    rng = np.random.default_rng([int(seed), 9173])
    shortcut = CLASSES.index(SHORTCUT_CLASS)
    draws = rng.random(len(batch))
    if marked == "shortcut":
        chosen = (batch.labels == shortcut) & (draws < float(rate))
    elif marked == "others":
        chosen = batch.labels != shortcut
    else:
        chosen = np.zeros(len(batch), bool)
    images = batch.images.copy()
    markers = np.zeros_like(batch.masks)
    for row in np.flatnonzero(chosen):
        markers[row] = stamp_marker(images[row], batch.boxes[row], rng)
    return ShortcutBatch(
        images=images,
        labels=batch.labels,
        masks=batch.masks,
        boxes=batch.boxes,
        markers=markers,
        marked=markers.any(axis=(1, 2)),
    )
