"""Deep Feature Factorization on an image: each pixel coloured by its strongest concept, with a
legend naming the concepts by their top classes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import cv2
import numpy as np

from .overlay import _check_image

__all__ = ["show_factorization_on_image", "create_labels", "create_labels_legend", "concept_colors"]


def _to_numpy(value: Any) -> np.ndarray:
    """An array from a numpy array, a list or a torch tensor on any device (without importing torch)."""
    if hasattr(value, "detach") and hasattr(value, "cpu"):
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def concept_colors(n_components: int) -> list[np.ndarray]:
    """``n_components`` RGBA colours spread over matplotlib's 'gist_rainbow' (at i / K), the
    original DFF code's palette."""
    from matplotlib import colormaps

    palette = colormaps["gist_rainbow"]
    return [np.array(palette(i)) for i in np.arange(0, 1, 1.0 / n_components)][:n_components]


def _check_explanations(explanations: Any, image_shape: tuple[int, ...]) -> np.ndarray:
    arr = _to_numpy(explanations)
    if arr.ndim != 3 or arr.shape[1:] != tuple(image_shape[:2]):
        hint = " Pass one image's maps, for example explanations[0] of a batch." if arr.ndim == 4 else ""
        raise ValueError(
            f"explanations must have shape (components, {image_shape[0]}, {image_shape[1]}) to match the image; "
            f"got {arr.shape}.{hint}"
        )
    if arr.shape[0] == 0 or not np.issubdtype(arr.dtype, np.floating) or not np.all(np.isfinite(arr)):
        raise ValueError("explanations must be a non-empty float array of finite values in [0, 1] (DFF's concept maps)")
    return arr


def _check_colors(colors: Sequence[Any] | None, n_components: int) -> np.ndarray:
    """(K, 3) RGB floats in [0, 1] from the given colours (RGB or RGBA) or the default palette."""
    chosen = concept_colors(n_components) if colors is None else list(colors)
    if len(chosen) < n_components:
        raise ValueError(
            f"got {len(chosen)} colors for {n_components} concepts; pass one RGB colour (floats in [0, 1]) per concept"
        )
    rgb = np.array([np.asarray(color, dtype=np.float64).reshape(-1)[:3] for color in chosen[:n_components]])
    if rgb.shape[1] != 3 or rgb.min() < 0 or rgb.max() > 1:
        raise ValueError("colors must be RGB or RGBA floats in [0, 1], one per concept")
    return rgb


def show_factorization_on_image(
    img: np.ndarray,
    explanations: Any,
    colors: Sequence[Any] | None = None,
    image_weight: float = 0.5,
    concept_labels: Sequence[str] | None = None,
) -> np.ndarray:
    """Colour each pixel by its strongest concept, brightness = that concept's map value, and blend
    with the image: ``uint8(255 * (w * img + (1 - w) * hsv_to_rgb(hue_k, sat_k, e_k)))`` with
    ``k = argmax_k e_k`` per pixel, ``w = image_weight``.

    ``img``: float RGB (H, W, 3) in [0, 1]; ``explanations``: (K, H, W) maps in [0, 1] (array or
    tensor); ``colors``: K RGB(A) colours (default: :func:`concept_colors`). With ``concept_labels``
    (one string per concept) a legend of the same size is drawn to the right, so the result is
    (H, 2W, 3). Same numbers as pytorch-grad-cam 1.5.7, which needs a matplotlib older than 3.9 for
    its default colours and changes ``explanations`` and matplotlib's global legend font size;
    this function changes neither its inputs nor global state.
    """
    image = _check_image(img)
    maps = _check_explanations(explanations, image.shape)
    if not 0 <= image_weight <= 1:
        raise ValueError(f"image_weight must be in [0, 1]; got {image_weight}")
    n_components = maps.shape[0]
    rgb = _check_colors(colors, n_components)
    if concept_labels is not None and len(concept_labels) != n_components:
        raise ValueError(
            f"got {len(concept_labels)} concept_labels for {n_components} concepts; pass one label per concept"
        )

    strongest = maps.argmax(axis=0)
    color_hsv = cv2.cvtColor(np.uint8(rgb * 255)[:, None, :], cv2.COLOR_RGB2HSV)[:, 0, :]
    hsv = color_hsv[strongest]
    hsv[:, :, 2] = np.uint8(255 * np.take_along_axis(maps, strongest[None], axis=0)[0])
    mask = np.float32(cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)) / 255
    result = np.uint8((image * image_weight + mask * (1 - image_weight)) * 255)
    if concept_labels is None:
        return result
    return np.hstack((result, _legend(list(concept_labels), rgb, result.shape[:2])))


def _legend(labels: list[str], rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A (H, W, 3) uint8 picture of a legend: one coloured line and label per concept."""
    from matplotlib import rcParams
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    height, width = size
    inch = 1 / rcParams["figure.dpi"]
    figure = Figure(figsize=(width * inch, height * inch))
    canvas = FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    line_width = 5 * height / 256
    handles = [Line2D([0], [0], color=color, lw=line_width) for color in rgb]
    font_size = _legend_font_size(labels, (height, width), 72 * inch)
    axes.legend(handles, labels, mode="expand", fancybox=True, shadow=True, fontsize=font_size)
    axes.axis("off")
    figure.tight_layout(pad=0, w_pad=0, h_pad=0)
    canvas.draw()
    picture = np.asarray(canvas.buffer_rgba())[..., :3].copy()
    return cv2.resize(picture, (width, height))


def _legend_font_size(labels: list[str], size: tuple[int, int], points_per_pixel: float) -> float:
    """The reference's size, ``14 H / 256 / max(1, K / 6)`` points for an H-pixel panel, shrunk until
    every line of every label fits (a line takes about 1.9 font sizes of height with its spacing, a
    character about 0.6 of width, the colour line about 3.5)."""
    height, width = size
    lines = [line for label in labels for line in str(label).split("\n")]
    longest = max((len(line) for line in lines), default=1)
    by_reference = 14 * height / 256 / max(1, len(labels) / 6)
    by_height = height * points_per_pixel / (1.9 * len(lines) + 1)
    by_width = width * points_per_pixel / (0.6 * longest + 3.5)
    return max(1.0, min(by_reference, by_height, by_width))


def _label_name(labels: Sequence[str] | Mapping[int, str] | None, index: int) -> str:
    if labels is None:
        return str(index)
    try:
        name = labels[index]
    except (KeyError, IndexError):
        return str(index)
    return ",".join(str(name).split(",")[:3])


def create_labels(
    concept_scores: Any,
    top_k: int = 2,
    labels: Sequence[str] | Mapping[int, str] | None = None,
) -> list[str]:
    """One legend string per concept: its ``top_k`` classes by score, ``"name:score"`` one per line,
    highest first. ``concept_scores``: (K, classes), for example the softmax of DFF's
    ``concept_outputs``; ``labels``: class names as a list (``weights.meta["categories"]``) or a
    dict (a HuggingFace ``config.id2label``); a class without a name shows its index. Names are cut
    to their first three comma-separated parts."""
    scores = _to_numpy(concept_scores)
    if scores.ndim != 2:
        raise ValueError(f"concept_scores must be (concepts, classes); got shape {scores.shape}")
    if isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer)) or top_k < 1:
        raise ValueError(f"top_k must be a positive integer; got {top_k!r}")
    best = np.argsort(-scores, axis=1, kind="stable")[:, :top_k]
    return [
        "\n".join(f"{_label_name(labels, int(index))}:{row[index]:.2f}" for index in indices)
        for row, indices in zip(scores, best)
    ]


def create_labels_legend(concept_scores: Any, labels: Sequence[str] | Mapping[int, str], top_k: int = 2) -> list[str]:
    """pytorch-grad-cam's name and argument order for :func:`create_labels`."""
    return create_labels(concept_scores, top_k, labels)
