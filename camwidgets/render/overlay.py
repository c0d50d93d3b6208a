"""Blend a class activation map, drawn as a colour heatmap, over an image."""

from __future__ import annotations

import numbers
import warnings

import cv2
import numpy as np

__all__ = ["show_cam_on_image"]


def _check_image(img: np.ndarray) -> np.ndarray:
    """Check that ``img`` is a float (H, W, 3) or (H, W, 1) image with values in [0, 1]."""
    arr = np.asarray(img)
    if arr.ndim != 3 or arr.shape[2] not in (1, 3):
        hint = ""
        if arr.ndim == 2:
            hint = " For a grayscale image pass img[:, :, None]."
        elif arr.ndim == 3 and arr.shape[0] in (1, 3):
            hint = " The array looks channels-first; try img.transpose(1, 2, 0)."
        elif arr.ndim == 3 and arr.shape[2] == 4:
            hint = " For an RGBA image drop the alpha channel: img[:, :, :3]."
        raise ValueError(f"img must be an image of shape (H, W, 3), got shape {arr.shape}.{hint}")
    if not np.issubdtype(arr.dtype, np.floating):
        raise ValueError(
            f"img must be a float image with values in [0, 1], got dtype {arr.dtype}. "
            "Divide a uint8 image by 255 first: np.float32(img) / 255."
        )
    if arr.size == 0:
        raise ValueError(f"img is empty (shape {arr.shape}).")
    if not np.all(np.isfinite(arr)):
        raise ValueError("img contains NaN or infinite values; expected floats in [0, 1].")
    lo, hi = float(arr.min()), float(arr.max())
    if lo < 0 or hi > 1:
        hint = (
            " It looks like a 0-255 image: divide it by 255 first, np.float32(img) / 255."
            if hi > 1
            else " Clip or rescale it to [0, 1] first."
        )
        raise ValueError(f"img must hold values in [0, 1], got values in [{lo:g}, {hi:g}].{hint}")
    return arr


def _check_mask(mask: np.ndarray, image_shape: tuple[int, ...]) -> np.ndarray:
    """Check that ``mask`` is a finite real (H, W) map matching the image size."""
    arr = np.asarray(mask)
    height, width = image_shape[:2]
    if arr.ndim != 2:
        hint = ""
        if arr.ndim == 3 and arr.shape[0] == 1:
            hint = " It looks like a batch of maps; pass a single one, e.g. grayscale_cam[0]."
        elif arr.ndim == 3 and arr.shape[2] == 1:
            hint = " Drop the channel axis: mask[:, :, 0]."
        raise ValueError(f"mask must be a 2-D map of shape (H, W) = ({height}, {width}), got shape {arr.shape}.{hint}")
    if arr.shape != (height, width):
        raise ValueError(
            f"mask shape {arr.shape} does not match the image size (H, W) = ({height}, {width}). "
            f"Resize the map first, e.g. scale_cam_image(cam, target_size=({width}, {height}))."
        )
    if not (arr.dtype == np.bool_ or np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise ValueError(f"mask must be a real-valued array, got dtype {arr.dtype}.")
    if np.issubdtype(arr.dtype, np.floating) and not np.all(np.isfinite(arr)):
        raise ValueError(
            "mask contains NaN or infinite values; expected a map with values in [0, 1]. "
            "Check the CAM computation, or replace them with np.nan_to_num(mask)."
        )
    if arr.size and (arr.min() < 0 or arr.max() > 1):
        warnings.warn(
            f"mask values lie in [{float(arr.min()):g}, {float(arr.max()):g}], outside [0, 1]; "
            "255 * mask does not fit in uint8, so the heatmap colours are meaningless. "
            "Scale the map to [0, 1] first, e.g. with scale_cam_image.",
            RuntimeWarning,
            stacklevel=3,
        )
    return arr


def show_cam_on_image(
    img: np.ndarray,
    mask: np.ndarray,
    use_rgb: bool = False,
    colormap: int = cv2.COLORMAP_JET,
    image_weight: float = 0.5,
) -> np.ndarray:
    """Overlay a CAM ``mask`` on ``img`` as a colour heatmap; returns uint8 (H, W, 3).

    ``heat = applyColorMap(uint8(255 * mask), colormap) / 255`` (BGR, or RGB when
    ``use_rgb=True``, which is what an RGB ``img`` needs), then
    ``blend = (1 - image_weight) * heat + image_weight * img`` and the result is
    ``uint8(255 * blend / max(blend))``. Matches
    ``pytorch_grad_cam.utils.image.show_cam_on_image`` bit for bit on valid input.

    ``img`` must be float in [0, 1] of shape (H, W, 3) (or (H, W, 1)); ``mask`` a
    (H, W) map in [0, 1]; ``image_weight`` in [0, 1]. Invalid arguments raise
    ``ValueError`` (the reference raises a plain ``Exception``; ``ValueError`` is
    a subclass, so ``except Exception`` still works). A mask with values outside
    [0, 1] is used as is (like the reference) but triggers a ``RuntimeWarning``.
    If the blend is black everywhere, a black image is returned. Inputs are not
    modified.
    """
    arr = _check_image(img)
    cam_map = _check_mask(mask, arr.shape)
    if not isinstance(image_weight, numbers.Real) or isinstance(image_weight, bool) or not 0 <= image_weight <= 1:
        raise ValueError(
            f"image_weight must be a number in [0, 1] (the share of the image in the blend), "
            f"got {image_weight!r}. Try image_weight=0.5."
        )

    try:
        heatmap = cv2.applyColorMap(np.uint8(255 * cam_map), colormap)
    except cv2.error as exc:
        raise ValueError(
            f"cv2.applyColorMap rejected colormap={colormap!r}. Use one of the "
            "cv2.COLORMAP_* constants (e.g. cv2.COLORMAP_JET) or a (256, 1, 3) uint8 "
            f"lookup table. OpenCV said: {exc}"
        ) from exc
    if use_rgb:
        heatmap = cv2.cvtColor(heatmap, cv2.COLOR_BGR2RGB)
    heat = np.float32(heatmap) / 255

    # Keep ``image_weight`` as given: its type decides the precision of the
    # blend exactly as in the reference.
    blend = (1 - image_weight) * heat + image_weight * arr
    peak = np.max(blend)
    if peak == 0:
        return np.zeros(blend.shape, dtype=np.uint8)
    return np.uint8(255 * (blend / peak))
