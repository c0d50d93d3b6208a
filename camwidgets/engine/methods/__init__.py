"""CAM methods: each a small function on one layer's (activations, gradients), plus a registry entry."""

from . import gradient, activation, fullgrad, perturbation, wrappers  # noqa: F401,I001  (importing registers the methods, gradient family first)
from .registry import FAMILIES, METHODS, MethodSpec, get_method, method_names, register, single_capture_methods

__all__ = ["FAMILIES", "METHODS", "MethodSpec", "get_method", "method_names", "register", "single_capture_methods"]
