"""The method registry: one entry per CAM method, with what the engine and widgets need to know."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Optional

import torch

if TYPE_CHECKING:
    from ..explainer import Explainer
    from ..progress import ProgressOption

__all__ = ["MethodSpec", "MethodCall", "register", "get_method", "method_names", "single_capture_methods", "METHODS", "FAMILIES"]

FAMILIES = ("gradient", "gradient-free", "perturbation")

# (activations (B, C, *s), gradients (B, C, *s) or None, eigen_smooth) -> raw map (B, *s)
MapFunction = Callable[[torch.Tensor, Optional[torch.Tensor], bool], torch.Tensor]


@dataclass
class MethodCall:
    """Everything a whole-method ``run`` function gets: the explainer (model, layers, reshape,
    normalisation, cache), the batch on the model's device, one target per image or None, the
    smoothing flag, the method's own parameters (``batch_size``, ...) and the progress option."""

    explainer: "Explainer"
    input_tensor: torch.Tensor
    targets: Optional[list]
    eigen_smooth: bool = False
    options: dict[str, Any] = field(default_factory=dict)
    progress: "ProgressOption" = None


# MethodCall -> final (B, *image size) maps, already upsampled, aggregated and normalised
RunFunction = Callable[[MethodCall], torch.Tensor]


@dataclass(frozen=True)
class MethodSpec:
    """A registered method.

    ``name`` is the key used by the engine and widgets (``"gradcam"``); ``class_name`` the public
    class (``"GradCAM"``); ``cost`` the rough price in forward passes per image, for the widgets'
    "slow" marks; ``compute`` the map function on one layer's activations and gradients.

    Methods that need more than one capture's (A, G) (ScoreCAM's extra forwards, FullGrad's bias
    gradients, wrappers over a base method) give ``run`` instead, which receives a
    :class:`MethodCall` and returns the final maps; the explainer then only handles ``aug_smooth``.
    """

    name: str
    class_name: str
    family: str
    needs_gradients: bool
    cost: float
    compute: Optional[MapFunction]
    summary: str
    paper: str = ""
    run: Optional[RunFunction] = None


METHODS: dict[str, MethodSpec] = {}


def register(spec: MethodSpec) -> MethodSpec:
    if spec.family not in FAMILIES:
        raise ValueError(f"unknown family {spec.family!r}; expected one of {FAMILIES}")
    if (spec.compute is None) == (spec.run is None):
        raise ValueError(f"method {spec.name!r} needs exactly one of compute (per-layer map) and run (whole method)")
    if spec.name in METHODS:
        raise ValueError(f"method {spec.name!r} is registered twice")
    METHODS[spec.name] = spec
    return spec


def method_names() -> list[str]:
    return list(METHODS)


def single_capture_methods() -> list[str]:
    """The methods computed from one capture's activations and gradients (no extra forwards):
    switching among them, or toggling eigen_smooth, costs no new forward pass."""
    return [name for name, spec in METHODS.items() if spec.compute is not None]


def get_method(name: str) -> MethodSpec:
    """The spec for ``name`` (the registry key or the class name, any case)."""
    key = name.lower().replace("-", "").replace("_", "")
    for spec in METHODS.values():
        if key in (spec.name.replace("_", ""), spec.class_name.lower().replace("_", "")):
            return spec
    close = difflib.get_close_matches(name.lower(), list(METHODS), n=3, cutoff=0.4)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise ValueError(f"unknown method {name!r}.{hint} Registered: {', '.join(METHODS)}")
