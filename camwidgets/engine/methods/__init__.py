"""CAM methods: each a small function on one layer's (activations, gradients), plus a registry entry."""

from . import activation, gradient  # noqa: F401  (importing registers the methods)
from .registry import FAMILIES, METHODS, MethodSpec, get_method, method_names, register

__all__ = ["FAMILIES", "METHODS", "MethodSpec", "get_method", "method_names", "register"]
