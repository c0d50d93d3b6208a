"""Multi-object scenes with exact ground truth, for detectors and segmenters.

Each scene is a crop of one of the bundled photos (``camwidgets.data.photo_names()``), resized to
``size`` x ``size`` and maybe mirrored, with one to ``max_objects`` filled shapes of the classes of
``camwidgets.data.shapes`` drawn on it. Shapes may overlap: a later one hides what it covers of an
earlier one, and the masks say what is visible (a shape left as a sliver of under 40 pixels is no
instance, though ``class_masks`` still gives its pixels its class). Each shape's colour is far from the photo's mean
colour under it, so the objects can be seen.

>>> from camwidgets.data.scenes import make_scenes
>>> scenes = make_scenes(2, size=128, seed=0)
>>> scenes.images.shape, scenes.class_masks.shape, len(scenes.boxes[0]) == len(scenes.labels[0])
((2, 3, 128, 128), (2, 128, 128), True)
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import cv2
import numpy as np

from . import load_photo, photo_names
from .shapes import CLASSES, _object_colour, _shape_mask, tight_box

__all__ = ["SCENE_CLASSES", "ScenesBatch", "make_scenes", "scene_targets"]

#: Class names of the segmentation output: index 0 is the background, then the shapes.
SCENE_CLASSES: tuple[str, ...] = ("background", *CLASSES)
#: Object extent as a share of the scene's side.
_SCALE_RANGE = (0.16, 0.36)
#: A shape left with fewer visible pixels than this (at 224 px; scaled with the area) is no instance
#: (a sliver no one could name); its pixels still carry its class in ``class_masks``.
_MIN_PIXELS = 40


@dataclass(frozen=True)
class ScenesBatch:
    """Scenes with their ground truth. ``images``: float32 (N, 3, S, S) in [0, 1], RGB.
    ``class_masks``: int64 (N, S, S), 0 for background, ``1 + shape label`` on an object.
    Per scene i: ``labels[i]`` int64 (k,) shape labels (indices into ``CLASSES``; add 1 for
    ``SCENE_CLASSES``), ``masks[i]`` bool (k, S, S) each object's visible pixels and ``boxes[i]``
    float32 (k, 4) their tight boxes ``(x1, y1, x2, y2)`` (x2, y2 exclusive)."""

    images: np.ndarray
    class_masks: np.ndarray
    labels: list[np.ndarray]
    masks: list[np.ndarray]
    boxes: list[np.ndarray]

    def __len__(self) -> int:
        return int(self.images.shape[0])


@cache
def _photo(name: str) -> np.ndarray:
    photo = load_photo(name)
    photo.setflags(write=False)
    return photo


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    """A uint8 (S, S, 3) square crop of a bundled photo, its side 50-100% of the photo's shorter side."""
    names = photo_names()
    photo = _photo(names[int(rng.integers(len(names)))])
    height, width = photo.shape[:2]
    side = int(rng.uniform(0.5, 1.0) * min(height, width))
    top, left = int(rng.integers(0, height - side + 1)), int(rng.integers(0, width - side + 1))
    crop = cv2.resize(photo[top : top + side, left : left + side], (size, size), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(crop[:, ::-1]) if rng.random() < 0.5 else crop


def make_scenes(count: int, size: int = 224, seed: int = 0, max_objects: int = 4) -> ScenesBatch:
    """``count`` scenes of ``size`` x ``size`` pixels with 1 to ``max_objects`` shapes each (classes
    drawn uniformly); the same arguments always give the same arrays."""
    if int(count) < 1:
        raise ValueError(f"count must be at least 1; got {count!r}")
    if int(size) < 64:
        raise ValueError(f"size must be at least 64 pixels; got {size!r}")
    if not 1 <= int(max_objects) <= 8:
        raise ValueError(f"max_objects must be from 1 to 8; got {max_objects!r}")
    count, size = int(count), int(size)
    rng = np.random.default_rng([int(seed), 4242])
    min_pixels = _MIN_PIXELS * (size / 224) ** 2
    images = np.empty((count, 3, size, size), np.float32)
    class_masks = np.zeros((count, size, size), np.int64)
    labels, masks, boxes = [], [], []
    for i in range(count):
        scene = _background(rng, size)
        owner = np.full((size, size), -1, np.int64)  # which object each pixel shows (-1: the photo)
        drawn: list[tuple[int, np.ndarray]] = []
        for _ in range(int(rng.integers(1, int(max_objects) + 1))):
            label = int(rng.integers(len(CLASSES)))
            shape = _shape_mask(rng, label, size, _SCALE_RANGE).astype(bool)
            scene[shape] = _object_colour(rng, scene[shape].astype(np.float32).mean(axis=0))
            owner[shape] = len(drawn)
            drawn.append((label, shape))
        visible = [(label, owner == index) for index, (label, _) in enumerate(drawn)]
        for label, mask in visible:
            class_masks[i][mask] = label + 1
        kept = [(label, mask) for label, mask in visible if mask.sum() >= min_pixels] or visible[
            -1:
        ]  # the last drawn is whole
        images[i] = scene.transpose(2, 0, 1).astype(np.float32) / 255.0
        labels.append(np.array([label for label, _ in kept], np.int64))
        masks.append(np.stack([mask for _, mask in kept]))
        boxes.append(np.stack([tight_box(mask) for _, mask in kept]))
    return ScenesBatch(images=images, class_masks=class_masks, labels=labels, masks=masks, boxes=boxes)


def scene_targets(scenes: ScenesBatch) -> list[dict[str, np.ndarray]]:
    """The scenes' ground truth as torchvision's detection models take it, one dict per scene:
    ``boxes`` float32 (k, 4) and ``labels`` int64 (k,) in ``SCENE_CLASSES`` numbering (1 + shape)."""
    return [{"boxes": boxes, "labels": labels + 1} for boxes, labels in zip(scenes.boxes, scenes.labels)]
