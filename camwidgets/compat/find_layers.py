"""Finding and replacing submodules by identity, type or predicate (the reference's helpers).

``replace_*`` change the model in place, as the reference's do; the CAM classes never call them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from torch import nn

__all__ = [
    "replace_layer_recursive",
    "replace_all_layer_type_recursive",
    "find_layer_types_recursive",
    "find_layer_predicate_recursive",
]


def replace_layer_recursive(model: nn.Module, old_layer: nn.Module, new_layer: nn.Module) -> bool:
    """Put ``new_layer`` where ``old_layer`` is (the first place, depth first); True if found."""
    for name, layer in model.named_children():
        if layer is old_layer:
            setattr(model, name, new_layer)
            return True
        if replace_layer_recursive(layer, old_layer, new_layer):
            return True
    return False


def replace_all_layer_type_recursive(
    model: nn.Module, old_layer_type: type | tuple[type, ...], new_layer: nn.Module
) -> None:
    """Put ``new_layer`` in place of every submodule that is an ``old_layer_type``."""
    for name, layer in model.named_children():
        if isinstance(layer, old_layer_type):
            setattr(model, name, new_layer)
        replace_all_layer_type_recursive(layer, old_layer_type, new_layer)


def find_layer_predicate_recursive(model: nn.Module, predicate: Callable[[nn.Module], bool]) -> list[nn.Module]:
    """Every submodule (not ``model`` itself) for which ``predicate`` holds, depth first."""
    found = []
    for layer in model.children():
        if predicate(layer):
            found.append(layer)
        found.extend(find_layer_predicate_recursive(layer, predicate))
    return found


def find_layer_types_recursive(model: nn.Module, layer_types: Sequence[type]) -> list[nn.Module]:
    """Every submodule whose type is exactly one of ``layer_types``."""
    return find_layer_predicate_recursive(model, lambda layer: type(layer) in tuple(layer_types))
