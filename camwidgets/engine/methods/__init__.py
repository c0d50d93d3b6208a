"""CAM methods: each one function plus one registry entry (:class:`MethodSpec`), registered here from
one explicit list, family by family (the order of the menus and of ``method_names()``)."""

from . import activation, attention, fullgrad, gradient, perturbation, sess, wrappers
from .registry import (
    FAMILIES,
    METHODS,
    MethodSpec,
    base_spec,
    get_method,
    method_names,
    register,
    single_capture_methods,
)

__all__ = [
    "FAMILIES",
    "METHODS",
    "MethodSpec",
    "base_spec",
    "get_method",
    "method_names",
    "register",
    "single_capture_methods",
]

for _spec in (*gradient.SPECS, *activation.SPECS, *fullgrad.SPECS, *perturbation.SPECS, *wrappers.SPECS, *sess.SPECS, *attention.SPECS):
    register(_spec)
