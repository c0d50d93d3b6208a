"""One forward pass with hooks on the target layers, and one truncated backward.

The forward runs under ``no_grad`` up to the first target layer. That layer's hook turns its
output into a fresh leaf that requires grad and switches grad mode on, so autograd records only
the part of the network after it; ``torch.autograd.grad`` then differentiates the target scores
with respect to the captured outputs alone. Parameters' ``.grad`` are never written, the backward
stops at the earliest target layer, and hooks, train/eval modes and grad mode are restored in
``finally`` blocks whatever happens.

Every hooked output is handed downstream as a clone, so in-place operations after the layer
(``ReLU(inplace=True)``) cannot change what was captured: the activation is the layer's output as
the module returned it, on every device.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from .modules import (  # noqa: F401  (re-exported: the engine's public names from before the split)
    BatchMismatch,
    check_eager_model,
    eager_model,
    evaluation_mode,
    explained_rank_errors,
    forward_hooks,
    model_device,
    model_lock,
    per_image_outputs,
    select_output,
)
from .targets import ClassifierOutputTarget

__all__ = [
    "LayerRecord",
    "Capture",
    "capture",
    "evaluation_mode",
    "select_output",
    "check_input",
    "check_targets",
    "target_score",
    "target_value",
    "per_image_outputs",
    "BatchMismatch",
    "IndependentLayer",
    "eager_model",
    "check_eager_model",
    "model_lock",
]


def _flatten(value: Any) -> tuple[list[torch.Tensor], Callable[[list[torch.Tensor]], Any]]:
    """Tensors inside nested tuples/lists/dicts, and a function rebuilding the structure from new tensors."""
    if isinstance(value, torch.Tensor):
        return [value], lambda tensors: tensors[0]
    if isinstance(value, (tuple, list)):
        parts = [_flatten(item) for item in value]
        counts = [len(tensors) for tensors, _ in parts]

        def rebuild_sequence(tensors: list[torch.Tensor]) -> Any:
            items, start = [], 0
            for (_, rebuild), count in zip(parts, counts):
                items.append(rebuild(tensors[start : start + count]))
                start += count
            if isinstance(value, tuple) and hasattr(value, "_fields"):
                return type(value)(*items)
            return type(value)(items)

        return [t for tensors, _ in parts for t in tensors], rebuild_sequence
    if isinstance(value, dict):
        keys = list(value.keys())
        parts = [_flatten(value[key]) for key in keys]
        counts = [len(tensors) for tensors, _ in parts]

        def rebuild_mapping(tensors: list[torch.Tensor]) -> Any:
            result, start = type(value)(), 0
            for key, (_, rebuild), count in zip(keys, parts, counts):
                result[key] = rebuild(tensors[start : start + count])
                start += count
            return result

        return [t for tensors, _ in parts for t in tensors], rebuild_mapping
    return [], lambda tensors: value


@dataclass
class LayerRecord:
    """What one target layer produced: its output and, when asked for, the gradient of the summed
    target scores with respect to that output (same structure: a tensor, or a dict for an FPN)."""

    name: str
    activation: Any
    gradient: Any = None


@dataclass
class Capture:
    """The result of one forward (and backward): model outputs, the targets used, the per-image
    scores, and one LayerRecord per target layer, all on the model's device, detached."""

    outputs: Any
    targets: list | None
    scores: torch.Tensor | None
    records: list[LayerRecord]
    image_size: tuple[int, ...]
    has_gradients: bool
    input_tensor: torch.Tensor | None = field(default=None, repr=False)
    independent: tuple[str, ...] = ()  # layers the scores do not depend on (kept only with independent="zero")


#: The batches the engine explains, by number of axes: (B, C) then 1, 2 or 3 positional axes.
INPUT_SHAPES = {3: "(B, C, L)", 4: "(B, C, H, W)", 5: "(B, C, D, H, W)"}


class IndependentLayer(ValueError):
    """The target scores do not depend on a target layer's output (a branch that never reaches them)."""


def check_input(input_tensor: Any) -> None:
    """Raise a clear error for anything but a finite float batch of signals (B, C, L), images
    (B, C, H, W), volumes (B, C, D, H, W) or clips (B, C, T, H, W)."""
    if not isinstance(input_tensor, torch.Tensor):
        raise TypeError(
            f"input_tensor must be a torch.Tensor batch of shape (B, C, H, W) (or (B, C, L), (B, C, D, H, W)); "
            f"got {type(input_tensor).__name__}. preprocess_image(rgb_float_image) turns an image into one."
        )
    if input_tensor.ndim not in INPUT_SHAPES:
        hint = " For one item use item.unsqueeze(0)." if input_tensor.ndim == 2 else ""
        raise ValueError(
            f"input_tensor must have shape {' or '.join(INPUT_SHAPES.values())}; got {tuple(input_tensor.shape)}.{hint}"
        )
    if input_tensor.shape[0] == 0:
        raise ValueError("input_tensor is an empty batch")
    if not input_tensor.is_floating_point():
        raise TypeError(
            f"input_tensor must be floating point; got {input_tensor.dtype}. Convert with .float() and normalise."
        )
    if not bool(torch.isfinite(input_tensor).all()):
        raise ValueError("input_tensor contains NaN or infinite values; check the preprocessing")


def top_class_targets(outputs: Any, batch: int) -> list[ClassifierOutputTarget]:
    """``targets=None``: each image's highest-scoring class."""
    rows = per_image_outputs(outputs, batch)
    if not isinstance(rows, torch.Tensor) or rows.ndim != 2:
        raise ValueError(
            "targets=None explains each image's top class, which needs (B, classes) scores; "
            "pass targets for this model (for example SemanticSegmentationTarget or FasterRCNNBoxScoreTarget)"
        )
    return [ClassifierOutputTarget(int(index)) for index in rows.argmax(dim=-1).tolist()]


def check_targets(targets: Sequence[Callable | int] | None, batch: int) -> list[Callable] | None:
    """``targets`` as a list with one callable per image (a plain class index ``c`` becomes
    ``ClassifierOutputTarget(c)``), or None; a clear error for anything else."""
    if targets is None:
        return None
    if isinstance(targets, (str, bytes)) or not hasattr(targets, "__len__"):
        raise TypeError(f"targets must be a list with one target per image; got {type(targets).__name__}")
    if len(targets) != batch:
        hint = ""
        if (
            len(targets) == 1 and batch > 1
        ):  # pytorch-grad-cam zips targets with images and silently explains the first only
            hint = f" (pytorch-grad-cam would explain only the first image); for the same target on all, pass targets * {batch}"
        raise ValueError(
            f"got {len(targets)} targets for a batch of {batch} images; pass one target per image, "
            f"for example [ClassifierOutputTarget(c) for c in classes] (or targets=None for each image's top class){hint}"
        )
    checked: list[Callable] = []
    for target in targets:
        if isinstance(target, (int, np.integer)) and not isinstance(target, (bool, np.bool_)):
            checked.append(ClassifierOutputTarget(int(target)))
        elif callable(target):
            checked.append(target)
        else:
            raise TypeError(
                f"a target must be a callable taking one image's output (for example ClassifierOutputTarget(281)) "
                f"or a class index; got {type(target).__name__}"
            )
    return checked


def target_value(target: Callable, output: Any, image: int) -> torch.Tensor:
    """``target(output)`` for image ``image`` as a tensor; a clear error when the target returns
    something that is not a number or tensor (None, a dict, ...)."""
    value = target(output)
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, (int, float, np.number, np.ndarray)) and not isinstance(value, bool):
        return torch.as_tensor(value)
    raise TypeError(
        f"the target {type(target).__name__} returned {type(value).__name__} for image {image}; a target must return "
        "the score to explain as a tensor (for example output[class_index])"
    )


def target_score(target: Callable, output: Any, image: int) -> torch.Tensor:
    """``target(output)`` for image ``image`` summed to a scalar tensor (:func:`target_value`)."""
    return target_value(target, output, image).sum()


def _score(targets: Sequence[Callable], outputs: Any, batch: int) -> torch.Tensor:
    """``target_i(output_i)`` summed to one scalar per image; ``targets`` already match the batch."""
    rows = per_image_outputs(outputs, batch)
    return torch.stack([target_score(target, row, image) for image, (target, row) in enumerate(zip(targets, rows))])


def capture(
    model: nn.Module,
    input_tensor: torch.Tensor,
    layers: Sequence[tuple[str, nn.Module]],
    targets: Sequence[Callable] | None,
    *,
    need_gradients: bool,
    output_selector: Any = None,
    create_graph: bool = False,
    independent: str = "raise",
    calls: Sequence[int] | None = None,
) -> Capture:
    """Run the model once on ``input_tensor`` (on the model's device, in eval mode) with hooks on
    ``layers``; if ``need_gradients``, differentiate ``sum_i target_i(output_i)`` with respect to each
    layer's output in one truncated backward. A layer the scores do not depend on is an error, or
    with ``independent="zero"`` gets zero gradients and is named in ``Capture.independent``. ``calls``:
    which call of each layer to read (a layer shared by several inputs runs once per input); the
    first, and a layer running more than once an error, without."""
    check_input(input_tensor)
    targets = check_targets(targets, input_tensor.shape[0])
    with torch.inference_mode(False), model_lock(model):
        x = input_tensor.to(model_device(model))
        if x.is_inference():
            x = x.clone()
        batch = x.shape[0]
        raw_outputs, captured, rebuilders = _hooked_forward(model, x, layers, need_gradients, calls)
        outputs = select_output(raw_outputs, output_selector)
        scores = None
        gradients: list[Any] = [None] * len(layers)
        unused: list[str] = []
        with torch.enable_grad() if need_gradients else contextlib.nullcontext():
            if targets is None and (need_gradients or (isinstance(outputs, torch.Tensor) and outputs.ndim == 2)):
                targets = top_class_targets(outputs, batch)
            if targets is not None:
                scores = _score(targets, outputs, batch)
            if need_gradients:
                assert scores is not None
                gradients, unused = _layer_gradients(scores, layers, captured, rebuilders, create_graph, independent)
        records = [
            LayerRecord(
                name=name,
                activation=rebuild([t if create_graph else t.detach() for t in tensors]),
                gradient=gradient,
            )
            for (name, _), tensors, rebuild, gradient in zip(layers, captured, rebuilders, gradients)
        ]
        return Capture(
            outputs=_detach(outputs) if not create_graph else outputs,
            targets=list(targets) if targets is not None else None,
            scores=scores.detach() if scores is not None and not create_graph else scores,
            records=records,
            image_size=tuple(x.shape[2:]),
            has_gradients=need_gradients,
            input_tensor=x,
            independent=tuple(unused),
        )


def _hooked_forward(
    model: nn.Module,
    x: torch.Tensor,
    layers: Sequence[tuple[str, nn.Module]],
    need_gradients: bool,
    wanted: Sequence[int] | None = None,
) -> tuple[Any, list[list[torch.Tensor]], list[Callable]]:
    """``model(x)`` in eval mode with every layer's output recorded as flat tensors (leaves that
    require grad if ``need_gradients``) and a function that rebuilds the output's structure; the
    model goes on with clones, so in-place ops later cannot change what was recorded."""
    calls = [0] * len(layers)
    captured: list[list[torch.Tensor] | None] = [None] * len(layers)
    rebuilders: list[Callable | None] = [None] * len(layers)

    def make_hook(position: int):
        def hook(module: nn.Module, inputs: Any, output: Any) -> Any:
            calls[position] += 1
            if calls[position] != (1 if wanted is None else wanted[position] + 1):
                return None
            tensors, rebuild = _flatten(output)
            if need_gradients:
                torch.set_grad_enabled(True)
                tensors = [
                    t.detach().requires_grad_(True) if t.is_floating_point() and not t.requires_grad else t
                    for t in tensors
                ]
            captured[position] = tensors
            rebuilders[position] = rebuild
            return rebuild([t.clone() if t.is_floating_point() else t for t in tensors])

        return hook

    with forward_hooks((module, make_hook(position)) for position, (_, module) in enumerate(layers)):
        with evaluation_mode(model), torch.no_grad(), explained_rank_errors(x):
            raw_outputs = model(x)

    for position, ((name, _), count) in enumerate(zip(layers, calls)):
        if wanted is not None:
            if count <= wanted[position]:
                raise ValueError(f"layer {name!r} ran {count} times, not the {wanted[position] + 1} its input needs")
            continue
        if count == 0:
            raise ValueError(
                f"layer {name!r} did not run during the forward pass; pick a module that model.forward calls "
                "(a module defined but unused, or bypassed by a functional call, is never executed)"
            )
        if count > 1:
            raise ValueError(
                f"layer {name!r} ran {count} times in one forward pass (a shared module); pick a module that runs once, "
                "for example the block that contains it"
            )
    return raw_outputs, captured, rebuilders  # type: ignore[return-value]


def _layer_gradients(
    scores: torch.Tensor,
    layers: Sequence[tuple[str, nn.Module]],
    captured: list[list[torch.Tensor]],
    rebuilders: list[Callable],
    create_graph: bool,
    independent: str = "raise",
) -> tuple[list[Any], list[str]]:
    """``d sum(scores) / d output`` of every layer in one truncated backward, in each output's
    structure, and the layers the scores do not depend on (an error unless ``independent="zero"``)."""
    flat = [t for tensors in captured for t in tensors if t.requires_grad]
    if not scores.requires_grad:
        raise IndependentLayer(
            "the target scores do not depend on the target layers' outputs; check the targets "
            "(and output_selector) and that the layers lie on the path to the output"
        )
    grads = torch.autograd.grad(scores.sum(), flat, allow_unused=True, create_graph=create_graph)
    by_tensor = {id(t): g for t, g in zip(flat, grads)}
    gradients, unused = [], []
    for (name, _), tensors, rebuild in zip(layers, captured, rebuilders):
        layer_grads = [by_tensor.get(id(t)) for t in tensors]
        if all(g is None for g in layer_grads):
            if independent != "zero":
                raise IndependentLayer(
                    f"the target scores do not depend on layer {name!r}; pick a layer on the path to the output"
                )
            unused.append(name)
        gradients.append(
            rebuild(
                [
                    torch.zeros_like(t) if g is None else (g if create_graph else g.detach())
                    for t, g in zip(tensors, layer_grads)
                ]
            )
        )
    return gradients, unused


def _detach(value: Any) -> Any:
    tensors, rebuild = _flatten(value)
    return rebuild([t.detach() for t in tensors])
