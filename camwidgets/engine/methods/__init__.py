"""CAM methods: each one function plus one registry entry (:class:`MethodSpec`), registered here from
one explicit list, family by family (the order of the menus and of ``method_names()``)."""

from typing import Any

from ..attention import has_attention
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
    "methods_for",
]

for _spec in (
    *gradient.SPECS,
    *activation.SPECS,
    *fullgrad.SPECS,
    *perturbation.SPECS,
    *wrappers.SPECS,
    *sess.SPECS,
    *attention.SPECS,
):
    register(_spec)


def methods_for(model: Any, input_axes: int) -> list[str]:
    """The registered methods that explain ``model`` on inputs of ``input_axes`` positional axes (attention
    methods only for models with attention they can read), in registry order."""
    attention_ok = has_attention(model)
    return [
        name
        for name, spec in METHODS.items()
        if spec.accepts(input_axes) and (attention_ok or not spec.needs_attention)
    ]
