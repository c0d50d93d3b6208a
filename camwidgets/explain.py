"""Explain one photo with a classifier: prepare the model input, find the top classes, compute
several CAM methods from one shared forward/backward and lay them out in a figure.

Used by ``python -m camwidgets explain`` and by the notebooks::

    from camwidgets.pretrained import load_model
    from camwidgets.explain import explain_photo

    model, weights = load_model("mobilenet_v2")
    result = explain_photo(model, weights, cw.load_photo("chelsea"), target="tabby")
    result.figure       # matplotlib Figure: photo with top-5 classes, then one overlay per method
    result.maps         # {method name: (224, 224) float32 map in [0, 1]}
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .cams import compute_cams
from .compat.preprocessing import preprocess_image
from .core.classes import resolve_class  # noqa: F401  (a public name of this module)
from .core.images import IMAGENET_MEAN, IMAGENET_STD, center_crop  # noqa: F401  (this module's public names)
from .core.images import read_image as load_image
from .core.text import format_probability  # noqa: F401  (a public name of this module)
from .engine import ClassifierOutputTarget, get_method, resolve_target_layers, suggest_target_layer
from .pretrained import class_names
from .render.grid import explanation_grid

if TYPE_CHECKING:  # OpenCV and matplotlib load on first use
    import torch
    from matplotlib.figure import Figure
    from torch import nn

__all__ = [
    "DEFAULT_METHODS",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "Explanation",
    "center_crop",
    "explain_photo",
    "format_probability",
    "load_image",
    "parse_methods",
    "resolve_class",
    "top_classes",
]

#: Methods shown when none are chosen: two gradient-weighted, one element-wise, one gradient-free.
DEFAULT_METHODS: tuple[str, ...] = ("gradcam", "gradcam++", "layercam", "eigencam")


def parse_methods(methods: str | Sequence[str] | None) -> list[str]:
    """Registry names for ``methods``: names or class names, in a list and/or comma separated;
    duplicates dropped, order kept; ``None`` or empty gives :data:`DEFAULT_METHODS`."""

    if methods is None:
        return list(DEFAULT_METHODS)
    if isinstance(methods, str):
        methods = [methods]
    names: list[str] = []
    for item in methods:
        for part in str(item).split(","):
            if part.strip():
                names.append(get_method(part.strip()).name)
    return list(dict.fromkeys(names)) or list(DEFAULT_METHODS)


def top_classes(probabilities: np.ndarray, labels: Sequence[str], k: int = 5) -> list[tuple[str, float]]:
    """``[(class name, probability), ...]`` for the ``k`` most probable classes, best first."""
    order = np.argsort(-probabilities, kind="stable")[:k]
    return [(labels[i], float(probabilities[i])) for i in order]


@dataclass
class Explanation:
    """What :func:`explain_photo` computed. ``photo`` is the 224x224 crop the model saw and the maps
    are aligned with it; ``top`` lists the five most probable classes with their probabilities."""

    photo: np.ndarray
    input_tensor: torch.Tensor
    probabilities: np.ndarray
    top: list[tuple[str, float]]
    target_index: int
    target_name: str
    layer: str
    layer_suggested: bool
    maps: dict[str, np.ndarray]
    figure: Figure | None = field(default=None, repr=False)


def _mean_std(weights: Any) -> tuple[Sequence[float], Sequence[float]]:
    """Normalisation of the weights' own preprocessing when it says, else ImageNet's."""
    try:
        transforms = weights.transforms()
        return tuple(transforms.mean), tuple(transforms.std)
    except (AttributeError, TypeError):
        return IMAGENET_MEAN, IMAGENET_STD


def explain_photo(
    model: nn.Module,
    weights: Any,
    photo: np.ndarray,
    methods: str | Sequence[str] | None = None,
    layer: str | None = None,
    target: int | str | None = None,
    *,
    size: int = 224,
    name: str | None = None,
    title: str | None = None,
    figure: bool = True,
) -> Explanation:
    """Explain ``photo`` (RGB uint8, any size) with ``model``.

    The photo is resized (shorter side ``size``) and centre-cropped to ``size`` x ``size``; that crop
    is both the model input (normalised like ``weights``) and the background of the overlays.
    ``methods``: registry or class names (default :data:`DEFAULT_METHODS`), all computed from one
    forward/backward. ``layer``: a ``named_modules()`` name, default the suggested one. ``target``:
    class index or name (see :func:`resolve_class`), default the top class. ``weights``: the
    torchvision weights enum (for class names and normalisation) or a list of class names.
    With ``figure=True`` an :func:`~camwidgets.render.grid.explanation_grid` is attached.
    ``name`` (e.g. the photo's) starts the default figure title; ``title`` replaces it.
    """
    import torch

    if isinstance(weights, (list, tuple)):
        labels, (mean, std) = list(weights), (IMAGENET_MEAN, IMAGENET_STD)
    else:
        labels, (mean, std) = class_names(weights), _mean_std(weights)
    names = parse_methods(methods)
    target_index = None if target is None else resolve_class(target, labels)

    crop = center_crop(np.asarray(photo), size)
    input_tensor = preprocess_image(crop.astype(np.float32) / 255, mean=mean, std=std)
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    input_tensor = input_tensor.to(device)

    suggested = layer is None
    if suggested:
        layer = suggest_target_layer(model, input_tensor)
    else:
        layer = resolve_target_layers(model, [layer])[0][0]

    with torch.no_grad():
        logits = model(input_tensor)
    probabilities = torch.softmax(logits.float(), dim=1)[0].cpu().numpy()
    if len(probabilities) != len(labels):
        raise ValueError(f"the model gives {len(probabilities)} scores but there are {len(labels)} class names")
    if target_index is None:
        target_index = int(np.argmax(probabilities))
    top = top_classes(probabilities, labels)

    batch_maps = compute_cams(
        model, input_tensor, names, target_layers=[layer], targets=[ClassifierOutputTarget(target_index)]
    )
    maps = {method: value[0] for method, value in batch_maps.items()}

    result = Explanation(
        photo=crop,
        input_tensor=input_tensor,
        probabilities=probabilities,
        top=top,
        target_index=target_index,
        target_name=labels[target_index],
        layer=layer,
        layer_suggested=suggested,
        maps=maps,
    )
    if figure:
        if title is None:
            probability = format_probability(probabilities[target_index])
            probability = probability if probability.startswith("<") else f"={probability}"
            parts = [name] if name else []
            parts += [f"target: {labels[target_index]} ({target_index}, p{probability})", f"layer: {layer}"]
            title = "  |  ".join(parts)
        result.figure = explanation_grid(crop, maps, title, top)
    return result
