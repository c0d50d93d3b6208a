"""Scenes with words: shapes of named colours, sizes and places on photos, and phrases that name them.

Each scene is a crop of a bundled photo (as ``camwidgets.data.scenes``) with one to ``max_objects``
shapes of ``shapes.CLASSES`` that do not overlap, each of one of :data:`COLOURS` (the one of them
farthest from the photo under it among three drawn, so that it can be seen), ``small`` or ``large``,
and in a place (``left``, ``right``, ``top``, ``bottom``: where its centre lies, by the larger offset
from the middle). No two objects of a scene share both colour and shape, so "a red circle" names at
most one object. :func:`phrase` words an object with a chosen set of its attributes; the vocabulary
is closed (:data:`VOCABULARY`).

>>> from camwidgets.data.captions import make_captioned_scenes, phrase
>>> scenes = make_captioned_scenes(2, size=96, seed=0)
>>> scenes.images.shape, phrase(scenes.objects[0][0], ("colour", "shape")).startswith("a ")
((2, 3, 96, 96), True)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .scenes import _background
from .shapes import CLASSES, _shape_mask

__all__ = [
    "COLOURS", "SIZES", "PLACES", "VOCABULARY", "SceneObject", "CaptionedScenes", "make_captioned_scenes", "phrase",
    "random_phrase",
]  # fmt: skip

#: The named colours, RGB 0-255.
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 30),
    "green": (40, 170, 60),
    "blue": (30, 70, 220),
    "yellow": (240, 215, 30),
    "white": (245, 245, 245),
    "black": (15, 15, 15),
}
#: Object extent (share of the side) of each size word.
SIZES: dict[str, tuple[float, float]] = {"small": (0.16, 0.24), "large": (0.30, 0.38)}
PLACES: tuple[str, ...] = ("left", "right", "top", "bottom")
#: Every word a phrase may use.
VOCABULARY: tuple[str, ...] = ("a", "on", "the", "at", *SIZES, *COLOURS, *CLASSES, *PLACES)


@dataclass(frozen=True)
class SceneObject:
    """One object of a scene: its shape, colour, size and place words, and its visible pixels (S, S)."""

    shape: str
    colour: str
    size: str
    place: str
    mask: np.ndarray


@dataclass(frozen=True)
class CaptionedScenes:
    """``images``: float32 (N, 3, S, S) in [0, 1], RGB; ``objects[i]``: scene i's objects."""

    images: np.ndarray
    objects: list[list[SceneObject]]

    def __len__(self) -> int:
        return int(self.images.shape[0])


def _place(mask: np.ndarray) -> str:
    rows, cols = np.nonzero(mask)
    dy, dx = rows.mean() / mask.shape[0] - 0.5, cols.mean() / mask.shape[1] - 0.5
    if abs(dx) >= abs(dy):
        return "left" if dx < 0 else "right"
    return "top" if dy < 0 else "bottom"


def _colour_for(rng: np.random.Generator, under: np.ndarray, taken: set[str], shape: str) -> str:
    """Of three colours drawn (not already used with this shape), the farthest from ``under``."""
    free = [name for name in COLOURS if (name, shape) not in taken]
    picks = rng.choice(len(free), size=min(3, len(free)), replace=False)
    return max((free[i] for i in picks), key=lambda name: float(np.linalg.norm(np.array(COLOURS[name]) - under)))


def make_captioned_scenes(count: int, size: int = 224, seed: int = 0, max_objects: int = 3) -> CaptionedScenes:
    """``count`` scenes of ``size`` x ``size`` pixels with 1 to ``max_objects`` shapes each; the same
    arguments always give the same scenes."""
    if int(count) < 1:
        raise ValueError(f"count must be at least 1; got {count!r}")
    if not 1 <= int(max_objects) <= 4:
        raise ValueError(f"max_objects must be from 1 to 4; got {max_objects!r}")
    rng = np.random.default_rng([int(seed), 1313])
    images = np.empty((int(count), 3, int(size), int(size)), np.float32)
    objects: list[list[SceneObject]] = []
    for i in range(int(count)):
        scene = _background(rng, int(size))
        occupied = np.zeros((size, size), bool)
        taken: set[tuple[str, str]] = set()
        placed: list[SceneObject] = []
        for _ in range(int(rng.integers(1, int(max_objects) + 1))):
            label = int(rng.integers(len(CLASSES)))
            size_word = str(rng.choice(list(SIZES)))
            for _attempt in range(30):  # a place free of the other objects (and a margin around them)
                mask = _shape_mask(rng, label, int(size), SIZES[size_word]).astype(bool)
                if not (_grown(mask) & occupied).any():
                    break
            else:
                continue
            colour = _colour_for(rng, scene[mask].astype(np.float32).mean(axis=0), taken, CLASSES[label])
            scene[mask] = COLOURS[colour]
            occupied |= mask
            taken.add((colour, CLASSES[label]))
            placed.append(SceneObject(CLASSES[label], colour, size_word, _place(mask), mask))
        images[i] = scene.transpose(2, 0, 1).astype(np.float32) / 255.0
        objects.append(placed)
    return CaptionedScenes(images=images, objects=objects)


def _grown(mask: np.ndarray, margin: int = 4) -> np.ndarray:
    """``mask`` grown by ``margin`` pixels each way (a box dilation)."""
    rows, cols = np.nonzero(mask)
    grown = np.zeros_like(mask)
    grown[
        max(rows.min() - margin, 0) : rows.max() + margin + 1, max(cols.min() - margin, 0) : cols.max() + margin + 1
    ] = True
    return grown


def phrase(item: SceneObject, attributes: Sequence[str] = ("size", "colour", "shape", "place")) -> str:
    """Words for ``item`` with the ``attributes`` named (the shape always): 'a small red circle on the left'."""
    words = ["a"]
    if "size" in attributes:
        words.append(item.size)
    if "colour" in attributes:
        words.append(item.colour)
    words.append(item.shape)
    if "place" in attributes:
        words += ["at", "the", item.place] if item.place in ("top", "bottom") else ["on", "the", item.place]
    return " ".join(words)


def random_phrase(rng: np.random.Generator, item: SceneObject) -> str:
    """A phrase naming ``item``'s shape, with its colour most of the time and its size and place each half the time."""
    attributes = (
        ["shape"] + (["colour"] if rng.random() < 0.85 else []) + [n for n in ("size", "place") if rng.random() < 0.5]
    )
    return phrase(item, attributes)
