"""Image pre- and post-processing helpers used around CAM computation.

The functions mirror ``pytorch_grad_cam.utils.image`` (grad-cam 1.5.7) and give the
same numbers for valid input, but validate their arguments and never modify them.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import cv2
import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["preprocess_image", "deprocess_image", "scale_cam_image", "scale_accross_batch_and_channels", "sobel_cam"]

_MeanStd = float | Sequence[float]


def _channel_values(values: _MeanStd, what: str, channels: int) -> torch.Tensor:
    """Turn a scalar or per-channel ``mean``/``std`` into a float64 tensor of shape (C, 1, 1)."""
    if isinstance(values, numbers.Real) and not isinstance(values, bool):
        out = np.full(channels, float(values), dtype=np.float64)
    else:
        try:
            out = np.asarray(values, dtype=np.float64).reshape(-1)
        except (TypeError, ValueError):
            raise ValueError(f"{what} must be a number or a sequence of {channels} numbers, got {values!r}.") from None
        if out.size != channels:
            raise ValueError(
                f"{what} must have one value per channel ({channels}), got {out.size} "
                f"values: {values!r}. Try {what}=(0.485, 0.456, 0.406) for ImageNet "
                "models or a single number for all channels."
            )
    if not np.all(np.isfinite(out)):
        raise ValueError(f"{what} must contain finite numbers, got {values!r}.")
    return torch.from_numpy(out).view(channels, 1, 1)


def preprocess_image(
    img: np.ndarray,
    mean: _MeanStd = (0.5, 0.5, 0.5),
    std: _MeanStd = (0.5, 0.5, 0.5),
) -> torch.Tensor:
    """Turn an ``(H, W, 3)`` image into a normalised ``(1, 3, H, W)`` float32 tensor.

    ``x = img / 255`` for ``uint8`` input, ``x = img`` for float input (expected in
    [0, 1]); then ``out[c] = (x[c] - mean[c]) / std[c]`` with channels first.
    This equals torchvision's ``ToTensor()`` followed by ``Normalize(mean, std)``,
    which is what ``pytorch_grad_cam.utils.image.preprocess_image`` does; the only
    difference is that the result is always float32 (the reference keeps float64
    for float64 input). ``img`` is not modified.
    """
    if isinstance(img, torch.Tensor):
        raise TypeError(
            "preprocess_image expects a NumPy array of shape (H, W, 3), got a torch.Tensor. "
            "Pass img.cpu().numpy() (channels last) or normalise the tensor directly."
        )
    arr = np.asarray(img)
    if arr.ndim != 3 or arr.shape[2] != 3:
        hint = ""
        if arr.ndim == 2:
            hint = " For a grayscale image try np.repeat(img[:, :, None], 3, axis=2)."
        elif arr.ndim == 3 and arr.shape[0] == 3:
            hint = " The array looks channels-first; try img.transpose(1, 2, 0)."
        elif arr.ndim == 3 and arr.shape[2] == 4:
            hint = " For an RGBA image drop the alpha channel: img[:, :, :3]."
        elif arr.ndim == 4:
            hint = " Pass one image at a time (img[0]) and stack the results with torch.cat."
        raise ValueError(f"preprocess_image expects an image of shape (H, W, 3), got shape {arr.shape}.{hint}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"preprocess_image got an empty image of shape {arr.shape}.")

    if arr.dtype == np.uint8:
        chw = torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1)))
        x = chw.to(torch.float32).div(255)
    elif np.issubdtype(arr.dtype, np.floating):
        work = np.float64 if arr.dtype == np.float64 else np.float32
        x = torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1), dtype=work))
    elif np.issubdtype(arr.dtype, np.integer):
        raise ValueError(
            f"preprocess_image expects a uint8 image (0-255) or a float image in [0, 1], "
            f"got dtype {arr.dtype}. If it holds pixel values, try "
            f"img.astype(np.float32) / {np.iinfo(arr.dtype).max} or img.astype(np.uint8)."
        )
    else:
        raise ValueError(
            f"preprocess_image expects a uint8 image (0-255) or a float image in [0, 1], got dtype {arr.dtype}."
        )

    mean_t = _channel_values(mean, "mean", 3).to(x.dtype)
    std_t = _channel_values(std, "std", 3).to(x.dtype)
    if bool((std_t == 0).any()):
        raise ValueError(f"std must not contain zeros (division by zero), got {std!r}.")
    out = (x - mean_t) / std_t
    return out.to(torch.float32).unsqueeze(0).contiguous()


def deprocess_image(img: np.ndarray) -> np.ndarray:
    """Map an arbitrary-range array (e.g. a guided-backprop gradient) to a viewable uint8 image.

    ``c = img - mean(img)``; ``y = clip(c / (std(c) + 1e-5) * 0.1 + 0.5, 0, 1)``;
    returns ``uint8(255 * y)`` (truncated), with the same shape as ``img``.
    Mean and std are taken over all elements, as in
    ``pytorch_grad_cam.utils.image.deprocess_image``. ``img`` is not modified.
    """
    arr = np.asarray(img)
    if arr.size == 0:
        raise ValueError(f"deprocess_image got an empty array of shape {arr.shape}.")
    if not (np.issubdtype(arr.dtype, np.number) and not np.issubdtype(arr.dtype, np.complexfloating)):
        raise ValueError(f"deprocess_image expects a real-valued numeric array, got dtype {arr.dtype}.")
    centred = arr - np.mean(arr)
    scaled = centred / (np.std(centred) + 1e-5)
    shown = np.clip(scaled * 0.1 + 0.5, 0, 1)
    return np.uint8(shown * 255)


def _check_target_size(target_size: object, map_ndim: int) -> tuple[int, ...]:
    """Validate ``target_size`` for maps with ``map_ndim`` spatial dimensions."""
    names = "(width, height)" if map_ndim == 2 else "(width, height, depth)"
    ok = (
        isinstance(target_size, (tuple, list))
        and len(target_size) == map_ndim
        and all(isinstance(s, numbers.Integral) and not isinstance(s, bool) and s > 0 for s in target_size)
    )
    if not ok:
        raise ValueError(
            f"target_size must be a tuple {names} of {map_ndim} positive ints for "
            f"{map_ndim}-D maps, got {target_size!r}. Note the order: width first, "
            f"e.g. target_size=(img.shape[1], img.shape[0])."
        )
    return tuple(int(s) for s in target_size)


def scale_cam_image(cam: np.ndarray, target_size: tuple[int, ...] | None = None) -> np.ndarray:
    """Min-max scale each map of a batch to [0, 1] and optionally resize it; returns float32.

    For each map ``m`` (``cam`` has shape ``(N, H, W)`` or ``(N, D, H, W)``):
    ``s = m - min(m)``, then ``s / (1e-7 + max(s))``.

    If ``target_size`` is given the scaled maps are resized:

    * 2-D maps: ``target_size = (width, height)``, ``cv2.resize`` with bilinear
      interpolation; identical to ``pytorch_grad_cam.utils.image.scale_cam_image``.
    * 3-D maps: ``target_size = (width, height, depth)``, trilinear interpolation
      (``torch.nn.functional.interpolate``, ``align_corners=False``). The reference
      uses ``scipy.ndimage.zoom`` (cubic spline, corner-aligned grid) here, so
      3-D results differ from it.

    A 2-D array without ``target_size`` is scaled as the reference scales it: row by row, each row
    on its own (what its detection tutorials' box renormalisation gets); to scale one 2-D map as a
    whole pass ``cam[None]`` and take ``result[0]``. ``cam`` is not modified.
    """
    arr = np.asarray(cam)
    if arr.ndim == 2 and target_size is None:
        # the reference reads a 2-D array as a batch of rows (its detection tutorials rely on it)
        return scale_cam_image(arr[:, None, :])[:, 0, :]
    if arr.ndim not in (3, 4):
        hint = " For a single 2-D map pass cam[None] and take result[0]." if arr.ndim == 2 else ""
        raise ValueError(
            "scale_cam_image expects a batch of maps of shape (N, H, W) or (N, D, H, W), "
            f"or one 2-D array without target_size; got shape {arr.shape}.{hint}"
        )
    if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise ValueError(f"scale_cam_image expects a real-valued array, got dtype {arr.dtype}.")
    map_ndim = arr.ndim - 1
    size = None if target_size is None else _check_target_size(target_size, map_ndim)

    if arr.shape[0] == 0 or arr.size == 0:
        out_shape = arr.shape if size is None else (arr.shape[0], *size[::-1])
        return np.zeros(out_shape, dtype=np.float32)

    axes = tuple(range(1, arr.ndim))
    shifted = arr - np.min(arr, axis=axes, keepdims=True)
    scaled = shifted / (1e-7 + np.max(shifted, axis=axes, keepdims=True))
    scaled = scaled.astype(np.float32, copy=False)

    if size is None:
        return scaled
    if map_ndim == 2:
        return np.stack([cv2.resize(np.ascontiguousarray(m), size) for m in scaled]).astype(np.float32, copy=False)
    vol = torch.from_numpy(np.ascontiguousarray(scaled)).unsqueeze(1)  # (N, 1, D, H, W)
    resized = F.interpolate(vol, size=size[::-1], mode="trilinear", align_corners=False)
    return resized.squeeze(1).numpy()


def scale_accross_batch_and_channels(tensor: np.ndarray, target_size: tuple[int, int]) -> np.ndarray:
    """:func:`scale_cam_image` on every (B, C) map of a (B, C, H, W) array: (B, C, height, width) with
    ``target_size = (width, height)`` (the reference's spelling of the name is kept)."""
    arr = np.asarray(tensor)
    if arr.ndim != 4:
        raise ValueError(f"scale_accross_batch_and_channels expects (B, C, H, W) maps; got shape {arr.shape}")
    batch, channels = arr.shape[:2]
    scaled = scale_cam_image(arr.reshape(batch * channels, *arr.shape[2:]), target_size)
    return scaled.reshape(batch, channels, *scaled.shape[1:])


def sobel_cam(img: np.ndarray) -> np.ndarray:
    """A model-free baseline map: ``|d/dx| / 2 + |d/dy| / 2`` of the grayscale image (3x3 Sobel),
    each magnitude saturated to uint8 first; ``img`` (H, W, 3) RGB, returns (H, W) uint8."""
    arr = np.asarray(img)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise ValueError(f"sobel_cam expects an RGB image of shape (H, W, 3); got shape {arr.shape}")
    gray = cv2.cvtColor(arr, cv2.COLOR_RGB2GRAY)
    magnitudes = [cv2.convertScaleAbs(cv2.Sobel(gray, cv2.CV_64F, dx, 1 - dx, ksize=3)) for dx in (1, 0)]
    return cv2.addWeighted(magnitudes[0], 0.5, magnitudes[1], 0.5, 0)
