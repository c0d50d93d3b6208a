"""Finding target layers: by module or by name, with helpful errors, and suggesting one.

Names are those of ``model.named_modules()`` (``"layer4.1"``); the reference's indexing style
(``"layer4[-1]"``) is accepted too and resolved through the module tree, never evaluated.
"""

from __future__ import annotations

import difflib
import re
from typing import Any, Iterable, Sequence

import torch
from torch import nn

from .modules import evaluation_mode, forward_hooks, model_device, model_dtype, select_output
from .reshape import Layout, infer_token_grid, layout_of

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


def suggest_target_layer(
    model: nn.Module,
    input_tensor: torch.Tensor | None = None,
    output_selector: Any = None,
) -> str:
    """Suggest the last layer whose output is still spatial and carries gradient for the top class.

    One probe forward (on ``input_tensor``'s first image, or a seeded random 224x224 image) records
    every module's output; one backward from the top class finds which spatial outputs the score
    depends on. Of modules that ran once, the last such output wins; among modules returning that
    very tensor, the deepest container is named (``layer4.1`` rather than ``layer4``), as users of
    the reference are used to. Token outputs (ViT) count when their patch tokens carry gradient.
    The model's modes, flags and hooks are left as they were.
    """
    if input_tensor is None:
        generator = torch.Generator().manual_seed(0)
        probe = torch.randn(1, 3, 224, 224, generator=generator)
    else:
        probe = input_tensor[:1].detach()
    probe = probe.to(model_device(model)).clone().requires_grad_(True)
    image_size = tuple(probe.shape[2:])

    records: list[tuple[str, nn.Module, torch.Tensor]] = []
    calls: dict[str, int] = {}

    def make_hook(name: str):
        def hook(module: nn.Module, inputs: Any, output: Any) -> None:
            calls[name] = calls.get(name, 0) + 1
            if layout_of(output, image_size) is not None and output.requires_grad:
                records.append((name, module, output))

        return hook

    with forward_hooks((module, make_hook(name)) for name, module in model.named_modules() if name):
        with evaluation_mode(model), torch.enable_grad():
            output = select_output(model(probe), output_selector)
            if not isinstance(output, torch.Tensor):
                raise ValueError("cannot suggest a layer for a model whose output is not a score tensor; pass target_layers")
            score = output.reshape(output.shape[0], -1)[0].max()
            candidates = [(n, m, t) for n, m, t in records if calls[n] == 1]
            if not candidates:
                raise ValueError("no module of this model returns a spatial output; pass target_layers explicitly")
            grads = torch.autograd.grad(score, [t for _, _, t in candidates], allow_unused=True)

    for position in range(len(candidates) - 1, -1, -1):
        name, _, tensor = candidates[position]
        grad = grads[position]
        if grad is None:
            continue
        if layout_of(tensor, image_size) is Layout.NLC:
            prefix, _, _ = infer_token_grid(tensor.shape[1], image_size)
            grad = grad[:, prefix:]
        if grad.abs().sum() > 0:
            same = [(n, m) for n, m, t in candidates if t is tensor]
            containers = [(n, m) for n, m in same if len(m._modules) > 0]
            pool = containers or same
            return max(pool, key=lambda item: item[0].count("."))[0]
    raise ValueError(
        "no spatial layer carries gradient for the top class (an untrained head with zero weights?); "
        "pass target_layers explicitly"
    )
