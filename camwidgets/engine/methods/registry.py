"""The method registry: one entry per CAM method, with what the engine and widgets need to know."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Callable, Optional

import torch

__all__ = ["MethodSpec", "register", "get_method", "method_names", "METHODS", "FAMILIES"]

FAMILIES = ("gradient", "gradient-free", "perturbation")

# (activations (B, C, *s), gradients (B, C, *s) or None, eigen_smooth) -> raw map (B, *s)
MapFunction = Callable[[torch.Tensor, Optional[torch.Tensor], bool], torch.Tensor]


@dataclass(frozen=True)
class MethodSpec:
    """A registered method.

    ``name`` is the key used by the engine and widgets (``"gradcam"``); ``class_name`` the public
    class (``"GradCAM"``); ``cost`` the rough price in forward passes per image, for the widgets'
    "slow" marks; ``compute`` the map function on one layer's activations and gradients.
    """

    name: str
    class_name: str
    family: str
    needs_gradients: bool
    cost: float
    compute: MapFunction
    summary: str
    paper: str = ""


METHODS: dict[str, MethodSpec] = {}


def register(spec: MethodSpec) -> MethodSpec:
    if spec.family not in FAMILIES:
        raise ValueError(f"unknown family {spec.family!r}; expected one of {FAMILIES}")
    if spec.name in METHODS:
        raise ValueError(f"method {spec.name!r} is registered twice")
    METHODS[spec.name] = spec
    return spec


def method_names() -> list[str]:
    return list(METHODS)


def get_method(name: str) -> MethodSpec:
    """The spec for ``name`` (the registry key or the class name, any case)."""
    key = name.lower().replace("-", "").replace("_", "")
    for spec in METHODS.values():
        if key in (spec.name.replace("_", ""), spec.class_name.lower().replace("_", "")):
            return spec
    close = difflib.get_close_matches(name.lower(), list(METHODS), n=3, cutoff=0.4)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise ValueError(f"unknown method {name!r}.{hint} Registered: {', '.join(METHODS)}")
