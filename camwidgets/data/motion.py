"""Synthetic clips whose class is the shape that moves: where and when the evidence is, exactly.

Each clip (``FRAMES`` RGB frames of ``size`` px on a noisy, flickering background) shows two
shapes of one colour, of two different kinds out of ``CLASSES`` (circle, square, triangle, cross,
as in ``camwidgets.data.shapes``). One stays still the whole clip; the other rests, then slides in
a random direction for a few consecutive frames, then rests again. The class is the moving
shape's kind, so the evidence is that shape (where) while it moves (when); the still one is a
distractor that looks just as much like a class. Per-frame masks of the mover and the frames where
it moves come with every clip.

>>> from camwidgets.data.motion import make_motion_clips
>>> batch = make_motion_clips(4, seed=0)
>>> batch.clips.shape, batch.labels.shape, batch.masks.shape, batch.moving.shape
((4, 3, 8, 32, 32), (4,), (4, 8, 32, 32), (4, 8))
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .batch_rows import BatchRows
from .shapes import CLASSES, _shape_mask

__all__ = ["CLASSES", "FRAMES", "MotionBatch", "MotionDataset", "make_motion_clips"]

#: Frames per clip.
FRAMES = 8
#: Frames during which the mover moves (consecutive), and its step per frame in pixels.
_MOVING_FRAMES = 3
_STEP = 2
#: Unit steps (rows, columns) the mover may take.
_DIRECTIONS = ((0, -1), (0, 1), (-1, 0), (1, 0))
#: A shape's extent as a share of the frame's side.
_SCALE_RANGE = (0.25, 0.35)


@dataclass(frozen=True)
class MotionBatch:
    """Generated clips with their ground truth.

    ``clips``: float32 (N, 3, T, S, S) in [0, 1]. ``labels``: int64 (N,), the moving shape's index into CLASSES.
    ``masks``: bool (N, T, S, S), the mover's pixels in each frame. ``still``: bool (N, S, S), the
    distractor's pixels. ``moving``: bool (N, T), the frames that show the mover displaced from
    where it was in the frame before."""

    clips: np.ndarray
    labels: np.ndarray
    masks: np.ndarray
    still: np.ndarray
    moving: np.ndarray

    def __len__(self) -> int:
        return int(self.labels.shape[0])


class MotionDataset(BatchRows):
    """The clips of a :class:`MotionBatch` as :func:`~camwidgets.explain_dataset` reads them:
    ``{"image": (3, T, S, S) float32, "label", "path": "motion/NNNNN"}``."""

    classes = list(CLASSES)
    field = "clips"
    prefix = "motion"


def _shift(mask: np.ndarray, rows: int, columns: int) -> np.ndarray:
    """``mask`` moved by (rows, columns) pixels (what leaves the frame is dropped)."""
    size = mask.shape[0]
    moved = np.zeros_like(mask)
    source = mask[max(-rows, 0) : size - max(rows, 0), max(-columns, 0) : size - max(columns, 0)]
    moved[max(rows, 0) : max(rows, 0) + source.shape[0], max(columns, 0) : max(columns, 0) + source.shape[1]] = source
    return moved


def _clip_layout(rng: np.random.Generator, size: int, label: int) -> tuple[list[np.ndarray], np.ndarray, int]:
    """The mover's mask in each frame, the still shape's mask and the first moving frame: the
    mover's path inside the frame, the still shape clear of it by two pixels."""
    while True:
        start = int(rng.integers(1, FRAMES - _MOVING_FRAMES))  # the first frame that shows it moved
        dy, dx = _DIRECTIONS[int(rng.integers(len(_DIRECTIONS)))]
        first = _shape_mask(rng, label, size, _SCALE_RANGE).astype(bool)
        steps = [min(max(t - start + 1, 0), _MOVING_FRAMES) for t in range(FRAMES)]
        path = [_shift(first, dy * _STEP * k, dx * _STEP * k) for k in steps]
        if any(p.sum() != first.sum() for p in path):
            continue  # part of the path leaves the frame
        other = int(rng.choice([k for k in range(len(CLASSES)) if k != label]))
        still = _shape_mask(rng, other, size, _SCALE_RANGE).astype(bool)
        swept = cv2.dilate(np.any(path, axis=0).astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
        if not (swept & still).any():
            return path, still, start


def make_motion_clips(count: int, size: int = 32, seed: int = 0) -> MotionBatch:
    """``count`` clips of FRAMES frames of ``size`` px, deterministic for a seed (see the module docstring)."""
    rng = np.random.default_rng(seed)
    clips = np.empty((count, 3, FRAMES, size, size), dtype=np.float32)
    labels = rng.integers(0, len(CLASSES), size=count).astype(np.int64)
    masks = np.zeros((count, FRAMES, size, size), dtype=bool)
    still = np.zeros((count, size, size), dtype=bool)
    moving = np.zeros((count, FRAMES), dtype=bool)
    for index in range(count):
        path, still[index], start = _clip_layout(rng, size, int(labels[index]))
        colour = rng.uniform(0.55, 1.0, size=3).astype(np.float32)
        base = rng.uniform(0.15, 0.35, size=(3, 1, 1)).astype(np.float32)
        for t, mask in enumerate(path):
            frame = base + rng.normal(0.0, 0.06, size=(3, size, size)).astype(np.float32)
            frame += rng.normal(0.0, 0.03)  # flicker: the whole frame brightens or dims
            masks[index, t] = mask
            for shape in (mask, still[index]):
                frame[:, shape] = colour[:, None] + rng.normal(0.0, 0.03, size=(3, int(shape.sum()))).astype(np.float32)
            clips[index, :, t] = np.clip(frame, 0.0, 1.0)
        moving[index, start : start + _MOVING_FRAMES] = True
    return MotionBatch(clips, labels, masks, still, moving)
