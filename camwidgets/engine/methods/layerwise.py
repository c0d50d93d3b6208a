"""Per-layer methods with parameters of their own (FEM's ``k``, KPCA-CAM's kernel, RandomCAM's seed).

The registry's ``compute`` functions take only (activations, gradients, eigen_smooth); a method
with options is registered with ``run = layerwise_run(function, ...)`` instead, which maps
``function(A, G, eigen_smooth, **options)`` over the layers of one capture (from the cache when the
explainer has one) and finishes the maps like any per-layer method.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Optional

import torch

from .registry import MethodCall, MethodSpec, RunFunction

__all__ = ["layerwise_run", "seeded_generator"]

# (options, batch on the model's device) -> keyword arguments for the per-layer function
Prepare = Callable[[dict, torch.Tensor], dict]


def layerwise_run(function: Callable[..., torch.Tensor], needs_gradients: bool, prepare: Optional[Prepare] = None) -> RunFunction:
    """A run function computing ``function(A, G, eigen_smooth, **options)`` on each target layer of
    one capture; ``prepare`` turns the call's options into the function's keyword arguments."""

    def run(call: MethodCall) -> torch.Tensor:
        explainer = call.explainer
        keywords = prepare(call.options, call.input_tensor) if prepare is not None else call.options
        spec = MethodSpec("", "", "gradient", needs_gradients, 1.0, functools.partial(function, **keywords), "")
        result = explainer.capture(call.input_tensor, call.targets, need_gradients=needs_gradients)
        raw = explainer.layer_maps(spec, result, call.eigen_smooth)
        return explainer.finish(raw, result.image_size)

    run.__doc__ = function.__doc__
    return run


def seeded_generator(seed: Any, device: torch.device) -> Optional[torch.Generator]:
    """A generator on ``device`` seeded with ``seed``; None (torch's global generator) for no seed."""
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an integer or None; got {seed!r}")
    return torch.Generator(device=device).manual_seed(seed)
