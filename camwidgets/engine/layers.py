"""Finding target layers: by module or by name, with helpful errors, and suggesting one.

Names are those of ``model.named_modules()`` (``"layer4.1"``); the reference's indexing style
(``"layer4[-1]"``) is accepted too and resolved through the module tree, never evaluated.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from typing import Any

from torch import nn

from .modules import model_device, model_dtype
from .suggest import suggest_target_layer

__all__ = ["resolve_target_layers", "module_name", "suggest_target_layer", "close_names", "model_device", "model_dtype"]

_TOKEN = re.compile(r"\[(-?\d+)\]|\.?([^.\[\]]+)")


def close_names(name: str, names: Iterable[str], count: int = 5) -> list[str]:
    """The existing names closest to ``name`` (for "did you mean" messages)."""
    names = list(names)
    matches = difflib.get_close_matches(name, names, n=count, cutoff=0.5)
    if not matches:
        tail = name.split(".")[-1]
        matches = [candidate for candidate in names if candidate.endswith(tail)][:count]
    return matches


def _unknown_name_error(name: str, model: nn.Module) -> ValueError:
    names = [n for n, _ in model.named_modules() if n]
    matches = close_names(name, names)
    hint = f" Closest names: {', '.join(repr(m) for m in matches)}." if matches else ""
    return ValueError(
        f"the model has no module named {name!r}.{hint} "
        "Names are those of model.named_modules(), for example 'layer4.1' or 'features.18'."
    )


def _walk(model: nn.Module, name: str) -> nn.Module:
    """Follow a dotted/indexed path through child modules only (no attribute access on strings)."""
    position, module = 0, model
    name = name.strip()
    while position < len(name):
        match = _TOKEN.match(name, position)
        if match is None or match.end() == position:
            raise _unknown_name_error(name, model)
        index, key = match.groups()
        children = module._modules
        if index is not None:
            values = [child for child in children.values() if child is not None]
            try:
                module = values[int(index)]
            except IndexError:
                raise _unknown_name_error(name, model) from None
        elif key in children and children[key] is not None:
            module = children[key]
        else:
            raise _unknown_name_error(name, model)
        position = match.end()
    return module


def module_name(model: nn.Module, module: nn.Module) -> str:
    """The ``named_modules()`` name of ``module`` inside ``model``; ValueError if it is not part of it."""
    for name, candidate in model.named_modules():
        if candidate is module:
            return name
    raise ValueError(
        f"the layer {type(module).__name__} is not a submodule of the model; pass modules taken from this model "
        "(for example model.layer4[-1]) or their names."
    )


def resolve_target_layers(model: nn.Module, target_layers: Any) -> list[tuple[str, nn.Module]]:
    """Turn modules and/or names into ``[(name, module), ...]``, checking each belongs to ``model``."""
    if target_layers is None:
        raise ValueError("no target layer given")
    if isinstance(target_layers, (nn.Module, str)):
        target_layers = [target_layers]
    if not isinstance(target_layers, Sequence) or len(target_layers) == 0:
        raise TypeError(
            "target_layers must be a list of modules or module names, for example [model.layer4[-1]] or ['layer4.1']"
        )
    resolved: list[tuple[str, nn.Module]] = []
    by_name = dict(model.named_modules())
    for layer in target_layers:
        if isinstance(layer, str) and layer and layer in by_name:  # an exact name wins, even one with '[' or ']'
            resolved.append((layer, by_name[layer]))
        elif isinstance(layer, str):
            module = _walk(model, layer)
            resolved.append((module_name(model, module), module))
        elif isinstance(layer, nn.Module):
            resolved.append((module_name(model, layer), layer))
        else:
            raise TypeError(f"a target layer must be an nn.Module or a module name; got {type(layer).__name__}")
    names = [name for name, _ in resolved]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"target layer(s) listed twice: {', '.join(duplicates)}")
    return resolved
