"""Image files, decoded whole or not at all: the pixel limit read from the header before decoding,
and the decoding itself (OpenCV, EXIF orientation applied) to RGB uint8."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from PIL import Image

__all__ = ["MAX_PIXELS", "check_pixels", "decode_image_file"]


#: The most pixels an image file may have before it is decoded (a small file can hold a huge image:
#: a 20 000 x 20 000 PNG of 1 MB decodes to 1.2 GB). PIL's own guard warns at 89 million pixels.
MAX_PIXELS = 100_000_000


def check_pixels(path: str | Path, max_pixels: int | None = MAX_PIXELS) -> None:
    """ValueError when the image file at ``path`` declares more than ``max_pixels`` pixels in its
    header (read without decoding); files PIL cannot identify are left to the decoder."""
    if max_pixels is None:
        return
    try:
        with Image.open(path) as image:
            width, height = image.size
    except Image.DecompressionBombError:  # PIL's own limit (twice MAX_IMAGE_PIXELS) refused it unread
        if Image.MAX_IMAGE_PIXELS is not None and max_pixels >= 2 * Image.MAX_IMAGE_PIXELS:
            return
        raise ValueError(
            f"{str(path)!r} declares over {2 * (Image.MAX_IMAGE_PIXELS or 0):,} pixels, over the limit of {max_pixels:,}; it was not decoded. Shrink the image"
        ) from None
    except Exception:  # not an image PIL knows (its plugins may even fail to import): the decoder says so
        return
    if width * height > max_pixels:
        raise ValueError(
            f"{str(path)!r} is {width} x {height} pixels, over the limit of {max_pixels:,}; it was not decoded. "
            "Shrink the image, or raise the limit (max_pixels=...) if it is meant to be this large"
        )


def decode_image_file(path: str | Path, max_pixels: int | None = MAX_PIXELS) -> np.ndarray:
    """The RGB uint8 (H, W, 3) pixels of the image file at ``path``; ValueError (saying what to pass)
    for an empty file, one over ``max_pixels`` (checked before decoding) or one OpenCV cannot read."""
    data = np.fromfile(str(path), dtype=np.uint8)
    if data.size == 0:
        raise ValueError(f"{str(path)!r} is an empty file (0 bytes); pass a PNG or JPEG image file")
    check_pixels(path, max_pixels)
    bgr = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if bgr is None:
        raise ValueError(f"could not read {str(path)!r} as an image; pass a PNG or JPEG file or a bundled photo name")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
