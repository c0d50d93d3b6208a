"""Suggesting a target layer for a model the user gives without one.

One probe forward (on the first image, or a seeded random 224x224 image) records every module's
output and its :class:`~camwidgets.engine.reshape.Layout`; only layers with a spatial layout that
the engine lays out by itself (NCHW or NHWC grids, token sequences, FPN levels) are considered,
never per-head attention tensors or a detection head's decoded rows. Then, by what the model is:

* **a detector** (a torchvision detector's list of box dicts): its backbone/FPN output, the last
  module that returns all feature levels (resized to one grid, :func:`~.reshape.common_grid`);
* **a model whose head reads a list of feature levels** (an ultralytics YOLO ``Detect``, RT-DETR's
  decoder): the module that made the coarsest level the head reads;
* **a DETR** read by :mod:`~.detections` (no feature levels): as a classifier, from the best query's score;
* **a classifier or segmenter** (a score tensor, also found in a ``ModelOutput``, an ``out`` dict or
  a ``(scores, ...)`` tuple): one backward from the first image's top score finds the spatial
  outputs the score depends on; the last one wins, adaptive pooling to a fixed grid (VGG's
  ``avgpool``) passed over for the layer before it. A segmenter's class logits (outputs with as many
  channels as the output has classes) are passed over for the feature before them; among token
  outputs the last normalisation layer whose patch tokens the score depends on wins over the
  attention projections and MLP layers around it: with a class token the last block's norm before
  attention (timm's ``blocks[-1].norm1``, Hugging Face's ``layernorm_before``: after attention only
  the class token reaches the score), with mean pooling the norm before its MLP (``norm2``,
  ``layernorm_after``).

A grid layer whose GradCAM map of the probe is all zero for that score (a head that only
subtracts) is passed over for the one before it, and the reason says so; for a head reading
feature levels, the coarsest level whose map is not all zero for the best box of every level (in
a YOLO neck the P4 and P5 outputs are made from P3's, so P3 boxes depend on neither).

Among modules returning the very same tensor, unchanged since (no in-place op between them), the
deepest container is named (``layer4.1`` rather than ``layer4``; ``layer4.1`` rather than its
``conv2`` whose output the block's in-place residual add changed afterwards). The model's modes, flags and hooks are left as they were.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from .detections import detection_reader
from .modules import evaluation_mode, forward_hooks, is_detection_list, model_device, select_output
from .reshape import Layout, describe_layout, feature_levels, token_grid
from .token_sources import token_sources

__all__ = ["Suggestion", "suggest_layer", "suggest_target_layer"]


@dataclass(frozen=True)
class Suggestion:
    """A suggested layer: its ``named_modules()`` name, the layout of its output, how that output is
    read (``describe_layout``) and why it was chosen."""

    name: str
    layout: Layout
    description: str
    reason: str

    def message(self) -> str:
        return f"explaining {self.name!r} ({self.description}), {self.reason}"


@dataclass
class _Record:
    name: str
    module: nn.Module
    output: Any
    layout: Layout
    versions: tuple[int, ...] = ()  # each output tensor's in-place version when the module returned it


def _tensors(value: Any) -> list[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, dict):
        return [t for item in value.values() for t in _tensors(item)]
    if isinstance(value, (list, tuple)):
        return [t for item in value for t in _tensors(item)]
    return []


def _one_row_per_image(output: Any, batch: int) -> bool:
    """Whether every tensor of an output has the batch's first axis (not attention heads folded into
    it, as MViT's pooling convolutions have)."""
    return all(t.shape[0] == batch for t in _tensors(output))


def _same_output(records: list[_Record], chosen: _Record) -> str:
    """The deepest container among the modules that returned exactly ``chosen``'s tensors; among
    containers, those that returned them unchanged since (the same in-place versions): a block whose
    in-place residual add changed its last layer's output after that layer returned it (torchvision's
    video ResNets) is named, not the layer."""
    key = [id(t) for t in _tensors(chosen.output)]
    same = [r for r in records if [id(t) for t in _tensors(r.output)] == key]
    containers = [r for r in same if len(r.module._modules) > 0]
    unchanged = [r for r in containers if r.versions == chosen.versions]
    return max(unchanged or containers or same, key=lambda r: r.name.count(".")).name


def _suggestion(records: list[_Record], chosen: _Record, image_size: tuple[int, ...], reason: str) -> Suggestion:
    return Suggestion(
        _same_output(records, chosen), chosen.layout, describe_layout(chosen.output, image_size, chosen.layout), reason
    )


def _is_norm(module: nn.Module) -> bool:
    """A normalisation layer (not a projection followed by one, as LeViT's ``LinearNorm``)."""
    named = isinstance(module, (nn.LayerNorm, nn.GroupNorm)) or type(module).__name__.endswith(
        ("LayerNorm", "Norm", "RMSNorm")
    )
    return named and not any(isinstance(part, (nn.Linear, nn.Conv1d, nn.Conv2d)) for part in module.modules())


def _channels(record: _Record) -> int:
    output = record.output
    return int(output.shape[1] if record.layout is Layout.NCHW else output.shape[-1])


def _reaching(outputs: list[torch.Tensor], leaf: torch.Tensor) -> list[bool]:
    """For each output, whether its autograd graph reaches ``leaf`` (it depends on the input image):
    one walk over the graph, each node visited once."""
    reach: dict[Any, bool] = {}

    def reaches(start: Any) -> bool:
        stack = [(start, False)]
        while stack:
            node, expanded = stack.pop()
            if node is None or (node in reach and not expanded):
                continue
            children = [child for child, _ in getattr(node, "next_functions", ())]
            if expanded:
                reach[node] = getattr(node, "variable", None) is leaf or any(
                    reach.get(child, False) for child in children if child is not None
                )
                continue
            stack.append((node, True))
            stack.extend((child, False) for child in children if child is not None and child not in reach)
        return reach.get(start, False)

    return [output.grad_fn is not None and reaches(output.grad_fn) for output in outputs]


def _score_suggestion(
    records: list[_Record], output: torch.Tensor, image_size: tuple[int, ...], probe: torch.Tensor | None = None
) -> Suggestion:
    """The last spatial output the first image's top score depends on, among those that depend on
    the image (not a CLIP wrapper's text tower; see the module docstring)."""
    candidates = [r for r in records if r.layout is not Layout.FPN and r.output.requires_grad]
    if probe is not None and candidates:
        candidates = [r for r, image in zip(candidates, _reaching([r.output for r in candidates], probe)) if image]
    if not candidates:
        raise ValueError(
            "no module of this model returns a spatial output (a grid or tokens); pass target_layers explicitly"
        )
    segmenter = output.ndim == 4
    score = output.reshape(output.shape[0], -1)[0].max()
    if score.grad_fn is None:
        raise ValueError(
            f"the first image's top output value ({float(score):.4g}) has no gradient: it is not a score computed from the image "
            "(a class index or a count?). Pass output_selector that picks the scores, or target_layers"
        )
    grads = torch.autograd.grad(score, [r.output for r in candidates], allow_unused=True)
    carrying, blank = [], set()
    for record, grad in zip(candidates, grads):
        if grad is None:
            continue
        if record.layout is Layout.NLC:
            grad = grad[:, token_grid(record.output.shape[1], image_size)[0] :]  # patch tokens only
        if bool(grad.abs().sum() > 0) and not (segmenter and _channels(record) == output.shape[1]):
            carrying.append(record)
            if record.layout is Layout.NCHW and _blank_gradcam(record.output, grad):
                blank.add(record.name)
    if not carrying:
        raise ValueError(
            "no spatial layer carries gradient for the top class, so none can be suggested (a head whose weights are all zero, "
            f"as torchvision's ViT has before training?); pass target_layers explicitly, for example the last spatial layer {candidates[-1].name!r} "
            "(gradient-free methods such as EigenCAM work there whatever the head)"
        )
    resampling = (
        nn.AdaptiveAvgPool2d,
        nn.AdaptiveMaxPool2d,
    )  # a fixed-size grid (VGG's 7x7): the layer before it keeps the input's detail
    usable = [record for record in reversed(carrying) if not isinstance(record.module, resampling)] or [carrying[-1]]
    collapsed = {record.name for record in usable if _collapsed_axes(record, image_size)}
    collapsed |= {  # and what is inside them: a half-done (2+1)D convolution of r2plus1d_18's last stage
        record.name for record in usable if any(record.name.startswith(name + ".") for name in collapsed)
    }
    chosen = next(
        (record for record in usable if record.name not in blank | collapsed),
        next((record for record in usable if record.name not in blank), usable[0]),
    )
    passed_over = [record.name for record in usable[: usable.index(chosen)] if record.name in blank]
    flattened = [record.name for record in usable[: usable.index(chosen)] if record.name in collapsed]
    if chosen.layout is Layout.NLC:
        tokens = []
        for record in reversed(carrying):
            if record.layout is not Layout.NLC:
                break
            tokens.append(record)
        norms = [record for record in tokens if _is_norm(record.module)]
        chosen = norms[0] if norms else chosen
    what = (
        "the segmenter's last feature before its class logits"
        if segmenter
        else "the last layer with a spatial output that the score depends on"
    )
    if flattened:
        what += (
            f" and whose grid keeps every axis of the input (the later {flattened[0]!r} has one position along "
            f"{_collapsed_axes(next(r for r in usable if r.name == flattened[0]), image_size)}, so its map would be flat there)"
        )
    if passed_over:
        what += f" and whose GradCAM map is not all zero (the later {passed_over[0]!r} gives an all-zero map for this score)"
    elif chosen.name in blank:
        what += "; its GradCAM map is all zero for this score, and so is every earlier layer's: try another method (LayerCAM) or target"
    return _suggestion(records, chosen, image_size, what)


def _level_scores(output: Any, levels: list[torch.Tensor]) -> list[torch.Tensor]:
    """The first image's best score among each level's anchors (anchors run level by level, as the
    head reads them), for a reader's box dicts or YOLO rows ``(B, 4 + classes, anchors)``; else its
    single best score (a classifier's top class), or nothing."""
    scores = None
    if is_detection_list(output) and "anchor_scores" in output[0]:
        scores = output[0].get("anchor_logits", output[0]["anchor_scores"])
    elif isinstance(output, torch.Tensor) and output.requires_grad:
        counts = sum(level.shape[-2:].numel() for level in levels)
        if output.ndim == 3 and output.shape[2] == counts and output.shape[1] > 4:
            scores = output[0, 4:].max(dim=0).values
        else:
            return [output.reshape(output.shape[0], -1)[0].max()]
    if scores is None:
        return []
    sizes = [level.shape[-2:].numel() for level in levels]
    return [part.max() for part in torch.split(scores, sizes)] if sum(sizes) == scores.shape[0] else [scores.max()]


def _level_suggestion(
    records: list[_Record],
    head: str,
    levels: list[torch.Tensor],
    scores: list[torch.Tensor],
    image_size: tuple[int, ...],
) -> Suggestion | None:
    """The coarsest feature level the head reads whose GradCAM map is not all zero for the best box
    of every level (``scores``): in a YOLO neck the coarse outputs are made from the fine ones, not
    the other way round, so only the finest level reaches every box."""
    makers = [
        next((r for r in reversed(records) if r.output is level), None)
        for level in sorted(levels, key=lambda level: level.shape[-2:].numel())
    ]
    makers = [r for r in makers if r is not None]
    if not makers:
        return None
    blank: set[str] = set()
    for score in scores:
        grads = torch.autograd.grad(score, [r.output for r in makers], allow_unused=True, retain_graph=True)
        blank |= {r.name for r, grad in zip(makers, grads) if grad is None or _blank_gradcam(r.output, grad)}
    chosen = next((r for r in makers if r.name not in blank), makers[-1])
    reason = f"the coarsest feature level that the head {head!r} reads"
    if chosen is not makers[0] and chosen.name not in blank:
        passed = ", ".join(repr(r.name) for r in makers[: makers.index(chosen)])
        reason += f" whose GradCAM map is not all zero for the best box of every level (boxes of finer levels do not depend on {passed})"
    elif chosen.name in blank:
        reason += "; its GradCAM map is all zero for the best box of some level, and so is every other level's: try EigenCAM or LayerCAM"
    return _suggestion(records, chosen, image_size, reason)


AXIS_NAMES = {1: ("length",), 2: ("height", "width"), 3: ("depth (time)", "height", "width")}


def _grid(record: _Record, image_size: tuple[int, ...]) -> tuple[int, ...]:
    """The positions of a record's output along each axis of the input."""
    output = record.output
    if record.layout is Layout.NLC:
        return token_grid(output.shape[1], image_size)[1]
    if record.layout is Layout.NHWC:
        return tuple(output.shape[1:-1])
    return tuple(output.shape[2:])


def _collapsed_axes(record: _Record, image_size: tuple[int, ...]) -> str:
    """The input's axes (by name) along which the record's grid has a single position though the
    input has several: a clip's time pooled away by r3d_18's last stage at 8 frames ("" when none)."""
    grid = _grid(record, image_size)
    names = AXIS_NAMES.get(len(image_size), ())
    if len(grid) != len(image_size) or len(names) != len(grid):
        return ""
    return " and ".join(name for name, size, full in zip(names, grid, image_size) if size == 1 and full > 1)


def _blank_gradcam(activation: torch.Tensor, gradient: torch.Tensor) -> bool:
    """Whether GradCAM's map ``relu(sum_c mean(dS/dA_c) A_c)`` of the first image is zero everywhere."""
    weights = gradient[0].flatten(1).mean(dim=1)
    return bool(
        (weights.view(-1, *[1] * (activation.ndim - 2)) * activation[0].detach()).sum(dim=0).clamp(min=0).max() <= 0
    )


def suggest_layer(
    model: nn.Module, input_tensor: torch.Tensor | None = None, output_selector: Any = None
) -> Suggestion:
    """The suggested target layer with its layout and the reason (see the module docstring)."""
    if input_tensor is None:
        probe = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    else:
        probe = input_tensor[:1].detach()
    probe = probe.to(model_device(model)).clone().requires_grad_(True)
    image_size = tuple(probe.shape[2:])
    records: list[_Record] = []
    calls: dict[str, int] = {}
    level_inputs: list[tuple[str, list[torch.Tensor], Any]] = []  # (head, the feature levels it reads, its output)

    def make_hook(name: str):
        def hook(module: nn.Module, inputs: Any, output: Any) -> None:
            calls[name] = calls.get(name, 0) + 1
            layout = sources.layout(name, output, image_size)
            if layout is not None and layout.spatial and _one_row_per_image(output, len(probe)):
                records.append(_Record(name, module, output, layout, tuple(t._version for t in _tensors(output))))
            levels = (
                feature_levels(inputs[0]) if inputs else None
            )  # a head called as head(levels) or head(levels, batch)
            if levels is not None:
                level_inputs.append((name, levels, output))

        return hook

    sources = token_sources(model)
    named = [(name, module) for name, module in model.named_modules() if name]
    with forward_hooks((module, make_hook(name)) for name, module in named):
        with evaluation_mode(model), torch.enable_grad():
            raw = model(probe)
            reader = (
                detection_reader(raw, model, image_size) if output_selector is None else None
            )  # YOLO, RT-DETR, DETR
            output = reader(raw) if reader is not None else select_output(raw, output_selector)
            records = [r for r in records if calls[r.name] == 1]
            detector = is_detection_list(output)
            fpn = [r for r in records if r.layout is Layout.FPN]
            if detector and fpn:
                return _suggestion(records, fpn[-1], image_size, "the detector's backbone/FPN output")
            produced = {id(t) for t in _tensors(raw)}
            heads = [(name, levels) for name, levels, out in level_inputs if produced & {id(t) for t in _tensors(out)}]
            scores = isinstance(output, torch.Tensor) and output.ndim in (
                2,
                4,
            )  # a classifier's or segmenter's (Segformer's head fuses levels)
            if heads and not scores:
                suggestion = _level_suggestion(records, *heads[-1], _level_scores(output, heads[-1][1]), image_size)
                if suggestion is not None:
                    return suggestion
            if detector:
                backbone = [
                    r for r in records if r.name == "backbone"
                ]  # one feature map, no FPN (a single-level backbone)
                if backbone:
                    return _suggestion(records, backbone[-1], image_size, "the detector's single-level backbone output")
                if all(
                    "anchor_scores" in item for item in output
                ):  # a reader's dicts (DETR): follow the best query's score
                    return _score_suggestion(
                        records, torch.stack([item["anchor_scores"] for item in output]), image_size, probe
                    )
                raise ValueError(
                    "this detector has no module returning its feature levels; pass target_layers explicitly"
                )
            if not isinstance(output, torch.Tensor):
                raise ValueError(
                    f"cannot suggest a layer: the model returns a {type(raw).__name__} with no score tensor found in it; pass "
                    "output_selector (an index, key or callable that picks the (B, classes) scores) or target_layers"
                )
            return _score_suggestion(records, output, image_size, probe)


def suggest_target_layer(
    model: nn.Module, input_tensor: torch.Tensor | None = None, output_selector: Any = None
) -> str:
    """The name of :func:`suggest_layer`'s layer."""
    return suggest_layer(model, input_tensor, output_selector).name
