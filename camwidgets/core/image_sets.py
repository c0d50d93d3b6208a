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

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from .images import IMAGENET_MEAN, IMAGENET_STD, normalise, resize_and_crop, to_rgb

__all__ = ["ImageSet", "load_images", "default_labels", "known_weights", "normalises_itself", "unit_tensor"]

_DEFAULT_GEOMETRY = (256, 224)


@dataclass
class ImageSet:
    """``batch`` (B, C, H, W) float on the device; ``photos`` (B, H, W, 3) uint8 on the host; ``names``."""

    batch: torch.Tensor
    photos: np.ndarray
    names: list[str]

    def __len__(self) -> int:
        return int(self.batch.shape[0])


def distinct_names(names: Sequence[str]) -> list[str]:
    """Names that tell the images apart: one given to several images (arrays are all 'image') gets
    each image's position, 'image 0', 'image 1', ..."""
    counts = Counter(names)
    return [f"{name} {index}" if counts[name] > 1 else name for index, name in enumerate(names)]


def known_weights(model: nn.Module, labels: Any, preprocess: Any) -> Any:
    """The torchvision weights enum passed as ``labels`` or ``preprocess``, if any."""
    for candidate in (labels, preprocess):
        if hasattr(candidate, "meta") and hasattr(candidate, "transforms"):
            return candidate
    return None


def normalises_itself(model: nn.Module) -> bool:
    """True for torchvision's detectors, which take images in [0, 1] at their own size and resize
    and normalise them inside (``GeneralizedRCNNTransform``)."""
    return (
        type(model).__module__.startswith("torchvision.models.detection")
        or type(getattr(model, "transform", None)).__name__ == "GeneralizedRCNNTransform"
    )


def unit_tensor(image: Any) -> torch.Tensor:
    """A PIL image -> (3, H, W) float32 in [0, 1] at its own size: what torchvision's detectors take."""
    array = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(array.transpose(2, 0, 1).copy())


def _is_torchvision_imagenet(model: nn.Module, classes: int) -> bool:
    return type(model).__module__.startswith("torchvision.models") and classes == 1000


def default_labels(model: nn.Module, labels: Any, preprocess: Any, classes: int) -> list[str]:
    """``labels`` as given (a list, or weights whose categories are used); else a Hugging Face model's
    ``config.id2label``; else ImageNet's names for a torchvision classifier with 1000 outputs; else
    the class indices as text."""
    weights = known_weights(model, labels, preprocess)
    if weights is not None:
        names = list(weights.meta["categories"])
    elif labels is not None:
        if isinstance(labels, (str, bytes)) or not isinstance(labels, Sequence):
            raise TypeError(f"labels must be a list of class names or torchvision weights; got {type(labels).__name__}")
        names = [str(name) for name in labels]
    elif _declared_labels(model, classes):
        names = _declared_labels(model, classes)
    elif _is_torchvision_imagenet(model, classes):
        from torchvision.models._meta import _IMAGENET_CATEGORIES

        names = list(_IMAGENET_CATEGORIES)
    else:
        names = [str(index) for index in range(classes)]
    if len(names) != classes:
        raise ValueError(f"got {len(names)} labels for a model with {classes} outputs; pass one name per class")
    return names


def _declared_labels(model: nn.Module, classes: int) -> list[str]:
    """A Hugging Face model's ``config.id2label`` (or an ultralytics model's ``names``), when it has
    a name for each output."""
    names = getattr(getattr(model, "config", None), "id2label", None)
    if names is None:
        names = getattr(model, "names", None)
    if not isinstance(names, dict) or sorted(names) != list(range(classes)):
        return []
    return [str(names[index]) for index in range(classes)]


def _classification_transform(preprocess: Any) -> Any:
    """torchvision's classification transform (``ImageClassification``) given as weights or as the
    transform itself, else None."""
    if hasattr(preprocess, "meta") and hasattr(preprocess, "transforms"):
        preprocess = preprocess.transforms()
    if all(hasattr(preprocess, name) for name in ("crop_size", "resize_size", "mean", "std")):
        return preprocess
    return None


def _geometry(preprocess: Any) -> tuple[int, int, Sequence[float], Sequence[float]] | None:
    """(resize, crop, mean, std) of the default preprocessing (None) or of a torchvision-style
    classification transform, else None."""
    if preprocess is None:
        return (*_DEFAULT_GEOMETRY, IMAGENET_MEAN, IMAGENET_STD)
    transform = _classification_transform(preprocess)
    if transform is None:
        return None
    first = lambda value: int(value[0] if isinstance(value, (list, tuple)) else value)  # noqa: E731
    return first(transform.resize_size), first(transform.crop_size), transform.mean, transform.std


def _photos_from_tensor(batch: torch.Tensor, mean: Sequence[float], std: Sequence[float], undo: bool) -> np.ndarray:
    """Displayable photos from a normalised batch: undo ``mean``/``std`` if known, else min-max per image."""
    x = batch.detach().float()
    if undo and x.shape[1] == 3:
        x = x * torch.tensor(std, device=x.device).view(1, 3, 1, 1) + torch.tensor(mean, device=x.device).view(
            1, 3, 1, 1
        )
    else:
        flat = x.reshape(x.shape[0], -1)
        low, high = flat.min(dim=1).values.view(-1, 1, 1, 1), flat.max(dim=1).values.view(-1, 1, 1, 1)
        x = (x - low) / (high - low + 1e-7)
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    return (x[:, :3].clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


def load_images(images: Any, preprocess: Any, device: torch.device, torchvision_model: bool, dtype: torch.dtype = torch.float32,
                unit_range: bool = False) -> ImageSet:  # fmt: skip
    """Turn ``images`` into an :class:`ImageSet` on ``device`` in the model's ``dtype`` (see the module
    docstring); ``unit_range``: a tensor batch is the photos in [0, 1] (a detector's input)."""
    geometry = _geometry(preprocess)
    if isinstance(images, torch.Tensor):
        batch = images.unsqueeze(0) if images.ndim == 3 else images
        if batch.ndim != 4 or not batch.is_floating_point():
            raise ValueError(
                f"an image tensor must be a float (B, 3, H, W) batch; got {images.dtype} {tuple(images.shape)}"
            )
        undo = geometry is not None and (preprocess is not None or torchvision_model)
        mean, std = (geometry[2], geometry[3]) if geometry is not None else (IMAGENET_MEAN, IMAGENET_STD)
        photos = (
            _photos_from_tensor(batch, (0.0,) * 3, (1.0,) * 3, True)
            if unit_range
            else _photos_from_tensor(batch, mean, std, undo)
        )
        return ImageSet(batch.detach().to(device, dtype), photos, [f"image {i}" for i in range(batch.shape[0])])
    items = list(images) if isinstance(images, (list, tuple)) else [images]
    if not items:
        raise ValueError("images is empty; pass at least one image")
    arrays, names = zip(*(to_rgb(item) for item in items))
    names = distinct_names(names)
    if geometry is not None:  # the model's own geometry with torchvision's functions, as weights.transforms() does
        resize, crop, mean, std = geometry
        interpolation = getattr(_classification_transform(preprocess), "interpolation", None)
        photos = np.stack([resize_and_crop(array, resize, crop, interpolation) for array in arrays])
        batch = normalise(photos, mean, std)
    else:
        import cv2
        from PIL import Image

        tensors = [preprocess(Image.fromarray(array)) for array in arrays]
        shapes = sorted({tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__ for t in tensors}, key=str)
        if len(shapes) != 1 or not all(isinstance(t, torch.Tensor) and t.ndim == 3 for t in tensors):
            raise ValueError(
                f"preprocess must turn every image into a (3, H, W) tensor of one size; got {', '.join(map(str, shapes))}. "
                "End it with a fixed resize and crop (for example Resize(256), CenterCrop(224))"
            )
        batch = torch.stack(tensors)
        height, width = batch.shape[-2:]
        photos = np.stack(
            [cv2.resize(array, (int(width), int(height)), interpolation=cv2.INTER_AREA) for array in arrays]
        )
    return ImageSet(batch.to(device, dtype), photos, list(names))
