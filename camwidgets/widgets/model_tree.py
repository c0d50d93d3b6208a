"""The model's module hierarchy for the layer picker, from one probe forward.

Every module gets a node: its ``named_modules()`` path, type, output shape and whether it can be
explained (it ran exactly once and returned a spatial grid, channels-last grids of Swin-style stages,
or ViT-style tokens that the engine lays on their grid by itself). :func:`to_channels_first` is the
reshape transform the explorer passes to the engine, so channels-last outputs need no user code. ``stages`` are the selectable modules of the shallowest depth that has at
least four of them: the layers of the one-pass layer sweep.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from ..engine.modules import evaluation_mode, forward_hooks
from ..engine.layers import _spatial_kind

__all__ = ["LayerNode", "ModelTree", "probe_model_tree", "looks_channels_last", "to_channels_first"]

MAX_STAGES = 24


@dataclass(frozen=True)
class LayerNode:
    """One module: ``path`` ('' for the model), ``kind`` (class name), ``shape`` (output, as text),
    ``selectable`` (spatial output, ran once), ``layout`` ('grid', 'channels-last', 'tokens' or '')."""

    path: str
    parent: str | None
    kind: str
    shape: str
    depth: int
    children: int
    selectable: bool
    layout: str

    def as_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "parent": self.parent,
            "type": self.kind,
            "shape": self.shape,
            "depth": self.depth,
            "children": self.children,
            "selectable": self.selectable,
            "layout": self.layout,
        }


@dataclass
class ModelTree:
    nodes: list[LayerNode]
    suggested: str
    stages: list[str] = field(default_factory=list)

    @property
    def selectable(self) -> set[str]:
        return {node.path for node in self.nodes if node.selectable}


def _is_grid(height: int, width: int, image_size: tuple[int, ...]) -> bool:
    """Whether (height, width) can be a downsampled grid of the image: same aspect ratio, not larger."""
    return 0 < height <= image_size[0] and width > 0 and abs(height / width - image_size[0] / image_size[1]) < 0.05


def looks_channels_last(shape: Any, image_size: tuple[int, ...]) -> bool:
    """(B, h, w, C) rather than (B, C, h, w): axes 1-2 look like a grid of the image and axes 2-3 do
    not (an ambiguous shape counts as channels-first)."""
    if len(shape) != 4 or len(image_size) != 2:
        return False
    return _is_grid(shape[1], shape[2], image_size) and not _is_grid(shape[2], shape[3], image_size)


def to_channels_first(image_size: tuple[int, ...]):
    """A reshape transform: channels-last (B, h, w, C) tensors -> (B, C, h, w); others unchanged."""

    def transform(tensor: Any) -> Any:
        if isinstance(tensor, torch.Tensor) and looks_channels_last(tensor.shape, image_size):
            return tensor.permute(0, 3, 1, 2)
        return tensor

    return transform


def _describe(output: Any) -> str:
    if isinstance(output, torch.Tensor):
        return "×".join(str(size) for size in output.shape[1:]) or "scalar"
    if isinstance(output, (tuple, list)):
        return f"{type(output).__name__}[{', '.join(_describe(item) for item in output[:4])}{', …' if len(output) > 4 else ''}]"
    if isinstance(output, dict):
        return "dict{" + ", ".join(f"{key}: {_describe(value)}" for key, value in list(output.items())[:4]) + "}"
    return type(output).__name__


def _stages(nodes: list[LayerNode]) -> list[str]:
    selectable = [node for node in nodes if node.selectable and node.path]
    for depth in sorted({node.depth for node in selectable}):
        level = [node.path for node in selectable if node.depth == depth]
        if len(level) >= 4 or depth == max(node.depth for node in selectable):
            if len(level) > MAX_STAGES:
                step = len(level) / MAX_STAGES
                level = [level[int(i * step)] for i in range(MAX_STAGES - 1)] + [level[-1]]
            return level
    return []


def probe_model_tree(model: nn.Module, probe: torch.Tensor, suggested: str) -> ModelTree:
    """Run ``model`` once on ``probe`` (one image, no gradients, eval mode) with a forward hook on every
    module, and describe each module. Hooks and modes are restored whatever happens."""
    image_size = tuple(probe.shape[2:])
    outputs: dict[str, Any] = {}
    calls: dict[str, int] = {}

    def make_hook(name: str):
        def hook(module: nn.Module, inputs: Any, output: Any) -> None:
            calls[name] = calls.get(name, 0) + 1
            outputs.setdefault(name, output)

        return hook

    with forward_hooks((module, make_hook(name)) for name, module in model.named_modules()), evaluation_mode(model), torch.no_grad():
        model(probe)
    nodes = []
    for name, module in model.named_modules():
        output = outputs.get(name)
        layout = _spatial_kind(output, image_size) if name in outputs else None
        if layout == "grid" and looks_channels_last(output.shape, image_size):
            layout = "channels-last"
        parent = None if not name else (name.rsplit(".", 1)[0] if "." in name else "")
        nodes.append(
            LayerNode(
                path=name,
                parent=parent,
                kind=type(module).__name__,
                shape=_describe(output) if name in outputs else "not run",
                depth=0 if not name else name.count(".") + 1,
                children=sum(1 for child in module.children()),
                selectable=bool(name) and layout is not None and calls.get(name) == 1,
                layout=layout or "",
            )
        )
    return ModelTree(nodes, suggested, _stages(nodes))
