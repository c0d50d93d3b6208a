"""Small pictures for the thumbnail widgets: photos and map overlays resized to a square."""

from __future__ import annotations

import numpy as np

from .colormaps import compose_view

__all__ = ["square", "overlay_thumbnails", "to_png"]


def square(images: np.ndarray, size: int) -> np.ndarray:
    """(N, H, W[, 3]) uint8 -> (N, size, size[, 3]), area-averaged (or bilinear when enlarging)."""
    import cv2

    interpolation = cv2.INTER_AREA if images.shape[1] >= size else cv2.INTER_LINEAR
    return np.stack([cv2.resize(image, (size, size), interpolation=interpolation) for image in images])


def overlay_thumbnails(photos: np.ndarray, levels: np.ndarray, size: int, colormap: str = "jet", opacity: float = 0.5) -> np.ndarray:
    """Each photo (N, H, W, 3) with its map's grey levels (N, H', W') blended, as (N, size, size, 3)."""
    small_photos, small_levels = square(photos, size), square(levels, size)
    return np.stack([compose_view(p, m, colormap, opacity) for p, m in zip(small_photos, small_levels)])


def to_png(image: np.ndarray) -> bytes:
    """RGB uint8 (H, W, 3) -> PNG bytes."""
    import cv2

    ok, encoded = cv2.imencode(".png", cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2BGR))
    if not ok:
        raise ValueError("could not encode the picture as PNG")
    return encoded.tobytes()
