"""Where :func:`~camwidgets.explain_dataset` reads images from, one row at a time.

``data`` may be any map-style torch ``Dataset`` (or a ``DataLoader``, whose dataset is read), such
as torchvision's ``ImageFolder``, or a folder path of image files whose subfolders are the classes.
An item may be an image, ``(image, label)``, ``(image, label, mask)`` or a dict with ``image`` and
optionally ``label``, ``mask`` (ground truth, (H, W) bool at the input size), ``boxes`` ((k, 4)
x1, y1, x2, y2 in input pixels) and ``path``. Images that are not tensors yet (paths, PIL images,
arrays) go through the explorer's image pipeline (:func:`~camwidgets.core.image_sets.load_images`),
so a dataset is seen exactly as the explorer sees a photo. For a model with several inputs the image is
a tuple or dict of ready tensors (C, ...) (an RGB image and its depth map, a pair): the row's ``image``
is the explained one (``explain_input``), ``others`` the rest.

:class:`Rows` never raises for one bad row: reading it gives a row with an ``error`` instead, and
the run records it as failed.
"""

from __future__ import annotations

import os
from collections.abc import Collection
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from ..core.image_sets import load_images
from ..core.images import MAX_PIXELS, read_image
from ..core.pictures import input_picture
from ..core.samples import SUFFIXES, load_samples
from ..metrics.localization import boxes_to_masks

__all__ = ["ImageFiles", "Rows", "as_dataset", "item_parts", "IMAGE_SUFFIXES"]

#: The suffixes of image files, torchvision's ``ImageFolder``'s among them.
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".gif", ".ppm", ".pgm"})


def _entries(folder: Path) -> list[os.DirEntry]:
    """The entries of ``folder`` by name, hidden ones left out; OSError saying what to do when it
    cannot be listed (a folder that cannot be read is never an empty class)."""
    try:
        entries = list(os.scandir(folder))
    except OSError as error:
        raise OSError(
            f"cannot list {folder} ({error.strerror or error}); fix its permissions or move it out of the data folder"
        ) from None
    return sorted((entry for entry in entries if not entry.name.startswith(".")), key=lambda entry: entry.name)


def _is_image(entry: os.DirEntry, suffixes: Collection[str] = IMAGE_SUFFIXES) -> bool:
    return entry.is_file() and entry.name.lower().endswith(tuple(suffixes))


def _image_files(folder: Path, suffixes: Collection[str] = IMAGE_SUFFIXES) -> list[Path]:
    """Every file with one of ``suffixes`` under ``folder``, in sorted order."""
    found = []
    for entry in _entries(folder):
        if entry.is_dir():
            found += _image_files(Path(entry.path), suffixes)
        elif _is_image(entry, suffixes):
            found.append(Path(entry.path))
    return found


class ImageFiles(Dataset):
    """The image files under ``root`` (or the files of ``kind``: volumes, clips, signals): one in a
    subfolder has that subfolder's class (names sorted, as torchvision's ``ImageFolder`` numbers
    them); one in ``root`` itself has no label. Items are ``{"image": path, "label": int | None,
    "path": str}``. Every such file becomes an item (a file that cannot be decoded becomes a failed
    row), and a folder that cannot be listed raises."""

    def __init__(self, root: str | Path, kind: str = "image") -> None:
        self.root = Path(root)
        suffixes = IMAGE_SUFFIXES if kind == "image" else SUFFIXES[kind]
        if not self.root.is_dir():
            raise ValueError(
                f"{str(root)!r} is not a folder; pass a folder of images (subfolders as classes) or a torch Dataset"
            )
        entries = _entries(self.root)
        self.classes = [entry.name for entry in entries if entry.is_dir()]
        files = [(Path(entry.path), None) for entry in entries if _is_image(entry, suffixes)]
        for label, name in enumerate(self.classes):
            files += [(path, label) for path in _image_files(self.root / name, suffixes)]
        self.samples = files

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> dict[str, Any]:
        path, label = self.samples[index]
        return {"image": str(path), "label": label, "path": str(path.relative_to(self.root))}


def as_dataset(data: Any, kind: str = "image") -> Dataset:
    """A map-style dataset for ``data``: a Dataset as it is, a DataLoader's dataset, a folder as
    :class:`ImageFiles` (of ``kind``)."""
    if isinstance(data, DataLoader):
        data = data.dataset
    if isinstance(data, (str, Path)):
        return ImageFiles(data, kind)
    if not (hasattr(data, "__getitem__") and hasattr(data, "__len__")):
        raise TypeError(f"data must be a torch Dataset, a DataLoader or a folder path; got {type(data).__name__}")
    return data


def item_parts(item: Any) -> dict[str, Any]:
    """An item's image, label, mask, boxes and path, whatever shape the dataset gives it in."""
    if isinstance(item, dict):
        if "image" not in item:
            raise KeyError(f"a dict item needs an 'image' key; it has {', '.join(map(str, item)) or 'none'}")
        return {key: item.get(key) for key in ("image", "label", "mask", "boxes", "path")}
    if isinstance(item, (tuple, list)):
        if not 1 <= len(item) <= 3:
            raise ValueError(
                f"an item must be image, (image, label) or (image, label, mask); got a {type(item).__name__} of {len(item)}"
            )
        image, label, mask = (*item, None, None)[:3]
        return {"image": image, "label": label, "mask": mask, "boxes": None, "path": None}
    return {"image": item, "label": None, "mask": None, "boxes": None, "path": None}


def _label(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, torch.Tensor) and value.numel() == 1 and not value.is_floating_point():
        value = value.item()
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(
            f"labels must be integer class indices (or None); got {type(value).__name__} {str(value)[:40]!r}"
        )
    return int(value)


class Rows(Dataset):
    """Row ``i`` of ``dataset`` as ``{"index", "image" (3, H, W) float, "photo" (H, W, 3) uint8 as the
    model sees it, "label", "mask", "path", "error"}``, preprocessed by ``preprocess`` (see :func:`~camwidgets.core.image_sets.load_images`);
    a row that cannot be read carries its ``error`` (and no image) instead of raising. Volumes,
    clips and signals (``kind``) are read as the explorer reads them (:func:`~camwidgets.core.samples.load_samples`):
    "image" is the model's input (C, *axes), "photo" its poster, a mask has the input's axes."""

    def __init__(
        self,
        dataset: Dataset,
        preprocess: Any = None,
        *,
        max_pixels: int | None = MAX_PIXELS,
        kind: str = "image",
        explain_input: Any = None,
    ) -> None:
        self.dataset = dataset
        self.preprocess = preprocess
        self.kind = kind
        self.explain_input = (
            explain_input  # a model with several inputs: the one explained (None: the first image-like)
        )
        self.max_pixels = max_pixels
        self.label_count: int | None = None  # set by the run: labels from 0 to label_count - 1 are valid

    def __len__(self) -> int:
        return len(self.dataset)

    def read(self, index: int) -> dict[str, Any]:
        """Row ``index``; raises what reading it raises (the checks before a run use this)."""
        return self._row(index, item_parts(self.dataset[index]))

    def _row(self, index: int, parts: dict[str, Any]) -> dict[str, Any]:
        image, others, key = self._explained(parts["image"])
        label = _label(parts["label"])
        if label is not None and self.label_count is not None and not 0 <= label < self.label_count:
            raise ValueError(
                f"label {label} is not a class index from 0 to {self.label_count - 1}; fix this row's label"
            )
        if others is not None:
            tensor, photo = image, input_picture(image)  # the model's own input, as given
            size = tuple(tensor.shape[1:])
        elif self.kind != "image":
            ready = isinstance(image, torch.Tensor) and image.is_floating_point()  # already the model's input
            loaded = load_samples([image], self.kind, None if ready else self.preprocess, torch.device("cpu"))
            tensor, photo = loaded.batch[0], loaded.photos[0]
            size = tuple(tensor.shape[1:])
        else:
            if isinstance(image, (str, Path)):  # decoded here, within the pixel limit
                image = read_image(image, self.max_pixels)[0]
            if isinstance(image, torch.Tensor) and image.is_floating_point() and image.ndim == 3:
                loaded = load_images(image.detach().float().cpu(), None, torch.device("cpu"), torchvision_model=False)
            else:
                loaded = load_images(image, self.preprocess, torch.device("cpu"), torchvision_model=True)
            tensor, photo = loaded.batch[0], loaded.photos[0]
            size = tuple(tensor.shape[-2:])
        if not torch.isfinite(tensor).all():
            raise ValueError(
                "the image holds values that are not finite (NaN or infinity); check the dataset and the preprocessing"
            )
        mask = parts["mask"]
        if mask is None and parts["boxes"] is not None:
            if self.kind != "image":
                raise ValueError(
                    f"boxes mark objects in images; give a {self.kind}'s ground truth as a mask with its axes {size}"
                )
            boxes = (
                np.asarray(
                    parts["boxes"].cpu() if isinstance(parts["boxes"], torch.Tensor) else parts["boxes"],
                    dtype=np.float32,
                ).reshape(-1, 4)
                if np.size(parts["boxes"])
                else np.zeros((0, 4), np.float32)
            )
            if not np.isfinite(boxes).all():
                raise ValueError(
                    f"the boxes {boxes.tolist()[:4]} hold a number that is not finite; give x1, y1, x2, y2 in input pixels"
                )
            mask = boxes_to_masks(boxes[None], size)[0] if len(boxes) else np.zeros(size, bool)
        if mask is not None:
            mask = np.asarray(mask.cpu() if isinstance(mask, torch.Tensor) else mask).astype(bool)
            if mask.shape != size:
                raise ValueError(f"the mask is {mask.shape}, the input {size}; give the mask at the model input's size")
        return {
            "index": index,
            "image": tensor,
            "photo": photo,
            "label": label,
            "mask": mask,
            "path": _path(parts),
            "error": "",
            "others": others,
            "explained": key,
        }

    def _explained(self, image: Any) -> tuple[Any, dict | None, Any]:
        """(the explained input, the other inputs by key or None, the explained key) of an item's image."""
        if not isinstance(image, (tuple, list, dict)):
            return image, None, None
        keyed = dict(image) if isinstance(image, dict) else dict(enumerate(image))
        tensors = {
            k: torch.as_tensor(np.asarray(v)) if not isinstance(v, torch.Tensor) else v for k, v in keyed.items()
        }
        images = [k for k, v in tensors.items() if v.is_floating_point() and v.ndim in (2, 3, 4)]
        key = self.explain_input if self.explain_input is not None else (images[0] if images else None)
        if key not in tensors:
            raise ValueError(
                f"explain_input={key!r} is not one of the item's inputs; they are {', '.join(map(repr, tensors))}"
            )
        explained = tensors[key].detach().float().cpu()
        if explained.ndim < 2 or not explained.is_floating_point():
            raise ValueError(f"input {key!r} is no image to explain: a floating point (C, H, W) tensor is")
        return explained, {k: v.detach().cpu() for k, v in tensors.items() if k != key}, key

    def __getitem__(self, index: int) -> dict[str, Any]:
        parts: dict[str, Any] = {}
        try:
            parts = item_parts(self.dataset[index])
            return self._row(index, parts)
        except Exception as error:  # one bad row is a failed row, not a failed run
            label = parts.get("label")
            return {"index": index, "image": None, "photo": None, "label": label if isinstance(label, int) else None, "mask": None,
                    "path": _path(parts) if parts else "", "error": f"{type(error).__name__}: {error}", "others": None, "explained": None}  # fmt: skip


def _path(parts: dict[str, Any]) -> str:
    """The row's path: the dataset's own, or the image's when the image is a path."""
    if parts.get("path") is not None:
        return str(parts["path"])
    return parts["image"] if isinstance(parts.get("image"), (str, Path)) else ""
