"""A figure with a photo and one CAM overlay per method, and atomic saving of figures.

Figures are built with :class:`matplotlib.figure.Figure` directly, never through pyplot, so this
works headless and leaves pyplot's global state (current figure, backend) alone.
"""

from __future__ import annotations

import contextlib
import math
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from ..engine import get_method
from .overlay import show_cam_on_image

__all__ = ["explanation_grid", "save_figure"]

_PANEL_INCHES = 3.0
_MAX_COLUMNS = 5


def _method_title(name: str) -> str:
    """The public class name of a registered method (``"gradcam++"`` -> ``"GradCAMPlusPlus"``);
    other keys are shown as given."""

    try:
        return get_method(name).class_name
    except ValueError:
        return name


def _photo_float(photo: np.ndarray) -> np.ndarray:
    arr = np.asarray(photo)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise ValueError(f"photo must be an RGB image of shape (H, W, 3), got shape {arr.shape}")
    if arr.dtype == np.uint8:
        return arr.astype(np.float32) / 255
    if np.issubdtype(arr.dtype, np.floating):
        return np.clip(arr.astype(np.float32), 0, 1)
    raise ValueError(f"photo must be uint8 (0-255) or float (0-1), got dtype {arr.dtype}")


def explanation_grid(
    photo_rgb_uint8: np.ndarray,
    maps: Mapping[str, np.ndarray],
    title: str,
    top_classes: Sequence[tuple[str, float]],
    *,
    columns: int | None = None,
    image_weight: float = 0.5,
) -> Figure:
    """A figure: the photo first, titled with ``top_classes`` (name, probability), then one panel per
    entry of ``maps`` ({method name: (H, W) map in [0, 1]}) overlaid on the photo and titled with the
    method's class name; ``title`` on top.

    Each map must have the photo's height and width (compute the maps on the very image shown, e.g.
    the model's centre crop). ``columns`` defaults to all panels in one row, up to five per row.
    """
    photo = _photo_float(photo_rgb_uint8)
    height, width = photo.shape[:2]
    for name, cam in maps.items():
        shape = np.shape(cam)
        if shape != (height, width):
            raise ValueError(
                f"map {name!r} has shape {shape} but the photo is {height}x{width}; pass maps computed on the photo shown "
                "(a batch of maps needs indexing, e.g. maps[name][0])"
            )

    panels = 1 + len(maps)
    columns = columns or min(panels, _MAX_COLUMNS)
    rows = math.ceil(panels / columns)
    # Height: the image rows plus room for the titles (the class lines above the photo on the first
    # row, one line above the panels of later rows) and the figure title.
    line_inches = 8.5 * 1.25 / 72
    title_inches = line_inches * max(len(top_classes), 1) + 0.25 * (rows - 1) + 0.45
    panel_width = _PANEL_INCHES
    fig = Figure(
        figsize=(panel_width * columns, panel_width * rows * height / width + title_inches), layout="constrained"
    )
    fig.suptitle(title, fontsize=11)
    axes = fig.subplots(rows, columns, squeeze=False).ravel()

    lines = [f"{i}. {name}  {p:.1%}" for i, (name, p) in enumerate(top_classes, 1)]
    axes[0].imshow(photo)
    axes[0].set_title("\n".join(lines), fontsize=8.5, loc="left", family="monospace")
    for ax, (name, cam) in zip(axes[1:], maps.items()):
        overlay = show_cam_on_image(
            photo, np.clip(np.asarray(cam, dtype=np.float32), 0, 1), use_rgb=True, image_weight=image_weight
        )
        ax.imshow(overlay)
        ax.set_title(_method_title(name), fontsize=10, fontweight="bold")
    for ax in axes:
        ax.set_axis_off()
    return fig


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def save_figure(fig: Figure, path: str | os.PathLike, *, dpi: int = 100) -> Path:
    """Write ``fig`` to ``path`` (format from the suffix, PNG when there is none; margins trimmed),
    creating parent folders. The file is written to a temporary name in the same folder and then renamed over
    ``path``, so readers never see a half-written file. Returns the path written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    file_format = path.suffix.lstrip(".").lower() or "png"
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            fig.savefig(stream, format=file_format, dpi=dpi, bbox_inches="tight", pad_inches=0.1)
        os.chmod(temporary, 0o666 & ~_umask())  # mkstemp makes it owner-only; give it a normal file's mode
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    return path
