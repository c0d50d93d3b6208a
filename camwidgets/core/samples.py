"""Volumes, clips and signals as the explorer takes them: the batch on the device, what to draw.

One place reads the inputs that are not photos. Accepted, per kind (one item, or a list of items
of one shape after ``preprocess``):

* ``"volume"``: (D, H, W) or (C, D, H, W) arrays or tensors, NIfTI files (``.nii``, ``.nii.gz``;
  needs ``nibabel``: ``pip install camwidgets[volumes]``), ``.npy`` files;
* ``"clip"``: (T, H, W, 3) uint8 (or float in [0, 1]) frame arrays, (C, T, H, W) float tensors,
  video files (``.mp4``, ``.avi``, ``.mov``, ``.mkv``, ``.webm``; read by OpenCV);
* ``"signal"``: (L,) or (C, L) arrays or tensors, ``.npy`` files.

A ready (B, C, *axes) float tensor is taken as the batch. ``preprocess`` (optional) maps one item,
as a float tensor (C, *axes) (a clip's frames as (T, 3, H, W) uint8, what torchvision's video
weights' ``transforms()`` take), to the model's input; torchvision weights stand for their
``transforms()``. What is drawn is the input the model sees:
a volume's first channel, a clip's frames (its input scaled back to 0-255 per clip when it was
normalised), a signal's channels.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .image_sets import distinct_names

__all__ = [
    "KINDS", "SPACETIME_KINDS", "SampleSet", "load_samples", "read_video", "read_volume", "kind_of_model", "input_kind_of", "plane", "SUFFIXES",
    "posters", "signal_picture", "window_of", "windowed",
]  # fmt: skip

#: The kinds of input the explorer shows, by their number of positional axes.
KINDS = {"image": 2, "volume": 3, "clip": 3, "signal": 1}
SPACETIME_KINDS = ("volume", "clip", "signal")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v")
VOLUME_SUFFIXES = (".nii", ".nii.gz")
MAX_FRAMES = 512  # a longer video is refused rather than read into memory
#: The files each kind is read from.
SUFFIXES = {"volume": (*VOLUME_SUFFIXES, ".npy"), "clip": VIDEO_SUFFIXES, "signal": (".npy",)}


@dataclass
class SampleSet:
    """``batch`` (B, C, *axes) float on the device; ``display``: what is drawn, on the host (volumes
    (B, D, H, W) float32, clips (B, T, H, W, 3) uint8, signals (B, C, L) float32); ``kind``; ``names``;
    ``photos``: a poster per item (:func:`posters`), where the explorer's 2-D pieces (gallery,
    sweep, saved pictures) want a photo; ``spacing``: each item's voxel size (a NIfTI file's zooms)."""

    batch: torch.Tensor
    display: np.ndarray
    names: list[str]
    kind: str
    spacing: list[tuple[float, float, float]] | None = None

    def __len__(self) -> int:
        return int(self.batch.shape[0])

    @cached_property
    def photos(self) -> np.ndarray:
        return posters(self)


def kind_of_model(model: torch.nn.Module) -> str | None:
    """'signal', 'volume' or 'clip' from the model's first convolution (1-D, 3-D; 3-D in a
    torchvision video model is a clip), 'image' for a 2-D one, None without convolutions."""
    first = next(
        (m for m in model.modules() if isinstance(m, (torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Conv3d))), None
    )
    if isinstance(first, torch.nn.Conv1d):
        return "signal"
    if isinstance(first, torch.nn.Conv3d):
        return "clip" if type(model).__module__.startswith("torchvision.models.video") else "volume"
    return "image" if first is not None else None


def input_kind_of(model: torch.nn.Module, images: Any, asked: str | None) -> str:
    """What the explorer's inputs are, 'image', 'volume', 'clip' or 'signal': as asked; else a video
    or NIfTI file says clip or volume; else the model's first convolution (1-D: signals, 3-D:
    volumes, clips in a torchvision video model or given as (T, H, W, 3) frames); else images."""
    if asked is not None:
        if asked not in KINDS:
            raise ValueError(f"input_kind must be one of {', '.join(KINDS)}; got {asked!r}")
        return asked
    first = images[0] if isinstance(images, (list, tuple)) and images else images
    if isinstance(first, (str, Path)):
        name = str(first).lower()
        if name.endswith(VIDEO_SUFFIXES):
            return "clip"
        if name.endswith(VOLUME_SUFFIXES):
            return "volume"
    from_model = kind_of_model(model)
    if (
        from_model == "volume"
        and not isinstance(first, torch.Tensor)
        and np.ndim(first) == 4
        and np.shape(first)[-1] == 3
    ):
        return "clip"  # (T, H, W, 3) frames for a 3-D CNN
    return from_model if from_model in SPACETIME_KINDS else "image"


def read_video(path: str | Path, max_frames: int = MAX_FRAMES) -> np.ndarray:
    """A video file's frames, (T, H, W, 3) uint8 RGB, read with OpenCV."""
    import cv2

    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise ValueError(f"OpenCV cannot open the video {str(path)!r}; is it a video file (mp4, avi, mov, mkv, webm)?")
    frames = []
    try:
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            if len(frames) == max_frames:
                raise ValueError(
                    f"{str(path)!r} has more than {max_frames} frames; cut the clip the model takes (for example 16 frames) first"
                )
            frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    finally:
        capture.release()
    if not frames:
        raise ValueError(f"no frame could be read from {str(path)!r}")
    return np.stack(frames)


def read_volume(path: str | Path) -> tuple[np.ndarray, tuple[float, float, float]]:
    """A NIfTI (``.nii``, ``.nii.gz``) or ``.npy`` volume as a float32 array (axes as stored) and its
    voxel size along the first three axes (the NIfTI header's zooms, often mm; 1 for ``.npy``), from
    one opening of the file."""
    name = str(path).lower()
    if name.endswith(".npy"):
        return np.load(path, allow_pickle=False).astype(np.float32), (1.0, 1.0, 1.0)
    try:
        import nibabel
    except ImportError as error:
        raise ImportError("reading NIfTI volumes needs nibabel: pip install 'camwidgets[volumes]'") from error
    image = nibabel.load(str(path))
    zooms = [float(z) if z > 0 else 1.0 for z in image.header.get_zooms()[:3]]
    return np.asarray(image.get_fdata(dtype=np.float32)), tuple(zooms + [1.0] * (3 - len(zooms)))  # type: ignore[return-value]


def _item_tensor(item: Any, kind: str) -> tuple[torch.Tensor, str, tuple[float, float, float]]:
    """One item as a float tensor (C, *axes) (a clip's frames (T, 3, H, W) uint8), its name and its
    voxel size (1, 1, 1 but for a volume's file that says another)."""
    name, spacing = kind, (1.0, 1.0, 1.0)
    if isinstance(item, (str, Path)):
        path, name = Path(item), Path(item).name
        if not path.exists():
            raise FileNotFoundError(f"no such file: {str(item)!r}")
        lower = path.name.lower()
        if kind == "clip" and lower.endswith(VIDEO_SUFFIXES):
            item = read_video(path)
        elif kind in ("volume", "signal") and (lower.endswith(VOLUME_SUFFIXES) or lower.endswith(".npy")):
            item, voxels = read_volume(path)
            spacing = voxels if kind == "volume" else spacing
        else:
            expected = {"clip": "a video file", "volume": "a NIfTI or .npy file", "signal": "a .npy file"}[kind]
            raise ValueError(f"{str(item)!r} is not {expected}, which a {kind} is read from")
    array = item.detach().cpu() if isinstance(item, torch.Tensor) else torch.from_numpy(np.asarray(item).copy())
    axes = KINDS[kind]
    if kind == "clip" and array.ndim == 4 and array.shape[-1] == 3 and not isinstance(item, torch.Tensor):
        if array.dtype != torch.uint8 and not (
            array.is_floating_point() and 0 <= float(array.min()) <= float(array.max()) <= 1
        ):
            raise ValueError(
                f"clip frames must be uint8 or float in [0, 1]; got {array.dtype} from {float(array.min()):.3g} to {float(array.max()):.3g}"
            )
        return array.permute(0, 3, 1, 2).contiguous(), name, spacing  # frames (T, 3, H, W)
    if array.ndim == axes:
        array = array.unsqueeze(0)
    if array.ndim != axes + 1:
        shapes = {
            "volume": "(D, H, W) or (C, D, H, W)",
            "clip": "(T, H, W, 3) frames or (C, T, H, W)",
            "signal": "(L,) or (C, L)",
        }
        raise ValueError(f"a {kind} must have shape {shapes[kind]}; got {tuple(array.shape)}")
    if not (
        array.is_floating_point() or array.dtype in (torch.uint8, torch.int16, torch.int32, torch.int64, torch.uint16)
    ):
        raise TypeError(f"a {kind} must hold numbers; got {array.dtype}")
    return array.float(), name, spacing


def _is_frames(item: Any, kind: str) -> bool:
    """A clip given as frames (a video file or a (T, H, W, 3) array), not as a (C, T, H, W) tensor."""
    if kind != "clip" or isinstance(item, torch.Tensor):
        return False
    return isinstance(item, (str, Path)) or (np.ndim(item) == 4 and np.shape(item)[-1] == 3)


def _as_input(tensor: torch.Tensor, kind: str, preprocess: Callable | None, frames: bool) -> torch.Tensor:
    """An item's model input (C, *axes) float: ``preprocess`` applied, or a clip's ``frames``
    (T, 3, H, W) as (3, T, H, W) in [0, 1]."""
    if preprocess is not None:
        result = preprocess(tensor)
        if not isinstance(result, torch.Tensor) or result.ndim != KINDS[kind] + 1:
            raise ValueError(
                f"preprocess must return a (C, {'T, H, W' if kind == 'clip' else 'D, H, W' if kind == 'volume' else 'L'}) tensor "
                f"for each {kind}; got {getattr(result, 'shape', type(result).__name__)}"
            )
        return result.float()
    if tensor.dtype == torch.uint8:  # frames (T, 3, H, W)
        return tensor.permute(1, 0, 2, 3).float() / 255.0
    return tensor.permute(1, 0, 2, 3) if frames else tensor


def _display(batch: torch.Tensor, kind: str) -> np.ndarray:
    """What is drawn of the batch the model sees (see the module docstring)."""
    values = batch.detach().float().cpu()
    if kind == "volume":
        return values[:, 0].numpy()
    if kind == "signal":
        return values.numpy()
    frames = values.movedim(1, -1)  # (B, T, H, W, C)
    if frames.shape[-1] == 1:
        frames = frames.expand(*frames.shape[:-1], 3)
    frames = frames[..., :3]
    low = frames.flatten(1).amin(dim=1).view(-1, 1, 1, 1, 1)
    high = frames.flatten(1).amax(dim=1).view(-1, 1, 1, 1, 1)
    in_unit = bool((low >= 0).all() and (high <= 1).all())
    scaled = frames if in_unit else (frames - low) / (high - low).clamp(min=1e-12)
    return (scaled * 255).round().clamp(0, 255).to(torch.uint8).numpy()


def load_samples(
    items: Any, kind: str, preprocess: Callable | None, device: torch.device, dtype: torch.dtype = torch.float32
) -> SampleSet:
    """Turn ``items`` into a :class:`SampleSet` of ``kind`` on ``device`` (see the module docstring)."""
    if kind not in SPACETIME_KINDS:
        raise ValueError(f"kind must be one of {', '.join(SPACETIME_KINDS)}; got {kind!r}")
    if hasattr(preprocess, "transforms") and hasattr(preprocess, "meta"):  # torchvision weights: their own transforms
        preprocess = preprocess.transforms()
    axes = KINDS[kind]
    if isinstance(items, torch.Tensor) and items.ndim == axes + 2:
        if not items.is_floating_point():
            raise ValueError(f"a batch of {kind}s must be a float tensor; got {items.dtype}")
        batch, names = items.detach(), [f"{kind} {i}" for i in range(items.shape[0])]
        spacing = [(1.0, 1.0, 1.0)] * items.shape[0]
    else:
        listed = list(items) if isinstance(items, (list, tuple)) else [items]
        if not listed:
            raise ValueError(f"no {kind} given; pass at least one")
        loaded = [_item_tensor(item, kind) for item in listed]
        inputs = [
            _as_input(tensor, kind, preprocess, _is_frames(item, kind)) for (tensor, _, _), item in zip(loaded, listed)
        ]
        shapes = sorted({tuple(t.shape) for t in inputs})
        if len(shapes) != 1:
            raise ValueError(
                f"every {kind} must have the same shape after preprocess to form one batch; got {', '.join(map(str, shapes))}. "
                "Pass a preprocess that resizes them (or crops a fixed number of frames)"
            )
        batch, names = torch.stack(inputs), distinct_names([name for _, name, _ in loaded])
        spacing = [voxels for _, _, voxels in loaded]
    if not bool(torch.isfinite(batch).all()):
        raise ValueError(f"the {kind}s hold NaN or infinite values; clean them first")
    return SampleSet(batch.to(device, dtype), _display(batch, kind), names, kind, spacing)


def plane(maps: Any, kind: str) -> Any:
    """(B, *axes) maps (numpy or torch, on their device) brought to the plane their posters show: a
    volume's or clip's maximum over depth or time (B, H, W), a signal's (B, L) as one row (B, 1, L);
    images as they are."""
    if kind in ("volume", "clip"):
        return maps.amax(dim=1) if isinstance(maps, torch.Tensor) else maps.max(axis=1)
    if kind == "signal":
        return maps[:, None, :]
    return maps


def window_of(volume: np.ndarray) -> tuple[float, float]:
    """A default intensity window (level, width) for a volume: its 1st to 99th percentile."""
    low, high = (float(v) for v in np.percentile(volume, [1, 99]))
    return (low + high) / 2, max(high - low, 1e-6)


def windowed(values: np.ndarray, level: float, width: float) -> np.ndarray:
    """Grey levels of intensities through a window: ``255 * clip((v - (level - width / 2)) / width, 0, 1)``, uint8."""
    return np.rint(np.clip((values - (level - width / 2)) / width, 0.0, 1.0) * 255).astype(np.uint8)


SIGNAL_POSTER_HEIGHT = 64


def signal_picture(signal: np.ndarray, height: int = SIGNAL_POSTER_HEIGHT) -> np.ndarray:
    """A (height, L, 3) uint8 drawing of a (C, L) signal: each channel a line scaled to the height,
    dark on white."""
    import cv2

    channels, length = signal.shape
    picture = np.full((height, length, 3), 255, np.uint8)
    shades = [(40, 40, 40), (30, 90, 200), (200, 80, 30), (40, 150, 60)]
    for index, values in enumerate(signal):
        low, high = float(values.min()), float(values.max())
        rows = (height - 3) * (1 - (values - low) / (high - low)) + 1 if high > low else np.full(length, height / 2)
        points = np.stack([np.arange(length), rows], axis=1).round().astype(np.int32)
        cv2.polylines(picture, [points.reshape(-1, 1, 2)], False, shades[index % len(shades)], 1, cv2.LINE_AA)
    return picture


def posters(samples: SampleSet) -> np.ndarray:
    """One (h, w, 3) uint8 picture per item, in the plane of :func:`plane`: a volume's maximum
    intensity projection along its depth through its default window (the map's plane is its
    maximum along depth too), a clip's middle frame, a signal's drawing."""
    display, kind = samples.display, samples.kind
    if kind == "volume":
        level, width = window_of(display)
        projection = windowed(display.max(axis=1), level, width)
        return np.repeat(projection[..., None], 3, axis=-1)
    if kind == "clip":
        return np.ascontiguousarray(display[:, display.shape[1] // 2])
    return np.stack([signal_picture(signal) for signal in display])
