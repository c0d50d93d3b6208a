"""The explorer's values: the view shown (:class:`ViewState`), its maps (:class:`Result`) and a
method's price (:class:`Estimate`). Everything in the explorer imports these; they import nothing
of the explorer."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["ViewState", "Result", "Estimate", "gray_levels"]


@dataclass(frozen=True)
class ViewState:
    """What the overlay shows: image index, layer paths (aggregated when several), method registry
    name, target class (None: each image's default: top class, every detection, largest region),
    smoothing flags, normalisation; and the task's own choices (see :mod:`.tasks`): ``box`` (a
    detection of the image shown), ``region`` (a rectangle ``(x1, y1, x2, y2)`` in image pixels: of
    the image shown for segmentation, of the concept image for embeddings), ``concept`` (the image
    whose embedding is the concept)."""

    image: int = 0
    layers: tuple[str, ...] = ()
    method: str = "gradcam"
    target: int | None = None
    aug_smooth: bool = False
    eigen_smooth: bool = False
    normalise: str = "image"
    box: int | None = None
    region: tuple[int, int, int, int] | None = None
    concept: int | None = None


@dataclass
class Result:
    """Maps of one state for the whole batch: ``maps`` (B, H, W) float32 on the host, ``levels`` the
    8-bit grey levels sent to the browser, ``value_range`` (low, high) mapping level 0/255 back to
    values; ``missing``: images whose maps a cancelled slow method did not reach (their rows copy a
    finished map and are never shown: choosing one computes it)."""

    state: ViewState
    maps: np.ndarray
    levels: np.ndarray
    value_range: tuple[float, float]
    missing: tuple[int, ...] = ()


@dataclass(frozen=True)
class Estimate:
    """What a method costs for the batch at some layers: ``passes`` over the images (forward passes,
    or forward and backward for gradient methods) and ``seconds`` from the measured forward time."""

    passes: int
    seconds: float


def gray_levels(maps: np.ndarray, normalise: str) -> tuple[np.ndarray, tuple[float, float]]:
    """``round(255 * (m - low) / (high - low))``: low, high = 0, 1 for normalised maps, the batch's
    range for raw ones."""
    low, high = (0.0, 1.0) if normalise != "none" else (float(maps.min()), float(maps.max()))
    scaled = (maps - low) / (high - low) if high > low else np.zeros_like(maps)
    return np.rint(np.clip(scaled, 0, 1) * 255).astype(np.uint8), (low, high)
