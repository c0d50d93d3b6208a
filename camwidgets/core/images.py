"""The one image pipeline, used by the CLI, the explorer, the notebooks and the tests' inputs:

1. decode: a file (EXIF orientation applied by OpenCV), a bundled photo name, a PIL image (EXIF
   orientation applied here too; 16-bit modes scaled) or an array (uint16 scaled, other integers
   checked to lie in 0..255, floats in [0, 1]) becomes RGB uint8 (H, W, 3): :func:`to_rgb`;
2. geometry: resize the shorter side and cut the central square with torchvision's own functional
   transforms on a PIL image (bilinear, antialiased), exactly as ``weights.transforms()`` does:
   :func:`resize_and_crop`, :func:`center_crop`; the result is the photo as the model sees it;
3. normalise: ``(photo / 255 - mean) / std``, channels first: :func:`normalise`.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .image_files import MAX_PIXELS, check_pixels, decode_image_file
from .photos import load_photo, photo_names

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "MAX_PIXELS",
    "check_pixels",
    "read_image",
    "to_rgb",
    "resize_and_crop",
    "center_crop",
    "normalise",
]

IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)


def read_image(image: str | Path, max_pixels: int | None = MAX_PIXELS) -> tuple[np.ndarray, str]:
    """``(RGB uint8 (H, W, 3) array, short name)`` for an image file path or a bundled photo name.

    Raises ``ValueError`` (one line, saying what to pass instead) when it is neither, and for a file
    of more than ``max_pixels`` pixels (None: no limit), before decoding it."""
    path = Path(image)
    if path.is_file():
        return decode_image_file(path, max_pixels), path.stem
    try:
        return load_photo(str(image)), Path(str(image)).stem
    except ValueError:
        pass
    names = photo_names()
    close = difflib.get_close_matches(str(image).lower(), names, n=1, cutoff=0.5)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise ValueError(
        f"{str(image)!r} is neither an image file nor a bundled photo.{hint} "
        f"Pass a path to a PNG/JPEG file or one of: {', '.join(names)}"
    )


def _integers_to_uint8(array: np.ndarray) -> np.ndarray:
    """Integer pixels as uint8: 16-bit data (uint16) scaled by 255/65535; other integers must already
    lie in 0..255 (wrapping them around would be silently wrong)."""
    if array.dtype == np.uint8:
        return array
    if array.dtype == np.uint16:
        return np.rint(array.astype(np.float32) * (255 / 65535)).astype(np.uint8)
    if array.size and (int(array.min()) < 0 or int(array.max()) > 255):
        raise ValueError(
            f"an integer image ({array.dtype}) must hold values from 0 to 255; got {int(array.min())} to {int(array.max())}. "
            "Pass uint16 for 16-bit data (it is scaled), or float values in [0, 1]"
        )
    return array.astype(np.uint8)


def _pil_to_array(image: Any) -> np.ndarray:
    """A PIL image as an array, upright (its EXIF orientation applied, as for files read by path);
    16-bit and 32-bit integer modes keep their values (scaled later), palette and other modes become RGB."""
    from PIL import ImageOps

    image = ImageOps.exif_transpose(image)
    if image.mode.startswith("I;16"):
        return np.asarray(image).astype(np.uint16)
    if image.mode == "I":  # 32-bit integers, as PIL opens 16-bit PNGs: 16-bit data when within 0..65535
        values = np.asarray(image)
        return values.astype(np.uint16) if values.size and values.min() >= 0 and values.max() <= 65535 else values
    if image.mode == "F":
        return np.asarray(image)
    return np.asarray(image.convert("RGB"))


def to_rgb(image: Any) -> tuple[np.ndarray, str]:
    """One image as RGB uint8 (H, W, 3) and a short name."""
    if isinstance(image, (str, Path)):
        return read_image(image)
    name = "image"
    if hasattr(image, "convert") and hasattr(image, "size"):  # PIL image: named by its file, when opened from one
        name = Path(getattr(image, "filename", "") or "image").stem or "image"
        image = _pil_to_array(image)
    if isinstance(image, np.ndarray):
        array = image
        if array.ndim == 2:
            array = np.repeat(array[:, :, None], 3, axis=2)
        if array.ndim != 3 or array.shape[2] not in (3, 4):
            raise ValueError(f"an image array must have shape (H, W, 3); got {image.shape}")
        array = array[:, :, :3]
        if array.dtype == np.bool_:
            raise ValueError("a boolean array is a mask, not an image; pass uint8 (0-255) or float ([0, 1]) pixels")
        if np.issubdtype(array.dtype, np.floating):
            if array.size and not np.isfinite(array).all():
                raise ValueError("a float image contains NaN or infinite values")
            if array.size and (array.min() < 0 or array.max() > 1):
                raise ValueError("a float image must hold values in [0, 1]; pass uint8 for 0-255 images")
            array = np.rint(array * 255).astype(np.uint8)
        elif np.issubdtype(array.dtype, np.integer):
            array = _integers_to_uint8(array)
        else:
            raise TypeError(f"cannot use an array of {array.dtype} as an image; pass uint8, uint16 or float pixels")
        return np.ascontiguousarray(array), name
    raise TypeError(
        f"cannot use {type(image).__name__} as an image; pass file paths, bundled photo names, PIL images, "
        "uint8 (H, W, 3) arrays, or a (B, 3, H, W) tensor"
    )


def resize_and_crop(photo: np.ndarray, resize: int, crop: int, interpolation: Any = None) -> np.ndarray:
    """The shorter side of RGB uint8 ``photo`` resized to ``resize``, then the central ``crop`` x
    ``crop`` square: torchvision's ``resize`` (bilinear, antialiased, unless ``interpolation`` says
    otherwise) and ``center_crop`` on a PIL image, the geometry of ``weights.transforms()``."""
    from PIL import Image
    from torchvision.transforms import InterpolationMode
    from torchvision.transforms import functional as TF

    if photo.ndim != 3 or photo.shape[0] == 0 or photo.shape[1] == 0:
        raise ValueError(f"expected an image of shape (H, W, 3), got {photo.shape}")
    image = Image.fromarray(np.ascontiguousarray(photo))
    image = TF.resize(image, [int(resize)], interpolation=interpolation or InterpolationMode.BILINEAR, antialias=True)
    return np.ascontiguousarray(np.asarray(TF.center_crop(image, [int(crop)])))


def center_crop(photo: np.ndarray, size: int = 224) -> np.ndarray:
    """Resize ``photo`` (H, W, 3) so that its shorter side is ``size``, then cut the central
    ``size`` x ``size`` square (:func:`resize_and_crop` with ``resize = crop = size``). The result is
    exactly what the model sees (before normalising), so maps computed on it line up with it."""
    return resize_and_crop(photo, size, size)


def normalise(photos: np.ndarray, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """RGB uint8 photos (B, H, W, 3) -> float32 (B, 3, H, W), ``(photo / 255 - mean) / std``."""
    batch = torch.from_numpy(np.ascontiguousarray(photos)).permute(0, 3, 1, 2).float() / 255
    return (batch - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)
