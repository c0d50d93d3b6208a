"""Small pictures for the thumbnail widgets: photos and map overlays resized to a square."""

from __future__ import annotations

from typing import Any

import numpy as np

from .colormaps import compose_view

__all__ = ["square", "overlay_thumbnails", "to_png", "captioned", "input_picture"]


def square(images: np.ndarray, size: int) -> np.ndarray:
    """(N, H, W[, 3]) uint8 -> (N, size, size[, 3]), area-averaged (or bilinear when enlarging)."""
    import cv2

    interpolation = cv2.INTER_AREA if images.shape[1] >= size else cv2.INTER_LINEAR
    return np.stack([cv2.resize(image, (size, size), interpolation=interpolation) for image in images])


def overlay_thumbnails(
    photos: np.ndarray, levels: np.ndarray, size: int, colormap: str = "jet", opacity: float = 0.5
) -> np.ndarray:
    """Each photo (N, H, W, 3) with its map's grey levels (N, H', W') blended, as (N, size, size, 3)."""
    small_photos, small_levels = square(photos, size), square(levels, size)
    return np.stack([compose_view(p, m, colormap, opacity) for p, m in zip(small_photos, small_levels)])


def input_picture(item: Any) -> np.ndarray:
    """One input (C, H, W) of any range as a uint8 (H, W, 3) picture: three channels as RGB, else the first as
    grey, min-max scaled (a depth map, a second view)."""
    values = np.asarray(item.detach().cpu().float() if hasattr(item, "detach") else item, np.float32)
    if values.ndim != 3:
        raise ValueError(f"an input to show must be (C, H, W); got {values.shape}")
    picture = values[:3] if values.shape[0] == 3 else values[:1].repeat(3, axis=0)
    low, high = float(picture.min()), float(picture.max())
    scaled = (picture - low) / (high - low) if high > low else np.zeros_like(picture)
    return np.round(scaled.transpose(1, 2, 0) * 255).astype(np.uint8)


def to_png(image: np.ndarray) -> bytes:
    """RGB uint8 (H, W, 3) -> PNG bytes."""
    import cv2

    ok, encoded = cv2.imencode(".png", cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2BGR))
    if not ok:
        raise ValueError("could not encode the picture as PNG")
    return encoded.tobytes()


def captioned(image: np.ndarray, caption: str) -> np.ndarray:
    """``image`` (H, W, 3) uint8 with ``caption`` written on a white strip below it (ASCII; other
    characters become '-'), for pictures that must be read without the widget."""
    import cv2

    text = "".join(ch if 32 <= ord(ch) < 127 else "-" for ch in caption)
    width = image.shape[1]
    scale = max(0.35, min(0.6, width / 900))
    strip = np.full((int(28 * scale / 0.5), width, 3), 255, np.uint8)
    while text and cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)[0][0] > width - 8:
        text = text[:-4] + "..."  # shorten to fit
    cv2.putText(strip, text, (4, strip.shape[0] - 8), cv2.FONT_HERSHEY_SIMPLEX, scale, (30, 30, 30), 1, cv2.LINE_AA)
    return np.concatenate([image, strip], axis=0)
