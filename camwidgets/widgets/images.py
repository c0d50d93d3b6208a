"""The explorer's images: the model input batch on the device, and the photos exactly as the
model sees them (same resize and crop) for drawing maps on, plus the class names.

Accepted images: file paths, bundled photo names, PIL images (EXIF orientation applied, as for a
file read by path; 16-bit modes scaled), uint8 (H, W, 3) arrays (uint16 scaled from 0..65535, other
integers in 0..255, float in [0, 1]; anything else is refused, never wrapped around), one of these or
a list of them, or a ready (B, 3, H, W) / (3, H, W) float tensor.
``preprocess``: ``None`` (the weights' transforms when torchvision weights are known, else resize
256 + centre crop 224 + ImageNet mean/std), torchvision weights, a transform with ``crop_size``,
``resize_size``, ``mean`` and ``std`` (torchvision's ``ImageClassification``), or any callable
``PIL image -> (3, H, W) tensor`` (the photo is then shown resized to the input size).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

from ..explain import IMAGENET_MEAN, IMAGENET_STD, center_crop, load_image

__all__ = ["ImageSet", "load_images", "default_labels", "known_weights"]

_DEFAULT_GEOMETRY = (256, 224)


@dataclass
class ImageSet:
    """``batch`` (B, C, H, W) float on the device; ``photos`` (B, H, W, 3) uint8 on the host; ``names``."""

    batch: torch.Tensor
    photos: np.ndarray
    names: list[str]

    def __len__(self) -> int:
        return int(self.batch.shape[0])


def known_weights(model: nn.Module, labels: Any, preprocess: Any) -> Any:
    """The torchvision weights enum passed as ``labels`` or ``preprocess``, if any."""
    for candidate in (labels, preprocess):
        if hasattr(candidate, "meta") and hasattr(candidate, "transforms"):
            return candidate
    return None


def _is_torchvision_imagenet(model: nn.Module, classes: int) -> bool:
    return type(model).__module__.startswith("torchvision.models") and classes == 1000


def default_labels(model: nn.Module, labels: Any, preprocess: Any, classes: int) -> list[str]:
    """``labels`` as given (a list, or weights whose categories are used); else ImageNet's names for a
    torchvision classifier with 1000 outputs; else the class indices as text."""
    weights = known_weights(model, labels, preprocess)
    if weights is not None:
        names = list(weights.meta["categories"])
    elif labels is not None:
        if isinstance(labels, (str, bytes)) or not isinstance(labels, Sequence):
            raise TypeError(f"labels must be a list of class names or torchvision weights; got {type(labels).__name__}")
        names = [str(name) for name in labels]
    elif _is_torchvision_imagenet(model, classes):
        from torchvision.models._meta import _IMAGENET_CATEGORIES

        names = list(_IMAGENET_CATEGORIES)
    else:
        names = [str(index) for index in range(classes)]
    if len(names) != classes:
        raise ValueError(f"got {len(names)} labels for a model with {classes} outputs; pass one name per class")
    return names


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
        return values.astype(np.uint16) if values.size and 0 <= values.min() and values.max() <= 65535 else values
    if image.mode == "F":
        return np.asarray(image)
    return np.asarray(image.convert("RGB"))


def _to_rgb_array(image: Any) -> tuple[np.ndarray, str]:
    """One image as RGB uint8 (H, W, 3) and a short name."""
    if isinstance(image, (str, Path)):
        return load_image(image)
    name = "image"
    if hasattr(image, "convert") and hasattr(image, "size"):  # PIL image
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


def _geometry(preprocess: Any) -> tuple[int, int, Sequence[float], Sequence[float]] | None:
    """(resize, crop, mean, std) of a torchvision-style classification transform, else None."""
    if preprocess is None:
        return (*_DEFAULT_GEOMETRY, IMAGENET_MEAN, IMAGENET_STD)
    if hasattr(preprocess, "meta") and hasattr(preprocess, "transforms"):
        preprocess = preprocess.transforms()
    if all(hasattr(preprocess, name) for name in ("crop_size", "resize_size", "mean", "std")):
        first = lambda value: int(value[0] if isinstance(value, (list, tuple)) else value)  # noqa: E731
        return first(preprocess.resize_size), first(preprocess.crop_size), preprocess.mean, preprocess.std
    return None


def _central(square: np.ndarray, size: int) -> np.ndarray:
    """The central ``size`` x ``size`` part of a square image, no resizing (torchvision's CenterCrop)."""
    offset = max((square.shape[0] - size) // 2, 0)
    return np.ascontiguousarray(square[offset : offset + size, offset : offset + size])


def _normalise(photos: np.ndarray, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    batch = torch.from_numpy(photos).permute(0, 3, 1, 2).float() / 255
    return (batch - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)


def _photos_from_tensor(batch: torch.Tensor, mean: Sequence[float], std: Sequence[float], undo: bool) -> np.ndarray:
    """Displayable photos from a normalised batch: undo ``mean``/``std`` if known, else min-max per image."""
    x = batch.detach().float()
    if undo and x.shape[1] == 3:
        x = x * torch.tensor(std, device=x.device).view(1, 3, 1, 1) + torch.tensor(mean, device=x.device).view(1, 3, 1, 1)
    else:
        flat = x.reshape(x.shape[0], -1)
        low, high = flat.min(dim=1).values.view(-1, 1, 1, 1), flat.max(dim=1).values.view(-1, 1, 1, 1)
        x = (x - low) / (high - low + 1e-7)
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    return (x[:, :3].clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


def load_images(images: Any, preprocess: Any, device: torch.device, torchvision_model: bool, dtype: torch.dtype = torch.float32) -> ImageSet:
    """Turn ``images`` into an :class:`ImageSet` on ``device`` in the model's ``dtype`` (see the module docstring)."""
    geometry = _geometry(preprocess)
    if isinstance(images, torch.Tensor):
        batch = images.unsqueeze(0) if images.ndim == 3 else images
        if batch.ndim != 4 or not batch.is_floating_point():
            raise ValueError(f"an image tensor must be a float (B, 3, H, W) batch; got {images.dtype} {tuple(images.shape)}")
        undo = geometry is not None and (preprocess is not None or torchvision_model)
        mean, std = (geometry[2], geometry[3]) if geometry is not None else (IMAGENET_MEAN, IMAGENET_STD)
        photos = _photos_from_tensor(batch, mean, std, undo)
        return ImageSet(batch.detach().to(device, dtype), photos, [f"image {i}" for i in range(batch.shape[0])])
    items = list(images) if isinstance(images, (list, tuple)) else [images]
    if not items:
        raise ValueError("images is empty; pass at least one image")
    arrays, names = zip(*(_to_rgb_array(item) for item in items))
    if geometry is not None:
        resize, crop, mean, std = geometry
        photos = np.stack([_central(center_crop(array, resize), crop) for array in arrays])
        batch = _normalise(photos, mean, std)
    else:
        from PIL import Image

        import cv2

        tensors = [preprocess(Image.fromarray(array)) for array in arrays]
        shapes = sorted({tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__ for t in tensors}, key=str)
        if len(shapes) != 1 or not all(isinstance(t, torch.Tensor) and t.ndim == 3 for t in tensors):
            raise ValueError(
                f"preprocess must turn every image into a (3, H, W) tensor of one size; got {', '.join(map(str, shapes))}. "
                "End it with a fixed resize and crop (for example Resize(256), CenterCrop(224))"
            )
        batch = torch.stack(tensors)
        height, width = batch.shape[-2:]
        photos = np.stack([cv2.resize(array, (int(width), int(height)), interpolation=cv2.INTER_AREA) for array in arrays])
    return ImageSet(batch.to(device, dtype), photos, list(names))
