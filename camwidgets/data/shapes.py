"""A deterministic synthetic data set with exact ground truth: one shape per image.

Each image holds one filled shape (circle, square, triangle or cross) of a single colour on a
textured background (low-frequency colour noise plus stripes). Because the shape is drawn from a
pixel mask, the mask is exact, which makes the set useful for checking where a CAM points
(``camwidgets.metrics.pointing_game`` and friends).

>>> from camwidgets.data.shapes import make_shapes, normalise, CLASSES
>>> batch = make_shapes(8, size=64, seed=0)
>>> batch.images.shape, batch.labels.shape, batch.masks.shape, batch.boxes.shape
((8, 3, 64, 64), (8,), (8, 64, 64), (8, 4))
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import torch

__all__ = ["CLASSES", "MEAN", "STD", "ShapesBatch", "ShapesDataset", "make_shapes", "normalise", "preprocess"]

#: Class names, in label order.
CLASSES: tuple[str, ...] = ("circle", "square", "triangle", "cross")

#: Per-channel mean and standard deviation of the generated images (RGB, [0, 1] scale), measured
#: once on ``make_shapes(2000, seed=1)`` and fixed here so that training and evaluation agree.
MEAN: tuple[float, float, float] = (0.499, 0.498, 0.499)
STD: tuple[float, float, float] = (0.203, 0.203, 0.202)

#: Smallest and largest object extent, as a fraction of the image side.
_SCALE_RANGE = (0.20, 0.45)
#: Smallest RGB (0-255) distance between the object's colour and the mean background under it.
_MIN_CONTRAST = 110.0


@dataclass(frozen=True)
class ShapesBatch:
    """Generated images with their ground truth.

    ``images``: float32 (N, 3, S, S) in [0, 1], RGB. ``labels``: int64 (N,), indices into
    ``CLASSES``. ``masks``: bool (N, S, S), the object's exact pixels. ``boxes``: float32 (N, 4),
    ``(x1, y1, x2, y2)`` in pixels, the tight box of the mask (x2, y2 exclusive).
    """

    images: np.ndarray
    labels: np.ndarray
    masks: np.ndarray
    boxes: np.ndarray

    def __len__(self) -> int:
        return int(self.labels.shape[0])


def normalise(images: Any) -> torch.Tensor:
    """``(x - MEAN) / STD`` per channel, for (N, 3, H, W) or (3, H, W) images in [0, 1] (numpy or
    torch); returns a float32 tensor."""
    x = torch.as_tensor(np.asarray(images) if not isinstance(images, torch.Tensor) else images).to(torch.float32)
    if x.ndim not in (3, 4) or x.shape[-3] != 3:
        raise ValueError(f"images must have shape (N, 3, H, W) or (3, H, W); got {tuple(x.shape)}")
    mean = torch.tensor(MEAN, dtype=torch.float32, device=x.device).view(3, 1, 1)
    std = torch.tensor(STD, dtype=torch.float32, device=x.device).view(3, 1, 1)
    return (x - mean) / std


def preprocess(image: Any) -> torch.Tensor:
    """A PIL image or (H, W, 3) uint8 array -> ``normalise``d (3, H, W) float32: what the shapes
    models take, as a ``preprocess`` for :func:`~camwidgets.explain_dataset` and the explorer."""
    array = np.asarray(image.convert("RGB") if hasattr(image, "convert") else image, dtype=np.float32) / 255.0
    return normalise(array.transpose(2, 0, 1))


class ShapesDataset(torch.utils.data.Dataset):
    """The rows of a :class:`ShapesBatch` as :func:`~camwidgets.explain_dataset` reads them:
    ``{"image": (S, S, 3) uint8, "label", "mask", "path": "shapes/NNNNN"}`` (use ``preprocess``)."""

    classes = list(CLASSES)

    def __init__(self, batch: ShapesBatch) -> None:
        self.batch = batch

    def __len__(self) -> int:
        return len(self.batch)

    def __getitem__(self, index: int) -> dict[str, Any]:
        image = np.round(self.batch.images[index].transpose(1, 2, 0) * 255.0).astype(np.uint8)
        return {
            "image": image,
            "label": int(self.batch.labels[index]),
            "mask": self.batch.masks[index],
            "path": f"shapes/{index:05d}",
        }


def tight_box(mask: np.ndarray) -> np.ndarray:
    """The tight box ``(x1, y1, x2, y2)`` of a non-empty (S, S) mask, float32, x2 and y2 exclusive."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    return np.array([cols[0], rows[0], cols[-1] + 1, rows[-1] + 1], np.float32)


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    """A uint8 (S, S, 3) textured background: smooth colour noise plus oriented stripes."""
    cells = int(rng.integers(3, 6))
    coarse = rng.uniform(0.0, 255.0, size=(cells, cells, 3)).astype(np.float32)
    noise = cv2.resize(coarse, (size, size), interpolation=cv2.INTER_CUBIC)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    theta = rng.uniform(0.0, np.pi)
    period = rng.uniform(5.0, 16.0)
    phase = rng.uniform(0.0, 2 * np.pi)
    wave = np.sin(2 * np.pi * (xx * np.cos(theta) + yy * np.sin(theta)) / period + phase)
    stripe_colour = rng.uniform(-1.0, 1.0, size=3).astype(np.float32)
    amplitude = rng.uniform(15.0, 50.0)
    image = 0.7 * noise + 0.3 * 128.0 + amplitude * wave[..., None] * stripe_colour
    return np.clip(image, 0, 255).astype(np.uint8)


def _rotate(points: np.ndarray, angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return points @ np.array([[c, s], [-s, c]], dtype=np.float64)


def _shape_mask(
    rng: np.random.Generator, label: int, size: int, scale_range: tuple[float, float] = _SCALE_RANGE
) -> np.ndarray:
    """A uint8 (S, S) mask (1 inside) of one shape at a random position, scale (extent a share of
    the side in ``scale_range``) and rotation."""
    extent = rng.uniform(*scale_range) * size
    half = extent / 2.0
    margin = half + 1.0
    cx, cy = rng.uniform(margin, size - margin, size=2)
    angle = rng.uniform(-np.pi / 6, np.pi / 6)
    mask = np.zeros((size, size), dtype=np.uint8)
    if label == 0:  # circle
        cv2.circle(
            mask, (int(round(cx)), int(round(cy))), max(2, int(round(half))), 1, thickness=-1, lineType=cv2.LINE_8
        )
        return mask
    if label == 1:  # square, side 0.8 of the extent, so its rotated size stays close to the extent
        h = half * 0.8
        points = np.array([[-h, -h], [h, -h], [h, h], [-h, h]])
    elif label == 2:  # triangle (equilateral, pointing up before rotation)
        points = np.array([[0.0, -half], [half * 0.95, half * 0.7], [-half * 0.95, half * 0.7]])
    else:  # cross (plus sign), arm thickness a third of the extent
        t = half / 3.0
        h = half
        points = np.array(
            [
                [-t, -h],
                [t, -h],
                [t, -t],
                [h, -t],
                [h, t],
                [t, t],
                [t, h],
                [-t, h],
                [-t, t],
                [-h, t],
                [-h, -t],
                [-t, -t],
            ]
        )
    poly = _rotate(points, angle) + np.array([cx, cy])
    poly = np.round(poly).astype(np.int32).reshape(-1, 1, 2)
    cv2.fillPoly(mask, [poly], 1, lineType=cv2.LINE_8)
    return mask


def _object_colour(rng: np.random.Generator, under: np.ndarray) -> np.ndarray:
    """A random RGB colour at least ``_MIN_CONTRAST`` away from ``under`` (the mean background
    colour below the object); falls back to the far corner of the RGB cube."""
    for _ in range(20):
        colour = rng.integers(0, 256, size=3).astype(np.float32)
        if np.linalg.norm(colour - under) >= _MIN_CONTRAST:
            return colour.astype(np.uint8)
    return np.where(under < 128, 255, 0).astype(np.uint8)


def make_shapes(count: int, size: int = 64, seed: int = 0) -> ShapesBatch:
    """``count`` images of ``size`` x ``size`` pixels, each with one shape; the same arguments always
    give the same arrays. Labels are drawn uniformly from ``CLASSES``."""
    if int(count) < 1:
        raise ValueError(f"count must be at least 1; got {count!r}")
    if int(size) < 16:
        raise ValueError(f"size must be at least 16 pixels; got {size!r}")
    count, size = int(count), int(size)
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, len(CLASSES), size=count).astype(np.int64)
    images = np.empty((count, 3, size, size), dtype=np.float32)
    masks = np.empty((count, size, size), dtype=bool)
    boxes = np.empty((count, 4), dtype=np.float32)
    for i in range(count):
        background = _background(rng, size)
        mask = _shape_mask(rng, int(labels[i]), size).astype(bool)
        colour = _object_colour(rng, background[mask].astype(np.float32).mean(axis=0))
        background[mask] = colour
        images[i] = background.transpose(2, 0, 1).astype(np.float32) / 255.0
        masks[i] = mask
        boxes[i] = tight_box(mask)
    return ShapesBatch(images=images, labels=labels, masks=masks, boxes=boxes)
